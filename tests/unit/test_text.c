/*
 * test_text.c - the escapes every message and every shown host byte goes
 * through: backslashes, Unicode bidirectional controls, bounded output, and
 * quoting values in messages.
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

#include "oneoff/text.h"

static void escaped(const char *in, const char *want)
{
    struct buf b = BUF_INIT(1u << 20);
    char msg[256];

    assert_int_equal(text_escape(&b, in, strlen(in)), 0);
    assert_string_equal(buf_str(&b), want);
    /* the same rules for messages */
    assert_string_equal(text_escape_msg(in, msg, sizeof(msg)), want);
    buf_release(&b);
}

/* A backslash is doubled, so "\e" on screen is always an ESC byte. */
static void test_backslash_doubled(void **state)
{
    (void)state;
    escaped("C:\\temp", "C:\\\\temp");
    escaped("\\e[31m", "\\\\e[31m");
    escaped("\033[31m", "\\e[31m");
    escaped("\\x07", "\\\\x07");
    escaped("\\\\", "\\\\\\\\");
    assert_int_equal(text_plain_len("ab\\cd", 5), 2);
    assert_int_equal(text_plain_len("ab\tcd", 5), 5);
}

/* Every bidirectional control, and only those. */
static void test_bidi_controls(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"\xd8\x9c", "\\u{061c}"},
        {"\xe2\x80\x8e", "\\u{200e}"},
        {"\xe2\x80\x8f", "\\u{200f}"},
        {"\xe2\x80\xaa", "\\u{202a}"},
        {"\xe2\x80\xab", "\\u{202b}"},
        {"\xe2\x80\xac", "\\u{202c}"},
        {"\xe2\x80\xad", "\\u{202d}"},
        {"\xe2\x80\xae", "\\u{202e}"},
        {"\xe2\x81\xa6", "\\u{2066}"},
        {"\xe2\x81\xa7", "\\u{2067}"},
        {"\xe2\x81\xa8", "\\u{2068}"},
        {"\xe2\x81\xa9", "\\u{2069}"},
        /* neighbours pass through */
        {"\xe2\x80\x8d", "\xe2\x80\x8d"},
        {"\xe2\x80\xaf", "\xe2\x80\xaf"},
        {"\xe2\x81\xa5", "\xe2\x81\xa5"},
        {"\xe2\x81\xaa", "\xe2\x81\xaa"},
        {"\xd8\x9b", "\xd8\x9b"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        escaped(cases[i].in, cases[i].out);
    /* the classic: a file name that reads backwards */
    escaped("invoice_\xe2\x80\xae"
            "fdp.exe",
            "invoice_\\u{202e}fdp.exe");
}

/* JSON keeps every valid character: it is not shown on a terminal. */
static void test_utf8_keeps_bidi(void **state)
{
    struct buf b = BUF_INIT(64);

    (void)state;
    assert_int_equal(text_utf8(&b, "a\xe2\x80\xae\\b", 6), 0);
    assert_string_equal(buf_str(&b), "a\xe2\x80\xae\\b");
    buf_release(&b);
}

/* At the bound: -1, and what was appended ends between two escapes. */
static void test_escape_bounded(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 6);
    assert_int_equal(text_escape(&b, "ab\001cd", 5), -1);
    assert_string_equal(buf_str(&b), "ab\\x01");
    buf_release(&b);
    buf_init(&b, 5);
    assert_int_equal(text_escape(&b, "ab\001cd", 5), -1);
    assert_string_equal(buf_str(&b), "ab");
    buf_release(&b);
}

/* A quoted value that does not fit is cut between escapes, with "...". */
static void test_escape_msg_cut(void **state)
{
    char out[8];

    (void)state;
    assert_string_equal(text_escape_msg("abcdefg", out, sizeof(out)),
                        "abcdefg");
    assert_string_equal(text_escape_msg("abcdefgh", out, sizeof(out)),
                        "abcd...");
    /* "abc\edef" needs 9 bytes: cut before the escape, not inside it */
    assert_string_equal(text_escape_msg("abc\033def", out, sizeof(out)),
                        "abc...");
    assert_string_equal(text_escape_msg("\001\001\001", out, sizeof(out)),
                        "\\x01...");
    assert_string_equal(text_escape_msg("", out, sizeof(out)), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backslash_doubled),
        cmocka_unit_test(test_bidi_controls),
        cmocka_unit_test(test_utf8_keeps_bidi),
        cmocka_unit_test(test_escape_bounded),
        cmocka_unit_test(test_escape_msg_cut),
    };

    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
