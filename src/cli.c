/*
 * cli.c - shared option parsing for every subcommand.
 *
 * argv is split at the first "--" before getopt sees it: GNU getopt
 * permutes arguments and would lose where "--" stood, and what follows it
 * must reach the task byte for byte.
 */
#define _GNU_SOURCE
#include "oneoff/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/record.h"
#include "oneoff/nodeset.h"
#include "oneoff/text.h"

/* A command-line value quoted in a message: escaped (text.h). */
#define Q(s) text_escape_msg((s), q, sizeof(q))

enum long_only {
    LO_SSH_CONFIG = 256,
    LO_KNOWN_HOSTS,
    LO_HOST_KEY_POLICY,
    LO_CONNECT_TIMEOUT,
    LO_PARALLEL,
    LO_TIMEOUT,
    LO_LOG_DIR,
    LO_REPORT,
    LO_OUTPUT,
    LO_RELEASE,
    LO_PREFLIGHT,
    LO_ALLOW_DRIFT,
    LO_WAIT_LOCK,
    LO_BATCH,
    LO_MAX_FAIL,
    LO_REPORT_JUNIT,
    LO_JSON,
    LO_FOLD,
    LO_DIFF,
    LO_SUMMARY,
    LO_SILENT_AFTER,
    LO_SKIP_GATE,
    LO_FROM,
    LO_TO,
    LO_FORCE,
    LO_MAX_CONNECTING,
    LO_HOST,
    LO_NO_STDIN,
    LO_DETACH,
    LO_FOLLOW,
};

struct optdef {
    struct option lo;
    unsigned bit;
    const char *help;
};

