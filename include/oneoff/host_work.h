/*
 * host_work.h - what a worker thread does for one host: start the host
 * script and read its report (the preflight), then tell it to go and
 * follow the task to its end (the run). The runner (runner.c) sequences
 * the phases; this module knows one host at a time.
 *
 * Ownership and locking. struct run_shared is owned by the runner and
 * shared by every worker: plan, opts, run_id, nonce, digest and
 * operator_name are immutable once the workers start; tab and out have their
 * own locks (host_run.h, output.h); interrupts is an atomic written by the main
 * thread; failures, max_fail and stop_starting are under fail_lock; rec is
 * read-only (each host's log is its worker's). A struct worker_host is used
 * by one thread at a time and handed between phases by pool_run()'s join.
 */
#ifndef ONEOFF_HOST_WORK_H
#define ONEOFF_HOST_WORK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/events.h"
#include "oneoff/host_run.h"
#include "oneoff/host_script.h"
#include "oneoff/lines.h"
#include "oneoff/output.h"
#include "oneoff/plan.h"
#include "oneoff/preflight.h"
#include "oneoff/record.h"
#include "oneoff/runner.h"
#include "oneoff/stdin_feed.h"
#include "oneoff/tail.h"
#include "oneoff/transport.h"

#define CAPTURE_MAX (256u << 10)
/* how long a worker (or the runner) waits for run.json to say "running" */
#define RECORD_WAIT_MS 2000
#define SETUP_ERR_MAX 512

struct run_shared {
    const struct plan *plan;
    const struct runner_opts *opts;
    struct host_table tab;
    struct output out;
    struct record rec;
    struct events events; /* --json (its own lock) */
    char run_id[64];
    char nonce[SCRIPT_NONCE_LEN + 1];
    char digest[65]; /* history: the task file's sha256, else the command's */
    char operator_name[64];
    atomic_int interrupts;
    pthread_mutex_t fail_lock;
    size_t failures, max_fail;
    bool stop_starting;
    struct feed *feed; /* the task's input; NULL: none (stdin_feed.h) */
};

/* One host's private state: used by one thread at a time (see above). */
struct worker_host {
    struct run_shared *r;
    size_t i;
    const struct plan_host *ph;
    struct transport *tp;
    struct tchan *chan; /* paused after the report, until go or close */
    struct transport_sink sink;
    struct lines lines[LINE_STREAMS];
    struct record_log log;
    char *log_path; /* for the record: set before the workers start */
    struct output_host oh;
    struct tail tails[2]; /* stdout; stderr and set-up (own locks) */
    /* preflight */
    bool capturing; /* stdout is the report, stderr is set-up output */
    bool ready;     /* the report is complete */
    bool malformed;
    struct buf noise; /* set-up stdout outside the report's frames */
    /* What the set-up wrote on stderr (SETUP_ERR_MAX bytes) and why its
     * report was malformed (ERR_MAX): buffers of host_work_preflight()'s
     * frame, NULL outside it (a thousand hosts wait for the gate). */
    char *setup_err;
    char *perr;
    struct preflight pf;
    enum task_state task_state;
    /* after "go": the task's input, or the console's terminal */
    bool feeding, in_console;
    bool pty; /* the script runs on a terminal: stderr is stdout */
    /* set by the runner before the run's workers start: RUNNING is on
     * record, the worker need not wait for it */
    bool running_recorded;
    /* control */
    int64_t deadline; /* monotonic; 0: none */
    bool timed_out, interrupted;
};

void worker_host_init(struct worker_host *w, struct run_shared *r, size_t i);
void worker_host_release(struct worker_host *w);
/* Closes the paused script (freeing its locks) and forgets its report, for
 * a new preflight; the host log stays open. */
void worker_host_restart(struct worker_host *w);

/* Phase 1: connect, start the script, read its report; on success the
 * host is READY and w->chan holds the paused script. */
void host_work_preflight(struct worker_host *w);
/* Phase 2: "go", then the task to its end (or skipped/interrupted). */
void host_work_run(struct worker_host *w);
/* Before a pool of the run phase starts items[0..n) (the ready hosts of a
 * batch): the hosts it starts at once (its first `parallel` items, pool.h)
 * are recorded "running" together, in one run.json written right before
 * their workers start and write "go", instead of each worker waiting for a
 * rewrite of its own; their running_recorded is set. Nothing is recorded
 * when no host may start (an interrupt, max_fail reached: the workers say
 * why), for a console, or for a single host. Called by the main thread
 * while it owns the workers' hosts (between pools). */
void host_work_record_wave(struct run_shared *r, struct worker_host *w,
                           const size_t *items, size_t n);
/* The closing "# status" note of the host's log. */
void host_work_log_end(struct worker_host *w, const struct host_state *s);

#endif
