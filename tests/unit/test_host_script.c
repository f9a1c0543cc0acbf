/*
 * test_host_script.c - unit tests for host_script.c and src/host_script.sh:
 * sh_quote(), the command line, the data prelude, and the composed script
 * run for real under dash, bash and busybox sh (script_harness.c): hostile
 * values arrive byte for byte, env files are exported, the task runs in
 * the resolved release only after "go", exit statuses and signals
 * propagate, set-up failures exit 125, locks are taken, kept and refused
 * (the older run wins), and the watchdog stops the task's whole process
 * group when stdin closes, also after sshd's killpg, leaving no process.
 * The report itself is tested in test_preflight.c.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/host_script.h"
#include "oneoff/util.h"
#include "script_harness.h"

/* Runs spec's script under shell with word, to its end (10 s at most). */
static void run_spec(struct proc *p, int shell, enum word word,
                     const struct script_spec *spec, const struct strlist *args)
{
    char *script = script_compose(spec);

    proc_init(p, shell, word);
    p->pf.no_release =
        spec->mode == SCRIPT_HISTORY || spec->mode == SCRIPT_HISTORY_NOTE;
    proc_start(p, script, args);
    free(script);
    proc_wait(p, 10000);
}

static void run_cmd(const struct app *a, struct proc *p, int shell,
                    const char *cmd)
{
    struct script_spec s;

    app_spec(a, &s, SCRIPT_RUN, cmd);
    run_spec(p, shell, WORD_GO, &s, NULL);
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
        assert_int_equal(buf_adds(&b, "x="), 0);
        assert_int_equal(sh_quote(&b, cases[i].in), 0);
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

/* The prelude is single-quoted data, one assignment per line, and the
 * script follows without its comments. */
static void test_prelude_is_data(void **state)
{
    struct strlist files = {0};
    struct kvlist env = {0};
    struct script_spec s;
    char *text, nonce[SCRIPT_NONCE_LEN + 1], err[ERR_MAX];
    static const char want[] =
        "oneoff_mode='check'\n"
        "oneoff_nonce='" HARNESS_NONCE "'\n"
        "oneoff_run_id='" HARNESS_RUN_ID "'\n"
        "oneoff_label='task '\\''db'\\'' on host '\\''db1'\\'''\n"
        "oneoff_app_dir='/srv/it'\\''s app'\n"
        "oneoff_release='releases/7'\n"
        "oneoff_revision_file='REV'\n"
        "oneoff_env_files='2'\n"
        "oneoff_env_file_1='shared/.env'\n"
        "oneoff_env_file_2='/etc/app.env'\n"
        "oneoff_env='2'\n"
        "oneoff_env_name_1='RAILS_ENV'\n"
        "oneoff_env_value_1='production'\n"
        "oneoff_env_name_2='X'\n"
        "oneoff_env_value_2='$(id) '\\''q'\\'' \n"
        "'\n"
        "oneoff_task_file='tasks/db.yml'\n"
        "oneoff_lock='db'\n"
        "oneoff_lock_holder='run x by y'\n"
        "oneoff_lock_wait='30'\n"
        "oneoff_check_locks='1'\n"
        "oneoff_once=''\n"
        "oneoff_pty=''\n"
        "oneoff_stdin=''\n"
        "oneoff_cmd='bin/migrate \"$@\"'\n"
        "oneoff_nl='\n"
        "'\n";

    (void)state;
    strlist_push(&files, "shared/.env");
    strlist_push(&files, "/etc/app.env");
    kvlist_set(&env, "RAILS_ENV", "production");
    kvlist_set(&env, "X", "$(id) 'q' \n");
    memset(&s, 0, sizeof(s));
    s.mode = SCRIPT_CHECK;
    s.nonce = HARNESS_NONCE;
    s.run_id = HARNESS_RUN_ID;
    s.label = "task 'db' on host 'db1'";
    s.app_dir = "/srv/it's app";
    s.release = "releases/7";
    s.revision_file = "REV";
    s.env_files = &files;
    s.env = &env;
    s.task_file = "tasks/db.yml";
    s.lock = "db";
    s.lock_holder = "run x by y";
    s.lock_wait_s = 30;
    s.check_locks = true;
    s.command = "bin/migrate \"$@\"";
    text = script_compose(&s);
    if (strncmp(text, want, strlen(want)) != 0)
        fail_msg("prelude differs:\n%.*s", (int)strlen(want), text);
    /* The script follows, without comment lines or blank lines. */
    assert_null(strstr(text, "\n#"));
    assert_null(strstr(text, "\n\n"));
    assert_non_null(strstr(text, "\noneoff_frame ready ''\n"));
    free(text);

    /* Values too long are cut; a run script for an ad-hoc command. */
    s.mode = SCRIPT_RUN;
    s.run_id = "20261121T091234Z-00aa11-and-much-more-than-63-bytes-xxxxxxxx"
               "xxxxxxxxxxxxxxxxxxxx";
    s.task_file = NULL;
    s.lock = NULL;
    s.check_locks = false;
    text = script_compose(&s);
    assert_int_equal(strncmp(text, "oneoff_mode='run'\n", 18), 0);
    assert_non_null(strstr(text, "\noneoff_task_file=''\noneoff_lock=''\n"));
    assert_non_null(strstr(text, "\noneoff_check_locks=''\n"));
    {
        const char *r = strstr(text, "\noneoff_run_id='") + 16;
        assert_int_equal(strcspn(r, "'"), SCRIPT_RUN_ID_MAX);
    }
    free(text);

    assert_int_equal(script_nonce_new(nonce, err), 0);
    assert_int_equal(strlen(nonce), SCRIPT_NONCE_LEN);
    assert_int_equal(strspn(nonce, "0123456789abcdef"), SCRIPT_NONCE_LEN);
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
            assert_int_equal(buf_adds(&b, root), 0);
        else
            assert_int_equal(buf_addc(&b, *p), 0);
    }
    return buf_detach(&b);
}

