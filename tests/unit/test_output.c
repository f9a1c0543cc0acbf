/*
 * test_output.c - what reaches the operator's terminal: escaping of
 * remote bytes, prefixed lines on three streams, bounded batches that
 * never drop a line, notes and the summary.
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
#include <sys/stat.h>
#include <unistd.h>

#include "oneoff/output.h"
#include "oneoff/text.h"


/* A temporary file to stand for a terminal: its fd, path in path. */
static int capture_open(char *path)
{
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    return fd;
}

/* What was written to it (the caller frees); the file is removed. */
static char *capture_read(int fd, const char *path, size_t *len)
{
    char *data = NULL;

    close(fd);
    assert_int_equal(file_read(path, 256u << 20, &data, len), 0);
    unlink(path);
    return data;
}

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
    output_init(&o, OUT_STREAM, 5, false);
    o.color[0] = o.color[1] = false;
    output_host_init(&o, &h, "db1", 0);
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &l1, &b), 0);
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &l2, &b), 0);
    assert_int_equal(output_format_line(&o, &h, LINE_ERR, &l3, &b), 0);
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
    output_init(&o, OUT_STREAM, 3, false);
    o.color[0] = true;
    o.color[1] = false;
    output_host_init(&o, &h, "web", 2);
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &l, &b), 0);
    assert_string_equal(buf_str(&b), "\033[33mweb\033[0m | x\n");
    buf_reset(&b);
    assert_int_equal(output_format_line(&o, &h, LINE_ERR, &l, &b), 0);
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
    output_init(&o, OUT_STREAM, 4, false);
    o.fd[1] = fd;
    for (int i = 0; i < 300; i++)
        assert_int_equal(buf_addf(&big, "\n  h%d  r1", i), 0);
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
    output_init(&o, OUT_STREAM, 2, false);
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


/* What a host's set-up printed before the task started: stderr, marked. */
static void test_setup_stream(void **state)
{
    char po[] = "/tmp/oneoff-test-so.XXXXXX", pe[] = "/tmp/oneoff-test-se.XXXXXX";
    struct output o;
    struct output_host h;
    static const char sv[] = "sourcing .env: \033[1mwarning";
    struct line setup = {sv, sizeof(sv) - 1, true};
    struct line out = {"task out", 8, true};
    struct line err = {"task err", 8, true};
    char *dout, *derr;
    size_t lout, lerr;

    (void)state;
    output_init(&o, OUT_STREAM, 4, false);
    o.color[0] = o.color[1] = false;
    o.fd[0] = capture_open(po);
    o.fd[1] = capture_open(pe);
    output_host_init(&o, &h, "web1", 0);
    output_lines(&o, &h, LINE_SETUP, &setup, 1);
    output_lines(&o, &h, LINE_OUT, &out, 1);
    output_lines(&o, &h, LINE_ERR, &err, 1);
    dout = capture_read(o.fd[0], po, &lout);
    derr = capture_read(o.fd[1], pe, &lerr);
    assert_string_equal(dout, "web1 | task out\n");
    assert_string_equal(derr, "web1 | setup: sourcing .env: \\e[1mwarning\n"
                              "web1 | task err\n");
    free(dout);
    free(derr);
    output_host_release(&h);
    output_release(&o);
}

/* Grouped: the set-up lines join the host's stderr block, in order. */
static void test_setup_grouped(void **state)
{
    char po[] = "/tmp/oneoff-test-go.XXXXXX", pe[] = "/tmp/oneoff-test-ge.XXXXXX";
    struct output o;
    struct output_host h;
    struct line setup = {"from .profile", 13, true};
    struct line out = {"o1", 2, true};
    struct line err = {"e1", 2, false};
    struct stat st;
    char *dout, *derr;
    size_t lout, lerr;

    (void)state;
    output_init(&o, OUT_GROUPED, 2, false);
    o.color[0] = o.color[1] = false;
    o.fd[0] = capture_open(po);
    o.fd[1] = capture_open(pe);
    output_host_init(&o, &h, "h1", 0);
    output_lines(&o, &h, LINE_SETUP, &setup, 1);
    output_lines(&o, &h, LINE_OUT, &out, 1);
    output_lines(&o, &h, LINE_ERR, &err, 1);
    assert_int_equal(fstat(o.fd[1], &st), 0);
    assert_int_equal(st.st_size, 0); /* nothing before the host is done */
    output_host_done(&o, &h);
    dout = capture_read(o.fd[0], po, &lout);
    derr = capture_read(o.fd[1], pe, &lerr);
    assert_string_equal(dout, "h1 | o1\n");
    assert_string_equal(derr, "h1 | setup: from .profile\nh1 | e1\n");
    free(dout);
    free(derr);
    output_host_release(&h);
    output_release(&o);
}

