/*
 * runner.c - runs a plan on its hosts.
 *
 * Theory of operation
 *
 * Phases. A run has two phases over the same SSH sessions. The preflight
 * connects to every selected host, checks its host key, authenticates, and
 * runs the preflight script: the task's own set-up (app_dir, env files,
 * release, as the same user) that reports the resolved release, its
 * revision, the digest of the release's copy of the task file and whether
 * the task's lock is free, and runs nothing. The sessions stay open. Then
 * the main thread decides: if the hosts disagree on the release or
 * revision, if the release's task file differs from ours, if a lock is
 * held, or if the set-up failed anywhere, nothing runs anywhere. Otherwise
 * the run phase executes the task on each host in the release directory
 * the preflight resolved (an absolute path), so a deploy that switches
 * `current` mid-run cannot split the run across two releases. Hosts that
 * could not be reached do not stop the others.
 *
 * Threads. Each phase (and each batch of a rolling run) is a pool of
 * min(--parallel, hosts) worker threads pulling the next host from a
 * shared index. A worker owns its host while it works on it; a session is
 * handed from one phase's worker to the next phase's under the runner lock,
 * so no libssh session is ever used by two threads at once. The main
 * thread waits, watches for Ctrl-C and prints the summary.
 *
 * Lines. Chunks are split into lines here, once, and each batch of whole
 * lines goes to the output (escaped, prefixed, one write) and to the host's
 * log (raw, timestamped, one write). A partial line waits for its newline;
 * one longer than LINE_MAX is split into fragments rather than dropped; the
 * last output without a newline is flushed when the host ends.
 *
 * Deadlines and Ctrl-C. The transport polls control() at least every
 * 100 ms. The command deadline (task timeout or --timeout) starts when the
 * command starts. The first SIGINT/SIGTERM asks every running host to stop
 * its remote work (TERM to the task's process group plus EOF for the
 * remote watchdog) and wait for it to end; hosts not started are not
 * started. The second asks every host to close at once; if workers are
 * still stuck in a blocking connect 3 s later, the record is written and
 * the process exits: the remote watchdogs stop the tasks when the
 * connections drop.
 *
 * Rolling runs. With --batch the ready hosts run in batches, each started
 * when the previous one has finished; once --max-fail hosts have failed no
 * new host starts, and the hosts never started are reported as skipped.
 *
 * Records. State changes are made under the runner lock; run.json is
 * rewritten from the hosts' state at most every 250 ms while running, and
 * once at the end. Host logs are written as lines arrive.
 */
#define _GNU_SOURCE
#include "oneoff/runner.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "oneoff/exit_codes.h"
#include "oneoff/preflight.h"
#include "oneoff/record.h"
#include "oneoff/host_script.h"

#define LINE_MAX_BYTES (64u << 10)
#define BATCH_LINES 2048
#define RECORD_EVERY_MS 250
#define STACK_SIZE (512u << 10)
#define ABANDON_AFTER_MS 3000
#define CAPTURE_MAX (64u << 10)
#define PREFLIGHT_TIMEOUT_MS 30000

static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
    (void)sig;
    if (interrupts < 100)
        interrupts++;
}

enum host_state {
    HS_PENDING,
    HS_CONNECTING,
    HS_READY,
    HS_RUNNING,
    HS_OK,
    HS_FAILED,
    HS_UNREACHABLE,
    HS_AUTH,
    HS_HOST_KEY,
    HS_TIMEOUT,
    HS_INTERRUPTED,
    HS_REFUSED,
    HS_SKIPPED,
};

static const char *const state_names[] = {
    "pending",     "connecting",  "ready",  "running",  "ok",
    "failed",      "unreachable", "auth",   "host-key", "timeout",
    "interrupted", "refused",     "skipped"};

struct runner;

struct host_run {
    struct runner *r;
    const struct plan_host *ph;
    enum host_state state;
    int exit_code;
    char signal[32];
    int64_t started_ms, connected_ms, finished_ms; /* wall */
    int64_t deadline_mono;                         /* 0: none */
    bool timed_out, interrupted;
    char error[ERR_MAX];
    char *log_path;
    int log_fd;
    struct buf partial[2];
    struct output_host oh;
    /* preflight */
    struct ssh_conn *conn;
    struct ssh_chan *chan; /* the task's channel, paused after its report */
    char nonce[SCRIPT_NONCE_LEN + 1];
    bool capturing;        /* the script's report: parsed, not shown */
    struct preflight *cur; /* the report being read: &pf, or &run_pf */
    int pf_rc;             /* preflight_parse(): 0 more, 1 ready, -1 bad */
    char pf_err[ERR_MAX];
    struct preflight run_pf; /* a local host's run script reports again */
    struct buf noise;        /* stdout outside the report's frames */
    struct buf capture[2];
    struct buf log_scratch;
    struct transport_sink sink; /* outlives a paused channel */
    struct preflight pf;
    bool pf_ok;
    const char *task_state;
};

