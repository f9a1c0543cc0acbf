/*
 * output.c - live prefixed output, grouped blocks and the summary.
 *
 * Theory of operation. Worker threads (one per running host) call
 * output_lines() with whole lines only; the line splitting happens in the
 * runner so that a line is never shown before its newline arrives (or
 * before it is known to be a fragment). Each call formats all its lines
 * into one buffer outside the lock, then takes the lock and issues a
 * single write(2) for the batch, so another host's line can only come
 * before or after, never inside. pdsh writes one line per call; batching
 * the lines of one received chunk keeps the same guarantee with far fewer
 * system calls when a host prints megabytes.
 *
 * Grouped mode keeps a host's formatted lines in a bounded buffer and
 * prints the block when the host finishes (or when the buffer fills, so a
 * noisy host cannot exhaust memory).
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

#define BATCH_MAX (64u << 20)
#define GROUP_MAX (8u << 20)

static bool want_color(int fd)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

    if (nc && *nc)
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fd) == 1;
}

void output_init(struct output *o, enum out_mode mode, int width)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    o->mode = mode;
    o->width = width;
    o->fd[0] = STDOUT_FILENO;
    o->fd[1] = STDERR_FILENO;
    o->color[0] = want_color(STDOUT_FILENO);
    o->color[1] = want_color(STDERR_FILENO);
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
    for (int s = 0; s < 2; s++) {
        if (o->color[s])
            h->prefix[s] =
                xasprintf("\033[%dm%-*s\033[0m | ", h->color, o->width, name);
        else
            h->prefix[s] = xasprintf("%-*s | ", o->width, name);
        h->prefix_len[s] = strlen(h->prefix[s]);
    }
    buf_init(&h->group[0], GROUP_MAX);
    buf_init(&h->group[1], GROUP_MAX);
    buf_init(&h->scratch, BATCH_MAX);
}

void output_host_release(struct output_host *h)
{
    free(h->prefix[0]);
    free(h->prefix[1]);
    buf_release(&h->group[0]);
    buf_release(&h->group[1]);
    buf_release(&h->scratch);
}

void output_format_line(const struct output *o, const struct output_host *h,
                        int s, const struct line *l, struct buf *dst)
{
    size_t n = l->n;

    /* CRLF (pty output, Windows tools): the CR is not content */
    if (l->eol && n > 0 && l->p[n - 1] == '\r')
        n--;
    (void)o;
    if (text_plain_len(l->p, n) == n &&
        buf_reserve(dst, h->prefix_len[s] + n + 1) == 0) {
        /* the common case, without a check per byte appended */
        buf_add_reserved(dst, h->prefix[s], h->prefix_len[s]);
        buf_add_reserved(dst, l->p, n);
        buf_add_reserved(dst, "\n", 1);
        return;
    }
    buf_add(dst, h->prefix[s], h->prefix_len[s]);
    text_escape(dst, l->p, n);
    buf_addc(dst, '\n');
}

static void flush_group(struct output *o, struct output_host *h, int s)
{
    if (h->group[s].len == 0)
        return;
    pthread_mutex_lock(&o->lock);
    write_all(o->fd[s], h->group[s].data, h->group[s].len);
    pthread_mutex_unlock(&o->lock);
    buf_reset(&h->group[s]);
}

