/*
 * script_harness.c - see script_harness.h.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "script_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const harness_shells[HARNESS_NSHELLS] = {"dash", "bash",
                                                     "busybox sh"};

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

void write_bytes(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void write_file(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

bool path_exists(const char *p)
{
    struct stat st;

    return lstat(p, &st) == 0;
}

char *sha256_file_hex(const char *path)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *data = NULL, *hex = xcalloc(1, 65);
    size_t len = 0;

    assert_int_equal(file_read(path, 64u << 20, &data, &len), 0);
    assert_true(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL));
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    free(data);
    return hex;
}

static void mkdir_in(const char *root, const char *rel)
{
    char *p = xasprintf("%s/%s", root, rel);

    if (mkdir(p, 0700) != 0)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    free(p);
}

void app_create(struct app *a)
{
    char real[PATH_MAX], *p;

    memset(a, 0, sizeof(*a));
    a->root = xstrdup("/tmp/oneoff-test-hs-XXXXXX");
    if (mkdtemp(a->root) == NULL)
        fail_msg("mkdtemp: %s", strerror(errno));
    a->app_dir = xasprintf("%s/app dir 'q' $x", a->root);
    assert_int_equal(mkdir(a->app_dir, 0700), 0);
    mkdir_in(a->app_dir, "releases");
    mkdir_in(a->app_dir, "releases/r1");
    mkdir_in(a->app_dir, "releases/r1/tasks");
    mkdir_in(a->app_dir, "shared");
    /* where runs append their history, as after the first run */
    mkdir_in(a->app_dir, "shared/.oneoff");
    p = xasprintf("%s/current", a->app_dir);
    assert_int_equal(symlink("releases/r1", p), 0);
    free(p);
    p = xasprintf("%s/releases/r1/REVISION", a->app_dir);
    write_file(p, "a1b2c3d\nsecond line\n");
    free(p);
    a->task_file = xasprintf("%s/releases/r1/tasks/t.yml", a->app_dir);
    write_file(a->task_file, "description: a task\ncommand: true\n");
    /* An env file that talks on both streams and even prints a frame with
     * the real nonce: none of it may reach the report. */
    a->env_file = xasprintf("%s/shared/.env", a->app_dir);
    write_file(a->env_file, "# the app's secrets, never in the script\n"
                            "echo env-junk-out\n"
                            "echo env-junk-err >&2\n"
                            "printf '%s release 5 /evil\\n' \"$oneoff_nonce\"\n"
                            "printf '%s ready 0 \\n' \"$oneoff_nonce\"\n"
                            "FROM_ENV_FILE='from the env file'\n"
                            "SHARED_SECRET=s3cr3t\n"
                            "OVERRIDDEN=by-env-file\n");
    p = xasprintf("%s/releases/r1", a->app_dir);
    if (realpath(p, real) == NULL)
        fail_msg("realpath %s: %s", p, strerror(errno));
    free(p);
    a->release_real = xstrdup(real);
}

void app_destroy(struct app *a)
{
    char *cmd = xasprintf("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
                          a->root, a->root);

    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(a->root);
    free(a->app_dir);
    free(a->release_real);
    free(a->env_file);
    free(a->task_file);
    memset(a, 0, sizeof(*a));
}

void app_spec(const struct app *a, struct script_spec *s, enum script_mode mode,
              const char *cmd)
{
    static struct strlist files;

    if (files.n == 0)
        strlist_push(&files, "shared/.env");
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->nonce = HARNESS_NONCE;
    s->run_id = HARNESS_RUN_ID;
    s->label = "task 't' on host 'h' of stage 's'";
    s->app_dir = a->app_dir;
    s->release = "current";
    s->env_files = &files;
    s->task_file = "tasks/t.yml";
    s->lock_holder = "run " HARNESS_RUN_ID " by tester since now on h";
    s->command = cmd;
    s->start_head = SCRIPT_HEAD;
    s->end_prefix = SCRIPT_END;
}

