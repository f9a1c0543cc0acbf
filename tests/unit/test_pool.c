/*
 * test_pool.c - unit tests for the worker pool (pool.c): every item of
 * every batch is done once, by at most `parallel` threads that stay from
 * one batch to the next, and what the work wrote is the caller's to read
 * once the batch returned; an empty batch makes no thread; tick() is
 * called while the batch runs.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/pool.h"

#define NITEMS 40
#define MAXTHREADS 64

struct seen {
    pthread_mutex_t lock;
    pid_t threads[MAXTHREADS]; /* thread ids: never reused this soon */
    size_t nthreads;
    int done[NITEMS]; /* written by the work, without the lock */
    unsigned ticks;
};

static void note_thread(struct seen *s)
{
    pid_t me = gettid();
    size_t i;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->nthreads; i++)
        if (s->threads[i] == me)
            break;
    if (i == s->nthreads && s->nthreads < MAXTHREADS)
        s->threads[s->nthreads++] = me;
    pthread_mutex_unlock(&s->lock);
}

static void work(void *ctx, size_t item)
{
    struct seen *s = ctx;

    note_thread(s);
    usleep(2000); /* long enough that the workers share the batch */
    s->done[item]++;
}

static bool tick(void *ctx, bool watch_ready)
{
    (void)watch_ready;
    ((struct seen *)ctx)->ticks++;
    return true;
}

static void test_batches_share_the_workers(void **state)
{
    struct seen s;
    size_t items[NITEMS];
    struct pool *p = pool_new(4);

    (void)state;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    for (size_t i = 0; i < NITEMS; i++)
        items[i] = i;
    /* an empty batch: nothing to do, no thread */
    assert_true(pool_batch(p, items, 0, work, tick, -1, &s));
    /* the first half, then the second in two batches */
    assert_true(pool_batch(p, items, NITEMS / 2, work, tick, -1, &s));
    for (size_t i = 0; i < NITEMS / 2; i++)
        assert_int_equal(s.done[i], 1);
    assert_true(pool_batch(p, items + NITEMS / 2, 3, work, tick, -1, &s));
    assert_true(pool_batch(p, items + NITEMS / 2 + 3, NITEMS / 2 - 3, work,
                           tick, -1, &s));
    for (size_t i = 0; i < NITEMS; i++)
        assert_int_equal(s.done[i], 1);
    /* four threads in all: the later batches used the first's */
    assert_true(s.nthreads >= 2);
    assert_true(s.nthreads <= 4);
    assert_true(s.ticks >= 3);
    pool_free(p);
    pool_free(NULL);
    pthread_mutex_destroy(&s.lock);
}

/* pool_run(): one batch on a pool of its own, fewer threads than
 * `parallel` when there are fewer items. */
static void test_run_once(void **state)
{
    struct seen s;
    size_t items[NITEMS];

    (void)state;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    for (size_t i = 0; i < NITEMS; i++)
        items[i] = NITEMS - 1 - i;
    assert_true(pool_run(items, 3, 16, work, NULL, -1, &s));
    assert_true(s.nthreads <= 3);
    assert_int_equal(
        s.done[NITEMS - 1] + s.done[NITEMS - 2] + s.done[NITEMS - 3], 3);
    assert_int_equal(s.done[0], 0);
    pthread_mutex_destroy(&s.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_share_the_workers),
        cmocka_unit_test(test_run_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
