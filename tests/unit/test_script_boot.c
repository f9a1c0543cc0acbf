/*
 * test_script_boot.c - unit tests for script_compose_boot(): the script
 * sent on the host's standard input, read by a short command line, run for
 * real with /bin/sh standing for dash, bash and busybox sh in turn
 * (script_harness.c runs the line as a login shell would). Each must read
 * the whole script and not one byte past it: the client's "go" lines that
 * follow on the same stream reach the script (the history's start line
 * holds their tail), and the task runs with its arguments, also from a
 * stdin that /dev/stdin cannot open again.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/host_script.h"
#include "oneoff/util.h"
#include "script_harness.h"

/* line with its /bin/sh replaced by the harness's shell sh. */
static char *line_for_shell(const char *line, int sh)
{
    const char *at = strstr(line, "exec /bin/sh -c ");
    const char *name = strcmp(harness_shells[sh], "busybox sh") == 0
                           ? "busybox sh"
                           : harness_shells[sh];

    assert_non_null(at);
    return xasprintf("%.*sexec %s -c %s", (int)(at - line), line, name,
                     at + strlen("exec /bin/sh -c "));
}

/* Runs cmd (args after it) through the boot line under shell sh, "go"
 * said, to its end; prefix runs first in the login shell; stdin a socket
 * with socket set. */
static void run_boot_on(const struct app *a, struct proc *p, int sh,
                        const char *cmd, const struct strlist *args,
                        const char *prefix, bool socket)
{
    struct script_spec s;
    char *input = NULL, *line, *shline;

    app_spec(a, &s, SCRIPT_RUN, cmd);
    line = script_compose_boot(&s, NULL, args, &input);
    shline = line_for_shell(line, sh);
    proc_init(p, 0, WORD_GO); /* dash as the login shell */
    p->input = input;
    p->prefix = prefix;
    p->stdin_socket = socket;
    proc_start(p, shline, NULL);
    proc_wait(p, 20000);
    free(shline);
    free(line);
    free(input);
}

static void run_boot(const struct app *a, struct proc *p, int sh,
                     const char *cmd, const struct strlist *args,
                     const char *prefix)
{
    run_boot_on(a, p, sh, cmd, args, prefix, false);
}

static char *read_history(const struct app *a)
{
    char *hist = xasprintf("%s/shared/.oneoff/history.jsonl", a->app_dir);
    char *text = NULL;
    size_t len;

    assert_int_equal(file_read(hist, 1 << 20, &text, &len), 0);
    (void)unlink(hist);
    free(hist);
    return text;
}

/* The line is short and fixed: the script, the command and every value
 * travel as input, which is one compound command ending the shell. */
static void test_line_and_input(void **state)
{
    struct app *a = *state;
    struct script_spec s;
    struct strlist args = {0};
    char *input = NULL, *line, *script;
    char want[64];

    app_spec(a, &s, SCRIPT_RUN, "echo it's here");
    strlist_push(&args, "a b");
    line = script_compose_boot(&s, "deploy", &args, &input);
    script = script_compose(&s);
    assert_non_null(input);
    assert_int_equal(strncmp(input, "{\n", 2), 0);
    assert_int_equal(strncmp(input + 2, script, strlen(script)), 0);
    assert_string_equal(input + 2 + strlen(script), "\nexit\n}\n");
    assert_int_equal(
        strncmp(line, "exec sudo -n -u 'deploy' -- /bin/sh -c '", 40), 0);
    snprintf(want, sizeof(want), "read -r -N %zu oneoff_s;", strlen(input));
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, ". /dev/stdin"));
    snprintf(want, sizeof(want), "eval \"$(head -c %zu)\"", strlen(input));
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "' oneoff 'a b'"));
    assert_null(strstr(line, "echo it")); /* no value of the prelude */
    assert_true(strlen(line) < 600);
    /* the bound the plan checks: the line for the longest script length,
     * which only its three lengths' digits tell apart from this one */
    assert_true(script_boot_line_max("deploy", &args) >= strlen(line));
    assert_true(script_boot_line_max("deploy", &args) <= strlen(line) + 3 * 20);
    assert_true(script_boot_line_max(NULL, NULL) <
                script_boot_line_max(NULL, &args));
    free(line);
    free(input);
    free(script);
    strlist_clear(&args);
}

/* Under each shell: the report, then "go" read by the script whole (its
 * tail in the history's start line), the task with its arguments; from a
 * pipe, and from a stdin that /dev/stdin cannot open again (a socket
 * here; sudo's user and the login user's pipe under become), which head
 * -c reads. */
static void test_runs_under_each_shell(void **state)
{
    struct app *a = *state;
    struct strlist args = {0};

    strlist_push(&args, "a b");
    strlist_push(&args, "it's");
    for (int socket = 0; socket < 2; socket++)
        for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
            struct proc p;
            char *hist;

            run_boot_on(a, &p, sh, "printf '%s|' \"$0\" \"$@\"", &args, NULL,
                        socket);
            if (p.pf_rc != 1 || !proc_exited(&p, 0) ||
                strcmp(proc_task_out(&p), "oneoff|a b|it's|") != 0)
                fail_msg("%s%s: report %d (%s), status 0x%x, out '%s', "
                         "stderr: %s",
                         harness_shells[sh], socket ? ", a socket" : "",
                         p.pf_rc, p.pf_err, p.status, proc_task_out(&p),
                         buf_str(&p.err));
            hist = read_history(a);
            if (strstr(hist, SCRIPT_HEAD ",\"release\":\"r1\"") == NULL ||
                strstr(hist, "\"outcome\":\"succeeded\"") == NULL)
                fail_msg("%s: history: %s", harness_shells[sh], hist);
            free(hist);
            proc_release(&p);
        }
    strlist_clear(&args);
}