struct runner {
    const struct plan *plan;
    const struct runner_opts *opts;
    struct host_run *hosts;
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* the current pool */
    size_t *todo;
    size_t ntodo, next, done;
    void (*work)(struct runner *, struct host_run *);
    bool stop_starting; /* max_fail reached */
    size_t failures;
    size_t max_fail;
    struct output out;
    struct record rec;
    struct record_run run;
    char run_id[64];
    char operator_name[64];
    char started_iso[40];
    char refused[ERR_MAX];
    int refused_code;
    int seen_interrupts;
    int64_t last_write;
};

struct batch {
    struct line v[BATCH_LINES];
    size_t n;
};

static void batch_flush(struct host_run *h, int s, struct batch *b)
{
    if (b->n == 0)
        return;
    output_lines(&h->r->out, &h->oh, s, b->v, b->n);
    record_log_lines(h->log_fd, s, b->v, b->n, &h->log_scratch);
    b->n = 0;
}

static void batch_add(struct host_run *h, int s, struct batch *b, const char *p,
                      size_t n, bool eol)
{
    if (b->n == BATCH_LINES)
        batch_flush(h, s, b);
    b->v[b->n].p = p;
    b->v[b->n].n = n;
    b->v[b->n].eol = eol;
    b->n++;
}

/* Emits the partial line of stream s on its own (it lives in a buffer that
 * is about to change, so the batch is flushed around it). */
static void partial_emit(struct host_run *h, int s, struct batch *b, bool eol)
{
    struct buf *part = &h->partial[s];

    batch_flush(h, s, b);
    batch_add(h, s, b, buf_str(part), part->len, eol);
    batch_flush(h, s, b);
    buf_reset(part);
}

static void partial_append(struct host_run *h, int s, struct batch *b,
                           const char *p, size_t n)
{
    struct buf *part = &h->partial[s];

    while (n > 0) {
        size_t take;
        if (part->len == LINE_MAX_BYTES)
            partial_emit(h, s, b, false);
        take = LINE_MAX_BYTES - part->len;
        if (take > n)
            take = n;
        buf_add(part, p, take);
        p += take;
        n -= take;
    }
}

static void sink_data(void *ctx, enum transport_stream st, const char *p,
                      size_t n)
{
    struct host_run *h = ctx;
    int s = st == STREAM_ERR;
    struct batch b;
    size_t off = 0;

    if (h->capturing) {
        /* the script's report: parsed; its stderr kept (bounded) */
        if (s == 1 || h->pf_rc != 0) {
            buf_add(&h->capture[s], p, n);
            return;
        }
        h->pf_rc =
            preflight_parse(h->cur, h->nonce, p, n, &h->noise, h->pf_err);
        if (h->pf_rc != 1 || h->cur != &h->run_pf)
            return;
        /* a local host's run: what follows the report is the task's */
        h->capturing = false;
        off = h->cur->used;
    }
    b.n = 0;
    while (off < n) {
        const char *nl = memchr(p + off, '\n', n - off);
        size_t seg;
        if (nl == NULL) {
            partial_append(h, s, &b, p + off, n - off);
            break;
        }
        seg = (size_t)(nl - (p + off));
        if (h->partial[s].len == 0 && seg <= LINE_MAX_BYTES) {
            batch_add(h, s, &b, p + off, seg, true);
        } else {
            batch_flush(h, s, &b);
            partial_append(h, s, &b, p + off, seg);
            partial_emit(h, s, &b, true);
        }
        off += seg + 1;
    }
    batch_flush(h, s, &b);
}

static void record_touch(struct runner *r, bool force);

static void set_state(struct host_run *h, enum host_state st)
{
    pthread_mutex_lock(&h->r->lock);
    h->state = st;
    if (st == HS_RUNNING && h->connected_ms == 0)
        h->connected_ms = clock_wall_ms();
    pthread_mutex_unlock(&h->r->lock);
    record_touch(h->r, false);
}

static void sink_started(void *ctx)
{
    struct host_run *h = ctx;
    int64_t t = h->r->opts->timeout_ms;

    if (h->capturing && h->cur != &h->run_pf)
        return;
    if (t > 0)
        h->deadline_mono = clock_mono_ms() + t;
    set_state(h, HS_RUNNING);
}

static enum transport_control sink_control(void *ctx)
{
    struct host_run *h = ctx;
    int n = interrupts;

    if (h->capturing && h->pf_rc != 0)
        return h->ph->host->set.transport == TRANSPORT_LOCAL ? CONTROL_STOP
                                                             : CONTROL_PAUSE;
    if (n >= 2) {
        h->interrupted = true;
        return CONTROL_CLOSE;
    }
    if (n == 1) {
        h->interrupted = true;
        return CONTROL_STOP;
    }
    if (h->deadline_mono && clock_mono_ms() >= h->deadline_mono) {
        h->timed_out = true;
        return CONTROL_STOP;
    }
    return CONTROL_CONTINUE;
}

