/*
 * plan.h - inventory + task + options -> the ordered list of hosts to run
 * on, each with its effective settings and the exact command line it will
 * be sent.
 *
 * A plan borrows the inventory and the task (they must outlive it) and owns
 * everything else; plan_release() frees it.
 */
#ifndef ONEOFF_PLAN_H
#define ONEOFF_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/host_script.h"
#include "oneoff/inventory.h"
#include "oneoff/task.h"
#include "oneoff/util.h"

struct plan_opts {
    struct strlist limits; /* node sets, globs, "@ROLE"; "!..." excludes */
    struct strlist roles;  /* --role: keep hosts with any of these */
    struct strlist args;   /* what followed "--" */
    struct kvlist env;     /* -e KEY=VALUE */
    const char *release;   /* --release ID: app_dir/releases/ID */
    int64_t wait_lock_ms;  /* --wait-lock D: wait for a held lock */
    bool input; /* the task gets oneoff's stdin, in frames (stdin_feed.h) */
};

struct plan_host {
    const struct host *host;
    char *release;      /* as sent: "current" or "releases/ID" */
    struct kvlist env;  /* stage, host, task, command line; later wins */
    const char *become; /* task's, else host's; NULL: the login user */
    char *task_file;    /* "tasks/NAME.yml", looked for in the release */
    struct runtime rt;  /* the host's runtime keys, the task's over them */
    bool check_only;    /* in the stage selection, not run on: its release
                           is checked (SCRIPT_CHECK, no lock), nothing runs */
};

struct plan {
    const struct inventory *inv;
    const struct task *task;
    struct strlist args;
    /* args as history, records, logs and the console show them: values of
     * the task's secret_args masked (history_mask_args()) */
    struct strlist shown_args;
    struct plan_host *hosts; /* inventory order; run and check-only hosts */
    size_t nhosts;
    size_t nrun;      /* hosts the task runs on (not check_only) */
    bool confirm;     /* the stage or the task asks for confirmation */
    long wait_lock_s; /* 0: a held lock refuses the run */
    bool check_locks; /* preflight reports every held lock (check) */
    bool input;       /* plan_opts.input */
    /* A detached run or a query about one (host_script.h's job, job_run,
     * hist): set by the command after plan_build(), borrowed. */
    const char *job, *job_run, *hist;
};

/* Selects the hosts and checks that their scripts fit. When the task's run_on
 * narrows the stage selection (--limit, --role) and no --release pins the
 * release, the other hosts of that selection are in the plan too, as
 * check_only: the release agreement spans the whole stage selection, so a
 * migration never runs while the stage is half deployed. Errors are usage or
 * configuration errors (exit 2): a --limit that matches no host, no or two
 * primaries, arguments to a task with `args: none`, an empty selection, an
 * env name the script reserves (oneoff_*), a command line too long for
 * some host (SCRIPT_COMMAND_LINE_MAX), a container runtime without its
 * container, with --release, or with a literal env value of several lines
 * (an engine's env file holds one line per value). */
int plan_build(struct plan *p, const struct inventory *inv,
               const struct task *t, const struct plan_opts *o, char *err);
void plan_release(struct plan *p);

/* Host selection alone (used by `oneoff hosts`): fills sel with pointers
 * into inv, in inventory order. */
int plan_select(const struct inventory *inv, const struct task *t,
                const struct plan_opts *o, const struct host ***sel,
                size_t *nsel, char *err);

void plan_opts_release(struct plan_opts *o);

/* What kind of run p is, as the hosts' history names it (its "kind"):
 * "console" for a task on a terminal (oneoff console), else "run". The
 * history writer's hook for consoles: a console goes through the same plan,
 * runner and host script as any run. */
const char *plan_kind(const struct plan *p);

/* A rolling run: batch sizes in order (the last repeats) and the number of
 * failures after which no new host is started. */
struct rollout {
    size_t *sizes;
    size_t nsizes;
    size_t max_fail; /* SIZE_MAX: no limit */
};

/* Parses "1,25%,100%" and "N" or "N%" for nhosts hosts; either may be NULL.
 * Percentages round up and are at least 1. */
int rollout_parse(const char *batch, const char *max_fail, size_t nhosts,
                  struct rollout *out, char *err);
void rollout_release(struct rollout *r);

/* What a SCRIPT_RUN command line carries for the history: the start
 * line's head (history_start_head(), shorter than HISTORY_LINE_MAX -
 * HISTORY_TAIL_MAX) and the end line's opening (history_end_prefix() of
 * the run id and the host's name). NULL members: empty. */
struct plan_history {
    const char *start_head;
    const char *end_prefix;
};

/* The command line for ph: the script with its data prelude, in mode, with
 * this run's nonce (SCRIPT_NONCE_LEN hex digits), run id and lock holder
 * line (cut to SCRIPT_RUN_ID_MAX and SCRIPT_HOLDER_MAX bytes; plan_build()
 * checked that the line fits a host with values that long, and the
 * history's parts as long as they can be). The task's arguments and hist
 * (may be NULL) follow in SCRIPT_RUN mode only; a check-only host always
 * gets SCRIPT_CHECK. With input set, the script goes to *input, the bytes
 * the command's stdin must start with (script_compose_boot()), unless the
 * task has a terminal (*input NULL); with input NULL it is all in the
 * line. Caller frees (both). */
char *plan_command(const struct plan *p, const struct plan_host *ph,
                   enum script_mode mode, const char *nonce, const char *run_id,
                   const char *lock_holder, const struct plan_history *hist,
                   char **input);

/* What --dry-run shows for ph: its script, with placeholders for what each
 * run makes new (nonce, run id, lock holder). Composed on demand, not kept
 * per host: a plan may hold thousands. Caller frees. */
char *plan_dry_run_script(const struct plan *p, const struct plan_host *ph);

/* The command line that appends note (one history line, no newline) to
 * ph's history file (SCRIPT_HISTORY_NOTE), with this nonce; input as for
 * plan_command(). Caller frees. */
char *plan_note_command(const struct plan *p, const struct plan_host *ph,
                        const char *nonce, const char *note, char **input);

#endif
