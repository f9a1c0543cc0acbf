/*
 * cmd_job.c - detached runs: `run --detach` (its history line and the
 * hint it prints) and `oneoff status|logs|cancel RUN-ID -s STAGE`.
 *
 * A detached run is a normal run up to "go" (the same preflight, gate and
 * lock); then each host starts the task in a session of its own and the
 * run ends at once (src/host_job.sh). The queries are runs too: the host
 * script's set-up in app_dir (not a release: a query must work across a
 * deploy), then, instead of a task, what the job's folder
 * app_dir/shared/.oneoff/runs/RUN-ID/ holds, streamed back with host
 * prefixes like any output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oneoff/commands.h"
#include "oneoff/inventory.h"
#include "oneoff/job.h"
#include "oneoff/plan.h"
#include "oneoff/record.h"
#include "oneoff/runner.h"
#include "oneoff/task.h"

/* s as a JSON string of at most max bytes: cut at a character boundary,
 * with "…" (history lines stay under 4 KiB); null when s is not UTF-8. */
static json_t *cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    char *c;
    json_t *j;

    if (n <= max) {
        j = json_string(s); /* NULL: not UTF-8 */
        return j ? j : json_null();
    }
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    c = xasprintf("%.*s\u2026", (int)max, s);
    j = json_string(c);
    free(c);
    return j ? j : json_null();
}

/* The client's members of the history start line (docs: history format):
 * the host adds run, kind, host, release, revision and at. */
static char *history_members(const struct plan *p, bool allow_drift)
{
    const struct task *t = p->task;
    json_t *o = json_object(), *args = json_array(), *ov = json_array();
    char op[64], digest[65], *text, *members;
    size_t n;

    record_operator(op, sizeof(op));
    for (size_t i = 0; i < p->args.n && i < 16; i++)
        json_array_append_new(args, cut(p->args.v[i], 128));
    if (p->args.n > 16)
        json_array_append_new(args, json_string("\u2026"));
    if (allow_drift)
        json_array_append_new(ov, json_string("allow-drift"));
    json_object_set_new(o, "stage", json_string(p->inv->stage));
    json_object_set_new(o, "task",
                        t->adhoc ? json_null() : json_string(t->name));
    task_digest(t, digest);
    json_object_set_new(o, "sha256", json_string(digest));
    json_object_set_new(o, "command", cut(t->command, 1024));
    json_object_set_new(o, "args", args);
    json_object_set_new(o, "operator", json_string(op));
    json_object_set_new(o, "email", json_null());
    json_object_set_new(o, "reason", json_null());
    json_object_set_new(o, "overrides", ov);
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return xstrdup("\"stage\":null");
    /* "{...}" without its braces */
    n = strlen(text);
    members = xstrndup(text + 1, n > 2 ? n - 2 : 0);
    free(text);
    return members;
}

int job_detach_prepare(struct plan *p, bool allow_drift, struct job_detach *d,
                       char *err)
{
    memset(d, 0, sizeof(*d));
    for (size_t i = 0; i < p->nhosts; i++)
        if (p->hosts[i].rt.kind != RUNTIME_PLAIN)
            return errf(err,
                        "--detach: host '%s' runs the task in a container "
                        "('runtime: %s'); detached runs are plain only",
                        p->hosts[i].host->name,
                        runtime_name(p->hosts[i].rt.kind));
    record_new_id(d->run_id, sizeof(d->run_id));
    d->hist = history_members(p, allow_drift);
    p->job = "detach";
    p->hist = d->hist;
    return 0;
}

void job_detach_done(const struct plan *p, struct job_detach *d, int rc)
{
    if (rc == EXIT_OK)
        fprintf(stderr,
                "oneoff: detached run %s started on %zu host%s; follow it "
                "with:\n  oneoff status %s -s %s\n  oneoff logs %s -s %s "
                "--follow\n  oneoff cancel %s -s %s\n",
                d->run_id, p->nhosts, p->nhosts == 1 ? "" : "s", d->run_id,
                p->inv->stage, d->run_id, p->inv->stage, d->run_id,
                p->inv->stage);
    free(d->hist);
    d->hist = NULL;
}

