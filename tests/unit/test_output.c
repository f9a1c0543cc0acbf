/*
 * test_output.c - what reaches the operator's terminal: escaping of
 * remote bytes, prefixed lines, UTF-8 for JSON.
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

#include "oneoff/output.h"
#include "oneoff/text.h"

static void escaped(const char *in, size_t n, const char *want)
{
    struct buf b = BUF_INIT(1u << 20);

    assert_int_equal(text_escape(&b, in, n), 0);
    assert_string_equal(buf_str(&b), want);
    buf_release(&b);
}

static void test_escape_controls(void **state)
{
    (void)state;
    escaped("plain text\twith tab", 19, "plain text\twith tab");
    escaped("\033[31mred\033[0m", 12, "\\e[31mred\\e[0m");
    escaped("a\rb", 3, "a\\rb");
    escaped("bell\a", 5, "bell\\x07");
    escaped("nul\0x", 5, "nul\\x00x");
    escaped("del\x7f", 4, "del\\x7f");
    /* OSC title-setting sequence, a classic terminal injection */
    escaped("\033]0;pwned\a", 10, "\\e]0;pwned\\x07");
}

static void test_escape_utf8(void **state)
{
    (void)state;
    /* valid UTF-8 passes through */
    escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", 14,
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80");
    /* C1 controls (U+009B is CSI) are escaped byte by byte */
    escaped("\xc2\x9b" "31m", 5, "\\xc2\\x9b31m");
    /* a raw 8-bit CSI, invalid UTF-8, overlong forms, surrogates */
    escaped("\x9b" "2J", 3, "\\x9b2J");
    escaped("\xc0\xaf", 2, "\\xc0\\xaf");
    escaped("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
    /* a sequence cut by the end of the line */
    escaped("\xe2\x82", 2, "\\xe2\\x82");
}

static void test_utf8_for_json(void **state)
{
    struct buf b = BUF_INIT(1024);

    (void)state;
    assert_int_equal(text_utf8(&b, "ok \xff\xfe \xc3\xa9", 8), 0);
    assert_string_equal(buf_str(&b), "ok \xef\xbf\xbd\xef\xbf\xbd \xc3\xa9");
    buf_release(&b);
    assert_int_equal(text_plain_len("abc\tdef\x01", 8), 7);
}

static void test_prefixed_lines(void **state)
{
    struct output o;
    struct output_host h;
    struct buf b = BUF_INIT(1u << 20);
    struct line l1 = {"hello", 5, true};
    struct line l2 = {"crlf\r", 5, true};
    struct line l3 = {"\033[2J", 4, false};

    (void)state;
    output_init(&o, OUT_STREAM, 5);
    o.color[0] = o.color[1] = false;
    output_host_init(&o, &h, "db1", 0);
    output_format_line(&o, &h, 0, &l1, &b);
    output_format_line(&o, &h, 0, &l2, &b);
    output_format_line(&o, &h, 1, &l3, &b);
    /* aligned name, the CR of a CRLF dropped, escapes visible */
    assert_string_equal(buf_str(&b), "db1   | hello\n"
                                     "db1   | crlf\n"
                                     "db1   | \\e[2J\n");
    buf_release(&b);
    output_host_release(&h);
    output_release(&o);
}

static void test_color_prefix(void **state)
{
    struct output o;
    struct output_host h;
    struct buf b = BUF_INIT(1024);
    struct line l = {"x", 1, true};

    (void)state;
    output_init(&o, OUT_STREAM, 3);
    o.color[0] = true;
    o.color[1] = false;
    output_host_init(&o, &h, "web", 2);
    output_format_line(&o, &h, 0, &l, &b);
    assert_string_equal(buf_str(&b), "\033[33mweb\033[0m | x\n");
    buf_reset(&b);
    output_format_line(&o, &h, 1, &l, &b);
    assert_string_equal(buf_str(&b), "web | x\n");
    buf_release(&b);
    output_host_release(&h);
    output_release(&o);
}

/* Regression: notes quote what hosts reported (a release directory, a lock
 * holder) and were written raw, and cut at 1 KB (a drift table of many
 * hosts). */
static void test_notes_escaped_whole(void **state)
{
    char path[] = "/tmp/oneoff-test-note.XXXXXX";
    int fd = mkstemp(path);
    struct output o;
    struct buf big = BUF_INIT(1u << 20);
    char *data = NULL;
    size_t len = 0;

    (void)state;
    assert_true(fd >= 0);
    output_init(&o, OUT_STREAM, 4);
    o.fd[1] = fd;
    for (int i = 0; i < 300; i++)
        buf_addf(&big, "\n  h%d  r1", i);
    output_note(&o, "hosts disagree:\n  h1  \033]0;x\a%s", buf_str(&big));
    close(fd);
    assert_int_equal(file_read(path, 1u << 20, &data, &len), 0);
    unlink(path);
    assert_memory_equal(data, "oneoff: hosts disagree:\n"
                              "oneoff:   h1  \\e]0;x\\x07\n",
                        strlen("oneoff: hosts disagree:\n"
                               "oneoff:   h1  \\e]0;x\\x07\n"));
    assert_null(memchr(data, '\033', len));
    assert_non_null(strstr(data, "oneoff:   h299  r1\n"));
    free(data);
    buf_release(&big);
    output_release(&o);
}

/* Release and revision in the summary come from the hosts: escaped. */
static void test_summary_escapes_host_values(void **state)
{
    char path[] = "/tmp/oneoff-test-sum.XXXXXX";
    int fd = mkstemp(path);
    struct output o;
    struct summary_row rows[2];
    char *data = NULL;
    size_t len = 0;

    (void)state;
    assert_true(fd >= 0);
    memset(rows, 0, sizeof(rows));
    rows[0].host = "h1";
    rows[0].status = "ok";
    snprintf(rows[0].exit, sizeof(rows[0].exit), "0");
    rows[0].release = "r1\033[2J";
    rows[0].revision = "abc\033]0;t\a";
    rows[1].host = "h2";
    rows[1].status = "failed";
    snprintf(rows[1].exit, sizeof(rows[1].exit), "1");
    rows[1].error = "boom \033[31m";
    output_init(&o, OUT_STREAM, 2);
    o.fd[0] = fd;
    output_summary(&o, rows, 2);
    close(fd);
    assert_int_equal(file_read(path, 1u << 20, &data, &len), 0);
    unlink(path);
    assert_null(memchr(data, '\033', len));
    assert_non_null(strstr(data, "r1\\e[2J"));
    assert_non_null(strstr(data, "abc\\e]0;t\\x07"));
    assert_non_null(strstr(data, "boom \\e[31m"));
    assert_non_null(strstr(data, "1 ok, 1 failed, 0 unreachable\n"));
    free(data);
    output_release(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_escape_utf8),
        cmocka_unit_test(test_utf8_for_json),
        cmocka_unit_test(test_prefixed_lines),
        cmocka_unit_test(test_color_prefix),
        cmocka_unit_test(test_notes_escaped_whole),
        cmocka_unit_test(test_summary_escapes_host_values),
    };

    return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}
