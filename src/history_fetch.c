/*
 * history_fetch.c - every host's history.jsonl, read in parallel (see
 * history_fetch.h): a worker per host runs the host script's history mode
 * and parses its framed report (preflight.c); the main thread merges the
 * lines in plan order once every worker is done. Writing a note to the
 * hosts' files (history_note()) goes the same way, in the script's note
 * mode, whose report is only "ready".
 */
#include "oneoff/history_fetch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/host_script.h"
#include "oneoff/pool.h"
#include "oneoff/preflight.h"

#define STDERR_KEEP 512

struct fetch_host {
    const struct plan *plan;
    const struct plan_host *ph;
    struct transport *tp;
    const char *nonce;
    const char *note; /* NULL: read the history */
    struct preflight pf;
    bool malformed;
    char perr[ERR_MAX];
    char stderr_text[STDERR_KEEP];
    int64_t deadline;    /* monotonic, once connected */
    char error[ERR_MAX]; /* "" : read */
};

struct fetch {
    struct fetch_host *v; /* one per plan host */
    size_t *items, n;     /* the hosts the script runs on */
    char nonce[SCRIPT_NONCE_LEN + 1];
};

static void sink_connected(void *ctx)
{
    struct fetch_host *f = ctx;

    f->deadline = clock_mono_ms() + HISTORY_FETCH_MS;
}

static void sink_data(void *ctx, enum transport_stream st, const char *p,
                      size_t n)
{
    struct fetch_host *f = ctx;

    if (st == STREAM_ERR) {
        size_t have = strlen(f->stderr_text), take = STDERR_KEEP - 1 - have;
        if (take > n)
            take = n;
        memcpy(f->stderr_text + have, p, take);
        f->stderr_text[have + take] = '\0';
        return;
    }
    if (!f->malformed &&
        preflight_parse(&f->pf, f->nonce, p, n, NULL, f->perr) < 0)
        f->malformed = true;
}

static enum transport_control sink_control(void *ctx)
{
    struct fetch_host *f = ctx;

    if (f->malformed)
        return CONTROL_CLOSE;
    if (f->deadline && clock_mono_ms() >= f->deadline)
        return CONTROL_CLOSE;
    return CONTROL_CONTINUE;
}

/* The first line of what the script said on stderr ("oneoff: ..."). */
static void first_line(char *out, size_t n, const char *text)
{
    size_t len = strcspn(text, "\n");

    snprintf(out, n, "%.*s", (int)len, text);
}

static void fetch_one(void *ctx, size_t i)
{
    struct fetch *all = ctx;
    struct fetch_host *f = &all->v[i];
    const struct host *h = f->ph->host;
    struct transport_target tg = {h->name,     h->address,      h->set.port,
                                  h->set.user, h->set.identity, h->set.jump};
    struct transport_sink sink = {.ctx = f,
                                  .connected = sink_connected,
                                  .data = sink_data,
                                  .control = sink_control};
    struct transport_cmd cmd;
    struct transport_result res;
    struct tchan *c = NULL;
    char why[ERR_MAX], *input = NULL;

    memset(&cmd, 0, sizeof(cmd));
    cmd.command =
        f->note ? plan_note_command(f->plan, f->ph, f->nonce, f->note, &input)
                : plan_command(f->plan, f->ph, SCRIPT_HISTORY, f->nonce,
                               "history", "history", NULL, &input);
    cmd.input = input;
    transport_result_init(&res);
    if (transport_open(f->tp, &tg, &cmd, &sink, &c, &res) == 0)
        while (tchan_pump(c, &res) == 0)
            ;
    tchan_free(c);
    free((char *)cmd.command);
    free(input);
    if (f->pf.ready && (f->note ? f->pf.history == PF_HISTORY_WRITTEN
                                : f->pf.history != PF_HISTORY_NONE))
        return;
    if (f->malformed)
        snprintf(f->error, sizeof(f->error), "%s", f->perr);
    else if (f->stderr_text[0])
        first_line(f->error, sizeof(f->error), f->stderr_text);
    else if (res.error[0])
        snprintf(f->error, sizeof(f->error), "%s", res.error);
    else if (f->deadline && clock_mono_ms() >= f->deadline)
        snprintf(f->error, sizeof(f->error), "no answer in %d s",
                 HISTORY_FETCH_MS / 1000);
    else {
        snprintf(why, sizeof(why),
                 "the script ended (exit %d) before its "
                 "report",
                 res.exit_code);
        snprintf(f->error, sizeof(f->error), "%s", why);
    }
}