static void fill_record_host(const struct host_run *h, struct record_host *rh)
{
    const struct host *host = h->ph->host;

    memset(rh, 0, sizeof(*rh));
    rh->name = host->name;
    rh->address = host->address ? host->address : host->name;
    rh->port = host->set.port;
    rh->user = host->set.user;
    rh->status = state_names[h->state];
    rh->exit_code = h->exit_code;
    rh->signal = h->signal[0] ? h->signal : NULL;
    rh->started_ms = h->started_ms;
    rh->connected_ms = h->connected_ms;
    rh->finished_ms = h->finished_ms;
    rh->log_path = h->log_path;
    rh->error = h->error[0] ? h->error : NULL;
    rh->release = h->pf.release;
    rh->revision = h->pf.release ? h->pf.revision : NULL;
    rh->task_in_release = h->task_state;
}

static void record_touch(struct runner *r, bool force)
{
    struct record_host *rows;
    char err[ERR_MAX];
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&r->lock);
    if (!force && now - r->last_write < RECORD_EVERY_MS) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    r->last_write = now;
    rows = xcalloc(r->n, sizeof(*rows));
    for (size_t i = 0; i < r->n; i++)
        fill_record_host(&r->hosts[i], &rows[i]);
    if (record_write(&r->rec, &r->run, rows, r->n, err))
        output_note(&r->out, "%s", err);
    pthread_mutex_unlock(&r->lock);
    free(rows);
}

static int record_write_now(struct runner *r, char *err)
{
    struct record_host *rows = xcalloc(r->n, sizeof(*rows));
    int rc;

    for (size_t i = 0; i < r->n; i++)
        fill_record_host(&r->hosts[i], &rows[i]);
    rc = record_write(&r->rec, &r->run, rows, r->n, err);
    free(rows);
    return rc;
}

static void finish_host(struct host_run *h, enum host_state st, const char *fmt,
                        ...) ONEOFF_PRINTF(3, 4);

/* Final state of a host, with an optional reason. */
static void finish_host(struct host_run *h, enum host_state st, const char *fmt,
                        ...)
{
    va_list ap;

    pthread_mutex_lock(&h->r->lock);
    h->state = st;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(h->error, sizeof(h->error), fmt, ap);
        va_end(ap);
    }
    if (h->finished_ms == 0)
        h->finished_ms = clock_wall_ms();
    pthread_mutex_unlock(&h->r->lock);
}

/* Maps how the transport ended to the host's final state. */
static enum host_state conclude(struct host_run *h,
                                const struct transport_result *res)
{
    enum host_state st;

    h->exit_code = res->exit_code;
    snprintf(h->signal, sizeof(h->signal), "%s", res->signal);
    switch (res->outcome) {
    case OUTCOME_EXITED:
        st = res->exit_code == 0 ? HS_OK : HS_FAILED;
        break;
    case OUTCOME_UNREACHABLE:
        st = HS_UNREACHABLE;
        break;
    case OUTCOME_AUTH:
        st = HS_AUTH;
        break;
    case OUTCOME_HOST_KEY:
        st = HS_HOST_KEY;
        break;
    default:
        st = HS_FAILED;
        break;
    }
    if (res->error[0])
        snprintf(h->error, sizeof(h->error), "%s", res->error);
    /* A task we stopped is reported for why we stopped it, whatever status
     * it died with. */
    if (h->timed_out && (st == HS_OK || st == HS_FAILED)) {
        char d[32];
        duration_format(h->r->opts->timeout_ms, d, sizeof(d));
        st = HS_TIMEOUT;
        snprintf(h->error, sizeof(h->error), "stopped after the %s timeout", d);
    } else if (h->interrupted && st != HS_OK) {
        st = HS_INTERRUPTED;
        if (!h->error[0] || res->outcome == OUTCOME_CLOSED ||
            res->outcome == OUTCOME_SIGNALED)
            snprintf(h->error, sizeof(h->error), "interrupted");
    }
    return st;
}

static void flush_partials(struct host_run *h)
{
    for (int s = 0; s < 2; s++) {
        struct batch b;
        b.n = 0;
        if (h->partial[s].len)
            partial_emit(h, s, &b, false);
    }
}

static void host_log_end(struct host_run *h)
{
    char how[64] = "";

    if (h->signal[0])
        snprintf(how, sizeof(how), ", signal %s", h->signal);
    else if (h->exit_code >= 0)
        snprintf(how, sizeof(how), ", exit %d", h->exit_code);
    record_log_note(h->log_fd, "%s%s%s%s", state_names[h->state], how,
                    h->error[0] ? ": " : "", h->error);
}

static void exec_on(struct host_run *h, const char *command,
                    struct transport_result *res)
{
    if (h->ph->host->set.transport == TRANSPORT_LOCAL)
        local_transport_run(command, &h->sink, res);
    else
        ssh_conn_exec(h->conn, command, &h->sink, res);
}

/* What the preflight wrote on stderr, for the message: the script's own
 * last "oneoff: " line (an env file may have printed before it), else the
 * first line (sudo's, the shell's). */
