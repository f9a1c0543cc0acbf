/*
 * progress.c - the status line and the -v notes (see progress.h).
 *
 * Every look takes a snapshot of the host table, compares each host's
 * phase with the one seen before (to know since when it is there), and
 * from that counts, finds the slowest and the silent hosts, and says what
 * -v says about hosts newly connected or newly reported.
 */
#define _GNU_SOURCE
#include "oneoff/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "oneoff/text.h"

#define NAME_SHOWN 64

void progress_init(struct progress *p, struct output *out,
                   struct host_table *tab, const struct plan *plan,
                   struct output_host *const *oh, bool verbose,
                   int64_t silent_ms)
{
    const char *term = getenv("TERM");
    size_t n = plan->nhosts ? plan->nhosts : 1;

    memset(p, 0, sizeof(*p));
    p->out = out;
    p->tab = tab;
    p->plan = plan;
    p->oh = oh;
    p->n = plan->nhosts;
    p->verbose = verbose && !out->quiet;
    p->line = out->tty[1] && !out->quiet && !(term && !strcmp(term, "dumb"));
    p->silent_ms = silent_ms > 0 ? silent_ms : PROGRESS_SILENT_MS;
    p->t0 = clock_mono_ms();
    p->rows = xcalloc(n, sizeof(*p->rows));
    p->phase = xcalloc(n, sizeof(*p->phase));
    p->since = xcalloc(n, sizeof(*p->since));
    p->told_conn = xcalloc(n, sizeof(*p->told_conn));
    p->told_release = xcalloc(n, sizeof(*p->told_release));
    for (size_t i = 0; i < p->n; i++)
        p->since[i] = p->t0;
}

void progress_release(struct progress *p)
{
    host_snapshot_release(p->rows, p->n);
    free(p->rows);
    free(p->phase);
    free(p->since);
    free(p->told_conn);
    free(p->told_release);
    memset(p, 0, sizeof(*p));
}

static bool active(enum host_phase ph)
{
    return ph == PHASE_CONNECTING || ph == PHASE_PREFLIGHT ||
           ph == PHASE_RUNNING;
}

/* -v: where a host was reached, and its release. */
static void tell(struct progress *p, size_t i)
{
    const struct host *h = p->plan->hosts[i].host;
    const struct host_state *s = &p->rows[i];

    if (!p->told_conn[i] && s->connected_ms) {
        char port[16] = "";
        p->told_conn[i] = true;
        if (h->set.port)
            snprintf(port, sizeof(port), ":%u", h->set.port);
        if (h->set.transport == TRANSPORT_LOCAL)
            output_info(p->out, "%s: this machine (local transport)", h->name);
        else
            output_info(p->out, "%s: connected to %s%s%s as %s", h->name,
                        h->address ? h->address : h->name, port,
                        h->set.port ? "" : " (port: ssh config, else 22)",
                        h->set.user ? h->set.user
                                    : "the ssh config's user, else yours");
    }
    if (!p->told_release[i] && s->release) {
        p->told_release[i] = true;
        output_info(p->out, "%s: release %s, revision %s", h->name, s->release,
                    s->revision && *s->revision ? s->revision : "-");
    }
}

/* A snapshot, with the phases' times brought up to date. */
static void look(struct progress *p, int64_t now)
{
    host_snapshot_release(p->rows, p->n);
    host_table_snapshot(p->tab, p->rows);
    for (size_t i = 0; i < p->n; i++) {
        if (p->rows[i].phase != p->phase[i]) {
            p->phase[i] = p->rows[i].phase;
            p->since[i] = now;
        }
        if (p->verbose)
            tell(p, i);
    }
}

static int64_t quiet_since(const struct progress *p, size_t i)
{
    int64_t l = atomic_load(&p->oh[i]->last_line_ms);

    return l > p->since[i] ? l : p->since[i];
}

/* The PROGRESS_NAMES active hosts with the smallest key (oldest since, or
 * oldest line), those older than min_age only. Returns how many. */
/* A duration in whole seconds: "0s", "12s", "1m2s". */
static void seconds(int64_t ms, char *buf, size_t n)
{
    if (ms < 1000)
        snprintf(buf, n, "0s");
    else
        duration_format(ms / 1000 * 1000, buf, n);
}

