/*
 * test_history.c - history.jsonl lines: composing, parsing (hostile lines
 * included), merging runs across hosts and the questions gates ask.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/history.h"

#define SHA_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define SHA_B "bbbb000000000000000000000000000000000000000000000000000000000002"

/* A start line as the client composes it. */
static char *start(const char *run, const char *host, const char *sha,
                   const char *rev)
{
    struct strlist args = {0}, over = {0};
    struct history_start s;
    char *line;

    strlist_push(&args, "--order");
    strlist_push(&args, "1234");
    memset(&s, 0, sizeof(s));
    s.run = run;
    s.kind = "run";
    s.host = host;
    s.stage = "staging";
    s.task = "fix-orders";
    s.sha256 = sha;
    s.command = "bin/fix \"$@\"";
    s.args = &args;
    s.release = "20261201";
    s.revision = rev;
    s.operator_name = "ann";
    s.reason = "ticket 42";
    s.overrides = &over;
    s.at_ms = 1764579600000;
    line = history_start_line(&s);
    strlist_clear(&args);
    return line;
}

/* An end line as the host completes it. */
static char *end(const char *run, const char *host, const char *outcome,
                 int code)
{
    char *prefix = history_end_prefix(run, host);
    char *line = xasprintf("%s,\"at\":\"2026-12-01T09:00:05.000Z\","
                           "\"outcome\":\"%s\",\"exit\":%d,\"signal\":null,"
                           "\"duration_ms\":5000}",
                           prefix, outcome, code);
    free(prefix);
    return line;
}

/* Appends line and a newline to text. */
static void add(char **text, char *line)
{
    char *t = xasprintf("%s%s\n", *text ? *text : "", line);

    free(*text);
    free(line);
    *text = t;
}

static void test_start_line_round_trip(void **state)
{
    char *line = start("20261201T090000Z-abcdef", "web1", SHA_A, "deadbeef");
    struct history_line l;
    char err[ERR_MAX];

    (void)state;
    assert_null(strchr(line, '\n'));
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), 0);
    assert_int_equal(l.event, HIST_EVENT_START);
    assert_string_equal(l.run, "20261201T090000Z-abcdef");
    assert_string_equal(l.host, "web1");
    assert_string_equal(l.sha256, SHA_A);
    assert_string_equal(l.command, "bin/fix \"$@\"");
    assert_int_equal(l.args.n, 2);
    assert_string_equal(l.args.v[1], "1234");
    assert_string_equal(l.reason, "ticket 42");
    assert_null(l.email);
    assert_string_equal(l.at, "2025-12-01T09:00:00.000Z");
    history_line_release(&l);
    free(line);
}

static void test_end_line_round_trip(void **state)
{
    char *line = end("R1", "web\"1", "failed", 3);
    struct history_line l;
    char err[ERR_MAX];

    (void)state;
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), 0);
    assert_int_equal(l.event, HIST_EVENT_END);
    assert_string_equal(l.host, "web\"1");
    assert_int_equal(l.outcome, HIST_FAILED);
    assert_int_equal(l.exit_code, 3);
    assert_int_equal(l.duration_ms, 5000);
    history_line_release(&l);
    free(line);
}

/* The start line in two parts: the head (with the command line) and the
 * tail (after "go") make the whole line; neither holds a single quote
 * (it travels in a shell's single-quoted word), each fits its budget, and
 * the reader gets the values back. */
