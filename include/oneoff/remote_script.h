/*
 * remote_script.h - the POSIX sh script each host runs, and its quoting.
 *
 * The script enters app_dir, checks and sources the env files with
 * `set -a` (their values stay on the host and never appear in the script),
 * enters the release with `cd -P`, exports the literal env, and runs
 * `/bin/sh -c "$command" oneoff "$@"`. Every value that crosses into the
 * script is single-quoted by sh_quote(), so no input can inject shell.
 *
 * In batch mode (the default) the task runs in a session of its own beside a
 * watchdog that reads the channel's standard input: when the client closes
 * the channel, sends EOF, or the connection drops, the watchdog stops the
 * task's whole process group (TERM, then KILL after 5 s). This works for
 * root logins and for servers that ignore SSH signal requests. A task that
 * dies from signal N is reported through exit-signal (the wrapper re-raises
 * it), so exit codes 129..159 read as signals, as in any POSIX shell.
 */
#ifndef ONEOFF_REMOTE_SCRIPT_H
#define ONEOFF_REMOTE_SCRIPT_H

#include <stdbool.h>

#include "oneoff/buf.h"
#include "oneoff/util.h"

/* Exit status of the script when it cannot set up (app_dir, env file,
 * release): the task never started. */
#define SCRIPT_SETUP_FAILED 125
/* Exit status of the run script when the task's lock was taken between the
 * preflight and the run: the task never started. */
#define SCRIPT_LOCK_HELD 75

/* Where a task's lock lives, relative to app_dir. */
#define LOCK_DIR "shared/.oneoff/locks"

struct script_spec {
    const char *label; /* comment line: "task 'x' on host 'y'" */
    const char *app_dir;
    const char *release;             /* relative to app_dir, or absolute */
    const struct strlist *env_files; /* relative to app_dir, or absolute */
    const struct kvlist *env;        /* literal values, exported in order */
    const char *command;
    bool interactive; /* console on a pty: no watchdog */
    /* lock: NULL, or the task's name: flock on
     * app_dir/LOCK_DIR/<lock>.lock, held by the task's processes */
    const char *lock;
    const char *lock_holder;   /* written into the lock file */
    long lock_wait_s;          /* 0: do not wait */
    const char *task_file;     /* preflight: tasks/<name>.yml to digest */
    const char *revision_file; /* preflight: default REVISION */
    bool check_locks;          /* preflight: report every held task lock */
    /* run script: first report as the preflight does (taking the lock and
     * keeping it), print SCRIPT_READY, and run the task only when the
     * client then writes "go\n" on standard input */
    bool handshake;
};

#define SCRIPT_READY "oneoff-ready"

/* Appends s to b in single quotes: the shell reads back exactly s. */
void sh_quote(struct buf *b, const char *s);

/* The script body (caller frees). */
char *script_compose(const struct script_spec *spec);
/* The preflight script: the same set-up as the task's (app_dir, env files,
 * release, as the same user), then it prints, one per line:
 *   release=<resolved release path>
 *   revision=<first line of the revision file, or nothing>
 *   task_sha256=<digest of the release's task file>|none|unknown
 *   lock=free | lock=held <holder>   (only with spec->lock)
 *   lock=held <task>: <holder>       (with spec->check_locks, per held lock)
 * and runs nothing. Caller frees. */
char *script_preflight(const struct script_spec *spec);
/* The command line sent to the host's login shell:
 *   exec [sudo -n -u USER --] /bin/sh -c 'SCRIPT' oneoff 'ARG'...
 * become may be NULL. Caller frees. */
char *script_command_line(const char *script, const char *become,
                          const struct strlist *args);

#endif
