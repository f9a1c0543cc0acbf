/*
 * test_host_script_stops.c - stops that always land, and the footprint of
 * src/host_script.sh, under dash, bash and busybox sh.
 *
 * The watchdog: when the script's stdin reaches EOF (the client stops the
 * task, closes the channel, the connection drops), the task's whole
 * process group gets TERM, then KILL five seconds later; a task that
 * ignores TERM ends too, also after a TERM to the whole group first (what
 * sshd does for an SSH "signal" request: killpg), and no process is left.
 * A TERM to the group alone lets a task that handles it report how it
 * ended. Footprint: with strace, the processes the script starts.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oneoff/host_script.h"
#include "oneoff/util.h"
#include "script_harness.h"

#define GRACE_MS 5000

enum stop_case {
    STOP_STUBBORN,         /* ignores TERM; stdin EOF */
    STOP_STUBBORN_KILLPG,  /* ignores TERM; killpg TERM, then EOF */
    STOP_PLAIN,            /* dies of TERM; stdin EOF */
    STOP_KILLPG_HANDLED,   /* handles TERM and exits 3; killpg TERM only */
    STOP_STUBBORN_NO_PATH, /* ignores TERM, its env has no PATH; EOF */
    STOP_CASES
};

static const char *const stubborn = "trap '' TERM INT HUP; sleep 300";

static void start_case(const struct app *a, struct proc *p, int shell,
                       enum stop_case c)
{
    struct script_spec s;
    struct kvlist env = {0};
    char *script;

    app_spec(a, &s, SCRIPT_RUN, stubborn);
    if (c == STOP_PLAIN)
        s.command = "sleep 30 & sleep 30";
    if (c == STOP_KILLPG_HANDLED)
        s.command = "trap 'echo got TERM; exit 3' TERM; sleep 30 & wait";
    if (c == STOP_STUBBORN_NO_PATH) {
        kvlist_set(&env, "PATH", "/nonexistent");
        s.command = "trap '' TERM INT HUP; /bin/sleep 300";
        s.env = &env;
    }
    script = script_compose(&s);
    proc_init(p, shell, WORD_GO);
    if (c == STOP_STUBBORN_KILLPG || c == STOP_KILLPG_HANDLED) {
        p->signal = SIGTERM;
        p->signal_after_ms = 300;
    }
    if (c != STOP_KILLPG_HANDLED)
        p->eof_after_ms = c == STOP_STUBBORN_KILLPG ? 600 : 300;
    proc_start(p, script, NULL);
    free(script);
    kvlist_clear(&env);
}

/* Every case under every shell, all at once (the grace period is the
 * test's length). */
static void test_stops(void **state)
{
    struct app *a = *state;
    struct proc p[HARNESS_NSHELLS * STOP_CASES];
    size_t n = 0;

    for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
        for (int c = 0; c < STOP_CASES; c++)
            start_case(a, &p[n++], sh, (enum stop_case)c);
    proc_wait_all(p, n, GRACE_MS + 6000);
    for (size_t i = 0; i < n; i++) {
        enum stop_case c = (enum stop_case)(i % STOP_CASES);
        const char *sh = harness_shells[i / STOP_CASES];
        /* from the EOF (or the TERM) to the script's end */
        int64_t after = p[i].exit_ms - p[i].word_ms -
                        (c == STOP_STUBBORN_KILLPG  ? 600
                         : c == STOP_KILLPG_HANDLED ? 300
                                                    : 300);

        switch (c) {
        case STOP_STUBBORN:
        case STOP_STUBBORN_KILLPG:
        case STOP_STUBBORN_NO_PATH:
            /* TERM ignored: KILL after the grace period, for all */
            if (!proc_signaled(&p[i], SIGKILL) || after < GRACE_MS - 500 ||
                after > GRACE_MS + 3000)
                fail_msg("%s, case %d: status 0x%x %lld ms after the stop", sh,
                         c, p[i].status, (long long)after);
            break;
        case STOP_PLAIN:
            if (!proc_signaled(&p[i], SIGTERM) || after > 2500)
                fail_msg("%s, plain task: status 0x%x %lld ms after EOF", sh,
                         p[i].status, (long long)after);
            break;
        default:
            /* the script outlived the group's TERM and reports the task */
            if (!proc_exited(&p[i], 3) || after > 2500)
                fail_msg("%s, handled TERM: status 0x%x %lld ms after it", sh,
                         p[i].status, (long long)after);
            assert_string_equal(proc_task_out(&p[i]), "got TERM\n");
            break;
        }
    }
    /* nothing is left of any group: task, its children, the watchdog (its
     * grace sleep lasts at most the grace period) */
    for (size_t i = 0; i < n; i++) {
        group_wait_empty(p[i].pid, GRACE_MS + 1000);
        proc_release(&p[i]);
    }
}

