/*
 * once.h - the `once` gate: a task marked `once: true` runs on a stage only
 * if the history of the hosts it runs on has no run of the same task
 * content (sha256) on that stage that succeeded, or that started and
 * never ended ("unknown": it may have done its work).
 *
 * The preflight report of a `once` task carries the history lines that
 * name its digest and the end lines of their runs (host_script.sh reads
 * the file in the shell, no process; the client parses and merges them),
 * so the check costs no connection and no process of its own.
 */
#ifndef ONEOFF_ONCE_H
#define ONEOFF_ONCE_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/gate.h"
#include "oneoff/history.h"
#include "oneoff/preflight.h"

struct once_host {
    const char *name;
    const struct preflight *pf; /* NULL: not reported (not judged) */
};

struct once_input {
    const struct once_host *hosts;
    size_t n;
    const char *stage;
    const char *task;
    const char *sha256;
    bool force; /* --force: say what ran, and go on */
};

/* Decides for a run the gate let go: when the task already ran, g becomes
 * GATE_ONCE (exit 4) with its reason and detail (the earlier run: who,
 * when, release, reason), unless in->force, when g stays GATE_GO and
 * *note says what is overridden. Bad history lines never refuse: each
 * becomes a line of *warnings. *note and *warnings (NULL when none) are
 * the caller's to free. Values from hosts are escaped. */
void once_decide(const struct once_input *in, struct gate_result *g,
                 char **note, char **warnings);

/* One line about run r: "run ID by OPERATOR <EMAIL> at AT, release R
 * (revision V), reason: TEXT, on HOST (outcome), ...", escaped. Caller
 * frees. */
char *once_describe(const struct history_run *r);

#endif