static const struct optdef defs[] = {
    {{"stage", required_argument, NULL, 's'},
     OPT_STAGE,
     "-s, --stage STAGE        the stage: hosts/STAGE.yml"},
    {{"limit", required_argument, NULL, 'l'},
     OPT_SELECT,
     "-l, --limit PATTERNS     only hosts matching these comma-separated\n"
     "                         node sets, globs or @ROLEs (web[01-10],db*,\n"
     "                         @db); '!PATTERN' excludes (repeatable)"},
    {{"role", required_argument, NULL, 'r'},
     OPT_SELECT,
     "-r, --role ROLES         only hosts with one of these roles"},
    {{"dry-run", no_argument, NULL, 'n'},
     OPT_DRY_RUN,
     "-n, --dry-run            print the plan and each host's exact script;\n"
     "                         connect nowhere"},
    {{"yes", no_argument, NULL, 'y'},
     OPT_YES,
     "-y, --yes                confirm a protected stage without asking"},
    {{"identity", required_argument, NULL, 'i'},
     OPT_SSH_CONN,
     "-i, --identity FILE      private key to authenticate with"},
    {{"ssh-config", required_argument, NULL, LO_SSH_CONFIG},
     OPT_SSH_CONFIG,
     "    --ssh-config FILE    read this ssh config instead of ~/.ssh/config\n"
     "                         and /etc/ssh/ssh_config ('none': no file);\n"
     "                         keepalives without ServerAliveInterval:\n"
     "                         15s, lost after 3 unanswered (45s)"},
    {{"known-hosts", required_argument, NULL, LO_KNOWN_HOSTS},
     OPT_SSH_CONN,
     "    --known-hosts FILE   host keys to trust instead of\n"
     "                         ~/.ssh/known_hosts"},
    {{"host-key-policy", required_argument, NULL, LO_HOST_KEY_POLICY},
     OPT_SSH_CONN,
     "    --host-key-policy P  strict (default) or accept-new: record\n"
     "                         unknown keys, still refuse changed ones"},
    {{"connect-timeout", required_argument, NULL, LO_CONNECT_TIMEOUT},
     OPT_SSH_CONN,
     "    --connect-timeout D  give up connecting after D (default: the ssh\n"
     "                         config's ConnectTimeout, else 10s)"},
    {{"max-connecting", required_argument, NULL, LO_MAX_CONNECTING},
     OPT_SSH_CONN,
     "    --max-connecting N   connections being set up at once to one\n"
     "                         address and port, or through one jump host\n"
     "                         (default 8: sshd's MaxStartups starts\n"
     "                         refusing at 10)"},
    {{"parallel", required_argument, NULL, LO_PARALLEL},
     OPT_RUN,
     "    --parallel N         hosts at once (default 64)"},
    {{"timeout", required_argument, NULL, LO_TIMEOUT},
     OPT_TASK,
     "    --timeout D          stop the task after D (default: the task's)"},
    {{"log-dir", required_argument, NULL, LO_LOG_DIR},
     OPT_RUN,
     "    --log-dir DIR        where run logs go (default log/)"},
    {{"report", required_argument, NULL, LO_REPORT},
     OPT_RUN,
     "    --report FILE        also write the JSON run record to FILE ('-':\n"
     "                         stdout, and the rest of the output to stderr)"},
    {{"report-junit", required_argument, NULL, LO_REPORT_JUNIT},
     OPT_RUN,
     "    --report-junit FILE  also write a JUnit XML report to FILE: one\n"
     "                         test case per host"},
    {{"json", no_argument, NULL, LO_JSON},
     OPT_RUN | OPT_JSON,
     "    --json               JSON on stdout (run, exec, check: one event a\n"
     "                         line; history, show: one object); the rest\n"
     "                         of the output goes to stderr"},
    {{"output", required_argument, NULL, LO_OUTPUT},
     OPT_TASK,
     "    --output MODE        stream (default); grouped: one block per\n"
     "                         host when it finishes; gather: hosts with\n"
     "                         the same output and exit shown once, at the\n"
     "                         end (keeps 64 KiB a host, 64 MiB in all)"},
    {{"env", required_argument, NULL, 'e'},
     OPT_TASK,
     "-e, --env KEY=VALUE      export KEY to the task (repeatable)"},
    {{"release", required_argument, NULL, LO_RELEASE},
     OPT_RUN,
     "    --release ID         run in app_dir/releases/ID"},
    {{"preflight", no_argument, NULL, LO_PREFLIGHT},
     OPT_ROLLOUT,
     "    --preflight          connect, resolve releases, check env files,\n"
     "                         become and locks on every host; run nothing"},
    {{"allow-drift", no_argument, NULL, LO_ALLOW_DRIFT},
     OPT_ROLLOUT,
     "    --allow-drift        run although the release's copy of the task\n"
     "                         file differs (recorded in run.json)"},
    {{"wait-lock", required_argument, NULL, LO_WAIT_LOCK},
     OPT_ROLLOUT,
     "    --wait-lock D        wait up to D for a held task lock"},
    {{"batch", required_argument, NULL, LO_BATCH},
     OPT_ROLLOUT,
     "    --batch SIZES        rolling run: batch sizes, e.g. 1,25%,100%\n"
     "                         (the last repeats); each waits for the one\n"
     "                         before"},
    {{"max-fail", required_argument, NULL, LO_MAX_FAIL},
     OPT_ROLLOUT,
     "    --max-fail N|N%      start no new host once N hosts failed"},
    {{"reason", required_argument, NULL, 'm'},
     OPT_REASON,
     "-m, --reason TEXT        why this run: kept in the hosts' history and\n"
     "                         run.json (required by 'require_reason: true')"},
    {{"force", no_argument, NULL, LO_FORCE},
     OPT_REASON,
     "    --force              run a 'once' task although the history says\n"
     "                         it already ran (asks on a terminal; recorded)"},
    {{"detach", no_argument, NULL, LO_DETACH},
     OPT_DETACH,
     "    --detach             start the task so that it outlives this\n"
     "                         connection; print its run id and return"},
    {{"follow", no_argument, NULL, LO_FOLLOW},
     OPT_FOLLOW,
     "    --follow             keep printing the output until the run ends\n"
     "                         (Ctrl-C stops following, not the run)"},
    {{"fold", no_argument, NULL, LO_FOLD},
     OPT_FOLD,
     "    --fold               print the selection as one node set"},
    {{"gather", no_argument, NULL, 'b'},
     OPT_VIEW,
     "-b, --gather             the same as --output gather"},
    {{"diff", no_argument, NULL, LO_DIFF},
     OPT_VIEW,
     "    --diff               gather (implied), and show the other groups\n"
     "                         as unified diffs against the biggest"},
    {{"summary", required_argument, NULL, LO_SUMMARY},
     OPT_VIEW,
     "    --summary MODE       auto (all hosts up to 20, else those not\n"
     "                         ok), full or short (only those not ok)"},
    {{"quiet", no_argument, NULL, 'q'},
     OPT_VIEW,
     "-q, --quiet              only errors and the summary: no host lines\n"
     "                         (the logs keep them), no progress"},
    {{"verbose", no_argument, NULL, 'v'},
     OPT_VIEW,
     "-v, --verbose            say where each host is connected and its\n"
     "                         release"},
    {{"silent-after", required_argument, NULL, LO_SILENT_AFTER},
     OPT_VIEW,
     "    --silent-after D     name hosts silent this long on the progress\n"
     "                         line (default 10s)"},
    {{"host", required_argument, NULL, LO_HOST},
     OPT_HOST,
     "    --host NAME          the host to open the console on (default:\n"
     "                         the task's run_on, the primary first)"},
    {{"no-stdin", no_argument, NULL, LO_NO_STDIN},
     OPT_STDIN,
     "    --no-stdin           do not pass oneoff's standard input (a pipe\n"
     "                         or a file) to the task"},
    {{"skip-gate", no_argument, NULL, LO_SKIP_GATE},
     OPT_GATE,
     "    --skip-gate          run although the task has not passed the\n"
     "                         stage named by promote_from (needs a reason;\n"
     "                         recorded)"},
    {{"from", required_argument, NULL, LO_FROM},
     OPT_PROMOTE,
     "    --from STAGE         promote: the stage that runs the task first"},
    {{"to", required_argument, NULL, LO_TO},
     OPT_PROMOTE,
     "    --to STAGE           promote: the stage it runs on next, only if\n"
     "                         it succeeded on every host of --from"},
    {{"help", no_argument, NULL, 'h'}, 0, "-h, --help               this help"},
    {{"directory", required_argument, NULL, 'C'},
     0,
     "-C DIR                   the project folder (default: .)"},
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

void options_init(struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->dir = ".";
    o->parallel = DEFAULT_PARALLEL;
    o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
}

void options_release(struct options *o)
{
    free(o->stage);
    free(o->ssh_config);
    free(o->known_hosts);
    free(o->log_dir);
    free(o->report);
    free(o->batch);
    free(o->max_fail);
    free(o->junit);
    free(o->from_stage);
    free(o->to_stage);
    free(o->reason);
    free(o->host);
    plan_opts_release(&o->plan);
    strlist_clear(&o->positional);
    strlist_clear(&o->identities);
    memset(o, 0, sizeof(*o));
}

static void split_commas(struct strlist *out, const char *s)
{
    const char *p = s;

    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n)
            strlist_push_owned(out, xstrndup(p, n));
        if (c == NULL)
            break;
        p = c + 1;
    }
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static int parse_env(struct kvlist *env, const char *arg, char *err)
{
    const char *eq = strchr(arg, '=');
    char *name, q[256];

    if (eq == NULL)
        return errf(err, "-e '%s': expected KEY=VALUE", Q(arg));
    name = xstrndup(arg, (size_t)(eq - arg));
    if (!env_name_valid(name)) {
        free(name);
        return errf(err, "-e '%s': not a valid environment variable name",
                    Q(arg));
    }
    kvlist_set(env, name, eq + 1);
    free(name);
    return 0;
}

