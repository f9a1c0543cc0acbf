/*
 * cmd_run.c - `oneoff run TASK` and `oneoff exec -- COMMAND`.
 *
 * Both resolve a plan (inventory + task + selection) first; every
 * configuration error surfaces here, before any host is contacted, so that
 * nothing is ever half-done. `--dry-run` prints the plan and each host's
 * exact script, every refusal that is known without connecting (with the
 * exit code the real run would give) and what only the hosts can tell
 * ("checked at preflight"), and stops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oneoff/commands.h"
#include "oneoff/console.h"
#include "oneoff/job.h"
#include "oneoff/inventory.h"
#include "oneoff/plan.h"
#include "oneoff/host_script.h"
#include "oneoff/promotion.h"
#include "oneoff/junit.h"
#include "oneoff/record.h"
#include "oneoff/runner.h"
#include "oneoff/runtime.h"
#include "oneoff/task.h"

static void print_plan(const struct plan *p)
{
    const struct task *t = p->task;
    char dur[32] = "none";

    if (t->timeout_ms)
        duration_format(t->timeout_ms, dur, sizeof(dur));
    printf("plan: %s '%s' on stage '%s', %zu host%s",
           t->adhoc ? "command" : "task", t->name, p->inv->stage, p->nrun,
           p->nrun == 1 ? "" : "s");
    if (p->nhosts > p->nrun)
        printf(" (and %zu checked only: their release must agree)",
               p->nhosts - p->nrun);
    printf("\n");
    if (t->sha256[0])
        printf("  file     %s (sha256 %s)\n", t->path, t->sha256);
    printf("  command  %s\n", t->command);
    printf("  run_on   %s%s%s, lock %s, timeout %s, confirm %s\n",
           run_on_name(t->run_on), t->role ? ":" : "", t->role ? t->role : "",
           t->lock ? "yes" : "no", dur, p->confirm ? "yes" : "no");
    for (size_t i = 0; i < p->nhosts; i++) {
        const struct plan_host *ph = &p->hosts[i];
        const struct host *h = ph->host;
        const struct strlist *args;
        char port[12] = "22", *script, *line;
        if (h->set.port)
            snprintf(port, sizeof(port), "%u", h->set.port);
        printf("\nhost %s (%s@%s:%s%s%s)%s\n", h->name,
               h->set.user ? h->set.user : "(ssh config)",
               h->address ? h->address : h->name, port,
               h->primary ? ", primary" : "",
               h->set.transport == TRANSPORT_LOCAL ? ", local" : "",
               ph->check_only ? ", checked only: the task does not run here"
                              : "");
        printf("  app_dir  %s\n  release  %s\n", h->set.app_dir, ph->release);
        if (ph->become)
            printf("  become   %s\n", ph->become);
        script = plan_dry_run_script(p, ph);
        printf("--- script ---\n%s--- end of script ---\n", script);
        free(script);
        /* a console's task has its script in the line (plan.c's rule) */
        args = ph->check_only ? NULL : &p->shown_args;
        line = p->task->pty && !ph->check_only
                   ? script_command_line("<script>", ph->become, args)
                   : script_boot_line_shown(ph->become, args);
        printf("sent as: %s\n", line);
        free(line);
    }
}

/* Joins the words after "--" of `exec`: one word is a shell command line;
 * several are a command and its arguments, each passed verbatim. */
char *command_join_words(const struct strlist *words)
{
    struct buf b;
    size_t max = 1;

    if (words->n == 1)
        return xstrdup(words->v[0]);
    /* quoting makes a word at most 4 times as long, plus its quotes and a
     * space: the buffer holds the worst case, so no append can fail (the
     * plan then checks that the line fits a host) */
    for (size_t i = 0; i < words->n; i++)
        max += 4 * strlen(words->v[i]) + 3;
    buf_init(&b, max);
    for (size_t i = 0; i < words->n; i++) {
        if (i)
            BUF_MUST(buf_addc(&b, ' '));
        BUF_MUST(sh_quote(&b, words->v[i]));
    }
    return buf_detach(&b);
}

/* What a run refuses before it connects anywhere, in the order the real
 * run checks it, each with the exit code it gives: the real run stops at
 * the first, --dry-run lists them all and exits with the first's code. */
