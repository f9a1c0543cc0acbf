/*
 * test_util.c - unit tests for util.c and buf.c: durations (parse and
 * format), edit distance, environment names, string and key=value lists,
 * file_read and the bounded byte buffer.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/util.h"

static void assert_duration(const char *s, int64_t want)
{
    char err[ERR_MAX] = "";
    int64_t ms = -1;

    if (duration_parse(s, &ms, err) != 0)
        fail_msg("duration_parse('%s') failed: %s", s, err);
    if (ms != want)
        fail_msg("duration_parse('%s') = %lld, want %lld", s, (long long)ms,
                 (long long)want);
}

static void assert_duration_error(const char *s, const char *want)
{
    char err[ERR_MAX] = "";
    int64_t ms = 12345;

    assert_int_equal(duration_parse(s, &ms, err), -1);
    assert_string_equal(err, want);
    assert_int_equal(ms, 0);
}

static void test_duration_parse_units(void **state)
{
    (void)state;
    assert_duration("90s", 90000);
    assert_duration("15m", 900000);
    assert_duration("1h30m", 5400000);
    assert_duration("500ms", 500);
    assert_duration("2d", 2 * 86400000LL);
    assert_duration("1h", 3600000);
    assert_duration("1m30s", 90000);
    assert_duration("1s500ms", 1500);
    assert_duration("1d2h3m4s5ms",
                    86400000LL + 2 * 3600000 + 3 * 60000 + 4000 + 5);
    assert_duration("0m5s", 5000);
    assert_duration("007s", 7000);
    assert_duration("366d", 366LL * 86400000);
}

static void test_duration_parse_errors(void **state)
{
    (void)state;
    assert_duration_error("", "empty duration; expected e.g. 90s, 15m, 1h30m");
    assert_duration_error("15", "invalid duration '15': a number needs a unit "
                                "(ms, s, m, h, d)");
    assert_duration_error("m", "invalid duration 'm'; expected e.g. 90s, 15m, "
                               "1h30m");
    assert_duration_error("1x", "invalid duration '1x': a number needs a unit "
                                "(ms, s, m, h, d)");
    assert_duration_error("0s", "duration '0s' must be greater than zero");
    assert_duration_error("0ms", "duration '0ms' must be greater than zero");
    assert_duration_error("-5s", "invalid duration '-5s'; expected e.g. 90s, "
                                 "15m, 1h30m");
    assert_duration_error(" 5s", "invalid duration ' 5s'; expected e.g. 90s, "
                                 "15m, 1h30m");
    assert_duration_error("5s ", "invalid duration '5s '; expected e.g. 90s, "
                                 "15m, 1h30m");
    assert_duration_error("1.5s", "invalid duration '1.5s': a number needs a "
                                  "unit (ms, s, m, h, d)");
    assert_duration_error("10S", "invalid duration '10S': a number needs a "
                                 "unit (ms, s, m, h, d)");
    assert_duration_error("5mss", "invalid duration '5mss'; expected e.g. "
                                  "90s, 15m, 1h30m");
}

static void test_duration_parse_overflow(void **state)
{
    (void)state;
    /* Digits alone beyond any int64: must not wrap around. */
    assert_duration_error("99999999999999999999999999999s",
                          "duration '99999999999999999999999999999s' is too "
                          "long");
    /* Each number fits, the product does not fit the limit. */
    assert_duration_error("367d", "duration '367d' is too long");
    assert_duration_error("9000000h", "duration '9000000h' is too long");
    /* The sum passes the limit. */
    assert_duration_error("366d1ms", "duration '366d1ms' is too long");
    assert_duration_error("200d200d", "duration '200d200d' is too long");
    /* A huge count of a large unit: the multiplication must not overflow
     * into a small or negative value that slips through. */
    assert_duration_error("31622400000d", "duration '31622400000d' is too "
                                          "long");
}

