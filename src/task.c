/*
 * task.c - tasks/<name>.yml into struct task.
 *
 * The digest of the file's exact bytes goes into every run record, so that
 * an audit can tell which version of a task ran.
 */
#define _GNU_SOURCE
#include "oneoff/task.h"

#include "oneoff/digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/inventory.h"
#include "oneoff/text.h"
#include "oneoff/yaml_doc.h"

static const char *const task_keys[] = {
    "description",    "command", "run_on", "role",      "lock",
    "timeout",        "args",    "env",    "confirm",   "pty",
    "once",           "become",  "batch",  "max_fail",  "secret_args",
    "require_reason", "runtime", "engine", "container", "image_of",
    "network_of",     NULL};

const char *run_on_name(enum run_on r)
{
    switch (r) {
    case RUN_ON_PRIMARY:
        return "primary";
    case RUN_ON_ONE:
        return "one";
    case RUN_ON_ROLE:
        return "role";
    default:
        return "all";
    }
}

bool command_uses_args(const char *c)
{
    for (; *c; c++) {
        if (*c != '$')
            continue;
        if (c[1] == '@' || c[1] == '*' || (c[1] >= '1' && c[1] <= '9'))
            return true;
        if (c[1] == '{' && (c[2] == '@' || c[2] == '*' || c[2] == '#' ||
                            (c[2] >= '1' && c[2] <= '9')))
            return true;
        if (c[1] == '#')
            return true;
    }
    return false;
}

static int read_run_on(const struct ydoc *d, const struct ynode *v,
                       struct task *t, char *err)
{
    char *s = NULL;
    int rc = 0;

    if (ydoc_str(d, v, "run_on", &s, err))
        return -1;
    if (strcmp(s, "all") == 0) {
        t->run_on = RUN_ON_ALL;
    } else if (strcmp(s, "primary") == 0) {
        t->run_on = RUN_ON_PRIMARY;
    } else if (strcmp(s, "one") == 0) {
        t->run_on = RUN_ON_ONE;
    } else if (strncmp(s, "role:", 5) == 0 && name_valid(s + 5)) {
        t->run_on = RUN_ON_ROLE;
        free(t->role);
        t->role = xstrdup(s + 5);
    } else {
        rc = ydoc_err(d, v, err,
                      "'run_on' must be all, primary, one or role:NAME, not "
                      "'%s'",
                      s);
    }
    free(s);
    return rc;
}

static int read_rollout(const struct ydoc *d, const struct ynode *root,
                        struct task *t, char *err)
{
    const struct ynode *v;

    if ((v = ymap_get(root, "batch"))) {
        if (v->kind == YNODE_SEQ) {
            struct strlist l = {0};
            if (ydoc_strlist(d, v, "batch", &l, err)) {
                strlist_clear(&l);
                return -1;
            }
            t->batch = strlist_join(&l, ",");
            strlist_clear(&l);
        } else if (ydoc_str(d, v, "batch", &t->batch, err)) {
            return -1;
        }
    }
    if ((v = ymap_get(root, "max_fail")) &&
        ydoc_str(d, v, "max_fail", &t->max_fail, err))
        return -1;
    return 0;
}

