/*
 * script_harness.h - runs a composed host script for real, the way sshd
 * runs a command: a new session (so the script leads its process group,
 * as under sshd), the shell with -c, stdin, stdout and stderr pipes. The
 * harness reads the framed report as it arrives, answers it ("go", EOF,
 * another word), can close stdin or signal the whole process group later,
 * and bounds every run in time. Shared by test_host_script.c and
 * test_preflight.c (linked into every unit test program).
 *
 * The fixture is a deployed application in a temporary folder:
 *   ROOT/app dir 'q' $x/releases/r1/       REVISION, tasks/t.yml
 *   ROOT/app dir 'q' $x/current -> releases/r1
 *   ROOT/app dir 'q' $x/shared/.env        noisy: prints on both streams
 * (its app_dir's name is hostile on purpose: it is quoted like any value).
 */
#ifndef ONEOFF_TEST_SCRIPT_HARNESS_H
#define ONEOFF_TEST_SCRIPT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oneoff/buf.h"
#include "oneoff/host_script.h"
#include "oneoff/preflight.h"
#include "oneoff/util.h"

#define HARNESS_NONCE "0123456789abcdef0123456789abcdef"
#define HARNESS_RUN_ID "20261121T091234Z-00aa11"
#define HARNESS_NSHELLS 3

/* "dash", "bash", "busybox sh": the shells every script test runs under. */
extern const char *const harness_shells[HARNESS_NSHELLS];

struct app {
    char *root;
    char *app_dir;
    char *release_real; /* realpath of releases/r1 */
    char *env_file;     /* shared/.env */
    char *task_file;    /* releases/r1/tasks/t.yml */
};

void app_create(struct app *a);
void app_destroy(struct app *a);
/* cmocka group fixtures: a new app in *state, and its removal. */
int app_setup(void **state);
int app_teardown(void **state);
/* A spec for a task 't' of the fixture in mode, command cmd. */
void app_spec(const struct app *a, struct script_spec *s, enum script_mode mode,
              const char *cmd);

enum word {
    WORD_GO,    /* "go\n" once the report is read */
    WORD_EOF,   /* close stdin once the report is read */
    WORD_OTHER, /* "no\n" once the report is read */
    WORD_NONE,  /* nothing: stdin stays open until the script exits */
};

struct proc {
    /* what to do */
    int shell; /* index into harness_shells; -1: /bin/sh */
    enum word word;
    int eof_after_ms;      /* after the word: close stdin (-1: at exit) */
    int signal_after_ms;   /* after the word: signal the process group */
    int signal;            /* ... with this signal (0: none) */
    const char *prefix;    /* shell text run before the script (the login
                            * shell's noise) */
    const char *input;     /* NULL, or written to stdin right after the start
                            * (script_compose_boot()'s script) */
    bool stdin_socket;     /* stdin a socket, not a pipe */
    bool as_login;         /* run as sshd runs a command with a login shell
                            * named sh: `sh -c SCRIPT`, $0 "sh", no
                            * arguments (shell is ignored) */
    const char *login_exe; /* as_login: the program (NULL: sh in PATH,
                            * /bin/sh's) */
    /* what happened */
    pid_t pid; /* also the process group */
    int status;
    struct buf out, err, noise;
    struct preflight pf;
    int pf_rc;
    char pf_err[ERR_MAX];
    size_t report_end;                      /* where the report ended in out */
    int64_t t0, ready_ms, word_ms, exit_ms; /* ms since start; -1 never */
    /* private */
    int in, o, e;
    bool reaped, signalled, eof_sent;
};

/* A proc with the defaults: shell 0, WORD_GO, stdin open until exit. */
void proc_init(struct proc *p, int shell, enum word word);
void proc_start(struct proc *p, const char *script, const struct strlist *args);
/* Drives p (or n procs at once) to its end; fails the test, after killing
 * the process group, when that takes more than timeout_ms. */
void proc_wait(struct proc *p, int timeout_ms);
void proc_wait_all(struct proc *v, size_t n, int timeout_ms);
/* One round for each of n procs (read, answer, reap), without waiting. */
void proc_poll(struct proc *v, size_t n);
/* Drives p until its report is read (or it ended); fails after timeout_ms. */
void proc_wait_ready(struct proc *p, int timeout_ms);
/* Writes s to p's stdin now; NULL closes it. */
void proc_send(struct proc *p, const char *s);

/* What a client sends to start the task: "go", the tail of the history's
 * start line and the client's clock (host_script.sh); app_spec() puts the
 * head and the end line's opening (SCRIPT_HEAD, SCRIPT_END) in the spec. */
#define SCRIPT_HEAD                                                            \
    "{\"v\":1,\"event\":\"start\",\"run\":\"R\",\"host\":\"h\","               \
    "\"stage\":\"test\",\"sha256\":\"x\""
#define SCRIPT_END "{\"v\":1,\"event\":\"end\",\"run\":\"R\",\"host\":\"h\""
#define SCRIPT_GO                                                              \
    "go\n,\"release\":\"r1\",\"revision\":null,"                               \
    "\"at\":\"2025-12-01T00:00:00.000Z\"}\n1764547200000\n"
void proc_release(struct proc *p);

/* What p printed on stdout after its report (the task's output). */
const char *proc_task_out(const struct proc *p);
/* True when p exited with code (or died of signal sig). */
bool proc_exited(const struct proc *p, int code);
bool proc_signaled(const struct proc *p, int sig);

/* Live (not zombie) processes of process group pgid. */
int group_count(pid_t pgid);
/* Fails unless group pgid is empty within timeout_ms. */
void group_wait_empty(pid_t pgid, int timeout_ms);

void write_file(const char *path, const char *text);
void write_bytes(const char *path, const char *data, size_t n);
void sleep_ms(int ms);
bool path_exists(const char *p);
char *sha256_file_hex(const char *path);

#endif
