/*
 * test_transport_feed.c - the sink's input (feed/fed), its wake-up
 * descriptor and tchan_again() on the local transport: a megabyte fed
 * through `cat` comes back whole without the pump ever blocking on the
 * pipe, and a second command runs on the same channel after the first.
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
#include "oneoff/transport.h"

#define INPUT (1u << 20)

struct feeder {
    struct tchan *c;
    char *in;
    size_t off;
    bool eof_sent;
    struct buf out;
    int wake[2];
};

static void on_data(void *ctx, enum transport_stream s, const char *p, size_t n)
{
    struct feeder *f = ctx;

    if (s == STREAM_OUT)
        assert_int_equal(buf_add(&f->out, p, n), 0);
}

static enum transport_control on_control(void *ctx)
{
    struct feeder *f = ctx;

    if (f->off == INPUT && !f->eof_sent && f->c) {
        f->eof_sent = true;
        assert_int_equal(tchan_close_stdin(f->c), 0);
    }
    return CONTROL_CONTINUE;
}

static size_t on_feed(void *ctx, const char **p)
{
    struct feeder *f = ctx;

    *p = f->in + f->off;
    return INPUT - f->off;
}

static void on_fed(void *ctx, size_t k)
{
    ((struct feeder *)ctx)->off += k;
}

static int on_wake(void *ctx)
{
    return ((struct feeder *)ctx)->wake[0];
}

static void test_feed_and_again(void **state)
{
    struct transport *t = transport_local_new();
    struct transport_target tg = {"local", NULL, 0, NULL, NULL, NULL};
    struct transport_cmd cmd = {"cat", false, 0, 0, NULL, NULL};
    struct transport_result res;
    struct feeder f;
    struct transport_sink sink;

    (void)state;
    memset(&f, 0, sizeof(f));
    assert_int_equal(pipe(f.wake), 0);
    f.in = xmalloc(INPUT);
    for (size_t i = 0; i < INPUT; i++)
        f.in[i] = (char)('a' + i % 26);
    buf_init(&f.out, 2 * INPUT);
    memset(&sink, 0, sizeof(sink));
    sink.ctx = &f;
    sink.data = on_data;
    sink.control = on_control;
    sink.feed = on_feed;
    sink.fed = on_fed;
    sink.wake_fd = on_wake;
    assert_int_equal(transport_open(t, &tg, &cmd, &sink, &f.c, &res), 0);
    while (!tchan_pump(f.c, &res))
        ;
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(f.out.len, INPUT);
    assert_memory_equal(f.out.data, f.in, INPUT);

    /* a second command on the same channel, with the same sink */
    cmd.command = "echo again; exit 3";
    buf_reset(&f.out);
    f.off = INPUT; /* nothing more to feed; stdin closed at once */
    f.eof_sent = false;
    assert_int_equal(tchan_again(f.c, &cmd, &sink, &res), 0);
    while (!tchan_pump(f.c, &res))
        ;
    assert_int_equal(res.outcome, OUTCOME_EXITED);
    assert_int_equal(res.exit_code, 3);
    assert_string_equal(buf_str(&f.out), "again\n");
    tchan_free(f.c);
    transport_free(t);
    buf_release(&f.out);
    free(f.in);
    close(f.wake[0]);
    close(f.wake[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_and_again),
    };

    return cmocka_run_group_tests_name("transport_feed", tests, NULL, NULL);
}