static void test_start_line_in_two_parts(void **state)
{
    struct strlist args = {0}, over = {0};
    struct history_start s;
    char *big = xmalloc(9000), *head, *tail, *line, *joined;
    struct history_line l;
    char err[ERR_MAX];

    (void)state;
    memset(big, '\'', 8999);
    big[8999] = '\0';
    strlist_push(&args, "it's");
    memset(&s, 0, sizeof(s));
    s.run = "R";
    s.host = "h";
    s.stage = "st";
    s.sha256 = SHA_A;
    s.command = "echo 'quoted'";
    s.args = &args;
    s.operator_name = "o'neil";
    s.reason = "can't wait";
    s.overrides = &over;
    s.release = "rel'1";
    s.revision = "abc";
    s.at_ms = 1764579600000;
    head = history_start_head(&s);
    tail = history_start_tail(s.release, s.revision, s.at_ms);
    line = history_start_line(&s);
    joined = xasprintf("%s%s", head, tail);
    assert_string_equal(line, joined);
    assert_null(strchr(line, '\''));
    assert_int_equal(tail[0], ',');
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), 0);
    assert_string_equal(l.command, "echo 'quoted'");
    assert_string_equal(l.args.v[0], "it's");
    assert_string_equal(l.operator_name, "o'neil");
    assert_string_equal(l.reason, "can't wait");
    assert_string_equal(l.release, "rel'1");
    assert_string_equal(l.revision, "abc");
    assert_string_equal(l.at, "2025-12-01T09:00:00.000Z");
    history_line_release(&l);
    free(head);
    free(tail);
    free(line);
    free(joined);

    /* quotes everywhere: cut to fit, still no quote */
    s.command = big;
    s.reason = big;
    s.release = big;
    s.revision = big;
    head = history_start_head(&s);
    tail = history_start_tail(s.release, s.revision, s.at_ms);
    assert_true(strlen(head) + 1 < HISTORY_LINE_MAX - HISTORY_TAIL_MAX);
    assert_true(strlen(tail) + 1 < HISTORY_TAIL_MAX);
    assert_null(strchr(head, '\''));
    assert_null(strchr(tail, '\''));
    line = xasprintf("%s%s", head, tail);
    assert_true(strlen(line) + 1 < HISTORY_LINE_MAX);
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), 0);
    assert_non_null(strstr(l.command, "\xe2\x80\xa6"));
    history_line_release(&l);
    free(head);
    free(tail);
    free(line);
    free(big);
    strlist_clear(&args);
}

static void test_long_values_are_cut_to_fit(void **state)
{
    struct strlist args = {0};
    struct history_start s;
    char *big = xmalloc(20000), *line;
    struct history_line l;
    char err[ERR_MAX];

    (void)state;
    memset(big, 'x', 19999);
    big[19999] = '\0';
    memcpy(big + 100, "\xc3\xa9\xc3\xa9\xc3\xa9", 6); /* UTF-8 to cut */
    strlist_push(&args, big);
    strlist_push(&args, "\xff\xfe not UTF-8");
    memset(&s, 0, sizeof(s));
    s.run = "R";
    s.host = "h";
    s.stage = "st";
    s.sha256 = SHA_A;
    s.command = big;
    s.args = &args;
    s.reason = big;
    line = history_start_line(&s);
    assert_true(strlen(line) + 1 < HISTORY_LINE_MAX);
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), 0);
    assert_non_null(strstr(l.command, "\xe2\x80\xa6"));
    assert_string_equal(l.args.v[1], "\xef\xbf\xbd\xef\xbf\xbd not UTF-8");
    history_line_release(&l);
    free(line);
    free(big);
    strlist_clear(&args);
}

static void test_hostile_lines_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "garbage\x01\x02",
        "[1,2]",
        "\"start\"",
        "{\"v\":1}",
        "{\"v\":2,\"event\":\"start\",\"run\":\"R\",\"host\":\"h\",\"at\":"
        "\"x\"}",
        "{\"v\":1,\"event\":\"begin\",\"run\":\"R\",\"host\":\"h\",\"at\":"
        "\"x\"}",
        "{\"v\":1,\"event\":\"end\",\"run\":\"R\",\"host\":\"h\",\"at\":\"x\","
        "\"outcome\":\"great\"}",
        "{\"v\":1,\"event\":\"end\",\"run\":\"R\",\"host\":\"h\",\"at\":\"x\","
        "\"outcome\":\"unknown\"}",
        "{\"v\":1,\"event\":\"end\",\"run\":\"R\",\"host\":\"h\",\"at\":\"x\","
        "\"outcome\":\"failed\",\"exit\":\"3\"}",
        "{\"v\":1,\"event\":\"start\",\"run\":\"R\",\"host\":\"h\",\"at\":"
        "\"x\","
        "\"stage\":\"s\"}",
        "{\"v\":1,\"event\":\"start\",\"run\":\"R\",\"host\":7,\"at\":\"x\"}",
        "{\"v\":1,\"event\":\"start\",\"run\":\"\",\"host\":\"h\",\"at\":\"x\","
        "\"stage\":\"s\",\"sha256\":\"x\"}",
        "{\"v\":1,\"v\":1,\"event\":\"end\"}",
        "{\"v\":1,\"event\":\"start\",\"run\":\"R\",\"host\":\"h\",\"at\":"
        "\"x\","
        "\"stage\":\"s\",\"sha256\":\"x\",\"args\":[1]}",
    };
    struct history_line l;
    char err[ERR_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(history_parse_line(bad[i], strlen(bad[i]), &l, err),
                         -1);
        assert_true(err[0] != '\0');
        history_line_release(&l);
    }
    /* a NUL inside the line is not JSON either */
    assert_int_equal(history_parse_line("{\"v\":1\0}", 8, &l, err), -1);
    history_line_release(&l);
}

