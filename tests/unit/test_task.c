/*
 * test_task.c - unit tests for task.c: tasks/<name>.yml parsed from memory
 * (every key, defaults, located errors), the SHA-256 of the file's exact
 * bytes, command_uses_args(), and task_load()/task_list() on a temporary
 * directory.
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

#include "oneoff/task.h"
#include "oneoff/util.h"

#define TPATH "tasks/t.yml"

static void parse_ok(struct task *t, const char *text)
{
    char err[ERR_MAX] = "";

    if (task_parse(t, "t", TPATH, text, strlen(text), err) != 0)
        fail_msg("unexpected error: %s", err);
}

/* Checks the parse fails with exactly want; failures name the caller's
 * line. */
#define parse_fails(text, want) parse_fails_at(__LINE__, text, want)

static void parse_fails_at(int line, const char *text, const char *want)
{
    struct task t;
    char err[ERR_MAX] = "";

    if (task_parse(&t, "t", TPATH, text, strlen(text), err) != -1)
        fail_msg("line %d: parse succeeded, want \"%s\"", line, want);
    if (strcmp(err, want) != 0)
        fail_msg("line %d:\n got  \"%s\"\n want \"%s\"", line, err, want);
    /* A failed parse leaves nothing behind. */
    assert_null(t.name);
    assert_null(t.command);
    assert_int_equal(t.env.n, 0);
    task_release(&t);
}

/* Regression (found by fuzz_task): a `batch` list with a bad item leaked
 * the items read before it. The leak shows under ASan/LSan
 * (make SANITIZE=address,undefined unit); the message is checked here. */
/* A task name from the command line is quoted escaped. */
static void test_invalid_name_escaped(void **state)
{
    struct task t;
    char err[ERR_MAX];

    (void)state;
    assert_int_equal(task_load(&t, "/nonexistent", "x\033]0;t\a", err), -1);
    assert_string_equal(err, "'x\\e]0;t\\x07' is not a valid task name");
}

static void test_regress_batch_list_leak(void **state)
{
    (void)state;
    parse_fails("command: x\nbatch: [1, {}]\n",
                "tasks/t.yml:2:12: items of 'batch' must be strings, not a "
                "mapping");
}

static void test_all_keys(void **state)
{
    struct task t;

    (void)state;
    parse_ok(&t, "description: Recompute the totals\n"
                 "command: bin/fix-orders \"$@\"\n"
                 "run_on: primary\n"
                 "role: db\n"
                 "lock: true\n"
                 "timeout: 1h30m\n"
                 "args: any\n"
                 "env: { BATCH_SIZE: 100, MODE: 'dry run' }\n"
                 "confirm: true\n"
                 "pty: false\n"
                 "once: true\n"
                 "become: app\n"
                 "batch: [1, 25%, 100%]\n"
                 "max_fail: 10%\n");
    assert_string_equal(t.name, "t");
    assert_string_equal(t.path, TPATH);
    assert_string_equal(t.description, "Recompute the totals");
    assert_string_equal(t.command, "bin/fix-orders \"$@\"");
    assert_int_equal(t.run_on, RUN_ON_PRIMARY);
    assert_string_equal(t.role, "db");
    assert_true(t.lock);
    assert_int_equal(t.timeout_ms, 5400000);
    assert_int_equal(t.args, TASK_ARGS_ANY);
    assert_int_equal(t.env.n, 2);
    assert_string_equal(t.env.key[0], "BATCH_SIZE");
    assert_string_equal(t.env.val[0], "100");
    assert_string_equal(t.env.key[1], "MODE");
    assert_string_equal(t.env.val[1], "dry run");
    assert_true(t.confirm);
    assert_false(t.pty);
    assert_true(t.once);
    assert_string_equal(t.become, "app");
    assert_string_equal(t.batch, "1,25%,100%");
    assert_string_equal(t.max_fail, "10%");
    assert_int_equal(strlen(t.sha256), 64);
    task_release(&t);
    assert_null(t.command);
}

