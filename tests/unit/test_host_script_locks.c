/*
 * test_host_script_locks.c - the task's lock as src/host_script.sh takes
 * it, under dash, bash and busybox sh: taken and kept from the report on,
 * refused with the holder's line, never run on a word it did not earn,
 * tested but never kept by a check, and decided between two runs by age:
 * a run waits for a younger holder (which its client refuses and so
 * frees), and is refused by an older one. The regression test of the
 * measured bug runs two locked runs started together on five "hosts" and
 * checks that exactly the older one runs, every time.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oneoff/host_script.h"
#include "oneoff/util.h"
#include "script_harness.h"

#define OLD_ID "20261121T091234Z-0000ff"
#define YOUNG_ID "20261121T091234Z-000100" /* same second, larger suffix */

static char *holder_of(const char *id)
{
    return xasprintf("run %s by tester since now on h", id);
}

/* Starts a script of run id on lock name, in mode, with word. */
static void start(const struct app *a, struct proc *p, int shell,
                  enum script_mode mode, const char *id, const char *lock,
                  long wait_s, enum word word, const char *cmd)
{
    struct script_spec s;
    char *holder = holder_of(id), *script;

    app_spec(a, &s, mode, cmd ? cmd : "true");
    s.run_id = id;
    s.lock = lock;
    s.lock_holder = holder;
    s.lock_wait_s = wait_s;
    s.check_locks = mode == SCRIPT_CHECK;
    script = script_compose(&s);
    proc_init(p, shell, word);
    proc_start(p, script, NULL);
    free(script);
    free(holder);
}

static char *lock_path(const struct app *a, const char *name)
{
    return xasprintf("%s/shared/.oneoff/locks/%s.lock", a->app_dir, name);
}