void proc_init(struct proc *p, int shell, enum word word)
{
    memset(p, 0, sizeof(*p));
    p->shell = shell;
    p->word = word;
    p->eof_after_ms = -1;
    p->signal_after_ms = -1;
    p->in = p->o = p->e = -1;
    p->ready_ms = p->word_ms = p->exit_ms = -1;
    buf_init(&p->out, 8u << 20);
    buf_init(&p->err, 8u << 20);
    buf_init(&p->noise, 1u << 20);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void proc_start(struct proc *p, const char *script, const struct strlist *args)
{
    int in[2], out[2], err[2];
    char *text = xasprintf("%s%s", p->prefix ? p->prefix : "", script);
    struct strlist argv = {0};
    static char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
    static char lang[] = "LANG=C.UTF-8", home[] = "HOME=/";
    char *envp[] = {path, lang, home, NULL};

    if (p->as_login) {
        strlist_push(&argv, "sh"); /* found in PATH: /bin/sh's program */
    } else if (p->shell < 0) {
        strlist_push(&argv, "/bin/sh");
    } else if (strcmp(harness_shells[p->shell], "busybox sh") == 0) {
        strlist_push(&argv, "busybox");
        strlist_push(&argv, "sh");
    } else {
        strlist_push(&argv, harness_shells[p->shell]);
    }
    strlist_push(&argv, "-c");
    strlist_push(&argv, text);
    if (!p->as_login)
        strlist_push(&argv, "oneoff");
    for (size_t i = 0; args && i < args->n && !p->as_login; i++)
        strlist_push(&argv, args->v[i]);
    strlist_push_owned(&argv, NULL);
    if (p->stdin_socket)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in),
                         0);
    else
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    p->t0 = clock_mono_ms();
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        setsid();
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        signal(SIGPIPE, SIG_DFL);
        if (p->as_login && p->login_exe)
            execve(p->login_exe, argv.v, envp);
        else
            execvpe(argv.v[0], argv.v, envp);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (p->input) /* read whole before the shell runs any of it */
        assert_int_equal(write_all(in[1], p->input, strlen(p->input)), 0);
    p->in = in[1];
    p->o = out[0];
    p->e = err[0];
    fcntl(p->o, F_SETFL, O_NONBLOCK);
    fcntl(p->e, F_SETFL, O_NONBLOCK);
    argv.n--; /* the NULL */
    strlist_clear(&argv);
    free(text);
}

static int64_t since(const struct proc *p)
{
    return clock_mono_ms() - p->t0;
}

