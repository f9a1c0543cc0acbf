/*
 * test_cli.c - unit tests for the command line (cli.c): an option of
 * another command is refused naming the command, a mistyped option gets
 * the closest one the command accepts, "--" splits the arguments, and
 * --json refuses to share stdout with --report -. Also the pieces the run
 * record is built from: the output tail (tail.c) and the JUnit document
 * (junit.c).
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

#include "oneoff/cli.h"
#include "oneoff/junit.h"
#include "oneoff/tail.h"

#define RUN_BITS                                                               \
    (OPT_STAGE | OPT_SELECT | OPT_DRY_RUN | OPT_YES | OPT_SSH | OPT_RUN |      \
     OPT_TASK | OPT_ARGS | OPT_ROLLOUT)
#define CHECK_BITS (OPT_STAGE | OPT_SELECT | OPT_SSH | OPT_RUN)

/* Parses the words of line (space-separated) with mask; returns cli_parse's
 * result, err and o filled. */
static int parse(struct options *o, unsigned mask, char *err, const char *line)
{
    char *copy = strdup(line), *save = NULL;
    char *argv[32];
    int argc = 0, rc;

    for (char *w = strtok_r(copy, " ", &save); w && argc < 31;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    options_init(o);
    err[0] = '\0';
    rc = cli_parse(o, argc, argv, mask, err);
    free(copy);
    return rc;
}

static void test_refuses_other_commands_options(void **state)
{
    struct options o;
    char err[ERR_MAX];

    (void)state;
    assert_int_equal(parse(&o, CHECK_BITS, err, "check -s x --timeout 3s"), -1);
    assert_string_equal(err, "'check' does not take --timeout");
    options_release(&o);
    assert_int_equal(parse(&o, CHECK_BITS, err, "check -s x -e A=1"), -1);
    assert_string_equal(err, "'check' does not take -e (--env)");
    options_release(&o);
    assert_int_equal(parse(&o, CHECK_BITS, err, "check --output grouped"), -1);
    assert_string_equal(err, "'check' does not take --output");
    options_release(&o);
    assert_int_equal(parse(&o, CHECK_BITS, err, "check --batch 1"), -1);
    assert_string_equal(err, "'check' does not take --batch");
    options_release(&o);
    assert_int_equal(parse(&o, CHECK_BITS, err, "check -n"), -1);
    assert_string_equal(err, "'check' does not take -n (--dry-run)");
    options_release(&o);
    /* what check does take */
    assert_int_equal(parse(&o, CHECK_BITS, err,
                           "check -s x --parallel 3 --json --report-junit "
                           "j.xml --release r1"),
                     0);
    assert_true(o.json);
    assert_string_equal(o.junit, "j.xml");
    assert_int_equal(o.parallel, 3);
    options_release(&o);
    /* and run takes them all */
    assert_int_equal(parse(&o, RUN_BITS, err,
                           "run t -s x --timeout 3s -e A=1 --output grouped "
                           "--json -- a b"),
                     0);
    assert_int_equal(o.timeout_ms, 3000);
    assert_int_equal(o.positional.n, 1);
    assert_int_equal(o.plan.args.n, 2);
    options_release(&o);
}

static void test_did_you_mean(void **state)
{
    struct options o;
    char err[ERR_MAX];

    (void)state;
    assert_int_equal(parse(&o, RUN_BITS, err, "run --dryrun"), -1);
    assert_string_equal(err, "run: unknown option '--dryrun'; did you mean "
                             "'--dry-run'?");
    options_release(&o);
    assert_int_equal(parse(&o, RUN_BITS, err, "run --jsn"), -1);
    assert_string_equal(err,
                        "run: unknown option '--jsn'; did you mean '--json'?");
    options_release(&o);
    /* no suggestion of an option the command does not take */
    assert_int_equal(parse(&o, CHECK_BITS, err, "check --dryrun"), -1);
    assert_string_equal(err, "check: unknown option '--dryrun'");
    options_release(&o);
    assert_int_equal(parse(&o, RUN_BITS, err, "run --frobnicate"), -1);
    assert_string_equal(err, "run: unknown option '--frobnicate'");
    options_release(&o);
    assert_int_equal(parse(&o, RUN_BITS, err, "run -Z"), -1);
    assert_string_equal(err, "run: unknown option '-Z'");
    options_release(&o);
    assert_int_equal(parse(&o, RUN_BITS, err, "run --json=1"), -1);
    assert_string_equal(err, "run: option '--json=1' takes no value");
    options_release(&o);
    assert_int_equal(parse(&o, RUN_BITS, err, "run --json --report -"), -1);
    assert_non_null(strstr(err, "would both write to stdout"));
    options_release(&o);
}

static void test_closest(void **state)
{
    const char *cmds[] = {"run", "exec", "check", "hosts", "tasks", "help"};

    (void)state;
    assert_string_equal(cli_closest("rn", cmds, 6), "run");
    assert_string_equal(cli_closest("chek", cmds, 6), "check");
    assert_string_equal(cli_closest("task", cmds, 6), "tasks");
    assert_null(cli_closest("x", cmds, 6));
    assert_null(cli_closest("frobnicate", cmds, 6));
}

static void add(struct tail *t, const char *s, bool eol)
{
    struct line l = {s, strlen(s), eol};

    tail_add(t, &l, 1);
}

static void test_tail_ring(void **state)
{
    struct tail t;
    struct tail_copy c;
    char *big = malloc(TAIL_MAX + 100);

    (void)state;
    tail_init(&t);
    tail_copy(&t, &c);
    assert_int_equal(c.len, 0);
    assert_false(c.truncated);
    tail_copy_release(&c);
    add(&t, "one", true);
    add(&t, "two", false);
    tail_copy(&t, &c);
    assert_string_equal(c.text, "one\ntwo");
    assert_int_equal(c.total, 7);
    tail_copy_release(&c);
    /* 2-byte characters past the ring's size: the front character is
     * whole, the end is the last bytes */
    for (size_t i = 0; i + 1 < TAIL_MAX + 100; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[TAIL_MAX + 99] = '\0';
    add(&t, big, false);
    add(&t, "end", true);
    tail_copy(&t, &c);
    assert_true(c.truncated);
    assert_int_equal(c.total, 7 + TAIL_MAX + 99 + 4);
    assert_true(c.len <= TAIL_MAX && c.len >= TAIL_MAX - 3);
    assert_int_equal((unsigned char)c.text[0], 0xc3);
    assert_string_equal(c.text + c.len - 4, "end\n");
    tail_copy_release(&c);
    tail_release(&t);
    free(big);
}

/* The ring grows with what it holds (in steps) and wraps once full: at
 * every size, a copy is the stream's last bytes. */
static void test_tail_ring_grows(void **state)
{
    struct tail t;
    struct tail_copy c;
    size_t cap = 3 * TAIL_MAX, all = 0;
    char *want = malloc(cap), line[700];

    (void)state;
    tail_init(&t);
    for (unsigned k = 0; all + sizeof(line) + 1 < cap; k++) {
        size_t n = 1 + (k * 37) % (sizeof(line) - 1), keep;
        for (size_t i = 0; i < n; i++)
            line[i] = (char)('a' + (k + i) % 26);
        line[n] = '\0';
        add(&t, line, k % 3 != 0);
        memcpy(want + all, line, n);
        all += n;
        if (k % 3 != 0)
            want[all++] = '\n';
        tail_copy(&t, &c);
        keep = all < TAIL_MAX ? all : TAIL_MAX;
        assert_int_equal(c.total, all);
        assert_int_equal(c.len, keep);
        assert_memory_equal(c.text, want + all - keep, keep);
        tail_copy_release(&c);
    }
    assert_true(all > 2 * TAIL_MAX);
    tail_release(&t);
    free(want);
}

static void test_junit_escapes(void **state)
{
    struct record_run run;
    struct record_host h[3];
    char *doc;

    (void)state;
    memset(&run, 0, sizeof(run));
    memset(h, 0, sizeof(h));
    run.run_id = "20261121T091234Z-1a2b3c";
    run.stage = "prod";
    run.task = "t<&>";
    run.exit_code = 1;
    run.started_ms = 1000;
    run.finished_ms = 3500;
    h[0].name = "web1";
    h[0].status = "ok";
    h[0].exit_code = 0;
    h[1].name = "web2";
    h[1].status = "failed";
    h[1].exit_code = 3;
    h[1].started_ms = 1000;
    h[1].finished_ms = 2250;
    h[1].err.text = "bad \"x\" \x01\x1b[31m\xff";
    h[1].err.len = strlen(h[1].err.text);
    h[2].name = "db1";
    h[2].status = "skipped";
    h[2].exit_code = -1;
    h[2].error = "not started";
    doc = junit_format(&run, h, 3);
    assert_non_null(strstr(doc, "<testsuite name=\"t&lt;&amp;&gt; on prod\""));
    assert_non_null(strstr(doc, "tests=\"3\" failures=\"1\" errors=\"0\" "
                                "skipped=\"1\" time=\"2.500\""));
    assert_non_null(strstr(doc, "<testcase name=\"web2\" classname=\"prod."
                                "t&lt;&amp;&gt;\" time=\"1.250\">"));
    assert_non_null(strstr(doc, "<failure message=\"exit 3\" type=\"failed\">"
                                "bad &quot;x&quot; [31m\xef\xbf\xbd"
                                "</failure>"));
    assert_non_null(strstr(doc, "<skipped message=\"not started\"/>"));
    assert_null(strchr(doc, '\x01'));
    assert_null(strchr(doc, '\x1b'));
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_other_commands_options),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_closest),
        cmocka_unit_test(test_tail_ring),
        cmocka_unit_test(test_tail_ring_grows),
        cmocka_unit_test(test_junit_escapes),
    };

    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
