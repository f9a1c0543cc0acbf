/*
 * test_gate.c - the go/no-go decision after the preflight, from reported
 * values alone (no sshd), and the exit code the hosts' outcomes add up to.
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
#include "oneoff/gate.h"
#include "oneoff/host_run.h"

#define SHA "4f1c0000000000000000000000000000000000000000000000000000000000aa"

static struct gate_host ready(const char *name, const char *rel,
                              const char *rev)
{
    struct gate_host h;

    memset(&h, 0, sizeof(h));
    h.name = name;
    h.reported = true;
    h.release_id = rel;
    h.revision = rev;
    h.task = TASK_SAME;
    return h;
}

static struct gate_input input(struct gate_host *v, size_t n)
{
    struct gate_input in;

    memset(&in, 0, sizeof(in));
    in.hosts = v;
    in.n = n;
    in.task_name = "db-migrate";
    in.task_path = "tasks/db-migrate.yml";
    in.task_sha256 = SHA;
    return in;
}

static void test_agreeing_hosts_go(void **state)
{
    struct gate_host v[3] = {ready("web1", "20261101", "a1b2"),
                             ready("web2", "20261101", "a1b2"),
                             ready("db1", "20261101", "a1b2")};
    struct gate_input in = input(v, 3);
    struct gate_result res;

    (void)state;
    v[1].reported = false; /* unreachable: not in the way */
    v[1].release_id = NULL;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_GO);
    assert_int_equal(res.exit_code, 0);
    assert_string_equal(res.reason, "");
    assert_null(res.detail);
    gate_result_release(&res);
}

static void test_release_drift_is_refused_with_a_table(void **state)
{
    struct gate_host v[2] = {ready("web1", "20261101", "a1b2"),
                             ready("web22", "20261115", "ffee")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_RELEASE_DRIFT);
    assert_int_equal(res.exit_code, EXIT_REFUSED);
    assert_true(res.release_drift);
    assert_non_null(res.detail);
    assert_non_null(strstr(res.detail, "  web1   20261101  a1b2"));
    assert_non_null(strstr(res.detail, "  web22  20261115  ffee"));
    gate_result_release(&res);
}

static void test_revision_alone_is_drift(void **state)
{
    struct gate_host v[2] = {ready("a", "r1", "x"), ready("b", "r1", "y")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_RELEASE_DRIFT);
    gate_result_release(&res);
}

static void test_setup_failure_comes_first(void **state)
{
    struct gate_host v[2] = {ready("a", "r1", "x"), ready("b", "r2", "y")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    v[1].reported = false;
    v[1].setup_failed = true;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_SETUP_FAILED);
    assert_int_equal(res.exit_code, EXIT_USAGE);
    gate_result_release(&res);
}

static void test_task_drift_unless_allowed(void **state)
{
    struct gate_host v[2] = {ready("a", "r1", "x"), ready("b", "r1", "x")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    v[1].task = TASK_DIFFERS;
    v[1].task_sha256 = "99aa";
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_TASK_DRIFT);
    assert_int_equal(res.exit_code, EXIT_REFUSED);
    assert_non_null(strstr(res.detail, SHA));
    assert_non_null(strstr(res.detail, "99aa"));
    gate_result_release(&res);
    in.allow_drift = true;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_GO);
    gate_result_release(&res);
}

static void test_absent_task_file_goes(void **state)
{
    struct gate_host v[1] = {ready("a", "r1", "x")};
    struct gate_input in = input(v, 1);
    struct gate_result res;

    (void)state;
    v[0].task = TASK_ABSENT;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_GO);
    gate_result_release(&res);
}

static void test_lock_names_the_holder_escaped(void **state)
{
    struct gate_host v[2] = {ready("a", "r1", "x"), ready("b", "r1", "x")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    v[1].lock_held = true;
    v[1].lock_holder = "run 20261121T091234Z-abcdef by ops\033[2J";
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_LOCKED);
    assert_int_equal(res.exit_code, EXIT_REFUSED);
    assert_non_null(strstr(res.reason, "task 'db-migrate' is locked on b by "
                                       "run 20261121T091234Z-abcdef by ops"));
    assert_null(strchr(res.reason, '\033'));
    gate_result_release(&res);
}

static void test_hostile_release_is_escaped(void **state)
{
    struct gate_host v[2] = {ready("a", "r1\033]0;x\007", "x"),
                             ready("b", "r2", "x")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_RELEASE_DRIFT);
    assert_null(strchr(res.detail, '\033'));
    assert_null(strchr(res.detail, '\007'));
    gate_result_release(&res);
}

static void test_check_reports_drift_and_locks(void **state)
{
    struct gate_host v[2] = {ready("a", "r1", "x"), ready("b", "r2", "x")};
    struct gate_input in = input(v, 2);
    struct gate_result res;

    (void)state;
    in.check = true;
    v[0].task = TASK_DIFFERS; /* check has no task: never task drift */
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_RELEASE_DRIFT);
    assert_int_equal(res.exit_code, EXIT_REFUSED);
    assert_string_equal(res.detail, "the hosts disagree on the release");
    gate_result_release(&res);
}

