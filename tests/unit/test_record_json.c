/*
 * test_record_json.c - unit tests for run.json's text (record_json.c):
 * rewritten host by host from a cache, it is still what jansson makes of
 * the whole record (parsed and dumped again, byte for byte), and every
 * change of any field of any host reaches the file, however few hosts
 * change between two rewrites.
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

#include "oneoff/record.h"
#include "oneoff/util.h"

#define N 3

struct world {
    char dir[256];
    struct record r;
    struct record_run run;
    struct record_host h[N];
};

static void run_init(struct record_run *run)
{
    memset(run, 0, sizeof(*run));
    run->run_id = "run1";
    run->operator_name = "me";
    run->stage = "test";
    run->command = "true";
    run->started_ms = 1700000000000;
    run->exit_code = -1;
}

static int setup(void **state)
{
    struct world *w = xcalloc(1, sizeof(*w));
    const char *t = getenv("TMPDIR");
    char err[ERR_MAX];

    snprintf(w->dir, sizeof(w->dir), "%s/oneoff-rjson.XXXXXX", t ? t : "/tmp");
    assert_non_null(mkdtemp(w->dir));
    assert_int_equal(record_open(&w->r, w->dir, "run1", NULL, err), 0);
    run_init(&w->run);
    for (size_t i = 0; i < N; i++) {
        static const char *const names[N] = {"web1", "web\"2", "db\n1"};
        w->h[i].name = names[i];
        w->h[i].address = "127.0.0.1";
        w->h[i].port = 22;
        w->h[i].user = "root";
        w->h[i].status = "pending";
        w->h[i].exit_code = -1;
        w->h[i].log_path = "log/run1/x.log";
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char *cmd;

    record_release(&w->r);
    cmd = xasprintf("rm -rf '%s'", w->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(w);
    return 0;
}

/* Writes the record; checks the file is jansson's own dump of what it
 * says; returns it parsed (caller decrefs). */
static json_t *write_and_load(struct world *w)
{
    char err[ERR_MAX], *path, *again;
    json_error_t je;
    json_t *j;
    FILE *f;
    char *text = NULL;
    size_t cap = 0, len;

    assert_int_equal(record_write(&w->r, &w->run, w->h, N, err), 0);
    path = xasprintf("%s/run1/run.json", w->dir);
    f = fopen(path, "r");
    assert_non_null(f);
    len = (size_t)getdelim(&text, &cap, '\0', f);
    fclose(f);
    free(path);
    j = json_loads(text, 0, &je);
    assert_non_null(j);
    again = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    assert_int_equal(len, strlen(again) + 1);
    assert_memory_equal(text, again, strlen(again));
    assert_int_equal(text[len - 1], '\n');
    free(again);
    free(text);
    return j;
}

static const char *host_str(json_t *j, size_t i, const char *key)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(j, "hosts"), i), key));
}

static const char *stdout_tail(json_t *j, size_t i)
{
    json_t *h = json_array_get(json_object_get(j, "hosts"), i);
    json_t *o = json_object_get(json_object_get(h, "output"), "stdout");

    return json_string_value(json_object_get(o, "tail"));
}

static void test_every_change_lands(void **state)
{
    struct world *w = *state;
    json_t *j;

    j = write_and_load(w);
    assert_string_equal(host_str(j, 1, "name"), "web\"2");
    assert_string_equal(host_str(j, 2, "status"), "pending");
    json_decref(j);

    /* one host moves: the others' kept text stays right */
    w->h[1].status = "running";
    w->h[1].started_ms = 1700000000100;
    j = write_and_load(w);
    assert_string_equal(host_str(j, 0, "status"), "pending");
    assert_string_equal(host_str(j, 1, "status"), "running");
    assert_non_null(host_str(j, 1, "started_at"));
    json_decref(j);

    /* a field set in a buffer the caller reuses: compared by value */
    {
        char st[16] = "running";
        w->h[0].status = st;
        j = write_and_load(w);
        assert_string_equal(host_str(j, 0, "status"), "running");
        json_decref(j);
        memcpy(st, "ok", 3);
        j = write_and_load(w);
        assert_string_equal(host_str(j, 0, "status"), "ok");
        json_decref(j);
        w->h[0].status = "ok";
    }

    /* output: new bytes, then the same counts with other bytes */
    w->h[2].out.text = "abc";
    w->h[2].out.len = 3;
    w->h[2].out.total = 3;
    j = write_and_load(w);
    assert_string_equal(stdout_tail(j, 2), "abc");
    json_decref(j);
    w->h[2].out.text = "xyz";
    j = write_and_load(w);
    assert_string_equal(stdout_tail(j, 2), "xyz");
    json_decref(j);

    /* the run's own fields, and the final record */
    w->run.exit_code = 0;
    w->run.finished_ms = 1700000001000;
    w->h[2].error = "boom";
    j = write_and_load(w);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 0);
    assert_string_equal(host_str(j, 2, "error"), "boom");
    json_decref(j);
}

/* Fewer or more hosts than the last write: nothing stale is kept. */
static void test_host_count_changes(void **state)
{
    struct world *w = *state;
    char err[ERR_MAX];
    json_t *j;

    j = write_and_load(w);
    json_decref(j);
    assert_int_equal(record_write(&w->r, &w->run, w->h, 1, err), 0);
    assert_int_equal(record_write(&w->r, &w->run, NULL, 0, err), 0);
    w->h[0].status = "done";
    j = write_and_load(w);
    assert_int_equal(json_array_size(json_object_get(j, "hosts")), N);
    assert_string_equal(host_str(j, 0, "status"), "done");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_change_lands, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_count_changes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
