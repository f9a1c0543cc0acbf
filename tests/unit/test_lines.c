/*
 * test_lines.c - bytes to whole lines: lines cut across chunks, fragments
 * of overlong lines, the last line without a newline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/lines.h"

/* What was emitted, as "text|" for a line and "text~" for a fragment. */
struct seen {
    struct buf b;
    size_t calls;
    enum line_stream s;
};

static void emit(void *ctx, enum line_stream s, const struct line *v, size_t n)
{
    struct seen *w = ctx;

    w->calls++;
    w->s = s;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(buf_add(&w->b, v[i].p, v[i].n), 0);
        assert_int_equal(buf_addc(&w->b, v[i].eol ? '|' : '~'), 0);
    }
}

static void test_lines_across_chunks(void **state)
{
    struct seen w = {BUF_INIT(1u << 20), 0, LINE_OUT};
    struct lines l;

    (void)state;
    lines_init(&l, LINE_ERR, emit, &w);
    lines_feed(&l, "one\ntw", 6);
    assert_string_equal(buf_str(&w.b), "one|");
    lines_feed(&l, "o\nthr", 5);
    lines_feed(&l, "ee\n\nfour", 8);
    assert_string_equal(buf_str(&w.b), "one|two|three||");
    lines_flush(&l);
    assert_string_equal(buf_str(&w.b), "one|two|three||four~");
    assert_int_equal(w.s, LINE_ERR);
    lines_flush(&l); /* nothing left: nothing emitted */
    assert_string_equal(buf_str(&w.b), "one|two|three||four~");
    lines_release(&l);
    buf_release(&w.b);
}

static void test_overlong_line_is_split_not_lost(void **state)
{
    struct seen w = {BUF_INIT(1u << 20), 0, LINE_OUT};
    struct lines l;
    size_t n = LINE_MAX_BYTES * 2 + 10;
    char *big = malloc(n + 1);

    (void)state;
    memset(big, 'x', n);
    big[n] = '\n';
    lines_init(&l, LINE_OUT, emit, &w);
    lines_feed(&l, big, 100); /* a partial start, then the rest */
    lines_feed(&l, big + 100, n + 1 - 100);
    assert_int_equal(w.b.len, n + 3);
    assert_int_equal(w.b.data[LINE_MAX_BYTES], '~');
    assert_int_equal(w.b.data[2 * LINE_MAX_BYTES + 1], '~');
    assert_int_equal(w.b.data[w.b.len - 1], '|');
    lines_release(&l);
    buf_release(&w.b);
    free(big);
}

/* A line that arrives in small chunks grows its buffer step by step: its
 * bytes come out whole, cut at LINE_MAX_BYTES, and a flush starts over. */
static void test_line_in_small_chunks(void **state)
{
    struct seen w = {BUF_INIT(1u << 20), 0, LINE_OUT};
    struct lines l;
    size_t n = LINE_MAX_BYTES + 5000, off = 0;
    char *big = malloc(n + 1);

    (void)state;
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\n';
    lines_init(&l, LINE_OUT, emit, &w);
    for (size_t k = 1; off < n + 1; k = k * 3 % 1000 + 1) {
        size_t m = n + 1 - off < k ? n + 1 - off : k;
        lines_feed(&l, big + off, m);
        off += m;
    }
    assert_int_equal(w.b.len, n + 2);
    assert_memory_equal(w.b.data, big, LINE_MAX_BYTES);
    assert_int_equal(w.b.data[LINE_MAX_BYTES], '~');
    assert_memory_equal(w.b.data + LINE_MAX_BYTES + 1, big + LINE_MAX_BYTES,
                        n - LINE_MAX_BYTES);
    assert_int_equal(w.b.data[w.b.len - 1], '|');
    lines_feed(&l, "tail", 4);
    lines_flush(&l);
    assert_null(l.partial); /* freed with the flush */
    lines_feed(&l, "again\n", 6);
    assert_string_equal(w.b.data + n + 2, "tail~again|");
    lines_release(&l);
    buf_release(&w.b);
    free(big);
}

static void test_many_lines_in_one_chunk(void **state)
{
    struct seen w = {BUF_INIT(1u << 20), 0, LINE_OUT};
    struct lines l;
    struct buf in = BUF_INIT(1u << 20);

    (void)state;
    for (int i = 0; i < 5000; i++)
        assert_int_equal(buf_addf(&in, "%d\n", i), 0);
    lines_init(&l, LINE_OUT, emit, &w);
    lines_feed(&l, in.data, in.len);
    assert_int_equal(w.b.len, in.len); /* every '\n' became '|' */
    assert_true(w.calls >= 3);         /* batches, not one per line */
    assert_true(w.calls < 10);
    assert_memory_equal(w.b.data, "0|1|2|", 6);
    lines_release(&l);
    buf_release(&w.b);
    buf_release(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_across_chunks),
        cmocka_unit_test(test_overlong_line_is_split_not_lost),
        cmocka_unit_test(test_line_in_small_chunks),
        cmocka_unit_test(test_many_lines_in_one_chunk),
    };

    return cmocka_run_group_tests_name("lines", tests, NULL, NULL);
}
