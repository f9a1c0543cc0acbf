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
 * Gathered mode keeps each host's raw lines (gather.h) and shows them
 * grouped when every host is done. A host whose kept lines would pass
 * GATHER_HOST_MAX, or all hosts' GATHER_TOTAL_MAX, is "spilled": what it
 * kept moves to its grouped block, and from then on it is shown as in
 * grouped mode, on its own, with a note saying so.
 *
 * The status line: every write below goes through put(), which, under
 * the lock, erases the status line before a write to a terminal and draws
 * it again after.
 *
 * Writes to the terminal that fail (a closed pipe, a full disk behind a
 * redirection) are not retried and not reported: the host logs and the
 * record, which report their own failures, keep everything.
 */
#define _GNU_SOURCE
#include "oneoff/output.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/gather.h"
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

#define STATUS_ERASE "\r\033[K"

/* Under the lock: a write to place, around the status line. */
static void put(struct output *o, int place, const char *p, size_t n)
{
    bool cover = o->status_shown && o->tty[place];

    if (n == 0)
        return;
    if (cover) {
        show(o->fd[1], STATUS_ERASE, strlen(STATUS_ERASE));
        o->status_shown = false;
    }
    show(o->fd[place], p, n);
    if (cover && o->status) {
        show(o->fd[1], o->status, strlen(o->status));
        o->status_shown = true;
    }
}

void output_status(struct output *o, const char *line)
{
    pthread_mutex_lock(&o->lock);
    if (o->status_shown)
        show(o->fd[1], STATUS_ERASE, strlen(STATUS_ERASE));
    o->status_shown = false;
    free(o->status);
    o->status = line ? xstrdup(line) : NULL;
    if (o->status && *o->status) {
        show(o->fd[1], o->status, strlen(o->status));
        o->status_shown = true;
    }
    pthread_mutex_unlock(&o->lock);
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
    o->tty[0] = isatty(o->fd[0]) == 1;
    o->tty[1] = isatty(o->fd[1]) == 1;
}

void output_release(struct output *o)
{
    free(o->status);
    o->status = NULL;
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
    for (int s = 0; s < LINE_STREAMS; s++)
        buf_init(&h->kept[s], GATHER_HOST_MAX);
    atomic_init(&h->last_line_ms, 0);
}

void output_host_release(struct output_host *h)
{
    for (int s = 0; s < LINE_STREAMS; s++)
        free(h->prefix[s]);
    buf_release(&h->group[0]);
    buf_release(&h->group[1]);
    buf_release(&h->scratch);
    for (int s = 0; s < LINE_STREAMS; s++)
        buf_release(&h->kept[s]);
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
    put(o, place, h->group[place].data, h->group[place].len);
    pthread_mutex_unlock(&o->lock);
    buf_reset(&h->group[place]);
}

static void flush_batch(struct output *o, int place, struct buf *b)
{
    pthread_mutex_lock(&o->lock);
    put(o, place, buf_str(b), b->len);
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
        put(o, place, buf_str(b), b->len);
        pthread_mutex_unlock(&o->lock);
    }
}

/* Gathered mode: keeps a batch of raw lines; -1 when it does not fit the
 * host's or the run's bound (nothing kept then). */
static int gather_keep(struct output *o, struct output_host *h,
                       enum line_stream s, const struct line *lines, size_t n)
{
    size_t need = 0, have = 0;
    bool fits;

    for (size_t i = 0; i < n; i++)
        need += lines[i].n + 1;
    for (int k = 0; k < LINE_STREAMS; k++)
        have += h->kept[k].len;
    pthread_mutex_lock(&o->lock);
    fits = have + need <= GATHER_HOST_MAX &&
           o->kept_total + need <= GATHER_TOTAL_MAX;
    if (fits)
        o->kept_total += need;
    pthread_mutex_unlock(&o->lock);
    if (!fits)
        return -1;
    for (size_t i = 0; i < n; i++)
        /* have + need <= GATHER_HOST_MAX, the buffer's maximum */
        BUF_MUST(buf_add(&h->kept[s], lines[i].p, lines[i].n) ||
                 buf_addc(&h->kept[s], '\n'));
    return 0;
}

/* Gathered mode: the host passed a bound; what it kept joins its grouped
 * block, and it is shown on its own from now on. */
