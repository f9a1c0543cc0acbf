/*
 * test_preflight.c - reading a host's framed report: the parser from
 * memory (whole, byte by byte, with noise around and between frames,
 * malformed frames), the task file's state, rolling-run sizes, and the
 * report the real script prints under dash, bash and busybox sh against a
 * fixture whose env file, login shell and stray processes are noisy and
 * whose release and task file have hostile names and bytes.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oneoff/plan.h"
#include "oneoff/preflight.h"
#include "script_harness.h"

#define N HARNESS_NONCE

/* Appends the frames of one value to b: a piece per line. */
static void frame(struct buf *b, const char *key, const char *v, size_t n)
{
    const char *nl;

    while ((nl = memchr(v, '\n', n)) != NULL) {
        assert_int_equal(buf_addf(b, "%s %s+ %zu ", N, key, (size_t)(nl - v)),
                         0);
        assert_int_equal(buf_add(b, v, (size_t)(nl - v) + 1), 0);
        n -= (size_t)(nl - v) + 1;
        v = nl + 1;
    }
    assert_int_equal(buf_addf(b, "%s %s %zu ", N, key, n), 0);
    assert_int_equal(buf_add(b, v, n), 0);
    assert_int_equal(buf_addc(b, '\n'), 0);
}

static void frames(struct buf *b, const char *key, const char *v)
{
    frame(b, key, v, strlen(v));
}

/* Parses text whole (step 0) or in pieces of step bytes; returns the
 * result of the last call. */
static int parse_steps(struct preflight *pf, const char *text, size_t len,
                       size_t step, struct buf *noise, char *err)
{
    size_t off = 0;
    int rc = 0;

    memset(pf, 0, sizeof(*pf));
    if (step == 0)
        return preflight_parse(pf, N, text, len, noise, err);
    while (off < len && rc == 0) {
        size_t n = len - off < step ? len - off : step;
        rc = preflight_parse(pf, N, text + off, n, noise, err);
        off += rc == 1 ? pf->used : n;
    }
    return rc;
}

static void test_full_report(void **state)
{
    struct buf b = BUF_INIT(1u << 20), noise = BUF_INIT(1u << 20);
    static const char task[] = "command: x\nno final newline";
    char err[ERR_MAX] = "";
    struct preflight pf;

    (void)state;
    assert_int_equal(buf_adds(&b, "motd from the login shell\npartial "), 0);
    frames(&b, "release", "/srv/app/releases/2026\nlock=held evil");
    assert_int_equal(
        buf_adds(&b, "fedcba9876543210fedcba9876543210 release 2 /x\n"), 0);
    frames(&b, "revision", "a1b2c3d");
    frame(&b, "task", task, sizeof(task) - 1);
    frames(&b, "lock", "held run 20261121T1 by ops since 2026 on db1");
    frames(&b, "future_key", "skipped");
    frames(&b, "locked", "db-migrate\nrun x by y");
    frames(&b, "locked", "fix\n");
    frames(&b, "ready", "");
    assert_int_equal(buf_adds(&b, "task output"), 0);
    for (size_t step = 0; step < 5; step++) {
        size_t steps[] = {0, 1, 7, 33, 4096};
        buf_reset(&noise);
        assert_int_equal(
            parse_steps(&pf, b.data, b.len, steps[step], &noise, err), 1);
        assert_string_equal(pf.release,
                            "/srv/app/releases/2026\nlock=held evil");
        assert_string_equal(preflight_release_id(&pf), "2026\nlock=held evil");
        assert_string_equal(pf.revision, "a1b2c3d");
        assert_int_equal(pf.task, PF_TASK_DIGEST);
        assert_int_equal(strlen(pf.task_sha256), 64);
        assert_true(pf.lock_checked);
        assert_true(pf.lock_held);
        assert_string_equal(pf.lock_holder,
                            "run 20261121T1 by ops since 2026 on db1");
        assert_int_equal(pf.nheld, 2);
        assert_string_equal(pf.held[0].name, "db-migrate");
        assert_string_equal(pf.held[0].holder, "run x by y");
        assert_string_equal(pf.held[1].name, "fix");
        assert_string_equal(pf.held[1].holder, "");
        assert_string_equal(buf_str(&noise), "motd from the login shell\n"
                                             "partial fedcba9876543210"
                                             "fedcba9876543210 release 2 "
                                             "/x\n");
        /* what follows the report is left to the caller */
        if (steps[step] == 0)
            assert_int_equal(pf.used, b.len - strlen("task output"));
        assert_int_equal(preflight_task_state(&pf, pf.task_sha256), TASK_SAME);
        assert_int_equal(preflight_task_state(&pf, "00"), TASK_DIFFERS);
        assert_int_equal(preflight_task_state(&pf, ""), TASK_STATE_NONE);
        /* later calls use nothing */
        assert_int_equal(preflight_parse(&pf, N, "x", 1, &noise, err), 1);
        assert_int_equal(pf.used, 0);
        preflight_release(&pf);
    }
    buf_release(&b);
    buf_release(&noise);
}

