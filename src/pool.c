/*
 * pool.c - bounded worker threads over lists of items (see pool.h).
 *
 * The workers wait on the pool's condition variable between batches, so a
 * run's phases share one set of threads: every thread costs its creation
 * and, in each library that keeps per-thread state, that state's set-up
 * (OpenSSL makes each thread its own random generators, under a global
 * lock). The pool state is on the heap: when the caller abandons busy
 * workers (a second Ctrl-C while they are stuck in a connect), they keep
 * using it until the process exits, so it is deliberately never freed
 * then.
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
    pthread_cond_t more; /* a batch came, or quit */
    /* the batch, under lock */
    const size_t *items;
    size_t n, next, done;
    pool_work_fn *work;
    void *ctx;
    bool quit;
    /* the caller's own */
    unsigned parallel;
    pthread_t *threads;
    size_t nthreads;
    bool abandoned;
    int wake; /* eventfd: an item is done */
};

/* Does the batch's next item, if any, with p->lock held (released while
 * the work runs). False when there is none. */
static bool take_one(struct pool *p)
{
    uint64_t one = 1;
    pool_work_fn *work;
    void *ctx;
    size_t item;

    if (p->next >= p->n)
        return false;
    item = p->items[p->next++];
    work = p->work;
    ctx = p->ctx;
    pthread_mutex_unlock(&p->lock);
    work(ctx, item);
    pthread_mutex_lock(&p->lock);
    p->done++;
    if (p->wake >= 0 && write(p->wake, &one, sizeof(one)) < 0)
        (void)0; /* the counter cannot overflow: nothing to do */
    return true;
}

static void *worker(void *arg)
{
    struct pool *p = arg;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (take_one(p))
            continue;
        if (p->quit)
            break;
        pthread_cond_wait(&p->more, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static bool all_done(struct pool *p)
{
    bool d;

    pthread_mutex_lock(&p->lock);
    d = p->done == p->n;
    pthread_mutex_unlock(&p->lock);
    return d;
}

/* Waits for the batch, calling tick() on every wake-up. */
static bool wait_all(struct pool *p, pool_tick_fn *tick, int watch_fd,
                     void *ctx)
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
        if (tick && !tick(ctx, watch_ready))
            return false;
    }
}

struct pool *pool_new(unsigned parallel)
{
    struct pool *p = xcalloc(1, sizeof(*p));

    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->more, NULL);
    p->parallel = parallel;
    p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return p;
}

/* Brings the workers up to want, as far as threads can be made. */
static void grow(struct pool *p, size_t want)
{
    pthread_attr_t attr;

    if (p->nthreads >= want)
        return;
    p->threads = xrealloc(p->threads, want * sizeof(*p->threads));
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    while (p->nthreads < want &&
           pthread_create(&p->threads[p->nthreads], &attr, worker, p) == 0)
        p->nthreads++;
    pthread_attr_destroy(&attr);
}

bool pool_batch(struct pool *p, const size_t *items, size_t n,
                pool_work_fn *work, pool_tick_fn *tick, int watch_fd, void *ctx)
{
    if (n == 0)
        return true;
    pthread_mutex_lock(&p->lock);
    p->items = items;
    p->n = n;
    p->next = p->done = 0;
    p->work = work;
    p->ctx = ctx;
    pthread_mutex_unlock(&p->lock);
    grow(p, p->parallel && p->parallel < n ? p->parallel : n);
    pthread_mutex_lock(&p->lock);
    if (p->nthreads == 0) /* no thread could be made: do the work here */
        while (take_one(p))
            ;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->lock);
    if (!wait_all(p, tick, watch_fd, ctx)) {
        p->abandoned = true;
        return false;
    }
    return true;
}

void pool_free(struct pool *p)
{
    if (p == NULL || p->abandoned)
        return; /* busy workers still use it */
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    if (p->wake >= 0)
        close(p->wake);
    pthread_cond_destroy(&p->more);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

bool pool_run(const size_t *items, size_t n, unsigned parallel,
              pool_work_fn *work, pool_tick_fn *tick, int watch_fd, void *ctx)
{
    struct pool *p = pool_new(parallel);
    bool ok = pool_batch(p, items, n, work, tick, watch_fd, ctx);

    pool_free(p);
    return ok;
}