static void assert_format(int64_t ms, const char *want)
{
    char buf[64];

    memset(buf, 'X', sizeof(buf));
    duration_format(ms, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_duration_format(void **state)
{
    char small[4];

    (void)state;
    assert_format(0, "0ms");
    assert_format(250, "250ms");
    assert_format(999, "999ms");
    assert_format(1000, "1s");
    assert_format(1500, "1.5s");
    assert_format(45000, "45s");
    assert_format(60000, "1m");
    assert_format(90000, "1m30s");
    assert_format(900000, "15m");
    assert_format(3600000, "1h");
    assert_format(5400000, "1h30m");
    assert_format(3661000, "1h1m1s");
    assert_format(2 * 86400000LL, "48h");

    /* Whole-unit results read back through duration_parse. */
    static const int64_t round_trip[] = {1000,    45000,   90000,   900000,
                                         3600000, 5400000, 3661000, 86400000};
    for (size_t i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
        char buf[64], err[ERR_MAX];
        int64_t back = 0;
        duration_format(round_trip[i], buf, sizeof(buf));
        assert_int_equal(duration_parse(buf, &back, err), 0);
        assert_int_equal(back, round_trip[i]);
    }

    /* A short buffer is truncated, never overrun, and stays terminated. */
    memset(small, 'X', sizeof(small));
    duration_format(5400000, small, sizeof(small));
    assert_int_equal(small[3], '\0');
    assert_int_equal(strncmp(small, "1h3", 3), 0);
}

static void test_str_distance(void **state)
{
    (void)state;
    assert_int_equal(str_distance("address", "address", 2), 0);
    assert_int_equal(str_distance("adress", "address", 2), 1);
    assert_int_equal(str_distance("prot", "port", 2), 2);
    assert_int_equal(str_distance("stgae", "stage", 2), 2);
    assert_int_equal(str_distance("kitten", "sitting", 5), 3);
    assert_int_equal(str_distance("", "abc", 5), 3);
    assert_int_equal(str_distance("abc", "", 5), 3);
    assert_int_equal(str_distance("", "", 0), 0);
    /* Capped: anything beyond cap reads cap + 1. */
    assert_int_equal(str_distance("kitten", "sitting", 2), 3);
    assert_int_equal(str_distance("a", "abcdefgh", 2), 3);
    assert_int_equal(str_distance("colour", "hosts", 2), 3);
    /* Symmetric. */
    assert_int_equal(str_distance("env_fil", "env_file", 2),
                     str_distance("env_file", "env_fil", 2));
}

static void test_env_name_valid(void **state)
{
    (void)state;
    assert_true(env_name_valid("PATH"));
    assert_true(env_name_valid("RAILS_ENV"));
    assert_true(env_name_valid("_"));
    assert_true(env_name_valid("_x1"));
    assert_true(env_name_valid("a"));
    assert_true(env_name_valid("A1B2"));
    assert_false(env_name_valid(""));
    assert_false(env_name_valid("1A"));
    assert_false(env_name_valid("A-B"));
    assert_false(env_name_valid("A B"));
    assert_false(env_name_valid("A=B"));
    assert_false(env_name_valid("A;B"));
    assert_false(env_name_valid("$A"));
    assert_false(env_name_valid("A\n"));
    assert_false(env_name_valid("\xc3\x84"));
}

static void test_kvlist_later_wins(void **state)
{
    struct kvlist l = {0}, m = {0};

    (void)state;
    kvlist_set(&l, "A", "1");
    kvlist_set(&l, "B", "2");
    kvlist_set(&l, "A", "3");
    assert_int_equal(l.n, 2);
    /* Later wins, but keeps the first position. */
    assert_string_equal(l.key[0], "A");
    assert_string_equal(l.val[0], "3");
    assert_string_equal(l.key[1], "B");
    assert_string_equal(kvlist_get(&l, "A"), "3");
    assert_string_equal(kvlist_get(&l, "B"), "2");
    assert_null(kvlist_get(&l, "C"));
    assert_null(kvlist_get(&l, "a"));

    kvlist_set(&m, "B", "m");
    kvlist_set(&m, "C", "");
    kvlist_merge(&l, &m);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.key[0], "A");
    assert_string_equal(l.key[1], "B");
    assert_string_equal(l.val[1], "m");
    assert_string_equal(l.key[2], "C");
    assert_string_equal(l.val[2], "");
    /* The source is untouched. */
    assert_int_equal(m.n, 2);

    /* Many keys: growth keeps key and value arrays in step. */
    for (int i = 0; i < 100; i++) {
        char k[16], v[16];
        snprintf(k, sizeof(k), "K%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        kvlist_set(&l, k, v);
    }
    assert_int_equal(l.n, 103);
    assert_string_equal(kvlist_get(&l, "K77"), "v77");
    assert_string_equal(l.key[102], "K99");
    assert_string_equal(l.val[102], "v99");

    kvlist_clear(&l);
    kvlist_clear(&m);
    assert_int_equal(l.n, 0);
    assert_null(l.key);
}

static void test_strlist(void **state)
{
    struct strlist l = {0}, c = {0};
    char *s;

    (void)state;
    s = strlist_join(&l, ", ");
    assert_string_equal(s, "");
    free(s);

    strlist_push(&l, "staging");
    s = strlist_join(&l, ", ");
    assert_string_equal(s, "staging");
    free(s);

    strlist_push(&l, "production");
    strlist_push_owned(&l, xstrdup("dev"));
    strlist_push(&l, "");
    s = strlist_join(&l, ", ");
    assert_string_equal(s, "staging, production, dev, ");
    free(s);
    s = strlist_join(&l, "");
    assert_string_equal(s, "stagingproductiondev");
    free(s);

    assert_true(strlist_has(&l, "dev"));
    assert_true(strlist_has(&l, ""));
    assert_false(strlist_has(&l, "de"));

    strlist_copy(&c, &l);
    strlist_sort(&c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.v[0], "");
    assert_string_equal(c.v[1], "dev");
    assert_string_equal(c.v[2], "production");
    assert_string_equal(c.v[3], "staging");
    /* A copy, not shared storage. */
    assert_ptr_not_equal(c.v[3], l.v[0]);

    strlist_clear(&l);
    strlist_clear(&c);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
}

static void test_file_read(void **state)
{
    char path[] = "/tmp/oneoff-test-util-XXXXXX";
    int fd = mkstemp(path);
    char *data = NULL;
    size_t len = 0;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "ab\0cd", 5), 5);
    close(fd);

    assert_int_equal(file_read(path, 5, &data, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "ab\0cd", 6);
    free(data);

    assert_int_equal(file_read(path, 4, &data, &len), -EFBIG);
    assert_null(data);
    assert_int_equal(len, 0);

    unlink(path);
    assert_int_equal(file_read(path, 100, &data, &len), -ENOENT);
    assert_null(data);
}

/* A file of unknown size (a pipe) is read in growing steps, up to max. */
static void pipe_read(size_t n, size_t max, int want_rc)
{
    int fds[2];
    pid_t pid;
    char path[64], *data = NULL;
    size_t len = 0;
    int st;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char blk[4096];
        close(fds[0]);
        for (size_t k = 0; k < sizeof(blk); k++)
            blk[k] = (char)('a' + k % 26);
        for (size_t done = 0; done < n;) {
            size_t m = n - done < sizeof(blk) ? n - done : sizeof(blk);
            if (write(fds[1], blk, m) != (ssize_t)m)
                _exit(1);
            done += m;
        }
        _exit(0);
    }
    close(fds[1]);
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
    assert_int_equal(file_read(path, max, &data, &len), want_rc);
    close(fds[0]); /* the writer may be blocked on a full pipe: EPIPE */
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (want_rc == 0) {
        assert_int_equal(len, n);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(data[k], 'a' + k % 4096 % 26);
        assert_int_equal(data[n], '\0');
    } else {
        assert_null(data);
    }
    free(data);
}