static int64_t key_of(const struct progress *p, size_t i, bool by_line)
{
    return by_line ? quiet_since(p, i) : p->since[i];
}

/* The PROGRESS_NAMES active hosts with the oldest key (since when in
 * their phase, or since their last line), older than min_age, oldest
 * first, into pick. Returns how many. */
static size_t oldest(const struct progress *p, bool by_line, int64_t now,
                     int64_t min_age, size_t *pick)
{
    size_t k = 0;

    for (size_t i = 0; i < p->n; i++) {
        int64_t t = key_of(p, i, by_line);
        size_t j;
        if (!active(p->rows[i].phase) || now - t < min_age)
            continue;
        if (k < PROGRESS_NAMES)
            j = k++;
        else if (t >= key_of(p, pick[PROGRESS_NAMES - 1], by_line))
            continue;
        else
            j = PROGRESS_NAMES - 1;
        while (j > 0 && key_of(p, pick[j - 1], by_line) > t) {
            pick[j] = pick[j - 1];
            j--;
        }
        pick[j] = i;
    }
    return k;
}

static void add_names(struct buf *b, const struct progress *p, const char *what,
                      const size_t *pick, size_t k, bool by_line, int64_t now)
{
    for (size_t j = 0; j < k; j++) {
        char name[NAME_SHOWN], d[32];
        int64_t t = key_of(p, pick[j], by_line);
        text_escape_msg(p->plan->hosts[pick[j]].host->name, name, sizeof(name));
        seconds(now - t, d, sizeof(d));
        /* b's maximum is far above a status line */
        BUF_MUST(buf_addf(b, "%s%s %s", j ? ", " : what, name, d));
    }
}

void progress_render(const struct progress *p, int64_t now, size_t width,
                     char *out)
{
    struct buf b = BUF_INIT(1u << 20);
    size_t done = 0, running = 0, waiting = 0, failed = 0, k;
    size_t pick[PROGRESS_NAMES];
    char el[32];

    for (size_t i = 0; i < p->n; i++) {
        const struct host_state *s = &p->rows[i];
        if (s->phase == PHASE_DONE) {
            done++;
            failed += s->outcome != HOST_OK && s->outcome != HOST_READY &&
                      s->outcome != HOST_CHECKED;
        } else if (active(s->phase)) {
            running++;
        } else {
            waiting++;
        }
    }
    seconds(now - p->t0, el, sizeof(el));
    /* a status line is far below b's maximum */
    BUF_MUST(buf_addf(&b, "[%s] %zu/%zu done, %zu running, %zu waiting", el,
                      done, p->n, running, waiting));
    if (failed)
        BUF_MUST(buf_addf(&b, ", %zu failed", failed));
    k = oldest(p, false, now, 1000, pick);
    add_names(&b, p, "; slowest: ", pick, k, false, now);
    k = oldest(p, true, now, p->silent_ms, pick);
    add_names(&b, p, "; silent: ", pick, k, true, now);
    k = b.len < width ? b.len : width;
    while (k > 0 && k < b.len && ((unsigned char)b.data[k] & 0xc0) == 0x80)
        k--;
    memcpy(out, buf_str(&b), k);
    out[k] = '\0';
    buf_release(&b);
}

static size_t term_width(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        return ws.ws_col - 1u; /* the last column would wrap */
    return 79;
}

void progress_tick(struct progress *p)
{
    int64_t now = clock_mono_ms();
    char *line;
    size_t w;

    if (!p->line && !p->verbose)
        return;
    if (p->last && now - p->last < PROGRESS_EVERY_MS)
        return;
    p->last = now;
    look(p, now);
    if (!p->line || now - p->t0 < PROGRESS_FIRST_MS)
        return;
    w = term_width();
    line = xmalloc(w + 1);
    progress_render(p, now, w, line);
    output_status(p->out, line);
    p->drawn = true;
    free(line);
}

void progress_end(struct progress *p)
{
    if (p->verbose)
        look(p, clock_mono_ms());
    if (p->drawn)
        output_status(p->out, NULL);
    p->drawn = false;
}
