/*
 * test_script_line.c - unit tests for script_compose_line(): the command
 * line it builds in one pass is byte for byte the one
 * script_command_line() makes of
 * script_compose()'s script, in every mode, with and without a runtime, a
 * job, become and arguments, for values full of quotes; and a shell reads
 * the script back whole.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/host_script.h"
#include "oneoff/util.h"

static void fill(struct script_spec *s, struct strlist *files,
                 struct kvlist *env)
{
    memset(s, 0, sizeof(*s));
    strlist_push(files, "shared/.env");
    strlist_push(files, "it's/'quoted'");
    kvlist_set(env, "A", "a'b''c'");
    kvlist_set(env, "B", "");
    s->mode = SCRIPT_RUN;
    s->nonce = "0123456789abcdef0123456789abcdef";
    s->run_id = "20261121T091234Z-00aa11";
    s->label = "task 'x' on host 'y'";
    s->app_dir = "/srv/o'neil app";
    s->release = "current";
    s->env_files = files;
    s->env = env;
    s->task_file = "tasks/x.yml";
    s->lock = "x";
    s->lock_holder = "run 'r' by me";
    s->command = "echo 'it''s' \"$1\"";
    s->host = "web'1";
}

static void same_line(const struct script_spec *s, const char *become,
                      const struct strlist *args)
{
    char *script = script_compose(s);
    char *want = script_command_line(script, become, args);
    char *got = script_compose_line(s, become, args);

    assert_string_equal(got, want);
    free(script);
    free(want);
    free(got);
}

static void test_modes(void **state)
{
    struct strlist files = {0}, args = {0};
    struct kvlist env = {0};
    struct script_spec s;
    const enum script_mode modes[] = {SCRIPT_RUN, SCRIPT_CHECK, SCRIPT_HISTORY,
                                      SCRIPT_HISTORY_NOTE};

    (void)state;
    fill(&s, &files, &env);
    strlist_push(&args, "a'rg");
    strlist_push(&args, "");
    for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++) {
        s.mode = modes[i];
        s.note = modes[i] == SCRIPT_HISTORY_NOTE ? "{\"n\":'1'}" : NULL;
        same_line(&s, NULL, NULL);
        same_line(&s, "dep'loy", &args);
    }
    strlist_clear(&files);
    strlist_clear(&args);
    kvlist_clear(&env);
}

static void test_runtime_and_job(void **state)
{
    struct strlist files = {0};
    struct kvlist env = {0};
    struct script_spec s;
    struct runtime rt;
    char image_of[] = "'app'", network_of[] = "net";

    (void)state;
    fill(&s, &files, &env);
    memset(&rt, 0, sizeof(rt));
    rt.kind = RUNTIME_IMAGE;
    rt.image_of = image_of;
    rt.network_of = network_of;
    s.runtime = &rt;
    same_line(&s, "root", NULL);
    s.job = "detach";
    s.job_run = "20261121T091234Z-00aa11";
    s.hist = "\"k\":'v'";
    same_line(&s, NULL, NULL);
    s.runtime = NULL;
    same_line(&s, NULL, NULL);
    strlist_clear(&files);
    kvlist_clear(&env);
}

/* Several threads build lines at once: the escaped scripts are made once
 * and only read after (the thread sanitizer build checks it). */
static void *build_lines(void *arg)
{
    const struct script_spec *s = arg;

    for (int i = 0; i < 20; i++)
        free(script_compose_line(s, NULL, NULL));
    return NULL;
}

static void test_threads(void **state)
{
    struct strlist files = {0};
    struct kvlist env = {0};
    struct script_spec s;
    pthread_t t[4];

    (void)state;
    fill(&s, &files, &env);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, build_lines, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    same_line(&s, NULL, NULL);
    strlist_clear(&files);
    kvlist_clear(&env);
}

/* The functions of each part of host_script.sh, and what is always sent */
static const char *const always[] = {"oneoff_history_end", NULL};
static const char *const task_fns[] = {"oneoff_report_task", NULL};
static const char *const lock_fns[] = {"oneoff_id_key", "oneoff_lock_take",
                                       "oneoff_report_lock", NULL};
