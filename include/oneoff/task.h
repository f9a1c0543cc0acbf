/*
 * task.h - tasks/<name>.yml: one admin task, versioned with the code.
 *
 * task_release() frees everything a task owns.
 */
#ifndef ONEOFF_TASK_H
#define ONEOFF_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/runtime.h"
#include "oneoff/util.h"

enum run_on { RUN_ON_ALL, RUN_ON_PRIMARY, RUN_ON_ONE, RUN_ON_ROLE };
enum task_args { TASK_ARGS_NONE, TASK_ARGS_ANY };

struct task {
    char *name;
    char *path;      /* display path, "tasks/db-migrate.yml" */
    char sha256[65]; /* hex digest of the file's bytes ("" ad hoc) */
    char *description;
    char *command; /* run by /bin/sh -c in the release directory */
    enum run_on run_on;
    char *role; /* RUN_ON_ROLE, or the role whose primary is meant */
    bool lock;
    int64_t timeout_ms; /* 0: none */
    enum task_args args;
    struct kvlist env;
    bool confirm;
    bool pty;
    bool once;
    bool require_reason;        /* a run needs --reason */
    struct strlist secret_args; /* KEYs of KEY=VALUE arguments shown as *** */
    char *become;
    char *batch;       /* rolling runs: "1,25%,100%" */
    char *max_fail;    /* "N" or "N%" */
    bool adhoc;        /* `oneoff exec`: a command line, no file */
    struct runtime rt; /* over the host's, key by key */
};

/* Parses a task from memory; name is the task's name, display the path
 * used in messages. */
int task_parse(struct task *t, const char *name, const char *display,
               const char *data, size_t len, char *err);
/* Loads DIR/tasks/NAME.yml. */
int task_load(struct task *t, const char *dir, const char *name, char *err);
/* An ad-hoc task for `oneoff exec` (adhoc set, named "exec", no file):
 * runs command on all selected hosts. */
void task_adhoc(struct task *t, const char *command);
/* The digest a run's history names t by: its file's sha256, else (ad hoc)
 * its command's. */
void task_digest(const struct task *t, char out[65]);
void task_release(struct task *t);

/* Lists task names of DIR/tasks, sorted. */
int task_list(const char *dir, struct strlist *out, char *err);

const char *run_on_name(enum run_on r);
/* True when the command text refers to its arguments ("$@", "$1", ...). */
bool command_uses_args(const char *command);

#endif
