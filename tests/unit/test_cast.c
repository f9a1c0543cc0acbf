/*
 * test_cast.c - asciinema v2 transcripts: JSON text from any bytes (UTF-8
 * kept, a character cut between two chunks written whole, invalid bytes as
 * U+FFFD, controls escaped), and a whole file read back line by line.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/cast.h"

/* chunks[] fed one after another, then flushed */
static void text_of(const char *const *chunks, size_t n, const char *want)
{
    struct buf b = BUF_INIT(1u << 16);
    char held[4];
    size_t nheld = 0;

    for (size_t i = 0; i < n; i++)
        assert_int_equal(cast_json_text(&b, held, &nheld, chunks[i],
                                        strlen(chunks[i]), false),
                         0);
    assert_int_equal(cast_json_text(&b, held, &nheld, "", 0, true), 0);
    assert_int_equal(nheld, 0);
    assert_string_equal(buf_str(&b), want);
    buf_release(&b);
}

static void test_ascii_and_controls(void **state)
{
    const char *in[] = {"a\"b\\c\r\n\t\x1b[0m\x7f"};

    (void)state;
    text_of(in, 1, "a\\\"b\\\\c\\r\\n\\t\\u001b[0m\\u007f");
}

static void test_utf8_kept_and_joined(void **state)
{
    /* "é€😀" with each character cut between chunks */
    const char *in[] = {"\xc3", "\xa9\xe2\x82", "\xac\xf0\x9f", "\x98",
                        "\x80!"};

    (void)state;
    text_of(in, 5, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80!");
}

static void test_invalid_bytes_replaced(void **state)
{
    /* a lone continuation, an overlong lead, a surrogate, a cut character
     * at the very end */
    const char *in[] = {"\x80x\xc0\xafy\xed\xa0\x80z\xe2\x82"};

    (void)state;
    text_of(in, 1,
            "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd"
            "\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_file_reads_back(void **state)
{
    char path[] = "/tmp/oneoff-test-cast-XXXXXX", err[ERR_MAX], line[4096];
    struct cast c;
    json_error_t je;
    json_t *j;
    FILE *f;
    int fd = mkstemp(path), n = 0;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cast_open(&c, path, 100, 30, "xterm-256color", err), 0);
    cast_output(&c, "hello \xe2\x82", 8);
    cast_output(&c, "\xac\r\n", 3);
    cast_resize(&c, 120, 40);
    cast_output(&c, "\xff", 1);
    assert_int_equal(cast_close(&c, err), 0);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        j = json_loads(line, 0, &je);
        assert_non_null(j);
        if (n == 0) {
            assert_int_equal(json_integer_value(json_object_get(j, "version")),
                             2);
            assert_int_equal(json_integer_value(json_object_get(j, "width")),
                             100);
            assert_string_equal(json_string_value(json_object_get(
                                    json_object_get(j, "env"), "TERM")),
                                "xterm-256color");
        } else {
            assert_int_equal(json_array_size(j), 3);
            assert_true(json_is_real(json_array_get(j, 0)));
        }
        if (n == 1)
            assert_string_equal(json_string_value(json_array_get(j, 2)),
                                "hello ");
        if (n == 2)
            assert_string_equal(json_string_value(json_array_get(j, 2)),
                                "\xe2\x82\xac\r\n");
        if (n == 3)
            assert_string_equal(json_string_value(json_array_get(j, 2)),
                                "120x40");
        if (n == 4)
            assert_string_equal(json_string_value(json_array_get(j, 2)),
                                "\xef\xbf\xbd");
        json_decref(j);
        n++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_and_controls),
        cmocka_unit_test(test_utf8_kept_and_joined),
        cmocka_unit_test(test_invalid_bytes_replaced),
        cmocka_unit_test(test_file_reads_back),
    };

    return cmocka_run_group_tests_name("cast", tests, NULL, NULL);
}