static char *ten_kb_value(const char *root)
{
    static const char piece[] = "'\"$(touch @/pwned-big)`x`\\\n;*%s ";
    struct buf b = BUF_INIT(1u << 20);
    char *p = expand_root(piece, root);

    while (b.len < 10240)
        assert_int_equal(buf_adds(&b, p), 0);
    free(p);
    return buf_detach(&b);
}

static void check_hostile(const struct app *a, const struct strlist *values,
                          const char *out, int shell)
{
    struct buf want = BUF_INIT(1u << 22);
    char *got = NULL;
    size_t got_len = 0, off = 0;

    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < values->n; i++)
            assert_int_equal(
                buf_add(&want, values->v[i], strlen(values->v[i]) + 1), 0);
    assert_int_equal(
        buf_add(&want, "from the env file\0s3cr3t\0by-literal-env\0",
                sizeof("from the env file\0s3cr3t\0by-literal-env\0") - 1),
        0);
    assert_int_equal(buf_addf(&want, "%zu", values->n), 0);
    assert_int_equal(buf_addc(&want, '\0'), 0);
    assert_int_equal(buf_addf(&want, "%s\n", a->release_real), 0);
    assert_int_equal(file_read(out, 1u << 22, &got, &got_len), 0);
    if (got_len != want.len || memcmp(got, want.data, want.len) != 0) {
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < values->n; i++) {
                size_t n = strlen(values->v[i]) + 1;
                if (off + n > got_len || memcmp(got + off, values->v[i], n))
                    fail_msg("%s: %s %zu (\"%.40s\") did not arrive intact",
                             harness_shells[shell],
                             pass ? "env value" : "argument", i, values->v[i]);
                off += n;
            }
        }
        fail_msg("%s: tail differs: got \"%.*s\"", harness_shells[shell],
                 (int)(got_len - off), got + off);
    }
    free(got);
    buf_release(&want);
}