#define REFUSALS_MAX 8

struct refusals {
    size_t n;
    int code[REFUSALS_MAX];
    char why[REFUSALS_MAX][ERR_MAX];
};

static void refuse(struct refusals *r, int code, const char *why)
{
    if (r->n == REFUSALS_MAX)
        return;
    r->code[r->n] = code;
    snprintf(r->why[r->n], sizeof(r->why[r->n]), "%s", why);
    r->n++;
}

static void report_refusal(const struct options *o, const struct plan *p,
                           const char *why, int code);

/* Task keys this version parses but cannot honour here: a terminal task
 * runs only as a console. */
static void unsupported(const struct task *t, const struct options *o,
                        bool console, struct refusals *r)
{
    char why[ERR_MAX];

    if (t->pty && !console) {
        snprintf(why, sizeof(why),
                 "task '%s' needs a terminal ('pty: true'): open it with "
                 "'oneoff console -s %s %s'",
                 t->name, o->stage, t->name);
        refuse(r, EXIT_USAGE, why);
    }
}

/* require_reason on the stage or the task: a run needs --reason. */
static int check_reason(const struct options *o, const struct plan *p,
                        char *err)
{
    if (o->reason)
        return 0;
    if (p->inv->require_reason)
        return errf(err,
                    "stage '%s' requires a reason ('require_reason: true'): "
                    "pass -m/--reason TEXT; nothing was run",
                    p->inv->stage);
    if (p->task->require_reason)
        return errf(err,
                    "task '%s' requires a reason ('require_reason: true'): "
                    "pass -m/--reason TEXT; nothing was run",
                    p->task->name);
    return 0;
}

/* The project's git user.email, for the history; NULL when git or the
 * setting is missing. git runs without a shell between (one process less
 * to start), its input and errors on /dev/null. Caller frees. */
static char *git_email(const char *dir)
{
    char git[] = "git", dash_c[] = "-C", config[] = "config",
         key[] = "user.email";
    char *argv[] = {git, dash_c, (char *)dir, config, key, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char line[256];
    size_t n = 0;
    ssize_t r;
    int fd[2], rc, status;
    pid_t pid;

    if (pipe2(fd, O_CLOEXEC) != 0)
        return NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    spawn_attr_clean(&at, 0);
    rc = posix_spawnp(&pid, "git", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return NULL;
    }
    while (n < sizeof(line) - 1 &&
           ((r = read(fd[0], line + n, sizeof(line) - 1 - n)) > 0 ||
            (r < 0 && errno == EINTR)))
        n += r > 0 ? (size_t)r : 0;
    close(fd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    return line[0] ? xstrdup(line) : NULL;
}

/* --force on a `once` task: the operator at a terminal says it again. */
static int confirm_force(const struct plan *p, const struct options *o)
{
    char line[64];
    FILE *tty;

    if (!o->force || !p->task->once || o->yes || !isatty(STDIN_FILENO) ||
        (tty = fopen("/dev/tty", "r+")) == NULL)
        return EXIT_OK;
    fprintf(tty,
            "oneoff: --force: task '%s' is a 'once' task; it runs on stage "
            "'%s' even if\nits history says it already ran there. Type "
            "'force' to go on: ",
            p->task->name, p->inv->stage);
    fflush(tty);
    if (fgets(line, sizeof(line), tty) == NULL)
        line[0] = '\0';
    fclose(tty);
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, "force") != 0) {
        fprintf(stderr, "oneoff: not confirmed; nothing was run\n");
        report_refusal(o, p, "--force not confirmed; nothing was run",
                       EXIT_REFUSED);
        return EXIT_REFUSED;
    }
    return EXIT_OK;
}

/* Rollout settings are checked before anything connects. */
static void check_rollout(const struct options *o, const struct plan *p,
                          struct refusals *r)
{
    struct rollout ro;
    char err[ERR_MAX];

    if (rollout_parse(o->batch ? o->batch : p->task->batch,
                      o->max_fail ? o->max_fail : p->task->max_fail, p->nrun,
                      &ro, err)) {
        refuse(r, EXIT_USAGE, err);
        return;
    }
    rollout_release(&ro);
}