static int apply(struct options *o, int c, const char *arg, char *err)
{
    char msg[ERR_MAX], q[ERR_MAX];

    switch (c) {
    case 's':
        set_str(&o->stage, arg);
        return 0;
    case 'l':
        nodeset_split(arg, &o->plan.limits);
        return 0;
    case 'r':
        split_commas(&o->plan.roles, arg);
        return 0;
    case 'n':
        o->dry_run = true;
        return 0;
    case 'y':
        o->yes = true;
        return 0;
    case 'i':
        strlist_push(&o->identities, arg);
        return 0;
    case 'e':
        return parse_env(&o->plan.env, arg, err);
    case 'h':
        o->help = true;
        return 0;
    case 'C':
        o->dir = arg;
        return 0;
    case LO_SSH_CONFIG:
        set_str(&o->ssh_config, arg);
        return 0;
    case LO_KNOWN_HOSTS:
        set_str(&o->known_hosts, arg);
        return 0;
    case LO_HOST_KEY_POLICY:
        if (strcmp(arg, "strict") == 0)
            o->host_key_policy = HOST_KEY_STRICT;
        else if (strcmp(arg, "accept-new") == 0)
            o->host_key_policy = HOST_KEY_ACCEPT_NEW;
        else
            return errf(err,
                        "--host-key-policy: '%s' is not strict or "
                        "accept-new",
                        Q(arg));
        o->host_key_policy_set = true;
        return 0;
    case LO_CONNECT_TIMEOUT:
        if (duration_parse(arg, &o->connect_timeout_ms, msg))
            return errf(err, "--connect-timeout: %s", Q(msg));
        o->connect_timeout_set = true;
        return 0;
    case LO_MAX_CONNECTING: {
        char *end = NULL;
        long v = strtol(arg, &end, 10);
        if (end == arg || *end || v < 1 || v > 100000)
            return errf(err,
                        "--max-connecting: '%s' is not a number from 1 to "
                        "100000",
                        Q(arg));
        o->max_connecting = (unsigned)v;
        return 0;
    }
    case LO_TIMEOUT:
        if (duration_parse(arg, &o->timeout_ms, msg))
            return errf(err, "--timeout: %s", Q(msg));
        return 0;
    case LO_PARALLEL: {
        char *end = NULL;
        long v = strtol(arg, &end, 10);
        if (end == arg || *end || v < 1 || v > 100000)
            return errf(err,
                        "--parallel: '%s' is not a number from 1 to "
                        "100000",
                        Q(arg));
        o->parallel = (unsigned)v;
        return 0;
    }
    case LO_LOG_DIR:
        set_str(&o->log_dir, arg);
        return 0;
    case LO_SKIP_GATE:
        o->skip_gate = true;
        return 0;
    case LO_FROM:
        set_str(&o->from_stage, arg);
        return 0;
    case LO_TO:
        set_str(&o->to_stage, arg);
        return 0;
    case LO_REPORT:
        set_str(&o->report, arg);
        return 0;
    case LO_OUTPUT:
        if (strcmp(arg, "stream") == 0)
            o->output = OUTPUT_STREAM;
        else if (strcmp(arg, "grouped") == 0)
            o->output = OUTPUT_GROUPED;
        else if (strcmp(arg, "gather") == 0)
            o->output = OUTPUT_GATHER;
        else
            return errf(err, "--output: '%s' is not stream, grouped or gather",
                        Q(arg));
        return 0;
    case 'b':
        o->output = OUTPUT_GATHER;
        return 0;
    case LO_DIFF:
        o->diff = true;
        return 0;
    case LO_SUMMARY:
        if (strcmp(arg, "auto") == 0)
            o->summary = SUMMARY_OPT_AUTO;
        else if (strcmp(arg, "full") == 0)
            o->summary = SUMMARY_OPT_FULL;
        else if (strcmp(arg, "short") == 0)
            o->summary = SUMMARY_OPT_SHORT;
        else
            return errf(err, "--summary: '%s' is not auto, full or short",
                        Q(arg));
        return 0;
    case 'q':
        o->quiet = true;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    case LO_SILENT_AFTER:
        if (duration_parse(arg, &o->silent_after_ms, msg))
            return errf(err, "--silent-after: %s", Q(msg));
        if (o->silent_after_ms <= 0)
            return errf(err, "--silent-after: must be more than 0");
        return 0;
    case LO_RELEASE:
        o->plan.release = arg;
        return 0;
    case LO_PREFLIGHT:
        o->preflight = true;
        return 0;
    case LO_ALLOW_DRIFT:
        o->allow_drift = true;
        return 0;
    case LO_WAIT_LOCK:
        if (duration_parse(arg, &o->plan.wait_lock_ms, msg))
            return errf(err, "--wait-lock: %s", Q(msg));
        return 0;
    case LO_BATCH:
        set_str(&o->batch, arg);
        return 0;
    case LO_MAX_FAIL:
        set_str(&o->max_fail, arg);
        return 0;
    case LO_REPORT_JUNIT:
        set_str(&o->junit, arg);
        return 0;
    case LO_JSON:
        o->json = true;
        return 0;
    case LO_FOLD:
        o->fold = true;
        return 0;
    case 'm':
        if (arg[0] == '\0')
            return errf(err, "--reason: the reason is empty");
        set_str(&o->reason, arg);
        return 0;
    case LO_FORCE:
        o->force = true;
        return 0;
    case LO_HOST:
        set_str(&o->host, arg);
        return 0;
    case LO_NO_STDIN:
        o->no_stdin = true;
        return 0;
    case LO_DETACH:
        o->detach = true;
        return 0;
    case LO_FOLLOW:
        o->follow = true;
        return 0;
    default:
        return errf(err, "unexpected option");
    }
}

