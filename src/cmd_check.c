/*
 * cmd_check.c - `oneoff check -s STAGE`: is every host ready to run tasks?
 *
 * For every selected host, in parallel: reachable, host key known,
 * authenticated, app_dir and release resolvable, env files readable,
 * `become` works, no task lock held. One line per host; a non-zero exit
 * when anything is wrong. Runs nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/inventory.h"
#include "oneoff/plan.h"
#include "oneoff/runner.h"
#include "oneoff/task.h"

static int check_run(struct options *o)
{
    struct stage_hosts sh;
    struct runner_opts ro;
    char err[ERR_MAX];
    char *log_root;
    int rc;

    if (o->stage == NULL)
        return command_usage_error(&cmd_check, "no stage given (-s STAGE)");
    if (o->positional.n)
        return command_usage_error(&cmd_check, "unexpected argument");
    if (command_stage_open(o, o->stage, "true", &o->plan, &sh, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    sh.plan.check_locks = true;
    log_root = o->log_dir ? xstrdup(o->log_dir) : xasprintf("%s/log", o->dir);
    memset(&ro, 0, sizeof(ro));
    ro.mode = RUN_CHECK;
    ro.parallel = o->parallel;
    ro.output = OUT_STREAM;
    ro.log_root = log_root;
    ro.report = o->report;
    ro.json = o->json;
    ro.junit = o->junit;
    ro.transports = sh.tps.per_host;
    err[0] = '\0';
    rc = runner_run(&sh.plan, &ro, err);
    if (err[0])
        fprintf(stderr, "oneoff: %s\n", err);
    free(log_root);
    command_stage_close(&sh);
    return rc;
}

const struct command cmd_check = {
    .name = "check",
    .usage = "-s STAGE [--limit GLOBS] [--role ROLES] [OPTIONS]",
    .summary = "check every host is reachable and ready; run nothing",
    .help = "For every selected host, in parallel: reachable, host key "
            "known,\nauthenticated, app_dir and release resolvable, env "
            "files readable,\n'become' works, no task lock held. One line "
            "per host; exit 0 only when\nevery host is ready.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_SSH | OPT_RUN,
    .run = check_run,
};
