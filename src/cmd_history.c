/*
 * cmd_history.c - `oneoff history -s STAGE [TASK]`: what ran on the
 * stage's hosts, from their history files, merged into one table.
 *
 * Every selected host's history.jsonl is read in parallel
 * (history_fetch.c); the runs are merged across hosts (history.c) and
 * shown newest first, one row per run with its hosts and their outcomes. A
 * host that could not be read is named, and so is every line that did not
 * parse: the table is what could be read, never a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/history.h"
#include "oneoff/history_fetch.h"
#include "oneoff/inventory.h"
#include "oneoff/text.h"

#define DEFAULT_RUNS 20

int command_history_read(const struct options *o, struct history *h,
                         int *unreadable)
{
    struct stage_hosts sh;
    char err[ERR_MAX];
    int rc = EXIT_USAGE, bad;

    history_init(h);
    *unreadable = 0;
    if (command_stage_open(o, o->stage, "true", &o->plan, &sh, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    bad = history_fetch(&sh.plan, sh.tps.per_host, o->parallel, h, err);
    if (bad < 0) {
        fprintf(stderr, "oneoff: %s\n", err);
    } else {
        *unreadable = bad;
        rc = EXIT_OK;
    }
    command_stage_close(&sh);
    return rc;
}

void command_history_problems(const struct history *h)
{
    char qh[128], qw[ERR_MAX];

    for (size_t i = 0; i < h->nproblems; i++) {
        const struct history_problem *p = &h->problems[i];
        text_escape_msg(p->host, qh, sizeof(qh));
        text_escape_msg(p->what, qw, sizeof(qw));
        if (p->line)
            fprintf(stderr,
                    "oneoff: history of host '%s', line %zu skipped: %s\n", qh,
                    p->line, qw);
        else
            fprintf(stderr, "oneoff: history of host '%s' not read: %s\n", qh,
                    qw);
    }
}

/* "h1 succeeded, h2 started, never ended" */
static void print_hosts(const struct history_run *r)
{
    char q[128];

    for (size_t i = 0; i < r->nhosts; i++) {
        const struct history_host *hh = &r->hosts[i];
        printf("%s%s %s", i ? ", " : "",
               text_escape_msg(hh->host, q, sizeof(q)),
               hh->ended_at ? history_outcome_name(hh->outcome)
                            : "started, never ended");
    }
}

/* A run of another stage that skipped this stage's gate (a mark, no run
 * here): "h1, h2 / skipped by alice for production: REASON". */
static void print_gate_skipped(const struct history_run *r)
{
    char q[3][256];

    for (size_t i = 0; i < r->skipped_on.n; i++)
        printf("%s%s", i ? ", " : "",
               text_escape_msg(r->skipped_on.v[i], q[0], sizeof(q[0])));
    printf(" / gate skipped by %s for %s: %s",
           text_escape_msg(r->operator_name ? r->operator_name : "?", q[0],
                           sizeof(q[0])),
           text_escape_msg(r->skipped_for, q[1], sizeof(q[1])),
           text_escape_msg(r->reason ? r->reason : "-", q[2], sizeof(q[2])));
}

static const char *run_outcome_word(const struct history_run *r)
{
    enum history_outcome o = history_run_outcome(r);

    if (!r->has_start && r->skipped_for)
        return "gate skipped";
    return o == HIST_UNKNOWN ? "never ended" : history_outcome_name(o);
}

