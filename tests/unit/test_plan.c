/*
 * test_plan.c - unit tests for plan.c: host selection (--limit globs with
 * '!' exclusions, --role, run_on all/primary/one/role:NAME) and what
 * plan_build() composes per host (release, env precedence, become, the
 * script and the command line).
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
#include "oneoff/task.h"
#include "oneoff/util.h"

#define NONCE "0123456789abcdef0123456789abcdef"
#define RUN_ID "20261121T091234Z-00aa11"

static const char fleet[] =
    "stage: production\n"
    "defaults:\n"
    "  app_dir: /srv/app\n"
    "  become: deploy\n"
    "  env_file: shared/.env\n"
    "  env: { A: stage, B: stage, C: stage, D: stage }\n"
    "hosts:\n"
    "  web1: { roles: [web] }\n"
    "  web2:\n"
    "    roles: [web]\n"
    "    env: { B: host, C: host, D: host }\n"
    "    release: releases/7\n"
    "    become: ~\n"
    "  web3: { roles: [web] }\n"
    "  db1: { roles: [db], primary: true }\n"
    "  db2: { roles: [db] }\n"
    "  cache1: { roles: [cache], primary: true }\n"
    "  worker1: { roles: [worker] }\n";

struct fixture {
    struct inventory inv;
    struct task task;
    bool have_task;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char err[ERR_MAX] = "";

    if (inventory_parse(&f->inv, "hosts/production.yml", "production", fleet,
                        strlen(fleet), err) != 0) {
        fprintf(stderr, "fixture inventory: %s\n", err);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f->have_task)
        task_release(&f->task);
    inventory_release(&f->inv);
    free(f);
    return 0;
}

/* Replaces the fixture's task with one parsed from text. */
static const struct task *use_task(struct fixture *f, const char *text)
{
    char err[ERR_MAX] = "";

    if (f->have_task)
        task_release(&f->task);
    f->have_task = false;
    if (task_parse(&f->task, "t", "tasks/t.yml", text, strlen(text), err))
        fail_msg("fixture task: %s", err);
    f->have_task = true;
    return &f->task;
}

/* Pushes the space-separated words of s (NULL: none) onto l. */
static void push_words(struct strlist *l, const char *s)
{
    char *copy, *tok, *save = NULL;

    if (s == NULL)
        return;
    copy = xstrdup(s);
    for (tok = strtok_r(copy, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save))
        strlist_push(l, tok);
    free(copy);
}

/* Runs plan_select and returns the selected names joined by ',' or the
 * error message prefixed by "error: " (caller frees). */
static char *select_names(const struct fixture *f, const struct task *t,
                          const char *limits, const char *roles)
{
    struct plan_opts o;
    const struct host **sel = NULL;
    size_t n = 0;
    char err[ERR_MAX] = "";
    struct strlist names = {0};
    char *out;

    memset(&o, 0, sizeof(o));
    push_words(&o.limits, limits);
    push_words(&o.roles, roles);
    if (plan_select(&f->inv, t, &o, &sel, &n, err) != 0) {
        assert_null(sel);
        assert_int_equal(n, 0);
        plan_opts_release(&o);
        return xasprintf("error: %s", err);
    }
    for (size_t i = 0; i < n; i++) {
        /* Pointers into the inventory, in inventory order. */
        assert_true(sel[i] >= f->inv.hosts &&
                    sel[i] < f->inv.hosts + f->inv.nhosts);
        if (i)
            assert_true(sel[i - 1] < sel[i]);
        strlist_push(&names, sel[i]->name);
    }
    out = strlist_join(&names, ",");
    strlist_clear(&names);
    free(sel);
    plan_opts_release(&o);
    return out;
}

#define assert_selects(f, t, limits, roles, want)                              \
    do {                                                                       \
        char *got_ = select_names((f), (t), (limits), (roles));                \
        if (strcmp(got_, (want)) != 0) {                                       \
            fprintf(stderr, " got  \"%s\"\n want \"%s\"\n", got_, (want));     \
            free(got_);                                                        \
            fail_msg("selection with --limit '%s' --role '%s'",                \
                     (limits) ? (limits) : "", (roles) ? (roles) : "");        \
        }                                                                      \
        free(got_);                                                            \
    } while (0)