static void test_defaults(void **state)
{
    struct task t;

    (void)state;
    parse_ok(&t, "command: bin/report\n");
    assert_string_equal(t.command, "bin/report");
    assert_null(t.description);
    assert_int_equal(t.run_on, RUN_ON_ALL);
    assert_null(t.role);
    assert_false(t.lock);
    assert_int_equal(t.timeout_ms, 0);
    assert_int_equal(t.args, TASK_ARGS_NONE);
    assert_int_equal(t.env.n, 0);
    assert_false(t.confirm);
    assert_false(t.pty);
    assert_false(t.once);
    assert_null(t.become);
    assert_null(t.batch);
    assert_null(t.max_fail);
    task_release(&t);

    /* A folded multi-line command is kept as YAML folds it. */
    parse_ok(&t, "command: >-\n  bin/one\n  --flag\nbatch: '2'\nenv:\n");
    assert_string_equal(t.command, "bin/one --flag");
    assert_string_equal(t.batch, "2");
    assert_int_equal(t.env.n, 0);
    task_release(&t);
}

static void test_required_command(void **state)
{
    (void)state;
    parse_fails("description: nothing to run\n",
                TPATH ":1:1: missing required key 'command'");
    parse_fails("description: x\ncommand:\n",
                TPATH ":2:9: 'command' must be a string, not nothing");
    parse_fails("command: [a, b]\n",
                TPATH ":1:10: 'command' must be a string, not a list");
    parse_fails("", TPATH ":1:1: the task file is empty; expected a mapping");
    parse_fails("- command: x\n",
                TPATH ":1:1: the task file must be a mapping, not a list");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    parse_fails("comand: bin/x\n",
                TPATH ":1:1: unknown key 'comand'; did you mean 'command'?");
    parse_fails("command: x\ntimout: 5m\n",
                TPATH ":2:1: unknown key 'timout'; did you mean 'timeout'?");
    parse_fails("command: x\nretries: 3\n",
                TPATH ":2:1: unknown key 'retries'");
    parse_fails("command: x\ncommand: y\n",
                TPATH ":2:1: duplicate key 'command' (first at line 1)");
}

static void test_run_on(void **state)
{
    struct task t;

    (void)state;
    parse_ok(&t, "command: x\nrun_on: all\n");
    assert_int_equal(t.run_on, RUN_ON_ALL);
    assert_string_equal(run_on_name(t.run_on), "all");
    task_release(&t);
    parse_ok(&t, "command: x\nrun_on: primary\n");
    assert_int_equal(t.run_on, RUN_ON_PRIMARY);
    assert_null(t.role);
    assert_string_equal(run_on_name(t.run_on), "primary");
    task_release(&t);
    parse_ok(&t, "command: x\nrun_on: one\n");
    assert_int_equal(t.run_on, RUN_ON_ONE);
    assert_string_equal(run_on_name(t.run_on), "one");
    task_release(&t);
    parse_ok(&t, "command: x\nrun_on: role:db\n");
    assert_int_equal(t.run_on, RUN_ON_ROLE);
    assert_string_equal(t.role, "db");
    assert_string_equal(run_on_name(t.run_on), "role");
    task_release(&t);
    parse_ok(&t, "command: x\nrun_on: 'role:web-2'\n");
    assert_string_equal(t.role, "web-2");
    task_release(&t);

    parse_fails("command: x\nrun_on: everywhere\n",
                TPATH ":2:9: 'run_on' must be all, primary, one or role:NAME, "
                      "not 'everywhere'");
    parse_fails("command: x\nrun_on: 'role:'\n",
                TPATH ":2:9: 'run_on' must be all, primary, one or role:NAME, "
                      "not 'role:'");
    parse_fails("command: x\nrun_on: 'role:a b'\n",
                TPATH ":2:9: 'run_on' must be all, primary, one or role:NAME, "
                      "not 'role:a b'");
    parse_fails("command: x\nrun_on: Primary\n",
                TPATH ":2:9: 'run_on' must be all, primary, one or role:NAME, "
                      "not 'Primary'");
    parse_fails("command: x\nrun_on: [all]\n",
                TPATH ":2:9: 'run_on' must be a string, not a list");
    parse_fails("command: x\nrun_on:\n",
                TPATH ":2:8: 'run_on' must be a string, not nothing");
}