/* Whether the task gets oneoff's stdin: a pipe or a file, never a
 * terminal, and not /dev/null (which gives nothing, so it costs nothing). */
static bool has_input(const struct options *o)
{
    struct stat st, null;

    if (o->no_stdin || o->preflight || isatty(STDIN_FILENO) ||
        fstat(STDIN_FILENO, &st) != 0)
        return false;
    return !(S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 &&
             st.st_rdev == null.st_rdev);
}

/* Every host reads the one input at once (stdin_feed.h): none may wait
 * for a batch or a free worker. */
static int check_input(const struct options *o, const struct plan *p, char *err)
{
    if (!p->input)
        return 0;
    if (o->batch || p->task->batch)
        return errf(err, "standard input goes to every host at once, not in "
                         "batches: pass --no-stdin, or run without a batch");
    if (p->nrun > o->parallel)
        return errf(err,
                    "standard input goes to every host at once: %zu hosts "
                    "need --parallel %zu (or pass --no-stdin)",
                    p->nrun, p->nrun);
    return 0;
}

static void known_refusals(const struct options *o, const struct plan *p,
                           bool console, struct refusals *r)
{
    char why[ERR_MAX];

    memset(r, 0, sizeof(*r));
    unsupported(p->task, o, console, r);
    check_rollout(o, p, r);
    if (check_input(o, p, why))
        refuse(r, EXIT_USAGE, why);
    if (check_reason(o, p, why))
        refuse(r, EXIT_REFUSED, why);
    if (o->skip_gate && o->reason == NULL) {
        snprintf(why, sizeof(why),
                 "--skip-gate needs a reason: pass -m/--reason TEXT");
        refuse(r, EXIT_USAGE, why);
    }
    if (o->skip_gate && (p->inv->promote_from == NULL || p->task->adhoc)) {
        snprintf(why, sizeof(why),
                 "--skip-gate: %s; there is no promotion gate to skip",
                 p->task->adhoc ? "an ad-hoc command is not promoted"
                                : "the stage has no promote_from");
        refuse(r, EXIT_USAGE, why);
    }
}

static bool promotion_applies(const struct plan *p)
{
    return p->inv->promote_from && !p->task->adhoc;
}

/* --dry-run: what only the hosts can tell, checked by the preflight. */
static void print_preflight_checks(const struct options *o,
                                   const struct plan *p)
{
    const struct task *t = p->task;

    printf("\nchecked at preflight (on the hosts, when the run connects):\n");
    printf("  - every host's set-up: app_dir, env files, release%s\n",
           t->become || p->hosts[0].become ? ", become" : "");
    printf("  - every host reports the same release and revision (%zu "
           "host%s",
           p->nhosts, p->nhosts == 1 ? "" : "s");
    if (p->nhosts > p->nrun)
        printf(", %zu of them checked only", p->nhosts - p->nrun);
    printf(")\n");
    if (!t->adhoc)
        printf("  - the release's %s is this one (sha256 %s)%s\n", t->path,
               t->sha256, o->allow_drift ? ": --allow-drift" : "");
    if (t->lock)
        printf("  - the lock of task '%s' is free on every host it runs "
               "on\n",
               t->name);
    if (t->once)
        printf("  - 'once': this content never succeeded (nor started "
               "without an end) on\n    stage '%s', from the history of "
               "the hosts it runs on%s\n",
               p->inv->stage, o->force ? ": --force" : "");
    if (promotion_applies(p))
        printf("  - the promotion gate: this content succeeded on every host "
               "it ran on\n    in stage '%s', at the revision of this "
               "release (from its hosts' history)%s\n",
               p->inv->promote_from, o->skip_gate ? ": --skip-gate" : "");
    if (p->confirm)
        printf("confirmation: the stage name is asked for on a terminal%s\n",
               o->yes ? " (--yes given)" : "; without one, --yes is needed");
}