static void test_merge_across_hosts_and_problems(void **state)
{
    char *web1 = NULL, *web2 = NULL;
    struct history h;
    const struct history_run *r;

    (void)state;
    add(&web1, start("20261201T090000Z-000001", "web1", SHA_A, "rev1"));
    add(&web1, end("20261201T090000Z-000001", "web1", "succeeded", 0));
    add(&web1, start("20261201T100000Z-000002", "web1", SHA_B, "rev1"));
    add(&web2, start("20261201T090000Z-000001", "web2", SHA_A, "rev1"));
    add(&web2, end("20261201T090000Z-000001", "web2", "succeeded", 0));
    add(&web2, xstrdup("not json at all"));
    add(&web2, start("20261201T100000Z-000002", "web2", SHA_B, "rev1"));
    add(&web2, end("20261201T100000Z-000002", "web2", "failed", 1));
    {
        /* a truncated last line: no newline */
        char *t = xasprintf("%s{\"v\":1,\"event\":\"end\",\"ru", web2);
        free(web2);
        web2 = t;
    }
    history_init(&h);
    history_add_text(&h, "web1", web1, strlen(web1));
    history_add_text(&h, "web2", web2, strlen(web2));
    history_sort(&h);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.runs[0].run, "20261201T100000Z-000002");
    assert_int_equal(h.runs[0].nhosts, 2);
    assert_int_equal(history_run_outcome(&h.runs[0]), HIST_FAILED);
    assert_int_equal(history_run_outcome(&h.runs[1]), HIST_SUCCEEDED);
    assert_int_equal(h.bad_lines, 2);
    assert_int_equal(h.nproblems, 2);
    assert_string_equal(h.problems[0].host, "web2");
    assert_int_equal(h.problems[0].line, 3);
    assert_non_null(strstr(h.problems[1].what, "truncated"));
    r = history_find(&h, "20261201T090000Z-000001");
    assert_non_null(r);
    assert_string_equal(r->reason, "ticket 42");
    assert_null(history_find(&h, "nope"));
    history_release(&h);
    free(web1);
    free(web2);
}

static void test_lookup_verdicts(void **state)
{
    char *t = NULL;
    struct history h;
    struct history_query q = {SHA_A, "staging", NULL};
    const struct history_run *r;

    (void)state;
    history_init(&h);
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_NEVER);
    assert_null(r);
    /* started, never ended on one host */
    add(&t, start("20261201T090000Z-000001", "web1", SHA_A, "rev1"));
    add(&t, start("20261201T090000Z-000001", "web2", SHA_A, "rev1"));
    add(&t, end("20261201T090000Z-000001", "web2", "succeeded", 0));
    history_add_text(&h, "x", t, strlen(t));
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_UNKNOWN);
    assert_string_equal(r->run, "20261201T090000Z-000001");
    /* a failed run later */
    free(t);
    t = NULL;
    add(&t, start("20261201T100000Z-000002", "web1", SHA_A, "rev1"));
    add(&t, end("20261201T100000Z-000002", "web1", "signalled", 0));
    history_add_text(&h, "x", t, strlen(t));
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_UNKNOWN);
    /* another stage does not count */
    q.stage = "production";
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_NEVER);
    q.stage = "staging";
    /* a success wins */
    free(t);
    t = NULL;
    add(&t, start("20261201T110000Z-000003", "web1", SHA_A, "rev1"));
    add(&t, end("20261201T110000Z-000003", "web1", "succeeded", 0));
    history_add_text(&h, "x", t, strlen(t));
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_SUCCEEDED);
    assert_string_equal(r->run, "20261201T110000Z-000003");
    q.revision = "rev2";
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_UNKNOWN);
    q.sha256 = SHA_B;
    assert_int_equal(history_lookup(&h, &q, NULL), HISTORY_NEVER);
    history_release(&h);
    free(t);
}

