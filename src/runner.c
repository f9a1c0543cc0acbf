/*
 * runner.c - the phases of a run: preflight on every host, the gate, the
 * task in rolling batches, and the conclusion.
 *
 * Theory of operation
 *
 * Phases. Every host gets one command, the host script, over the transport
 * the caller chose for it. The script sets up (app_dir, env files, release,
 * as the `become` user), takes the task's lock, reports (framed by this
 * run's nonce) and waits. The worker that opened it captures the report
 * and leaves the command paused. When every host has reported (or failed
 * to), the main thread asks the gate (gate.c) whether the run may go on.
 * If not, every paused command is closed: the scripts see EOF and exit
 * without running anything, releasing their locks. If so, the run phase
 * writes "go" to each ready host, in batches, and the task runs in the
 * very shell, release directory and lock the preflight resolved.
 *
 * Threads. The main thread blocks SIGINT, SIGTERM and SIGHUP before any
 * other thread exists, so every thread inherits the mask, and reads them
 * from a signalfd while it waits for a pool (pool.c): no signal ever lands
 * inside libssh in a worker. Workers read the interrupt count (an atomic)
 * in the transports' control() callback. A host's private state (struct
 * worker_host: its channel, line splitters, log, capture buffers) is used
 * by one worker at a time; it passes from the preflight's worker to the
 * main thread and on to the run's worker through the pool's lock (one
 * pool serves both phases: pool.h says why that orders them).
 * Its shared state (phase, outcome, times, release) lives in the host
 * table (host_run.c), changed only by host_transition(). A record thread
 * owns run.json: it rewrites it from snapshots of the table at most every
 * RECORD_EVERY_MS plus RECORD_HOST_MS a host (a snapshot costs each host
 * its share), or at once when a thread waits for a record: before a
 * task may start, its host is recorded "running" -- the hosts a batch
 * starts at once together, by the main thread right before their workers
 * start, any later one by its worker -- so run.json says "running" for
 * every host whose task may be running, even if the client is killed.
 *
 * Deadlines and Ctrl-C. The preflight has its own deadline; the task's
 * deadline (--timeout or the task's) starts when "go" is written. The
 * first interrupt (SIGINT, SIGTERM or SIGHUP) asks every running command to
 * stop (transport.h: TERM to its process group, EOF for the watchdog, then
 * KILL), and no new host starts. The second closes every channel at once;
 * if workers are still stuck in a blocking connect ABANDON_AFTER_MS later,
 * the record is written and the process exits: the remote watchdogs stop
 * the tasks when the connections drop.
 *
 * Lines. Each stream of each host has a splitter (lines.c); whole lines
 * go to the output (escaped, prefixed) and to the host's log (raw,
 * timestamped). What the set-up prints (stderr before the report, and any
 * stdout that is not part of the framed report) is shown and logged as
 * set-up output.
 *
 * What tools read. Each stream of each host also keeps its last bytes
 * (tail.c) for run.json's "output" and the JUnit report; --json (events.c)
 * follows every change of the host table (its observer), every line and
 * the gate; the JUnit report (junit.c) is written once, after the final
 * run.json.
 *
 * What the operator sees besides (output.h, progress.h): the main thread
 * draws the status line and says -v's notes from on_tick() (progress.c
 * reads the host table's snapshots); gathered output is shown once every
 * host is done, before the summary.
 */
#define _GNU_SOURCE
#include "oneoff/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "oneoff/console.h"
#include "oneoff/exit_codes.h"
#include "oneoff/gate.h"
#include "oneoff/host_run.h"
#include "oneoff/host_work.h"
#include "oneoff/junit.h"
#include "oneoff/pool.h"
#include "oneoff/progress.h"
#include "oneoff/runner_gates.h"

#define RECORD_EVERY_MS 250
#define RECORD_HOST_MS 5
#define ABANDON_AFTER_MS 3000

