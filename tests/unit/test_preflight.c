/*
 * test_preflight.c - reading a host's preflight report, the release id,
 * the task file's state, and rolling-run sizes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "oneoff/plan.h"
#include "oneoff/preflight.h"

static void parse(struct preflight *pf, const char *text)
{
    char err[ERR_MAX] = "";

    if (preflight_parse(pf, text, strlen(text), err))
        fail_msg("unexpected error: %s", err);
}

static void test_full_report(void **state)
{
    struct preflight pf;

    (void)state;
    parse(&pf, "release=/srv/app/releases/20261101120000\n"
               "revision=a1b2c3d\n"
               "task_sha256=0123abcd\n"
               "lock=held run 20261121T1 by ops since 2026 on db1\n");
    assert_string_equal(pf.release, "/srv/app/releases/20261101120000");
    assert_string_equal(preflight_release_id(&pf), "20261101120000");
    assert_string_equal(pf.revision, "a1b2c3d");
    assert_true(pf.lock_checked);
    assert_true(pf.lock_held);
    assert_string_equal(pf.lock_holder, "run 20261121T1 by ops since 2026 on db1");
    assert_string_equal(preflight_task_state(&pf, "0123abcd"), "same");
    assert_string_equal(preflight_task_state(&pf, "ffff"), "differs");
    preflight_release(&pf);
}

static void test_values_keep_equals_signs(void **state)
{
    struct preflight pf;

    (void)state;
    parse(&pf, "release=/srv/a=b/releases/r1\nrevision=\nlock=free\n"
               "task_sha256=none\n");
    assert_string_equal(pf.release, "/srv/a=b/releases/r1");
    assert_string_equal(pf.revision, "");
    assert_true(pf.lock_checked);
    assert_false(pf.lock_held);
    assert_string_equal(preflight_task_state(&pf, "x"), "absent");
    preflight_release(&pf);
}

static void test_missing_release_is_an_error(void **state)
{
    struct preflight pf;
    char err[ERR_MAX] = "";

    (void)state;
    assert_int_equal(preflight_parse(&pf, "revision=x\n", 11, err), -1);
    assert_string_equal(err, "the preflight did not report the release");
    assert_null(pf.release);
    assert_int_equal(preflight_parse(&pf, "release=relative\n", 17, err), -1);
}

static void test_unknown_digest(void **state)
{
    struct preflight pf;

    (void)state;
    parse(&pf, "release=/r/1\n");
    assert_string_equal(preflight_task_state(&pf, "x"), "unknown");
    assert_false(pf.lock_checked);
    preflight_release(&pf);
    parse(&pf, "release=/r/1\ntask_sha256=unknown\n");
    assert_string_equal(preflight_task_state(&pf, "x"), "unknown");
    preflight_release(&pf);
}

static void test_rollout(void **state)
{
    struct rollout ro;
    char err[ERR_MAX] = "";

    (void)state;
    assert_int_equal(rollout_parse("1,25%,100%", "10%", 40, &ro, err), 0);
    assert_int_equal(ro.nsizes, 3);
    assert_int_equal(ro.sizes[0], 1);
    assert_int_equal(ro.sizes[1], 10);
    assert_int_equal(ro.sizes[2], 40);
    assert_int_equal(ro.max_fail, 4);
    rollout_release(&ro);
    /* percentages round up and are at least one host */
    assert_int_equal(rollout_parse("1%", "1%", 3, &ro, err), 0);
    assert_int_equal(ro.sizes[0], 1);
    assert_int_equal(ro.max_fail, 1);
    rollout_release(&ro);
    assert_int_equal(rollout_parse(NULL, NULL, 3, &ro, err), 0);
    assert_int_equal(ro.nsizes, 0);
    assert_true(ro.max_fail == SIZE_MAX);
    rollout_release(&ro);
    assert_int_equal(rollout_parse("1,x", NULL, 3, &ro, err), -1);
    assert_string_equal(err, "batch '1,x': 'x' is not a number of hosts (N) "
                             "or a percentage (N%), at least 1");
    assert_int_equal(rollout_parse("0", NULL, 3, &ro, err), -1);
    assert_int_equal(rollout_parse("101%", NULL, 3, &ro, err), -1);
    assert_int_equal(rollout_parse(NULL, "0", 3, &ro, err), -1);
    assert_string_equal(err, "max_fail '0': expected a number of hosts (N) "
                             "or a percentage (N%), at least 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_report),
        cmocka_unit_test(test_values_keep_equals_signs),
        cmocka_unit_test(test_missing_release_is_an_error),
        cmocka_unit_test(test_unknown_digest),
        cmocka_unit_test(test_rollout),
    };

    return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
