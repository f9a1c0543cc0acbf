/*
 * output.c - live prefixed output, grouped blocks and the summary.
 *
 * Theory of operation. Worker threads (one per running host) call
 * output_lines() with whole lines only; the line splitting happens before
 * (see lines.h) so that a line is never shown before its newline arrives
 * (or before it is known to be a fragment). Each call formats its lines
 * into the host's scratch buffer outside the lock, then takes the lock and
 * issues a single write(2) for the batch, so another host's line can only
 * come before or after, never inside. pdsh writes one line per call;
 * batching the lines of one received chunk keeps the same guarantee with
 * far fewer system calls when a host prints megabytes. A batch that would
 * pass the scratch buffer's bound is written in several writes, each of
 * whole lines.
 *
 * Grouped mode keeps a host's formatted lines in a bounded buffer per
 * place (stdout, stderr) and prints the block when the host finishes (or
 * when the buffer fills, so a noisy host cannot exhaust memory).
 *
 * Writes to the terminal that fail (a closed pipe, a full disk behind a
 * redirection) are not retried and not reported: the host logs and the
 * record, which report their own failures, keep everything.
 */
#define _GNU_SOURCE
#include "oneoff/output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/text.h"

/* The scratch buffer of one host: it holds any piece, since a piece of at
 * most OUTPUT_PIECE_MAX bytes escapes to at most 4 times that, plus a
 * prefix of a few hundred bytes. */
#define BATCH_MAX (64u << 20)
#define GROUP_MAX (8u << 20)
#define NOTE_MAX (1u << 20)
#define CELL_MAX 4096
/* The summary is written in chunks of about this size, under one lock. */
#define SUMMARY_CHUNK (1u << 20)

static bool want_color(int fd)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

    if (nc && *nc)
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fd) == 1;
}

/* Which place a stream goes to: stdout for the task's stdout, stderr for
 * the rest. */
static int place_of(enum line_stream s)
{
    return s == LINE_OUT ? 0 : 1;
}

/* A failed write to the terminal is not retried (see the top). */
static void show(int fd, const char *p, size_t n)
{
    if (n)
        write_all(fd, p, n);
}

void output_init(struct output *o, enum out_mode mode, int width,
                 bool human_to_stderr)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    o->mode = mode;
    o->width = width;
    o->fd[0] = human_to_stderr ? STDERR_FILENO : STDOUT_FILENO;
    o->fd[1] = STDERR_FILENO;
    o->color[0] = want_color(o->fd[0]);
    o->color[1] = want_color(o->fd[1]);
}

void output_release(struct output *o)
{
    pthread_mutex_destroy(&o->lock);
}

void output_host_init(const struct output *o, struct output_host *h,
                      const char *name, size_t index)
{
    memset(h, 0, sizeof(*h));
    h->name = name;
    h->color = 31 + (int)(index % 6);
    for (int s = 0; s < LINE_STREAMS; s++) {
        const char *mark = s == LINE_SETUP ? "setup: " : "";
        if (o->color[place_of(s)])
            h->prefix[s] = xasprintf("\033[%dm%-*s\033[0m | %s", h->color,
                                     o->width, name, mark);
        else
            h->prefix[s] = xasprintf("%-*s | %s", o->width, name, mark);
        h->prefix_len[s] = strlen(h->prefix[s]);
    }
    buf_init(&h->group[0], GROUP_MAX);
    buf_init(&h->group[1], GROUP_MAX);
    buf_init(&h->scratch, BATCH_MAX);
}

void output_host_release(struct output_host *h)
{
    for (int s = 0; s < LINE_STREAMS; s++)
        free(h->prefix[s]);
    buf_release(&h->group[0]);
    buf_release(&h->group[1]);
    buf_release(&h->scratch);
}

int output_format_line(const struct output *o, const struct output_host *h,
                       enum line_stream s, const struct line *l,
                       struct buf *dst)
{
    size_t n = l->n, mark = dst->len;

    (void)o;
    /* CRLF (pty output, Windows tools): the CR is not content */
    if (l->eol && n > 0 && l->p[n - 1] == '\r')
        n--;
    if (text_plain_len(l->p, n) == n) {
        /* the common case, without a check per byte appended */
        if (buf_reserve(dst, h->prefix_len[s] + n + 1))
            return -1;
        buf_add_reserved(dst, h->prefix[s], h->prefix_len[s]);
        buf_add_reserved(dst, l->p, n);
        buf_add_reserved(dst, "\n", 1);
        return 0;
    }
    if (buf_add(dst, h->prefix[s], h->prefix_len[s]) ||
        text_escape(dst, l->p, n) || buf_addc(dst, '\n')) {
        buf_truncate(dst, mark);
        return -1;
    }
    return 0;
}