struct runner {
    struct run_shared s; /* what the workers share (host_work.h) */
    struct worker_host *w;
    size_t n;
    /* run.json's run-level fields: changed by the main thread under
     * s.tab.lock, copied by the record thread under it */
    struct record_run run;
    /* the main thread's own */
    struct progress prog;
    struct output_host **ohs; /* &w[i].oh, for progress and gathering */
    struct gate_result gate;
    struct record_gate rgate; /* run.gate points here once decided */
    const char **names;       /* host names, for the events */
    int seen_interrupts;
    int64_t abandon_at;
    int sigfd;
    sigset_t sigs, old_mask;
    /* the record thread: the only writer of run.json while it runs */
    pthread_t recorder;
    bool recorder_started;
    bool recorder_stop; /* under s.tab.lock */
    /* the workers of both phases (pool.h), the main thread's */
    struct pool *pool;
};

static void preflight_host(void *ctx, size_t i)
{
    struct runner *r = ctx;

    host_work_preflight(&r->w[i]);
}

static void run_host(void *ctx, size_t i)
{
    struct runner *r = ctx;

    host_work_run(&r->w[i]);
}

/* ---- signals and waiting ------------------------------------------------ */

static void drain_signals(struct runner *r)
{
    struct signalfd_siginfo si;

    while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        if (atomic_load(&r->s.interrupts) < 100)
            atomic_fetch_add(&r->s.interrupts, 1);
}

/* Called by the pool's waiting thread (main): signals, notes, abandon. */
static bool on_tick(void *ctx, bool signalled)
{
    struct runner *r = ctx;
    int n;

    if (signalled)
        drain_signals(r);
    n = atomic_load(&r->s.interrupts);
    if (n > r->seen_interrupts && r->s.opts->console) {
        r->seen_interrupts = n; /* the console closes: nothing on screen */
    } else if (n > r->seen_interrupts) {
        if (r->seen_interrupts == 0)
            output_note(&r->s.out, "interrupted: stopping the remote tasks "
                                   "(Ctrl-C again to close at once)");
        if (n >= 2 && r->seen_interrupts < 2)
            output_note(&r->s.out, "closing every connection now");
        r->seen_interrupts = n;
    }
    if (n >= 2 && r->abandon_at == 0)
        r->abandon_at = clock_mono_ms() + ABANDON_AFTER_MS;
    progress_tick(&r->prog);
    return !(r->abandon_at && clock_mono_ms() >= r->abandon_at);
}

static void block_signals(struct runner *r)
{
    sigemptyset(&r->sigs);
    sigaddset(&r->sigs, SIGINT);
    sigaddset(&r->sigs, SIGTERM);
    sigaddset(&r->sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &r->sigs, &r->old_mask);
    r->sigfd = signalfd(-1, &r->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);
}

static void restore_signals(struct runner *r)
{
    if (r->sigfd >= 0) {
        drain_signals(r); /* consumed here: they must not kill us later */
        close(r->sigfd);
    }
    pthread_sigmask(SIG_SETMASK, &r->old_mask, NULL);
}

/* ---- the record thread -------------------------------------------------- */

/* The record's view of the hosts: rows (a snapshot) and copies of the
 * output tails, freed by hosts_free(). */
static struct record_host *hosts_fill(struct runner *r,
                                      const struct host_state *rows,
                                      struct tail_copy *tc)
{
    struct record_host *rh = xcalloc(r->n ? r->n : 1, sizeof(*rh));