static void test_hostile_values(void **state)
{
    struct app *a = *state;
    struct strlist values = {0};
    struct kvlist env = {0};
    struct buf cmd = BUF_INIT(1u << 20);
    char *out = xasprintf("%s/out", a->root);
    struct script_spec s;

    for (size_t i = 0; i < NHOSTILE; i++)
        strlist_push_owned(&values,
                           hostile_templates[i]
                               ? expand_root(hostile_templates[i], a->root)
                               : ten_kb_value(a->root));
    kvlist_set(&env, "OUT", out);
    kvlist_set(&env, "OVERRIDDEN", "by-literal-env");
    for (size_t i = 0; i < values.n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "HOSTILE_%zu", i);
        kvlist_set(&env, name, values.v[i]);
    }
    /* The task: every argument, every env value, the env file's values and
     * the working directory, NUL-separated; a process of its own, so it
     * sees exported variables only. */
    assert_int_equal(
        buf_adds(&cmd, "printf '%s\\0' \"$@\" > \"$OUT\" && printf '%s\\0'"),
        0);
    for (size_t i = 0; i < values.n; i++)
        assert_int_equal(buf_addf(&cmd, " \"$HOSTILE_%zu\"", i), 0);
    assert_int_equal(
        buf_adds(&cmd,
                 " >> \"$OUT\" && printf '%s\\0' \"$FROM_ENV_FILE\" "
                 "\"$SHARED_SECRET\" \"$OVERRIDDEN\" >> \"$OUT\" && "
                 "printf '%s\\0' \"$#\" >> \"$OUT\" && pwd -P >> \"$OUT\""),
        0);
    app_spec(a, &s, SCRIPT_RUN, buf_str(&cmd));
    s.env = &env;
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        run_spec(&p, sh, WORD_GO, &s, &values);
        if (!proc_exited(&p, 0))
            fail_msg("%s: status 0x%x: %s", harness_shells[sh], p.status,
                     buf_str(&p.err));
        /* only the report on stdout; the env file's noise on stderr */
        assert_string_equal(buf_str(&p.noise), "");
        assert_string_equal(buf_str(&p.err),
                            "env-junk-out\nenv-junk-err\n" HARNESS_NONCE
                            " release 5 /evil\n" HARNESS_NONCE " ready 0 \n");
        check_hostile(a, &values, out, sh);
        proc_release(&p);
        unlink(out);
    }
    {
        static const char *const traces[] = {
            "pwned-dollar",  "pwned-backtick", "pwned-semicolon", "pwned-and",
            "pwned-newline", "pwned-quote",    "pwned-dquote",    "pwned-big"};
        for (size_t i = 0; i < sizeof(traces) / sizeof(traces[0]); i++) {
            char *p = xasprintf("%s/%s", a->root, traces[i]);
            if (path_exists(p))
                fail_msg("injected command ran: %s", p);
            free(p);
        }
    }
    free(out);
    buf_release(&cmd);
    strlist_clear(&values);
    kvlist_clear(&env);
}

static void test_env_files_and_release(void **state)
{
    struct app *a = *state;
    struct strlist files = {0};
    char *second = xasprintf("%s/extra.env", a->root);
    char *r2 = xasprintf("%s/releases/r2", a->app_dir), *want;
    struct script_spec s;
    struct proc p;

    write_file(second, "EXTRA='two words'\nSHARED_SECRET=second-wins\n"
                       "cd /\n");
    strlist_push(&files, "shared/.env");
    strlist_push(&files, second);
    app_spec(a, &s, SCRIPT_RUN,
             "printf '%s|%s|%s|' \"$FROM_ENV_FILE\" \"$EXTRA\" "
             "\"$SHARED_SECRET\"; sh -c 'printf \"%s|\" \"$EXTRA\"'; pwd");
    s.env_files = &files;
    /* an env file that changes directory does not move the release */
    run_spec(&p, 0, WORD_GO, &s, NULL);
    assert_true(proc_exited(&p, 0));
    want = xasprintf("from the env file|two words|second-wins|two words|%s\n",
                     a->release_real);
    assert_string_equal(proc_task_out(&p), want);
    free(want);
    proc_release(&p);

    /* releases/r2, relative to app_dir, and the same by an absolute path */
    assert_int_equal(mkdir(r2, 0700), 0);
    app_spec(a, &s, SCRIPT_RUN, "pwd -P; pwd");
    s.release = "releases/r2";
    for (int i = 0; i < 2; i++) {
        run_spec(&p, i, WORD_GO, &s, NULL);
        want = xasprintf("%s\n%s\n", r2, r2);
        assert_string_equal(proc_task_out(&p), want);
        free(want);
        proc_release(&p);
        s.release = r2;
    }
    strlist_clear(&files);
    free(second);
    free(r2);
}