static const char *first_line(struct buf *b, char *out, size_t n)
{
    const char *s = buf_str(b), *ours = NULL;
    size_t len;

    for (const char *l = s; *l; l += strcspn(l, "\n"), l += *l == '\n')
        if (strncmp(l, "oneoff: ", 8) == 0)
            ours = l;
    if (ours)
        s = ours;
    len = strcspn(s, "\n");

    if (len >= n)
        len = n - 1;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static void lock_holder(const struct runner *r, const struct host_run *h,
                        char *out, size_t n)
{
    char since[40];

    time_format_iso(clock_wall_ms(), since, sizeof(since));
    snprintf(out, n, "run %s by %s since %s on %s", r->run_id, r->operator_name,
             since, h->ph->host->name);
}

/* Phase 1 for one host: connect, authenticate, run the preflight. */
static void preflight_host(struct runner *r, struct host_run *h)
{
    const struct host *host = h->ph->host;
    struct transport_result res;
    char err[ERR_MAX], line[ERR_MAX / 2], holder[512];
    char *cmd;

    pthread_mutex_lock(&r->lock);
    h->started_ms = clock_wall_ms();
    h->state = HS_CONNECTING;
    pthread_mutex_unlock(&r->lock);
    h->log_fd = record_host_log_open(&r->rec, host->name, &h->log_path, err);
    if (h->log_fd < 0) {
        /* Without a log, output could be lost: do not start. */
        finish_host(h, HS_FAILED, "%s", err);
        return;
    }
    if (interrupts) {
        h->interrupted = true;
        finish_host(h, HS_INTERRUPTED, "not started: interrupted");
        return;
    }
    record_log_note(h->log_fd, "run %s: %s '%s' on host '%s'", r->run_id,
                    r->plan->task->sha256[0] ? "task" : "command",
                    r->plan->task->name, host->name);
    if (host->set.transport == TRANSPORT_SSH) {
        struct ssh_target tg = {host->name, host->address, host->set.port,
                                host->set.user, host->set.identity};
        ssh_transport_connect(r->opts->ssh, &tg, &h->conn, &res);
        if (h->conn == NULL) {
            finish_host(h, conclude(h, &res), NULL);
            return;
        }
    }
    if (interrupts) {
        h->interrupted = true;
        finish_host(h, HS_INTERRUPTED, "not started: interrupted");
        return;
    }
    h->connected_ms = clock_wall_ms();
    if (script_nonce_new(h->nonce, err)) {
        finish_host(h, HS_FAILED, "%s", err);
        return;
    }
    h->capturing = true;
    h->cur = &h->pf;
    h->pf_rc = 0;
    h->deadline_mono = clock_mono_ms() + PREFLIGHT_TIMEOUT_MS +
                       (int64_t)r->plan->wait_lock_s * 1000;
    lock_holder(r, h, holder, sizeof(holder));
    if (h->conn) {
        /* one channel: the script reports, then waits for the word (run)
         * or for EOF (check) */
        cmd =
            plan_command(r->plan, h->ph,
                         r->opts->mode == RUN_TASK ? SCRIPT_RUN : SCRIPT_CHECK,
                         h->nonce, r->run_id, holder);
        if (ssh_chan_open(h->conn, cmd, &h->sink, &h->chan, &res) == 0 &&
            ssh_chan_pump(h->chan, &res) == 1) {
            ssh_chan_free(h->chan); /* ended before its report */
            h->chan = NULL;
        }
        if (h->chan && r->opts->mode != RUN_TASK) {
            ssh_chan_free(h->chan); /* EOF: the check script exits */
            h->chan = NULL;
        }
    } else {
        /* a local host cannot be told "go" later (its transport only
         * runs a command to its end): check now, run a second script */
        cmd = plan_command(r->plan, h->ph, SCRIPT_CHECK, h->nonce, r->run_id,
                           holder);
        exec_on(h, cmd, &res);
    }
    h->deadline_mono = 0;
    h->capturing = false;
    free(cmd);
    if (h->pf_rc == 1) {
        /* reported (and paused, or told EOF): as if the preflight exited 0 */
        res.outcome = OUTCOME_EXITED;
        res.exit_code = 0;
    } else if (h->pf_rc < 0 && !h->timed_out) {
        finish_host(h, HS_FAILED, "preflight: %s", h->pf_err);
        return;
    }
    if (h->timed_out) {
        h->timed_out = false;
        finish_host(h, HS_TIMEOUT,
                    "the preflight did not finish within "
                    "%ds",
                    PREFLIGHT_TIMEOUT_MS / 1000);
        return;
    }
    if (res.outcome != OUTCOME_EXITED || res.exit_code != 0) {
        enum host_state st = conclude(h, &res);
        if (st == HS_INTERRUPTED || st == HS_TIMEOUT) {
            finish_host(h, st, NULL);
            return;
        }
        if (res.outcome == OUTCOME_LOST) {
            finish_host(h, HS_UNREACHABLE, "during the preflight: %s",
                        res.error);
            return;
        }
        if (h->capture[1].len)
            snprintf(h->error, sizeof(h->error), "preflight: %s",
                     first_line(&h->capture[1], line, sizeof(line)));
        else if (!h->error[0])
            snprintf(h->error, sizeof(h->error), "preflight failed");
        finish_host(h, HS_FAILED, NULL);
        return;
    }
    h->task_state =
        task_state_name(preflight_task_state(&h->pf, r->plan->task->sha256));
    record_log_note(h->log_fd, "preflight: release %s, revision %s%s%s",
                    h->pf.release, h->pf.revision[0] ? h->pf.revision : "-",
                    h->task_state ? ", task file in release: " : "",
                    h->task_state ? h->task_state : "");
    h->exit_code = -1;
    h->pf_ok = true;
    set_state(h, HS_READY);
}

/* A local host: its preflight was a check script of its own, so the run
 * script enters the release the preflight resolved (by its absolute path),
 * reports again (read, not shown) and is told "go" on its stdin as it
 * starts; if its lock was taken in between, it refuses to start. */
static enum host_state run_local(struct runner *r, struct host_run *h)
{
    struct transport_result res;
    struct plan_host pinned = *h->ph;
    char holder[512];
    char *cmd;

    pinned.release = h->pf.release;
    lock_holder(r, h, holder, sizeof(holder));
    cmd =
        plan_command(r->plan, &pinned, SCRIPT_RUN, h->nonce, r->run_id, holder);
    h->cur = &h->run_pf;
    h->pf_rc = 0;
    buf_reset(&h->capture[1]);
    h->capturing = true;
    local_transport_run_input(cmd, "go\n", &h->sink, &res);
    h->capturing = false;
    free(cmd);
    flush_partials(h);
    if (h->pf_rc == 1 && h->run_pf.lock_held)
        snprintf(h->error, sizeof(h->error),
                 "the task's lock was taken by %s after the preflight; the "
                 "task did not start",
                 h->run_pf.lock_holder[0] ? h->run_pf.lock_holder
                                          : "another run");
    else if (h->pf_rc != 1 && h->capture[1].len)
        first_line(&h->capture[1], h->error, sizeof(h->error));
    return conclude(h, &res);
}

/* Phase 2 for one host: the task, in the release the preflight resolved. */
static void run_host(struct runner *r, struct host_run *h)
{
    struct transport_result res;
    enum host_state st;
    bool stop;

    pthread_mutex_lock(&r->lock);
    stop = r->stop_starting;
    pthread_mutex_unlock(&r->lock);
    if (interrupts) {
        h->interrupted = true;
        finish_host(h, HS_INTERRUPTED, "not started: interrupted");
        goto out;
    }
    if (stop) {
        finish_host(h, HS_SKIPPED,
                    "not started: %zu host(s) failed "
                    "(max_fail %s)",
                    r->failures, r->opts->max_fail);
        goto out;
    }
    if (h->chan) {
        /* the paused task: tell it to go on, in the release it reported */
        sink_started(h);
        if (ssh_chan_write(h->chan, "go\n", 3) == 0) {
            while (!ssh_chan_pump(h->chan, &res))
                ;
        } else {
            memset(&res, 0, sizeof(res));
            res.outcome = OUTCOME_LOST;
            res.exit_code = -1;
            snprintf(res.error, sizeof(res.error),
                     "connection lost before the task started");
        }
        ssh_chan_free(h->chan);
        h->chan = NULL;
        flush_partials(h);
        st = conclude(h, &res);
        goto done;
    }
    st = run_local(r, h);
done:
    finish_host(h, st, NULL);
    if (st != HS_OK) {
        pthread_mutex_lock(&r->lock);
        if (++r->failures >= r->max_fail)
            r->stop_starting = true;
        pthread_mutex_unlock(&r->lock);
    }
out:
    output_host_done(&r->out, &h->oh);
}

static void *worker(void *arg)
{
    struct runner *r = arg;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&r->lock);
        if (r->next >= r->ntodo) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        i = r->todo[r->next++];
        pthread_mutex_unlock(&r->lock);
        r->work(r, &r->hosts[i]);
        record_touch(r, false);
        pthread_mutex_lock(&r->lock);
        r->done++;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
    }
}