    for (size_t i = 0; i < r->n; i++) {
        const struct host *host = r->w[i].ph->host;
        rh[i].name = host->name;
        rh[i].address = host->address ? host->address : host->name;
        rh[i].port = host->set.port;
        rh[i].user = host->set.user;
        rh[i].status = host_state_status(&rows[i]);
        rh[i].exit_code = rows[i].exit_code;
        rh[i].signal = rows[i].signal[0] ? rows[i].signal : NULL;
        rh[i].started_ms = rows[i].started_ms;
        rh[i].connected_ms = rows[i].connected_ms;
        rh[i].finished_ms = rows[i].finished_ms;
        rh[i].log_path = r->w[i].log_path;
        rh[i].error = rows[i].error && rows[i].error[0] ? rows[i].error : NULL;
        rh[i].release = rows[i].release;
        rh[i].revision = rows[i].revision;
        rh[i].task_in_release = task_state_name(rows[i].task_state);
        rh[i].checked_only = r->w[i].ph->check_only;
        for (int k = 0; k < 2; k++) {
            struct record_output *o = k ? &rh[i].err : &rh[i].out;
            tail_copy(&r->w[i].tails[k], &tc[2 * i + k]);
            o->text = tc[2 * i + k].text;
            o->len = tc[2 * i + k].len;
            o->total = tc[2 * i + k].total;
            o->truncated = tc[2 * i + k].truncated;
        }
    }
    return rh;
}

static void hosts_free(struct record_host *rh, struct tail_copy *tc, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++)
        tail_copy_release(&tc[i]);
    free(rh);
}

static int record_now(struct runner *r, char *err)
{
    struct host_state *rows = xcalloc(r->n ? r->n : 1, sizeof(*rows));
    struct tail_copy *tc = xcalloc(2 * r->n + 1, sizeof(*tc));
    struct record_host *rh;
    struct record_run run;
    uint64_t gen;
    int rc;

    pthread_mutex_lock(&r->s.tab.lock);
    run = r->run; /* main changes it under this lock */
    pthread_mutex_unlock(&r->s.tab.lock);
    gen = host_table_snapshot(&r->s.tab, rows);
    rh = hosts_fill(r, rows, tc);
    rc = record_write(&r->s.rec, &run, rh, r->n, err);
    host_table_mark_written(&r->s.tab, gen);
    host_snapshot_release(rows, r->n);
    free(rows);
    hosts_free(rh, tc, r->n);
    free(tc);
    return rc;
}

/* --report-junit, from the final state; a failure is said and counts as
 * an incomplete record. */
static int junit_now(struct runner *r, int code)
{
    struct host_state *rows = xcalloc(r->n ? r->n : 1, sizeof(*rows));
    struct tail_copy *tc = xcalloc(2 * r->n + 1, sizeof(*tc));
    struct record_host *rh;
    char err[ERR_MAX];

    host_table_snapshot(&r->s.tab, rows);
    rh = hosts_fill(r, rows, tc);
    if (junit_write(r->s.opts->junit, &r->run, rh, r->n, err)) {
        output_note(&r->s.out, "%s", err);
        if (code == EXIT_OK)
            code = EXIT_TASK_FAILED;
    }
    host_snapshot_release(rows, r->n);
    free(rows);
    hosts_free(rh, tc, r->n);
    free(tc);
    return code;
}

/* The host table's observer: every phase or outcome change, as events. */
static void on_host_change(void *ctx, size_t i, const struct host_state *s)
{
    struct runner *r = ctx;

    events_host_state(&r->s.events, i, s);
}

static void record_or_note(struct runner *r)
{
    char err[ERR_MAX];

    if (record_now(r, err))
        output_note(&r->s.out, "%s", err);
}

static void *recorder(void *arg)
{
    struct runner *r = arg;
    int64_t last = 0, every = RECORD_EVERY_MS + RECORD_HOST_MS * (int64_t)r->n;

    pthread_mutex_lock(&r->s.tab.lock);
    for (;;) {
        int64_t now = clock_mono_ms();
        bool due = r->s.tab.wanted > r->s.tab.written &&
                   (r->s.tab.urgent || now - last >= every);
        if (r->recorder_stop)
            break;
        if (due) {
            pthread_mutex_unlock(&r->s.tab.lock);
            record_or_note(r);
            last = clock_mono_ms();
            pthread_mutex_lock(&r->s.tab.lock);
            continue;
        }
        {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += every / 1000;
            ts.tv_nsec += every % 1000 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->s.tab.cond, &r->s.tab.lock, &ts);
        }
    }
    pthread_mutex_unlock(&r->s.tab.lock);
    return NULL;
}