static const char *const held_fns[] = {"oneoff_report_held", NULL};
static const char *const hist_fns[] = {"oneoff_report_history", NULL};
static const char *const input_fns[] = {"oneoff_demux", NULL};

/* script defines every function of fns, or none of them */
static void expect_fns(const char *script, const char *const *fns, bool has)
{
    for (; *fns; fns++) {
        char want[64];
        snprintf(want, sizeof(want), "\n%s() {\n", *fns);
        if ((strstr(script, want) != NULL) != has)
            fail_msg("%s: %s", *fns, has ? "missing" : "sent, not needed");
    }
}

/* A host gets only the parts of the script its run calls, never a part's
 * marker line; a line form has the same parts. */
static void test_parts(void **state)
{
    static const char sha[] = "0123456789abcdef0123456789abcdef"
                              "0123456789abcdef0123456789abcdef";
    const struct {
        enum script_mode mode;
        const char *lock, *once;
        bool check_locks, input;
        bool lock_p, held_p, hist_p, input_p; /* the parts sent */
    } cases[] = {
        {SCRIPT_RUN, NULL, NULL, false, false, false, false, false, false},
        {SCRIPT_RUN, "x", NULL, false, false, true, false, false, false},
        {SCRIPT_RUN, NULL, sha, false, true, false, false, true, true},
        {SCRIPT_HISTORY, NULL, NULL, false, false, false, false, true, false},
        {SCRIPT_CHECK, "x", NULL, true, false, true, true, false, false},
    };
    struct strlist files = {0};
    struct kvlist env = {0};
    struct script_spec s;
    char *script;

    (void)state;
    fill(&s, &files, &env);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        s.mode = cases[i].mode;
        s.lock = cases[i].lock;
        s.once_sha256 = cases[i].once;
        s.check_locks = cases[i].check_locks;
        s.input = cases[i].input;
        script = script_compose(&s);
        assert_null(strstr(script, "#@"));
        expect_fns(script, always, true);
        expect_fns(script, task_fns, true); /* fill(): a task's file */
        expect_fns(script, lock_fns, cases[i].lock_p);
        expect_fns(script, held_fns, cases[i].held_p);
        expect_fns(script, hist_fns, cases[i].hist_p);
        expect_fns(script, input_fns, cases[i].input_p);
        free(script);
        same_line(&s, i % 2 ? "root" : NULL, NULL);
    }
    /* an ad-hoc command has no task file to report: no task part */
    s.mode = SCRIPT_RUN;
    s.lock = s.once_sha256 = NULL;
    s.check_locks = s.input = false;
    s.task_file = NULL;
    script = script_compose(&s);
    assert_null(strstr(script, "#@"));
    expect_fns(script, always, true);
    expect_fns(script, task_fns, false);
    free(script);
    same_line(&s, NULL, NULL);
    strlist_clear(&files);
    kvlist_clear(&env);
}

/* A shell given the line's quoted script reads back the very script. */
static void test_shell_reads_it_back(void **state)
{
    struct strlist files = {0};
    struct kvlist env = {0};
    struct script_spec s;
    char *script, *line, *cmd, *path;
    FILE *f;
    struct buf got = BUF_INIT(1u << 20);
    char chunk[4096];
    size_t n;

    (void)state;
    fill(&s, &files, &env);
    script = script_compose(&s);
    line = script_compose_line(&s, NULL, NULL);
    /* "exec /bin/sh -c 'SCRIPT' oneoff": print the word instead */
    assert_true(strncmp(line, "exec /bin/sh -c ", 16) == 0);
    path = xasprintf("%s/oneoff-script-line.XXXXXX",
                     getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    {
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
    }
    fprintf(f, "printf %%s %.*s\n", (int)(strlen(line) - 16 - 7), line + 16);
    fclose(f);
    cmd = xasprintf("/bin/sh %s", path);
    f = popen(cmd, "r");
    assert_non_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_add(&got, chunk, n), 0);
    assert_int_equal(pclose(f), 0);
    assert_string_equal(buf_str(&got), script);
    unlink(path);
    free(path);
    free(cmd);
    free(script);
    free(line);
    buf_release(&got);
    strlist_clear(&files);
    kvlist_clear(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_runtime_and_job),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_shell_reads_it_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
