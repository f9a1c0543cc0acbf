/*
 * promotion.c - the history of the stage before (see promotion.h).
 *
 * Each host gets one command line, composed like the run script's (quoted
 * with sh_quote(), through sudo -n -u for `become`):
 *     cd -P -- APP_DIR && { [ -e F ] || exit 0; exec cat -- F; }
 * Its stdout is the file; exit 0 with no output is an empty history.
 */
#define _GNU_SOURCE
#include "oneoff/promotion.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/host_script.h"
#include "oneoff/pool.h"

/* A whole read may not take longer: a host that hangs is unread. */
#define READ_TIMEOUT_MS 60000

struct reader {
    const struct plan *p;
    struct transport *const *per_host;
    struct buf *text; /* per host: its file */
    struct buf *err;  /* per host: its stderr */
    bool *ok;
    char (*why)[ERR_MAX];
};

struct one {
    struct buf *text, *err;
    int64_t deadline;
    bool cut, timed_out;
};

static void sink_data(void *ctx, enum transport_stream s, const char *p,
                      size_t n)
{
    struct one *o = ctx;
    struct buf *b = s == STREAM_OUT ? o->text : o->err;
    size_t room = b->max > b->len ? b->max - b->len : 0;
    size_t take = n < room ? n : room;

    if (take && buf_add(b, p, take) == 0 && take == n)
        return;
    if (s == STREAM_OUT)
        o->cut = true; /* the rest is dropped; stderr is only for why */
}

static enum transport_control sink_control(void *ctx)
{
    struct one *o = ctx;

    if (clock_mono_ms() >= o->deadline) {
        o->timed_out = true;
        return CONTROL_CLOSE;
    }
    return CONTROL_CONTINUE;
}

static char *read_command(const struct plan_host *ph)
{
    struct buf b;
    const char *app = ph->host->set.app_dir;
    char *script, *line;

    buf_init(&b, 256 + sh_quoted_max(app));
    BUF_MUST(buf_adds(&b, "cd -P -- "));
    BUF_MUST(sh_quote(&b, app));
    BUF_MUST(buf_adds(&b, " && { [ -e " HISTORY_FILE " ] || exit 0; "
                          "exec cat -- " HISTORY_FILE "; }"));
    script = buf_detach(&b);
    line = script_command_line(script, ph->become, NULL);
    free(script);
    return line;
}

/* The first line of what the host said on stderr, or fallback. */
static void first_line(const struct buf *b, const char *fallback, char *out,
                       size_t n)
{
    const char *s = b->len ? buf_str(b) : "";

    if (*s == '\0')
        s = fallback;
    snprintf(out, n, "%.*s", (int)strcspn(s, "\n"), s);
}

static void read_host(void *ctx, size_t i)
{
    struct reader *r = ctx;
    const struct plan_host *ph = &r->p->hosts[i];
    const struct host *h = ph->host;
    struct transport_target tg = {h->name, h->address, h->set.port, h->set.user,
                                  h->set.identity};
    struct one o = {&r->text[i], &r->err[i], 0, false, false};
    struct transport_sink sink = {&o, NULL, sink_data, sink_control};
    struct transport_cmd cmd;
    struct transport_result res;
    struct tchan *chan = NULL;

    memset(&cmd, 0, sizeof(cmd));
    cmd.command = read_command(ph);
    o.deadline = clock_mono_ms() + READ_TIMEOUT_MS;
    transport_result_init(&res);
    if (transport_open(r->per_host[i], &tg, &cmd, &sink, &chan, &res) == 0) {
        while (tchan_pump(chan, &res) == 0)
            ;
        tchan_free(chan);
    }
    free((char *)cmd.command);
    if (o.timed_out)
        snprintf(r->why[i], ERR_MAX, "no answer in %d s",
                 READ_TIMEOUT_MS / 1000);
    else if (res.outcome == OUTCOME_EXITED && res.exit_code == 0)
        r->ok[i] = true;
    else if (res.outcome == OUTCOME_EXITED)
        first_line(r->err[i].len ? &r->err[i] : &r->text[i], "exit status",
                   r->why[i], ERR_MAX);
    else
        snprintf(r->why[i], ERR_MAX, "%s",
                 res.error[0] ? res.error : "connection lost");
    if (r->ok[i] && o.cut)
        snprintf(r->why[i], ERR_MAX, "history cut at %u bytes",
                 PROMOTION_HISTORY_MAX);
}

static bool tick(void *ctx, bool ready)
{
    (void)ctx;
    (void)ready;
    return true;
}

void promotion_read(const struct plan *p, struct transport *const *per_host,
                    unsigned parallel, struct promotion_read *out)
{
    struct reader r;
    size_t n = p->nhosts ? p->nhosts : 1;
    size_t *items = xcalloc(n, sizeof(*items));

    memset(out, 0, sizeof(*out));
    history_init(&out->history);
    r.p = p;
    r.per_host = per_host;
    r.text = xcalloc(n, sizeof(*r.text));
    r.err = xcalloc(n, sizeof(*r.err));
    r.ok = xcalloc(n, sizeof(*r.ok));
    r.why = xcalloc(n, sizeof(*r.why));
    for (size_t i = 0; i < p->nhosts; i++) {
        items[i] = i;
        buf_init(&r.text[i], PROMOTION_HISTORY_MAX);
        buf_init(&r.err[i], 4096);
    }
    pool_run(items, p->nhosts, parallel ? parallel : 1, read_host, tick, -1,
             &r);
    for (size_t i = 0; i < p->nhosts; i++) {
        const char *name = p->hosts[i].host->name;
        if (r.ok[i]) {
            history_add_text(&out->history, name, buf_str(&r.text[i]),
                             r.text[i].len);
            if (r.why[i][0])
                history_add_problem(&out->history, name, 0, r.why[i]);
        } else {
            strlist_push(&out->unread, name);
            strlist_push(&out->why, r.why[i][0] ? r.why[i] : "unknown");
        }
        buf_release(&r.text[i]);
        buf_release(&r.err[i]);
    }
    history_sort(&out->history);
    free(r.text);
    free(r.err);
    free(r.ok);
    free(r.why);
    free(items);
}

void promotion_read_release(struct promotion_read *r)
{
    history_release(&r->history);
    strlist_clear(&r->unread);
    strlist_clear(&r->why);
}