static void recorder_stop(struct runner *r)
{
    if (!r->recorder_started)
        return;
    pthread_mutex_lock(&r->s.tab.lock);
    r->recorder_stop = true;
    pthread_cond_broadcast(&r->s.tab.cond);
    pthread_mutex_unlock(&r->s.tab.lock);
    pthread_join(r->recorder, NULL);
    r->recorder_started = false;
}

/* ---- the phases ---------------------------------------------------------- */

/* With --wait-lock, a host whose lock an older run holds while that run is
 * still in its preflight says "yield": the older run may be waiting for a
 * lock this run holds elsewhere, so this run lets go of every lock and
 * tries again (until its --wait-lock time is spent) rather than wait and
 * deadlock. Without --wait-lock such a lock simply refuses the run. */
static bool must_retry(struct runner *r, int64_t until)
{
    bool yield = false;

    if (atomic_load(&r->s.interrupts) || clock_mono_ms() >= until)
        return false;
    for (size_t i = 0; i < r->n && !yield; i++)
        yield = r->w[i].chan && r->w[i].pf.lock_yield;
    return yield;
}

/* Waits ms, or less when interrupted. */
static void pause_ms(struct runner *r, int64_t ms)
{
    int64_t end = clock_mono_ms() + ms;

    while (clock_mono_ms() < end && atomic_load(&r->s.interrupts) == 0) {
        struct pollfd pf = {r->sigfd, POLLIN, 0};
        if (poll(&pf, 1, 50) > 0)
            on_tick(r, true);
    }
}

/* Phase 1, every host; again while a lock says "yield" (must_retry()). */
static bool preflight_all(struct runner *r, const size_t *all)
{
    int64_t until = clock_mono_ms() + (int64_t)r->s.plan->wait_lock_s * 1000;
    unsigned tries = 0;

    for (;;) {
        if (!pool_batch(r->pool, all, r->n, preflight_host, on_tick, r->sigfd,
                        r))
            return false;
        if (!must_retry(r, until))
            return true;
        tries++;
        if (tries == 1)
            output_note(&r->s.out,
                        "task '%s' is locked by an older run "
                        "that is starting too: letting it go "
                        "first (--wait-lock)",
                        r->s.plan->task->name);
        for (size_t i = 0; i < r->n; i++) {
            worker_host_restart(&r->w[i]);
            host_restart(&r->s.tab, i);
        }
        /* a little longer each time, so two runs do not meet again */
        pause_ms(r, 300 + 200 * (int64_t)(tries < 10 ? tries : 10));
    }
}

/* The gate's view of the hosts; the preflight's batch is done, so their
 * private state may be read here. */