static void test_limit_globs(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n");

    assert_selects(f, t, NULL, NULL, "web1,web2,web3,db1,db2,cache1,worker1");
    assert_selects(f, t, "web*", NULL, "web1,web2,web3");
    assert_selects(f, t, "web* !web2", NULL, "web1,web3");
    assert_selects(f, t, "!web2 web*", NULL, "web1,web3");
    assert_selects(f, t, "!web*", NULL, "db1,db2,cache1,worker1");
    assert_selects(f, t, "!web* !db?", NULL, "cache1,worker1");
    assert_selects(f, t, "*1", NULL, "web1,db1,cache1,worker1");
    /* A bracket holding a range list is a node set (ClusterShell's
     * syntax), any other a glob class. */
    assert_selects(f, t, "web[1-2]", NULL, "web1,web2");
    assert_selects(f, t, "web[1-3]!web2", NULL, "web1,web3");
    assert_selects(f, t, "web[1-3] !web[2]", NULL, "web1,web3");
    assert_selects(f, t, "web[1-2],db[1-2]", NULL, "web1,web2,db1,db2");
    assert_selects(f, t, "web[!1]", NULL, "web2,web3");
    assert_selects(f, t, "web[12]", NULL,
                   "error: --limit 'web[12]' matches no host of stage "
                   "'production'");
    assert_selects(f, t, "web[3-1]", NULL,
                   "error: --limit: pattern 'web[3-1]', column 5: range "
                   "'3-1' goes down (write 1-3)");
    /* "@ROLE" selects a role (an inventory group), also among patterns
     * and as an exclusion. */
    assert_selects(f, t, "@db", NULL, "db1,db2");
    assert_selects(f, t, "@db web1", NULL, "web1,db1,db2");
    assert_selects(f, t, "@web !web2", NULL, "web1,web3");
    assert_selects(f, t, "!@web !@db", NULL, "cache1,worker1");
    assert_selects(f, t, "@web db[1-2]", "db", "db1,db2");
    assert_selects(f, t, "@dbs", NULL,
                   "error: --limit '@dbs': no host of stage 'production' "
                   "has role 'dbs'");
    assert_selects(f, t, "!@dbs", NULL,
                   "error: --limit '!@dbs': no host of stage 'production' "
                   "has role 'dbs'");
    assert_selects(f, t, "@web!web2", NULL,
                   "error: --limit '@web!web2': '@' takes a role (group) "
                   "name, alone in its item ('@web,!web2')");
    assert_selects(f, t, "web[1:2]", NULL,
                   "error: --limit 'web[1:2]': write ranges with '-' "
                   "(web[1-3]); Ansible's [0:2] slices a group, which --limit "
                   "does not do");
    assert_selects(f, t, "@", NULL,
                   "error: --limit '@': '@' takes a role (group) name, alone "
                   "in its item ('@web,!web2')");
    assert_selects(f, t, "db1 web3", NULL, "web3,db1");
    assert_selects(f, t, "web1 web1", NULL, "web1");
    assert_selects(f, t, "worker1", NULL, "worker1");
    /* A positive glob that matches nothing is an error, even beside one
     * that matches: a typo must not shrink or widen the run silently. */
    assert_selects(f, t, "nomatch*", NULL,
                   "error: --limit 'nomatch*' matches no host of stage "
                   "'production'");
    assert_selects(f, t, "web1 wbe2", NULL,
                   "error: --limit 'wbe2' matches no host of stage "
                   "'production'");
    assert_selects(f, t, "WEB1", NULL,
                   "error: --limit 'WEB1' matches no host of stage "
                   "'production'");
    /* Exclusions that leave nothing. */
    assert_selects(f, t, "db* !db?", NULL,
                   "error: no host of stage 'production' matches the "
                   "selection");
    assert_selects(f, t, "!*", NULL,
                   "error: no host of stage 'production' matches the "
                   "selection");
}

static void test_limit_empty_pattern(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n");
    struct plan_opts o;
    const struct host **sel = NULL;
    size_t n = 0;
    char err[ERR_MAX] = "";

    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "");
    assert_int_equal(plan_select(&f->inv, t, &o, &sel, &n, err), -1);
    assert_string_equal(err, "empty pattern in --limit");
    plan_opts_release(&o);

    strlist_push(&o.limits, "!");
    assert_int_equal(plan_select(&f->inv, t, &o, &sel, &n, err), -1);
    assert_string_equal(err, "empty pattern in --limit");
    plan_opts_release(&o);
}

