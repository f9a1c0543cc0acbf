/*
 * test_once.c - the `once` gate from preflight reports: refused after a
 * success or a run that never ended, forced, and never refused by bad
 * history lines; the report's history frames on the way in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/exit_codes.h"
#include "oneoff/once.h"

#define NONCE "0123456789abcdef0123456789abcdef"
#define SHA "abcd000000000000000000000000000000000000000000000000000000000001"

static const char start_line[] =
    "{\"v\":1,\"event\":\"start\",\"run\":\"20261201T090000Z-000001\","
    "\"kind\":\"run\",\"host\":\"h1\",\"stage\":\"prod\",\"task\":\"fix\","
    "\"sha256\":\"" SHA "\",\"command\":\"c\",\"args\":[],\"release\":\"7\","
    "\"revision\":\"abc\",\"operator\":\"ann\",\"email\":\"ann@x\","
    "\"reason\":\"INC-1\",\"overrides\":[],\"at\":\"2026-12-01T09:00:00."
    "000Z\"}";
static const char end_line[] =
    "{\"v\":1,\"event\":\"end\",\"run\":\"20261201T090000Z-000001\","
    "\"host\":\"h1\",\"at\":\"2026-12-01T09:00:01.000Z\",\"outcome\":"
    "\"succeeded\",\"exit\":0,\"signal\":null,\"duration_ms\":1000}";

/* A report of one host carrying lines (hist frames; tail: a last line
 * without its newline). */
static void report(struct preflight *pf, const char *const *lines, size_t n,
                   const char *tail)
{
    char err[ERR_MAX];
    char *text =
        xasprintf(NONCE " release 6 /a/b/7\n" NONCE " history 4 read\n");

    for (size_t i = 0; i < n; i++) {
        char *t = xasprintf("%s" NONCE " hist %zu %s\n", text, strlen(lines[i]),
                            lines[i]);
        free(text);
        text = t;
    }
    if (tail) {
        char *t = xasprintf("%s" NONCE " hist_tail %zu %s\n", text,
                            strlen(tail), tail);
        free(text);
        text = t;
    }
    {
        char *t = xasprintf("%s" NONCE " ready 0 \n", text);
        free(text);
        text = t;
    }
    memset(pf, 0, sizeof(*pf));
    assert_int_equal(preflight_parse(pf, NONCE, text, strlen(text), NULL, err),
                     1);
    free(text);
}

static void decide(struct preflight *pf, bool force, struct gate_result *g,
                   char **note, char **warnings)
{
    struct once_host h = {"h1", pf};
    struct once_input in = {&h, 1, "prod", "fix", SHA, force};

    memset(g, 0, sizeof(*g));
    once_decide(&in, g, note, warnings);
}

static void test_success_refuses_and_force_goes(void **state)
{
    const char *const lines[] = {start_line, end_line};
    struct preflight pf;
    struct gate_result g;
    char *note, *warnings;

    (void)state;
    report(&pf, lines, 2, NULL);
    decide(&pf, false, &g, &note, &warnings);
    assert_int_equal(g.verdict, GATE_ONCE);
    assert_int_equal(g.exit_code, EXIT_REFUSED);
    assert_non_null(strstr(g.reason, "already succeeded on stage 'prod'"));
    assert_non_null(strstr(g.detail, "run 20261201T090000Z-000001 by ann "
                                     "<ann@x> at 2026-12-01T09:00:00.000Z, "
                                     "release 7 (revision abc), reason: "
                                     "INC-1; on h1 (succeeded)"));
    assert_null(note);
    assert_null(warnings);
    gate_result_release(&g);
    decide(&pf, true, &g, &note, &warnings);
    assert_int_equal(g.verdict, GATE_GO);
    assert_non_null(note);
    assert_non_null(strstr(note, "--force"));
    free(note);
    gate_result_release(&g);
    preflight_release(&pf);
}

static void test_never_ended_is_unknown(void **state)
{
    const char *const lines[] = {start_line};
    struct preflight pf;
    struct gate_result g;
    char *note, *warnings;

    (void)state;
    report(&pf, lines, 1, NULL);
    decide(&pf, false, &g, &note, &warnings);
    assert_int_equal(g.verdict, GATE_ONCE);
    assert_non_null(strstr(g.reason, "started and never ended"));
    assert_non_null(strstr(g.detail, "h1 (started, never ended)"));
    gate_result_release(&g);
    preflight_release(&pf);
}

static void test_bad_lines_warn_and_never_refuse(void **state)
{
    const char *const lines[] = {"garbage \x1b[2J", "{\"v\":1,\"event\":"};
    struct preflight pf;
    struct gate_result g;
    char *note, *warnings;

    (void)state;
    report(&pf, lines, 2, "{\"v\":1,\"event\":\"start\",\"sha256\":\"" SHA);
    assert_int_equal(pf.history, PF_HISTORY_READ);
    decide(&pf, false, &g, &note, &warnings);
    assert_int_equal(g.verdict, GATE_GO);
    assert_non_null(warnings);
    assert_non_null(strstr(warnings, "history of host 'h1', line 1: not JSON"));
    assert_non_null(strstr(warnings, "line 3: truncated last line"));
    assert_null(strchr(warnings, '\x1b')); /* escaped */
    free(warnings);
    gate_result_release(&g);
    preflight_release(&pf);
}

static void test_history_frames(void **state)
{
    struct preflight pf;
    char err[ERR_MAX];
    static const char no_history[] =
        NONCE " history 4 none\n" NONCE " ready 0 \n";
    static const char stray[] =
        NONCE " release 2 /a\n" NONCE " hist 1 x\n" NONCE " ready 0 \n";

    (void)state;
    /* the history mode's report has no release */
    memset(&pf, 0, sizeof(pf));
    pf.no_release = true;
    assert_int_equal(
        preflight_parse(&pf, NONCE, no_history, strlen(no_history), NULL, err),
        1);
    assert_int_equal(pf.history, PF_HISTORY_ABSENT);
    preflight_release(&pf);
    /* any other report without a release is incomplete, history or not */
    memset(&pf, 0, sizeof(pf));
    assert_int_equal(
        preflight_parse(&pf, NONCE, no_history, strlen(no_history), NULL, err),
        -1);
    assert_non_null(strstr(err, "no release"));
    preflight_release(&pf);
    /* lines without "history read" first are malformed */
    memset(&pf, 0, sizeof(pf));
    assert_int_equal(
        preflight_parse(&pf, NONCE, stray, strlen(stray), NULL, err), -1);
    preflight_release(&pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_refuses_and_force_goes),
        cmocka_unit_test(test_never_ended_is_unknown),
        cmocka_unit_test(test_bad_lines_warn_and_never_refuse),
        cmocka_unit_test(test_history_frames),
    };

    return cmocka_run_group_tests_name("once", tests, NULL, NULL);
}