static void decide(struct runner *r)
{
    struct gate_host *gh = xcalloc(r->n ? r->n : 1, sizeof(*gh));
    struct host_state *rows = xcalloc(r->n ? r->n : 1, sizeof(*rows));
    char **holders = xcalloc(r->n ? r->n : 1, sizeof(*holders));
    struct gate_input in;
    bool check = r->s.opts->mode == RUN_CHECK;

    host_table_snapshot(&r->s.tab, rows);
    for (size_t i = 0; i < r->n; i++) {
        const struct worker_host *w = &r->w[i];
        gh[i].name = w->ph->host->name;
        gh[i].check_only = w->ph->check_only;
        gh[i].reported = rows[i].phase == PHASE_READY;
        gh[i].setup_failed =
            rows[i].phase == PHASE_DONE && rows[i].outcome == HOST_FAILED;
        if (!gh[i].reported)
            continue;
        gh[i].release_id = preflight_release_id(&w->pf);
        gh[i].revision = w->pf.revision;
        gh[i].task = w->task_state;
        gh[i].task_sha256 = w->pf.task_sha256;
        gh[i].lock_held = w->pf.lock_held;
        gh[i].lock_holder = w->pf.lock_holder;
        if (check && w->pf.nheld) {
            /* check: any held task lock, named "task: holder" */
            holders[i] =
                xasprintf("%s: %s", w->pf.held[0].name, w->pf.held[0].holder);
            gh[i].lock_held = true;
            gh[i].lock_holder = holders[i];
        }
    }
    memset(&in, 0, sizeof(in));
    in.hosts = gh;
    in.n = r->n;
    in.check = check;
    in.allow_drift = r->s.opts->allow_drift;
    in.task_name = r->s.plan->task->name;
    in.task_path = r->s.plan->task->path;
    in.task_sha256 = r->s.plan->task->sha256;
    gate_decide(&in, &r->gate);
    if (!check)
        runner_later_gates(&r->s, r->w, r->n, gh, &r->gate);
    r->rgate.verdict = gate_verdict_name(r->gate.verdict);
    r->rgate.reason = r->gate.reason;
    r->rgate.exit_code = r->gate.exit_code;
    r->rgate.allow_drift = in.allow_drift;
    r->rgate.releases_agree = !r->gate.release_drift;
    for (size_t i = 0; i < r->n; i++)
        r->rgate.hosts_judged += gh[i].reported;
    pthread_mutex_lock(&r->s.tab.lock); /* the recorder reads run */
    r->run.gate = &r->rgate;
    pthread_mutex_unlock(&r->s.tab.lock);
    events_gate(&r->s.events, &r->rgate);
    if (r->gate.detail)
        output_note(&r->s.out, "%s", r->gate.detail);
    else if (r->gate.reason[0] && !check)
        output_note(&r->s.out, "%s", r->gate.reason);
    for (size_t i = 0; i < r->n; i++) {
        if (!gh[i].reported)
            continue;
        if (gh[i].check_only) {
            /* judged: nothing runs there, its script may end now */
            host_finish(&r->s.tab, i, HOST_CHECKED, NULL);
            tchan_free(r->w[i].chan);
            r->w[i].chan = NULL;
        } else if (gh[i].lock_held)
            host_finish(&r->s.tab, i, HOST_REFUSED, "locked by %s",
                        gh[i].lock_holder && *gh[i].lock_holder
                            ? gh[i].lock_holder
                            : "another run");
        else if (r->gate.verdict != GATE_GO && !check)
            host_finish(&r->s.tab, i, HOST_REFUSED, "nothing was run");
    }
    if (!check && r->gate.verdict != GATE_GO) {
        pthread_mutex_lock(&r->s.tab.lock); /* the recorder reads run */
        r->run.refused = r->gate.reason;
        pthread_mutex_unlock(&r->s.tab.lock);
    }
    host_snapshot_release(rows, r->n);
    for (size_t i = 0; i < r->n; i++)
        free(holders[i]);
    free(holders);
    free(rows);
    free(gh);
}

/* Phase 2: the ready hosts, in batches. Returns false when the pool was
 * abandoned. */
static bool run_batches(struct runner *r)
{
    struct rollout ro;
    char err[ERR_MAX];
    size_t *ready = xcalloc(r->n ? r->n : 1, sizeof(*ready));
    size_t nready = 0, off = 0, b = 0;
    bool joined = true;

    for (size_t i = 0; i < r->n; i++)
        if (r->w[i].chan)
            ready[nready++] = i;
    if (rollout_parse(r->s.opts->batch, r->s.opts->max_fail, nready, &ro,
                      err)) {
        output_note(&r->s.out, "%s", err); /* checked before: not reached */
        ro.nsizes = 0;
        ro.max_fail = SIZE_MAX;
    }
    r->s.max_fail = ro.max_fail;
    while (off < nready && joined) {
        size_t size =
            ro.nsizes ? ro.sizes[b < ro.nsizes ? b : ro.nsizes - 1] : nready;
        if (size > nready - off)
            size = nready - off;
        if (ro.nsizes > 1 || (ro.nsizes == 1 && size < nready))
            output_info(&r->s.out, "batch %zu: %zu host(s)", b + 1, size);
        host_work_record_wave(&r->s, r->w, ready + off, size);
        joined = pool_batch(r->pool, ready + off, size, run_host, on_tick,
                            r->sigfd, r);
        off += size;
        b++;
    }
    rollout_release(&ro);
    free(ready);
    return joined;
}