static void test_exit_codes_and_signals(void **state)
{
    struct app *a = *state;
    static const struct {
        const char *cmd;
        int code, sig;
    } cases[] = {
        {"exit 7", 7, 0},
        {"true", 0, 0},
        {"echo out; echo err >&2; false", 1, 0},
        {"exit 125", 125, 0},
        {"no-such-command-oneoff 2>/dev/null", 127, 0},
        {"exit 200", 200, 0},
        {"kill -TERM $$", 0, SIGTERM},
        {"kill -KILL $$", 0, SIGKILL},
        {"kill -USR1 $$", 0, SIGUSR1},
        {"echo before; kill -HUP $$; echo after", 0, SIGHUP},
        {"kill -SEGV $$", 0, SIGSEGV},
        /* a stop signal is not re-raised: the script must not stop */
        {"exit 147", 147, 0},
    };

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct proc p;
            run_cmd(a, &p, sh, cases[i].cmd);
            if (cases[i].sig ? !proc_signaled(&p, cases[i].sig)
                             : !proc_exited(&p, cases[i].code))
                fail_msg("%s: '%s': status 0x%x, want %s %d",
                         harness_shells[sh], cases[i].cmd, p.status,
                         cases[i].sig ? "signal" : "exit",
                         cases[i].sig ? cases[i].sig : cases[i].code);
            if (i == 2) {
                assert_string_equal(proc_task_out(&p), "out\n");
                assert_non_null(strstr(buf_str(&p.err), "\nerr\n"));
            }
            proc_release(&p);
        }
    }
}

/* Only "go" runs the task: EOF or another word end the script, exit 0. */
static void test_word(void **state)
{
    struct app *a = *state;
    char *marker = xasprintf("%s/ran", a->root);
    char *cmd = xasprintf("touch '%s'", marker);
    struct script_spec s;

    app_spec(a, &s, SCRIPT_RUN, cmd);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        static const enum word words[] = {WORD_EOF, WORD_OTHER, WORD_GO};
        for (size_t w = 0; w < 3; w++) {
            struct proc p;
            run_spec(&p, sh, words[w], &s, NULL);
            assert_int_equal(p.pf_rc, 1);
            assert_true(proc_exited(&p, 0));
            assert_int_equal(path_exists(marker), words[w] == WORD_GO);
            unlink(marker);
            proc_release(&p);
        }
    }
    free(cmd);
    free(marker);
}

/* The script exits 125 with want_err last on stderr, and the task never
 * ran; reported: after its report (a failure after the word). */
static void expect_setup_failure(const struct app *a, struct script_spec *s,
                                 const char *want_err, bool reported)
{
    char *marker = xasprintf("%s/task-ran", a->root);

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        const char *e;
        run_spec(&p, sh, WORD_GO, s, NULL);
        if (!proc_exited(&p, SCRIPT_SETUP_FAILED))
            fail_msg("%s: status 0x%x, want exit %d", harness_shells[sh],
                     p.status, SCRIPT_SETUP_FAILED);
        e = buf_str(&p.err);
        if (strlen(e) < strlen(want_err) ||
            strcmp(e + strlen(e) - strlen(want_err), want_err) != 0)
            fail_msg("%s: stderr \"%s\", want it to end with \"%s\"",
                     harness_shells[sh], e, want_err);
        assert_int_equal(p.pf_rc, reported ? 1 : 0);
        assert_false(path_exists(marker));
        proc_release(&p);
    }
    free(marker);
}

static void test_setup_failures(void **state)
{
    struct app *a = *state;
    struct strlist files = {0};
    char *cmd = xasprintf("touch '%s/task-ran'", a->root);
    char *gone = xasprintf("%s/missing app", a->root), *want;
    char *link = xasprintf("%s/broken", a->app_dir);
    struct script_spec s;

    app_spec(a, &s, SCRIPT_RUN, cmd);
    s.app_dir = gone;
    want = xasprintf("oneoff: cannot enter app_dir %s\n", gone);
    expect_setup_failure(a, &s, want, false);
    free(want);

    strlist_push(&files, "shared/.env");
    strlist_push(&files, "shared/missing.env");
    app_spec(a, &s, SCRIPT_RUN, cmd);
    s.env_files = &files;
    expect_setup_failure(a, &s,
                         "oneoff: env_file is not readable: "
                         "shared/missing.env\n",
                         false);

    app_spec(a, &s, SCRIPT_RUN, cmd);
    s.release = "releases/nope";
    expect_setup_failure(a, &s, "oneoff: cannot enter release releases/nope\n",
                         false);
    assert_int_equal(symlink("releases/gone", link), 0);
    s.release = "broken";
    expect_setup_failure(a, &s, "oneoff: cannot enter release broken\n", false);

    /* an env name that is not one (the parsers never let one through) */
    {
        struct kvlist env = {0};
        app_spec(a, &s, SCRIPT_RUN, cmd);
        kvlist_set(&env, "A;touch x", "v");
        s.env = &env;
        expect_setup_failure(a, &s, "oneoff: invalid env name: A;touch x\n",
                             true);
        kvlist_clear(&env);
    }
    strlist_clear(&files);
    free(link);
    free(gone);
    free(cmd);
}

