/*
 * commands.h - the subcommand descriptors. main.c holds the table; each
 * cmd_<name>.c defines one descriptor and keeps everything else static.
 */
#ifndef ONEOFF_COMMANDS_H
#define ONEOFF_COMMANDS_H

#include "oneoff/cli.h"
#include "oneoff/plan.h"
#include "oneoff/transport.h"

struct command {
    const char *name;
    const char *usage;   /* after "oneoff NAME " */
    const char *summary; /* one line for `oneoff --help` */
    const char *help;    /* paragraph for `oneoff NAME --help` */
    unsigned opts;       /* OPT_* bits accepted */
    /* Runs the command; returns the process exit code. */
    int (*run)(struct options *o);
};

extern const struct command cmd_hosts;
extern const struct command cmd_tasks;
extern const struct command cmd_run;
extern const struct command cmd_exec;
extern const struct command cmd_check;
extern const struct command cmd_promote;
extern const struct command cmd_history;
extern const struct command cmd_show;
extern const struct command cmd_console;

struct console;

/* What run, exec, console and promote share (cmd_run.c): runs t on the
 * stage o->stage: the plan (with con, one host), the refusals known before
 * connecting, --dry-run, the confirmation, the run (writing o->report when
 * set). Returns the process exit code. */
int command_run_task(struct options *o, struct task *t, struct console *con);
/* The words after "--" as one command line: one word is a shell command
 * line; several are a command and its arguments, each quoted. Caller
 * frees. */
char *command_join_words(const struct strlist *words);
extern const struct command cmd_status;
extern const struct command cmd_logs;
extern const struct command cmd_cancel;

/* The exit-code table printed by every --help. */
extern const char exit_codes_help[];

/* Prints "usage: ..." and the options of c to stdout. */
void command_print_help(const struct command *c);
/* Prints "oneoff: MESSAGE" and a hint to stderr; returns EXIT_USAGE. */
int command_usage_error(const struct command *c, const char *msg);

/* The transports of a plan's hosts: per_host[i] drives plan host i. */
struct command_transports {
    struct transport *ssh;   /* NULL when no host uses SSH */
    struct transport *local; /* NULL when no host is local */
    struct transport **per_host;
};

/* Makes them, with every identity loaded (passphrases asked) before
 * anything connects. */
int command_transports(const struct options *o, const struct plan *p,
                       struct command_transports *out, char *err);
void command_transports_release(struct command_transports *t);

/* The hosts of a stage, ready to reach for a query or a note (check,
 * history, status/logs/cancel, the stage before a promotion): its
 * inventory, a plan of an ad-hoc command over a selection, and the hosts'
 * transports. Owned by the caller; one thread. */
struct stage_hosts {
    struct inventory inv;
    struct task t;
    struct plan plan;
    struct command_transports tps;
};

/* Opens stage with command planned over the selection po (every host
 * when po is NULL). Returns 0, or -1 with err (nothing to close). */
int command_stage_open(const struct options *o, const char *stage,
                       const char *command, const struct plan_opts *po,
                       struct stage_hosts *sh, char *err);
void command_stage_close(struct stage_hosts *sh);

struct history;
/* Reads the history of o's stage and selection (cmd_history.c) into h
 * (initialized here; the caller releases it); *unreadable: how many hosts
 * could not be read. Says what failed on stderr; returns an exit code. */
int command_history_read(const struct options *o, struct history *h,
                         int *unreadable);
/* Names, on stderr, the hosts of h that could not be read and the lines
 * that were skipped. */
void command_history_problems(const struct history *h);

#endif
