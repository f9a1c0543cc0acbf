/*
 * runner_gates.h - the gates a run passes after the go/no-go of gate.h,
 * for the runner (runner.c): `once` and the promotion gate. They need what
 * only the preflight knows (the history lines a `once` task's report
 * carried, the revision the hosts agreed on).
 */
#ifndef ONEOFF_RUNNER_GATES_H
#define ONEOFF_RUNNER_GATES_H

#include <stddef.h>

#include "oneoff/gate.h"
#include "oneoff/host_work.h"

/* After gate_decide() (not in check mode): gh[i] is the gate's view of
 * host i and w[i] its worker (joined: its report may be read). When gate
 * says go, a `once` task is judged by its hosts' history, then a stage
 * with a promotion input (s->opts->promotion) by the stage before's; the
 * first refusal replaces *gate. What is overridden or warned is said on
 * s->out. */
void runner_later_gates(struct run_shared *s, const struct worker_host *w,
                        size_t n, const struct gate_host *gh,
                        struct gate_result *gate);

#endif