/* --report-junit for a refused run: every planned host skipped, why. */
static void junit_refusal(const char *path, const struct record_run *run,
                          const struct plan *p, const char *why, int code)
{
    struct record_run rr = *run;
    struct record_host *hosts = xcalloc(p->nhosts + 1, sizeof(*hosts));
    char err[ERR_MAX];

    rr.refused = why;
    rr.exit_code = code;
    rr.started_ms = rr.finished_ms = clock_wall_ms();
    for (size_t i = 0; i < p->nhosts; i++) {
        hosts[i].name = p->hosts[i].host->name;
        hosts[i].status = "refused";
        hosts[i].exit_code = -1;
        hosts[i].error = why;
    }
    if (junit_write(path, &rr, hosts, p->nhosts, err))
        fprintf(stderr, "oneoff: %s\n", err);
    free(hosts);
}

/* A run refused before it started still leaves its --report, saying
 * why (CI reads the report, not the terminal). */
static void report_refusal(const struct options *o, const struct plan *p,
                           const char *why, int code)
{
    const struct task *t = p->task;
    struct record_run run;
    char id[64], op[64], err[ERR_MAX];

    if (o->report == NULL && o->junit == NULL)
        return;
    memset(&run, 0, sizeof(run));
    record_new_id(id, sizeof(id));
    record_operator(op, sizeof(op));
    run.run_id = id;
    run.operator_name = op;
    run.stage = p->inv->stage;
    run.task = t->name;
    run.task_file = t->sha256[0] ? t->path : NULL;
    run.task_sha256 = t->sha256;
    run.command = t->command;
    run.args = &p->shown_args;
    run.reason = o->reason;
    run.allow_drift = o->allow_drift;
    run.timeout_ms = o->timeout_ms ? o->timeout_ms : t->timeout_ms;
    if (o->report && record_write_refused(o->report, &run, why, code, err))
        fprintf(stderr, "oneoff: %s\n", err);
    if (o->junit)
        junit_refusal(o->junit, &run, p, why, code);
}

/* A protected stage: --yes, or the operator types the stage name. */
static int confirm(const struct plan *p, const struct options *o)
{
    char line[256], why[ERR_MAX];
    FILE *tty;

    if (!p->confirm || o->yes || o->preflight)
        return EXIT_OK;
    if (!isatty(STDIN_FILENO) || (tty = fopen("/dev/tty", "r+")) == NULL) {
        snprintf(why, sizeof(why),
                 "stage '%s' needs confirmation: pass --yes (no terminal "
                 "to ask on); nothing was run",
                 p->inv->stage);
        fprintf(stderr, "oneoff: %s\n", why);
        report_refusal(o, p, why, EXIT_REFUSED);
        return EXIT_REFUSED;
    }
    fprintf(tty,
            "oneoff: about to run '%s' on %zu host%s of stage '%s'.\n"
            "Type the stage name to go on: ",
            p->task->name, p->nrun, p->nrun == 1 ? "" : "s", p->inv->stage);
    fflush(tty);
    if (fgets(line, sizeof(line), tty) == NULL)
        line[0] = '\0';
    fclose(tty);
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, p->inv->stage) != 0) {
        snprintf(why, sizeof(why), "not confirmed; nothing was run");
        fprintf(stderr, "oneoff: %s\n", why);
        report_refusal(o, p, why, EXIT_REFUSED);
        return EXIT_REFUSED;
    }
    return EXIT_OK;
}

/* The stage before (promote_from), ready to reach: every host of it. */
static int from_open(const struct options *o, const struct plan *p,
                     struct stage_hosts *f, char *why)
{
    char err[ERR_MAX];

    if (command_stage_open(o, p->inv->promote_from, "true", NULL, f, err) == 0)
        return 0;
    snprintf(why, ERR_MAX, "stage '%.64s' (promote_from in %.64s): %.800s",
             p->inv->promote_from, p->inv->path, err);
    return -1;
}

/* --skip-gate, confirmed: the stage before's hosts that the gate read get
 * a gate-skipped line for this run, before it starts (a host that cannot
 * be written is said, and the run goes on). */