/* The next piece of l from *off: at most OUTPUT_PIECE_MAX bytes, cut
 * between two UTF-8 sequences where possible; the last piece keeps l's eol.
 * Returns false when l is done. */
static bool next_piece(const struct line *l, size_t *off, struct line *piece)
{
    size_t start = *off, end;

    if (start >= l->n && !(start == 0 && l->n == 0))
        return false;
    end = l->n;
    if (end - start > OUTPUT_PIECE_MAX) {
        end = start + OUTPUT_PIECE_MAX;
        while (end > start && ((unsigned char)l->p[end] & 0xc0) == 0x80)
            end--;
        if (end == start)
            end = start + OUTPUT_PIECE_MAX;
    }
    piece->p = l->p + start;
    piece->n = end - start;
    piece->eol = end == l->n ? l->eol : false;
    *off = end == start ? 1 : end; /* an empty line is one piece */
    return true;
}

static void flush_group(struct output *o, struct output_host *h, int place)
{
    if (h->group[place].len == 0)
        return;
    pthread_mutex_lock(&o->lock);
    show(o->fd[place], h->group[place].data, h->group[place].len);
    pthread_mutex_unlock(&o->lock);
    buf_reset(&h->group[place]);
}

static void flush_batch(struct output *o, int place, struct buf *b)
{
    pthread_mutex_lock(&o->lock);
    show(o->fd[place], buf_str(b), b->len);
    pthread_mutex_unlock(&o->lock);
    buf_reset(b);
}

/* Grouped mode: a formatted piece (in b) joins the host's block. */
static void group_add(struct output *o, struct output_host *h, int place,
                      const struct buf *b)
{
    struct buf *g = &h->group[place];

    if (g->len + b->len > g->max)
        flush_group(o, h, place); /* full: print what we have */
    if (buf_add(g, buf_str(b), b->len) != 0) {
        /* longer than a whole block: print it on its own, now */
        pthread_mutex_lock(&o->lock);
        show(o->fd[place], buf_str(b), b->len);
        pthread_mutex_unlock(&o->lock);
    }
}

void output_lines(struct output *o, struct output_host *h, enum line_stream s,
                  const struct line *lines, size_t n)
{
    struct buf *b = &h->scratch;
    int place = place_of(s);

    if (n == 0)
        return;
    buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        struct line piece;
        size_t off = 0;
        while (next_piece(&lines[i], &off, &piece)) {
            if (o->mode == OUT_GROUPED) {
                buf_reset(b);
                /* an empty scratch buffer holds any piece (BATCH_MAX) */
                BUF_MUST(output_format_line(o, h, s, &piece, b));
                group_add(o, h, place, b);
                continue;
            }
            if (output_format_line(o, h, s, &piece, b) == 0)
                continue;
            flush_batch(o, place, b);
            /* an empty scratch buffer holds any piece (BATCH_MAX) */
            BUF_MUST(output_format_line(o, h, s, &piece, b));
        }
    }
    if (o->mode == OUT_STREAM)
        flush_batch(o, place, b);
    /* keep the memory for the next batch, unless a huge one grew it */
    if (b->alloc > (1u << 20))
        buf_release(b);
}

void output_host_done(struct output *o, struct output_host *h)
{
    if (o->mode != OUT_GROUPED)
        return;
    /* One block: take the lock once for both places. */
    pthread_mutex_lock(&o->lock);
    show(o->fd[0], buf_str(&h->group[0]), h->group[0].len);
    show(o->fd[1], buf_str(&h->group[1]), h->group[1].len);
    pthread_mutex_unlock(&o->lock);
    buf_reset(&h->group[0]);
    buf_reset(&h->group[1]);
}