static void test_file_read_pipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    pipe_read(0, 100, 0);
    pipe_read(300000, 300000, 0);
    pipe_read(300001, 300000, -EFBIG);
    pipe_read(70000, 1u << 20, 0);
    pipe_read(5000, 4999, -EFBIG);
}

static void test_buf_bounded(void **state)
{
    struct buf b = BUF_INIT(8);
    char *s;

    (void)state;
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_adds(&b, "abc"), 0);
    assert_int_equal(buf_addc(&b, 'd'), 0);
    assert_int_equal(buf_addf(&b, "%d", 42), 0);
    assert_string_equal(buf_str(&b), "abcd42");
    /* Passing max appends nothing. */
    assert_int_equal(buf_adds(&b, "xyz"), -1);
    assert_string_equal(buf_str(&b), "abcd42");
    assert_int_equal(buf_adds(&b, "xy"), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(buf_addc(&b, 'z'), -1);
    assert_int_equal(buf_add(&b, "", 0), 0);

    buf_reset(&b);
    assert_int_equal(buf_add(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);

    s = buf_detach(&b);
    assert_memory_equal(s, "a\0b", 4);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    s = buf_detach(&b);
    assert_string_equal(s, "");
    free(s);
    buf_release(&b);
}

static void test_buf_addf_large(void **state)
{
    struct buf b = BUF_INIT(1u << 20);
    char big[1000];

    (void)state;
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(buf_addf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    buf_release(&b);

    /* The formatted text is bounded by max as well. */
    buf_init(&b, 100);
    assert_int_equal(buf_addf(&b, "%s", big), -1);
    assert_int_equal(b.len, 0);
    buf_release(&b);
}

/* Regression: write errors were dropped (a full disk lost logs silently). */
static void test_write_all_reports_errors(void **state)
{
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC), p[2];
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    char got[8];

    (void)state;
    assert_true(fd >= 0);
    errno = 0;
    assert_int_equal(write_all(fd, "abc", 3), -1);
    assert_int_equal(errno, ENOSPC);
    close(fd);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write_all(p[1], "abc", 3), 0);
    assert_int_equal(read(p[0], got, sizeof(got)), 3);
    close(p[0]);
    assert_int_equal(write_all(p[1], "abc", 3), -1);
    assert_int_equal(errno, EPIPE);
    close(p[1]);
    assert_int_equal(write_all(-1, "", 0), 0);
    signal(SIGPIPE, old);
}