static void note_skipped_gate(const struct options *o, const struct plan *p,
                              const struct promotion_input *pin,
                              const char *run_id, const char *email)
{
    struct stage_hosts f;
    struct strlist failed = {0}, why = {0};
    struct history_gate_skip g;
    char op[256], err[ERR_MAX];

    if (from_open(o, p, &f, err)) {
        fprintf(stderr,
                "oneoff: warning: the skipped gate is not in the "
                "history of stage '%s': %s\n",
                p->inv->promote_from, err);
        return;
    }
    record_operator(op, sizeof(op));
    memset(&g, 0, sizeof(g));
    g.run = run_id;
    g.stage = pin->from_stage;
    g.to_stage = pin->to_stage;
    g.task = pin->task_name;
    g.sha256 = pin->task_sha256;
    g.operator_name = op;
    g.email = email;
    g.reason = o->reason;
    g.at_ms = clock_wall_ms();
    if (promotion_note_skip(&f.plan, f.tps.per_host, o->parallel, pin->unread,
                            pin->nunread, &g, &failed, &why, err) < 0)
        fprintf(stderr,
                "oneoff: warning: the skipped gate is not in the "
                "history of stage '%s': %s\n",
                pin->from_stage, err);
    for (size_t i = 0; i < failed.n; i++)
        fprintf(stderr,
                "oneoff: warning: the skipped gate is not in the "
                "history of host %s of stage '%s': %s\n",
                failed.v[i], pin->from_stage, why.v[i]);
    strlist_clear(&failed);
    strlist_clear(&why);
    command_stage_close(&f);
}

/* The stage before (promote_from): its hosts' history read into pr, and
 * pin set up for the gate. What can be judged before this stage's
 * preflight (everything but the revision) is judged here: returns
 * EXIT_OK, or the refusal's code with why. */
static int promotion_prepare(const struct options *o, const struct plan *p,
                             struct promotion_read *pr,
                             struct promotion_input *pin, char *why)
{
    struct stage_hosts f;
    struct gate_result res;
    int rc;

    memset(pr, 0, sizeof(*pr));
    history_init(&pr->history);
    if (from_open(o, p, &f, why))
        return EXIT_USAGE;
    history_release(&pr->history);
    promotion_read(&f.plan, f.tps.per_host, o->parallel, pr);
    command_stage_close(&f);
    memset(pin, 0, sizeof(*pin));
    pin->from_stage = p->inv->promote_from;
    pin->to_stage = p->inv->stage;
    pin->task_name = p->task->name;
    pin->task_sha256 = p->task->sha256;
    pin->from = &pr->history;
    pin->unread = (const char *const *)pr->unread.v;
    pin->unread_why = (const char *const *)pr->why.v;
    pin->nunread = pr->unread.n;
    pin->skip = o->skip_gate;
    gate_promotion(pin, &res); /* any revision: refused now, refused then */
    rc = res.verdict == GATE_GO ? EXIT_OK : res.exit_code;
    snprintf(why, ERR_MAX, "%s", res.reason);
    gate_result_release(&res);
    return rc;
}

