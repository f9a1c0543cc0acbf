/*
 * pool.h - a bounded pool of worker threads over lists of items.
 *
 * For each batch, the calling thread brings the workers up to
 * min(parallel, n) (they stay, waiting, between batches), each pulling the
 * next item and calling work() on it, then waits: it polls watch_fd (the
 * runner's signal descriptor) and the pool's own wake-up descriptor, and
 * calls tick() whenever either is readable, an item is done, or 100 ms
 * passed. Workers are created with every signal blocked (they inherit the
 * caller's mask, which the runner sets before any thread exists), so no
 * signal ever lands inside a library call in a worker.
 *
 * Locking: the batch and the pool's counters are under the pool's own
 * lock; work() is called without it. An item's work happens before the
 * batch counts it done, under that lock, so once pool_batch() returned
 * true the caller may read what the work wrote. The pool is the caller's:
 * one thread calls pool_batch() and pool_free().
 */
#ifndef ONEOFF_POOL_H
#define ONEOFF_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef void pool_work_fn(void *ctx, size_t item);
/* Returns false to abandon the pool: pool_run() returns at once, leaving
 * the workers that are still busy running (the caller must then exit). */
typedef bool pool_tick_fn(void *ctx, bool watch_ready);

struct pool;

/* A pool of at most parallel workers (0: as many as a batch has items);
 * no thread is made before the first batch. */
struct pool *pool_new(unsigned parallel);

/* Runs work(ctx, items[k]) for k in [0, n) on the pool's workers. Returns
 * true when every item is done (the workers wait for the next batch),
 * false when tick() abandoned them: the pool then serves no other batch,
 * and pool_free() leaves it to the busy workers. */
bool pool_batch(struct pool *p, const size_t *items, size_t n,
                pool_work_fn *work, pool_tick_fn *tick, int watch_fd,
                void *ctx);

/* Ends the idle workers, joins them and frees p (NULL: nothing). */
void pool_free(struct pool *p);

/* One batch on a pool of its own: pool_new(), pool_batch(), pool_free(). */
bool pool_run(const size_t *items, size_t n, unsigned parallel,
              pool_work_fn *work, pool_tick_fn *tick, int watch_fd, void *ctx);

#endif