/* Room for a socket, an agent socket and a log per host, as sessions stay
 * open between the phases. */
static void raise_fd_limit(size_t hosts)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)hosts * 3 + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Waits for the pool, reporting the first and second Ctrl-C. Returns false
 * when workers had to be abandoned after a second Ctrl-C. */
static bool wait_pool(struct runner *r)
{
    int64_t abandon_at = 0;

    pthread_mutex_lock(&r->lock);
    while (r->done < r->ntodo) {
        struct timespec ts;
        int n = interrupts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        if (n > r->seen_interrupts) {
            int seen = r->seen_interrupts;
            pthread_mutex_unlock(&r->lock);
            if (seen == 0)
                output_note(&r->out, "interrupted: stopping the remote tasks "
                                     "(Ctrl-C again to close at once)");
            if (n >= 2 && seen < 2)
                output_note(&r->out, "closing every connection now");
            r->seen_interrupts = n;
            pthread_mutex_lock(&r->lock);
        }
        if (n >= 2 && abandon_at == 0)
            abandon_at = clock_mono_ms() + ABANDON_AFTER_MS;
        if (abandon_at && clock_mono_ms() >= abandon_at) {
            pthread_mutex_unlock(&r->lock);
            return false;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return true;
}

/* Runs work on the hosts todo[0..n) with min(parallel, n) threads. */
static bool run_pool(struct runner *r, size_t *todo, size_t n,
                     void (*work)(struct runner *, struct host_run *))
{
    pthread_t *threads;
    pthread_attr_t attr;
    size_t nthreads, started = 0;
    bool joined;

    if (n == 0)
        return true;
    r->todo = todo;
    r->ntodo = n;
    r->next = 0;
    r->done = 0;
    r->work = work;
    nthreads = r->opts->parallel < n ? r->opts->parallel : n;
    threads = xcalloc(nthreads, sizeof(*threads));
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    for (size_t i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i], &attr, worker, r) != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    if (started == 0)
        worker(r);
    joined = wait_pool(r);
    if (joined)
        for (size_t i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    free(threads);
    return joined;
}

/* After the preflight: may every ready host go on? Sets r->refused. */
static void decide(struct runner *r)
{
    const struct host_run *first = NULL;
    struct buf why = BUF_INIT(1u << 20);
    bool drift = false, task_drift = false, locked = false, broken = false;

    for (size_t i = 0; i < r->n; i++) {
        const struct host_run *h = &r->hosts[i];
        if (h->state == HS_FAILED)
            broken = true;
        if (!h->pf_ok)
            continue;
        if (first == NULL)
            first = h;
        else if (strcmp(preflight_release_id(&h->pf),
                        preflight_release_id(&first->pf)) ||
                 strcmp(h->pf.revision, first->pf.revision))
            drift = true;
        if (h->task_state && strcmp(h->task_state, "differs") == 0)
            task_drift = true;
        if (h->pf.lock_held)
            locked = true;
    }
    if (r->opts->mode == RUN_CHECK) {
        /* check: every host reports for itself; a held lock is a finding */
        for (size_t i = 0; i < r->n; i++) {
            struct host_run *h = &r->hosts[i];
            if (h->state == HS_READY && h->pf.nheld) {
                finish_host(h, HS_REFUSED, "lock held: %s: %s",
                            h->pf.held[0].name, h->pf.held[0].holder);
                r->refused_code = EXIT_REFUSED;
            } else if (h->state == HS_READY && h->pf.lock_held) {
                finish_host(h, HS_REFUSED, "lock held: %s", h->pf.lock_holder);
                r->refused_code = EXIT_REFUSED;
            }
        }
        if (drift)
            output_note(&r->out, "the hosts disagree on the release");
        if (drift || broken)
            r->refused_code = drift ? EXIT_REFUSED : EXIT_USAGE;
        buf_release(&why);
        return;
    }
    if (broken) {
        r->refused_code = EXIT_USAGE;
        snprintf(r->refused, sizeof(r->refused),
                 "the preflight failed on some host; nothing was run");
    } else if (drift) {
        r->refused_code = EXIT_REFUSED;
        snprintf(r->refused, sizeof(r->refused),
                 "the hosts disagree on the release; nothing was run");
        buf_adds(&why, "hosts disagree on the release (a deploy in progress, "
                       "or a host left behind); nothing was run:\n");
        for (size_t i = 0; i < r->n; i++) {
            const struct host_run *h = &r->hosts[i];
            if (h->pf_ok)
                buf_addf(&why, "  %-*s  %s  %s\n", r->out.width,
                         h->ph->host->name, preflight_release_id(&h->pf),
                         h->pf.revision[0] ? h->pf.revision : "-");
        }
    } else if (task_drift && !r->opts->allow_drift) {
        r->refused_code = EXIT_REFUSED;
        snprintf(r->refused, sizeof(r->refused),
                 "the release's copy of %s differs from this one; nothing "
                 "was run (--allow-drift to run it anyway)",
                 r->plan->task->path);
        buf_addf(&why,
                 "%s differs from the deployed release's copy; nothing "
                 "was run (--allow-drift runs it anyway):\n  here      "
                 "%s\n",
                 r->plan->task->path, r->plan->task->sha256);
        for (size_t i = 0; i < r->n; i++) {
            const struct host_run *h = &r->hosts[i];
            if (h->task_state && strcmp(h->task_state, "differs") == 0)
                buf_addf(&why, "  %-8s  %s\n", h->ph->host->name,
                         h->pf.task_sha256);
        }
    } else if (locked) {
        r->refused_code = EXIT_REFUSED;
        for (size_t i = 0; i < r->n; i++) {
            const struct host_run *h = &r->hosts[i];
            if (h->pf_ok && h->pf.lock_held) {
                snprintf(r->refused, sizeof(r->refused),
                         "task '%s' is locked on %s by %s; nothing was run "
                         "(--wait-lock D to wait)",
                         r->plan->task->name, h->ph->host->name,
                         h->pf.lock_holder && *h->pf.lock_holder
                             ? h->pf.lock_holder
                             : "another run");
                break;
            }
        }
    }
    if (why.len) {
        output_note(&r->out, "%.*s", (int)why.len - 1, buf_str(&why));
    } else if (r->refused[0]) {
        output_note(&r->out, "%s", r->refused);
    }
    buf_release(&why);
    if (r->refused[0]) {
        r->run.refused = r->refused;
        for (size_t i = 0; i < r->n; i++) {
            struct host_run *h = &r->hosts[i];
            if (h->state != HS_READY)
                continue;
            if (h->pf.lock_held)
                finish_host(h, HS_REFUSED, "locked by %s",
                            h->pf.lock_holder && *h->pf.lock_holder
                                ? h->pf.lock_holder
                                : "another run");
            else
                finish_host(h, HS_REFUSED, "nothing was run");
        }
    }
}

/* Phase 2: the ready hosts, in batches. */
static bool run_batches(struct runner *r)
{
    struct rollout ro;
    char err[ERR_MAX];
    size_t *ready = xcalloc(r->n, sizeof(*ready));
    size_t nready = 0, off = 0, b = 0;
    bool joined = true;

    for (size_t i = 0; i < r->n; i++)
        if (r->hosts[i].state == HS_READY)
            ready[nready++] = i;
    if (rollout_parse(r->opts->batch, r->opts->max_fail, nready, &ro, err)) {
        output_note(&r->out, "%s", err); /* checked before: not reached */
        ro.nsizes = 0;
        ro.max_fail = SIZE_MAX;
    }
    r->max_fail = ro.max_fail;
    while (off < nready && joined) {
        size_t size =
            ro.nsizes ? ro.sizes[b < ro.nsizes ? b : ro.nsizes - 1] : nready;
        if (size > nready - off)
            size = nready - off;
        if (ro.nsizes > 1 || (ro.nsizes == 1 && size < nready))
            output_note(&r->out, "batch %zu: %zu host(s)", b + 1, size);
        joined = run_pool(r, ready + off, size, run_host);
        off += size;
        b++;
    }
    rollout_release(&ro);
    free(ready);
    return joined;
}

static int exit_code_of(const struct runner *r)
{
    bool intr = false, unreach = false, failed = false;

    for (size_t i = 0; i < r->n; i++) {
        switch (r->hosts[i].state) {
        case HS_INTERRUPTED:
            intr = true;
            break;
        case HS_UNREACHABLE:
        case HS_AUTH:
        case HS_HOST_KEY:
            unreach = true;
            break;
        case HS_OK:
        case HS_READY:
        case HS_REFUSED:
        case HS_SKIPPED:
            break;
        default:
            failed = true;
            break;
        }
    }
    if (intr || interrupts)
        return EXIT_INTERRUPTED;
    if (r->refused_code)
        return r->refused_code;
    if (unreach)
        return EXIT_UNREACHABLE;
    return failed ? EXIT_TASK_FAILED : 0;
}

static void summarize(struct runner *r)
{
    struct summary_row *rows = xcalloc(r->n, sizeof(*rows));
    size_t absent = 0;

    for (size_t i = 0; i < r->n; i++) {
        const struct host_run *h = &r->hosts[i];
        rows[i].host = h->ph->host->name;
        rows[i].status = state_names[h->state];
        if (h->signal[0])
            snprintf(rows[i].exit, sizeof(rows[i].exit), "SIG%s", h->signal);
        else if (h->exit_code >= 0)
            snprintf(rows[i].exit, sizeof(rows[i].exit), "%d", h->exit_code);
        else
            snprintf(rows[i].exit, sizeof(rows[i].exit), "-");
        rows[i].duration_ms = h->finished_ms && h->started_ms
                                  ? h->finished_ms - h->started_ms
                                  : 0;
        rows[i].release = preflight_release_id(&h->pf);
        rows[i].revision = h->pf.release ? h->pf.revision : NULL;
        if (h->task_state && strcmp(h->task_state, "absent") == 0)
            absent++;
        rows[i].error = h->error[0] ? h->error : NULL;
    }
    output_summary(&r->out, rows, r->n);
    if (absent && !r->refused[0] && r->opts->mode == RUN_TASK)
        output_note(&r->out,
                    "the deployed release has no %s on %zu host%s: "
                    "the task ran from this checkout",
                    r->plan->task->path, absent, absent == 1 ? "" : "s");
    free(rows);
}

static const char *operator_of(char *buf, size_t n)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res)
        snprintf(buf, n, "%s", pw.pw_name);
    else
        snprintf(buf, n, "uid %ld", (long)getuid());
    return buf;
}

