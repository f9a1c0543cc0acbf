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