static void test_failed_and_other_revision(void **state)
{
    char *t = NULL;
    struct history h;
    struct history_query q = {SHA_A, NULL, "rev2"};
    const struct history_run *r;

    (void)state;
    add(&t, start("20261201T090000Z-000001", "web1", SHA_A, "rev1"));
    add(&t, end("20261201T090000Z-000001", "web1", "succeeded", 0));
    add(&t, start("20261201T100000Z-000002", "web1", SHA_A, "rev2"));
    add(&t, end("20261201T100000Z-000002", "web1", "failed", 2));
    history_init(&h);
    history_add_text(&h, "web1", t, strlen(t));
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_FAILED);
    assert_string_equal(r->run, "20261201T100000Z-000002");
    free(t);
    history_release(&h);
    t = NULL;
    add(&t, start("20261201T090000Z-000001", "web1", SHA_A, "rev1"));
    add(&t, end("20261201T090000Z-000001", "web1", "succeeded", 0));
    history_init(&h);
    history_add_text(&h, "web1", t, strlen(t));
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_OTHER_REVISION);
    assert_string_equal(history_verdict_name(HISTORY_OTHER_REVISION),
                        "succeeded on another revision");
    free(t);
    history_release(&h);
}

static void test_mask_args(void **state)
{
    struct strlist in = {0}, keys = {0}, out = {0};

    (void)state;
    strlist_push(&in, "TOKEN=s3cret");
    strlist_push(&in, "--password=hunter2");
    strlist_push(&in, "USER=ann");
    strlist_push(&in, "TOKEN");
    strlist_push(&in, "TOKENX=1");
    strlist_push(&keys, "TOKEN");
    strlist_push(&keys, "password");
    history_mask_args(&in, &keys, &out);
    assert_int_equal(out.n, 5);
    assert_string_equal(out.v[0], "TOKEN=***");
    assert_string_equal(out.v[1], "--password=***");
    assert_string_equal(out.v[2], "USER=ann");
    assert_string_equal(out.v[3], "TOKEN");
    assert_string_equal(out.v[4], "TOKENX=1");
    history_mask_args(&in, NULL, &out);
    assert_string_equal(out.v[0], "TOKEN=s3cret");
    strlist_clear(&in);
    strlist_clear(&keys);
    strlist_clear(&out);
}

static void test_run_json(void **state)
{
    char *t = NULL, *js;
    struct history h;

    (void)state;
    add(&t, start("20261201T090000Z-000001", "web1", SHA_A, "rev1"));
    history_init(&h);
    history_add_text(&h, "web1", t, strlen(t));
    js = history_run_json(&h.runs[0]);
    assert_non_null(strstr(js, "\"outcome\":\"unknown\""));
    assert_non_null(strstr(js, "\"ended_at\":null"));
    free(js);
    free(t);
    history_release(&h);
}

/* A gate-skipped line as the client composes it for host. */
static char *skipped(const char *run, const char *host, const char *reason)
{
    struct history_gate_skip g;

    memset(&g, 0, sizeof(g));
    g.run = run;
    g.stage = "staging";
    g.to_stage = "production";
    g.task = "fix-orders";
    g.sha256 = SHA_A;
    g.operator_name = "ann";
    g.reason = reason;
    g.host = host;
    g.at_ms = 1764579600000;
    return history_gate_skip_line(&g);
}

static void test_gate_skipped_line_round_trip(void **state)
{
    char *line = skipped("20261201T090000Z-abcdef", "web\"1", "hotfix\n\"x\"");
    struct history_line l;
    char err[ERR_MAX];

    (void)state;
    assert_null(strchr(line, '\n'));
    assert_non_null(strstr(line, "\"event\":\"gate-skipped\""));
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), 0);
    assert_int_equal(l.event, HIST_EVENT_GATE_SKIPPED);
    assert_string_equal(l.run, "20261201T090000Z-abcdef");
    assert_string_equal(l.host, "web\"1");
    assert_string_equal(l.stage, "staging");
    assert_string_equal(l.to_stage, "production");
    assert_string_equal(l.task, "fix-orders");
    assert_string_equal(l.sha256, SHA_A);
    assert_string_equal(l.operator_name, "ann");
    assert_null(l.email);
    assert_string_equal(l.reason, "hotfix\n\"x\"");
    assert_string_equal(l.at, "2025-12-01T09:00:00.000Z");
    history_line_release(&l);
    free(line);
    /* to_stage is required */
    line = xstrdup("{\"v\":1,\"event\":\"gate-skipped\",\"run\":\"R\","
                   "\"host\":\"h\",\"at\":\"x\",\"stage\":\"s\","
                   "\"sha256\":\"a\"}");
    assert_int_equal(history_parse_line(line, strlen(line), &l, err), -1);
    assert_non_null(strstr(err, "to_stage"));
    history_line_release(&l);
    free(line);
}