static bool tick(void *ctx, bool ready)
{
    (void)ctx;
    (void)ready;
    return true;
}

/* Runs the history script on the plan's hosts, in parallel: every host,
 * or with notes those whose note is not NULL (SCRIPT_HISTORY_NOTE). Fills
 * all->v (one per plan host) and all->items/all->n (the hosts run). */
static int fetch_all(const struct plan *p, struct transport *const *tps,
                     unsigned parallel, char *const *notes, struct fetch *all,
                     char *err)
{
    if (script_nonce_new(all->nonce, err))
        return -1;
    /* a host's stdin (the script, a local host's pipe) may close early:
     * its write then fails, it does not end oneoff */
    signal(SIGPIPE, SIG_IGN);
    all->v = xcalloc(p->nhosts ? p->nhosts : 1, sizeof(*all->v));
    all->items = xcalloc(p->nhosts ? p->nhosts : 1, sizeof(*all->items));
    all->n = 0;
    for (size_t i = 0; i < p->nhosts; i++) {
        all->v[i].plan = p;
        all->v[i].ph = &p->hosts[i];
        all->v[i].tp = tps[i];
        all->v[i].nonce = all->nonce;
        all->v[i].note = notes ? notes[i] : NULL;
        all->v[i].pf.no_release = true;
        if (notes == NULL || notes[i])
            all->items[all->n++] = i;
    }
    pool_run(all->items, all->n, parallel ? parallel : 1, fetch_one, tick, -1,
             all);
    return 0;
}

static void fetch_release(struct fetch *all)
{
    for (size_t k = 0; k < all->n; k++)
        preflight_release(&all->v[all->items[k]].pf);
    free(all->items);
    free(all->v);
}

int history_fetch(const struct plan *p, struct transport *const *tps,
                  unsigned parallel, struct history *h, char *err)
{
    struct fetch all;
    size_t bad = 0;

    if (fetch_all(p, tps, parallel, NULL, &all, err))
        return -1;
    for (size_t i = 0; i < p->nhosts; i++) {
        struct fetch_host *f = &all.v[i];
        const char *name = f->ph->host->name;
        if (f->error[0]) {
            history_add_problem(h, name, 0, f->error);
            bad++;
        } else if (f->pf.history == PF_HISTORY_UNREADABLE) {
            history_add_problem(h, name, 0, "the history file is not readable");
            bad++;
        } else {
            if (f->pf.history_cut)
                history_add_problem(h, name, 0,
                                    "the history file is too long: only "
                                    "its first 16 MiB were read");
            history_add_text(h, name, buf_str(&f->pf.history_text),
                             f->pf.history_text.len);
        }
    }
    fetch_release(&all);
    return (int)bad;
}

int history_note(const struct plan *p, struct transport *const *tps,
                 unsigned parallel, char *const *notes, struct strlist *failed,
                 struct strlist *why, char *err)
{
    struct fetch all;
    size_t bad = 0;

    if (fetch_all(p, tps, parallel, notes, &all, err))
        return -1;
    for (size_t k = 0; k < all.n; k++) {
        struct fetch_host *f = &all.v[all.items[k]];
        if (f->error[0]) {
            strlist_push(failed, f->ph->host->name);
            strlist_push(why, f->error);
            bad++;
        }
    }
    fetch_release(&all);
    return (int)bad;
}
