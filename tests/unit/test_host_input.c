/*
 * test_host_input.c - the host script's input for the task (host_script.sh,
 * Input), run for real under every shell: frames after "go" reach the task
 * as its stdin, "0" ends it without stopping the task, a task that stops
 * reading still ends, and EOF on the channel still stops the task.
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

#include "oneoff/host_script.h"
#include "script_harness.h"

/* Starts cmd with input under shell sh and waits for its report. */
static void start(const struct app *a, struct proc *p, int sh, const char *cmd)
{
    struct script_spec s;
    char *script;

    app_spec(a, &s, SCRIPT_RUN, cmd);
    s.input = true;
    script = script_compose(&s);
    proc_init(p, sh, WORD_NONE);
    proc_start(p, script, NULL);
    free(script);
    proc_wait_ready(p, 10000);
}

static void test_frames_reach_the_task(void **state)
{
    struct app *a = *state;

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        start(a, &p, sh, "cat; sleep 0.2; echo '[end]'");
        /* frames split anywhere: the script reads what each says */
        proc_send(&p, SCRIPT_GO "5\nhel");
        sleep_ms(50);
        proc_send(&p, "lo3\n\nab0\n");
        proc_wait(&p, 10000);
        if (!proc_exited(&p, 0))
            fail_msg("%s: status 0x%x", harness_shells[sh], p.status);
        assert_string_equal(proc_task_out(&p), "hello\nab[end]\n");
        proc_release(&p);
    }
}

static void test_task_that_stops_reading(void **state)
{
    struct app *a = *state;
    /* within a pipe's buffer: the script may end before reading it */
    char *big = xmalloc(60001);

    memset(big, 'x', 60000);
    big[60000] = '\0';
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        start(a, &p, sh, "head -c 2; echo '[done]'");
        proc_send(&p, SCRIPT_GO "60000\n");
        proc_send(&p, big);
        proc_wait(&p, 10000);
        if (!proc_exited(&p, 0))
            fail_msg("%s: status 0x%x", harness_shells[sh], p.status);
        assert_string_equal(proc_task_out(&p), "xx[done]\n");
        proc_release(&p);
    }
    free(big);
}

static void test_eof_still_stops(void **state)
{
    struct app *a = *state;

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        start(a, &p, sh, "cat; sleep 5; echo not-stopped");
        proc_send(&p, SCRIPT_GO "3\nabc");
        sleep_ms(200);
        proc_send(&p, NULL); /* the connection is gone */
        proc_wait(&p, 10000);
        if (!proc_signaled(&p, SIGTERM))
            fail_msg("%s: status 0x%x, want TERM", harness_shells[sh],
                     p.status);
        assert_null(strstr(proc_task_out(&p), "not-stopped"));
        group_wait_empty(p.pid, 8000);
        proc_release(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_reach_the_task),
        cmocka_unit_test(test_task_that_stops_reading),
        cmocka_unit_test(test_eof_still_stops),
    };

    return cmocka_run_group_tests_name("host_input", tests, app_setup,
                                       app_teardown);
}