static void test_role_filter(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n");

    assert_selects(f, t, NULL, "web", "web1,web2,web3");
    assert_selects(f, t, NULL, "db web", "web1,web2,web3,db1,db2");
    assert_selects(f, t, "*1", "web db", "web1,db1");
    assert_selects(f, t, "!web2", "web", "web1,web3");
    assert_selects(f, t, NULL, "nope",
                   "error: --role 'nope': no host of stage 'production' has "
                   "it");
    assert_selects(f, t, NULL, "web nope",
                   "error: --role 'nope': no host of stage 'production' has "
                   "it");
    assert_selects(f, t, "web1", "db",
                   "error: no host of stage 'production' matches the "
                   "selection");
    /* Without a task (`oneoff hosts`): selection alone. */
    assert_selects(f, NULL, "!web*", "db cache", "db1,db2,cache1");
}

static void test_run_on_primary(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: bin/migrate\n"
                                       "run_on: primary\n");

    /* Exactly one primary among the selected hosts: that host alone. */
    assert_selects(f, t, NULL, "db", "db1");
    assert_selects(f, t, "db*", NULL, "db1");
    assert_selects(f, t, "!cache1", NULL, "db1");
    assert_selects(f, t, NULL, "cache", "cache1");
    /* None: an error naming the candidates. */
    assert_selects(f, t, NULL, "web",
                   "error: task 't' runs on the primary host, but none of "
                   "the 3 candidate host(s) is marked 'primary: true' "
                   "(candidates: web1, web2, web3)");
    assert_selects(f, t, "db2", NULL,
                   "error: task 't' runs on the primary host, but none of "
                   "the 1 candidate host(s) is marked 'primary: true' "
                   "(candidates: db2)");
    /* Two primaries, selected through different roles: an error. */
    assert_selects(f, t, NULL, NULL,
                   "error: task 't' runs on the primary host, but 2 "
                   "selected hosts are primary (db1, cache1); narrow it with "
                   "--role or a 'role' in the task");
    assert_selects(f, t, NULL, "db cache",
                   "error: task 't' runs on the primary host, but 2 "
                   "selected hosts are primary (db1, cache1); narrow it with "
                   "--role or a 'role' in the task");
    assert_selects(f, t, "db1 cache1", NULL,
                   "error: task 't' runs on the primary host, but 2 "
                   "selected hosts are primary (db1, cache1); narrow it with "
                   "--role or a 'role' in the task");
}

static void test_run_on_primary_with_task_role(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: bin/migrate\n"
                                       "run_on: primary\n"
                                       "role: db\n");

    /* The task's role picks db1 although cache1 is primary too. */
    assert_selects(f, t, NULL, NULL, "db1");
    assert_selects(f, t, "db* cache1", NULL, "db1");
    assert_selects(f, t, NULL, "db cache", "db1");
    /* The primary of the role is not selected: the error names the role
     * and only the candidates, the selected hosts of that role. */
    assert_selects(f, t, "db2", NULL,
                   "error: task 't' runs on the primary host of role 'db', "
                   "but none of the 1 candidate host(s) is marked 'primary: "
                   "true' (candidates: db2)");
    assert_selects(f, t, "!db1", NULL,
                   "error: task 't' runs on the primary host of role 'db', "
                   "but none of the 1 candidate host(s) is marked 'primary: "
                   "true' (candidates: db2)");

    t = use_task(f, "command: x\nrun_on: primary\nrole: cache\n");
    assert_selects(f, t, NULL, NULL, "cache1");
}

static void test_run_on_one(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\nrun_on: one\n");

    assert_selects(f, t, NULL, NULL, "web1");
    assert_selects(f, t, "!web1", NULL, "web2");
    assert_selects(f, t, NULL, "db", "db1");
    assert_selects(f, t, "worker1 cache1", NULL, "cache1");
}

static void test_run_on_role(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\nrun_on: role:db\n");

    assert_selects(f, t, NULL, NULL, "db1,db2");
    assert_selects(f, t, "db2", NULL, "db2");
    assert_selects(f, t, "*1", NULL, "db1");
    assert_selects(f, t, NULL, "web",
                   "error: task 't' runs on role 'db', but no selected host "
                   "of stage 'production' has it (selected: web1, web2, "
                   "web3)");

    t = use_task(f, "command: x\nrun_on: role:web\n");
    assert_selects(f, t, NULL, NULL, "web1,web2,web3");
}

