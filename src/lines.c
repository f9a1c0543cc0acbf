/*
 * lines.c - bytes of one stream to whole lines.
 *
 * A received chunk is split once: lines that lie whole inside it are
 * handed over in place (no copy), in batches of up to BATCH_LINES, so a
 * host that prints megabytes costs one output write and one log write per
 * batch. Only a line cut by the chunk's end is copied, into the partial
 * buffer, where it waits for its newline; one that grows to LINE_MAX_BYTES
 * is emitted as a fragment (eol false) instead of growing further.
 */
#include "oneoff/lines.h"

#include <stdlib.h>
#include <string.h>

#include "oneoff/util.h"

#define BATCH_LINES 2048

struct batch {
    struct line v[BATCH_LINES];
    size_t n;
};

void lines_init(struct lines *l, enum line_stream s, lines_emit_fn *emit,
                void *ctx)
{
    memset(l, 0, sizeof(*l));
    l->stream = s;
    l->emit = emit;
    l->ctx = ctx;
}

void lines_release(struct lines *l)
{
    free(l->partial);
    l->partial = NULL;
    l->plen = l->palloc = 0;
}

static void batch_flush(struct lines *l, struct batch *b)
{
    if (b->n)
        l->emit(l->ctx, l->stream, b->v, b->n);
    b->n = 0;
}

static void batch_add(struct lines *l, struct batch *b, const char *p, size_t n,
                      bool eol)
{
    if (b->n == BATCH_LINES)
        batch_flush(l, b);
    b->v[b->n].p = p;
    b->v[b->n].n = n;
    b->v[b->n].eol = eol;
    b->n++;
}

/* Emits the partial line on its own: its buffer is about to change, so
 * the batch is flushed around it. */
static void partial_emit(struct lines *l, struct batch *b, bool eol)
{
    batch_flush(l, b);
    batch_add(l, b, l->partial, l->plen, eol);
    batch_flush(l, b);
    l->plen = 0;
}

static void partial_append(struct lines *l, struct batch *b, const char *p,
                           size_t n)
{
    while (n > 0) {
        size_t take;
        if (l->plen == LINE_MAX_BYTES)
            partial_emit(l, b, false);
        take = LINE_MAX_BYTES - l->plen;
        if (take > n)
            take = n;
        if (l->plen + take > l->palloc) {
            /* sized for the line, not for the longest one */
            size_t a = l->palloc ? l->palloc : 256;
            while (a < l->plen + take)
                a *= 2;
            l->palloc = a < LINE_MAX_BYTES ? a : LINE_MAX_BYTES;
            l->partial = xrealloc(l->partial, l->palloc);
        }
        memcpy(l->partial + l->plen, p, take);
        l->plen += take;
        p += take;
        n -= take;
    }
}

void lines_feed(struct lines *l, const char *p, size_t n)
{
    struct batch b;
    size_t off = 0;

    b.n = 0;
    while (off < n) {
        const char *nl = memchr(p + off, '\n', n - off);
        size_t seg;
        if (nl == NULL) {
            partial_append(l, &b, p + off, n - off);
            break;
        }
        seg = (size_t)(nl - (p + off));
        if (l->plen == 0 && seg <= LINE_MAX_BYTES) {
            batch_add(l, &b, p + off, seg, true);
        } else {
            batch_flush(l, &b);
            partial_append(l, &b, p + off, seg);
            partial_emit(l, &b, true);
        }
        off += seg + 1;
    }
    batch_flush(l, &b);
}

void lines_flush(struct lines *l)
{
    struct batch b;

    b.n = 0;
    if (l->plen)
        partial_emit(l, &b, false);
    free(l->partial);
    l->partial = NULL;
    l->palloc = 0;
}