static struct host_state done(enum host_outcome o)
{
    struct host_state s;

    memset(&s, 0, sizeof(s));
    s.phase = PHASE_DONE;
    s.outcome = o;
    s.exit_code = -1;
    return s;
}

/* A check-only host (run_on left it out) counts for the release agreement
 * only: its task file and lock are not its business. */
static void test_check_only_hosts_judge_the_release(void **state)
{
    struct gate_host v[3] = {ready("web1", "20261101", "a1b2"),
                             ready("web2", "20261115", "ffee"),
                             ready("db1", "20261101", "a1b2")};
    struct gate_input in = input(v, 3);
    struct gate_result res;

    (void)state;
    v[0].check_only = v[1].check_only = true;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_RELEASE_DRIFT);
    assert_int_equal(res.exit_code, EXIT_REFUSED);
    assert_non_null(
        strstr(res.detail, "  web2  20261115  ffee  (checked only)"));
    assert_non_null(strstr(res.detail, "  db1   20261101  a1b2"));
    gate_result_release(&res);

    v[1].release_id = "20261101";
    v[1].revision = "a1b2";
    v[1].task = TASK_DIFFERS;
    v[1].task_sha256 = "ffff";
    v[0].lock_held = true;
    v[0].lock_holder = "run x";
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_GO);
    assert_int_equal(res.exit_code, 0);
    gate_result_release(&res);

    /* a check-only host whose set-up failed stops the run like any other */
    v[0].reported = false;
    v[0].setup_failed = true;
    gate_decide(&in, &res);
    assert_int_equal(res.verdict, GATE_SETUP_FAILED);
    gate_result_release(&res);
}

/* ---- the promotion gate ------------------------------------------------- */

#define SHA_OTHER                                                              \
    "9999000000000000000000000000000000000000000000000000000000000000"

/* Adds one host's start line (and end line, unless outcome is NULL) of a
 * run of db-migrate on staging to h. */
static void hist_run(struct history *h, const char *run, const char *host,
                     const char *sha, const char *rev, const char *outcome,
                     int code)
{
    struct strlist none = {0};
    struct history_start s;
    char *line, *end, *text;

    memset(&s, 0, sizeof(s));
    s.run = run;
    s.kind = "run";
    s.host = host;
    s.stage = "staging";
    s.task = "db-migrate";
    s.sha256 = sha;
    s.command = "bin/migrate";
    s.args = &none;
    s.release = "20261201";
    s.revision = rev;
    s.operator_name = "ann";
    s.overrides = &none;
    s.at_ms = 1764579600000;
    line = history_start_line(&s);
    end = history_end_prefix(run, host);
    if (outcome)
        text = xasprintf("%s\n%s,\"at\":\"2026-12-01T09:00:05.000Z\","
                         "\"outcome\":\"%s\",\"exit\":%d,\"signal\":null,"
                         "\"duration_ms\":5000}\n",
                         line, end, outcome, code);
    else
        text = xasprintf("%s\n", line);
    history_add_text(h, host, text, strlen(text));
    free(text);
    free(end);
    free(line);
}

static struct promotion_input promo(const struct history *h)
{
    struct promotion_input in;

    memset(&in, 0, sizeof(in));
    in.from_stage = "staging";
    in.to_stage = "production";
    in.task_name = "db-migrate";
    in.task_sha256 = SHA;
    in.revision = "a1b2";
    in.from = h;
    return in;
}

/* expects verdict and, in the reason, text (NULL: an empty reason) */
static void expect_promotion(const struct promotion_input *in,
                             enum gate_verdict v, const char *text)
{
    struct gate_result res;

    gate_promotion(in, &res);
    assert_int_equal(res.verdict, v);
    assert_int_equal(res.exit_code, v == GATE_GO ? 0 : EXIT_REFUSED);
    if (text == NULL)
        assert_string_equal(res.reason, "");
    else if (strstr(res.reason, text) == NULL)
        fail_msg("reason '%s' lacks '%s'", res.reason, text);
    gate_result_release(&res);
}