static void install_signals(struct sigaction *old_int,
                            struct sigaction *old_term)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
    signal(SIGPIPE, SIG_IGN);
}

static void runner_init(struct runner *r, const struct plan *p,
                        const struct runner_opts *o)
{
    int width = 1;

    memset(r, 0, sizeof(*r));
    r->plan = p;
    r->opts = o;
    r->n = p->nhosts;
    r->max_fail = SIZE_MAX;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    record_new_id(r->run_id, sizeof(r->run_id));
    r->run.run_id = r->run_id;
    r->run.operator_name =
        operator_of(r->operator_name, sizeof(r->operator_name));
    r->run.stage = p->inv->stage;
    r->run.task = p->task->name;
    r->run.task_file = p->task->sha256[0] ? p->task->path : NULL;
    r->run.task_sha256 = p->task->sha256;
    r->run.command = p->task->command;
    r->run.args = &p->args;
    r->run.allow_drift = o->allow_drift;
    r->run.timeout_ms = o->timeout_ms;
    r->run.started_ms = clock_wall_ms();
    r->run.exit_code = -1;
    for (size_t i = 0; i < p->nhosts; i++)
        if ((int)strlen(p->hosts[i].host->name) > width)
            width = (int)strlen(p->hosts[i].host->name);
    output_init(&r->out, o->output, width);
    r->hosts = xcalloc(r->n, sizeof(*r->hosts));
    for (size_t i = 0; i < r->n; i++) {
        struct host_run *h = &r->hosts[i];
        h->r = r;
        h->ph = &p->hosts[i];
        h->exit_code = -1;
        h->log_fd = -1;
        h->sink.ctx = h;
        h->sink.started = sink_started;
        h->sink.data = sink_data;
        h->sink.control = sink_control;
        buf_init(&h->partial[0], LINE_MAX_BYTES);
        buf_init(&h->partial[1], LINE_MAX_BYTES);
        buf_init(&h->capture[0], CAPTURE_MAX);
        buf_init(&h->capture[1], CAPTURE_MAX);
        buf_init(&h->noise, CAPTURE_MAX);
        buf_init(&h->log_scratch, 64u << 20);
        output_host_init(&r->out, &h->oh, h->ph->host->name, i);
    }
}

