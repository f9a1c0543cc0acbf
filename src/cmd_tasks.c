/*
 * cmd_tasks.c - `oneoff tasks`: the tasks of this project with their
 * descriptions. A task file that does not parse is listed with its error,
 * and the command then exits 2.
 */
#include <stdio.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/task.h"

static int tasks_run(struct options *o)
{
    struct strlist names = {0};
    char err[ERR_MAX];
    int rc = EXIT_OK;
    size_t w = 4;

    if (o->positional.n)
        return command_usage_error(&cmd_tasks, "unexpected argument");
    if (task_list(o->dir, &names, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < names.n; i++)
        if (strlen(names.v[i]) > w)
            w = strlen(names.v[i]);
    for (size_t i = 0; i < names.n; i++) {
        struct task t;
        if (task_load(&t, o->dir, names.v[i], err)) {
            printf("%-*s  (invalid)\n", (int)w, names.v[i]);
            fprintf(stderr, "oneoff: %s\n", err);
            rc = EXIT_USAGE;
            continue;
        }
        printf("%-*s  %s\n", (int)w, t.name,
               t.description ? t.description : "");
        task_release(&t);
    }
    strlist_clear(&names);
    return rc;
}

const struct command cmd_tasks = {
    .name = "tasks",
    .usage = "[-C DIR]",
    .summary = "list the tasks in tasks/ with their descriptions",
    .help = "Lists tasks/*.yml with each task's description.",
    .opts = 0,
    .run = tasks_run,
};
