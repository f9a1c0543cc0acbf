/*
 * runner.h - runs a plan on its hosts: preflight on every host, the
 * go/no-go gate, then the task (in rolling batches), with bounded
 * parallelism, deadlines, Ctrl-C, live output, logs and the run record.
 *
 * The runner drives each host through the struct transport it is given
 * for it and never knows which kind that is.
 */
#ifndef ONEOFF_RUNNER_H
#define ONEOFF_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "oneoff/gate.h"
#include "oneoff/output.h"
#include "oneoff/plan.h"
#include "oneoff/transport.h"

struct console;

enum runner_mode {
    RUN_TASK,      /* preflight every host, then run */
    RUN_PREFLIGHT, /* --preflight: stop after the preflight */
    RUN_CHECK,     /* `oneoff check`: preflight, one line per host */
};

struct runner_opts {
    enum runner_mode mode;
    unsigned parallel;
    int64_t timeout_ms; /* 0: none */
    enum out_mode output;
    const char *log_root; /* "log" under the project folder */
    const char *report;   /* NULL or --report FILE */
    /* transports[i] drives plan host i (borrowed) */
    struct transport *const *transports;
    bool allow_drift;     /* run although the release's task differs */
    const char *batch;    /* NULL: one batch */
    const char *max_fail; /* NULL: no limit */
    bool json;            /* --json: events on stdout (events.h) */
    const char *junit;    /* NULL or --report-junit FILE (junit.h) */
    /* what the operator sees (output.h, progress.h) */
    bool diff, quiet, verbose;
    enum summary_mode summary;
    int64_t silent_after_ms; /* 0: PROGRESS_SILENT_MS */
    /* the promotion gate, judged after the preflight with the revision
     * the hosts reported (revision is filled in); NULL: none */
    const struct promotion_input *promotion;
    /* what the history and run.json say of the run (history.h) */
    const char *reason;              /* --reason, or NULL */
    const char *email;               /* git user.email, or NULL */
    const struct strlist *overrides; /* "force", "allow-drift", ... */
    bool force;                      /* --force: run a `once` task again */
    /* A console (console.h): the one host's task runs on a terminal whose
     * I/O the console takes over after "go"; nothing else is printed while
     * it runs. NULL for every other run. */
    struct console *console;
    const char *run_id; /* NULL: a new one (record_new_id) */
};

/* Runs p; returns the process exit code (0, 1, 2, 3, 4, 130). err is set
 * when the run could not start at all (exit 2). */
int runner_run(const struct plan *p, const struct runner_opts *o, char *err);

#endif
