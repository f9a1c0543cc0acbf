/*
 * cmd_promote.c - `oneoff promote TASK --from STAGE --to STAGE`: the task
 * on the first stage and, only if it succeeded on every host there, on the
 * second, as two ordinary runs (each with its preflight, gates,
 * confirmation, logs and run.json), then one combined summary and, with
 * --report FILE, one combined report holding both run records.
 *
 * Each stage's run writes its record to a private temporary file as its
 * --report; the combined report is made from those two files and the
 * temporary files are removed.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/commands.h"
#include "oneoff/inventory.h"
#include "oneoff/record.h"
#include "oneoff/task.h"
#include "oneoff/text.h"

#define PROMOTE_REPORT_FORMAT 1

/* One stage of the promotion. */
struct leg {
    const char *stage;
    char tmp[4096]; /* its record, written by the run as its --report */
    bool ran;       /* the run was started (its record may exist) */
    int code;
    json_t *record; /* the record read back, or NULL */
};

static int leg_tmp(struct leg *l, char *err)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    snprintf(l->tmp, sizeof(l->tmp), "%s/oneoff-promote-XXXXXX",
             dir && *dir ? dir : "/tmp");
    fd = mkstemp(l->tmp);
    if (fd < 0) {
        l->tmp[0] = '\0';
        return errf(err, "cannot make a temporary file for the record");
    }
    close(fd);
    return 0;
}

static void leg_release(struct leg *l)
{
    if (l->tmp[0])
        unlink(l->tmp);
    json_decref(l->record);
}

/* Runs t on l->stage with o's options, its record going to l->tmp. */
static int leg_run(struct options *o, struct task *t, struct leg *l,
                   bool skip_gate, char *err)
{
    char *stage = o->stage, *report = o->report;
    bool skip = o->skip_gate;

    if (!o->dry_run && leg_tmp(l, err))
        return l->code = EXIT_USAGE;
    o->stage = (char *)l->stage;
    o->report = o->dry_run ? NULL : l->tmp;
    o->skip_gate = skip_gate;
    l->ran = true;
    l->code = command_run_task(o, t, NULL);
    o->stage = stage;
    o->report = report;
    o->skip_gate = skip;
    if (!o->dry_run)
        l->record = json_load_file(l->tmp, 0, NULL);
    return l->code;
}

/* "2 ok, 1 checked": the hosts of a record by status, in record order. */
static void host_counts(const json_t *rec, char *out, size_t n)
{
    const json_t *hosts = json_object_get(rec, "hosts");
    const char *seen[16];
    size_t count[16], ns = 0, off = 0, i;
    json_t *h;

    json_array_foreach(hosts, i, h)
    {
        const char *st = json_string_value(json_object_get(h, "status"));
        size_t k;
        if (st == NULL)
            continue;
        for (k = 0; k < ns && strcmp(seen[k], st) != 0; k++)
            ;
        if (k == ns && ns < 16) {
            seen[ns] = st;
            count[ns++] = 0;
        }
        if (k < ns)
            count[k]++;
    }
    out[0] = '\0';
    for (size_t k = 0; k < ns && off < n; k++)
        off += (size_t)snprintf(out + off, n - off, "%s%zu %s", k ? ", " : "",
                                count[k], seen[k]);
    if (ns == 0)
        snprintf(out, n, "no host ran");
}

static void summary_row(const struct leg *l)
{
    const char *id = NULL, *refused = NULL;
    char hosts[256], q[ERR_MAX];

    if (l->record) {
        id = json_string_value(json_object_get(l->record, "run_id"));
        refused = json_string_value(json_object_get(l->record, "refused"));
    }
    if (!l->ran) {
        printf("%-12s  %4s  %-24s  not run\n", l->stage, "-", "-");
        return;
    }
    if (l->record)
        host_counts(l->record, hosts, sizeof(hosts));
    else
        snprintf(hosts, sizeof(hosts), "no record");
    printf("%-12s  %4d  %-24s  %s%s%s\n", l->stage, l->code, id ? id : "-",
           hosts, refused ? "; refused: " : "",
           refused ? text_escape_msg(refused, q, sizeof(q)) : "");
}

static void summarize(const char *task, const struct leg *from,
                      const struct leg *to, bool promoted)
{
    printf("\npromote '%s': %s -> %s\n", task, from->stage, to->stage);
    printf("%-12s  %4s  %-24s  %s\n", "STAGE", "EXIT", "RUN", "HOSTS");
    summary_row(from);
    summary_row(to);
    if (promoted)
        printf("promoted: it succeeded on every host of '%s', then ran on "
               "'%s'\n",
               from->stage, to->stage);
    else if (!to->ran)
        printf("not promoted: '%s' did not succeed on every host (exit %d); "
               "nothing ran on '%s'\n",
               from->stage, from->code, to->stage);
    else
        printf("not promoted: '%s' exited %d\n", to->stage, to->code);
}