static void drain(struct proc *p, int *fd, struct buf *b, bool report)
{
    char chunk[65536];
    ssize_t n = -1;
    size_t base;

    while (*fd >= 0 && (n = read(*fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                close_fd(fd);
            return;
        }
        base = b->len;
        if (buf_add(b, chunk, (size_t)n) != 0)
            fprintf(stderr, "harness: output buffer full, bytes dropped\n");
        if (report && p->pf_rc == 0) {
            p->pf_rc = preflight_parse(&p->pf, HARNESS_NONCE, chunk, (size_t)n,
                                       &p->noise, p->pf_err);
            if (p->pf_rc == 1) {
                p->ready_ms = since(p);
                p->report_end = base + p->pf.used;
            }
        }
    }
    if (n == 0)
        close_fd(fd);
}

static void say_word(struct proc *p)
{
    if (p->word_ms >= 0 || p->pf_rc != 1 || p->in < 0)
        return;
    p->word_ms = since(p);
    if (p->word == WORD_GO)
        assert_int_equal(write(p->in, SCRIPT_GO, strlen(SCRIPT_GO)),
                         (ssize_t)strlen(SCRIPT_GO));
    else if (p->word == WORD_OTHER)
        assert_int_equal(write(p->in, "no\n", 3), 3);
    else if (p->word == WORD_EOF)
        close_fd(&p->in);
}

/* One round: read what is there, answer, signal, reap. True when done. */
static bool proc_step(struct proc *p)
{
    struct pollfd pf[2] = {{p->o, POLLIN, 0}, {p->e, POLLIN, 0}};

    if (p->o >= 0 || p->e >= 0)
        poll(pf, 2, 5);
    else
        sleep_ms(2);
    drain(p, &p->o, &p->out, true);
    drain(p, &p->e, &p->err, false);
    say_word(p);
    if (p->word_ms >= 0 && p->signal && !p->signalled &&
        since(p) - p->word_ms >= p->signal_after_ms) {
        kill(-p->pid, p->signal);
        p->signalled = true;
    }
    if (p->word_ms >= 0 && p->eof_after_ms >= 0 && !p->eof_sent &&
        since(p) - p->word_ms >= p->eof_after_ms) {
        close_fd(&p->in);
        p->eof_sent = true;
    }
    if (!p->reaped && waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
        p->reaped = true;
        p->exit_ms = since(p);
    }
    return p->reaped && p->o < 0 && p->e < 0;
}

void proc_poll(struct proc *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        proc_step(&v[i]);
}

void proc_wait_all(struct proc *v, size_t n, int timeout_ms)
{
    int64_t t0 = clock_mono_ms();

    for (;;) {
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all = proc_step(&v[i]) && all;
        if (all)
            break;
        if (clock_mono_ms() - t0 > timeout_ms) {
            for (size_t i = 0; i < n; i++) {
                if (!v[i].reaped) {
                    kill(-v[i].pid, SIGKILL);
                    waitpid(v[i].pid, &v[i].status, 0);
                    v[i].reaped = true;
                }
            }
            for (size_t i = 0; i < n; i++)
                fprintf(stderr,
                        "script %zu (%s), status 0x%x, report %d %s:\n"
                        "stdout: %.400s\nstderr: %.400s\n",
                        i,
                        v[i].shell < 0 ? "/bin/sh" : harness_shells[v[i].shell],
                        v[i].status, v[i].pf_rc, v[i].pf_err,
                        buf_str(&v[i].out), buf_str(&v[i].err));
            fail_msg("a script still ran after %d ms", timeout_ms);
        }
    }
    for (size_t i = 0; i < n; i++)
        close_fd(&v[i].in);
}

void proc_wait_ready(struct proc *p, int timeout_ms)
{
    int64_t t0 = clock_mono_ms();

    while (p->pf_rc == 0 && !proc_step(p)) {
        if (clock_mono_ms() - t0 > timeout_ms) {
            kill(-p->pid, SIGKILL);
            fail_msg("no report after %d ms (stderr: %.300s)", timeout_ms,
                     buf_str(&p->err));
        }
    }
}

void proc_send(struct proc *p, const char *s)
{
    if (p->word_ms < 0)
        p->word_ms = since(p);
    if (s == NULL)
        close_fd(&p->in);
    else if (p->in >= 0)
        assert_int_equal(write(p->in, s, strlen(s)), (ssize_t)strlen(s));
}

void proc_wait(struct proc *p, int timeout_ms)
{
    proc_wait_all(p, 1, timeout_ms);
}

void proc_release(struct proc *p)
{
    close_fd(&p->in);
    close_fd(&p->o);
    close_fd(&p->e);
    buf_release(&p->out);
    buf_release(&p->err);
    buf_release(&p->noise);
    preflight_release(&p->pf);
}

const char *proc_task_out(const struct proc *p)
{
    return p->pf_rc == 1 ? buf_str(&p->out) + p->report_end : "";
}

bool proc_exited(const struct proc *p, int code)
{
    return WIFEXITED(p->status) && WEXITSTATUS(p->status) == code;
}

bool proc_signaled(const struct proc *p, int sig)
{
    return WIFSIGNALED(p->status) && WTERMSIG(p->status) == sig;
}

int group_count(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[300], line[1024], *s;
        char state;
        int ppid, pgrp;
        FILE *f;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        s = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
        fclose(f);
        if (s && sscanf(s + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
            pgrp == pgid && state != 'Z' && state != 'X')
            n++;
    }
    closedir(d);
    return n;
}

void group_wait_empty(pid_t pgid, int timeout_ms)
{
    int64_t t0 = clock_mono_ms();
    int n;

    while ((n = group_count(pgid)) > 0 && clock_mono_ms() - t0 < timeout_ms)
        sleep_ms(20);
    if (n > 0) {
        kill(-pgid, SIGKILL);
        fail_msg("%d process(es) of group %d still alive %d ms later", n,
                 (int)pgid, timeout_ms);
    }
}

int app_setup(void **state)
{
    struct app *a = xcalloc(1, sizeof(*a));

    app_create(a);
    *state = a;
    return 0;
}

int app_teardown(void **state)
{
    struct app *a = *state;

    app_destroy(a);
    free(a);
    return 0;
}