static void print_table(const struct history_run *const *runs, size_t n)
{
    char q[5][256];

    printf("%-23s  %-19s  %-16s  %-10s  %-16s  %-11s  %s\n", "RUN",
           "STARTED (UTC)", "TASK", "OPERATOR", "RELEASE", "OUTCOME",
           "HOSTS / REASON");
    for (size_t i = 0; i < n; i++) {
        const struct history_run *r = runs[i];
        char at[20] = "-";
        if (r->at)
            snprintf(at, sizeof(at), "%.10s %.8s", r->at,
                     strlen(r->at) > 11 ? r->at + 11 : "");
        printf(
            "%-23s  %-19s  %-16s  %-10s  %-16s  %-11s  ",
            text_escape_msg(r->run, q[0], sizeof(q[0])), at,
            text_escape_msg(r->task ? r->task : "(exec)", q[1], sizeof(q[1])),
            text_escape_msg(r->operator_name ? r->operator_name : "-", q[2],
                            sizeof(q[2])),
            text_escape_msg(r->release ? r->release : "-", q[3], sizeof(q[3])),
            run_outcome_word(r));
        if (!r->has_start && r->skipped_for) {
            print_gate_skipped(r);
            printf("\n");
            continue;
        }
        print_hosts(r);
        if (r->reason)
            printf(" / %s", text_escape_msg(r->reason, q[4], sizeof(q[4])));
        printf("\n");
    }
}

/* --limit N: how many runs; any other --limit selects hosts. */
static long take_run_limit(struct options *o)
{
    struct strlist *l = &o->plan.limits;
    char *end = NULL;
    long n;

    if (l->n != 1 || l->v[0][0] < '0' || l->v[0][0] > '9')
        return DEFAULT_RUNS;
    n = strtol(l->v[0], &end, 10);
    if (*end || n < 1)
        return DEFAULT_RUNS;
    strlist_clear(l);
    return n;
}

static int history_run(struct options *o)
{
    struct history h;
    const struct history_run **rows;
    const char *task = NULL;
    long limit;
    size_t n = 0;
    int unreadable, rc;

    if (o->stage == NULL)
        return command_usage_error(&cmd_history, "no stage given (-s STAGE)");
    if (o->positional.n > 1)
        return command_usage_error(&cmd_history, "one task at most");
    if (o->positional.n)
        task = o->positional.v[0];
    limit = take_run_limit(o);
    rc = command_history_read(o, &h, &unreadable);
    if (rc) {
        history_release(&h);
        return rc;
    }
    history_sort(&h);
    rows = xcalloc(h.n ? h.n : 1, sizeof(*rows));
    for (size_t i = 0; i < h.n && (long)n < limit; i++) {
        const struct history_run *r = &h.runs[i];
        if (r->stage && strcmp(r->stage, o->stage) != 0)
            continue;
        if (task && (r->task == NULL || strcmp(r->task, task) != 0))
            continue;
        rows[n++] = r;
    }
    if (o->json) {
        char *js = history_json(&h, rows, n);
        printf("%s\n", js);
        free(js);
    } else if (n == 0) {
        printf("no runs%s%s%s in the history of stage '%s'\n",
               task ? " of task '" : "", task ? task : "", task ? "'" : "",
               o->stage);
    } else {
        print_table(rows, n);
    }
    command_history_problems(&h);
    free(rows);
    history_release(&h);
    return unreadable ? EXIT_UNREACHABLE : EXIT_OK;
}

const struct command cmd_history = {
    .name = "history",
    .usage = "-s STAGE [TASK] [--limit N] [--json] [OPTIONS]",
    .summary = "what ran on a stage, from the hosts' own history",
    .help = "Reads app_dir/shared/.oneoff/history.jsonl on every host of "
            "the stage, in\nparallel, and prints one table, newest run "
            "first: who ran what, when,\non which release, why, and how it "
            "ended on each host ('started, never\nended' when a host has no "
            "end line; 'gate skipped' for a run of a later\nstage that "
            "skipped this stage's promotion gate). --limit N shows the\n"
            "newest N runs (default 20); other --limit values select hosts. "
            "Hosts\nthat could not be read and lines that do not parse are "
            "named on stderr\n(exit 3 when a host could not be read).",
    .opts = OPT_STAGE | OPT_SELECT | OPT_SSH | OPT_JSON,
    .run = history_run,
};
