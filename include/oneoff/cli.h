/*
 * cli.h - the options every subcommand shares, parsed with getopt_long.
 *
 * A subcommand names the options it accepts with a mask of OPT_* bits; any
 * other option is a usage error: an option of another command is refused
 * naming the command ("'check' does not take '--timeout'"), an unknown one
 * with the closest option it accepts ("did you mean '--dry-run'?"). Everything
 * after the first "--" is kept verbatim as arguments (task arguments, or the
 * command of `exec`).
 */
#ifndef ONEOFF_CLI_H
#define ONEOFF_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "oneoff/exit_codes.h"
#include "oneoff/plan.h"
#include "oneoff/util.h"

enum opt_bit {
    OPT_STAGE = 1u << 0,       /* -s STAGE */
    OPT_SELECT = 1u << 1,      /* -l/--limit, -r/--role */
    OPT_DRY_RUN = 1u << 2,     /* -n/--dry-run */
    OPT_YES = 1u << 3,         /* -y/--yes */
    OPT_SSH_CONN = 1u << 4,    /* --known-hosts, -i, --host-key-policy,
                                  --connect-timeout, --max-connecting */
    OPT_RUN = 1u << 5,         /* --parallel, --log-dir, --report, --release,
                                  --report-junit, --json */
    OPT_ARGS = 1u << 6,        /* accepts "-- ARGS..." */
    OPT_ROLLOUT = 1u << 7,     /* --preflight, --allow-drift, --wait-lock,
                                  --batch, --max-fail */
    OPT_TASK = 1u << 8,        /* --timeout, --output, -e: what only a task
                                  run uses */
    OPT_FOLD = 1u << 9,        /* --fold (hosts) */
    OPT_VIEW = 1u << 10,       /* -b/--gather, --diff, --summary, -q/--quiet,
                                  -v/--verbose, --silent-after */
    OPT_REASON = 1u << 11,     /* -m/--reason, --force: what history records */
    OPT_JSON = 1u << 12,       /* --json alone (history, show) */
    OPT_SSH_CONFIG = 1u << 13, /* --ssh-config */
    OPT_SSH = OPT_SSH_CONN | OPT_SSH_CONFIG, /* every SSH option */
    OPT_HOST = 1u << 14,                     /* --host NAME (console) */
    OPT_STDIN = 1u << 15,                    /* --no-stdin (run, exec) */
    OPT_DETACH = 1u << 16,                   /* --detach */
    OPT_FOLLOW = 1u << 17,                   /* --follow (logs) */
    OPT_GATE = 1u << 18,                     /* --skip-gate: past the gate */
    OPT_PROMOTE = 1u << 19, /* --from STAGE, --to STAGE (promote) */
};

enum host_key_policy { HOST_KEY_STRICT, HOST_KEY_ACCEPT_NEW };
enum output_mode { OUTPUT_STREAM, OUTPUT_GROUPED, OUTPUT_GATHER };
enum summary_opt { SUMMARY_OPT_AUTO, SUMMARY_OPT_FULL, SUMMARY_OPT_SHORT };

struct options {
    const char *dir; /* -C DIR, "." by default */
    char *stage;
    struct plan_opts plan;
    struct strlist positional;
    bool dry_run;
    bool yes;
    bool help;
    bool have_dashdash; /* "--" was given */
    unsigned parallel;
    int64_t connect_timeout_ms;
    int64_t timeout_ms; /* 0: the task's */
    char *ssh_config;
    char *known_hosts;
    enum host_key_policy host_key_policy;
    bool host_key_policy_set; /* given: wins over StrictHostKeyChecking */
    bool connect_timeout_set; /* given: wins over ConnectTimeout */
    unsigned max_connecting;  /* 0: the default */
    struct strlist identities;
    char *log_dir;
    char *report;
    enum output_mode output;
    bool preflight;
    bool allow_drift;
    char *batch;
    char *max_fail;
    char *junit;  /* --report-junit FILE */
    bool json;    /* --json: events on stdout */
    char *reason; /* -m/--reason TEXT */
    bool force;   /* --force: run a `once` task that already ran */
    bool fold;
    /* OPT_VIEW */
    bool diff;
    enum summary_opt summary;
    bool quiet, verbose;
    int64_t silent_after_ms; /* 0: the default */
    char *host;              /* --host NAME */
    bool no_stdin;           /* --no-stdin */
    bool detach;             /* run --detach */
    bool follow;             /* logs --follow */
    /* OPT_GATE, OPT_PROMOTE */
    bool skip_gate;
    char *from_stage, *to_stage;
};

#define DEFAULT_PARALLEL 64
#define DEFAULT_CONNECT_TIMEOUT_MS 10000

void options_init(struct options *o);
void options_release(struct options *o);
/* Parses argv (argv[0] is the subcommand's name). */
int cli_parse(struct options *o, int argc, char **argv, unsigned allowed,
              char *err);
/* The name in names[0..n) closest to s (edit distance at most 2, and less
 * than s's length), or NULL: for "did you mean". */
const char *cli_closest(const char *s, const char *const *names, size_t n);
/* The option lines of --help for the bits in mask. */
void cli_print_option_help(unsigned mask);

#endif
