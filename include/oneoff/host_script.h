/*
 * host_script.h - the POSIX sh script every host runs, and its quoting.
 *
 * The script is src/host_script.sh, embedded into oneoff at build time;
 * its header comment is the reference for what it does (set-up, the framed
 * report, the client's word, locks, the watchdog). C writes only its data
 * prelude: one single-quoted assignment per value, so no input can inject
 * shell, followed by the script text.
 */
#ifndef ONEOFF_HOST_SCRIPT_H
#define ONEOFF_HOST_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/buf.h"
#include "oneoff/runtime.h"
#include "oneoff/util.h"

/* Exit status of the script when it cannot set up (app_dir, env file,
 * release, lock file), or when told to go although its lock is held: the
 * task never started. */
#define SCRIPT_SETUP_FAILED 125

/* The report's nonce: this many lowercase hex digits. */
#define SCRIPT_NONCE_LEN 32
/* Longest run id and lock holder line the prelude carries; longer ones are
 * cut (a run id is YYYYMMDDTHHMMSSZ-xxxxxx). */
#define SCRIPT_RUN_ID_MAX 63
#define SCRIPT_HOLDER_MAX 511

/* The longest command line a host accepts: the login shell gets it as one
 * argument of `sh -c`, and Linux limits one argument to MAX_ARG_STRLEN
 * (131072 bytes with its NUL). */
#define SCRIPT_COMMAND_LINE_MAX (131072 - 1)

enum script_mode {
    SCRIPT_RUN,          /* take and keep the lock, report, run on "go" */
    SCRIPT_CHECK,        /* report, test the lock, wait for EOF, run nothing */
    SCRIPT_HISTORY,      /* enter app_dir, report every history line, exit */
    SCRIPT_HISTORY_NOTE, /* enter app_dir, append note to the history */
};

struct script_spec {
    enum script_mode mode;
    const char *nonce;  /* SCRIPT_NONCE_LEN hex digits */
    const char *run_id; /* decides between two runs that want one lock */
    const char *label;  /* "task 'x' on host 'y' of stage 'z'" */
    const char *app_dir;
    const char *release;             /* relative to app_dir */
    const char *revision_file;       /* NULL: REVISION */
    const struct strlist *env_files; /* relative to app_dir, or absolute */
    const struct kvlist *env;        /* literal values, exported in order */
    const char *task_file;   /* tasks/NAME.yml in the release; NULL ad hoc */
    const char *lock;        /* NULL, or the task's name: its lock */
    const char *lock_holder; /* written into the lock file (run) */
    long lock_wait_s;        /* --wait-lock; 0: do not wait */
    bool check_locks;        /* report every held task lock (check) */
    /* run: report the history's runs of this task digest (`once`);
     * NULL: none */
    const char *once_sha256;
    bool pty;   /* a console: the channel has a terminal (run) */
    bool input; /* the client sends the task's stdin in frames (run) */
    const char *command;
    /* NULL or plain: the task runs in the release. Otherwise the prelude
     * also carries the runtime and the script src/host_runtime.sh. */
    const struct runtime *runtime;
    const char *host; /* inventory name: names a fresh container */
    /* NULL, or a detached run ("detach") or a query about one ("status",
     * "logs", "follow", "cancel"): the prelude then also carries job_run
     * and hist, and the script src/host_job.sh. */
    const char *job;
    const char *job_run; /* the queried run's id */
    const char *hist;    /* detach: JSON members of the history line */
    /* run: the history's start line but its tail (history_start_head())
     * and the opening of its end line (history_end_prefix()); the client
     * sends the tail after "go" (NULL: an empty head, for the tests) */
    const char *start_head;
    const char *end_prefix;
    /* history note mode: the line to append (one JSON object, no newline,
     * shorter than HISTORY_LINE_MAX: history_gate_skip_line()) */
    const char *note;
};

/* Appends s to b in single quotes: the shell reads back exactly s. Returns
 * 0, or -1 (b unchanged) when it would pass b's maximum, which
 * sh_quoted_max(s) bytes of room always avoid. */
int sh_quote(struct buf *b, const char *s) ONEOFF_MUST_USE;
/* The exact length of s quoted by sh_quote(): every host's command line is
 * built in a buffer of its final size. */
size_t sh_quoted_max(const char *s);

/* The script for spec: its data prelude, then the embedded script without
 * its comment lines and blank lines (they stay in src/host_script.sh, for
 * the reader) and without the parts ("#@part NAME" ... "#@end") whose
 * functions a run of spec never calls: a lock's, check's list of held
 * locks, the history's report, the task's input. Caller frees. */
char *script_compose(const struct script_spec *spec);

/* The command line sent to the host's login shell:
 *   exec [sudo -n -u USER --] /bin/sh -c 'SCRIPT' oneoff 'ARG'...
 * become may be NULL. Caller frees. */
char *script_command_line(const char *script, const char *become,
                          const struct strlist *args);

/* script_command_line(script_compose(spec), become, args), built in one
 * pass into a buffer of its final size. Safe from any thread. Caller
 * frees. */
char *script_compose_line(const struct script_spec *spec, const char *become,
                          const struct strlist *args);

/* The script for spec sent on the host's standard input instead of in the
 * command line: *input is script_compose(spec) made one compound command,
 * "{\n" SCRIPT "\nexit\n}\n", so that the host's shell has read all of it
 * before it runs any of it and reads no byte past it (the client's "go"
 * and the task's input come later on the same stream); the line is
 *   exec [sudo -n -u USER --] /bin/sh -c 'BOOT' oneoff 'ARG'...
 * whose BOOT reads the script (with its length) and runs it. Every host
 * then parses a short command line, the client keeps no large packet per
 * connection, and no size limit of an argument applies to the script. Not
 * for a terminal (pty), whose line discipline would rewrite the input.
 * Caller frees both. */
char *script_compose_boot(const struct script_spec *spec, const char *become,
                          const struct strlist *args, char **input);

/* The longest line script_compose_boot() returns for become and args,
 * whatever the spec: the line holds the script's length, not the script. */
size_t script_boot_line_max(const char *become, const struct strlist *args);

/* The line script_compose_boot() returns, for --dry-run: with
 * "<reads the script from stdin>" in the place of the script's reader. */
char *script_boot_line_shown(const char *become, const struct strlist *args);

/* The command line that stores its stdin as
 * app_dir/shared/.oneoff/consoles/RUN_ID.cast (mode 0600), as become (or
 * the login user): a console's transcript, sent after the session over the
 * same connection. Caller frees. */
char *script_copy_line(const char *app_dir, const char *become,
                       const char *run_id);

/* Fills out with a new nonce (SCRIPT_NONCE_LEN hex digits and a NUL) from
 * the kernel's random source. */
int script_nonce_new(char out[SCRIPT_NONCE_LEN + 1], char *err);

#endif