/* The task's input (stdin_feed.h): read from now on, for the hosts that
 * are ready; false (every host refused) when it cannot be. */
static bool input_start(struct runner *r)
{
    char err[ERR_MAX];

    if (r->s.feed == NULL)
        return true;
    for (size_t i = 0; i < r->n; i++)
        if (r->w[i].chan == NULL)
            feed_host_done(r->s.feed, i);
    if (feed_start(r->s.feed, err) == 0)
        return true;
    output_note(&r->s.out, "%s", err);
    for (size_t i = 0; i < r->n; i++)
        if (r->w[i].chan)
            host_finish(&r->s.tab, i, HOST_FAILED, "not started: %s", err);
    return false;
}

/* Every host gets a final state, its log its closing note, and its channel
 * is closed (a paused script sees EOF and exits without running). */
static void conclude_all(struct runner *r, bool joined)
{
    struct host_state *rows = xcalloc(r->n ? r->n : 1, sizeof(*rows));
    bool intr = atomic_load(&r->s.interrupts) > 0;

    host_table_snapshot(&r->s.tab, rows);
    for (size_t i = 0; i < r->n; i++) {
        enum host_phase ph = rows[i].phase;
        if (ph == PHASE_READY && r->s.opts->mode != RUN_TASK)
            host_finish(&r->s.tab, i, HOST_READY, NULL);
        else if (ph == PHASE_READY && !intr)
            host_finish(&r->s.tab, i, HOST_SKIPPED, "not started");
        else if (ph != PHASE_DONE)
            host_finish(&r->s.tab, i, HOST_INTERRUPTED, "%s",
                        !joined               ? "abandoned after a second "
                                                "interrupt"
                        : ph == PHASE_RUNNING ? "interrupted"
                                              : "not started: interrupted");
    }
    host_snapshot_release(rows, r->n);
    host_table_snapshot(&r->s.tab, rows);
    for (size_t i = 0; i < r->n && joined; i++) {
        struct worker_host *w = &r->w[i];
        if (w->log.fd >= 0)
            host_work_log_end(w, &rows[i]);
        tchan_free(w->chan);
        w->chan = NULL;
    }
    host_snapshot_release(rows, r->n);
    free(rows);
}

/* joined false: workers may still be running, and gathered output, which
 * they write, is not read (the logs have it). */
static void summarize(struct runner *r, const struct host_state *rows,
                      bool joined)
{
    struct summary_row *sr = xcalloc(r->n ? r->n : 1, sizeof(*sr));
    size_t absent = 0;

    for (size_t i = 0; i < r->n; i++) {
        const struct host_state *s = &rows[i];
        sr[i].host = r->w[i].ph->host->name;
        sr[i].status = host_state_status(s);
        if (s->signal[0])
            snprintf(sr[i].exit, sizeof(sr[i].exit), "SIG%s", s->signal);
        else if (s->exit_code >= 0)
            snprintf(sr[i].exit, sizeof(sr[i].exit), "%d", s->exit_code);
        else
            snprintf(sr[i].exit, sizeof(sr[i].exit), "-");
        sr[i].duration_ms = s->finished_ms && s->started_ms
                                ? s->finished_ms - s->started_ms
                                : 0;
        sr[i].release = preflight_release_id(&r->w[i].pf);
        sr[i].revision = s->release ? s->revision : NULL;
        if (s->task_state == TASK_ABSENT && !r->w[i].ph->check_only)
            absent++;
        sr[i].error = s->error && s->error[0] ? s->error : NULL;
    }
    if (joined)
        output_gathered(&r->s.out, r->ohs, sr, r->n);
    else if (r->s.opts->output == OUT_GATHER)
        output_note(&r->s.out, "gathered output not shown (abandoned): "
                               "the host logs have it");
    output_summary(&r->s.out, sr, r->n);
    if (absent && r->gate.verdict == GATE_GO && r->s.opts->mode == RUN_TASK)
        output_info(&r->s.out,
                    "the deployed release has no %s on %zu host%s: "
                    "the task ran from this checkout",
                    r->s.plan->task->path, absent, absent == 1 ? "" : "s");
    free(sr);
}