void output_lines(struct output *o, struct output_host *h, int s,
                  const struct line *lines, size_t n)
{
    struct buf *b = &h->scratch;
    size_t need = 0;

    if (n == 0)
        return;
    if (o->mode == OUT_GROUPED) {
        for (size_t i = 0; i < n; i++) {
            /* format apart, so a line is never cut at the group's limit */
            buf_reset(b);
            output_format_line(o, h, s, &lines[i], b);
            if (h->group[s].len + b->len > h->group[s].max)
                flush_group(o, h, s); /* full: print what we have */
            if (buf_add(&h->group[s], buf_str(b), b->len)) {
                pthread_mutex_lock(&o->lock);
                write_all(o->fd[s], buf_str(b), b->len);
                pthread_mutex_unlock(&o->lock);
            }
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        need += h->prefix_len[s] + lines[i].n + 1;
    buf_reset(b);
    buf_reserve(b, need);
    for (size_t i = 0; i < n; i++)
        output_format_line(o, h, s, &lines[i], b);
    pthread_mutex_lock(&o->lock);
    write_all(o->fd[s], buf_str(b), b->len);
    pthread_mutex_unlock(&o->lock);
    /* keep the memory for the next batch, unless a huge one grew it */
    if (b->alloc > (1u << 20))
        buf_release(b);
}

void output_host_done(struct output *o, struct output_host *h)
{
    if (o->mode != OUT_GROUPED)
        return;
    /* One block: take the lock once for both streams. */
    pthread_mutex_lock(&o->lock);
    write_all(o->fd[0], buf_str(&h->group[0]), h->group[0].len);
    write_all(o->fd[1], buf_str(&h->group[1]), h->group[1].len);
    pthread_mutex_unlock(&o->lock);
    buf_reset(&h->group[0]);
    buf_reset(&h->group[1]);
}

void output_note(struct output *o, const char *fmt, ...)
{
    struct buf b = BUF_INIT(BATCH_MAX);
    char *msg = NULL;
    const char *p;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg == NULL)
        return;
    /* Notes may quote what hosts reported (a release, a lock holder):
     * each line is escaped like remote output. */
    for (p = msg;;) {
        size_t len = strcspn(p, "\n");
        buf_adds(&b, "oneoff: ");
        text_escape(&b, p, len);
        buf_addc(&b, '\n');
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    free(msg);
    pthread_mutex_lock(&o->lock);
    write_all(o->fd[1], buf_str(&b), b.len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b);
}

/* "  " and text (escaped; "-" when empty) padded to width. */
static void add_cell(struct buf *b, const char *text, int width)
{
    size_t before;

    if (text == NULL || *text == '\0')
        text = "-";
    buf_adds(b, "  ");
    before = b->len;
    text_escape(b, text, strlen(text));
    for (size_t k = b->len - before; k < (size_t)width; k++)
        buf_addc(b, ' ');
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

    for (size_t i = 0; i < n; i++) {
        const struct summary_row *w = &rows[i];
        if ((int)strlen(w->host) > wn)
            wn = (int)strlen(w->host);
        if ((int)strlen(w->status) > ws)
            ws = (int)strlen(w->status);
        if ((int)strlen(w->exit) > we)
            we = (int)strlen(w->exit);
        if (w->release && (int)strlen(w->release) > wr)
            wr = (int)strlen(w->release);
        if (w->revision && (int)strlen(w->revision) > wv)
            wv = (int)strlen(w->revision);
        any_release |= w->release != NULL;
        for (size_t k = 0; order[k]; k++)
            if (strcmp(order[k], w->status) == 0)
                counts[k]++;
    }
    buf_addf(&b, "\n%-*s  %-*s  %-*s  %9s", wn, "HOST", ws, "STATUS", we,
             "EXIT", "DURATION");
    if (any_release)
        buf_addf(&b, "  %-*s  %-*s", wr, "RELEASE", wv, "REVISION");
    buf_adds(&b, "  ERROR\n");
    for (size_t i = 0; i < n; i++) {
        const struct summary_row *w = &rows[i];
        char dur[32];
        duration_format(w->duration_ms, dur, sizeof(dur));
        buf_addf(&b, "%-*s  %-*s  %-*s  %9s", wn, w->host, ws, w->status, we,
                 w->exit, dur);
        if (any_release) {
            /* both come from the host: escaped like its output */
            add_cell(&b, w->release, wr);
            add_cell(&b, w->revision, wv);
        }
        buf_adds(&b, "  ");
        if (w->error)
            text_escape(&b, w->error, strlen(w->error));
        buf_addc(&b, '\n');
    }
    buf_addf(&b, "%zu ok, %zu failed, %zu unreachable", counts[0], counts[1],
             counts[2]);
    for (size_t k = 3; order[k]; k++)
        if (counts[k])
            buf_addf(&b, ", %zu %s", counts[k], order[k]);
    buf_addc(&b, '\n');
    pthread_mutex_lock(&o->lock);
    write_all(o->fd[0], buf_str(&b), b.len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b);
}