static void runner_release(struct runner *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct host_run *h = &r->hosts[i];
        ssh_chan_free(h->chan);
        ssh_conn_free(h->conn);
        if (h->log_fd >= 0)
            close(h->log_fd);
        buf_release(&h->partial[0]);
        buf_release(&h->partial[1]);
        buf_release(&h->capture[0]);
        buf_release(&h->capture[1]);
        buf_release(&h->noise);
        buf_release(&h->log_scratch);
        preflight_release(&h->pf);
        preflight_release(&h->run_pf);
        output_host_release(&h->oh);
        free(h->log_path);
    }
    free(r->hosts);
    output_release(&r->out);
    record_release(&r->rec);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
}

/* Every host gets a final state, its log its closing note, and its session
 * is closed. */
static void conclude_all(struct runner *r, bool joined)
{
    for (size_t i = 0; i < r->n; i++) {
        struct host_run *h = &r->hosts[i];
        if (h->state == HS_READY && r->opts->mode != RUN_TASK)
            finish_host(h, HS_READY, NULL);
        else if (h->state == HS_READY && !interrupts)
            finish_host(h, HS_SKIPPED, "not started");
        else if (h->state <= HS_RUNNING)
            finish_host(h, HS_INTERRUPTED, "%s",
                        !joined ? "abandoned after a second interrupt"
                        : h->state == HS_RUNNING ? "interrupted"
                                                 : "not started: "
                                                   "interrupted");
        if (!joined)
            continue; /* workers may still use logs and sessions */
        if (h->log_fd >= 0) {
            host_log_end(h);
            close(h->log_fd);
            h->log_fd = -1;
        }
        ssh_chan_free(h->chan); /* a paused task that never went on */
        h->chan = NULL;
        ssh_conn_free(h->conn);
        h->conn = NULL;
    }
}

