/*
 * buf.h - the one byte-buffer type: growable, always NUL-terminated, and
 * bounded by a maximum fixed at init so that nothing a host sends can grow
 * it without limit.
 *
 * Invariants: b->data is NULL or holds b->len bytes followed by '\0';
 * b->len <= b->max. An append that would pass max appends nothing and
 * returns -1. buf_release() frees the data; the struct itself belongs to the
 * caller.
 *
 * A refused append is data lost, so the compiler insists that every caller
 * looks at the result: either it turns -1 into an error it reports, or the
 * bound cannot be reached there, which it says in a comment and asserts
 * with BUF_MUST() (a failure is then a bug, and aborts loudly).
 */
#ifndef ONEOFF_BUF_H
#define ONEOFF_BUF_H

#include <stddef.h>
#include <string.h>

#include "oneoff/util.h"

struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t max;
};

#define BUF_INIT(maxbytes)                                                     \
    {                                                                          \
        NULL, 0, 0, (maxbytes)                                                 \
    }

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Empties b but keeps its memory. */
void buf_reset(struct buf *b);
/* Shortens b to its first len bytes (len <= b->len): undoes appends. */
void buf_truncate(struct buf *b, size_t len);
int buf_add(struct buf *b, const void *data, size_t n) ONEOFF_MUST_USE;
int buf_adds(struct buf *b, const char *s) ONEOFF_MUST_USE;
int buf_addc(struct buf *b, char c) ONEOFF_MUST_USE;
int buf_addf(struct buf *b, const char *fmt, ...)
    ONEOFF_PRINTF(2, 3) ONEOFF_MUST_USE;
/* Makes room for n more bytes without a further allocation; -1 when that
 * would pass max. */
int buf_reserve(struct buf *b, size_t n) ONEOFF_MUST_USE;
/* For an append whose bound cannot be reached (the caller says why beside
 * it): a non-zero result is a bug in oneoff, reported with the place, and
 * the program aborts rather than lose data quietly. */
#define BUF_MUST(append) buf_must((append), __FILE__, __LINE__)
void buf_must(int rc, const char *file, int line);
/* Appends n bytes for which buf_reserve() made room: no checks. */
static inline void buf_add_reserved(struct buf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
/* Returns the contents ("" when empty); valid until the next change. */
const char *buf_str(const struct buf *b);
/* Hands the contents to the caller (never NULL) and empties b. */
char *buf_detach(struct buf *b);

#endif