static void test_args_none_refuses_args(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: bin/migrate\nargs: none\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";

    memset(&o, 0, sizeof(o));
    strlist_push(&o.args, "--force");
    strlist_push(&o.args, "x");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_string_equal(err, "task 't' takes no arguments ('args: none'), "
                             "but 2 were given after '--'");
    assert_int_equal(p.nhosts, 0);
    assert_null(p.hosts);
    plan_opts_release(&o);

    /* A selection error is reported by plan_build too. */
    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "nope");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_string_equal(err, "--limit 'nope' matches no host of stage "
                             "'production'");
    assert_null(p.hosts);
    plan_opts_release(&o);
}

static const struct plan_host *find_ph(const struct plan *p, const char *name)
{
    for (size_t i = 0; i < p->nhosts; i++)
        if (strcmp(p->hosts[i].host->name, name) == 0)
            return &p->hosts[i];
    fail_msg("host '%s' not in the plan", name);
    return NULL;
}

/* ph's --dry-run script, kept until the next call */
static const char *dry(const struct plan *p, const struct plan_host *ph)
{
    static char *last;

    free(last);
    last = plan_dry_run_script(p, ph);
    return last;
}

static void assert_env(const struct kvlist *env, const char *const *kv,
                       size_t n)
{
    assert_int_equal(env->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(env->key[i], kv[2 * i]);
        assert_string_equal(env->val[i], kv[2 * i + 1]);
    }
}

static void test_env_precedence(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n"
                                       "env: { C: task, D: task, E: task }\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";
    static const char *const web2[] = {"A", "stage", "B", "host", "C", "task",
                                       "D", "cli",   "E", "task", "F", "cli"};
    static const char *const web1[] = {"A", "stage", "B", "stage", "C", "task",
                                       "D", "cli",   "E", "task",  "F", "cli"};

    memset(&o, 0, sizeof(o));
    kvlist_set(&o.env, "F", "cli");
    kvlist_set(&o.env, "D", "cli");
    strlist_push(&o.limits, "web[1-2]");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_int_equal(p.nhosts, 2);
    /* stage < host < task < -e, each key keeping its first position. */
    assert_env(&find_ph(&p, "web2")->env, web2, 6);
    assert_env(&find_ph(&p, "web1")->env, web1, 6);
    /* Literal values travel as single-quoted data, in order. */
    assert_non_null(
        strstr(dry(&p, find_ph(&p, "web2")),
               "\noneoff_env='6'\n"
               "oneoff_env_name_1='A'\noneoff_env_value_1='stage'\n"
               "oneoff_env_name_2='B'\noneoff_env_value_2='host'\n"));
    assert_non_null(strstr(dry(&p, find_ph(&p, "web2")),
                           "\noneoff_env_name_4='D'\n"
                           "oneoff_env_value_4='cli'\n"));
    /* The host's own settings are untouched. */
    assert_string_equal(kvlist_get(&f->inv.hosts[1].set.env, "D"), "host");
    plan_release(&p);
    plan_opts_release(&o);
}

static void test_release(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";

    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "web[1-2]");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_string_equal(find_ph(&p, "web1")->release, "current");
    assert_string_equal(find_ph(&p, "web2")->release, "releases/7");
    assert_non_null(
        strstr(dry(&p, find_ph(&p, "web1")), "\noneoff_release='current'\n"));
    plan_release(&p);

    /* --release ID overrides every host's release. */
    o.release = "20261121-0912";
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_string_equal(find_ph(&p, "web1")->release, "releases/20261121-0912");
    assert_string_equal(find_ph(&p, "web2")->release, "releases/20261121-0912");
    assert_non_null(strstr(dry(&p, find_ph(&p, "web2")),
                           "\noneoff_release='releases/20261121-0912'\n"));
    plan_release(&p);

    o.release = "../../etc";
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_string_equal(err, "'../../etc' is not a valid release id");
    o.release = "a b";
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_string_equal(err, "'a b' is not a valid release id");
    o.release = NULL;
    plan_opts_release(&o);
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%.80s\" does not start with \"%s\"", s, prefix);
}