static void test_role_key(void **state)
{
    struct task t;

    (void)state;
    parse_ok(&t, "command: x\nrun_on: primary\nrole: db\n");
    assert_int_equal(t.run_on, RUN_ON_PRIMARY);
    assert_string_equal(t.role, "db");
    task_release(&t);

    parse_fails("command: x\nrun_on: role:db\nrole: web\n",
                TPATH ":3:7: 'role' and 'run_on: role:db' both name a role; "
                      "keep one");
    parse_fails("command: x\nrole: 'd b'\n",
                TPATH ":2:7: 'd b' is not a valid role name");
    parse_fails("command: x\nrole: [db]\n",
                TPATH ":2:7: 'role' must be a string, not a list");
}

static void test_args(void **state)
{
    struct task t;

    (void)state;
    parse_ok(&t, "command: x\nargs: none\n");
    assert_int_equal(t.args, TASK_ARGS_NONE);
    task_release(&t);
    parse_ok(&t, "command: bin/fix \"$@\"\nargs: any\n");
    assert_int_equal(t.args, TASK_ARGS_ANY);
    task_release(&t);
    parse_ok(&t, "command: bin/fix --order \"$1\"\nargs: any\n");
    assert_int_equal(t.args, TASK_ARGS_ANY);
    task_release(&t);

    parse_fails("command: bin/fix\nargs: any\n",
                TPATH ":2:7: 'args: any' but the command never uses its "
                      "arguments; pass them on with \"$@\"");
    parse_fails("command: echo $HOME $0\nargs: any\n",
                TPATH ":2:7: 'args: any' but the command never uses its "
                      "arguments; pass them on with \"$@\"");
    parse_fails("command: x\nargs: some\n",
                TPATH ":2:7: 'args' must be none or any, not 'some'");
    parse_fails("command: x\nargs: [a]\n",
                TPATH ":2:7: 'args' must be a string, not a list");
}

static void test_command_uses_args(void **state)
{
    (void)state;
    assert_true(command_uses_args("bin/x \"$@\""));
    assert_true(command_uses_args("bin/x $@"));
    assert_true(command_uses_args("bin/x \"$1\" \"$2\""));
    assert_true(command_uses_args("bin/x $9"));
    assert_true(command_uses_args("bin/x \"$*\""));
    assert_true(command_uses_args("bin/x \"${@}\""));
    assert_true(command_uses_args("bin/x \"${1}\""));
    assert_true(command_uses_args("bin/x \"${1:-default}\""));
    assert_true(command_uses_args("echo $# args"));
    assert_true(command_uses_args("echo ${#}"));
    assert_false(command_uses_args("bin/x"));
    assert_false(command_uses_args(""));
    assert_false(command_uses_args("echo $HOME ${PATH} $0 $$ $?"));
    assert_false(command_uses_args("echo $"));
    assert_false(command_uses_args("price: 5$"));
}