int runner_run(const struct plan *p, const struct runner_opts *o, char *err)
{
    struct runner r;
    struct sigaction old_int, old_term;
    size_t *all;
    bool joined;
    int code;

    runner_init(&r, p, o);
    if (record_open(&r.rec, o->log_root, r.run_id, o->report, err)) {
        runner_release(&r);
        return EXIT_USAGE;
    }
    /* An unwritable record (or --report) is a configuration error: found
     * before anything connects. */
    if (record_write_now(&r, err)) {
        runner_release(&r);
        return EXIT_USAGE;
    }
    interrupts = 0;
    install_signals(&old_int, &old_term);
    raise_fd_limit(r.n);
    all = xcalloc(r.n, sizeof(*all));
    for (size_t i = 0; i < r.n; i++)
        all[i] = i;
    joined = run_pool(&r, all, r.n, preflight_host);
    free(all);
    if (joined && !interrupts) {
        decide(&r);
        if (!r.refused[0] && o->mode == RUN_TASK)
            joined = run_batches(&r);
    }
    conclude_all(&r, joined);
    code = exit_code_of(&r);
    r.run.finished_ms = clock_wall_ms();
    r.run.exit_code = code;
    record_touch(&r, true);
    summarize(&r);
    output_note(&r.out, "logs: %s", r.rec.dir);
    if (!joined) {
        /* Workers may still be inside a blocking connect: leave now. The
         * record is written; remote watchdogs stop the tasks. */
        _exit(code);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    runner_release(&r);
    return code;
}