/* The command line a run sends to host name starts with want. */
static void assert_run_prefix(const struct plan *p, const char *name,
                              const char *want)
{
    char *line = plan_command(p, find_ph(p, name), SCRIPT_RUN, NONCE, RUN_ID,
                              "h", NULL, NULL);

    assert_prefix(line, want);
    free(line);
}

static void test_become(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";

    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "web[1-2]");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_string_equal(find_ph(&p, "web1")->become, "deploy");
    assert_null(find_ph(&p, "web2")->become);
    assert_run_prefix(&p, "web1", "exec sudo -n -u 'deploy' -- /bin/sh -c '");
    assert_run_prefix(&p, "web2", "exec /bin/sh -c '");
    plan_release(&p);

    /* The task's become overrides the host's, set or unset. */
    t = use_task(f, "command: x\nbecome: app\n");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_string_equal(find_ph(&p, "web1")->become, "app");
    assert_string_equal(find_ph(&p, "web2")->become, "app");
    assert_run_prefix(&p, "web2", "exec sudo -n -u 'app' -- /bin/sh -c '");
    plan_release(&p);
    plan_opts_release(&o);
}

/* run_on narrows the stage selection; the hosts it leaves out stay in the
 * plan as check-only hosts (their release must agree), unless --release
 * pins the release or the task is an ad-hoc command. */
static void test_check_only_hosts(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: bin/migrate\n"
                                       "run_on: primary\n"
                                       "role: db\n"
                                       "lock: true\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";
    char *line;
    size_t run = 0;

    memset(&o, 0, sizeof(o));
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_int_equal(p.nhosts, 7);
    assert_int_equal(p.nrun, 1);
    for (size_t i = 0; i < p.nhosts; i++) {
        const struct plan_host *ph = &p.hosts[i];
        bool is_db1 = strcmp(ph->host->name, "db1") == 0;
        assert_int_equal(ph->check_only, !is_db1);
        run += !ph->check_only;
        /* a check-only host is sent the check script, without the lock
         * and without arguments, whatever mode is asked for */
        line = plan_command(&p, ph, SCRIPT_RUN, NONCE, RUN_ID, "holder", NULL,
                            NULL);
        if (is_db1) {
            assert_non_null(strstr(line, "oneoff_mode='\\''run'\\''\n"));
            assert_non_null(strstr(line, "oneoff_lock='\\''t'\\''\n"));
        } else {
            assert_non_null(strstr(line, "oneoff_mode='\\''check'\\''\n"));
            assert_null(strstr(line, "oneoff_lock='\\''t'\\''\n"));
        }
        free(line);
        assert_non_null(strstr(dry(&p, ph), ph->check_only
                                                ? "oneoff_mode='check'\n"
                                                : "oneoff_mode='run'\n"));
    }
    assert_int_equal(run, 1);
    plan_release(&p);

    /* --limit and --role bound the stage selection */
    push_words(&o.limits, "db*,web1");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_int_equal(p.nhosts, 3);
    assert_int_equal(p.nrun, 1);
    assert_string_equal(p.hosts[0].host->name, "web1");
    assert_true(p.hosts[0].check_only);
    assert_false(p.hosts[1].check_only);
    assert_true(p.hosts[2].check_only);
    plan_release(&p);

    /* --release pins the release: the task's hosts alone */
    o.release = "20261101120000";
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_int_equal(p.nhosts, 1);
    assert_int_equal(p.nrun, 1);
    assert_false(p.hosts[0].check_only);
    plan_release(&p);
    o.release = NULL;
    plan_opts_release(&o);

    /* run_on: all leaves nobody out */
    t = use_task(f, "command: x\n");
    memset(&o, 0, sizeof(o));
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_int_equal(p.nhosts, 7);
    assert_int_equal(p.nrun, 7);
    plan_release(&p);
}

