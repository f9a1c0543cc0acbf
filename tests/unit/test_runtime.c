/*
 * test_runtime.c - unit tests for runtime.c and what uses it: the runtime
 * keys of tasks and inventories (values, located errors), their merge in
 * the plan (the task's keys over the host's), the plan's refusals (no
 * container, --release, a multi-line env value), the prelude of a
 * container host and of a detached run, and an image id as a release in
 * the preflight report.
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

#include "oneoff/inventory.h"
#include "oneoff/plan.h"
#include "oneoff/preflight.h"
#include "oneoff/task.h"
#include "oneoff/util.h"

static const char stage[] = "stage: production\n"
                            "defaults:\n"
                            "  app_dir: /srv/app\n"
                            "  runtime: container\n"
                            "  container: app\n"
                            "hosts:\n"
                            "  web1: { engine: podman }\n"
                            "  web2: { runtime: plain }\n"
                            "  web3: { container: ~ }\n";

static void load(struct inventory *inv, struct task *t, const char *task_text)
{
    char err[ERR_MAX] = "";

    if (inventory_parse(inv, "hosts/production.yml", "production", stage,
                        strlen(stage), err))
        fail_msg("inventory: %s", err);
    if (task_parse(t, "t", "tasks/t.yml", task_text, strlen(task_text), err))
        fail_msg("task: %s", err);
}

static void task_fails(const char *text, const char *want)
{
    struct task t;
    char err[ERR_MAX] = "";

    assert_int_equal(
        task_parse(&t, "t", "tasks/t.yml", text, strlen(text), err), -1);
    assert_string_equal(err, want);
    task_release(&t);
}

static void test_task_keys(void **state)
{
    struct task t;
    char err[ERR_MAX] = "";
    static const char text[] = "command: x\n"
                               "runtime: image\n"
                               "engine: docker\n"
                               "image_of: app-1.web\n"
                               "network_of: app_net\n";

    (void)state;
    assert_int_equal(task_parse(&t, "t", "x", text, strlen(text), err), 0);
    assert_int_equal(t.rt.kind, RUNTIME_IMAGE);
    assert_true(t.rt.kind_set);
    assert_string_equal(t.rt.engine, "docker");
    assert_string_equal(t.rt.image_of, "app-1.web");
    assert_string_equal(t.rt.network_of, "app_net");
    assert_null(t.rt.container);
    task_release(&t);

    task_fails("command: x\nruntime: docker\n",
               "tasks/t.yml:2:10: 'runtime' must be plain, container or "
               "image, not 'docker'");
    task_fails("command: x\nengine: lxc\n",
               "tasks/t.yml:2:9: 'engine' must be docker or podman, not 'lxc'");
    task_fails("command: x\ncontainer: -it\n",
               "tasks/t.yml:2:12: '-it' is not a valid container name for "
               "'container' (letters, digits, '_', '.' and '-')");
}

static struct plan_host *find(struct plan *p, const char *name)
{
    for (size_t i = 0; i < p->nhosts; i++)
        if (strcmp(p->hosts[i].host->name, name) == 0)
            return &p->hosts[i];
    fail_msg("no host %s", name);
    return NULL;
}

static void test_plan_merge_and_prelude(void **state)
{
    struct inventory inv;
    struct task t;
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";
    char *line;

    (void)state;
    load(&inv, &t, "command: x\n");
    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "web[1-2]");
    assert_int_equal(plan_build(&p, &inv, &t, &o, err), 0);
    assert_int_equal(find(&p, "web1")->rt.kind, RUNTIME_CONTAINER);
    assert_string_equal(find(&p, "web1")->rt.engine, "podman");
    assert_int_equal(find(&p, "web2")->rt.kind, RUNTIME_PLAIN);
    line = plan_command(&p, find(&p, "web1"), SCRIPT_RUN, "n", "id", "h", NULL,
                        NULL);
    assert_non_null(strstr(line, "oneoff_runtime='\\''container'\\''"));
    assert_non_null(strstr(line, "oneoff_engine='\\''podman'\\''"));
    assert_non_null(strstr(line, "oneoff_container='\\''app'\\''"));
    assert_non_null(strstr(line, "oneoff_rt_inspect()"));
    free(line);
    /* a plain host gets neither the keys nor the runtime's script */
    line = plan_command(&p, find(&p, "web2"), SCRIPT_RUN, "n", "id", "h", NULL,
                        NULL);
    assert_null(strstr(line, "oneoff_runtime="));
    assert_null(strstr(line, "oneoff_rt_inspect()"));
    assert_null(strstr(line, "oneoff_job_main()"));
    free(line);
    /* a detached run carries the job's script and its history members */
    p.job = "detach";
    p.hist = "\"stage\":\"production\"";
    line = plan_command(&p, find(&p, "web2"), SCRIPT_RUN, "n", "id", "h", NULL,
                        NULL);
    assert_non_null(strstr(line, "oneoff_job='\\''detach'\\''"));
    assert_non_null(strstr(line, "oneoff_host='\\''web2'\\''"));
    assert_non_null(strstr(line, "oneoff_job_main()"));
    free(line);
    plan_release(&p);

    /* web3 unsets the container: refused before anything connects */
    plan_opts_release(&o);
    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "web3");
    assert_int_equal(plan_build(&p, &inv, &t, &o, err), -1);
    assert_string_equal(err, "host 'web3': 'runtime: container' needs "
                             "'container: NAME', the app's running container");
    plan_opts_release(&o);

    /* --release, and an env value of two lines, for a container host */
    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "web1");
    o.release = "7";
    assert_int_equal(plan_build(&p, &inv, &t, &o, err), -1);
    assert_non_null(strstr(err, "--release: host 'web1' runs the task in a "
                                "container"));
    o.release = NULL;
    kvlist_set(&o.env, "K", "a\nb");
    assert_int_equal(plan_build(&p, &inv, &t, &o, err), -1);
    assert_string_equal(err, "env 'K' for host 'web1' holds a newline, which "
                             "a container's env file cannot carry");
    plan_opts_release(&o);
    task_release(&t);
    inventory_release(&inv);

    /* the task's keys win over the host's */
    load(&inv, &t, "command: x\nruntime: image\nimage_of: other\n");
    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "web2");
    assert_int_equal(plan_build(&p, &inv, &t, &o, err), 0);
    assert_int_equal(p.hosts[0].rt.kind, RUNTIME_IMAGE);
    line =
        plan_command(&p, &p.hosts[0], SCRIPT_RUN, "n", "RUN", "h", NULL, NULL);
    assert_non_null(strstr(line, "oneoff_container='\\''other'\\''"));
    assert_non_null(strstr(line, "oneoff_ctr_name='\\''oneoff-RUN-web2'\\''"));
    free(line);
    plan_release(&p);
    plan_opts_release(&o);
    task_release(&t);
    inventory_release(&inv);
}

#define N "0123456789abcdef0123456789abcdef"

static void test_preflight_image_release(void **state)
{
    static const char *const good[] = {
        N " release 64 "
          "433451c30ff1d560d5e00eb6b2d0b4eda66518aff38b5cae865db24a41770589\n",
        N " release 19 sha256:0123456789ab\n",
    };
    static const char bad[] = N " release 12 0123456789aX\n";
    struct preflight pf;
    char err[ERR_MAX];

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        memset(&pf, 0, sizeof(pf));
        err[0] = '\0';
        assert_int_equal(
            preflight_parse(&pf, N, good[i], strlen(good[i]), NULL, err), 0);
        assert_non_null(pf.release);
        preflight_release(&pf);
    }
    memset(&pf, 0, sizeof(pf));
    assert_int_equal(preflight_parse(&pf, N, bad, strlen(bad), NULL, err), -1);
    assert_non_null(strstr(err, "not an absolute path or an image id"));
    preflight_release(&pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_keys),
        cmocka_unit_test(test_plan_merge_and_prelude),
        cmocka_unit_test(test_preflight_image_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