/* ---- set-up and tear-down ------------------------------------------------ */

static int runner_init(struct runner *r, const struct plan *p,
                       const struct runner_opts *o, char *err)
{
    int width = 1;

    memset(r, 0, sizeof(*r));
    r->s.plan = p;
    r->s.opts = o;
    r->n = p->nhosts;
    r->s.max_fail = SIZE_MAX;
    r->sigfd = -1;
    atomic_init(&r->s.interrupts, 0);
    pthread_mutex_init(&r->s.fail_lock, NULL);
    host_table_init(&r->s.tab, r->n);
    if (o->run_id)
        snprintf(r->s.run_id, sizeof(r->s.run_id), "%s", o->run_id);
    else
        record_new_id(r->s.run_id, sizeof(r->s.run_id));
    r->run.run_id = r->s.run_id;
    record_operator(r->s.operator_name, sizeof(r->s.operator_name));
    r->run.operator_name = r->s.operator_name;
    r->run.stage = p->inv->stage;
    r->run.task = p->task->name;
    r->run.task_file = p->task->adhoc ? NULL : p->task->path;
    r->run.task_sha256 = p->task->sha256;
    r->run.command = p->task->command;
    r->run.args = &p->shown_args;
    r->run.reason = o->reason;
    r->run.email = o->email;
    r->run.overrides = o->overrides;
    r->run.allow_drift = o->allow_drift;
    r->run.timeout_ms = o->timeout_ms;
    r->run.started_ms = clock_wall_ms();
    r->run.exit_code = -1;
    for (size_t i = 0; i < p->nhosts; i++)
        if ((int)strlen(p->hosts[i].host->name) > width)
            width = (int)strlen(p->hosts[i].host->name);
    output_init(&r->s.out, o->output, width,
                record_report_is_stdout(o->report) || o->json);
    r->names = xcalloc(r->n ? r->n : 1, sizeof(*r->names));
    for (size_t i = 0; i < r->n; i++)
        r->names[i] = p->hosts[i].host->name;
    events_init(&r->s.events, o->json ? STDOUT_FILENO : -1, r->names, r->n);
    r->s.tab.observer = on_host_change;
    r->s.tab.observer_ctx = r;
    r->s.out.quiet = o->quiet;
    r->s.out.diff = o->diff;
    /* `check` shows every host's release: its table is its output */
    r->s.out.summary = o->mode == RUN_CHECK ? SUMMARY_FULL : o->summary;
    r->w = xcalloc(r->n ? r->n : 1, sizeof(*r->w));
    r->ohs = xcalloc(r->n ? r->n : 1, sizeof(*r->ohs));
    for (size_t i = 0; i < r->n; i++) {
        worker_host_init(&r->w[i], &r->s, i);
        r->ohs[i] = &r->w[i].oh;
    }
    progress_init(&r->prog, &r->s.out, &r->s.tab, p, r->ohs, o->verbose,
                  o->silent_after_ms);
    if (p->input && feed_new(&r->s.feed, STDIN_FILENO, r->n, err))
        return -1;
    task_digest(p->task, r->s.digest);
    return script_nonce_new(r->s.nonce, err);
}

