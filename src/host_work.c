/*
 * host_work.c - one host's part of a run, in a worker thread (see
 * host_work.h): the transport's sink, the preflight, the run, and how a
 * host's end is told.
 */
#define _GNU_SOURCE
#include "oneoff/host_work.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/history.h"
#include "oneoff/console.h"
#include "oneoff/host_script.h"

#define PREFLIGHT_TIMEOUT_MS 30000
/* how long an older run waits for a younger one to yield a lock */
#define LOCK_YIELD_MS 20000

/* ---- output and logs ---------------------------------------------------- */

static void emit_lines(void *ctx, enum line_stream s, const struct line *v,
                       size_t n)
{
    struct worker_host *w = ctx;

    char err[ERR_MAX];

    output_lines(&w->r->out, &w->oh, s, v, n);
    tail_add(&w->tails[s == LINE_OUT ? 0 : 1], v, n);
    events_lines(&w->r->events, w->i, s, v, n);
    if (record_log_lines(&w->log, s, v, n, err))
        output_note(&w->r->out, "%s", err);
}

static void log_note(struct worker_host *w, const char *fmt, ...)
    ONEOFF_PRINTF(2, 3);

/* A "# note" in the host's log; a failed write is said once. */
static void log_note(struct worker_host *w, const char *fmt, ...)
{
    char msg[ERR_MAX * 2], err[ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (record_log_note(&w->log, err, "%s", msg))
        output_note(&w->r->out, "%s", err);
}

static void flush_lines(struct worker_host *w)
{
    for (int s = 0; s < LINE_STREAMS; s++)
        lines_flush(&w->lines[s]);
}

/* What the set-up printed on stdout outside the report's frames: shown
 * and logged as set-up output. */
static void emit_noise(struct worker_host *w)
{
    if (w->noise.len) {
        lines_feed(&w->lines[LINE_SETUP], buf_str(&w->noise), w->noise.len);
        lines_flush(&w->lines[LINE_SETUP]);
        buf_reset(&w->noise);
    }
}

/* Keeps the first SETUP_ERR_MAX - 1 bytes the set-up wrote on stderr:
 * where the reason of a failed set-up is (setup_reason()). */
static void keep_setup_err(struct worker_host *w, const char *p, size_t n)
{
    size_t have = strlen(w->setup_err), take = SETUP_ERR_MAX - 1 - have;

    if (take > n)
        take = n;
    memcpy(w->setup_err + have, p, take);
    w->setup_err[have + take] = '\0';
    /* a NUL from the host ends the text early: harmless, it is a message */
}

/* The line that says why the set-up failed: the script's last "oneoff: "
 * line, else the first line (sudo's, the login shell's). */
static void setup_reason(const struct worker_host *w, char *out, size_t n)
{
    const char *s = w->setup_err, *best = NULL, *line;

    for (line = s; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1
                                                    : line + strlen(line))
        if (strncmp(line, "oneoff: ", 8) == 0)
            best = line + 8;
    if (best == NULL)
        best = s;
    snprintf(out, n, "%.*s", (int)strcspn(best, "\n"), best);
}

/* ---- the transport's sink ----------------------------------------------- */

static void sink_connected(void *ctx)
{
    struct worker_host *w = ctx;
    struct host_update u = HOST_UPDATE(PHASE_PREFLIGHT);

    host_transition(&w->r->tab, w->i, &u);
}

static void sink_data(void *ctx, enum transport_stream st, const char *p,
                      size_t n)
{
    struct worker_host *w = ctx;
    size_t before;
    int rc;

    if (w->in_console) {
        console_output(w->r->opts->console, p, n);
        return;
    }
    if (!w->capturing) {
        lines_feed(&w->lines[st == STREAM_ERR ? LINE_ERR : LINE_OUT], p, n);
        return;
    }
    if (st == STREAM_ERR) {
        keep_setup_err(w, p, n);
        lines_feed(&w->lines[LINE_SETUP], p, n);
        return;
    }
    before = w->noise.len;
    rc = preflight_parse(&w->pf, w->r->nonce, p, n, &w->noise, w->perr);
    /* on a terminal, stderr is stdout: the set-up's reason is noise */
    if (w->pty && w->noise.len > before)
        keep_setup_err(w, w->noise.data + before, w->noise.len - before);
    if (rc < 0) {
        w->malformed = true;
    } else if (rc == 1 && !w->ready) {
        w->ready = true;
        /* the script waits for our word: anything after the report is
         * set-up output too */
        if (w->pf.used < n &&
            buf_add(&w->noise, p + w->pf.used, n - w->pf.used) != 0) {
            /* a full noise buffer: the rest is cut, as the parser does */
        }
    }
}

static enum transport_control sink_control(void *ctx)
{
    struct worker_host *w = ctx;
    int n = atomic_load(&w->r->interrupts);

    if (w->in_console) {
        enum transport_control c = console_control(w->r->opts->console, n > 0);
        if (c != CONTROL_CONTINUE)
            w->interrupted = true;
        return c;
    }
    if (w->capturing && (w->ready || w->malformed))
        return w->malformed ? CONTROL_CLOSE : CONTROL_PAUSE;
    if (n >= 2) {
        w->interrupted = true;
        return CONTROL_CLOSE;
    }
    if (n == 1) {
        w->interrupted = true;
        return CONTROL_STOP;
    }
    if (w->deadline && clock_mono_ms() >= w->deadline) {
        w->timed_out = true;
        return CONTROL_STOP;
    }
    return CONTROL_CONTINUE;
}

/* After "go": the task's input (stdin_feed.h) or the console's keys. */
static size_t sink_feed(void *ctx, const char **p)
{
    struct worker_host *w = ctx;

    if (w->in_console)
        return console_feed(w->r->opts->console, p);
    return w->feeding ? feed_take(w->r->feed, w->i, p) : 0;
}

static void sink_fed(void *ctx, size_t k)
{
    struct worker_host *w = ctx;

    if (w->in_console)
        console_fed(w->r->opts->console, k);
    else if (w->feeding)
        feed_took(w->r->feed, w->i, k);
}

static int sink_wake_fd(void *ctx)
{
    struct worker_host *w = ctx;

    if (w->in_console)
        return console_wake_fd(w->r->opts->console);
    return w->feeding ? feed_wake_fd(w->r->feed, w->i) : -1;
}

/* ---- one host ----------------------------------------------------------- */

static enum host_outcome outcome_of(enum transport_outcome o, int exit_code)
{
    switch (o) {
    case OUTCOME_EXITED:
        return exit_code == 0 ? HOST_OK : HOST_FAILED;
    case OUTCOME_UNREACHABLE:
        return HOST_UNREACHABLE;
    case OUTCOME_AUTH:
        return HOST_AUTH;
    case OUTCOME_HOST_KEY:
        return HOST_HOST_KEY;
    default:
        return HOST_FAILED;
    }
}

/* How the task ended, as the host's final state. A task we stopped is
 * reported for why we stopped it, whatever status it died with. */
static void conclude(struct worker_host *w, const struct transport_result *res)
{
    struct host_update u = HOST_UPDATE(PHASE_DONE);
    char msg[ERR_MAX];

    u.outcome = outcome_of(res->outcome, res->exit_code);
    u.exit_code = res->exit_code;
    u.signal = res->signal[0] ? res->signal : NULL;
    u.error = res->error[0] ? res->error : NULL;
    if (w->timed_out && (u.outcome == HOST_OK || u.outcome == HOST_FAILED)) {
        char d[32];
        duration_format(w->r->opts->timeout_ms, d, sizeof(d));
        snprintf(msg, sizeof(msg), "stopped after the %s timeout", d);
        u.outcome = HOST_TIMEOUT;
        u.error = msg;
    } else if (w->interrupted && u.outcome != HOST_OK) {
        u.outcome = HOST_INTERRUPTED;
        if (!res->error[0] || res->outcome == OUTCOME_CLOSED ||
            res->outcome == OUTCOME_SIGNALED)
            u.error = "interrupted";
    } else if (res->outcome == OUTCOME_SIGNALED) {
        snprintf(msg, sizeof(msg), "killed by signal %s%s", res->signal,
                 res->core ? " (core dumped)" : "");
        u.error = msg;
    }
    host_transition(&w->r->tab, w->i, &u);
}

static void lock_holder(const struct run_shared *r, const struct worker_host *w,
                        char *out, size_t n)
{
    char since[40];

    time_format_iso(clock_wall_ms(), since, sizeof(since));
    snprintf(out, n, "run %s by %s since %s on %s", r->run_id, r->operator_name,
             since, w->ph->host->name);
}

static bool stop_before_start(struct worker_host *w)
{
    if (atomic_load(&w->r->interrupts) == 0)
        return false;
    w->interrupted = true;
    host_finish(&w->r->tab, w->i, HOST_INTERRUPTED, "not started: interrupted");
    return true;
}

/* The preflight ended without a report: why, as the host's state. */
static void preflight_failed(struct worker_host *w,
                             const struct transport_result *res)
{
    struct run_shared *r = w->r;
    enum host_outcome o = outcome_of(res->outcome, res->exit_code);

    if (w->interrupted) {
        host_finish(&r->tab, w->i, HOST_INTERRUPTED, "interrupted");
    } else if (w->timed_out) {
        host_finish(&r->tab, w->i, HOST_TIMEOUT,
                    "the preflight did not finish in time");
    } else if (o == HOST_UNREACHABLE || o == HOST_AUTH || o == HOST_HOST_KEY) {
        host_finish(&r->tab, w->i, o, "%s", res->error);
    } else if (res->outcome == OUTCOME_LOST) {
        host_finish(&r->tab, w->i, HOST_UNREACHABLE, "during the preflight: %s",
                    res->error);
    } else if (w->malformed) {
        host_finish(&r->tab, w->i, HOST_FAILED, "preflight: %s", w->perr);
    } else if (w->setup_err[0]) {
        char why[SETUP_ERR_MAX];
        setup_reason(w, why, sizeof(why));
        host_finish(&r->tab, w->i, HOST_FAILED, "preflight: %s", why);
    } else if (res->outcome == OUTCOME_ERROR && res->error[0]) {
        host_finish(&r->tab, w->i, HOST_FAILED, "%s", res->error);
    } else {
        host_finish(&r->tab, w->i, HOST_FAILED,
                    "preflight failed (exit %d) before its report",
                    res->exit_code);
    }
}

/* The history's parts that go with the command line (host_script.sh,
 * History): the start line's head, the end line's opening. */
static void history_parts(const struct worker_host *w,
                          struct plan_history *hist)
{
    const struct run_shared *r = w->r;
    const struct task *t = r->plan->task;
    struct history_start hs;

    memset(&hs, 0, sizeof(hs));
    hs.run = r->run_id;
    hs.kind = plan_kind(r->plan);
    hs.host = w->ph->host->name;
    hs.stage = r->plan->inv->stage;
    hs.task = t->adhoc ? NULL : t->name;
    hs.sha256 = r->digest;
    hs.command = t->command;
    hs.args = &r->plan->shown_args;
    hs.operator_name = r->operator_name;
    hs.email = r->opts->email;
    hs.reason = r->opts->reason;
    hs.overrides = r->opts->overrides;
    hist->start_head = history_start_head(&hs);
    hist->end_prefix = history_end_prefix(r->run_id, w->ph->host->name);
}

/* Phase 1 for one host: reach it and start the script, which reports and
 * waits; the command is left paused in w->chan. */
void host_work_preflight(struct worker_host *w)
{
    struct run_shared *r = w->r;
    size_t i = w->i;
    const struct host *host = w->ph->host;
    struct host_update u = HOST_UPDATE(PHASE_CONNECTING);
    struct transport_target tg = {host->name,         host->address,
                                  host->set.port,     host->set.user,
                                  host->set.identity, host->set.jump};
    struct transport_cmd cmd;
    struct plan_history hist;
    struct transport_result res;
    char holder[512], err[ERR_MAX], setup_err[SETUP_ERR_MAX] = "";
    char perr[ERR_MAX] = "", *input = NULL;
    int rc;
    int64_t budget = PREFLIGHT_TIMEOUT_MS +
                     (int64_t)r->plan->wait_lock_s * 1000 +
                     (r->plan->task->lock ? LOCK_YIELD_MS : 0);

    host_transition(&r->tab, i, &u);
    if (w->log.fd < 0 && record_log_open(&r->rec, &w->log, host->name, err)) {
        /* without a log, output could be lost: do not start */
        host_finish(&r->tab, i, HOST_FAILED, "%s", err);
        return;
    }
    if (stop_before_start(w))
        return;
    log_note(w, "run %s: %s%s '%s' on host '%s'", r->run_id,
             r->opts->console ? "console " : "",
             r->plan->task->adhoc ? "command" : "task", r->plan->task->name,
             host->name);
    lock_holder(r, w, holder, sizeof(holder));
    memset(&cmd, 0, sizeof(cmd));
    if (r->opts->console && r->plan->task->pty) {
        cmd.pty = w->pty = true;
        cmd.cols = r->opts->console->cols;
        cmd.rows = r->opts->console->rows;
        cmd.term = r->opts->console->term;
    }
    history_parts(w, &hist);
    cmd.command = plan_command(
        r->plan, w->ph, r->opts->mode == RUN_TASK ? SCRIPT_RUN : SCRIPT_CHECK,
        r->nonce, r->run_id, holder, &hist, &input);
    cmd.input = input;
    free((char *)hist.start_head);
    free((char *)hist.end_prefix);
    w->capturing = true;
    w->setup_err = setup_err;
    w->perr = perr;
    w->deadline = clock_mono_ms() + budget;
    rc = transport_open(w->tp, &tg, &cmd, &w->sink, &w->chan, &res);
    free((char *)cmd.command); /* sent: not kept for the whole run */
    free(input);
    if (rc == 0 && tchan_pump(w->chan, &res) == 1) {
        tchan_free(w->chan); /* ended before its report */
        w->chan = NULL;
    }
    w->deadline = 0;
    w->capturing = false;
    flush_lines(w);
    emit_noise(w);
    buf_release(&w->noise);
    if (w->chan == NULL || !w->ready) {
        tchan_free(w->chan);
        w->chan = NULL;
        preflight_failed(w, &res);
    }
    w->setup_err = w->perr = NULL;
    if (w->chan == NULL)
        return;
    w->task_state = r->plan->task->adhoc
                        ? TASK_STATE_NONE
                        : preflight_task_state(&w->pf, r->plan->task->sha256);
    log_note(w, "preflight: release %s, revision %s%s%s", w->pf.release,
             w->pf.revision[0] ? w->pf.revision : "-",
             w->task_state ? ", task file in release: " : "",
             w->task_state ? task_state_name(w->task_state) : "");
    u = (struct host_update)HOST_UPDATE(PHASE_READY);
    u.pf = &w->pf;
    u.task_state = w->task_state;
    host_transition(&r->tab, i, &u);
}

static bool count_failure(struct run_shared *r)
{
    bool stop;

    pthread_mutex_lock(&r->fail_lock);
    if (++r->failures >= r->max_fail)
        r->stop_starting = true;
    stop = r->stop_starting;
    pthread_mutex_unlock(&r->fail_lock);
    return stop;
}

/* "go" and the two lines the script reads after it (host_script.sh,
 * History): the start line's tail (the release and revision this host
 * reported, the time) and the client's clock. Short: a shell reads its
 * standard input a byte at a time. Caller frees. */
static char *go_message(const struct worker_host *w)
{
    int64_t now = clock_wall_ms();
    char *tail, *msg;

    tail =
        history_start_tail(preflight_release_id(&w->pf), w->pf.revision, now);
    msg = xasprintf("go\n%s\n%lld\n", tail, (long long)now);
    free(tail);
    return msg;
}

/* Phase 2 of a console: the terminal's session, then its transcript to the
 * host over the same connection (console.h). */
static void console_session(struct worker_host *w, struct transport_result *res)
{
    struct run_shared *r = w->r;
    struct console *con = r->opts->console;
    char *path = xasprintf("%s/%s.cast", r->rec.dir, w->ph->host->name);
    char *go;
    char err[ERR_MAX];

    transport_result_init(res);
    if (console_begin(con, w->chan, path, err)) {
        res->outcome = OUTCOME_ERROR;
        snprintf(res->error, sizeof(res->error), "%s", err);
        free(path);
        return;
    }
    w->in_console = true;
    go = go_message(w);
    if (tchan_write(w->chan, go, strlen(go)) == 0) {
        while (!tchan_pump(w->chan, res))
            ;
    } else {
        res->outcome = OUTCOME_LOST;
        snprintf(res->error, sizeof(res->error),
                 "connection lost before the console started");
    }
    free(go);
    w->in_console = false;
    if (console_end(con, res, err))
        output_note(&r->out, "%s", err);
    log_note(w, "console transcript: %s", path);
    if (res->outcome == OUTCOME_EXITED || res->outcome == OUTCOME_SIGNALED) {
        char *line = script_copy_line(w->ph->host->set.app_dir, w->ph->become,
                                      r->run_id);
        if (console_copy(con, w->chan, path, line, err))
            output_note(&r->out, "%s: the transcript was not copied: %s",
                        w->ph->host->name, err);
        else
            log_note(w, "transcript copied to shared/.oneoff/consoles/%s.cast",
                     r->run_id);
        free(line);
    }
    free(path);
}

/* Phase 2 for one host: "go" to the paused script. */
void host_work_run(struct worker_host *w)
{
    struct run_shared *r = w->r;
    size_t i = w->i;
    struct host_update u = HOST_UPDATE(PHASE_RUNNING);
    struct transport_result res;
    bool stop;
    size_t failures;
    uint64_t gen;
    char *go = NULL;

    pthread_mutex_lock(&r->fail_lock);
    stop = r->stop_starting;
    failures = r->failures;
    pthread_mutex_unlock(&r->fail_lock);
    if (stop_before_start(w))
        goto out;
    if (stop) {
        host_finish(&r->tab, i, HOST_SKIPPED,
                    "not started: %zu host(s) failed (max_fail %s)", failures,
                    r->opts->max_fail);
        goto out;
    }
    /* the record says "running" before the task can run (the runner may
     * have recorded it already, with the hosts starting at once) */
    if (!w->running_recorded) {
        gen = host_transition(&r->tab, i, &u);
        host_table_wait_written(&r->tab, gen, RECORD_WAIT_MS);
    }
    if (r->opts->console) {
        console_session(w, &res);
        goto end;
    }
    if (r->opts->timeout_ms > 0)
        w->deadline = clock_mono_ms() + r->opts->timeout_ms;
    go = go_message(w);
    if (tchan_write(w->chan, go, strlen(go)) == 0) {
        if (r->feed) {
            feed_host_start(r->feed, i);
            w->feeding = true;
        }
        while (!tchan_pump(w->chan, &res))
            ;
        w->feeding = false;
    } else {
        transport_result_init(&res);
        res.outcome = OUTCOME_LOST;
        snprintf(res.error, sizeof(res.error),
                 "connection lost before the task started");
    }
end:
    tchan_free(w->chan);
    w->chan = NULL;
    flush_lines(w);
    conclude(w, &res);
    if (!(res.outcome == OUTCOME_EXITED && res.exit_code == 0))
        count_failure(r);
out:
    free(go);
    if (r->feed)
        feed_host_done(r->feed, i);
    output_host_done(&r->out, &w->oh);
    record_log_idle(&w->log);
}

void host_work_record_wave(struct run_shared *r, struct worker_host *w,
                           const size_t *items, size_t n)
{
    unsigned par = r->opts->parallel;
    size_t now = par && par < n ? par : n;
    struct host_update u = HOST_UPDATE(PHASE_RUNNING);
    uint64_t gen = 0;
    bool stop;

    pthread_mutex_lock(&r->fail_lock);
    stop = r->stop_starting;
    pthread_mutex_unlock(&r->fail_lock);
    if (stop || atomic_load(&r->interrupts) > 0 || r->opts->console || now < 2)
        return;
    for (size_t k = 0; k < now; k++) {
        gen = host_transition(&r->tab, items[k], &u);
        w[items[k]].running_recorded = true;
    }
    host_table_wait_written(&r->tab, gen, RECORD_WAIT_MS);
}

void host_work_log_end(struct worker_host *w, const struct host_state *s)
{
    char how[64] = "";

    if (s->signal[0])
        snprintf(how, sizeof(how), ", signal %s", s->signal);
    else if (s->exit_code >= 0)
        snprintf(how, sizeof(how), ", exit %d", s->exit_code);
    char err[ERR_MAX];

    log_note(w, "%s%s%s%s", host_state_status(s), how,
             s->error && s->error[0] ? ": " : "", s->error ? s->error : "");
    if (record_log_close(&w->log, err))
        output_note(&w->r->out, "%s", err);
}

void worker_host_init(struct worker_host *w, struct run_shared *r, size_t i)
{
    w->r = r;
    w->i = i;
    w->ph = &r->plan->hosts[i];
    w->tp = r->opts->transports[i];
    record_log_init(&w->log);
    w->sink.ctx = w;
    w->sink.connected = sink_connected;
    w->sink.data = sink_data;
    w->sink.control = sink_control;
    if (r->plan->input || r->opts->console) {
        w->sink.feed = sink_feed;
        w->sink.fed = sink_fed;
        w->sink.wake_fd = sink_wake_fd;
    }
    for (int s = 0; s < LINE_STREAMS; s++)
        lines_init(&w->lines[s], (enum line_stream)s, emit_lines, w);
    buf_init(&w->noise, CAPTURE_MAX);
    tail_init(&w->tails[0]);
    tail_init(&w->tails[1]);
    output_host_init(&r->out, &w->oh, w->ph->host->name, i);
}

void worker_host_restart(struct worker_host *w)
{
    tchan_free(w->chan); /* the script sees EOF: its locks are free */
    w->chan = NULL;
    preflight_release(&w->pf);
    buf_reset(&w->noise);
    w->ready = w->malformed = false;
    w->task_state = TASK_STATE_NONE;
    w->deadline = 0;
    w->timed_out = false;
}

void worker_host_release(struct worker_host *w)
{
    tchan_free(w->chan);
    w->chan = NULL;
    record_log_release(&w->log);
    for (int s = 0; s < LINE_STREAMS; s++)
        lines_release(&w->lines[s]);
    buf_release(&w->noise);
    preflight_release(&w->pf);
    output_host_release(&w->oh);
    tail_release(&w->tails[0]);
    tail_release(&w->tails[1]);
    free(w->log_path);
    w->log_path = NULL;
}
