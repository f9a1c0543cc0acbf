/*
 * test_host_script_task.c - unit tests for the task's part of
 * src/host_script.sh, run for real under dash, bash and busybox sh
 * (script_harness.c): which commands run in the script's own shell and
 * which in a subshell (oneoff_simple), and the clock of the history's end
 * line (oneoff_iso, /proc/uptime).
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
#include <time.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/host_script.h"
#include "oneoff/util.h"
#include "script_harness.h"

/* Runs the fixture's task with command cmd, "go" said, to its end. */
static void run_cmd(const struct app *a, struct proc *p, int shell,
                    const char *cmd)
{
    struct script_spec s;
    char *script;

    app_spec(a, &s, SCRIPT_RUN, cmd);
    script = script_compose(&s);
    proc_init(p, shell, WORD_GO);
    proc_start(p, script, NULL);
    free(script);
    proc_wait(p, 10000);
}

extern const char oneoff_host_script[];

/* oneoff_iso, taken from the embedded script and run alone: the clock of
 * the history's end line is arithmetic in the shell, checked against
 * gmtime() over leap days, century years and every field's padding. */
static void test_clock_arithmetic(void **state)
{
    static const long long cases[] = {
        0LL,
        1764547200000LL,
        1764547200123LL,
        951782400000LL,
        951868799999LL,
        4107542400000LL,
        4107456000000LL,
        1709251199999LL,
        1735689599999LL,
        253402300799999LL,
        1000000000005LL,
        1234567890050LL,
    };
    const char *b = strstr(oneoff_host_script, "oneoff_iso() {");
    const char *e = b ? strstr(b, "\n}\n") : NULL;
    struct buf script = BUF_INIT(1 << 16), q = BUF_INIT(1 << 17);

    (void)state;
    assert_non_null(e);
    assert_int_equal(buf_add(&script, b, (size_t)(e + 3 - b)), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(
            buf_addf(&script,
                     "oneoff_iso %lld; printf '%%s\\n' \"$oneoff_at\"\n",
                     cases[i]),
            0);
    assert_int_equal(sh_quote(&q, buf_str(&script)), 0);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        char *cmd = xasprintf("%s -c %s", harness_shells[sh], buf_str(&q));
        FILE *f = popen(cmd, "r");
        char line[128];

        assert_non_null(f);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            time_t t = (time_t)(cases[i] / 1000);
            struct tm tm;
            char want[64];

            gmtime_r(&t, &tm);
            snprintf(want, sizeof(want),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\n", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(cases[i] % 1000));
            if (fgets(line, sizeof(line), f) == NULL || strcmp(line, want) != 0)
                fail_msg("%s: %lld: '%s', want '%s'", harness_shells[sh],
                         cases[i], line, want);
        }
        assert_int_equal(pclose(f), 0);
        free(cmd);
    }
    buf_release(&script);
    buf_release(&q);
}

/* The end line's clock: the duration measured on the host from "go" to
 * the end, "at" the client's clock at "go" plus that duration. */
static void test_end_line_clock(void **state)
{
    struct app *a = *state;
    char *hist = xasprintf("%s/shared/.oneoff/history.jsonl", a->app_dir);

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        char *text = NULL, *end;
        size_t len = 0;
        long long d = -1;
        char at[32] = "";

        (void)unlink(hist);
        run_cmd(a, &p, sh, "sleep 0.3");
        assert_true(proc_exited(&p, 0));
        assert_int_equal(file_read(hist, 1 << 16, &text, &len), 0);
        end = strstr(text, "\"event\":\"end\"");
        assert_non_null(end);
        assert_int_equal(
            sscanf(strstr(end, "\"at\":\""), "\"at\":\"%31[^\"]", at), 1);
        assert_int_equal(
            sscanf(strstr(end, "\"duration_ms\":"), "\"duration_ms\":%lld", &d),
            1);
        /* 0.3 s asleep, measured in hundredths; the client's clock at
         * "go" is 2025-12-01T00:00:00.000Z (SCRIPT_GO) */
        if (d < 300 || d > 20000 || d % 10 != 0)
            fail_msg("%s: duration_ms %lld", harness_shells[sh], d);
        {
            char want[64];
            snprintf(want, sizeof(want), "2025-12-01T00:00:%02lld.%03lldZ",
                     d / 1000, d % 1000);
            if (d < 60000 && strcmp(at, want) != 0)
                fail_msg("%s: at %s, want %s", harness_shells[sh], at, want);
        }
        free(text);
        proc_release(&p);
    }
    free(hist);
}

/* Plain simple commands run in the script's own shell (oneoff_simple);
 * whatever could change or end that shell runs in the subshell: either
 * way the task's status is the run's and the script lives on to write
 * the history's end line. */
static void test_plain_and_other_commands(void **state)
{
    static const struct {
        const char *cmd;
        int code;
    } cases[] = {
        {"'sh' '-c' 'exit 5'", 5},      /* plain: a program */
        {"false", 1},                   /* plain: a builtin */
        {"no-such-program-here", 127},  /* plain: not found */
        {"exit 3", 3},                  /* would end the shell: subshell */
        {"exec sh -c 'exit 4'", 4},     /* would replace it: subshell */
        {"oneoff_fail x", 125},         /* the script's own function */
        {"echo 'open", 2},              /* a syntax error: subshell */
        {"A=1 sh -c 'exit $A'", 1},     /* '$': subshell */
        {"cd / && test -f REVISION", 1} /* a list: subshell */
    };
    struct app *a = *state;
    char *hist = xasprintf("%s/shared/.oneoff/history.jsonl", a->app_dir);

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct proc p;
            char *text = NULL, want[64];
            size_t len = 0;

            (void)unlink(hist);
            run_cmd(a, &p, sh, cases[i].cmd);
            if (!proc_exited(&p, cases[i].code))
                fail_msg("%s: '%s': status 0x%x, want exit %d",
                         harness_shells[sh], cases[i].cmd, p.status,
                         cases[i].code);
            snprintf(want, sizeof(want), "\"exit\":%d,", cases[i].code);
            assert_int_equal(file_read(hist, 1 << 16, &text, &len), 0);
            if (strstr(text, want) == NULL)
                fail_msg("%s: '%s': no end line with %s in %s",
                         harness_shells[sh], cases[i].cmd, want, text);
            free(text);
            proc_release(&p);
        }
    free(hist);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_arithmetic),
        cmocka_unit_test_setup_teardown(test_end_line_clock, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_plain_and_other_commands,
                                        app_setup, app_teardown),
    };

    return cmocka_run_group_tests_name("host_script_task", tests, NULL, NULL);
}
