/*
 * gate.c - go or no-go after the preflight (see gate.h).
 */
#include "oneoff/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/exit_codes.h"
#include "oneoff/text.h"

#define DETAIL_MAX (1u << 20)

static const char *const verdict_names[] = {
    [GATE_GO] = "go",
    [GATE_SETUP_FAILED] = "setup-failed",
    [GATE_RELEASE_DRIFT] = "release-drift",
    [GATE_TASK_DRIFT] = "task-drift",
    [GATE_LOCKED] = "locked",
    [GATE_ONCE] = "once",
    [GATE_PROMOTION] = "promotion",
};

const char *gate_verdict_name(enum gate_verdict v)
{
    return verdict_names[v];
}

/* What the operator is shown: at most TABLE_ROWS rows of at most
 * VALUE_MAX bytes per cell, so a table always fits in DETAIL_MAX and no
 * append below can fail (BUF_MUST). run.json has every host. */
#define TABLE_ROWS 50
#define VALUE_MAX 512

/* Appends s escaped, so that nothing a host reported can steer the
 * terminal, and cut to VALUE_MAX. */
static void add_esc(struct buf *b, const char *s)
{
    char v[VALUE_MAX];

    BUF_MUST(buf_adds(b, text_escape_msg(s && *s ? s : "-", v, sizeof(v))));
}

static void esc_into(char *out, size_t n, const char *s)
{
    text_escape_msg(s, out, n);
}

/* Starts row k of a table; false past TABLE_ROWS (said once). */
static bool row(struct buf *b, size_t k, size_t total, int w, const char *name)
{
    char v[VALUE_MAX];

    if (k == TABLE_ROWS)
        BUF_MUST(buf_addf(b, "  ... and %zu more (run.json has every host)\n",
                          total - TABLE_ROWS));
    if (k >= TABLE_ROWS)
        return false;
    BUF_MUST(buf_addf(b, "  %-*s  ", w, text_escape_msg(name, v, sizeof(v))));
    return true;
}

static int name_width(const struct gate_input *in)
{
    size_t w = 4;

    for (size_t i = 0; i < in->n; i++)
        if (in->hosts[i].reported && strlen(in->hosts[i].name) > w)
            w = strlen(in->hosts[i].name);
    return w > 32 ? 32 : (int)w;
}

static bool release_drift(const struct gate_input *in)
{
    const struct gate_host *first = NULL;

    for (size_t i = 0; i < in->n; i++) {
        const struct gate_host *h = &in->hosts[i];
        if (!h->reported)
            continue;
        if (first == NULL)
            first = h;
        else if (strcmp(h->release_id, first->release_id) ||
                 strcmp(h->revision, first->revision))
            return true;
    }
    return false;
}

static void drift_table(const struct gate_input *in, struct buf *b)
{
    int w = name_width(in);
    size_t k = 0, total = 0;

    for (size_t i = 0; i < in->n; i++)
        total += in->hosts[i].reported;
    BUF_MUST(buf_adds(b, "hosts disagree on the release (a deploy in "
                         "progress, or a host left behind); nothing was "
                         "run:\n"));
    for (size_t i = 0; i < in->n; i++) {
        const struct gate_host *h = &in->hosts[i];
        if (!h->reported || !row(b, k++, total, w, h->name))
            continue;
        add_esc(b, h->release_id);
        BUF_MUST(buf_adds(b, "  "));
        add_esc(b, h->revision);
        if (h->check_only)
            BUF_MUST(buf_adds(b, "  (checked only)"));
        BUF_MUST(buf_addc(b, '\n'));
    }
}

static void task_drift_table(const struct gate_input *in, struct buf *b)
{
    int w = name_width(in);
    size_t k = 0, total = 0;

    for (size_t i = 0; i < in->n; i++)
        total += in->hosts[i].reported && !in->hosts[i].check_only &&
                 in->hosts[i].task == TASK_DIFFERS;
    /* the path is the local file's name, the digest ours: both known */
    BUF_MUST(buf_addf(b,
                      "%s differs from the deployed release's copy; nothing "
                      "was run (--allow-drift runs it anyway):\n  %-*s  %s\n",
                      in->task_path, w, "here", in->task_sha256));
    for (size_t i = 0; i < in->n; i++) {
        const struct gate_host *h = &in->hosts[i];
        if (!h->reported || h->check_only || h->task != TASK_DIFFERS ||
            !row(b, k++, total, w, h->name))
            continue;
        add_esc(b, h->task_sha256);
        BUF_MUST(buf_addc(b, '\n'));
    }
}