/* bash reads the script by its length in bytes, not characters, in any
 * locale, and gives the task the locale it had (set or unset). */
static void test_bytes_not_characters(void **state)
{
    struct app *a = *state;
    static const char *const prefixes[] = {NULL,
                                           "LC_ALL=C.UTF-8; export LC_ALL; "};
    static const char *const wants[] = {"\xc3\xa9\xe2\x82\xac unset",
                                        "\xc3\xa9\xe2\x82\xac C.UTF-8"};

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
        for (size_t k = 0; k < 2; k++) {
            struct proc p;

            run_boot(a, &p, sh,
                     "printf '\xc3\xa9\xe2\x82\xac %s' \"${LC_ALL-unset}\"",
                     NULL, prefixes[k]);
            if (!proc_exited(&p, 0) || strcmp(proc_task_out(&p), wants[k]) != 0)
                fail_msg("%s, %s: status 0x%x, out '%s', stderr: %s",
                         harness_shells[sh], prefixes[k] ? "LC_ALL" : "-",
                         p.status, proc_task_out(&p), buf_str(&p.err));
            free(read_history(a));
            proc_release(&p);
        }
}

/* A command far past what one argument of a command line may hold (128
 * KiB on Linux) reaches the host whole. */
static void test_no_argument_limit(void **state)
{
    struct app *a = *state;
    size_t n = 200000;
    char *word = xmalloc(n + 1), *cmd;

    memset(word, 'x', n);
    word[n] = '\0';
    cmd = xasprintf("w='%s'; echo ${#w}", word);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;

        run_boot(a, &p, sh, cmd, NULL, NULL);
        if (!proc_exited(&p, 0) || strcmp(proc_task_out(&p), "200000\n") != 0)
            fail_msg("%s: status 0x%x, out '%.40s', stderr: %.200s",
                     harness_shells[sh], p.status, proc_task_out(&p),
                     buf_str(&p.err));
        free(read_history(a));
        proc_release(&p);
    }
    free(cmd);
    free(word);
}

/* The line as sshd runs it: with a login shell that is /bin/sh itself
 * (`sh -c LINE`), BOOT runs in that shell, which starts no other; with
 * another (dash as "oneoff", as the harness runs it; bash named sh, which
 * is not /bin/sh), /bin/sh is exec'd for it. The task's $0 is "oneoff"
 * and its arguments are the line's in all three. */
static void test_login_sh_runs_boot_itself(void **state)
{
    struct app *a = *state;
    struct strlist args = {0};
    static const char *const cmds[] = {
        "printf '%s|' \"$0\" \"$@\"", "printf '%s|' \"${0##*/}\" \"${#0}\"",
        /* PPID: run by /bin/sh -c, whose parent is the script's shell */
        "tr '\\0' ' ' </proc/$PPID/cmdline"};
    /* 0: dash as "oneoff"; 1: sh, /bin/sh's program; 2: bash named sh */
    static const char *const shells[] = {"other shell", "login sh",
                                         "bash named sh"};
    static const char *const parents[] = {
        "dash -c case ", "sh -c oneoff_b=", "/bin/sh -c case "};

    strlist_push(&args, "a b");
    strlist_push(&args, "it's");
    strlist_push(&args, "-x");
    strlist_push(&args, "--");
    for (int login = 0; login < 3; login++)
        for (size_t k = 0; k < 3; k++) {
            struct script_spec s;
            struct proc p;
            char *input = NULL, *line, *run;
            const char *out;

            app_spec(a, &s, SCRIPT_RUN, cmds[k]);
            line = script_compose_boot(&s, NULL, &args, &input);
            assert_int_equal(strncmp(line, "oneoff_b='", 10), 0);
            assert_non_null(
                strstr(line, "; set -- 'a b' 'it'\\''s' '-x' '--'; if "));
            if (login == 0 && k == 0) {
                /* --dry-run shows this line, the reader aside */
                char *shown = script_boot_line_shown(NULL, &args);
                const char *rest = strstr(shown, "; set --");
                assert_int_equal(
                    strncmp(shown, "oneoff_b='<reads the script from stdin>'",
                            40),
                    0);
                assert_non_null(rest);
                assert_string_equal(strstr(line, "; set --"), rest);
                free(shown);
            }
            run = login ? xstrdup(line) : line_for_shell(line, 0);
            proc_init(&p, 0, WORD_GO);
            p.as_login = login > 0;
            p.login_exe = login == 2 ? "/bin/bash" : NULL;
            p.input = input;
            proc_start(&p, run, login ? NULL : &args);
            proc_wait(&p, 20000);
            out = proc_task_out(&p);
            if (!proc_exited(&p, 0) ||
                (k == 0 && strcmp(out, "oneoff|a b|it's|-x|--|") != 0) ||
                (k == 1 && strcmp(out, "oneoff|6|") != 0) ||
                (k == 2 &&
                 strncmp(out, parents[login], strlen(parents[login])) != 0))
                fail_msg("%s, %s: status 0x%x, out '%.60s', stderr: %s",
                         shells[login], cmds[k], p.status, out,
                         buf_str(&p.err));
            free(read_history(a));
            proc_release(&p);
            free(run);
            free(line);
            free(input);
        }
    strlist_clear(&args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_and_input, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_runs_under_each_shell, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_bytes_not_characters, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_no_argument_limit, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_login_sh_runs_boot_itself,
                                        app_setup, app_teardown),
    };

    return cmocka_run_group_tests_name("script_boot", tests, NULL, NULL);
}