static void test_timeout(void **state)
{
    struct task t;

    (void)state;
    parse_ok(&t, "command: x\ntimeout: 15m\n");
    assert_int_equal(t.timeout_ms, 900000);
    task_release(&t);
    parse_ok(&t, "command: x\ntimeout: 500ms\n");
    assert_int_equal(t.timeout_ms, 500);
    task_release(&t);

    parse_fails("command: x\ntimeout: 15\n",
                TPATH ":2:10: 'timeout': invalid duration '15': a number "
                      "needs a unit (ms, s, m, h, d)");
    parse_fails("command: x\ntimeout: 0s\n",
                TPATH ":2:10: 'timeout': duration '0s' must be greater than "
                      "zero");
    parse_fails("command: x\ntimeout: 400d\n",
                TPATH ":2:10: 'timeout': duration '400d' is too long");
    parse_fails("command: x\ntimeout: {m: 1}\n",
                TPATH ":2:10: 'timeout' must be a duration such as 15m, not "
                      "a mapping");
}

static void test_env_and_bools(void **state)
{
    (void)state;
    parse_fails("command: x\nenv: { 'BAD-NAME': 1 }\n",
                TPATH ":2:8: 'BAD-NAME' is not a valid environment variable "
                      "name");
    parse_fails("command: x\nenv: { A: { b: c } }\n",
                TPATH ":2:11: value of A in 'env' must be a string, not a "
                      "mapping");
    parse_fails("command: x\nenv: [A=1]\n",
                TPATH ":2:6: 'env' must be a mapping of NAME: value, not a "
                      "list");
    parse_fails("command: x\nlock: yes\n",
                TPATH ":2:7: 'lock' must be true or false, not 'yes'");
    parse_fails("command: x\nconfirm: no\n",
                TPATH ":2:10: 'confirm' must be true or false, not 'no'");
    parse_fails("command: x\npty: on\n",
                TPATH ":2:6: 'pty' must be true or false, not 'on'");
    parse_fails("command: x\nonce: 1\n",
                TPATH ":2:7: 'once' must be true or false, not '1'");
    parse_fails("command: x\nbecome: 'root; id'\n",
                TPATH ":2:9: 'root; id' is not a valid user name");
    parse_fails("command: x\nbatch: {a: 1}\n",
                TPATH ":2:8: 'batch' must be a string, not a mapping");
    parse_fails("command: x\nmax_fail: [1]\n",
                TPATH ":2:11: 'max_fail' must be a string, not a list");
}

static void test_sha256_of_exact_bytes(void **state)
{
    static const char migrate[] =
        "description: Apply pending schema migrations\n"
        "command: bin/migrate\n"
        "run_on: primary\n"
        "lock: true\n"
        "timeout: 15m\n"
        "args: none\n";
    struct task t;
    char digest[65];

    (void)state;
    /* Digests computed with sha256sum(1) over the same bytes. */
    parse_ok(&t, migrate);
    assert_string_equal(t.sha256, "736b54f6654fd0046194b1c9c5cdda5eda29966b71"
                                  "da817e318a33a313dabfc7");
    task_release(&t);

    parse_ok(&t, "command: echo hi\n");
    assert_string_equal(t.sha256, "75a37b3ff6a32b2191068daf656f153cf595631a1b"
                                  "2e4b0863b0f1a86387981a");
    task_release(&t);

    /* A comment changes nothing in the task but changes the digest. */
    parse_ok(&t, "command: echo hi\n# x\n");
    assert_string_equal(t.sha256, "25738e2f39e4ad1693ca304ce28613a2beb4e466d7"
                                  "de09df19a3ef493f1ae8fc");
    assert_string_equal(t.command, "echo hi");
    /* the history names a task by its file's digest */
    task_digest(&t, digest);
    assert_string_equal(digest, t.sha256);
    task_release(&t);
}