static void test_plan_contents(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: bin/fix \"$@\"\n"
                                       "run_on: role:db\n"
                                       "args: any\n"
                                       "confirm: true\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";
    const char *tail;
    char *line;

    memset(&o, 0, sizeof(o));
    strlist_push(&o.args, "--order");
    strlist_push(&o.args, "it's 1234");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    assert_ptr_equal(p.inv, &f->inv);
    assert_ptr_equal(p.task, t);
    assert_true(p.confirm); /* the task asks although the stage does not */
    assert_int_equal(p.args.n, 2);
    assert_string_equal(p.args.v[1], "it's 1234");
    assert_int_equal(p.nrun, 2);
    assert_int_equal(p.nhosts, 7); /* the others are checked only */
    assert_ptr_equal(p.hosts[3].host, inventory_find(&f->inv, "db1"));
    assert_ptr_equal(p.hosts[4].host, inventory_find(&f->inv, "db2"));
    for (size_t i = 0; i < p.nhosts; i++) {
        const struct plan_host *ph = &p.hosts[i];
        char *label;

        if (ph->check_only)
            continue;
        label = xasprintf("\noneoff_label='task '\\''t'\\'' on host "
                          "'\\''%s'\\'' of stage "
                          "'\\''production'\\'''\n",
                          ph->host->name);
        assert_non_null(strstr(dry(&p, ph), label));
        free(label);
        assert_non_null(strstr(dry(&p, ph), "\noneoff_app_dir='/srv/app'\n"));
        assert_non_null(
            strstr(dry(&p, ph), "\noneoff_env_file_1='shared/.env'\n"));
        assert_non_null(
            strstr(dry(&p, ph), "\noneoff_task_file='tasks/t.yml'\n"));
        assert_non_null(strstr(dry(&p, ph), "\noneoff_cmd='bin/fix \"$@\"'\n"));
        /* the placeholders --dry-run shows */
        assert_non_null(strstr(dry(&p, ph), "\noneoff_nonce='<nonce>'\n"));
        /* the watchdog is in the script */
        assert_non_null(strstr(dry(&p, ph), "oneoff_dog"));
        /* The arguments follow the script, single-quoted, in run mode. */
        tail = " oneoff '--order' 'it'\\''s 1234'";
        line = plan_command(&p, ph, SCRIPT_RUN, NONCE, RUN_ID, "holder", NULL,
                            NULL);
        assert_true(strlen(line) > strlen(tail));
        assert_string_equal(line + strlen(line) - strlen(tail), tail);
        assert_non_null(strstr(line, "oneoff_mode='\\''run'\\''\n"));
        assert_non_null(strstr(line, "oneoff_nonce='\\''" NONCE "'\\''\n"));
        assert_non_null(strstr(line, "oneoff_run_id='\\''" RUN_ID "'\\''\n"));
        assert_non_null(strstr(line, "oneoff_lock_holder='\\''holder'\\''\n"));
        free(line);
        /* ... and not in check mode, which runs nothing */
        line = plan_command(&p, ph, SCRIPT_CHECK, NONCE, RUN_ID, "holder", NULL,
                            NULL);
        assert_string_equal(line + strlen(line) - 8, "' oneoff");
        assert_non_null(strstr(line, "oneoff_mode='\\''check'\\''\n"));
        free(line);
    }
    plan_release(&p);
    assert_null(p.hosts);
    assert_int_equal(p.nhosts, 0);
    plan_opts_release(&o);

    /* An ad-hoc command is labelled as a command and has no task file. */
    task_release(&f->task);
    task_adhoc(&f->task, "uptime");
    strlist_push(&o.limits, "worker1");
    assert_int_equal(plan_build(&p, &f->inv, &f->task, &o, err), 0);
    assert_non_null(strstr(dry(&p, &p.hosts[0]),
                           "\noneoff_label='command on host '\\''worker1'\\'' "
                           "of stage '\\''production'\\'''\n"));
    assert_non_null(strstr(dry(&p, &p.hosts[0]), "\noneoff_task_file=''\n"));
    plan_release(&p);
    plan_opts_release(&o);
}

/* A task that happens to be named "exec" is a task, with its file. */
static void test_adhoc_by_flag(void **state)
{
    struct fixture *f = *state;
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";

    memset(&o, 0, sizeof(o));
    if (f->have_task)
        task_release(&f->task);
    f->have_task = false;
    assert_int_equal(
        task_parse(&f->task, "exec", "tasks/exec.yml", "command: x\n", 11, err),
        0);
    f->have_task = true;
    assert_false(f->task.adhoc);
    strlist_push(&o.limits, "worker1");
    assert_int_equal(plan_build(&p, &f->inv, &f->task, &o, err), 0);
    assert_non_null(
        strstr(dry(&p, &p.hosts[0]), "\noneoff_task_file='tasks/exec.yml'\n"));
    assert_non_null(strstr(dry(&p, &p.hosts[0]), "\noneoff_label='task "));
    plan_release(&p);
    plan_opts_release(&o);
}