static void runner_release(struct runner *r)
{
    progress_release(&r->prog);
    feed_free(r->s.feed);
    r->s.feed = NULL;
    for (size_t i = 0; i < r->n; i++)
        worker_host_release(&r->w[i]);
    free(r->w);
    free(r->ohs);
    gate_result_release(&r->gate);
    output_release(&r->s.out);
    events_release(&r->s.events);
    free(r->names);
    record_release(&r->s.rec);
    host_table_release(&r->s.tab);
    pthread_mutex_destroy(&r->s.fail_lock);
}

static size_t *all_hosts(size_t n)
{
    size_t *v = xcalloc(n ? n : 1, sizeof(*v));

    for (size_t i = 0; i < n; i++)
        v[i] = i;
    return v;
}

int runner_run(const struct plan *p, const struct runner_opts *o, char *err)
{
    struct runner r;
    struct host_state *rows;
    size_t *all;
    bool joined;
    int code;

    /* sessions stay open across the gate: a socket and a log per host,
     * and the wake-up of a run's input */
    if (fd_limit_reserve(p->nhosts, p->input ? 3 : 2, err))
        return EXIT_USAGE;
    if (runner_init(&r, p, o, err)) {
        runner_release(&r);
        return EXIT_USAGE;
    }
    /* An unwritable record (or --report) is a configuration error: found
     * before anything connects. */
    if (record_open(&r.s.rec, o->log_root, r.s.run_id, o->report, err)) {
        runner_release(&r);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < r.n; i++)
        r.w[i].log_path =
            xasprintf("%s/%s.log", r.s.rec.dir, p->hosts[i].host->name);
    if (record_now(&r, err)) {
        runner_release(&r);
        return EXIT_USAGE;
    }
    events_run_start(&r.s.events, &r.run,
                     o->mode == RUN_TASK        ? "run"
                     : o->mode == RUN_PREFLIGHT ? "preflight"
                                                : "check");
    block_signals(&r);
    r.recorder_started = pthread_create(&r.recorder, NULL, recorder, &r) == 0;
    r.pool = pool_new(o->parallel);
    all = all_hosts(r.n);
    joined = preflight_all(&r, all);
    free(all);
    if (joined && atomic_load(&r.s.interrupts) == 0) {
        decide(&r);
        if (r.gate.verdict == GATE_GO && o->mode == RUN_TASK && input_start(&r))
            joined = run_batches(&r);
    }
    conclude_all(&r, joined);
    progress_end(&r.prog);
    rows = xcalloc(r.n ? r.n : 1, sizeof(*rows));
    host_table_snapshot(&r.s.tab, rows);
    code = host_exit_code(rows, r.n, atomic_load(&r.s.interrupts) > 0,
                          r.gate.exit_code);
    if (code == EXIT_OK && record_lost(&r.s.rec))
        code = EXIT_TASK_FAILED;
    pthread_mutex_lock(&r.s.tab.lock); /* the recorder reads run */
    r.run.finished_ms = clock_wall_ms();
    r.run.exit_code = code;
    pthread_mutex_unlock(&r.s.tab.lock);
    recorder_stop(&r);
    record_or_note(&r);
    if (o->console == NULL || !o->console->ran)
        summarize(&r, rows, joined); /* a console's end is its screen's */
    if (record_lost(&r.s.rec)) {
        output_note(&r.s.out, "the logs of this run are incomplete (see the "
                              "errors above)");
        if (code == EXIT_OK) /* the final record's own write failed */
            code = EXIT_TASK_FAILED;
    }
    if (o->junit)
        code = junit_now(&r, code);
    output_info(&r.s.out, "logs: %s", r.s.rec.dir);
    events_run_end(&r.s.events, r.run.run_id, code, r.s.rec.json_path);
    host_snapshot_release(rows, r.n);
    free(rows);
    if (!joined) {
        /* Workers may still be inside a blocking connect: leave now. The
         * record is written; remote watchdogs stop the tasks. */
        _exit(code);
    }
    pool_free(r.pool);
    restore_signals(&r);
    runner_release(&r);
    return code;
}