static int read_task(const struct ydoc *d, struct task *t, char *err)
{
    const struct ynode *root = d->root, *v;

    if (ydoc_want_map(d, root, "the task file", err) ||
        ydoc_check_keys(d, root, task_keys, NULL, err))
        return -1;
    if ((v = ymap_get(root, "description")) &&
        ydoc_str(d, v, "description", &t->description, err))
        return -1;
    if (ydoc_require(d, root, "command", &v, err) ||
        ydoc_str(d, v, "command", &t->command, err))
        return -1;
    if ((v = ymap_get(root, "run_on")) && read_run_on(d, v, t, err))
        return -1;
    if ((v = ymap_get(root, "role"))) {
        if (t->run_on == RUN_ON_ROLE)
            return ydoc_err(d, v, err,
                            "'role' and 'run_on: role:%s' both name a role; "
                            "keep one",
                            t->role);
        if (ydoc_str(d, v, "role", &t->role, err))
            return -1;
        if (!name_valid(t->role))
            return ydoc_err(d, v, err, "'%s' is not a valid role name",
                            t->role);
    }
    if ((v = ymap_get(root, "lock")) && ydoc_bool(d, v, "lock", &t->lock, err))
        return -1;
    if ((v = ymap_get(root, "timeout")) &&
        ydoc_duration(d, v, "timeout", &t->timeout_ms, err))
        return -1;
    if ((v = ymap_get(root, "args"))) {
        char *s = NULL;
        if (ydoc_str(d, v, "args", &s, err))
            return -1;
        if (strcmp(s, "none") == 0) {
            t->args = TASK_ARGS_NONE;
        } else if (strcmp(s, "any") == 0) {
            t->args = TASK_ARGS_ANY;
        } else {
            free(s);
            return ydoc_err(d, v, err, "'args' must be none or any, not '%s'",
                            v->str);
        }
        free(s);
        if (t->args == TASK_ARGS_ANY && !command_uses_args(t->command))
            return ydoc_err(d, v, err,
                            "'args: any' but the command never uses its "
                            "arguments; pass them on with \"$@\"");
    }
    if ((v = ymap_get(root, "env")) && !ynode_is_null(v) &&
        ydoc_env(d, v, "env", &t->env, err))
        return -1;
    if ((v = ymap_get(root, "confirm")) &&
        ydoc_bool(d, v, "confirm", &t->confirm, err))
        return -1;
    if ((v = ymap_get(root, "pty")) && ydoc_bool(d, v, "pty", &t->pty, err))
        return -1;
    if ((v = ymap_get(root, "once")) && ydoc_bool(d, v, "once", &t->once, err))
        return -1;
    if ((v = ymap_get(root, "require_reason")) &&
        ydoc_bool(d, v, "require_reason", &t->require_reason, err))
        return -1;
    if ((v = ymap_get(root, "secret_args"))) {
        if (ydoc_strlist(d, v, "secret_args", &t->secret_args, err))
            return -1;
        for (size_t i = 0; i < t->secret_args.n; i++) {
            char q[128];
            if (t->secret_args.v[i][0] != '\0' &&
                !strpbrk(t->secret_args.v[i], "= \t\n"))
                continue;
            return ydoc_err(d, v, err,
                            "'secret_args': '%s' is not an argument key",
                            text_escape_msg(t->secret_args.v[i], q, sizeof(q)));
        }
    }
    if ((v = ymap_get(root, "become"))) {
        if (ydoc_str(d, v, "become", &t->become, err))
            return -1;
        if (!name_valid(t->become))
            return ydoc_err(d, v, err, "'%s' is not a valid user name",
                            t->become);
    }
    for (size_t i = 0; runtime_keys[i]; i++)
        if ((v = ymap_get(root, runtime_keys[i])) &&
            runtime_read(d, runtime_keys[i], runtime_keys[i], v, &t->rt, err))
            return -1;
    return read_rollout(d, root, t, err);
}

int task_parse(struct task *t, const char *name, const char *display,
               const char *data, size_t len, char *err)
{
    struct ydoc d;
    int rc;

    memset(t, 0, sizeof(*t));
    if (ydoc_parse(&d, display, data, len, err))
        return -1;
    t->name = xstrdup(name);
    t->path = xstrdup(display);
    sha256_hex(data, len, t->sha256);
    rc = read_task(&d, t, err);
    ydoc_release(&d);
    if (rc)
        task_release(t);
    return rc;
}

int task_load(struct task *t, const char *dir, const char *name, char *err)
{
    char *display = NULL, *data = NULL, q[256];
    size_t len = 0;
    int rc;

    memset(t, 0, sizeof(*t));
    if (!name_valid(name))
        return errf(err, "'%s' is not a valid task name",
                    text_escape_msg(name, q, sizeof(q)));
    rc = yml_read(dir, "tasks", name, "task", YDOC_MAX_BYTES, &data, &len,
                  &display, err);
    if (rc == 0)
        rc = task_parse(t, name, display, data, len, err);
    free(data);
    free(display);
    return rc;
}

void task_adhoc(struct task *t, const char *command)
{
    memset(t, 0, sizeof(*t));
    t->name = xstrdup("exec");
    t->path = xstrdup("(command line)");
    t->description = xstrdup("ad-hoc command");
    t->command = xstrdup(command);
    t->run_on = RUN_ON_ALL;
    t->args = TASK_ARGS_NONE;
    t->adhoc = true;
}

void task_digest(const struct task *t, char out[65])
{
    if (t->sha256[0])
        memcpy(out, t->sha256, 65);
    else
        sha256_hex(t->command, strlen(t->command), out);
}

void task_release(struct task *t)
{
    free(t->name);
    free(t->path);
    free(t->description);
    free(t->command);
    free(t->role);
    free(t->become);
    runtime_release(&t->rt);
    free(t->batch);
    free(t->max_fail);
    kvlist_clear(&t->env);
    strlist_clear(&t->secret_args);
    memset(t, 0, sizeof(*t));
}

int task_list(const char *dir, struct strlist *out, char *err)
{
    return yml_names(dir, "tasks", out, err);
}
