/*
 * test_promotion.c - reading the history of the stage before, for real:
 * the local transport runs the history mode on this machine, against the
 * script harness's app fixture (whose app_dir's name is hostile), a host
 * without history and a host whose app_dir does not exist.
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

#include "oneoff/history.h"
#include "oneoff/inventory.h"
#include "oneoff/plan.h"
#include "oneoff/promotion.h"
#include "oneoff/task.h"
#include "oneoff/transport.h"
#include "script_harness.h"

#define SHA "4f1c0000000000000000000000000000000000000000000000000000000000aa"

static void write_history(const char *app_dir, const char *host)
{
    struct strlist none = {0};
    struct history_start s;
    char *dir = xasprintf("%s/shared/.oneoff", app_dir);
    char *path = xasprintf("%s/history.jsonl", dir);
    char *start, *end;
    FILE *f;

    memset(&s, 0, sizeof(s));
    s.run = "20261201T090000Z-000001";
    s.kind = "run";
    s.host = host;
    s.stage = "staging";
    s.task = "db-migrate";
    s.sha256 = SHA;
    s.command = "bin/migrate";
    s.args = &none;
    s.release = "r1";
    s.revision = "a1b2";
    s.operator_name = "ann";
    s.overrides = &none;
    s.at_ms = 1764579600000;
    start = history_start_line(&s);
    end = history_end_prefix(s.run, host);
    mkdir(dir, 0755);
    f = fopen(path, "w");
    assert_non_null(f);
    /* a run, then a cut last line: skipped and noted, never fatal */
    fprintf(f,
            "%s\n%s,\"at\":\"2026-12-01T09:00:05.000Z\",\"outcome\":"
            "\"succeeded\",\"exit\":0,\"signal\":null,\"duration_ms\":5000}\n"
            "{\"v\":1,\"event\":\"sta",
            start, end);
    assert_int_equal(fclose(f), 0);
    free(start);
    free(end);
    free(path);
    free(dir);
}

static void test_read_three_kinds_of_host(void **state)
{
    const struct app *a = *state;
    struct host hosts[3];
    struct plan_host ph[3];
    struct plan p;
    struct inventory inv;
    struct task t;
    struct transport *local = transport_local_new();
    struct transport *per_host[3] = {local, local, local};
    struct promotion_read pr;
    struct history_query q = {SHA, "staging", "a1b2"};
    struct app empty;
    const struct history_run *run = NULL;

    (void)state;
    app_create(&empty);
    write_history(a->app_dir, "h1");
    memset(hosts, 0, sizeof(hosts));
    memset(ph, 0, sizeof(ph));
    memset(&p, 0, sizeof(p));
    hosts[0].name = xstrdup("h1");
    hosts[0].set.app_dir = a->app_dir;
    hosts[1].name = xstrdup("h2"); /* no history yet */
    hosts[1].set.app_dir = empty.app_dir;
    hosts[2].name = xstrdup("h3"); /* no app_dir: not read */
    hosts[2].set.app_dir = xstrdup("/nonexistent/oneoff-test-app");
    for (int i = 0; i < 3; i++) {
        hosts[i].set.transport = TRANSPORT_LOCAL;
        ph[i].host = &hosts[i];
    }
    memset(&inv, 0, sizeof(inv));
    inv.stage = xstrdup("staging");
    task_adhoc(&t, "true");
    p.inv = &inv;
    p.task = &t;
    p.hosts = ph;
    p.nhosts = p.nrun = 3;
    promotion_read(&p, per_host, 2, &pr);
    assert_int_equal(pr.unread.n, 1);
    assert_string_equal(pr.unread.v[0], "h3");
    assert_non_null(pr.why.v[0]);
    assert_true(pr.why.v[0][0] != '\0');
    assert_int_equal(pr.history.n, 1);
    assert_int_equal(pr.history.bad_lines, 1);
    assert_int_equal(history_lookup(&pr.history, &q, &run), HISTORY_SUCCEEDED);
    assert_string_equal(run->run, "20261201T090000Z-000001");
    promotion_read_release(&pr);
    for (int i = 0; i < 3; i++)
        free(hosts[i].name);
    free(hosts[2].set.app_dir);
    free(inv.stage);
    task_release(&t);
    transport_free(local);
    app_destroy(&empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_three_kinds_of_host),
    };

    return cmocka_run_group_tests(tests, app_setup, app_teardown);
}