const char *cli_closest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bd = 3;

    for (size_t i = 0; i < n; i++) {
        size_t d = str_distance(s, names[i], 2);
        if (d < bd && d < strlen(s)) {
            bd = d;
            best = names[i];
        }
    }
    return best;
}

/* The definition getopt_long() returned c for (longindex, or -1). */
static const struct optdef *def_of(int c, int longindex)
{
    if (longindex >= 0 && (size_t)longindex < NDEFS)
        return &defs[longindex];
    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].lo.val == c)
            return &defs[i];
    return NULL;
}

/* "unknown option '--dryrun'; did you mean '--dry-run'?", suggesting only
 * the options cmd accepts. */
static int unknown_option(const char *cmd, const char *arg, unsigned allowed,
                          char *err)
{
    const char *names[NDEFS];
    const char *best;
    char q[256], name[64];
    size_t n = 0, len;

    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
        return errf(err, "%s: unknown option '%s'", cmd, Q(arg));
    len = strcspn(arg + 2, "=");
    snprintf(name, sizeof(name), "%.*s", (int)len, arg + 2);
    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].bit == 0 || (defs[i].bit & allowed))
            names[n++] = defs[i].lo.name;
    best = cli_closest(name, names, n);
    if (best)
        return errf(err, "%s: unknown option '%s'; did you mean '--%s'?", cmd,
                    Q(arg), best);
    return errf(err, "%s: unknown option '%s'", cmd, Q(arg));
}

