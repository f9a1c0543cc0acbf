/*
 * tail.h - the last bytes of one output stream of one host, for the run
 * record (run.json's "output"), the JUnit report and nothing else: a ring
 * of TAIL_MAX bytes with the count of every byte that went through it. The
 * ring is sized for what it holds until it is full: a host that prints a
 * line does not cost TAIL_MAX bytes for the whole run.
 *
 * Thread safety: tail_add() is called by the worker that owns the host,
 * tail_copy() by the record writer at any time; both take the tail's lock.
 */
#ifndef ONEOFF_TAIL_H
#define ONEOFF_TAIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/lines.h"

#define TAIL_MAX (64u << 10)

struct tail {
    pthread_mutex_t lock;
    char *ring; /* cap bytes: grown by tail_add() up to TAIL_MAX, in
                   order from 0 until then (start is 0) */
    size_t cap;
    size_t start;   /* oldest byte */
    size_t len;     /* bytes held */
    uint64_t total; /* bytes that went through, newlines included */
};

void tail_init(struct tail *t);
void tail_release(struct tail *t);
/* Appends lines as they were received: each followed by "\n" unless it is
 * a fragment (line.eol false). */
void tail_add(struct tail *t, const struct line *v, size_t n);

/* A copy of what a tail holds, cut so that it starts at a character: a
 * cut UTF-8 sequence at the front is dropped. */
struct tail_copy {
    char *text; /* malloc'ed, NUL-terminated (may hold other NULs) */
    size_t len;
    uint64_t total;
    bool truncated; /* total > what the ring held */
};
void tail_copy(struct tail *t, struct tail_copy *out);
void tail_copy_release(struct tail_copy *c);

#endif
