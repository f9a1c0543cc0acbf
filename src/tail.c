/*
 * tail.c - a bounded ring of a stream's last bytes (see tail.h).
 */
#include "oneoff/tail.h"

#include <stdlib.h>
#include <string.h>

#include "oneoff/util.h"

void tail_init(struct tail *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
}

void tail_release(struct tail *t)
{
    free(t->ring);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof(*t));
}

/* the ring's first size */
#define TAIL_FIRST 512u

/* Room for n more bytes: below TAIL_MAX the ring never wraps, so growing
 * it keeps its bytes in order. Under lock. */
static void ring_reserve(struct tail *t, size_t n)
{
    size_t cap = t->cap;

    if (cap == TAIL_MAX || t->len + n <= cap)
        return;
    while (cap < t->len + n && cap < TAIL_MAX)
        cap = cap ? cap * 2 : TAIL_FIRST;
    if (cap > TAIL_MAX)
        cap = TAIL_MAX;
    t->ring = xrealloc(t->ring, cap);
    t->cap = cap;
}

/* Appends p[0..n) to the ring, dropping its oldest bytes. Under lock. */
static void ring_add(struct tail *t, const char *p, size_t n)
{
    ring_reserve(t, n < TAIL_MAX ? n : TAIL_MAX);
    t->total += n;
    if (n >= TAIL_MAX) {
        memcpy(t->ring, p + n - TAIL_MAX, TAIL_MAX);
        t->start = 0;
        t->len = TAIL_MAX;
        return;
    }
    for (size_t done = 0; done < n;) {
        size_t end = (t->start + t->len) % TAIL_MAX;
        size_t room = TAIL_MAX - end, k = n - done < room ? n - done : room;
        memcpy(t->ring + end, p + done, k);
        done += k;
        t->len += k;
        if (t->len > TAIL_MAX) {
            t->start = (t->start + t->len - TAIL_MAX) % TAIL_MAX;
            t->len = TAIL_MAX;
        }
    }
}

void tail_add(struct tail *t, const struct line *v, size_t n)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        ring_add(t, v[i].p, v[i].n);
        if (v[i].eol)
            ring_add(t, "\n", 1);
    }
    pthread_mutex_unlock(&t->lock);
}

void tail_copy(struct tail *t, struct tail_copy *out)
{
    size_t skip = 0;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&t->lock);
    out->text = xmalloc(t->len + 1);
    for (size_t i = 0; i < t->len; i++)
        out->text[i] = t->ring[(t->start + i) % TAIL_MAX];
    out->len = t->len;
    out->total = t->total;
    pthread_mutex_unlock(&t->lock);
    out->text[out->len] = '\0';
    out->truncated = out->total > out->len;
    /* a cut multi-byte character: at most 3 continuation bytes */
    while (out->truncated && skip < 3 && skip < out->len &&
           ((unsigned char)out->text[skip] & 0xC0) == 0x80)
        skip++;
    if (skip) {
        memmove(out->text, out->text + skip, out->len - skip + 1);
        out->len -= skip;
    }
}

void tail_copy_release(struct tail_copy *c)
{
    free(c->text);
    memset(c, 0, sizeof(*c));
}