static void gather_spill(struct output *o, struct output_host *h)
{
    size_t freed = 0;

    h->spilled = true;
    for (int s = 0; s < LINE_STREAMS; s++) {
        const char *p = h->kept[s].data, *end = p + h->kept[s].len;
        while (p && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            struct line l = {p, (size_t)(nl - p), true};
            buf_reset(&h->scratch);
            /* a kept line is at most LINE_MAX_BYTES: it fits (BATCH_MAX) */
            BUF_MUST(
                output_format_line(o, h, (enum line_stream)s, &l, &h->scratch));
            group_add(o, h, place_of((enum line_stream)s), &h->scratch);
            p = nl + 1;
        }
        freed += h->kept[s].len;
        buf_release(&h->kept[s]);
    }
    pthread_mutex_lock(&o->lock);
    o->kept_total -= freed;
    pthread_mutex_unlock(&o->lock);
    output_info(o,
                "%s: more output than gathering keeps (%u KiB a host, %u MiB "
                "in all): shown on its own",
                h->name, GATHER_HOST_MAX >> 10, GATHER_TOTAL_MAX >> 20);
}

void output_lines(struct output *o, struct output_host *h, enum line_stream s,
                  const struct line *lines, size_t n)
{
    struct buf *b = &h->scratch;
    int place = place_of(s);

    bool grouped = o->mode == OUT_GROUPED;

    if (n == 0)
        return;
    atomic_store(&h->last_line_ms, clock_mono_ms());
    if (o->quiet)
        return; /* the log has them */
    if (o->mode == OUT_GATHER && !h->spilled) {
        if (gather_keep(o, h, s, lines, n) == 0)
            return;
        gather_spill(o, h);
    }
    if (o->mode == OUT_GATHER)
        grouped = true; /* spilled */
    buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        struct line piece;
        size_t off = 0;
        while (next_piece(&lines[i], &off, &piece)) {
            if (grouped) {
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
    if (!grouped)
        flush_batch(o, place, b);
    /* keep the memory for the next batch, unless a huge one grew it */
    if (b->alloc > (1u << 20))
        buf_release(b);
}

void output_host_done(struct output *o, struct output_host *h)
{
    /* a finished host's buffers must not wait for the others to finish */
    buf_release(&h->scratch);
    if (o->mode == OUT_STREAM || (o->mode == OUT_GATHER && !h->spilled))
        return;
    /* One block: take the lock once for both places. */
    pthread_mutex_lock(&o->lock);
    put(o, 0, buf_str(&h->group[0]), h->group[0].len);
    put(o, 1, buf_str(&h->group[1]), h->group[1].len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&h->group[0]);
    buf_release(&h->group[1]);
}

static void vnote(struct output *o, const char *fmt, va_list ap)
    ONEOFF_PRINTF(2, 0);

static void vnote(struct output *o, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT(BATCH_MAX);
    char *msg = NULL;
    size_t len, cut = 0;
    const char *p, *end;

    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
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
    put(o, 1, buf_str(&b), b.len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b);
}

void output_note(struct output *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vnote(o, fmt, ap);
    va_end(ap);
}

void output_info(struct output *o, const char *fmt, ...)
{
    va_list ap;

    if (o->quiet)
        return;
    va_start(ap, fmt);
    vnote(o, fmt, ap);
    va_end(ap);
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

/* Whether the summary lists a row (see enum summary_mode; -q lists only
 * the hosts that are not ok). */
static bool listed(const struct output *o, const struct summary_row *w,
                   size_t n)
{
    bool ok = strcmp(w->status, "ok") == 0 || strcmp(w->status, "ready") == 0 ||
              strcmp(w->status, "checked") == 0;

    if (o->summary == SUMMARY_FULL && !o->quiet)
        return true;
    if (o->summary == SUMMARY_SHORT || o->quiet)
        return !ok;
    return n <= SUMMARY_AUTO_MAX || !ok;
}

void output_summary(struct output *o, const struct summary_row *rows, size_t n)
{
    struct buf b = BUF_INIT(BATCH_MAX);
    static const char *const order[] = {
        "ok",          "failed",  "unreachable", "auth",  "host-key", "timeout",
        "interrupted", "refused", "skipped",     "ready", "checked",  NULL};
    size_t counts[16] = {0};
    int wn = 4, ws = 6, we = 4, wr = 7, wv = 8;
    bool any_release = false;
    struct cells *c = xmalloc(sizeof(*c));
    size_t nlisted = 0;

    for (size_t i = 0; i < n; i++) {
        const struct summary_row *w = &rows[i];
        for (size_t k = 0; order[k]; k++)
            if (strcmp(order[k], w->status) == 0)
                counts[k]++;
        if (!listed(o, w, n))
            continue;
        nlisted++;
        cells_of(w, c);
        widen(&wn, c->host);
        widen(&ws, c->status);
        widen(&we, c->exit);
        if (w->release)
            widen(&wr, c->release);
        if (w->revision)
            widen(&wv, c->revision);
        any_release |= w->release != NULL;
    }
    /* Every cell is at most CELL_MAX bytes and b is written out past
     * SUMMARY_CHUNK, so b never holds more than a chunk and a row:
     * BATCH_MAX is far from reached. */
    pthread_mutex_lock(&o->lock);
    BUF_MUST(buf_addc(&b, '\n'));
    if (nlisted) {
        BUF_MUST(buf_addf(&b, "%-*s  %-*s  %-*s  %9s", wn, "HOST", ws, "STATUS",
                          we, "EXIT", "DURATION"));
        if (any_release)
            BUF_MUST(
                buf_addf(&b, "  %-*s  %-*s", wr, "RELEASE", wv, "REVISION"));
        BUF_MUST(buf_adds(&b, "  ERROR\n"));
    }
    for (size_t i = 0; i < n; i++) {
        char dur[32];
        if (!listed(o, &rows[i], n))
            continue;
        cells_of(&rows[i], c);
        duration_format(rows[i].duration_ms, dur, sizeof(dur));
        BUF_MUST(buf_addf(&b, "%-*s  %-*s  %-*s  %9s", wn, c->host, ws,
                          c->status, we, c->exit, dur));
        if (any_release)
            BUF_MUST(
                buf_addf(&b, "  %-*s  %-*s", wr, c->release, wv, c->revision));
        BUF_MUST(buf_addf(&b, "  %s\n", c->error));
        if (b.len > SUMMARY_CHUNK) {
            put(o, 0, buf_str(&b), b.len);
            buf_reset(&b);
        }
    }
    BUF_MUST(buf_addf(&b, "%zu ok, %zu failed, %zu unreachable", counts[0],
                      counts[1], counts[2]));
    for (size_t k = 3; order[k]; k++)
        if (counts[k])
            BUF_MUST(buf_addf(&b, ", %zu %s", counts[k], order[k]));
    BUF_MUST(buf_addc(&b, '\n'));
    put(o, 0, buf_str(&b), b.len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b);
    free(c);
}

/* ---- gathered output ------------------------------------------------------
 */

#define RULE "---------------\n"

/* Whether stdout and stderr go to the same file (a terminal, 2>&1). */
static bool same_file(int a, int b)
{
    struct stat sa, sb;

    if (a == b)
        return true;
    if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const char *const stream_label[LINE_STREAMS] = {"stdout", "stderr",
                                                       "set-up"};
static const char *const stream_mark[LINE_STREAMS] = {"", "", "setup: "};
/* what a place shows, in order: stdout; set-up output, then stderr */
static const int place_streams[2][2] = {{LINE_OUT, -1}, {LINE_SETUP, LINE_ERR}};

/* A group's lines for one place, whole, or as a diff against base (NULL:
 * whole). Every part is bounded (GATHER_HOST_MAX per host, escaped at most
 * 4 times, a diff at most twice the lines of both): BATCH_MAX holds it. */
static void group_text(struct buf *b, const struct gather_host *g,
                       const struct gather_host *base, const char *gname,
                       const char *bname, int place)
{
    struct buf d = BUF_INIT(BATCH_MAX);

    for (int k = 0; k < 2; k++) {
        int s = place_streams[place][k];
        int rc;
        if (s < 0)
            continue;
        if (base == NULL) {
            BUF_MUST(gather_lines(b, stream_mark[s], g->kept[s]));
            continue;
        }
        rc = gather_diff(&d, stream_mark[s], base->kept[s], g->kept[s]);
        BUF_MUST(rc < 0 ? -1 : 0);
        if (rc == 0 && d.len == 0)
            continue; /* the same */
        if (rc == 1) {
            BUF_MUST(buf_addf(b,
                              "(%s: too many lines differ from %s for a "
                              "diff: shown whole)\n",
                              stream_label[s], bname));
            BUF_MUST(gather_lines(b, stream_mark[s], g->kept[s]));
            continue;
        }
        BUF_MUST(buf_addf(b, "--- %s (%s)\n+++ %s (%s)\n", bname,
                          stream_label[s], gname, stream_label[s]));
        BUF_MUST(buf_add(b, buf_str(&d), d.len));
        buf_reset(&d);
    }
    buf_release(&d);
}

static void show_group(struct output *o, const struct gather_host *gh,
                       const struct gather_group *g, const char *head,
                       const struct gather_group *first, const char *fhead,
                       bool same)
{
    struct buf b[2] = {BUF_INIT(BATCH_MAX), BUF_INIT(BATCH_MAX)};
    const struct gather_host *h = &gh[g->v[0]];
    const struct gather_host *base = first ? &gh[first->v[0]] : NULL;
    char *gname = NULL, *bname = NULL;

    if (base) { /* the names alone, for the diff's --- and +++ lines */
        gname = xstrndup(head, strcspn(head, " "));
        bname = xstrndup(fhead, strcspn(fhead, " "));
    }
    /* the header is a few KiB at most per host name: BATCH_MAX holds it */
    BUF_MUST(buf_addf(&b[0], RULE "%s\n" RULE, head));
    group_text(&b[0], h, base, gname, bname, 0);
    group_text(&b[1], h, base, gname, bname, 1);
    if (b[0].len == strlen(head) + 1 + 2 * strlen(RULE) && b[1].len == 0)
        BUF_MUST(
            buf_adds(&b[0], base ? "(the same output)\n" : "(no output)\n"));
    if (b[1].len && !same) { /* stderr elsewhere: it gets the header too */
        struct buf t = BUF_INIT(BATCH_MAX);
        BUF_MUST(buf_addf(&t, RULE "%s\n" RULE, head));
        BUF_MUST(buf_add(&t, b[1].data, b[1].len));
        buf_release(&b[1]);
        b[1] = t;
    }
    pthread_mutex_lock(&o->lock);
    put(o, 0, buf_str(&b[0]), b[0].len);
    put(o, 1, buf_str(&b[1]), b[1].len);
    pthread_mutex_unlock(&o->lock);
    buf_release(&b[0]);
    buf_release(&b[1]);
    free(gname);
    free(bname);
}

void output_gathered(struct output *o, struct output_host *const *hosts,
                     const struct summary_row *rows, size_t n)
{
    struct gather_host *gh = xcalloc(n ? n : 1, sizeof(*gh));
    struct gather_group *groups;
    size_t m = 0, ng;
    char **heads;
    bool same = same_file(o->fd[0], o->fd[1]);

    if (o->mode != OUT_GATHER || o->quiet) {
        free(gh);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct output_host *h = hosts[i];
        size_t kept = 0;
        if (h->spilled) {
            output_host_done(o, h); /* what is left of its block */
            continue;
        }
        for (int s = 0; s < LINE_STREAMS; s++)
            kept += h->kept[s].len;
        if (kept == 0 && strcmp(rows[i].exit, "-") == 0)
            continue;
        gh[m].name = h->name;
        gh[m].status = rows[i].status;
        gh[m].exit = rows[i].exit;
        for (int s = 0; s < LINE_STREAMS; s++)
            gh[m].kept[s] = &h->kept[s];
        m++;
    }
    gather_group(gh, m, &groups, &ng);
    heads = xcalloc(ng ? ng : 1, sizeof(*heads));
    for (size_t k = 0; k < ng; k++)
        heads[k] = gather_header(gh, &groups[k]);
    for (size_t k = 0; k < ng; k++)
        show_group(o, gh, &groups[k], heads[k],
                   o->diff && k ? &groups[0] : NULL, heads[0], same);
    for (size_t k = 0; k < ng; k++)
        free(heads[k]);
    free(heads);
    gather_groups_release(groups, ng);
    free(gh);
}
