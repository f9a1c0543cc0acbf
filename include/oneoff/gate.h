/*
 * gate.h - the go/no-go decision after the preflight, as a pure function
 * of what the hosts reported: no threads, no I/O, testable without sshd.
 *
 * In order: a set-up failure on any host stops the run (exit 2); hosts
 * that disagree on the release id or revision stop it (exit 4, with a
 * host/release/revision table); a release whose copy of the task file
 * differs from ours stops it unless drift is allowed (exit 4, with both
 * digests); a held lock stops it (exit 4, naming the holder). Hosts that
 * could not be reached are not in the way of the others. Check-only hosts
 * (plan.h) count for the set-up and the release agreement only.
 */
#ifndef ONEOFF_GATE_H
#define ONEOFF_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/history.h"
#include "oneoff/preflight.h"
#include "oneoff/util.h"

struct gate_host {
    const char *name;
    bool reported;     /* its preflight report arrived: fields below set */
    bool check_only;   /* only its release is judged: the task runs elsewhere */
    bool setup_failed; /* reached, but its set-up failed */
    const char *release_id;
    const char *revision;
    enum task_state task;
    const char *task_sha256; /* the release's digest, when it differs */
    bool lock_held;
    const char *lock_holder;
};

struct gate_input {
    const struct gate_host *hosts;
    size_t n;
    bool check; /* `oneoff check`: every host is judged for itself */
    bool allow_drift;
    const char *task_name;
    const char *task_path;   /* tasks/NAME.yml */
    const char *task_sha256; /* ours; "" for an ad-hoc command */
};

enum gate_verdict {
    GATE_GO,
    GATE_SETUP_FAILED,
    GATE_RELEASE_DRIFT,
    GATE_TASK_DRIFT,
    GATE_LOCKED,
    GATE_ONCE,      /* a `once` task already ran on the stage (once.h) */
    GATE_PROMOTION, /* gate_promotion(): not passed on the stage before */
};

struct gate_result {
    enum gate_verdict verdict;
    int exit_code;        /* 0 for GATE_GO, else EXIT_USAGE or EXIT_REFUSED */
    bool release_drift;   /* the hosts disagree (also said in check mode) */
    char reason[ERR_MAX]; /* one line, for run.json and the log; "" for go */
    char *detail;         /* what the operator is shown, or NULL */
};

/* Decides; out is cleared first. Values quoted from hosts are escaped. */
void gate_decide(const struct gate_input *in, struct gate_result *out);

/* The promotion gate of a stage with `promote_from: FROM`: the same task
 * content (sha256), on the same release revision, must have succeeded on
 * every host it ran on in FROM, as FROM's hosts' history says (one such
 * run is enough; history_lookup()). FROM was gated by its own predecessor
 * when it ran, so only the direct predecessor is read. */
struct promotion_input {
    const char *from_stage;
    const char *to_stage;
    const char *task_name;
    const char *task_sha256;
    const char *revision;          /* what this stage's hosts reported */
    const struct history *from;    /* FROM's hosts' history, merged */
    const char *const *unread;     /* FROM's hosts whose history could not */
    const char *const *unread_why; /* be read, and why */
    size_t nunread;
    bool skip; /* --skip-gate: go, and say so */
};

/* Go (GATE_GO, exit 0), or GATE_PROMOTION (exit 4) with a reason that says
 * what is missing: never run there, failed there, started there and never
 * ended, succeeded there on another revision, or a host of FROM whose
 * history could not be read. With skip, the verdict is GATE_GO and the
 * reason says what was skipped ("" when nothing was missing). out is
 * cleared first; values from hosts are escaped. */
void gate_promotion(const struct promotion_input *in, struct gate_result *out);
void gate_result_release(struct gate_result *r);
const char *gate_verdict_name(enum gate_verdict v);

#endif