static void test_task_states(void **state)
{
    static const struct {
        const char *key, *value;
        enum task_state want;
    } cases[] = {
        {"task_sha256", "none", TASK_ABSENT},
        {"task_sha256", "unknown", TASK_UNKNOWN},
        {"task_sha256",
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         TASK_SAME},
        {NULL, NULL, TASK_STATE_NONE},
    };
    char err[ERR_MAX] = "";

    (void)state;
    assert_null(task_state_name(TASK_STATE_NONE));
    assert_string_equal(task_state_name(TASK_SAME), "same");
    assert_string_equal(task_state_name(TASK_DIFFERS), "differs");
    assert_string_equal(task_state_name(TASK_ABSENT), "absent");
    assert_string_equal(task_state_name(TASK_UNKNOWN), "unknown");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT(4096);
        struct preflight pf;
        frames(&b, "release", "/r/1");
        if (cases[i].key)
            frames(&b, cases[i].key, cases[i].value);
        frames(&b, "ready", "");
        assert_int_equal(parse_steps(&pf, b.data, b.len, 0, NULL, err), 1);
        assert_int_equal(
            preflight_task_state(&pf, "0123456789abcdef0123456789abcdef"
                                      "0123456789abcdef0123456789abcdef"),
            cases[i].want);
        assert_string_equal(pf.revision, "");
        assert_false(pf.lock_checked);
        preflight_release(&pf);
        buf_release(&b);
    }
}

static void expect_malformed(const char *text, size_t len, const char *want)
{
    struct preflight pf;
    char err[ERR_MAX] = "";

    for (size_t step = 0; step < 2; step++) {
        int rc = parse_steps(&pf, text, len, step, NULL, err);
        if (rc != -1)
            fail_msg("'%.60s': rc %d, want -1", text, rc);
        if (strstr(err, want) == NULL)
            fail_msg("error '%s' does not say '%s'", err, want);
        /* once broken, always broken */
        assert_int_equal(preflight_parse(&pf, N, "x", 1, NULL, err), -1);
        preflight_release(&pf);
    }
}