static const struct gate_host *first_locked(const struct gate_input *in)
{
    for (size_t i = 0; i < in->n; i++)
        if (in->hosts[i].reported && !in->hosts[i].check_only &&
            in->hosts[i].lock_held)
            return &in->hosts[i];
    return NULL;
}

static bool any(const struct gate_input *in, enum task_state st,
                bool setup_failed)
{
    for (size_t i = 0; i < in->n; i++) {
        const struct gate_host *h = &in->hosts[i];
        if (setup_failed ? h->setup_failed
                         : (h->reported && !h->check_only && h->task == st))
            return true;
    }
    return false;
}

static void detail_done(struct gate_result *out, struct buf *b)
{
    if (b->len && b->data[b->len - 1] == '\n')
        b->data[--b->len] = '\0';
    out->detail = b->len ? buf_detach(b) : NULL;
    buf_release(b);
}

void gate_decide(const struct gate_input *in, struct gate_result *out)
{
    struct buf b = BUF_INIT(DETAIL_MAX);
    const struct gate_host *locked = first_locked(in);

    memset(out, 0, sizeof(*out));
    out->release_drift = release_drift(in);
    if (any(in, TASK_STATE_NONE, true)) {
        out->verdict = GATE_SETUP_FAILED;
        out->exit_code = EXIT_USAGE;
        snprintf(out->reason, sizeof(out->reason),
                 "the preflight failed on some host; nothing was run");
    } else if (out->release_drift) {
        out->verdict = GATE_RELEASE_DRIFT;
        out->exit_code = EXIT_REFUSED;
        snprintf(out->reason, sizeof(out->reason),
                 "the hosts disagree on the release; nothing was run");
        drift_table(in, &b);
    } else if (!in->check && !in->allow_drift && any(in, TASK_DIFFERS, false)) {
        out->verdict = GATE_TASK_DRIFT;
        out->exit_code = EXIT_REFUSED;
        snprintf(out->reason, sizeof(out->reason),
                 "the release's copy of %s differs from this one; nothing "
                 "was run (--allow-drift to run it anyway)",
                 in->task_path);
        task_drift_table(in, &b);
    } else if (locked) {
        char holder[ERR_MAX / 2];
        esc_into(holder, sizeof(holder),
                 locked->lock_holder && *locked->lock_holder
                     ? locked->lock_holder
                     : "another run");
        out->verdict = GATE_LOCKED;
        out->exit_code = EXIT_REFUSED;
        if (in->check)
            snprintf(out->reason, sizeof(out->reason),
                     "a task lock is held on %s by %s", locked->name, holder);
        else
            snprintf(out->reason, sizeof(out->reason),
                     "task '%s' is locked on %s by %s; nothing was run "
                     "(--wait-lock D to wait)",
                     in->task_name, locked->name, holder);
    }
    if (in->check && out->verdict == GATE_RELEASE_DRIFT) {
        /* check reports drift but judges every host for itself */
        buf_reset(&b);
        BUF_MUST(buf_adds(&b, "the hosts disagree on the release"));
    }
    detail_done(out, &b);
}

void gate_result_release(struct gate_result *r)
{
    free(r->detail);
    memset(r, 0, sizeof(*r));
}

/* ---- the promotion gate ------------------------------------------------- */

