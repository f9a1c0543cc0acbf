/*
 * test_remote_script.c - unit tests for remote_script.c: sh_quote(), the
 * command line, and the composed script run for real the way sshd runs a
 * command (fork, setsid, exec of /bin/sh -c COMMAND_LINE with stdin a pipe):
 * hostile values arrive byte for byte, env files are exported, the task runs
 * in the resolved release, exit statuses and signals propagate, setup
 * failures exit 125, and closing stdin stops the task's process group.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/remote_script.h"
#include "oneoff/util.h"

/* A deployed application in a temporary folder:
 *   ROOT/app dir 'q' $x/releases/r1/      (the release, with a file in it)
 *   ROOT/app dir 'q' $x/current -> releases/r1
 *   ROOT/app dir 'q' $x/shared/.env
 * The app_dir's name is hostile on purpose: it is quoted like any value. */
struct fixture {
    char *root;
    char *app_dir;
    char *release_real; /* realpath of releases/r1 */
    char *out;          /* where commands write what they saw */
    char *stdout_path;
    char *stderr_path;
};

struct run {
    int status;
    char *out; /* the child's stdout and stderr */
    size_t out_len;
    char *err;
    int64_t ms; /* from fork to exit */
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void mkdir_p(const char *root, const char *rel)
{
    char *p = xasprintf("%s/%s", root, rel);

    if (mkdir(p, 0700) != 0)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    free(p);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char *p, real[PATH_MAX];

    f->root = xstrdup("/tmp/oneoff-test-rs-XXXXXX");
    if (mkdtemp(f->root) == NULL)
        return -1;
    f->app_dir = xasprintf("%s/app dir 'q' $x", f->root);
    if (mkdir(f->app_dir, 0700) != 0)
        return -1;
    mkdir_p(f->app_dir, "releases");
    mkdir_p(f->app_dir, "releases/r1");
    mkdir_p(f->app_dir, "releases/r1/bin");
    mkdir_p(f->app_dir, "shared");
    p = xasprintf("%s/current", f->app_dir);
    if (symlink("releases/r1", p) != 0)
        return -1;
    free(p);
    p = xasprintf("%s/shared/.env", f->app_dir);
    write_file(p, "# the app's secrets, never in the script\n"
                  "FROM_ENV_FILE='from the env file'\n"
                  "SHARED_SECRET=s3cr3t\n"
                  "OVERRIDDEN=by-env-file\n");
    free(p);
    p = xasprintf("%s/releases/r1", f->app_dir);
    if (realpath(p, real) == NULL)
        return -1;
    free(p);
    f->release_real = xstrdup(real);
    f->out = xasprintf("%s/out", f->root);
    f->stdout_path = xasprintf("%s/stdout", f->root);
    f->stderr_path = xasprintf("%s/stderr", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *cmd = xasprintf("rm -rf '%s'", f->root);
    int rc = system(cmd);

    free(cmd);
    free(f->root);
    free(f->app_dir);
    free(f->release_real);
    free(f->out);
    free(f->stdout_path);
    free(f->stderr_path);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void run_release(struct run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Runs cmdline as sshd does for an exec request: a new session, the user's
 * shell with -c, stdin a pipe. input is written to the pipe first; the pipe
 * is then closed after close_after_ms (-1: only once the child has exited,
 * as a live SSH channel would). A child still running after timeout_ms is
 * killed and the test fails. */
static void run_cmdline(const struct fixture *f, const char *cmdline,
                        const char *input, int close_after_ms,
                        int timeout_ms, struct run *r)
{
    int in[2];
    pid_t pid;
    int64_t t0, now;
    bool closed = false;
    size_t len = 0;

    memset(r, 0, sizeof(*r));
    assert_int_equal(pipe(in), 0);
    t0 = clock_mono_ms();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(f->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(f->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(126);
        setsid();
        dup2(in[0], 0);
        dup2(o, 1);
        dup2(e, 2);
        close(in[0]);
        close(in[1]);
        close(o);
        close(e);
        execl("/bin/sh", "sh", "-c", cmdline, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    if (input)
        assert_int_equal(write(in[1], input, strlen(input)),
                         (ssize_t)strlen(input));
    for (;;) {
        pid_t w = waitpid(pid, &r->status, WNOHANG);
        now = clock_mono_ms();
        if (w == pid)
            break;
        assert_int_equal(w, 0);
        if (!closed && close_after_ms >= 0 && now - t0 >= close_after_ms) {
            close(in[1]);
            closed = true;
        }
        if (now - t0 > timeout_ms) {
            kill(-pid, SIGKILL);
            waitpid(pid, &r->status, 0);
            if (!closed)
                close(in[1]);
            fail_msg("the script still ran after %d ms", timeout_ms);
        }
        sleep_ms(close_after_ms == 0 ? 2 : 5);
    }
    r->ms = clock_mono_ms() - t0;
    if (!closed)
        close(in[1]);
    assert_int_equal(file_read(f->stdout_path, 1u << 20, &r->out, &r->out_len),
                     0);
    assert_int_equal(file_read(f->stderr_path, 1u << 20, &r->err, &len), 0);
}

/* The command line for a script composed from the given parts. */
static char *command_line(const struct fixture *f, const char *command,
                          const struct kvlist *env,
                          const struct strlist *env_files,
                          const char *release, bool interactive,
                          const struct strlist *args)
{
    struct script_spec spec;
    char *script, *cl;

    memset(&spec, 0, sizeof(spec));
    spec.label = "task 't' on host 'h' of stage 's'";
    spec.app_dir = f->app_dir;
    spec.release = release ? release : "current";
    spec.env_files = env_files;
    spec.env = env;
    spec.command = command;
    spec.interactive = interactive;
    script = script_compose(&spec);
    cl = script_command_line(script, NULL, args);
    free(script);
    return cl;
}

/* Runs command in the fixture's release, stdin open until it exits. */
static void run_simple(const struct fixture *f, const char *command,
                       struct run *r)
{
    char *cl = command_line(f, command, NULL, NULL, NULL, false, NULL);

    run_cmdline(f, cl, NULL, -1, 10000, r);
    free(cl);
}

static bool path_exists(const char *p)
{
    struct stat st;

    return lstat(p, &st) == 0;
}

static void test_sh_quote(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", "''"},
        {"plain", "'plain'"},
        {"it's", "'it'\\''s'"},
        {"'", "''\\'''"},
        {"$(id) `id` \"x\" \\", "'$(id) `id` \"x\" \\'"},
        {"a\nb", "'a\nb'"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT(1024);
        buf_adds(&b, "x=");
        sh_quote(&b, cases[i].in);
        assert_string_equal(buf_str(&b) + 2, cases[i].out);
        buf_release(&b);
    }
}

static void test_command_line_shape(void **state)
{
    struct strlist args = {0};
    char *cl;

    (void)state;
    cl = script_command_line("echo hi", NULL, NULL);
    assert_string_equal(cl, "exec /bin/sh -c 'echo hi' oneoff");
    free(cl);
    cl = script_command_line("echo 'hi'", NULL, &args);
    assert_string_equal(cl, "exec /bin/sh -c 'echo '\\''hi'\\''' oneoff");
    free(cl);
    strlist_push(&args, "a b");
    strlist_push(&args, "it's");
    strlist_push(&args, "");
    cl = script_command_line("s", "app", &args);
    assert_string_equal(cl, "exec sudo -n -u 'app' -- /bin/sh -c 's' oneoff "
                            "'a b' 'it'\\''s' ''");
    free(cl);
    strlist_clear(&args);
}

static void test_script_shape(void **state)
{
    struct fixture *f = *state;
    struct strlist files = {0};
    struct kvlist env = {0};
    struct script_spec spec;
    char *s;

    strlist_push(&files, "shared/.env");
    strlist_push(&files, "/etc/app.env");
    kvlist_set(&env, "RAILS_ENV", "production");
    memset(&spec, 0, sizeof(spec));
    spec.label = "task 'db-migrate' on host 'db1' of stage 'production'";
    spec.app_dir = f->app_dir;
    spec.release = "current";
    spec.env_files = &files;
    spec.env = &env;
    spec.command = "bin/migrate";
    s = script_compose(&spec);
    assert_int_equal(strncmp(s, "# oneoff: task 'db-migrate' on host 'db1' of "
                                "stage 'production'\n",
                             63),
                     0);
    /* Relative env files are anchored so that "." does not search PATH. */
    assert_non_null(strstr(s, "\n. ./'shared/.env'\n"));
    assert_non_null(strstr(s, "\n. '/etc/app.env'\n"));
    assert_non_null(strstr(s, "\nset -a\n"));
    assert_non_null(strstr(s, "\nset +a\n"));
    assert_non_null(strstr(s, "\nexport RAILS_ENV='production'\n"));
    assert_non_null(strstr(s, "\noneoff_cmd='bin/migrate'\n"));
    /* The env file's contents never travel in the script. */
    assert_null(strstr(s, "s3cr3t"));
    /* Batch mode: the watchdog reads the channel's stdin. */
    assert_non_null(strstr(s, "exec 3<&0 </dev/null\n"));
    free(s);

    spec.interactive = true;
    spec.label = NULL;
    spec.env_files = NULL;
    s = script_compose(&spec);
    assert_int_equal(strncmp(s, "oneoff_fail()", 13), 0);
    assert_null(strstr(s, "set -a"));
    assert_null(strstr(s, "3<&0"));
    assert_null(strstr(s, "oneoff_dog"));
    assert_null(strstr(s, "setsid"));
    {
        static const char tail[] =
            "exec /bin/sh -c \"$oneoff_cmd\" oneoff \"$@\"\n";
        assert_string_equal(s + strlen(s) - strlen(tail), tail);
    }
    free(s);
    strlist_clear(&files);
    kvlist_clear(&env);
}

/* The corpus of the hostile-values test; "@" stands for the fixture's root
 * folder so that an injected command would leave a visible trace. */
static const char *const hostile_templates[] = {
    "it's",
    "'",
    "''",
    "'\\''",
    "\"double\" \"quotes\"",
    "\"",
    "$(touch @/pwned-dollar)",
    "`touch @/pwned-backtick`",
    "a; touch @/pwned-semicolon",
    "a && touch @/pwned-and | cat",
    "x\ntouch @/pwned-newline\n",
    "line1\nline2\n\n",
    "*",
    "[a-z]?*",
    "bin/*",
    "~root",
    "-n",
    "-e",
    "--",
    "-",
    "",
    " ",
    "\t tab and  spaces ",
    "h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
    "\xf0\x9f\x9a\x80",
    "back\\slash \\\\ \\n \\' \\",
    "%s%n%d%%",
    "$HOME ${PATH} $$ $1 $@ $* $# ${x:-y}",
    "!history !!",
    "a=b",
    "\x01\x1b[31m control \x7f",
    "}",
    "'; touch @/pwned-quote; '",
    "\"; touch @/pwned-dquote; \"",
    NULL, /* the 10 KB value, built at run time */
};

#define NHOSTILE (sizeof(hostile_templates) / sizeof(hostile_templates[0]))

static char *expand_root(const char *tmpl, const char *root)
{
    struct buf b = BUF_INIT(1u << 20);

    for (const char *p = tmpl; *p; p++) {
        if (*p == '@')
            buf_adds(&b, root);
        else
            buf_addc(&b, *p);
    }
    return buf_detach(&b);
}

static char *ten_kb_value(const char *root)
{
    static const char piece[] = "'\"$(touch @/pwned-big)`x`\\\n;*%s ";
    struct buf b = BUF_INIT(1u << 20);
    char *p = expand_root(piece, root);

    while (b.len < 10240)
        buf_adds(&b, p);
    free(p);
    return buf_detach(&b);
}

static void test_hostile_values(void **state)
{
    struct fixture *f = *state;
    struct strlist values = {0}, files = {0};
    struct kvlist env = {0};
    struct buf cmd = BUF_INIT(1u << 20), want = BUF_INIT(1u << 22);
    struct run r;
    char *cl, *got = NULL;
    size_t got_len = 0;

    for (size_t i = 0; i < NHOSTILE; i++)
        strlist_push_owned(&values,
                           hostile_templates[i]
                               ? expand_root(hostile_templates[i], f->root)
                               : ten_kb_value(f->root));
    assert_true(strlen(values.v[NHOSTILE - 1]) >= 10240);

    /* Literal env: one variable per hostile value, and where to write. */
    kvlist_set(&env, "OUT", f->out);
    kvlist_set(&env, "OVERRIDDEN", "by-literal-env");
    for (size_t i = 0; i < values.n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "HOSTILE_%zu", i);
        kvlist_set(&env, name, values.v[i]);
    }
    strlist_push(&files, "shared/.env");

    /* The task: every argument, every env value, the env file's values and
     * the working directory, NUL-separated. Each runs in /bin/sh -c, a
     * process of its own, so it sees exported variables only. */
    buf_adds(&cmd, "printf '%s\\0' \"$@\" > \"$OUT\" && printf '%s\\0'");
    for (size_t i = 0; i < values.n; i++)
        buf_addf(&cmd, " \"$HOSTILE_%zu\"", i);
    buf_adds(&cmd, " >> \"$OUT\" && printf '%s\\0' \"$FROM_ENV_FILE\" "
                   "\"$SHARED_SECRET\" \"$OVERRIDDEN\" >> \"$OUT\" && "
                   "printf '%s\\0' \"$#\" >> \"$OUT\" && pwd -P >> \"$OUT\"");

    cl = command_line(f, buf_str(&cmd), &env, &files, "current", false,
                      &values);
    run_cmdline(f, cl, NULL, -1, 10000, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("script failed (status 0x%x): %s", r.status, r.err);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out, "");

    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < values.n; i++)
            buf_add(&want, values.v[i], strlen(values.v[i]) + 1);
    buf_add(&want, "from the env file\0s3cr3t\0by-literal-env\0",
            sizeof("from the env file\0s3cr3t\0by-literal-env\0") - 1);
    buf_addf(&want, "%zu", values.n);
    buf_addc(&want, '\0');
    buf_addf(&want, "%s\n", f->release_real);

    assert_int_equal(file_read(f->out, 1u << 22, &got, &got_len), 0);
    if (got_len != want.len || memcmp(got, want.data, want.len) != 0) {
        /* Name the first value that differs. */
        size_t off = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < values.n; i++) {
                size_t n = strlen(values.v[i]) + 1;
                if (off + n > got_len || memcmp(got + off, values.v[i], n))
                    fail_msg("%s %zu (\"%.40s\") did not arrive intact",
                             pass ? "env value" : "argument", i,
                             values.v[i]);
                off += n;
            }
        }
        fail_msg("tail differs: got \"%.*s\"", (int)(got_len - off),
                 got + off);
    }
    /* No injected command ran. */
    {
        static const char *const traces[] = {
            "pwned-dollar", "pwned-backtick", "pwned-semicolon", "pwned-and",
            "pwned-newline", "pwned-quote", "pwned-dquote", "pwned-big"};
        for (size_t i = 0; i < sizeof(traces) / sizeof(traces[0]); i++) {
            char *p = xasprintf("%s/%s", f->root, traces[i]);
            if (path_exists(p))
                fail_msg("injected command ran: %s", p);
            free(p);
        }
    }

    free(got);
    free(cl);
    run_release(&r);
    buf_release(&cmd);
    buf_release(&want);
    strlist_clear(&values);
    strlist_clear(&files);
    kvlist_clear(&env);
}

static void test_env_files_absolute_and_several(void **state)
{
    struct fixture *f = *state;
    struct strlist files = {0};
    char *second = xasprintf("%s/extra.env", f->root), *cl;
    struct run r;

    write_file(second, "EXTRA='two words'\nSHARED_SECRET=second-wins\n");
    strlist_push(&files, "shared/.env");
    strlist_push(&files, second);
    cl = command_line(f,
                      "printf '%s|%s|%s' \"$FROM_ENV_FILE\" \"$EXTRA\" "
                      "\"$SHARED_SECRET\"; sh -c 'printf \"|%s\" \"$EXTRA\"'",
                      NULL, &files, NULL, false, NULL);
    run_cmdline(f, cl, NULL, -1, 10000, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(r.out, "from the env file|two words|second-wins|two "
                               "words");
    free(cl);
    run_release(&r);
    strlist_clear(&files);
    free(second);
}

static void test_release_resolved(void **state)
{
    struct fixture *f = *state;
    char *p = xasprintf("%s/releases/r2", f->app_dir), *cl, *want;
    struct run r;

    assert_int_equal(mkdir(p, 0700), 0);
    /* A release relative to app_dir, another through `current`. */
    cl = command_line(f, "pwd -P; pwd", NULL, NULL, "releases/r2", false,
                      NULL);
    run_cmdline(f, cl, NULL, -1, 10000, &r);
    free(cl);
    want = xasprintf("%s\n%s\n", p, p);
    assert_string_equal(r.out, want);
    free(want);
    run_release(&r);

    /* `cd -P`: even the logical working directory is the release, not the
     * symlink, so one run sees one release. */
    cl = command_line(f, "pwd", NULL, NULL, "current", false, NULL);
    run_cmdline(f, cl, NULL, -1, 10000, &r);
    free(cl);
    want = xasprintf("%s\n", f->release_real);
    assert_string_equal(r.out, want);
    free(want);
    run_release(&r);

    /* An absolute release. */
    cl = command_line(f, "pwd -P", NULL, NULL, p, false, NULL);
    run_cmdline(f, cl, NULL, -1, 10000, &r);
    free(cl);
    want = xasprintf("%s\n", p);
    assert_string_equal(r.out, want);
    free(want);
    run_release(&r);
    free(p);
}

static void test_exit_status(void **state)
{
    struct fixture *f = *state;
    struct run r;

    run_simple(f, "exit 7", &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 7);
    run_release(&r);

    run_simple(f, "true", &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    run_release(&r);

    run_simple(f, "echo out; echo err >&2; false", &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 1);
    assert_string_equal(r.out, "out\n");
    assert_string_equal(r.err, "err\n");
    run_release(&r);

    run_simple(f, "exit 125", &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 125);
    run_release(&r);

    run_simple(f, "no-such-command-oneoff", &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 127);
    run_release(&r);
}

static void assert_setup_failure(const struct fixture *f, const char *cl,
                                 const char *want_err)
{
    struct run r;
    char *marker = xasprintf("%s/task-ran", f->root);

    run_cmdline(f, cl, NULL, -1, 10000, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != SCRIPT_SETUP_FAILED)
        fail_msg("status 0x%x, want exit %d", r.status, SCRIPT_SETUP_FAILED);
    assert_string_equal(r.err, want_err);
    assert_string_equal(r.out, "");
    assert_false(path_exists(marker));
    run_release(&r);
    free(marker);
}

static void test_setup_failures(void **state)
{
    struct fixture *f = *state;
    struct strlist files = {0};
    struct script_spec spec;
    char *cmd = xasprintf("touch '%s/task-ran'", f->root), *cl, *script,
         *want;
    char *gone = xasprintf("%s/missing app", f->root);

    /* No app_dir. */
    memset(&spec, 0, sizeof(spec));
    spec.app_dir = gone;
    spec.release = "current";
    spec.command = cmd;
    script = script_compose(&spec);
    cl = script_command_line(script, NULL, NULL);
    want = xasprintf("oneoff: cannot enter app_dir %s\n", gone);
    assert_setup_failure(f, cl, want);
    free(want);
    free(cl);
    free(script);

    /* An env file that is missing. */
    strlist_push(&files, "shared/.env");
    strlist_push(&files, "shared/missing.env");
    cl = command_line(f, cmd, NULL, &files, NULL, false, NULL);
    assert_setup_failure(f, cl, "oneoff: env_file is not readable: "
                                "shared/missing.env\n");
    free(cl);

    /* A release that is missing, directly or through a dangling link. */
    cl = command_line(f, cmd, NULL, NULL, "releases/nope", false, NULL);
    assert_setup_failure(f, cl, "oneoff: cannot enter release "
                                "releases/nope\n");
    free(cl);
    {
        char *link = xasprintf("%s/broken", f->app_dir);
        assert_int_equal(symlink("releases/gone", link), 0);
        free(link);
    }
    cl = command_line(f, cmd, NULL, NULL, "broken", false, NULL);
    assert_setup_failure(f, cl, "oneoff: cannot enter release broken\n");
    free(cl);

    /* The same in interactive mode. */
    cl = command_line(f, cmd, NULL, NULL, "releases/nope", true, NULL);
    assert_setup_failure(f, cl, "oneoff: cannot enter release "
                                "releases/nope\n");
    free(cl);

    strlist_clear(&files);
    free(gone);
    free(cmd);
}

static void test_signal_propagates(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *cmd;
        int sig;
    } cases[] = {
        {"kill -TERM $$", SIGTERM},
        {"kill -KILL $$", SIGKILL},
        {"kill -USR1 $$", SIGUSR1},
        {"echo before; kill -HUP $$; echo after", SIGHUP},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run r;
        run_simple(f, cases[i].cmd, &r);
        if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != cases[i].sig)
            fail_msg("'%s': status 0x%x, want death by signal %d",
                     cases[i].cmd, r.status, cases[i].sig);
        run_release(&r);
    }
}

/* True when pid is gone or a zombie nobody has reaped yet. */
static bool process_dead(pid_t pid)
{
    char path[64], buf[512];
    FILE *fp;
    char *p;
    bool dead = true;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return true;
    if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')) != NULL)
        dead = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
    fclose(fp);
    return dead;
}

static void test_stdin_close_stops_task(void **state)
{
    struct fixture *f = *state;
    struct kvlist env = {0};
    char *pidfile = xasprintf("%s/bg.pid", f->root), *cl, *data = NULL;
    size_t len = 0;
    struct run r;
    pid_t bg;
    int64_t t0;

    kvlist_set(&env, "PIDFILE", pidfile);
    /* A foreground sleep and a background one in the task's group. */
    cl = command_line(f,
                      "sleep 30 & echo $! > \"$PIDFILE\"; echo started; "
                      "sleep 30; echo not-stopped",
                      &env, NULL, NULL, false, NULL);
    run_cmdline(f, cl, NULL, 300, 10000, &r);
    /* Closed at 300 ms; stopped (TERM) well before the 5 s KILL. */
    if (r.ms > 3000)
        fail_msg("the task stopped %lld ms after start", (long long)r.ms);
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGTERM)
        fail_msg("status 0x%x, want death by SIGTERM", r.status);
    assert_string_equal(r.out, "started\n");

    /* The whole process group went, not just the task's shell. */
    assert_int_equal(file_read(pidfile, 64, &data, &len), 0);
    bg = (pid_t)strtol(data, NULL, 10);
    assert_true(bg > 1);
    t0 = clock_mono_ms();
    while (!process_dead(bg) && clock_mono_ms() - t0 < 2000)
        sleep_ms(10);
    if (!process_dead(bg)) {
        kill(bg, SIGKILL);
        fail_msg("background process %d of the task survived", (int)bg);
    }
    free(data);
    run_release(&r);

    /* stdin already at EOF when the script starts: stopped at once. */
    run_cmdline(f, cl, NULL, 0, 10000, &r);
    if (r.ms > 3000)
        fail_msg("the task stopped %lld ms after start", (long long)r.ms);
    assert_true(WIFSIGNALED(r.status));
    assert_null(strstr(r.out, "not-stopped"));
    run_release(&r);

    free(cl);
    free(pidfile);
    kvlist_clear(&env);
}

static void test_batch_task_stdin_detached(void **state)
{
    struct fixture *f = *state;
    struct run r;
    char *cl = command_line(f, "cat; echo rc=$?", NULL, NULL, NULL, false,
                            NULL);

    /* The channel's input feeds the watchdog, never the task: the task's
     * stdin is /dev/null, so it cannot swallow it or block on it. */
    run_cmdline(f, cl, "typed\n", -1, 10000, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(r.out, "rc=0\n");
    run_release(&r);
    free(cl);
}

static void test_interactive_has_no_watchdog(void **state)
{
    struct fixture *f = *state;
    struct run r;
    char *cl;

    /* stdin closed at once: a console's task still runs to its end. */
    cl = command_line(f, "sleep 0.3; echo survived", NULL, NULL, NULL, true,
                      NULL);
    run_cmdline(f, cl, NULL, 0, 10000, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(r.out, "survived\n");
    run_release(&r);
    free(cl);

    /* The same task in batch mode is stopped. */
    cl = command_line(f, "sleep 3; echo survived", NULL, NULL, NULL, false,
                      NULL);
    run_cmdline(f, cl, NULL, 0, 10000, &r);
    assert_true(WIFSIGNALED(r.status));
    assert_string_equal(r.out, "");
    assert_true(r.ms < 2500);
    run_release(&r);
    free(cl);

    /* The console's stdin is the channel's. */
    cl = command_line(f, "cat; exit 3", NULL, NULL, NULL, true, NULL);
    run_cmdline(f, cl, "typed line\n", 100, 10000, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 3);
    assert_string_equal(r.out, "typed line\n");
    run_release(&r);
    free(cl);
}

static void test_env_path_does_not_break_wrapper(void **state)
{
    struct fixture *f = *state;
    struct kvlist env = {0};
    struct run r;
    char *cl;

    /* A task may set its own PATH; the wrapper's helpers (setsid, cat,
     * sleep) must still be found, or the watchdog would stop the task. */
    kvlist_set(&env, "PATH", "/nonexistent");
    cl = command_line(f, "/bin/sleep 0.5; echo \"done $PATH\"", &env, NULL,
                      NULL, false, NULL);
    run_cmdline(f, cl, NULL, -1, 10000, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("status 0x%x, stderr \"%s\"", r.status, r.err);
    assert_string_equal(r.out, "done /nonexistent\n");
    run_release(&r);
    free(cl);
    kvlist_clear(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sh_quote),
        cmocka_unit_test(test_command_line_shape),
        cmocka_unit_test_setup_teardown(test_script_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_files_absolute_and_several,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_resolved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_propagates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stdin_close_stops_task, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_task_stdin_detached, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interactive_has_no_watchdog,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_path_does_not_break_wrapper,
                                        setup, teardown),
    };

    return cmocka_run_group_tests_name("remote_script", tests, NULL, NULL);
}