static void test_malformed(void **state)
{
    struct buf b = BUF_INIT(4u << 20);
    struct preflight pf;
    char err[ERR_MAX] = "";
    static const struct {
        const char *text, *want;
    } cases[] = {
        {N " ready 0 \n", "no release before 'ready'"},
        {N " release 8 relative\n" N " ready 0 \n", "not an absolute path"},
        {N "xrelease 2 /a\n", "no space after the nonce"},
        {N " release 2 /ab\n", "a value longer than its length"},
        {N " Release 2 /a\n", "a bad header"},
        {N " release 02 /a\n", "a bad header"},
        {N " release -2 /a\n", "a bad header"},
        {N " release 2\n/a\n", "a bad header"},
        {N " release  2 /a\n", "a bad header"},
        {N " release++ 2 /a\n", "a bad header"},
        {N " release 999999999 ", "a bad header"},
        {N " release 99999999 ", "a bad header"},
        {N " waytoolongakeyforanyframeofthisreport 0 \n", "a bad header"},
        {N " ready 1 x\n", "with a value"},
        {N " lock 4 busy\n", "neither free, held nor yield"},
        {N " task_sha256 3 abc\n", "not a digest"},
        {N " locked 3 abc\n", "a held lock without a name"},
        {N " release+ 1 /\n" N " revision 0 \n", "an unfinished value"},
        {N " release+ 1 /\n" N " ready 0 \n", "an unfinished value"},
        {N " release 2 /a\n" N " release 2 /b\n", "repeated"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_malformed(cases[i].text, strlen(cases[i].text), cases[i].want);
    expect_malformed(N " release 3 /\0a\n", strlen(N) + 16, "a NUL byte");
    /* a value that grows past 1 MiB over pieces */
    for (size_t i = 0; i < (1u << 20) / 101 + 10; i++)
        assert_int_equal(buf_addf(&b, "%s release+ 100 /%099d\n", N, 0), 0);
    expect_malformed(b.data, b.len, "a value longer than its limit");
    /* the largest piece is 1 MiB: waits for the rest */
    buf_reset(&b);
    assert_int_equal(buf_addf(&b, "%s release %u /", N, 1u << 20), 0);
    while (b.len < (1u << 20) + 40)
        assert_int_equal(buf_addc(&b, 'x'), 0);
    assert_int_equal(parse_steps(&pf, b.data, b.len, 0, NULL, err), 0);
    preflight_release(&pf);
    buf_release(&b);
    /* no nonce to look for */
    memset(&pf, 0, sizeof(pf));
    assert_int_equal(preflight_parse(&pf, "", "x", 1, NULL, err), -1);
    preflight_release(&pf);
}

/* Noise never grows the parser's memory: a megabyte of it, then a frame. */
static void test_noise_is_passed_on(void **state)
{
    struct buf b = BUF_INIT(8u << 20), noise = BUF_INIT(8u << 20);
    struct preflight pf;
    char err[ERR_MAX] = "";

    (void)state;
    while (b.len < (3u << 20))
        assert_int_equal(
            buf_adds(&b, "0123456789abcdef junk without our nonce 01234567"),
            0);
    /* a nonce's start, cut */
    assert_int_equal(buf_adds(&b, "0123456789abcdef0123"), 0);
    frames(&b, "release", "/r");
    frames(&b, "ready", "");
    assert_int_equal(parse_steps(&pf, b.data, b.len, 65536, &noise, err), 1);
    assert_string_equal(pf.release, "/r");
    assert_int_equal(noise.len, b.len - (strlen(N) + 14) - (strlen(N) + 10));
    assert_null(pf.in);
    preflight_release(&pf);
    buf_release(&b);
    buf_release(&noise);
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

/* ---- the real script's report ---- */

/* The login shell's noise: a line, a fake frame with another nonce, a
 * partial line, and a background process printing while the report is
 * written. */
static const char login_noise[] =
    "echo 'Welcome to the host'; "
    "printf 'ffffffffffffffffffffffffffffffff release 2 /x\\n'; "
    "printf 'no newline'; "
    "(for i in 1 2 3 4 5 6 7 8; do echo stray; done) & ";

/* Runs the check script under shell: report, then EOF. */
static void check_report(const struct app *a, struct proc *p, int shell,
                         const struct script_spec *s)
{
    char *script = script_compose(s);

    proc_init(p, shell, WORD_EOF);
    p->prefix = login_noise;
    proc_start(p, script, NULL);
    free(script);
    proc_wait(p, 10000);
    (void)a;
    if (p->pf_rc != 1)
        fail_msg("%s: no report (%d: %s), stderr: %s", harness_shells[shell],
                 p->pf_rc, p->pf_err, buf_str(&p->err));
    assert_true(proc_exited(p, 0));
}

static void test_script_report(void **state)
{
    struct app *a = *state;
    struct script_spec s;
    char *digest = sha256_file_hex(a->task_file);

    app_spec(a, &s, SCRIPT_CHECK, "true");
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        struct proc p;
        const char *noise;
        size_t stray = 0;
        check_report(a, &p, sh, &s);
        assert_string_equal(p.pf.release, a->release_real);
        assert_string_equal(p.pf.revision, "a1b2c3d");
        assert_int_equal(p.pf.task, PF_TASK_DIGEST);
        assert_string_equal(p.pf.task_sha256, digest);
        assert_int_equal(preflight_task_state(&p.pf, digest), TASK_SAME);
        assert_false(p.pf.lock_checked);
        assert_int_equal(p.pf.nheld, 0);
        /* noise apart: the env file's on stderr, the login shell's and the
         * stray process's outside the frames */
        noise = buf_str(&p.noise);
        assert_int_equal(strncmp(noise, "Welcome to the host\n", 20), 0);
        assert_non_null(strstr(noise, "ffffffffffffffffffffffffffffffff "
                                      "release 2 /x\n"));
        assert_non_null(strstr(noise, "no newline"));
        for (const char *q = buf_str(&p.out); (q = strstr(q, "stray\n")); q++)
            stray++;
        assert_int_equal(stray, 8);
        assert_non_null(strstr(buf_str(&p.err), "env-junk-out\n"));
        assert_null(strstr(buf_str(&p.out), "env-junk"));
        proc_release(&p);
        group_wait_empty(p.pid, 2000);
    }
    free(digest);
}

static void test_script_report_hostile_names(void **state)
{
    struct app *a = *state;
    static const char name[] = "r\nlock=held evil";
    char *rel = xasprintf("%s/releases/%s", a->app_dir, name);
    char *link = xasprintf("%s/current", a->app_dir);
    char *file, *digest;
    struct buf big = BUF_INIT(1u << 20);
    struct script_spec s;
    /* task files: no final newline, CR, backslashes, invalid UTF-8, a
     * line of blanks, exactly 4 KiB, one byte more */
    static const char odd[] = "a\\b \\\\n\r\n  \t\n\xff\xfe caf\xc3\xa9\n\n"
                              "no newline at the end \\";

    assert_int_equal(mkdir(rel, 0700), 0);
    file = xasprintf("%s/tasks", rel);
    assert_int_equal(mkdir(file, 0700), 0);
    free(file);
    file = xasprintf("%s/REVISION", rel);
    write_file(file, "lock=held evil\n");
    free(file);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(rel, link), 0);
    file = xasprintf("%s/tasks/t.yml", rel);
    app_spec(a, &s, SCRIPT_CHECK, "true");
    for (int round = 0; round < 4; round++) {
        /* 0: odd bytes; 1: 4 KiB exactly, sent as content; 2: a byte
         * more, hashed on the host; 3: one 20 KB line */
        static const size_t sizes[] = {0, 4096, 4097, 20000};
        buf_reset(&big);
        if (round == 0)
            assert_int_equal(buf_add(&big, odd, sizeof(odd) - 1), 0);
        while (big.len < sizes[round])
            assert_int_equal(
                buf_adds(&big, round == 3 ? "x" : "0123456789abcd\n"), 0);
        write_bytes(file, big.data, round ? sizes[round] : big.len);
        digest = sha256_file_hex(file);
        for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
            struct proc p;
            check_report(a, &p, sh, &s);
            assert_string_equal(preflight_release_id(&p.pf), name);
            assert_string_equal(p.pf.revision, "lock=held evil");
            assert_false(p.pf.lock_checked);
            if (strcmp(p.pf.task_sha256, digest) != 0)
                fail_msg("%s: round %d: digest %s, want %s", harness_shells[sh],
                         round, p.pf.task_sha256, digest);
            proc_release(&p);
        }
        free(digest);
    }
    unlink(file);
    {
        struct proc p;
        check_report(a, &p, 0, &s);
        assert_int_equal(preflight_task_state(&p.pf, "ab"), TASK_ABSENT);
        proc_release(&p);
    }
    buf_release(&big);
    free(file);
    free(rel);
    free(link);
}