/* What the script starts, as strace -f sees it. */
struct trace {
    int forks;
    char execs[512]; /* programs, space-separated, after the shell's own */
    int writes;      /* writes to stdout (the report: the task prints none) */
    bool torn;       /* one of them did not start with a frame */
    long biggest;    /* the largest of them, in bytes */
    char task_sha256[65]; /* the report's task file, as the client hashed it */
};

static bool have_strace(void)
{
    return system("strace -f -qq -o /dev/null true >/dev/null 2>&1") == 0;
}

/* Runs s as a host does (script_compose_boot(): the short line, the
 * script on stdin, a socket with socket set) under strace and counts what
 * the shell under test starts. */
static void trace_run(const struct app *a, int shell,
                      const struct script_spec *s, enum word word, bool socket,
                      struct trace *t)
{
    static const char set[] = "; set --";
    char *out = xasprintf("%s/trace", a->root), *data = NULL, *line, *save;
    char *input = NULL, *boot = script_compose_boot(s, NULL, NULL, &input);
    char *wrapped, *at = strstr(boot, set);
    const char *sh = strcmp(harness_shells[shell], "busybox sh") == 0
                         ? "busybox sh"
                         : harness_shells[shell];
    struct proc p;
    struct stat st;
    char wtag[64];
    size_t len = 0;
    int nexec = 0;