/* The first host of r that did not succeed, and how it ended. */
static void first_bad_host(const struct history_run *r, char *out, size_t n)
{
    char name[128], sig[64];

    snprintf(out, n, "?");
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct history_host *h = &r->hosts[i];
        text_escape_msg(h->host, name, sizeof(name));
        if (h->ended_at == NULL) {
            snprintf(out, n, "%s (started %s, never ended)", name,
                     h->started_at ? h->started_at : "?");
            return;
        }
        if (h->outcome == HIST_SUCCEEDED)
            continue;
        if (h->signal)
            snprintf(out, n, "%s (%s, signal %s)", name,
                     history_outcome_name(h->outcome),
                     text_escape_msg(h->signal, sig, sizeof(sig)));
        else if (h->exit_code >= 0)
            snprintf(out, n, "%s (%s, exit %d)", name,
                     history_outcome_name(h->outcome), h->exit_code);
        else
            snprintf(out, n, "%s (%s)", name, history_outcome_name(h->outcome));
        return;
    }
}

/* A run of the same task with other content, for "never run there". */
static const struct history_run *other_content(const struct promotion_input *in)
{
    const struct history_run *best = NULL;

    for (size_t i = 0; i < in->from->n; i++) {
        const struct history_run *r = &in->from->runs[i];
        if (!r->has_start || r->task == NULL || r->sha256 == NULL ||
            strcmp(r->task, in->task_name) != 0 ||
            (r->stage && strcmp(r->stage, in->from_stage) != 0))
            continue;
        if (best == NULL || strcmp(r->run, best->run) > 0)
            best = r;
    }
    return best;
}

static void missing(const struct promotion_input *in, char *why, size_t n)
{
    struct history_query q = {in->task_sha256, in->from_stage, in->revision};
    const struct history_run *r = NULL, *other;
    enum history_verdict v = history_lookup(in->from, &q, &r);
    char a[128], b[128], run[96], bad[ERR_MAX / 2];

    why[0] = '\0';
    if (in->nunread) {
        snprintf(why, n,
                 "the history of host %s of stage '%s' could not be "
                 "read (%s)",
                 text_escape_msg(in->unread[0], a, sizeof(a)), in->from_stage,
                 text_escape_msg(in->unread_why && in->unread_why[0]
                                     ? in->unread_why[0]
                                     : "unknown",
                                 b, sizeof(b)));
        return;
    }
    if (r)
        text_escape_msg(r->run, run, sizeof(run));
    switch (v) {
    case HISTORY_SUCCEEDED:
        return;
    case HISTORY_NEVER:
        other = other_content(in);
        if (other)
            snprintf(why, n,
                     "never run on stage '%s' with this content (sha256 "
                     "%.12s); it ran there as sha256 %.12s (run %s)",
                     in->from_stage, in->task_sha256,
                     text_escape_msg(other->sha256, a, sizeof(a)),
                     text_escape_msg(other->run, b, sizeof(b)));
        else
            snprintf(why, n, "never run on stage '%s'", in->from_stage);
        return;
    case HISTORY_OTHER_REVISION:
        snprintf(why, n,
                 "it succeeded on stage '%s' at revision %s (run %s), not "
                 "at this release's revision %s",
                 in->from_stage,
                 text_escape_msg(r->revision ? r->revision : "-", a, sizeof(a)),
                 run, text_escape_msg(in->revision, b, sizeof(b)));
        return;
    case HISTORY_UNKNOWN:
        first_bad_host(r, bad, sizeof(bad));
        snprintf(why, n,
                 "run %s on stage '%s' started and never ended on %s: its "
                 "outcome is unknown",
                 run, in->from_stage, bad);
        return;
    case HISTORY_FAILED:
        first_bad_host(r, bad, sizeof(bad));
        snprintf(why, n, "it failed on stage '%s': run %s on %s",
                 in->from_stage, run, bad);
        return;
    }
}

void gate_promotion(const struct promotion_input *in, struct gate_result *out)
{
    char why[ERR_MAX - 128];

    memset(out, 0, sizeof(*out));
    missing(in, why, sizeof(why));
    if (why[0] == '\0')
        return;
    if (in->skip) {
        snprintf(out->reason, sizeof(out->reason),
                 "promotion gate skipped (--skip-gate): %s", why);
        return;
    }
    out->verdict = GATE_PROMOTION;
    out->exit_code = EXIT_REFUSED;
    snprintf(out->reason, sizeof(out->reason),
             "task '%s' has not passed stage '%s' before '%s': %s; nothing "
             "was run (--skip-gate --reason TEXT overrides)",
             in->task_name, in->from_stage, in->to_stage, why);
}