/* LC_ALL is C for the report only: the task sees the env file's value,
 * or none. */
static void test_script_locale_restored(void **state)
{
    struct app *a = *state;
    struct script_spec s;

    app_spec(a, &s, SCRIPT_RUN, "echo \"[${LC_ALL-unset}]\"");
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            FILE *f = fopen(a->env_file, "a");
            fputs("LC_ALL=C.UTF-8\n", f);
            fclose(f);
        }
        for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
            struct proc p;
            char *script = script_compose(&s);
            proc_init(&p, sh, WORD_GO);
            proc_start(&p, script, NULL);
            free(script);
            proc_wait(&p, 10000);
            assert_string_equal(proc_task_out(&p),
                                round ? "[C.UTF-8]\n" : "[unset]\n");
            proc_release(&p);
        }
    }
}

/* check: the lock is tested, never kept, and every held lock is listed;
 * the script waits for EOF. */
static void test_script_check_locks(void **state)
{
    struct app *a = *state;
    char *dir = xasprintf("%s/shared/.oneoff", a->app_dir), *lf;
    struct script_spec s;
    struct proc p;
    char *script;
    int fd;

    (void)mkdir(dir, 0700); /* the harness may have made it */
    free(dir);
    dir = xasprintf("%s/shared/.oneoff/locks", a->app_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    lf = xasprintf("%s/held-one.lock", dir);
    write_file(lf, "run 20261121T000000Z-aaaaaa by x on h\nsecond line\n");
    fd = open(lf, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    free(lf);
    lf = xasprintf("%s/free-one.lock", dir);
    write_file(lf, "run old\n");
    free(lf);
    app_spec(a, &s, SCRIPT_CHECK, "true");
    s.lock = "t";
    s.check_locks = true;
    script = script_compose(&s);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        proc_init(&p, sh, WORD_NONE);
        proc_start(&p, script, NULL);
        proc_wait_ready(&p, 5000);
        assert_int_equal(p.pf_rc, 1);
        assert_true(p.pf.lock_checked);
        assert_false(p.pf.lock_held);
        assert_int_equal(p.pf.nheld, 1);
        assert_string_equal(p.pf.held[0].name, "held-one");
        assert_string_equal(p.pf.held[0].holder,
                            "run 20261121T000000Z-aaaaaa by x on h");
        /* waiting for EOF, not holding t's lock */
        sleep_ms(50);
        assert_false(p.reaped);
        lf = xasprintf("%s/t.lock", dir);
        {
            int t = open(lf, O_RDONLY | O_CLOEXEC);
            assert_true(t >= 0);
            assert_int_equal(flock(t, LOCK_EX | LOCK_NB), 0);
            close(t);
        }
        free(lf);
        proc_send(&p, NULL);
        proc_wait(&p, 5000);
        assert_true(proc_exited(&p, 0));
        proc_release(&p);
    }
    close(fd);
    free(script);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_report),
        cmocka_unit_test(test_task_states),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_noise_is_passed_on),
        cmocka_unit_test(test_rollout),
        cmocka_unit_test_setup_teardown(test_script_report, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_script_report_hostile_names,
                                        app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_script_locale_restored, app_setup,
                                        app_teardown),
        cmocka_unit_test_setup_teardown(test_script_check_locks, app_setup,
                                        app_teardown),
    };

    return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
