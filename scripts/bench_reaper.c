/*
 * bench_reaper.c - the benchmark's child subreaper: counts the server CPU
 * that would otherwise escape to init.
 *
 *   bench_reaper LOG COMMAND [ARGS...]
 *
 * Marks itself a child subreaper (PR_SET_CHILD_SUBREAPER), runs COMMAND
 * (the fleet's `up`), then reaps every process that is reparented to it
 * until it has no child left: the fleet's sshd listeners daemonise under
 * it, and any process of a session that outlives its parent (a session
 * process whose monitor exited first, a task or watchdog left behind) lands
 * here instead of init. Each reaped process appends one line to LOG:
 *
 *   up STATUS                    COMMAND ended (exit status, or 128+signal)
 *   reaped PID USER_US SYS_US COMM   a process reaped: its CPU time (with that
 *                                of the children it had reaped itself) and
 *                                its name, read while it is still a zombie
 *
 * so the benchmark can add the CPU of such orphans to the listeners' and
 * report them. Ends when no child is left (after the fleet's `down`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static long long usec(struct timeval tv)
{
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* The name of a child that has ended but is not reaped yet ("?" if unknown). */
static void comm_of(pid_t p, char *name, size_t size)
{
    char path[64];
    FILE *f;

    snprintf(name, size, "?");
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)p);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(name, (int)size, f) == NULL)
        snprintf(name, size, "?");
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
    for (char *c = name; *c; c++)
        if (*c == ' ')
            *c = '_';
}

int main(int argc, char **argv)
{
    FILE *log;
    pid_t cmd;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_reaper LOG COMMAND [ARGS...]\n");
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("bench_reaper: prctl(PR_SET_CHILD_SUBREAPER)");
        return 1;
    }
    log = fopen(argv[1], "a");
    if (log == NULL) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(log, NULL, _IOLBF, 0);
    cmd = fork();
    if (cmd < 0) {
        perror("bench_reaper: fork");
        return 1;
    }
    if (cmd == 0) {
        fclose(log);
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    for (;;) {
        struct rusage ru;
        siginfo_t si;
        char name[64];
        int st;
        pid_t p;

        /* see who ended without reaping it, so that its name can be read */
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: nothing left */
        }
        comm_of(si.si_pid, name, sizeof(name));
        p = wait4(si.si_pid, &st, 0, &ru);
        if (p < 0)
            continue;
        if (p == cmd) {
            fprintf(log, "up %d\n",
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            continue;
        }
        fprintf(log, "reaped %ld %lld %lld %s\n", (long)p, usec(ru.ru_utime),
                usec(ru.ru_stime), name);
    }
    fclose(log);
    return 0;
}
