/*
 * cmd_console.c - `oneoff console -s STAGE [--host NAME] [TASK] [-- ...]`:
 * an interactive session on one host, on the record.
 *
 * A console is a run like any other (cmd_run.c, runner.c): the same plan,
 * preflight, gate, confirmation, locks, logs and run record, on one host,
 * with a terminal; console.c takes the terminal over once the host says
 * it is ready. The exit code is the remote program's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/console.h"
#include "oneoff/exit_codes.h"
#include "oneoff/task.h"

#define DEFAULT_CONSOLE_TASK "console"

/* The task: TASK (its arguments after "--"), else an ad-hoc command after
 * "--", else tasks/console.yml. */
static int console_task(struct options *o, struct task *t, char *err)
{
    const char *name = DEFAULT_CONSOLE_TASK;

    if (o->positional.n == 0 && o->plan.args.n) {
        char *command = command_join_words(&o->plan.args);
        task_adhoc(t, command);
        free(command);
        strlist_clear(&o->plan.args);
        return 0;
    }
    if (o->positional.n)
        name = o->positional.v[0];
    if (task_load(t, o->dir, name, err) == 0)
        return 0;
    if (o->positional.n == 0) {
        char why[ERR_MAX];
        snprintf(why, sizeof(why), "%s", err);
        return errf(err,
                    "%s\n(a console runs tasks/console.yml, e.g. 'command: "
                    "bin/rails console' and 'pty: true', or the command "
                    "after '--')",
                    why);
    }
    return -1;
}

static int run_console(struct options *o)
{
    struct console con;
    struct task t;
    char err[ERR_MAX];
    int rc;

    if (o->positional.n > 1)
        return command_usage_error(&cmd_console,
                                   "one task at most; its arguments go after "
                                   "'--'");
    if (o->stage == NULL)
        return command_usage_error(&cmd_console, "no stage given (-s STAGE)");
    if (o->json)
        return command_usage_error(&cmd_console,
                                   "--json would print over the console");
    if (console_init(&con, err) && !o->dry_run) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    if (console_task(o, &t, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    t.pty = true;
    if (o->host) {
        strlist_push(&o->plan.limits, o->host);
        t.run_on = RUN_ON_ALL;
    }
    rc = command_run_task(o, &t, &con);
    if (con.ran) {
        rc = console_exit_code(&con);
        if (con.res.outcome == OUTCOME_LOST)
            fprintf(stderr, "oneoff: %s\n", con.res.error);
    }
    console_release(&con);
    task_release(&t);
    return rc;
}

const struct command cmd_console = {
    .name = "console",
    .usage = "-s STAGE [--host NAME] [OPTIONS] [TASK] [-- COMMAND...]",
    .summary = "open an interactive console on one host, on the record",
    .help =
        "Opens tasks/TASK.yml (default: tasks/console.yml) on one host with "
        "a terminal:\nthe host given with --host, else the primary of the "
        "hosts the task's run_on\nselects. '-- COMMAND' runs a command "
        "instead (with TASK, what follows '--'\nare its arguments). The "
        "same preflight as 'run': release, task file, env\nfiles, become, "
        "confirmation, locks. '~.' after a newline disconnects. The\nexit "
        "code is the remote program's (128+N for signal N). A transcript "
        "(asciinema\nv2) is kept in the run's log folder and copied to "
        "app_dir/shared/.oneoff/\nconsoles/RUN_ID.cast on the host.",
    .opts = OPT_STAGE | OPT_HOST | OPT_DRY_RUN | OPT_YES | OPT_SSH | OPT_RUN |
            OPT_ARGS | OPT_ROLLOUT | OPT_REASON,
    .run = run_console,
};