/* True when some process holds the lock file's flock. */
static bool lock_busy(const struct app *a, const char *name)
{
    char *p = lock_path(a, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    bool busy;

    free(p);
    if (fd < 0)
        return false;
    busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

static void expect_holder(const struct proc *p, const char *id)
{
    char *want = holder_of(id);

    if (!p->pf.lock_held || strcmp(p->pf.lock_holder, want) != 0)
        fail_msg("%s: lock %s by '%s', want held by '%s'",
                 harness_shells[p->shell], p->pf.lock_held ? "held" : "free",
                 p->pf.lock_holder ? p->pf.lock_holder : "", want);
    free(want);
}

static void test_lock_taken_kept_refused(void **state)
{
    struct app *a = *state;
    char *marker = xasprintf("%s/ran", a->root);
    char *touch = xasprintf("touch '%s'", marker);

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc holder, other, check;
        char *line = NULL, *lf = lock_path(a, "t");
        size_t len = 0;

        /* taken during the report, and kept while the client decides */
        start(a, &holder, sh, SCRIPT_RUN, OLD_ID, "t", 0, WORD_NONE,
              "sleep 0.3; echo done");
        proc_wait_ready(&holder, 5000);
        assert_true(holder.pf.lock_checked);
        assert_false(holder.pf.lock_held);
        assert_true(lock_busy(a, "t"));
        assert_int_equal(file_read(lf, 4096, &line, &len), 0);
        assert_string_equal(line, "run " OLD_ID " by tester since now on h\n");
        free(line);

        /* another run is told who holds it, and runs nothing on "go" */
        start(a, &other, sh, SCRIPT_RUN, YOUNG_ID, "t", 0, WORD_GO, touch);
        proc_wait(&other, 5000);
        expect_holder(&other, OLD_ID);
        assert_true(proc_exited(&other, SCRIPT_SETUP_FAILED));
        assert_non_null(strstr(buf_str(&other.err),
                               "oneoff: the lock of task 't' is held; the "
                               "task did not start\n"));
        assert_false(path_exists(marker));
        proc_release(&other);

        /* a check sees it held, and lists it */
        start(a, &check, sh, SCRIPT_CHECK, YOUNG_ID, "t", 0, WORD_EOF, NULL);
        proc_wait(&check, 5000);
        expect_holder(&check, OLD_ID);
        assert_int_equal(check.pf.nheld, 1);
        assert_string_equal(check.pf.held[0].name, "t");
        assert_string_equal(check.pf.held[0].holder,
                            "run " OLD_ID " by tester since now on h");
        assert_true(proc_exited(&check, 0));
        proc_release(&check);

        /* the task inherits it: held until the task ends, then free */
        proc_send(&holder, SCRIPT_GO);
        sleep_ms(100);
        assert_true(lock_busy(a, "t"));
        proc_wait(&holder, 5000);
        assert_true(proc_exited(&holder, 0));
        assert_string_equal(proc_task_out(&holder), "done\n");
        assert_false(lock_busy(a, "t"));
        proc_release(&holder);

        /* free again: a check reports it free and does not keep it */
        start(a, &check, sh, SCRIPT_CHECK, YOUNG_ID, "t", 0, WORD_NONE, NULL);
        proc_wait_ready(&check, 5000);
        assert_true(check.pf.lock_checked);
        assert_false(check.pf.lock_held);
        assert_false(lock_busy(a, "t"));
        proc_send(&check, NULL);
        proc_wait(&check, 5000);
        proc_release(&check);
        free(lf);
    }
    free(touch);
    free(marker);
}

/* The lock directory is created when missing (the rare path). */
static void test_lock_dir_created(void **state)
{
    struct app *a = *state;
    struct proc p;
    char *dir = xasprintf("%s/shared/.oneoff/locks", a->app_dir);

    assert_false(path_exists(dir));
    start(a, &p, 0, SCRIPT_RUN, OLD_ID, "t", 0, WORD_GO, "true");
    proc_wait(&p, 5000);
    assert_true(proc_exited(&p, 0));
    assert_true(path_exists(dir));
    proc_release(&p);
    free(dir);
}

/* Older against younger, each shell on a lock of its own, at once. */
static void test_lock_older_wins(void **state)
{
    struct app *a = *state;
    struct proc young[HARNESS_NSHELLS], old[HARNESS_NSHELLS];
    char names[HARNESS_NSHELLS][8];
    int64_t t0;

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
        snprintf(names[sh], sizeof(names[sh]), "w%d", sh);

    /* a younger holder: the older run waits for it */
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        start(a, &young[sh], sh, SCRIPT_RUN, YOUNG_ID, names[sh], 0, WORD_NONE,
              NULL);
        proc_wait_ready(&young[sh], 5000);
        start(a, &old[sh], sh, SCRIPT_RUN, OLD_ID, names[sh], 0, WORD_NONE,
              NULL);
    }
    t0 = clock_mono_ms();
    while (clock_mono_ms() - t0 < 700) {
        proc_poll(old, HARNESS_NSHELLS);
        proc_poll(young, HARNESS_NSHELLS);
    }
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        assert_int_equal(old[sh].pf_rc, 0); /* still waiting */
        proc_send(&young[sh], NULL);        /* its client refuses it */
    }
    proc_wait_all(young, HARNESS_NSHELLS, 5000);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        proc_wait_ready(&old[sh], 5000);
        assert_false(old[sh].pf.lock_held);
        proc_send(&old[sh], NULL);
        proc_release(&young[sh]);
    }
    proc_wait_all(old, HARNESS_NSHELLS, 5000);

    /* an older holder: the younger run is told at once (after its second
     * look), and so is a run facing a holder line that names no run */
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        proc_release(&old[sh]);
        start(a, &old[sh], sh, SCRIPT_RUN, OLD_ID, names[sh], 0, WORD_NONE,
              NULL);
        proc_wait_ready(&old[sh], 5000);
        start(a, &young[sh], sh, SCRIPT_RUN, YOUNG_ID, names[sh], 0, WORD_EOF,
              NULL);
    }
    proc_wait_all(young, HARNESS_NSHELLS, 5000);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        expect_holder(&young[sh], OLD_ID);
        if (young[sh].ready_ms > 2000)
            fail_msg("%s: told after %lld ms", harness_shells[sh],
                     (long long)young[sh].ready_ms);
        proc_release(&young[sh]);
        proc_send(&old[sh], NULL);
    }
    proc_wait_all(old, HARNESS_NSHELLS, 5000);

    /* --wait-lock: an older holder still in its preflight may be waiting
     * for a lock this run holds elsewhere: this run yields at once (its
     * client lets go of every lock and tries again) */
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        proc_release(&old[sh]);
        start(a, &old[sh], sh, SCRIPT_RUN, OLD_ID, names[sh], 0, WORD_NONE,
              NULL);
        proc_wait_ready(&old[sh], 5000);
        start(a, &young[sh], sh, SCRIPT_RUN, YOUNG_ID, names[sh], 5, WORD_EOF,
              NULL);
    }
    proc_wait_all(young, HARNESS_NSHELLS, 5000);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        assert_true(young[sh].pf.lock_held);
        assert_true(young[sh].pf.lock_yield);
        expect_holder(&young[sh], OLD_ID);
        proc_release(&young[sh]);
    }

    /* --wait-lock: an older holder that runs its task (its holder line
     * says so) is waited for that long */
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        char *lf = lock_path(a, names[sh]);
        char *holder = holder_of(OLD_ID);
        char *line = xasprintf("%s (running)\n", holder);
        FILE *f = fopen(lf, "w");
        assert_non_null(f);
        fputs(line, f);
        fclose(f);
        free(line);
        free(holder);
        free(lf);
        start(a, &young[sh], sh, SCRIPT_RUN, YOUNG_ID, names[sh], 5, WORD_EOF,
              NULL);
    }
    sleep_ms(600);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
        proc_send(&old[sh], NULL);
    proc_wait_all(young, HARNESS_NSHELLS, 8000);
    proc_wait_all(old, HARNESS_NSHELLS, 5000);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        assert_false(young[sh].pf.lock_held);
        assert_true(young[sh].ready_ms >= 500);
        proc_release(&young[sh]);
        proc_release(&old[sh]);
    }
}