/* Lock, --wait-lock and check_locks reach the prelude. */
static void test_lock_settings(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\nlock: true\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "", *line, holder[SCRIPT_HOLDER_MAX + 100];

    memset(&o, 0, sizeof(o));
    o.wait_lock_ms = 1500;
    strlist_push(&o.limits, "worker1");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    p.check_locks = true;
    line = plan_command(&p, &p.hosts[0], SCRIPT_CHECK, NONCE, RUN_ID, "h", NULL,
                        NULL);
    assert_non_null(strstr(line, "\noneoff_lock='\\''t'\\''\n"));
    assert_non_null(strstr(line, "\noneoff_lock_wait='\\''2'\\''\n"));
    assert_non_null(strstr(line, "\noneoff_check_locks='\\''1'\\''\n"));
    free(line);
    /* a holder line longer than the limit is cut */
    memset(holder, 'h', sizeof(holder) - 1);
    holder[sizeof(holder) - 1] = '\0';
    line = plan_command(&p, &p.hosts[0], SCRIPT_RUN, NONCE, RUN_ID, holder,
                        NULL, NULL);
    assert_non_null(strstr(line, "\noneoff_check_locks='\\'''\\''\n"));
    {
        const char *h = strstr(line, "\noneoff_lock_holder='\\''") + 24;
        assert_int_equal(strspn(h, "h"), SCRIPT_HOLDER_MAX);
    }
    free(line);
    plan_release(&p);
    plan_opts_release(&o);
}

/* A command line a host cannot take is refused before anything connects,
 * naming the host, the sizes and what to do. The script and the command
 * travel on the host's stdin, the arguments in the line; a console's all
 * in the line (its terminal would rewrite an input). */
static void test_command_line_too_long(void **state)
{
    struct fixture *f = *state;
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "", *big = xmalloc(140001), *yaml;
    const struct task *t;

    memset(big, 'x', 140000);
    big[140000] = '\0';
    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "worker1");
    if (f->have_task)
        task_release(&f->task);
    task_adhoc(&f->task, big);
    f->have_task = true;
    assert_int_equal(plan_build(&p, &f->inv, &f->task, &o, err), 0);
    plan_release(&p);

    yaml = xasprintf("command: %s\npty: true\n", big);
    t = use_task(f, yaml);
    free(yaml);
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_null(p.hosts);
    if (strstr(err, "the command line for host 'worker1' would be ") != err ||
        strstr(err, "more than the 131071 a host accepts as one argument "
                    "(the command is 140000 bytes, its arguments 0") == NULL ||
        strstr(err, "put the command in a script in the release") == NULL)
        fail_msg("unexpected error: %s", err);

    /* arguments count too */
    t = use_task(f, "command: x \"$@\"\nargs: any\n");
    strlist_push(&o.args, big);
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_non_null(strstr(err, "its arguments 140000"));
    strlist_clear(&o.args);

    /* a 100 KB command still fits */
    big[100000] = '\0';
    strlist_push(&o.args, big);
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), 0);
    plan_release(&p);
    plan_opts_release(&o);
    free(big);
}

static void test_reserved_env_names(void **state)
{
    struct fixture *f = *state;
    const struct task *t = use_task(f, "command: x\n"
                                       "env: { oneoff_cmd: evil }\n");
    struct plan_opts o;
    struct plan p;
    char err[ERR_MAX] = "";

    memset(&o, 0, sizeof(o));
    strlist_push(&o.limits, "worker1");
    assert_int_equal(plan_build(&p, &f->inv, t, &o, err), -1);
    assert_string_equal(err, "env 'oneoff_cmd' for host 'worker1': names "
                             "starting with 'oneoff_' are reserved for "
                             "oneoff's host script");
    plan_opts_release(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit_globs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_empty_pattern, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_role_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_on_primary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_on_primary_with_task_role,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_on_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_on_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_only_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_none_refuses_args, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_env_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_become, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adhoc_by_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_too_long, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reserved_env_names, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
