/*
 * pool.c - bounded worker threads over a list of items (see pool.h).
 *
 * The pool state is on the heap: when the caller abandons busy workers
 * (a second Ctrl-C while they are stuck in a connect), they keep using it
 * until the process exits, so it is deliberately never freed then.
 */
#define _GNU_SOURCE
#include "oneoff/pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "oneoff/util.h"

/* Small stacks: a worker's deepest user is libssh's key exchange. */
#define STACK_SIZE (512u << 10)
#define TICK_MS 100

struct pool {
    pthread_mutex_t lock;
    const size_t *items;
    size_t n, next, done;
    pool_work_fn *work;
    void *ctx;
    int wake; /* eventfd: an item is done */
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    uint64_t one = 1;

    for (;;) {
        size_t k;
        pthread_mutex_lock(&p->lock);
        if (p->next >= p->n) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        k = p->next++;
        pthread_mutex_unlock(&p->lock);
        p->work(p->ctx, p->items[k]);
        pthread_mutex_lock(&p->lock);
        p->done++;
        pthread_mutex_unlock(&p->lock);
        if (p->wake >= 0 && write(p->wake, &one, sizeof(one)) < 0)
            (void)0; /* the counter cannot overflow: nothing to do */
    }
}

static bool all_done(struct pool *p)
{
    bool d;

    pthread_mutex_lock(&p->lock);
    d = p->done == p->n;
    pthread_mutex_unlock(&p->lock);
    return d;
}

/* Waits for the workers, calling tick() on every wake-up. */
static bool wait_all(struct pool *p, pool_tick_fn *tick, int watch_fd)
{
    for (;;) {
        struct pollfd pf[2] = {{p->wake, POLLIN, 0}, {watch_fd, POLLIN, 0}};
        bool watch_ready;
        int rc;

        if (all_done(p))
            return true;
        rc = poll(pf, watch_fd >= 0 ? 2 : 1, TICK_MS);
        if (rc < 0 && errno != EINTR)
            rc = 0;
        if (p->wake >= 0 && rc > 0 && (pf[0].revents & POLLIN)) {
            uint64_t v;
            if (read(p->wake, &v, sizeof(v)) < 0)
                (void)0; /* nonblocking: already drained */
        }
        watch_ready = watch_fd >= 0 && rc > 0 && (pf[1].revents & POLLIN);
        if (tick && !tick(p->ctx, watch_ready))
            return false;
    }
}

bool pool_run(const size_t *items, size_t n, unsigned parallel,
              pool_work_fn *work, pool_tick_fn *tick, int watch_fd, void *ctx)
{
    struct pool *p;
    pthread_t *threads;
    pthread_attr_t attr;
    size_t nthreads, started = 0;

    if (n == 0)
        return true;
    p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->items = items;
    p->n = n;
    p->work = work;
    p->ctx = ctx;
    p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    nthreads = parallel && parallel < n ? parallel : n;
    threads = xcalloc(nthreads, sizeof(*threads));
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    for (size_t i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i], &attr, worker, p) != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    if (started == 0)
        worker(p); /* no thread could be made: do the work here */
    if (!wait_all(p, tick, watch_fd)) {
        free(threads);
        return false; /* p stays: busy workers still use it */
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (p->wake >= 0)
        close(p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return true;
}
