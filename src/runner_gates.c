/*
 * runner_gates.c - the gates judged after gate_decide() said go, from what
 * the preflight gathered: a `once` task's history on the hosts it runs on
 * (once.h), then the promotion gate with the revision the hosts agreed on
 * (gate_promotion(), promotion.h). See runner_gates.h.
 */
#include "oneoff/runner_gates.h"

#include <stdlib.h>
#include <string.h>

#include "oneoff/once.h"

/* After a go: the promotion gate, with the revision the hosts agreed on. */
static void promotion_gate(struct run_shared *s, size_t n,
                           const struct gate_host *gh, struct gate_result *gate)
{
    struct promotion_input pin;
    struct gate_result res;
    const char *revision = NULL;

    if (s->opts->promotion == NULL)
        return;
    for (size_t i = 0; i < n && revision == NULL; i++)
        if (gh[i].reported)
            revision = gh[i].revision;
    if (revision == NULL)
        return; /* no host reported: nothing will run */
    pin = *s->opts->promotion;
    pin.revision = revision;
    gate_promotion(&pin, &res);
    if (res.verdict != GATE_GO) {
        gate_result_release(gate);
        *gate = res;
        return;
    }
    if (res.reason[0])
        output_note(&s->out, "%s", res.reason);
    gate_result_release(&res);
}

/* A `once` task: what the hosts' histories say of it (once.h). */
static void once_gate(struct run_shared *s, const struct worker_host *w,
                      size_t n, const struct gate_host *gh,
                      struct gate_result *gate)
{
    struct once_host *oh = xcalloc(n ? n : 1, sizeof(*oh));
    struct once_input in;
    char *note = NULL, *warnings = NULL;

    for (size_t i = 0; i < n; i++) {
        oh[i].name = gh[i].name;
        oh[i].pf = gh[i].reported ? &w[i].pf : NULL;
    }
    memset(&in, 0, sizeof(in));
    in.hosts = oh;
    in.n = n;
    in.stage = s->plan->inv->stage;
    in.task = s->plan->task->name;
    in.sha256 = s->plan->task->sha256;
    in.force = s->opts->force;
    once_decide(&in, gate, &note, &warnings);
    if (warnings)
        output_note(&s->out, "%s", warnings);
    if (note)
        output_note(&s->out, "%s", note);
    free(warnings);
    free(note);
    free(oh);
}

void runner_later_gates(struct run_shared *s, const struct worker_host *w,
                        size_t n, const struct gate_host *gh,
                        struct gate_result *gate)
{
    if (gate->verdict == GATE_GO && s->plan->task->once)
        once_gate(s, w, n, gh, gate);
    if (gate->verdict == GATE_GO)
        promotion_gate(s, n, gh, gate);
}