static int start(const struct options *o, struct plan *p,
                 const struct promotion_input *pin, struct console *con)
{
    struct command_transports tps;
    struct runner_opts ro;
    struct strlist overrides = {0};
    struct job_detach jd;
    char err[ERR_MAX], id[64];
    char *log_root = NULL, *email = NULL;
    int rc;

    if (o->detach && job_detach_prepare(p, o->allow_drift, &jd, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    if (command_transports(o, p, &tps, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        if (o->detach)
            job_detach_done(p, &jd, EXIT_USAGE);
        return EXIT_USAGE;
    }
    /* the id now: a skipped gate is recorded before the run starts */
    snprintf(id, sizeof(id), "%s", o->detach ? jd.run_id : "");
    if (!o->detach)
        record_new_id(id, sizeof(id));
    email = git_email(o->dir);
    if (pin && pin->skip && !o->preflight)
        note_skipped_gate(o, p, pin, id, email);
    log_root = o->log_dir ? xstrdup(o->log_dir) : xasprintf("%s/log", o->dir);
    memset(&ro, 0, sizeof(ro));
    ro.mode = o->preflight ? RUN_PREFLIGHT : RUN_TASK;
    ro.allow_drift = o->allow_drift;
    ro.batch = o->batch ? o->batch : p->task->batch;
    ro.max_fail = o->max_fail ? o->max_fail : p->task->max_fail;
    ro.parallel = o->parallel;
    ro.timeout_ms = o->timeout_ms ? o->timeout_ms : p->task->timeout_ms;
    ro.output = o->output == OUTPUT_GROUPED ? OUT_GROUPED : OUT_STREAM;
    if (o->output == OUTPUT_GATHER || o->diff)
        ro.output = OUT_GATHER;
    ro.diff = o->diff;
    ro.quiet = o->quiet;
    ro.verbose = o->verbose;
    ro.summary = o->summary == SUMMARY_OPT_FULL    ? SUMMARY_FULL
                 : o->summary == SUMMARY_OPT_SHORT ? SUMMARY_SHORT
                                                   : SUMMARY_AUTO;
    ro.silent_after_ms = o->silent_after_ms;
    ro.log_root = log_root;
    ro.report = o->report;
    ro.json = o->json;
    ro.junit = o->junit;
    ro.transports = tps.per_host;
    ro.promotion = pin;
    ro.reason = o->reason;
    ro.email = email;
    ro.force = o->force;
    if (o->force)
        strlist_push(&overrides, "force");
    if (o->allow_drift)
        strlist_push(&overrides, "allow-drift");
    if (o->plan.release)
        strlist_push(&overrides, "release");
    if (pin && pin->skip) /* said in every host's history and run.json */
        strlist_push(&overrides, "skip-gate");
    ro.overrides = &overrides;
    if (con) {
        /* nothing may print over the session; no deadline for a human */
        ro.console = con;
        ro.quiet = true;
        ro.timeout_ms = o->timeout_ms;
        ro.output = OUT_STREAM;
    }
    ro.run_id = id;
    err[0] = '\0';
    rc = runner_run(p, &ro, err);
    if (err[0])
        fprintf(stderr, "oneoff: %s\n", err);
    free(log_root);
    free(email);
    strlist_clear(&overrides);
    if (o->detach)
        job_detach_done(p, &jd, rc);
    command_transports_release(&tps);
    return rc;
}

/* A task in a container reads the channel itself (host_runtime.sh), not
 * the framed input: its hosts get none, which is said. */
static int no_input_in_containers(struct options *o,
                                  const struct inventory *inv,
                                  const struct task *t, struct plan *plan,
                                  char *err)
{
    for (size_t i = 0; i < plan->nhosts; i++) {
        if (plan->hosts[i].rt.kind == RUNTIME_PLAIN)
            continue;
        fprintf(stderr,
                "oneoff: note: standard input is not passed to a "
                "task in a container (runtime: %s); the task gets "
                "none (--no-stdin says so quietly)\n",
                runtime_name(plan->hosts[i].rt.kind));
        o->plan.input = false;
        plan_release(plan);
        return plan_build(plan, inv, t, &o->plan, err);
    }
    return 0;
}

/* A console runs on one host: --host, else the primary among the hosts
 * the task's run_on selects, else the first of them. */
static int console_host(struct options *o, const struct inventory *inv,
                        struct task *t, struct plan *plan, char *err)
{
    const char *name = NULL;

    if (plan->nhosts == 1)
        return 0;
    if (o->host)
        return errf(err, "--host '%s' names %zu hosts of stage '%s'; name one",
                    o->host, plan->nhosts, inv->stage);
    for (size_t i = 0; i < plan->nhosts && !name; i++)
        if (plan->hosts[i].host->primary)
            name = plan->hosts[i].host->name;
    if (name == NULL)
        name = plan->hosts[0].host->name;
    strlist_push(&o->plan.limits, name);
    t->run_on = RUN_ON_ALL;
    plan_release(plan);
    return plan_build(plan, inv, t, &o->plan, err);
}

int command_run_task(struct options *o, struct task *t, struct console *con)
{
    struct inventory inv;
    struct plan plan;
    struct refusals refused;
    struct promotion_read pr;
    struct promotion_input pin;
    bool gated = false;
    char err[ERR_MAX];
    int rc = EXIT_USAGE;

    if (inventory_load(&inv, o->dir, o->stage, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    /* a detached job's stdin is /dev/null */
    o->plan.input = con == NULL && !o->detach && has_input(o);
    if (plan_build(&plan, &inv, t, &o->plan, err) ||
        (plan.input && no_input_in_containers(o, &inv, t, &plan, err)) ||
        (con && console_host(o, &inv, t, &plan, err))) {
        fprintf(stderr, "oneoff: %s\n", err);
        plan_release(&plan);
        inventory_release(&inv);
        return EXIT_USAGE;
    }
    known_refusals(o, &plan, con != NULL, &refused);
    for (size_t i = 0; i < refused.n; i++)
        fprintf(stderr, "oneoff: %s%s\n", o->dry_run ? "would refuse: " : "",
                refused.why[i]);
    if (o->dry_run) {
        print_plan(&plan);
        print_preflight_checks(o, &plan);
        rc = refused.n ? refused.code[0] : EXIT_OK;
        if (refused.n)
            printf("\nrefused before connecting: exit %d (%zu reason%s on "
                   "stderr)\n",
                   rc, refused.n, refused.n == 1 ? "" : "s");
    } else if (refused.n) {
        rc = refused.code[0];
        report_refusal(o, &plan, refused.why[0], rc);
    } else if (promotion_applies(&plan) &&
               ((gated = true), (rc = promotion_prepare(o, &plan, &pr, &pin,
                                                        err)) != EXIT_OK)) {
        fprintf(stderr, "oneoff: %s\n", err);
        report_refusal(o, &plan, err, rc);
    } else if ((rc = confirm(&plan, o)) == EXIT_OK &&
               (rc = confirm_force(&plan, o)) == EXIT_OK) {
        rc = start(o, &plan, gated ? &pin : NULL, con);
    }
    if (gated)
        promotion_read_release(&pr);
    plan_release(&plan);
    inventory_release(&inv);
    return rc;
}

static int run_run(struct options *o)
{
    struct task t;
    char err[ERR_MAX];
    int rc;

    if (o->positional.n == 0)
        return command_usage_error(&cmd_run, "no task given");
    if (o->positional.n > 1)
        return command_usage_error(&cmd_run, "task arguments go after '--'");
    if (o->stage == NULL)
        return command_usage_error(&cmd_run, "no stage given (-s STAGE)");
    if (task_load(&t, o->dir, o->positional.v[0], err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    rc = command_run_task(o, &t, NULL);
    task_release(&t);
    return rc;
}

static int run_exec(struct options *o)
{
    struct task t;
    char *command;
    int rc;

    if (o->positional.n)
        return command_usage_error(&cmd_exec, "the command goes after '--'");
    if (o->stage == NULL)
        return command_usage_error(&cmd_exec, "no stage given (-s STAGE)");
    if (o->plan.args.n == 0 || o->plan.args.v[0][0] == '\0')
        return command_usage_error(&cmd_exec, "no command given after '--'");
    command = command_join_words(&o->plan.args);
    task_adhoc(&t, command);
    free(command);
    strlist_clear(&o->plan.args);
    rc = command_run_task(o, &t, NULL);
    task_release(&t);
    return rc;
}

const struct command cmd_run = {
    .name = "run",
    .usage = "TASK -s STAGE [OPTIONS] [-- ARGS...]",
    .summary = "run a task from tasks/ on the hosts of a stage",
    .help = "Runs tasks/TASK.yml on the hosts of the stage it selects, in "
            "the deployed\nrelease, with the app's environment. ARGS after "
            "'--' reach the task's\ncommand as \"$@\", byte for byte. "
            "Every host first reports its release,\nrevision, task file and "
            "lock; nothing runs anywhere unless they agree.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_DRY_RUN | OPT_YES | OPT_SSH | OPT_RUN |
            OPT_TASK | OPT_ARGS | OPT_ROLLOUT | OPT_VIEW | OPT_REASON |
            OPT_GATE | OPT_STDIN | OPT_DETACH,
    .run = run_run,
};

const struct command cmd_exec = {
    .name = "exec",
    .usage = "-s STAGE [OPTIONS] -- COMMAND...",
    .summary = "run an ad-hoc command like a task, on every selected host",
    .help = "Runs COMMAND like a task: in the release, with the app's "
            "environment,\nrecorded like a task run. One word after '--' is "
            "a shell command line\n('env | sort'); several words are a "
            "command and its arguments, each\npassed verbatim.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_DRY_RUN | OPT_YES | OPT_SSH | OPT_RUN |
            OPT_TASK | OPT_ARGS | OPT_ROLLOUT | OPT_VIEW | OPT_REASON |
            OPT_GATE | OPT_STDIN | OPT_DETACH,
    .run = run_exec,
};