/* --report -: stdout carries the record, so all human output goes to
 * stderr. */
static void test_human_to_stderr(void **state)
{
    struct output o;

    (void)state;
    output_init(&o, OUT_STREAM, 1, true);
    assert_int_equal(o.fd[0], STDERR_FILENO);
    assert_int_equal(o.fd[1], STDERR_FILENO);
    output_release(&o);
    output_init(&o, OUT_STREAM, 1, false);
    assert_int_equal(o.fd[0], STDOUT_FILENO);
    output_release(&o);
}

/* A backslash cannot pass for an escape; bidi controls cannot reorder. */
static void test_backslash_and_bidi(void **state)
{
    struct output o;
    struct output_host h;
    struct buf b = BUF_INIT(1024);
    static const char v[] = "C:\\new \xe2\x80\xae" "evil\xe2\x81\xa6";
    struct line l = {v, sizeof(v) - 1, true};

    (void)state;
    output_init(&o, OUT_STREAM, 2, false);
    o.color[0] = o.color[1] = false;
    output_host_init(&o, &h, "h1", 0);
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &l, &b), 0);
    assert_string_equal(buf_str(&b),
                        "h1 | C:\\\\new \\u{202e}evil\\u{2066}\n");
    buf_release(&b);
    output_host_release(&h);
    output_release(&o);
}

/* A line that does not fit leaves the buffer as it was. */
static void test_format_line_full(void **state)
{
    struct output o;
    struct output_host h;
    struct buf b = BUF_INIT(16);
    struct line plain = {"0123456789", 10, true};
    struct line esc = {"\001\001\001", 3, true};

    (void)state;
    output_init(&o, OUT_STREAM, 2, false);
    o.color[0] = o.color[1] = false;
    output_host_init(&o, &h, "h1", 0);
    /* "h1 | \x01\x01\x01\n" is 18 bytes */
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &esc, &b), -1);
    assert_int_equal(b.len, 0);
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &plain, &b), 0);
    assert_string_equal(buf_str(&b), "h1 | 0123456789\n");
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &plain, &b), -1);
    assert_int_equal(output_format_line(&o, &h, LINE_OUT, &esc, &b), -1);
    assert_string_equal(buf_str(&b), "h1 | 0123456789\n");
    buf_release(&b);
    output_host_release(&h);
    output_release(&o);
}

/* A line of any length is shown whole, in prefixed pieces. */
static void test_long_line_in_pieces(void **state)
{
    char po[] = "/tmp/oneoff-test-lp.XXXXXX";
    size_t n = OUTPUT_PIECE_MAX * 2 + OUTPUT_PIECE_MAX / 2, len, total = 0;
    char *in = xmalloc(n), *data, *p;
    struct output o;
    struct output_host h;
    struct line l;
    int pieces = 0;

    (void)state;
    memset(in, 'a', n);
    l.p = in;
    l.n = n;
    l.eol = true;
    output_init(&o, OUT_STREAM, 2, false);
    o.color[0] = o.color[1] = false;
    o.fd[0] = capture_open(po);
    output_host_init(&o, &h, "h1", 0);
    output_lines(&o, &h, LINE_OUT, &l, 1);
    data = capture_read(o.fd[0], po, &len);
    for (p = data; p < data + len; pieces++) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        assert_non_null(nl);
        assert_memory_equal(p, "h1 | a", 6);
        total += (size_t)(nl - p) - 5;
        p = nl + 1;
    }
    assert_int_equal(pieces, 3);
    assert_int_equal(total, n);
    free(data);
    free(in);
    output_host_release(&h);
    output_release(&o);
}