void output_note(struct output *o, const char *fmt, ...)
{
    struct buf b = BUF_INIT(BATCH_MAX);
    char *msg = NULL;
    size_t len, cut = 0;
    const char *p, *end;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg == NULL)
        return;
    len = strlen(msg);
    if (len > NOTE_MAX) {
        cut = len - NOTE_MAX;
        len = NOTE_MAX;
    }
    /* Notes may quote what hosts reported (a release, a lock holder): each
     * line is escaped like remote output. At most NOTE_MAX bytes escape to
     * 4 MiB, plus "oneoff: " for each of at most NOTE_MAX lines: BATCH_MAX
     * holds them. */
    for (p = msg, end = msg + len;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        BUF_MUST(buf_adds(&b, "oneoff: "));
        BUF_MUST(text_escape(&b, p, n));
        BUF_MUST(buf_addc(&b, '\n'));
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (cut)
        BUF_MUST(
            buf_addf(&b, "oneoff: (note cut here: %zu more bytes)\n", cut));
    free(msg);
    pthread_mutex_lock(&o->lock);
    show(o->fd[1], buf_str(&b), b.len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b);
}

/* The cells of one summary row as shown: escaped, cut at CELL_MAX. */
struct cells {
    char host[CELL_MAX], status[CELL_MAX], exit[CELL_MAX];
    char release[CELL_MAX], revision[CELL_MAX], error[CELL_MAX];
};

static const char *dash(const char *s)
{
    return s && *s ? s : "-";
}

static void cells_of(const struct summary_row *w, struct cells *c)
{
    text_escape_msg(w->host, c->host, CELL_MAX);
    text_escape_msg(w->status, c->status, CELL_MAX);
    text_escape_msg(w->exit, c->exit, CELL_MAX);
    text_escape_msg(dash(w->release), c->release, CELL_MAX);
    text_escape_msg(dash(w->revision), c->revision, CELL_MAX);
    text_escape_msg(w->error ? w->error : "", c->error, CELL_MAX);
}

static void widen(int *w, const char *cell)
{
    if ((int)strlen(cell) > *w)
        *w = (int)strlen(cell);
}

void output_summary(struct output *o, const struct summary_row *rows, size_t n)
{
    struct buf b = BUF_INIT(BATCH_MAX);
    static const char *const order[] = {
        "ok",          "failed",  "unreachable", "auth",  "host-key", "timeout",
        "interrupted", "refused", "skipped",     "ready", NULL};
    size_t counts[16] = {0};
    int wn = 4, ws = 6, we = 4, wr = 7, wv = 8;
    bool any_release = false;
    struct cells *c = xmalloc(sizeof(*c));

    for (size_t i = 0; i < n; i++) {
        const struct summary_row *w = &rows[i];
        cells_of(w, c);
        widen(&wn, c->host);
        widen(&ws, c->status);
        widen(&we, c->exit);
        if (w->release)
            widen(&wr, c->release);
        if (w->revision)
            widen(&wv, c->revision);
        any_release |= w->release != NULL;
        for (size_t k = 0; order[k]; k++)
            if (strcmp(order[k], w->status) == 0)
                counts[k]++;
    }
    /* Every cell is at most CELL_MAX bytes and b is written out past
     * SUMMARY_CHUNK, so b never holds more than a chunk and a row:
     * BATCH_MAX is far from reached. */
    pthread_mutex_lock(&o->lock);
    BUF_MUST(buf_addf(&b, "\n%-*s  %-*s  %-*s  %9s", wn, "HOST", ws, "STATUS",
                      we, "EXIT", "DURATION"));
    if (any_release)
        BUF_MUST(buf_addf(&b, "  %-*s  %-*s", wr, "RELEASE", wv, "REVISION"));
    BUF_MUST(buf_adds(&b, "  ERROR\n"));
    for (size_t i = 0; i < n; i++) {
        char dur[32];
        cells_of(&rows[i], c);
        duration_format(rows[i].duration_ms, dur, sizeof(dur));
        BUF_MUST(buf_addf(&b, "%-*s  %-*s  %-*s  %9s", wn, c->host, ws,
                          c->status, we, c->exit, dur));
        if (any_release)
            BUF_MUST(
                buf_addf(&b, "  %-*s  %-*s", wr, c->release, wv, c->revision));
        BUF_MUST(buf_addf(&b, "  %s\n", c->error));
        if (b.len > SUMMARY_CHUNK) {
            show(o->fd[0], buf_str(&b), b.len);
            buf_reset(&b);
        }
    }
    BUF_MUST(buf_addf(&b, "%zu ok, %zu failed, %zu unreachable", counts[0],
                      counts[1], counts[2]));
    for (size_t k = 3; order[k]; k++)
        if (counts[k])
            BUF_MUST(buf_addf(&b, ", %zu %s", counts[k], order[k]));
    BUF_MUST(buf_addc(&b, '\n'));
    show(o->fd[0], buf_str(&b), b.len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b);
    free(c);
}
