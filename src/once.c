/*
 * once.c - the `once` gate (see once.h): history lines from the preflight
 * reports, merged, looked up, and said in words.
 */
#include "oneoff/once.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/exit_codes.h"
#include "oneoff/text.h"

#define DESCRIBE_MAX 4096
#define WARN_MAX 8192

/* Appends s escaped, or "-" for NULL or "". */
static void add_esc(struct buf *b, const char *s)
{
    if (s == NULL || *s == '\0')
        s = "-";
    if (text_escape(b, s, strlen(s))) {
        /* b is full: the line is cut, which a description may be */
    }
}

char *once_describe(const struct history_run *r)
{
    struct buf b = BUF_INIT(DESCRIBE_MAX);
    int rc = 0;

    rc |= buf_adds(&b, "run ");
    add_esc(&b, r->run);
    rc |= buf_adds(&b, " by ");
    add_esc(&b, r->operator_name);
    if (r->email && *r->email) {
        rc |= buf_adds(&b, " <");
        add_esc(&b, r->email);
        rc |= buf_adds(&b, ">");
    }
    rc |= buf_adds(&b, " at ");
    add_esc(&b, r->at);
    rc |= buf_adds(&b, ", release ");
    add_esc(&b, r->release);
    rc |= buf_adds(&b, " (revision ");
    add_esc(&b, r->revision);
    rc |= buf_adds(&b, "), reason: ");
    add_esc(&b, r->reason);
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct history_host *h = &r->hosts[i];
        rc |= buf_adds(&b, i ? ", " : "; on ");
        add_esc(&b, h->host);
        rc |= buf_addf(&b, " (%s)",
                       h->ended_at ? history_outcome_name(h->outcome)
                                   : "started, never ended");
    }
    (void)rc; /* a full buffer cuts the description, nothing else */
    return buf_detach(&b);
}

static void warn(struct buf *w, const char *host, size_t line, const char *what)
{
    char qh[128], qw[512];

    if (buf_addf(w, "%shistory of host '%s'%s%.0zu: %s", w->len ? "\n" : "",
                 text_escape_msg(host, qh, sizeof(qh)), line ? ", line " : "",
                 line, text_escape_msg(what, qw, sizeof(qw)))) {
        /* too many to list: the first ones are said */
    }
}

void once_decide(const struct once_input *in, struct gate_result *g,
                 char **note, char **warnings)
{
    struct history h;
    struct history_query q;
    struct buf w = BUF_INIT(WARN_MAX);
    const struct history_run *run = NULL;
    enum history_verdict v;
    char *desc, qt[128], qs[128];

    *note = NULL;
    *warnings = NULL;
    history_init(&h);
    for (size_t i = 0; i < in->n; i++) {
        const struct preflight *pf = in->hosts[i].pf;
        if (pf == NULL)
            continue;
        if (pf->history == PF_HISTORY_UNREADABLE)
            warn(&w, in->hosts[i].name, 0, "the file cannot be read");
        if (pf->history_cut)
            warn(&w, in->hosts[i].name, 0,
                 "too long: only its first 16 MiB were read");
        history_add_text(&h, in->hosts[i].name, buf_str(&pf->history_text),
                         pf->history_text.len);
    }
    for (size_t i = 0; i < h.nproblems; i++)
        warn(&w, h.problems[i].host, h.problems[i].line, h.problems[i].what);
    if (w.len)
        *warnings = buf_detach(&w);
    buf_release(&w);
    memset(&q, 0, sizeof(q));
    q.sha256 = in->sha256;
    q.stage = in->stage;
    v = history_lookup(&h, &q, &run);
    if (v != HISTORY_SUCCEEDED && v != HISTORY_UNKNOWN) {
        history_release(&h);
        return;
    }
    desc = once_describe(run);
    text_escape_msg(in->task, qt, sizeof(qt));
    text_escape_msg(in->stage, qs, sizeof(qs));
    if (in->force) {
        *note = xasprintf("--force: task '%s' (once) %s on stage '%s' "
                          "before, and runs again: %s",
                          qt,
                          v == HISTORY_SUCCEEDED ? "succeeded"
                                                 : "started and never ended",
                          qs, desc);
    } else {
        g->verdict = GATE_ONCE;
        g->exit_code = EXIT_REFUSED;
        if (v == HISTORY_SUCCEEDED)
            snprintf(g->reason, sizeof(g->reason),
                     "task '%s' is 'once' and this content already "
                     "succeeded on stage '%s'; nothing was run (--force "
                     "runs it again)",
                     qt, qs);
        else
            snprintf(g->reason, sizeof(g->reason),
                     "task '%s' is 'once' and a run of this content on "
                     "stage '%s' started and never ended: its outcome is "
                     "unknown, it may have done its work; nothing was run "
                     "(check the hosts, then --force runs it again)",
                     qt, qs);
        free(g->detail);
        g->detail = xasprintf("%s\nearlier: %s", g->reason, desc);
    }
    free(desc);
    history_release(&h);
}