/* The combined report: both records (null for a stage not run). */
static int write_report(const char *path, const struct task *t,
                        const struct leg *from, const struct leg *to,
                        bool promoted, int code, char *err)
{
    json_t *o = json_object(), *runs = json_array();
    char *text;
    int rc;

    json_object_set_new(o, "format", json_integer(PROMOTE_REPORT_FORMAT));
    json_object_set_new(o, "kind", json_string("promote"));
    json_object_set_new(o, "task", json_string(t->name));
    json_object_set_new(o, "task_sha256", json_string(t->sha256));
    json_object_set_new(o, "from", json_string(from->stage));
    json_object_set_new(o, "to", json_string(to->stage));
    json_object_set_new(o, "promoted", json_boolean(promoted));
    json_object_set_new(o, "exit_code", json_integer(code));
    json_array_append(runs, from->record ? from->record : json_null());
    json_array_append(runs, to->record ? to->record : json_null());
    json_object_set_new(o, "runs", runs);
    text = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(o);
    if (text == NULL)
        return errf(err, "cannot encode the promotion report");
    rc = record_file_replace(path, text, strlen(text), true, err);
    free(text);
    return rc;
}

/* Usage errors found before anything runs. */
static int check_stages(const struct options *o, char *err)
{
    struct inventory to;
    int rc = 0;

    if (o->from_stage == NULL || o->to_stage == NULL)
        return errf(err, "promote needs --from STAGE and --to STAGE");
    if (strcmp(o->from_stage, o->to_stage) == 0)
        return errf(err, "--from and --to name the same stage '%s'",
                    o->from_stage);
    if (o->json || o->junit)
        return errf(err,
                    "promote does not take %s: each stage's run has "
                    "its own (see its log folder)",
                    o->json ? "--json" : "--report-junit");
    if (o->report && record_report_is_stdout(o->report))
        return errf(err, "promote: --report needs a file (the runs' own "
                         "output goes to stdout)");
    if (inventory_load(&to, o->dir, o->to_stage, err))
        return -1;
    if (to.promote_from && strcmp(to.promote_from, o->from_stage) != 0)
        rc = errf(err,
                  "stage '%s' is promoted from '%s' (promote_from in %s), "
                  "not from '%s'",
                  o->to_stage, to.promote_from, to.path, o->from_stage);
    inventory_release(&to);
    return rc;
}

static int run_promote(struct options *o)
{
    struct task t;
    struct leg from, to;
    char err[ERR_MAX] = "";
    bool promoted = false;
    int code;

    if (o->positional.n != 1)
        return command_usage_error(
            &cmd_promote, o->positional.n ? "one task only" : "no task given");
    if (check_stages(o, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    if (task_load(&t, o->dir, o->positional.v[0], err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    memset(&from, 0, sizeof(from));
    memset(&to, 0, sizeof(to));
    from.stage = o->from_stage;
    to.stage = o->to_stage;
    /* --skip-gate is for the gate between the two stages only */
    code = leg_run(o, &t, &from, false, err);
    if (code == EXIT_OK || o->dry_run) {
        int c2 = leg_run(o, &t, &to, o->skip_gate, err);
        promoted = code == EXIT_OK && c2 == EXIT_OK && !o->dry_run;
        if (code == EXIT_OK)
            code = c2;
    }
    if (err[0] && code == EXIT_USAGE && !from.ran)
        fprintf(stderr, "oneoff: %s\n", err);
    if (!o->dry_run) {
        summarize(t.name, &from, &to, promoted);
        if (o->report &&
            write_report(o->report, &t, &from, &to, promoted, code, err)) {
            fprintf(stderr, "oneoff: %s\n", err);
            if (code == EXIT_OK)
                code = EXIT_TASK_FAILED;
        }
    }
    leg_release(&from);
    leg_release(&to);
    task_release(&t);
    return code;
}

const struct command cmd_promote = {
    .name = "promote",
    .usage = "TASK --from STAGE --to STAGE [OPTIONS] [-- ARGS...]",
    .summary = "run a task on one stage, then, if it succeeded, the next",
    .help = "Runs tasks/TASK.yml on every host of the --from stage and, "
            "only if it\nsucceeded on every host there, on the --to stage: "
            "two ordinary runs\n(preflight, gates, confirmation, logs), one "
            "combined summary and, with\n--report FILE, one report holding "
            "both run records. Release tooling\nruns the whole path as one "
            "command with --yes --report FILE.",
    .opts = OPT_DRY_RUN | OPT_YES | OPT_SSH | OPT_RUN | OPT_TASK | OPT_ARGS |
            OPT_ROLLOUT | OPT_VIEW | OPT_GATE | OPT_PROMOTE | OPT_REASON,
    .run = run_promote,
};