/* Gate-skipped lines merge into a mark that is shown but never counts as
 * a run: not a success, not "started, never ended", not a problem. */
static void test_gate_skipped_is_a_mark(void **state)
{
    char *t = NULL;
    struct history h;
    struct history_query q = {SHA_A, "staging", NULL};
    const struct history_run *r;
    char *js;

    (void)state;
    history_init(&h);
    add(&t, skipped("20261201T120000Z-00000a", "web1", "urgent"));
    add(&t, start("20261201T110000Z-000003", "web1", SHA_A, "rev1"));
    add(&t, end("20261201T110000Z-000003", "web1", "failed", 1));
    history_add_text(&h, "web1", t, strlen(t));
    free(t);
    t = NULL;
    add(&t, skipped("20261201T120000Z-00000a", "web2", "urgent"));
    history_add_text(&h, "web2", t, strlen(t));
    assert_int_equal(h.nproblems, 0);
    assert_int_equal(h.bad_lines, 0);
    history_sort(&h);
    assert_int_equal(h.n, 2);
    r = history_find(&h, "20261201T120000Z-00000a");
    assert_non_null(r);
    assert_false(r->has_start);
    assert_string_equal(r->skipped_for, "production");
    assert_int_equal(r->skipped_on.n, 2);
    assert_string_equal(r->skipped_on.v[1], "web2");
    assert_string_equal(r->reason, "urgent");
    assert_string_equal(r->stage, "staging");
    assert_int_equal(r->nhosts, 0);
    /* the lookup sees only the failed run */
    assert_int_equal(history_lookup(&h, &q, &r), HISTORY_FAILED);
    assert_string_equal(r->run, "20261201T110000Z-000003");
    assert_null(history_find(&h, "20261201T110000Z-000003")->skipped_for);
    js = history_run_json(history_find(&h, "20261201T120000Z-00000a"));
    assert_non_null(strstr(js, "\"gate_skipped_for\":\"production\""));
    assert_non_null(strstr(js, "\"gate_skipped_on\":[\"web1\",\"web2\"]"));
    free(js);
    history_release(&h);
    /* a host in both stages: the start line wins over the mark's fields */
    history_init(&h);
    add(&t, skipped("20261201T090000Z-000001", "web1", "urgent"));
    add(&t, start("20261201T090000Z-000001", "web1", SHA_A, "rev1"));
    add(&t, end("20261201T090000Z-000001", "web1", "succeeded", 0));
    history_add_text(&h, "web1", t, strlen(t));
    r = history_find(&h, "20261201T090000Z-000001");
    assert_true(r->has_start);
    assert_string_equal(r->skipped_for, "production");
    assert_string_equal(r->reason, "ticket 42");
    assert_int_equal(history_lookup(&h, &q, NULL), HISTORY_SUCCEEDED);
    history_release(&h);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_line_round_trip),
        cmocka_unit_test(test_end_line_round_trip),
        cmocka_unit_test(test_long_values_are_cut_to_fit),
        cmocka_unit_test(test_start_line_in_two_parts),
        cmocka_unit_test(test_hostile_lines_are_refused),
        cmocka_unit_test(test_merge_across_hosts_and_problems),
        cmocka_unit_test(test_lookup_verdicts),
        cmocka_unit_test(test_failed_and_other_revision),
        cmocka_unit_test(test_mask_args),
        cmocka_unit_test(test_run_json),
        cmocka_unit_test(test_gate_skipped_line_round_trip),
        cmocka_unit_test(test_gate_skipped_is_a_mark),
    };

    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