/* A batch that escapes to more than the scratch buffer's bound (64 MiB) is
 * written in several writes, nothing dropped. */
static void test_batch_over_bound(void **state)
{
    char po[] = "/tmp/oneoff-test-bb.XXXXXX";
    const size_t nl = 17, each = 1u << 20; /* 17 x 4 MiB escaped */
    char *in = xmalloc(each);
    struct line lines[17];
    struct output o;
    struct output_host h;
    struct stat st;

    (void)state;
    memset(in, 1, each);
    for (size_t i = 0; i < nl; i++) {
        lines[i].p = in;
        lines[i].n = each;
        lines[i].eol = true;
    }
    output_init(&o, OUT_STREAM, 2, false);
    o.color[0] = o.color[1] = false;
    o.fd[0] = capture_open(po);
    output_host_init(&o, &h, "h1", 0);
    output_lines(&o, &h, LINE_OUT, lines, nl);
    assert_int_equal(fstat(o.fd[0], &st), 0);
    assert_int_equal((size_t)st.st_size, nl * (5 + 4 * each + 1));
    close(o.fd[0]);
    unlink(po);
    free(in);
    output_host_release(&h);
    output_release(&o);
}

/* A huge note is cut, and says so. */
static void test_note_cut_says_so(void **state)
{
    char pe[] = "/tmp/oneoff-test-nc.XXXXXX";
    size_t n = (2u << 20) + 10, len;
    char *msg = xmalloc(n + 1), *data;
    struct output o;

    (void)state;
    memset(msg, 'x', n);
    msg[n] = '\0';
    output_init(&o, OUT_STREAM, 2, false);
    o.fd[1] = capture_open(pe);
    output_note(&o, "%s", msg);
    data = capture_read(o.fd[1], pe, &len);
    assert_non_null(strstr(data, "\noneoff: (note cut here: 1048586 more "
                                 "bytes)\n"));
    free(data);
    free(msg);
    output_release(&o);
}

/* Summary cells: escaped (the exit column holds a signal name the host
 * sent), and a cell longer than 4 KiB is cut with "...". */
static void test_summary_cells(void **state)
{
    char po[] = "/tmp/oneoff-test-sc.XXXXXX";
    struct output o;
    struct summary_row row;
    char *long_error = xmalloc(10001), *data;
    size_t len, row_at, row_len;

    (void)state;
    memset(long_error, 'e', 10000);
    long_error[10000] = '\0';
    memset(&row, 0, sizeof(row));
    row.host = "h1";
    row.status = "failed";
    snprintf(row.exit, sizeof(row.exit), "SIGX\033[2J");
    row.release = "r\\1";
    row.revision = "\xe2\x80\xae" "cba";
    row.error = long_error;
    output_init(&o, OUT_STREAM, 2, false);
    o.fd[0] = capture_open(po);
    output_summary(&o, &row, 1);
    data = capture_read(o.fd[0], po, &len);
    assert_null(memchr(data, '\033', len));
    assert_null(strstr(data, "\xe2\x80\xae"));
    assert_non_null(strstr(data, "SIGX\\e[2J"));
    assert_non_null(strstr(data, "r\\\\1"));
    assert_non_null(strstr(data, "\\u{202e}cba"));
    assert_non_null(strstr(data, "eee...\n"));
    /* "\nHOST ...\nh1 ...\n" */
    row_at = 1 + strcspn(data + 1, "\n") + 1;
    row_len = strcspn(data + row_at, "\n");
    assert_memory_equal(data + row_at, "h1 ", 3);
    assert_true(row_len > 4096 && row_len < 4200);
    free(data);
    free(long_error);
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
        cmocka_unit_test(test_setup_stream),
        cmocka_unit_test(test_setup_grouped),
        cmocka_unit_test(test_human_to_stderr),
        cmocka_unit_test(test_backslash_and_bidi),
        cmocka_unit_test(test_format_line_full),
        cmocka_unit_test(test_long_line_in_pieces),
        cmocka_unit_test(test_batch_over_bound),
        cmocka_unit_test(test_note_cut_says_so),
        cmocka_unit_test(test_summary_cells),
    };

    return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}