int cli_parse(struct options *o, int argc, char **argv, unsigned allowed,
              char *err)
{
    struct option lo[NDEFS + 1];
    char shortopts[64], q[256];
    size_t ns = 1;
    int nargs = argc, c, li;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            nargs = i;
            o->have_dashdash = true;
            for (int j = i + 1; j < argc; j++)
                strlist_push(&o->plan.args, argv[j]);
            break;
        }
    }
    if (o->have_dashdash && !(allowed & OPT_ARGS))
        return errf(err, "'%s' takes no arguments after '--'", argv[0]);
    /* every option is known to getopt, so that one of another command is
     * told apart from a typo; its bit is checked below */
    shortopts[0] = ':';
    for (size_t i = 0; i < NDEFS; i++) {
        lo[i] = defs[i].lo;
        if (defs[i].lo.val < 256) {
            shortopts[ns++] = (char)defs[i].lo.val;
            if (defs[i].lo.has_arg == required_argument)
                shortopts[ns++] = ':';
        }
    }
    shortopts[ns] = '\0';
    memset(&lo[NDEFS], 0, sizeof(lo[NDEFS]));
    optind = 0; /* full reset, as glibc documents */
    opterr = 0;
    while ((li = -1, c = getopt_long(nargs, argv, shortopts, lo, &li)) != -1) {
        const struct optdef *d;
        if (c == '?') {
            char opt[3] = {'-', (char)optopt, '\0'};
            if (optopt >= 256)
                return errf(err, "%s: option '%s' takes no value", argv[0],
                            Q(argv[optind - 1]));
            if (optopt)
                return errf(err, "%s: unknown option '%s'", argv[0], Q(opt));
            return unknown_option(argv[0], argv[optind - 1], allowed, err);
        }
        if (c == ':')
            return errf(err, "%s: option '%s' needs a value", argv[0],
                        Q(argv[optind - 1]));
        d = def_of(c, li);
        if (d && d->bit && !(d->bit & allowed)) {
            if (d->lo.val < 256)
                return errf(err, "'%s' does not take -%c (--%s)", argv[0],
                            d->lo.val, d->lo.name);
            return errf(err, "'%s' does not take --%s", argv[0], d->lo.name);
        }
        if (apply(o, c, optarg, err))
            return -1;
    }
    for (int i = optind; i < nargs; i++)
        strlist_push(&o->positional, argv[i]);
    if (o->json && o->report && record_report_is_stdout(o->report))
        return errf(err,
                    "--json and --report '%s' would both write to "
                    "stdout; give --report a file",
                    Q(o->report));
    return 0;
}

void cli_print_option_help(unsigned mask)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (defs[i].bit == 0 || (defs[i].bit & mask))
            printf("  %s\n", defs[i].help);
}