/* A run id as record_new_id() makes them: YYYYMMDDTHHMMSSZ-xxxxxx. */
static bool run_id_valid(const char *s)
{
    static const char form[] = "dddddddd-dddddd--hhhhhh";

    if (strlen(s) != sizeof(form) - 1)
        return false;
    for (size_t i = 0; form[i]; i++) {
        char c = s[i];
        bool ok = form[i] == 'd' ? c >= '0' && c <= '9'
                  : form[i] == 'h'
                      ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  : i == 8  ? c == 'T'
                  : i == 15 ? c == 'Z'
                            : c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int query(struct options *o, const struct command *c, const char *job)
{
    struct stage_hosts sh;
    struct plan *plan = &sh.plan;
    struct runner_opts ro;
    char err[ERR_MAX];
    char *log_root;
    int rc;

    if (o->positional.n != 1)
        return command_usage_error(c, "give one run id");
    if (!run_id_valid(o->positional.v[0]))
        return command_usage_error(c, "not a run id (YYYYMMDDTHHMMSSZ-xxxxxx)");
    if (o->stage == NULL)
        return command_usage_error(c, "no stage given (-s STAGE)");
    if (command_stage_open(o, o->stage, ":", &o->plan, &sh, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    /* app_dir itself: a query works whatever release is deployed */
    for (size_t i = 0; i < plan->nhosts; i++) {
        free(plan->hosts[i].release);
        plan->hosts[i].release = xstrdup(".");
        plan->hosts[i].rt.kind = RUNTIME_PLAIN;
    }
    plan->job = job;
    plan->job_run = o->positional.v[0];
    log_root = o->log_dir ? xstrdup(o->log_dir) : xasprintf("%s/log", o->dir);
    memset(&ro, 0, sizeof(ro));
    ro.mode = RUN_TASK;
    ro.parallel = o->parallel;
    ro.output = OUT_STREAM;
    ro.summary = SUMMARY_SHORT;
    ro.log_root = log_root;
    ro.transports = sh.tps.per_host;
    err[0] = '\0';
    rc = runner_run(plan, &ro, err);
    if (err[0])
        fprintf(stderr, "oneoff: %s\n", err);
    free(log_root);
    command_stage_close(&sh);
    return rc;
}

static int status_run(struct options *o)
{
    return query(o, &cmd_status, "status");
}

static int logs_run(struct options *o)
{
    return query(o, &cmd_logs, o->follow ? "follow" : "logs");
}

static int cancel_run(struct options *o)
{
    return query(o, &cmd_cancel, "cancel");
}

const struct command cmd_status = {
    .name = "status",
    .usage = "RUN-ID -s STAGE [OPTIONS]",
    .summary = "how a detached run is doing on each host",
    .help = "Prints, for each selected host, whether the detached run "
            "RUN-ID is\nrunning (with its pid) or finished (outcome, exit "
            "code or signal).",
    .opts = OPT_STAGE | OPT_SELECT | OPT_SSH,
    .run = status_run,
};

const struct command cmd_logs = {
    .name = "logs",
    .usage = "RUN-ID -s STAGE [--follow] [OPTIONS]",
    .summary = "the output of a detached run, with host prefixes",
    .help = "Prints the output of the detached run RUN-ID from its first "
            "byte, stdout\nto stdout and stderr to stderr, each line "
            "prefixed by its host. With\n--follow, keeps printing until "
            "the run ends on every host; Ctrl-C stops\nfollowing, not the "
            "run.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_SSH | OPT_FOLLOW,
    .run = logs_run,
};

const struct command cmd_cancel = {
    .name = "cancel",
    .usage = "RUN-ID -s STAGE [OPTIONS]",
    .summary = "stop a detached run",
    .help = "Stops the detached run RUN-ID on each selected host: TERM to "
            "its whole\nprocess group, KILL 5 s later if it is still "
            "there. The end is recorded\nin the host's history as "
            "'cancelled'.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_SSH,
    .run = cancel_run,
};
