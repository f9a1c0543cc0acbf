/*
 * buf.h - the one byte-buffer type: growable, always NUL-terminated, and
 * bounded by a maximum fixed at init so that nothing a host sends can grow
 * it without limit.
 *
 * Invariants: b->data is NULL or holds b->len bytes followed by '\0';
 * b->len <= b->max. An append that would pass max appends nothing and
 * returns -1. buf_release() frees the data; the struct itself belongs to the
 * caller.
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
int buf_add(struct buf *b, const void *data, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) ONEOFF_PRINTF(2, 3);
/* Makes room for n more bytes without a further allocation; -1 when that
 * would pass max. */
int buf_reserve(struct buf *b, size_t n);
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
