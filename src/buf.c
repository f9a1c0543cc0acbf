/*
 * buf.c - the bounded byte buffer (see buf.h for its invariants).
 */
#include "oneoff/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

int buf_reserve(struct buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return -1;
    if (b->len + n + 1 > b->alloc)
        xgrow((void **)&b->data, &b->alloc, b->len + n + 1, 1);
    return 0;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return -1;
    if (b->len + n + 1 > b->alloc)
        xgrow((void **)&b->data, &b->alloc, b->len + n + 1, 1);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
    if (b->len >= b->max)
        return -1;
    if (b->len + 2 > b->alloc)
        xgrow((void **)&b->data, &b->alloc, b->len + 2, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return buf_add(b, small, (size_t)n);

    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = buf_add(b, big, (size_t)n);
    free(big);
    return rc;
}

void buf_must(int rc, const char *file, int line)
{
    if (rc == 0)
        return;
    fprintf(stderr,
            "oneoff: BUG: %s:%d: a bounded buffer overflowed where it "
            "cannot; aborting\n",
            file, line);
    abort();
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}

char *buf_detach(struct buf *b)
{
    char *s = b->data ? b->data : xstrdup("");

    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return s;
}