static void test_promotion_needs_a_success_before(void **state)
{
    struct history h;
    struct promotion_input in;

    (void)state;
    history_init(&h);
    in = promo(&h);
    /* nothing at all */
    expect_promotion(&in, GATE_PROMOTION, "never run on stage 'staging'");
    expect_promotion(&in, GATE_PROMOTION,
                     "task 'db-migrate' has not passed stage 'staging' "
                     "before 'production'");
    /* other content only */
    hist_run(&h, "20261201T090000Z-000001", "h1", SHA_OTHER, "a1b2",
             "succeeded", 0);
    expect_promotion(&in, GATE_PROMOTION,
                     "never run on stage 'staging' with this content "
                     "(sha256 4f1c00000000); it ran there as sha256 "
                     "999900000000 (run 20261201T090000Z-000001)");
    /* failed on one of its hosts */
    hist_run(&h, "20261201T090100Z-000002", "h1", SHA, "a1b2", "succeeded", 0);
    hist_run(&h, "20261201T090100Z-000002", "h2", SHA, "a1b2", "failed", 3);
    expect_promotion(&in, GATE_PROMOTION,
                     "it failed on stage 'staging': run "
                     "20261201T090100Z-000002 on h2 (failed, exit 3)");
    /* started and never ended */
    hist_run(&h, "20261201T090200Z-000003", "h1", SHA, "a1b2", NULL, 0);
    expect_promotion(&in, GATE_PROMOTION,
                     "run 20261201T090200Z-000003 on stage 'staging' started "
                     "and never ended on h1");
    /* succeeded, but at another revision (alone: an unknown run says more) */
    history_release(&h);
    history_init(&h);
    hist_run(&h, "20261201T090300Z-000004", "h1", SHA, "ffee", "succeeded", 0);
    hist_run(&h, "20261201T090300Z-000004", "h2", SHA, "ffee", "succeeded", 0);
    expect_promotion(&in, GATE_PROMOTION,
                     "it succeeded on stage 'staging' at revision ffee "
                     "(run 20261201T090300Z-000004), not at this release's "
                     "revision a1b2");
    /* --skip-gate goes, and says what it skipped */
    in.skip = true;
    expect_promotion(&in, GATE_GO,
                     "promotion gate skipped (--skip-gate): it succeeded");
    in.skip = false;
    /* succeeded on every host it ran on, on this revision: go */
    hist_run(&h, "20261201T090400Z-000005", "h2", SHA, "a1b2", "succeeded", 0);
    expect_promotion(&in, GATE_GO, NULL);
    /* a host of staging whose history could not be read: refused */
    {
        const char *unread[] = {"h3"}, *why[] = {"connect: refused"};
        in.unread = unread;
        in.unread_why = why;
        in.nunread = 1;
        expect_promotion(&in, GATE_PROMOTION,
                         "the history of host h3 of stage 'staging' could "
                         "not be read (connect: refused)");
    }
    history_release(&h);
}

static void test_exit_code_order(void **state)
{
    struct host_state v[4] = {done(HOST_OK), done(HOST_FAILED),
                              done(HOST_UNREACHABLE), done(HOST_OK)};

    (void)state;
    assert_int_equal(host_exit_code(v, 1, false, 0), EXIT_OK);
    assert_int_equal(host_exit_code(v, 2, false, 0), EXIT_TASK_FAILED);
    assert_int_equal(host_exit_code(v, 3, false, 0), EXIT_UNREACHABLE);
    assert_int_equal(host_exit_code(v, 3, false, EXIT_REFUSED), EXIT_REFUSED);
    assert_int_equal(host_exit_code(v, 3, true, EXIT_REFUSED),
                     EXIT_INTERRUPTED);
    v[3] = done(HOST_INTERRUPTED);
    assert_int_equal(host_exit_code(v, 4, false, 0), EXIT_INTERRUPTED);
    v[3].phase = PHASE_RUNNING; /* never concluded */
    assert_int_equal(host_exit_code(v + 3, 1, false, 0), EXIT_INTERRUPTED);
}

static void test_transitions_never_go_back(void **state)
{
    struct host_table t;
    struct host_update u = HOST_UPDATE(PHASE_RUNNING);
    struct host_state snap[1];

    (void)state;
    host_table_init(&t, 1);
    assert_string_equal(host_state_status(&t.v[0]), "pending");
    host_transition(&t, 0, &u);
    assert_string_equal(host_state_status(&t.v[0]), "running");
    assert_true(t.v[0].started_ms > 0);
    u.phase = PHASE_CONNECTING;
    host_transition(&t, 0, &u);
    assert_string_equal(host_state_status(&t.v[0]), "running");
    host_finish(&t, 0, HOST_TIMEOUT, "stopped after the %s timeout", "2s");
    host_finish(&t, 0, HOST_OK, NULL); /* done is final */
    host_table_snapshot(&t, snap);
    assert_string_equal(host_state_status(&snap[0]), "timeout");
    assert_string_equal(snap[0].error, "stopped after the 2s timeout");
    assert_true(snap[0].finished_ms >= snap[0].started_ms);
    host_snapshot_release(snap, 1);
    assert_true(t.wanted >= 3);
    host_table_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agreeing_hosts_go),
        cmocka_unit_test(test_release_drift_is_refused_with_a_table),
        cmocka_unit_test(test_revision_alone_is_drift),
        cmocka_unit_test(test_setup_failure_comes_first),
        cmocka_unit_test(test_task_drift_unless_allowed),
        cmocka_unit_test(test_absent_task_file_goes),
        cmocka_unit_test(test_lock_names_the_holder_escaped),
        cmocka_unit_test(test_hostile_release_is_escaped),
        cmocka_unit_test(test_check_reports_drift_and_locks),
        cmocka_unit_test(test_check_only_hosts_judge_the_release),
        cmocka_unit_test(test_promotion_needs_a_success_before),
        cmocka_unit_test(test_exit_code_order),
        cmocka_unit_test(test_transitions_never_go_back),
    };

    return cmocka_run_group_tests_name("gate", tests, NULL, NULL);
}