/* A holder line that names no run (or a hostile one) counts as older. */
static void test_lock_unknown_holder(void **state)
{
    struct app *a = *state;
    char *dir = xasprintf("%s/shared/.oneoff", a->app_dir), *lf;
    static const char *const lines[] = {"lock=held evil\n", "",
                                        "run 2026$(touch x) by y\n",
                                        "run 99999999T999999Z-ffffff0 by y\n"};
    int fd;

    (void)mkdir(dir, 0700); /* the harness may have made it */
    free(dir);
    dir = xasprintf("%s/shared/.oneoff/locks", a->app_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    lf = lock_path(a, "t");
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        write_file(lf, lines[i]);
        fd = open(lf, O_RDONLY | O_CLOEXEC);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        struct proc p[HARNESS_NSHELLS];
        for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
            start(a, &p[sh], sh, SCRIPT_RUN, YOUNG_ID, "t", 0, WORD_EOF, NULL);
        proc_wait_all(p, HARNESS_NSHELLS, 5000);
        for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
            assert_true(p[sh].pf.lock_held);
            assert_int_equal(strncmp(p[sh].pf.lock_holder, lines[i],
                                     strcspn(lines[i], "\n")),
                             0);
            assert_true(p[sh].ready_ms < 2000);
            proc_release(&p[sh]);
        }
        close(fd);
    }
    free(lf);
    free(dir);
}

/* The measured bug: two runs of a locked task started together on five
 * hosts, where both used to be refused, each holding some hosts. Each
 * client decides once all its hosts reported: a held lock anywhere refuses
 * the run (EOF everywhere, which frees its locks), else "go" everywhere.
 * The older run must run, on every host; the younger is refused, unless it
 * took every lock first, and then it ran before the older on every host,
 * never beside it. A host is a lock name here. */
static void two_runs_five_hosts(struct app *a, int shell, unsigned order)
{
    struct proc runs[2][5];
    static const char *const ids[2] = {OLD_ID, YOUNG_ID};
    static const char *const hosts[5] = {"h1", "h2", "h3", "h4", "h5"};
    bool decided[2] = {false, false}, went[2] = {false, false};
    int64_t t0 = clock_mono_ms();

    /* interleaved starts: on host i, the younger first when bit i is set */
    for (int i = 0; i < 5; i++) {
        int first = (order >> i) & 1;
        for (int k = 0; k < 2; k++) {
            int r = k ? !first : first;
            start(a, &runs[r][i], shell, SCRIPT_RUN, ids[r], hosts[i], 0,
                  WORD_NONE,
                  "printf 's%s\\n' \"$(date +%s%N)\"; sleep 0.2; "
                  "printf 'e%s\\n' \"$(date +%s%N)\"");
        }
    }
    while (!decided[0] || !decided[1]) {
        if (clock_mono_ms() - t0 > 15000)
            fail_msg("%s, order %u: no decision after 15 s",
                     harness_shells[shell], order);
        for (int r = 0; r < 2; r++) {
            int reported = 0, held = 0;
            proc_poll(runs[r], 5);
            for (int i = 0; i < 5; i++) {
                if (runs[r][i].pf_rc == 1)
                    reported++;
                if (runs[r][i].pf_rc == 1 && runs[r][i].pf.lock_held)
                    held++;
            }
            if (decided[r] || reported < 5)
                continue;
            decided[r] = true;
            went[r] = held == 0;
            for (int i = 0; i < 5; i++)
                proc_send(&runs[r][i], went[r] ? SCRIPT_GO : NULL);
        }
        sleep_ms(5);
    }
    proc_wait_all(runs[0], 5, 10000);
    proc_wait_all(runs[1], 5, 10000);
    if (!went[0])
        fail_msg("%s, order %u: the older run was refused (the younger %s)",
                 harness_shells[shell], order,
                 went[1] ? "ran" : "was refused too");
    for (int i = 0; i < 5 && went[1]; i++) {
        /* both ran: one after the other */
        unsigned long long s0 = 0, e1 = 0;
        sscanf(proc_task_out(&runs[0][i]), "s%llu", &s0);
        sscanf(strchr(proc_task_out(&runs[1][i]), 'e') + 1, "%llu", &e1);
        if (s0 == 0 || e1 == 0 || s0 < e1)
            fail_msg("%s, order %u, %s: the runs overlapped",
                     harness_shells[shell], order, hosts[i]);
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 5; i++)
            proc_release(&runs[r][i]);
}

static void test_two_runs_five_hosts(void **state)
{
    static const unsigned orders[] = {0x00, 0x1f, 0x15};
    struct app *a = *state;

    for (size_t k = 0; k < sizeof(orders) / sizeof(orders[0]); k++)
        two_runs_five_hosts(a, 0, orders[k]);
    two_runs_five_hosts(a, 1, 0x03);
    two_runs_five_hosts(a, 2, 0x15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_taken_kept_refused, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_lock_dir_created, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_lock_older_wins, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_lock_unknown_holder, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_two_runs_five_hosts, app_setup,
                                        app_teardown),
    };

    return cmocka_run_group_tests_name("host_script_locks", tests, NULL, NULL);
}
