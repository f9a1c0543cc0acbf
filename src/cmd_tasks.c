/*
 * cmd_tasks.c - `oneoff tasks`: the tasks of this project with their
 * descriptions. A task file that does not parse is listed with its error,
 * and the command then exits 2.
 */
#include <stdio.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/task.h"
#include "oneoff/text.h"
#include "oneoff/yaml_doc.h"

/* One line "NAME  TEXT": both from files (a file name, a description),
 * escaped. */
static void print_task(const char *name, int width, const char *text)
{
    struct buf b = BUF_INIT(4 * YDOC_MAX_BYTES + 1024);

    /* a name and a description come from a file of at most YDOC_MAX_BYTES
     * (a file name of at most 255), and escape to 4 times that at most */
    BUF_MUST(text_escape(&b, name, strlen(name)));
    for (size_t k = b.len; k < (size_t)width; k++)
        BUF_MUST(buf_addc(&b, ' '));
    BUF_MUST(buf_adds(&b, "  "));
    BUF_MUST(text_escape(&b, text, strlen(text)));
    printf("%s\n", buf_str(&b));
    buf_release(&b);
}

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
            print_task(names.v[i], (int)w, "(invalid)");
            fprintf(stderr, "oneoff: %s\n", err);
            rc = EXIT_USAGE;
            continue;
        }
        print_task(t.name, (int)w, t.description ? t.description : "");
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