static void test_buf_truncate(void **state)
{
    struct buf b = BUF_INIT(64);

    (void)state;
    assert_int_equal(buf_adds(&b, "hello world"), 0);
    buf_truncate(&b, 5);
    assert_string_equal(buf_str(&b), "hello");
    buf_truncate(&b, 50); /* longer: no change */
    assert_int_equal(b.len, 5);
    buf_release(&b);
}

/* BUF_MUST: an append that cannot fail and does is a bug, and aborts. */
static void test_buf_must_aborts(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    BUF_MUST(0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct buf b = BUF_INIT(2);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO);
        BUF_MUST(buf_adds(&b, "too long"));
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_errf_and_xasprintf(void **state)
{
    char err[ERR_MAX];
    char long_arg[3000];
    char *s;

    (void)state;
    assert_int_equal(errf(err, "a %s %d", "b", 3), -1);
    assert_string_equal(err, "a b 3");
    assert_int_equal(errf(NULL, "ignored"), -1);
    memset(long_arg, 'z', sizeof(long_arg) - 1);
    long_arg[sizeof(long_arg) - 1] = '\0';
    errf(err, "%s", long_arg);
    assert_int_equal(strlen(err), ERR_MAX - 1);

    s = xasprintf("%s-%03d", "x", 7);
    assert_string_equal(s, "x-007");
    free(s);
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
}

static void test_time_format_iso(void **state)
{
    char buf[32];

    (void)state;
    time_format_iso(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    time_format_iso(1795252354123LL, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-21T09:12:34.123Z");
    assert_true(clock_mono_ms() > 0);
    assert_true(clock_wall_ms() > 1600000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse_units),
        cmocka_unit_test(test_duration_parse_errors),
        cmocka_unit_test(test_duration_parse_overflow),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_str_distance),
        cmocka_unit_test(test_env_name_valid),
        cmocka_unit_test(test_kvlist_later_wins),
        cmocka_unit_test(test_strlist),
        cmocka_unit_test(test_file_read),
        cmocka_unit_test(test_file_read_pipe),
        cmocka_unit_test(test_buf_bounded),
        cmocka_unit_test(test_buf_addf_large),
        cmocka_unit_test(test_write_all_reports_errors),
        cmocka_unit_test(test_buf_truncate),
        cmocka_unit_test(test_buf_must_aborts),
        cmocka_unit_test(test_errf_and_xasprintf),
        cmocka_unit_test(test_time_format_iso),
    };

    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