/* The whole command line, as a login shell gets it. */
static void test_full_command_line(void **state)
{
    struct app *a = *state;
    struct strlist args = {0};
    struct script_spec s;
    struct proc p;
    char *script, *line;

    strlist_push(&args, "it's");
    strlist_push(&args, "two\nlines");
    app_spec(a, &s, SCRIPT_RUN, "printf '<%s>' \"$@\"; exit 4");
    script = script_compose(&s);
    line = script_command_line(script, NULL, &args);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        proc_init(&p, sh, WORD_GO);
        p.prefix = "echo motd; ";
        proc_start(&p, line, NULL);
        proc_wait(&p, 10000);
        assert_true(proc_exited(&p, 4));
        assert_string_equal(buf_str(&p.noise), "motd\n");
        assert_string_equal(proc_task_out(&p), "<it's><two\nlines>");
        proc_release(&p);
    }
    free(line);
    free(script);
    strlist_clear(&args);
}

static void test_task_stdin_detached(void **state)
{
    struct app *a = *state;
    struct script_spec s;
    struct proc p;
    char *script;

    /* The channel's input after "go" feeds the watchdog, never the task:
     * the task's stdin is /dev/null. */
    app_spec(a, &s, SCRIPT_RUN, "cat; echo rc=$?");
    script = script_compose(&s);
    proc_init(&p, 0, WORD_NONE);
    proc_start(&p, script, NULL);
    proc_wait_ready(&p, 5000);
    proc_send(&p, SCRIPT_GO "typed\n");
    proc_wait(&p, 5000);
    assert_true(proc_exited(&p, 0));
    assert_string_equal(proc_task_out(&p), "rc=0\n");
    proc_release(&p);
    free(script);
}

/* The note mode appends its line as data, whatever it holds, after a
 * newline, runs nothing else and says "ready"; a history it cannot append
 * to fails like a set-up. */
static void test_history_note(void **state)
{
    struct app *a = *state;
    const char *note = "{\"v\":1,\"event\":\"gate-skipped\",\"reason\":"
                       "\"it's $(touch x) `id` \\\"q\\\" ;|&\"}";
    char *hist = xasprintf("%s/shared/.oneoff/history.jsonl", a->app_dir);
    char *want = NULL, *got = NULL;
    size_t len = 0;
    struct script_spec s;

    app_spec(a, &s, SCRIPT_HISTORY_NOTE, "touch ran");
    s.note = note;
    (void)unlink(hist);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        char *w = xasprintf("%s\n%s\n", want ? want : "", note);
        free(want);
        want = w;
        run_spec(&p, sh, WORD_NONE, &s, NULL);
        if (!proc_exited(&p, 0))
            fail_msg("%s: status 0x%x, stderr %s", harness_shells[sh], p.status,
                     buf_str(&p.err));
        assert_int_equal(p.pf_rc, 1);
        assert_true(p.pf.ready);
        assert_int_equal(p.pf.history, PF_HISTORY_WRITTEN);
        assert_int_equal(file_read(hist, 1 << 16, &got, &len), 0);
        assert_string_equal(got, want);
        free(got);
        proc_release(&p);
    }
    assert_int_equal(unlink(hist), 0);
    assert_int_equal(mkdir(hist, 0700), 0);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        run_spec(&p, sh, WORD_NONE, &s, NULL);
        assert_true(proc_exited(&p, SCRIPT_SETUP_FAILED));
        assert_non_null(strstr(buf_str(&p.err), "oneoff: cannot append to"));
        assert_false(p.pf.ready);
        proc_release(&p);
    }
    assert_int_equal(rmdir(hist), 0);
    free(want);
    free(hist);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sh_quote),
        cmocka_unit_test(test_command_line_shape),
        cmocka_unit_test(test_prelude_is_data),
        cmocka_unit_test_setup_teardown(test_hostile_values, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_env_files_and_release, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_exit_codes_and_signals, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_word, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_setup_failures, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_full_command_line, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_history_note, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_task_stdin_detached, app_setup,
                                        app_teardown),
    };

    return cmocka_run_group_tests_name("host_script", tests, NULL, NULL);
}
