/*
 * test_transport.c - the transport contract, driven on this machine's
 * transport with real processes and a real pseudo-terminal: output on both
 * streams, exit codes and signals, pausing and resuming from another call,
 * standard input, EOF, a graceful stop of a process group that ignores
 * TERM, and a terminal of a given size that follows a resize.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/transport.h"
#include "oneoff/util.h"

struct probe {
    struct buf out, err;
    enum transport_control ctl;
    const char *pause_at;  /* pause once stdout contains this */
    const char *ctl_after; /* apply ctl only once stdout contains this */
    bool connected;
};

static void on_connected(void *ctx)
{
    ((struct probe *)ctx)->connected = true;
}

static void on_data(void *ctx, enum transport_stream s, const char *p, size_t n)
{
    struct probe *pr = ctx;

    assert_int_equal(buf_add(s == STREAM_ERR ? &pr->err : &pr->out, p, n), 0);
}

static enum transport_control on_control(void *ctx)
{
    struct probe *pr = ctx;

    if (pr->pause_at && strstr(buf_str(&pr->out), pr->pause_at))
        return CONTROL_PAUSE;
    if (pr->ctl_after && !strstr(buf_str(&pr->out), pr->ctl_after))
        return CONTROL_CONTINUE;
    return pr->ctl;
}

static struct transport_sink sink_of(struct probe *pr)
{
    struct transport_sink s = {pr,   on_connected, on_data, on_control,
                               NULL, NULL,         NULL};

    return s;
}

static int run_input(const char *command, const char *input, struct probe *pr,
                     struct transport_result *res)
{
    struct transport *t = transport_local_new();
    struct transport_target tg = {"local", NULL, 0, NULL, NULL, NULL};
    struct transport_cmd cmd = {command, false, 0, 0, NULL, input};
    struct transport_sink sink = sink_of(pr);
    struct tchan *c = NULL;
    int rc;

    rc = transport_open(t, &tg, &cmd, &sink, &c, res);
    if (rc == 0) {
        while (!tchan_pump(c, res))
            ;
        tchan_free(c);
    }
    transport_free(t);
    return rc;
}

static int run(const char *command, struct probe *pr,
               struct transport_result *res)
{
    return run_input(command, NULL, pr, res);
}

static void probe_init(struct probe *pr)
{
    memset(pr, 0, sizeof(*pr));
    buf_init(&pr->out, 1u << 20);
    buf_init(&pr->err, 1u << 20);
}

static void probe_release(struct probe *pr)
{
    buf_release(&pr->out);
    buf_release(&pr->err);
}

static void test_streams_and_exit_code(void **state)
{
    struct probe pr;
    struct transport_result res;

    (void)state;
    probe_init(&pr);
    assert_int_equal(run("echo out; echo err >&2; exit 7", &pr, &res), 0);
    assert_true(pr.connected);
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_int_equal(res.exit_code, 7);
    assert_string_equal(buf_str(&pr.out), "out\n");
    assert_string_equal(buf_str(&pr.err), "err\n");
    probe_release(&pr);
}

/* A command's first input is on its stdin before anything else, larger
 * than a pipe holds; a command that never reads it still ends. */
static void test_first_input(void **state)
{
    struct probe pr;
    struct transport_result res;
    char *big = xmalloc(200002);

    (void)state;
    memset(big, 'x', 200000);
    memcpy(big + 200000, "\n", 2);
    probe_init(&pr);
    assert_int_equal(run_input("IFS= read -r l; echo ${#l}", big, &pr, &res),
                     0);
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_string_equal(buf_str(&pr.out), "200000\n");
    probe_release(&pr);
    probe_init(&pr);
    assert_int_equal(run_input("exit 3", big, &pr, &res), 0);
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_int_equal(res.exit_code, 3);
    probe_release(&pr);
    free(big);
}

static void test_signal_death(void **state)
{
    struct probe pr;
    struct transport_result res;

    (void)state;
    probe_init(&pr);
    assert_int_equal(run("kill -s USR1 $$", &pr, &res), 0);
    assert_int_equal(res.outcome, OUTCOME_SIGNALED);
    assert_string_equal(res.signal, "USR1");
    probe_release(&pr);
}

static void test_pause_write_resume(void **state)
{
    struct transport *t = transport_local_new();
    struct transport_target tg = {"local", NULL, 0, NULL, NULL, NULL};
    struct transport_cmd cmd = {
        "echo ready; read x; echo \"got $x\"; cat; echo end",
        false,
        0,
        0,
        NULL,
        NULL};
    struct probe pr;
    struct transport_sink sink;
    struct transport_result res;
    struct tchan *c = NULL;

    (void)state;
    probe_init(&pr);
    pr.pause_at = "ready\n";
    sink = sink_of(&pr);
    assert_int_equal(transport_open(t, &tg, &cmd, &sink, &c, &res), 0);
    assert_int_equal(tchan_pump(c, &res), 0); /* paused, still running */
    pr.pause_at = NULL;
    assert_int_equal(tchan_write(c, "go\nmore\n", 8), 0);
    assert_int_equal(tchan_close_stdin(c), 0);
    while (!tchan_pump(c, &res))
        ;
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_string_equal(buf_str(&pr.out), "ready\ngot go\nmore\nend\n");
    tchan_free(c);
    transport_free(t);
    probe_release(&pr);
}

static void test_stop_reaches_a_group_that_ignores_term(void **state)
{
    struct probe pr;
    struct transport_result res;
    int64_t t0 = clock_mono_ms();

    (void)state;
    probe_init(&pr);
    pr.ctl = CONTROL_CLOSE; /* at once: TERM, then KILL to the group */
    pr.ctl_after = "armed";
    assert_int_equal(
        run("trap '' TERM; sleep 30 & echo armed; wait", &pr, &res), 0);
    assert_int_equal(res.outcome, OUTCOME_SIGNALED);
    assert_string_equal(res.signal, "KILL");
    assert_true(clock_mono_ms() - t0 < 5000);
    probe_release(&pr);
}

static void test_pty_size_and_resize(void **state)
{
    struct transport *t = transport_local_new();
    struct transport_target tg = {"local", NULL, 0, NULL, NULL, NULL};
    struct transport_cmd cmd = {"stty size; echo \"$TERM\"; read x; stty size",
                                true,
                                100,
                                30,
                                "vt220",
                                NULL};
    struct probe pr;
    struct transport_sink sink;
    struct transport_result res;
    struct tchan *c = NULL;

    (void)state;
    probe_init(&pr);
    pr.pause_at = "vt220";
    sink = sink_of(&pr);
    assert_int_equal(transport_open(t, &tg, &cmd, &sink, &c, &res), 0);
    assert_int_equal(tchan_pump(c, &res), 0);
    assert_non_null(strstr(buf_str(&pr.out), "30 100\r\n"));
    assert_int_equal(tchan_resize(c, 132, 50), 0);
    pr.pause_at = NULL;
    assert_int_equal(tchan_write(c, "\r", 1), 0);
    while (!tchan_pump(c, &res))
        ;
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_non_null(strstr(buf_str(&pr.out), "50 132\r\n"));
    assert_int_equal(pr.err.len, 0); /* one terminal for both streams */
    tchan_free(c);
    transport_free(t);
    probe_release(&pr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_and_exit_code),
        cmocka_unit_test(test_first_input),
        cmocka_unit_test(test_signal_death),
        cmocka_unit_test(test_pause_write_resume),
        cmocka_unit_test(test_stop_reaches_a_group_that_ignores_term),
        cmocka_unit_test(test_pty_size_and_resize),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