static void test_adhoc(void **state)
{
    struct task t;
    char digest[65];

    (void)state;
    task_adhoc(&t, "uptime; df -h");
    assert_string_equal(t.name, "exec");
    assert_string_equal(t.command, "uptime; df -h");
    assert_int_equal(t.run_on, RUN_ON_ALL);
    assert_int_equal(t.args, TASK_ARGS_NONE);
    assert_string_equal(t.sha256, "");
    /* ... and an ad-hoc command by the command's (sha256sum(1)) */
    task_digest(&t, digest);
    assert_string_equal(digest, "1f0e830305bc00f006657803a53af9006b69ccf0f7"
                                "706d0f03deb04356aa7e73");
    task_release(&t);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* A temporary project folder, removed even when a test fails. */
static int make_dir(void **state)
{
    char *dir = xstrdup("/tmp/oneoff-test-task-XXXXXX");

    if (mkdtemp(dir) == NULL) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int remove_dir(void **state)
{
    char *dir = *state, *cmd = xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);

    free(cmd);
    free(dir);
    return rc == 0 ? 0 : -1;
}

static void test_load_and_list(void **state)
{
    const char *dir = *state;
    char *tasks;
    struct task t;
    struct strlist names = {0};
    char err[ERR_MAX] = "";

    tasks = xasprintf("%s/tasks", dir);

    /* No tasks folder at all. */
    assert_int_equal(task_load(&t, dir, "db-migrate", err), -1);
    assert_string_equal(err, "no task 'db-migrate' (no tasks/db-migrate.yml); "
                             "tasks: none");
    assert_int_equal(task_list(dir, &names, err), -1);

    assert_int_equal(mkdir(tasks, 0700), 0);
    write_file(dir, "tasks/db-migrate.yml", "command: echo hi\n");
    write_file(dir, "tasks/report.yml", "command: bin/report\n");
    write_file(dir, "tasks/console.yml", "command: bin/console\npty: true\n");
    write_file(dir, "tasks/notes.txt", "not a task\n");
    write_file(dir, "tasks/.swap.yml", "command: x\n");
    write_file(dir, "tasks/broken.yml", "command: x\nargs: maybe\n");

    assert_int_equal(task_list(dir, &names, err), 0);
    assert_int_equal(names.n, 4);
    assert_string_equal(names.v[0], "broken");
    assert_string_equal(names.v[1], "console");
    assert_string_equal(names.v[2], "db-migrate");
    assert_string_equal(names.v[3], "report");
    strlist_clear(&names);

    assert_int_equal(task_load(&t, dir, "db-migrate", err), 0);
    assert_string_equal(t.name, "db-migrate");
    assert_string_equal(t.path, "tasks/db-migrate.yml");
    assert_string_equal(t.command, "echo hi");
    /* The digest of the file on disk. */
    assert_string_equal(t.sha256, "75a37b3ff6a32b2191068daf656f153cf595631a1b"
                                  "2e4b0863b0f1a86387981a");
    task_release(&t);

    /* A missing task lists the tasks that exist. */
    assert_int_equal(task_load(&t, dir, "deploy", err), -1);
    assert_string_equal(err, "no task 'deploy' (no tasks/deploy.yml); tasks: "
                             "broken, console, db-migrate, report");
    assert_null(t.name);

    /* Errors in a loaded file name its display path. */
    assert_int_equal(task_load(&t, dir, "broken", err), -1);
    assert_string_equal(err, "tasks/broken.yml:2:7: 'args' must be none or "
                             "any, not 'maybe'");

    /* A task name never reaches outside tasks/. */
    assert_int_equal(task_load(&t, dir, "../hosts/production", err), -1);
    assert_string_equal(err, "'../hosts/production' is not a valid task "
                             "name");
    assert_int_equal(task_load(&t, dir, "", err), -1);
    assert_string_equal(err, "'' is not a valid task name");

    free(tasks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_regress_batch_list_leak),
        cmocka_unit_test(test_invalid_name_escaped),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_required_command),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_run_on),
        cmocka_unit_test(test_role_key),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_command_uses_args),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_env_and_bools),
        cmocka_unit_test(test_sha256_of_exact_bytes),
        cmocka_unit_test(test_adhoc),
        cmocka_unit_test_setup_teardown(test_load_and_list, make_dir,
                                        remove_dir),
    };

    return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
