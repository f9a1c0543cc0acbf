/*
 * pool.h - a bounded pool of worker threads over a list of items.
 *
 * The calling thread starts min(parallel, n) workers, each pulling the
 * next item and calling work() on it, then waits: it polls watch_fd (the
 * runner's signal descriptor) and the pool's own wake-up descriptor, and
 * calls tick() whenever either is readable, an item is done, or 100 ms
 * passed. Workers are created with every signal blocked (they inherit the
 * caller's mask, which the runner sets before any thread exists), so no
 * signal ever lands inside a library call in a worker.
 *
 * Locking: the pool's counters are under its own lock; work() is called
 * without it. The pool object lives on pool_run()'s stack.
 */
#ifndef ONEOFF_POOL_H
#define ONEOFF_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef void pool_work_fn(void *ctx, size_t item);
/* Returns false to abandon the pool: pool_run() returns at once, leaving
 * the workers that are still busy running (the caller must then exit). */
typedef bool pool_tick_fn(void *ctx, bool watch_ready);

/* Runs work(ctx, items[k]) for k in [0, n). Returns true when every worker
 * finished and was joined, false when tick() abandoned them. */
bool pool_run(const size_t *items, size_t n, unsigned parallel,
              pool_work_fn *work, pool_tick_fn *tick, int watch_fd, void *ctx);

#endif
