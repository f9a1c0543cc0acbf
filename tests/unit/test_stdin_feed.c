/*
 * test_stdin_feed.c - one input for many hosts: every host gets every byte,
 * in frames ("<length>\n" and the bytes, "0\n" at the end), and the input
 * is not read further than one ring ahead of the slowest host still
 * reading (the memory bound), until that host moves or is done.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/stdin_feed.h"

#define INPUT_SIZE (3 * FEED_RING + 12345)

struct writer {
    int fd;
    atomic_size_t written;
};

static unsigned char byte_at(size_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static void *write_input(void *arg)
{
    struct writer *w = arg;
    unsigned char chunk[8192];

    for (size_t off = 0; off < INPUT_SIZE;) {
        size_t n =
            INPUT_SIZE - off < sizeof(chunk) ? INPUT_SIZE - off : sizeof(chunk);
        ssize_t k;
        for (size_t i = 0; i < n; i++)
            chunk[i] = byte_at(off + i);
        k = write(w->fd, chunk, n);
        if (k <= 0)
            break;
        off += (size_t)k;
        atomic_store(&w->written, off);
    }
    close(w->fd);
    return NULL;
}

/* Takes what host i is offered, up to max bytes of input, checking the
 * frames and the bytes; returns the input bytes taken, sets *ended at
 * "0\n". */
static size_t drain(struct feed *f, size_t i, size_t *pos, size_t max,
                    bool *ended, int wait_ms)
{
    static char hdr[2][32];
    static size_t hlen[2], left[2];
    size_t taken = 0;
    int idle = 0;

    while (taken < max && !*ended && idle < wait_ms) {
        const char *p = NULL;
        size_t n = feed_take(f, i, &p);
        if (n == 0) {
            usleep(1000);
            idle++;
            continue;
        }
        idle = 0;
        if (left[i] == 0) {
            /* a header, taken one byte at a time as a slow channel would */
            hdr[i][hlen[i]++] = p[0];
            feed_took(f, i, 1);
            if (p[0] != '\n')
                continue;
            hdr[i][hlen[i]] = '\0';
            left[i] = strtoul(hdr[i], NULL, 10);
            assert_true(left[i] <= FEED_FRAME_MAX);
            *ended = left[i] == 0;
            hlen[i] = 0;
            continue;
        }
        if (n > left[i])
            fail_msg("offered %zu bytes, the frame has %zu left", n, left[i]);
        if (n > max - taken)
            n = max - taken;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)p[k] != byte_at(*pos + k))
                fail_msg("host %zu: byte %zu differs", i, *pos + k);
        feed_took(f, i, n);
        *pos += n;
        left[i] -= n;
        taken += n;
    }
    return taken;
}

static void test_every_byte_and_the_bound(void **state)
{
    int p[2];
    pthread_t th;
    struct writer w;
    struct feed *f = NULL;
    char err[ERR_MAX];
    size_t pos[2] = {0, 0};
    bool ended[2] = {false, false};

    (void)state;
    assert_int_equal(pipe(p), 0);
    w.fd = p[1];
    atomic_init(&w.written, 0);
    assert_int_equal(feed_new(&f, p[0], 2, err), 0);
    feed_host_start(f, 0);
    feed_host_start(f, 1);
    assert_int_equal(feed_start(f, err), 0);
    assert_int_equal(pthread_create(&th, NULL, write_input, &w), 0);
    /* host 0 reads all it can, host 1 nothing: the input stops one ring
     * (plus a pipe and a read) ahead of host 1 */
    drain(f, 0, &pos[0], SIZE_MAX, &ended[0], 2000);
    assert_true(pos[0] >= FEED_RING - (64u << 10));
    assert_true(pos[0] <= FEED_RING);
    assert_true(atomic_load(&w.written) <= FEED_RING + (256u << 10));
    /* host 1 catches up a little: the input moves on, still bounded */
    drain(f, 1, &pos[1], FEED_RING / 2, &ended[1], 2000);
    drain(f, 0, &pos[0], SIZE_MAX, &ended[0], 2000);
    assert_true(pos[0] <= pos[1] + FEED_RING);
    /* host 1 is done (its task ended): host 0 gets the rest, and the end */
    feed_host_done(f, 1);
    drain(f, 0, &pos[0], SIZE_MAX, &ended[0], 5000);
    assert_true(ended[0]);
    assert_int_equal(pos[0], INPUT_SIZE);
    pthread_join(th, NULL);
    feed_free(f);
    close(p[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_and_the_bound),
    };

    return cmocka_run_group_tests_name("stdin_feed", tests, NULL, NULL);
}