    /* the harness's shell sets oneoff_b (BOOT) as the line does and runs
     * strace, which runs the shell under test on BOOT */
    assert_non_null(at);
    wrapped =
        xasprintf("%.*s; exec strace -f -qq -y -s 40 -e trace=execve,fork,"
                  "vfork,clone,clone3,write -o '%s' %s -c \"$oneoff_b\""
                  " oneoff",
                  (int)(at - boot), boot, out, sh);
    proc_init(&p, -1, word);
    p.input = input;
    p.stdin_socket = socket;
    proc_start(&p, wrapped, NULL);
    /* writes to the pipe that is the script's stdout (strace -y names it:
     * an env file's output, sent to stderr, is written to fd 1 too) */
    assert_int_equal(fstat(p.o, &st), 0);
    snprintf(wtag, sizeof(wtag), "write(1<pipe:[%lu]>, \"",
             (unsigned long)st.st_ino);
    /* strace writes its file when it exits: wait for that, also on a slow
     * machine */
    proc_wait(&p, 60000);
    assert_int_equal(p.pf_rc, 1);
    assert_int_equal(file_read(out, 1u << 20, &data, &len), 0);
    memset(t, 0, sizeof(*t));
    for (line = strtok_r(data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        /* "PID  call(...)": strace pads the pid, so skip every blank */
        const char *c = line + strspn(line, "0123456789");
        c += strspn(c, " ");
        if (strstr(c, "resumed>") == c || strstr(c, "<... ") == c)
            continue;
        if (strncmp(c, "execve(\"", 8) == 0) {
            const char *e = strchr(c + 8, '"'), *b = c + 8;
            /* the first is the shell under test, started by strace; the
             * others by their base name */
            for (const char *k = b; e && k < e; k++)
                if (*k == '/')
                    b = k + 1;
            if (nexec++ > 0 && e)
                snprintf(t->execs + strlen(t->execs),
                         sizeof(t->execs) - strlen(t->execs), "%s%.*s",
                         t->execs[0] ? " " : "", (int)(e - b), b);
        } else if (strncmp(c, wtag, strlen(wtag)) == 0) {
            const char *d = c + strlen(wtag), *r = strrchr(c, '=');

            t->writes++;
            if (r && strtol(r + 1, NULL, 10) > t->biggest)
                t->biggest = strtol(r + 1, NULL, 10);
            if (strncmp(d, s->nonce, SCRIPT_NONCE_LEN) != 0 ||
                d[SCRIPT_NONCE_LEN] != ' ')
                t->torn = true;
        } else if (strncmp(c, "clone", 5) == 0 || strncmp(c, "fork", 4) == 0 ||
                   strncmp(c, "vfork", 5) == 0) {
            t->forks++;
        }
    }
    memcpy(t->task_sha256, p.pf.task_sha256, sizeof(t->task_sha256));
    free(data);
    free(out);
    free(input);
    free(boot);
    free(wrapped);
    proc_release(&p);
}

/* The report reaches the pipe in writes of whole frames of at most 4 KiB
 * (PIPE_BUF) together: one write for all of it under dash and busybox
 * (bash writes a line at a time), so sshd wakes once for it; want 0: a
 * report over 4 KiB, in several. */
static void check_writes(int sh, const char *what, const struct trace *t,
                         int want)
{
    bool bash = strcmp(harness_shells[sh], "bash") == 0, count_ok;

    if (want == 0)
        count_ok = t->writes >= 2;
    else if (bash)
        count_ok = t->writes >= want;
    else
        count_ok = t->writes == want;
    if (t->torn || t->biggest > 4096 || !count_ok)
        fail_msg("%s, %s: the report in %d write(s) of up to %ld bytes%s, "
                 "want %d",
                 harness_shells[sh], what, t->writes, t->biggest,
                 t->torn ? ", one not starting with a frame" : "", want);
}

static void test_footprint(void **state)
{
    /* what each case may start beyond the shell under test */
    static const struct {
        const char *what, *cmd, *task_file, *lock;
        enum script_mode mode;
        enum word word;
        int forks;
        const char *execs;
    } cases[] = {
        /* an ad-hoc command, one plain simple command: the watchdog only,
         * no exec (the command's builtin runs in the script's shell; the
         * clock of the history's end line is read, not run) */
        {"ad hoc", "'true'", NULL, NULL, SCRIPT_RUN, WORD_GO, 1, ""},
        /* its program: the shell's own child, by vfork */
        {"program", "'/bin/true' 'x'", NULL, NULL, SCRIPT_RUN, WORD_GO, 2,
         "true"},
        /* anything else: the subshell too */
        {"list", "true; true", NULL, NULL, SCRIPT_RUN, WORD_GO, 2, ""},
        /* a command that says $$ or PPID gets a shell of its own */
        {"$$", "kill -0 $$", NULL, NULL, SCRIPT_RUN, WORD_GO, 2, "sh"},
        {"PPID", "kill -0 \"$PPID\"", NULL, NULL, SCRIPT_RUN, WORD_GO, 2, "sh"},
        /* a task with its file (read, not hashed) and its lock: flock */
        {"locked task", "true", "tasks/t.yml", "t", SCRIPT_RUN, WORD_GO, 2,
         "flock"},
        /* refused by the client: nothing beyond flock */
        {"refused", "true", "tasks/t.yml", "t", SCRIPT_RUN, WORD_EOF, 1,
         "flock"},
        /* a check of an ad-hoc command starts nothing */
        {"check", "true", NULL, NULL, SCRIPT_CHECK, WORD_EOF, 0, ""},
    };
    struct app *a = *state;
    char *dir;

    if (!have_strace()) {
        fprintf(stderr, "footprint: strace cannot run here, skipped\n");
        skip();
    }
    /* the lock folder exists, as after the first locked run (the app's
     * shared/.oneoff exists: the harness made it) */
    dir = xasprintf("%s/shared/.oneoff/locks", a->app_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct script_spec s;
            struct trace t;

            app_spec(a, &s, cases[i].mode, cases[i].cmd);
            s.task_file = cases[i].task_file;
            s.lock = cases[i].lock;
            trace_run(a, sh, &s, cases[i].word, false, &t);
            if (t.forks > cases[i].forks ||
                strcmp(t.execs, cases[i].execs) != 0)
                fail_msg("%s, %s: %d forks, execs '%s'", harness_shells[sh],
                         cases[i].what, t.forks, t.execs);
            check_writes(sh, cases[i].what, &t, 1);
        }
    /* a report over 4 KiB (PIPE_BUF): writes of whole frames, each at most
     * 4 KiB, so that nothing another process writes can land inside a
     * frame; the task file's bytes arrive exact */
    {
        static const char line[] = "# a line of a task file, 40 bytes long.\n";
        char text[100 * (sizeof(line) - 1) + 1] = "", *want;

        for (int i = 0; i < 100; i++)
            memcpy(text + i * (sizeof(line) - 1), line, sizeof(line));
        write_file(a->task_file, text);
        want = sha256_file_hex(a->task_file);
        for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
            struct script_spec s;
            struct trace t;

            app_spec(a, &s, SCRIPT_RUN, "true");
            s.task_file = "tasks/t.yml";
            trace_run(a, sh, &s, WORD_GO, false, &t);
            check_writes(sh, "a 4 KiB task file", &t, 0);
            assert_string_equal(t.task_sha256, want);
        }
        free(want);
    }
    /* a stdin /dev/stdin cannot reopen (a socket): dash and busybox sh
     * read the script with head -c, one process more (busybox's own head,
     * not exec'd); bash reads it with read -N, as from a pipe */
    for (int sh = 0; sh < HARNESS_NSHELLS; sh++) {
        const char *name = harness_shells[sh];
        bool bash = strcmp(name, "bash") == 0;
        const char *execs = strcmp(name, "dash") == 0 ? "head" : "";
        struct script_spec s;
        struct trace t;

        app_spec(a, &s, SCRIPT_RUN, "'true'");
        trace_run(a, sh, &s, WORD_GO, true, &t);
        if (t.forks != (bash ? 1 : 2) || strcmp(t.execs, execs) != 0)
            fail_msg("%s, stdin a socket: %d forks, execs '%s'",
                     harness_shells[sh], t.forks, t.execs);
    }
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stops, app_setup, app_teardown),
        cmocka_unit_test_setup_teardown(test_footprint, app_setup,
                                        app_teardown),
    };

    return cmocka_run_group_tests_name("host_script_stops", tests, NULL, NULL);
}
