/*
 * ptydrive.c - drives a program on a real pseudo-terminal, for the console
 * tests (tests/integration/console.sh), like a small expect(1).
 *
 *   ptydrive [-c COLS] [-r ROWS] [-o TRANSCRIPT] SCRIPT -- PROGRAM [ARG...]
 *
 * Starts PROGRAM in a new session on a new pty (size COLSxROWS, 80x24 by
 * default), then runs SCRIPT, one command a line:
 *   expect SECONDS ERE   waits for ERE in what PROGRAM printed since the
 *                        last match (NULs dropped); fails after SECONDS
 *   send TEXT            types TEXT (\r \n \t \\ \xHH escapes)
 *   resize COLS ROWS     resizes the terminal (the kernel sends SIGWINCH)
 *   sleep MS
 *   run COMMAND          /bin/sh -c COMMAND; fails unless it exits 0
 *   signal N             sends signal N to PROGRAM
 *   exit SECONDS CODE    waits for PROGRAM to end; fails unless its exit
 *                        status is CODE
 *   modes                fails unless the terminal's modes equal those it
 *                        had before PROGRAM started (raw mode undone)
 * Everything PROGRAM prints is copied to TRANSCRIPT. A failure says why
 * on stderr, with the unmatched output, and exits 1 (PROGRAM is killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int master = -1, tfd = -1;
static int gone; /* every slave side is closed (EIO) */
static pid_t child;
static char seen[1 << 20];
static size_t nseen;
static int exited = -1; /* exit status once reaped */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "ptydrive: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nptydrive: output since the last match:\n%.*s\n",
            (int)nseen, seen);
    if (exited < 0 && child > 0)
        kill(-child, SIGKILL);
    exit(1);
}

/* Reads what the program printed, waiting up to ms. */
static void pump(int ms)
{
    struct pollfd pf = {master, POLLIN, 0};
    char b[4096];
    ssize_t n;

    if (gone) {
        usleep((useconds_t)ms * 1000);
        return;
    }
    if (poll(&pf, 1, ms) <= 0)
        return;
    n = read(master, b, sizeof(b));
    if (n <= 0) {
        gone = 1; /* the terminal stays, for its modes */
        return;
    }
    if (tfd >= 0 && write(tfd, b, (size_t)n) < 0) {
        /* the transcript is for debugging only */
    }
    for (ssize_t i = 0; i < n; i++) {
        if (b[i] == '\0')
            continue;
        if (nseen == sizeof(seen) - 1) {
            memmove(seen, seen + sizeof(seen) / 2, sizeof(seen) / 2);
            nseen -= sizeof(seen) / 2;
        }
        seen[nseen++] = b[i];
    }
    seen[nseen] = '\0';
}

static void reap(int block)
{
    int st;

    if (exited >= 0)
        return;
    if (waitpid(child, &st, block ? 0 : WNOHANG) == child)
        exited = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect(int secs, const char *ere)
{
    regex_t re;
    regmatch_t m;
    long long end = now_ms() + secs * 1000LL;

    if (regcomp(&re, ere, REG_EXTENDED | REG_NEWLINE))
        die("bad regular expression '%s'", ere);
    for (;;) {
        if (regexec(&re, seen, 1, &m, 0) == 0) {
            memmove(seen, seen + m.rm_eo, nseen - (size_t)m.rm_eo + 1);
            nseen -= (size_t)m.rm_eo;
            regfree(&re);
            return;
        }
        if (now_ms() >= end)
            die("timed out waiting for '%s'", ere);
        if (gone) {
            reap(0);
            if (exited >= 0)
                die("the program ended before printing '%s'", ere);
            usleep(20000);
        }
        pump(50);
    }
}

static void send_text(const char *s)
{
    char out[4096];
    size_t n = 0;

    for (; *s && n < sizeof(out); s++) {
        if (*s != '\\' || !s[1]) {
            out[n++] = *s;
            continue;
        }
        s++;
        if (*s == 'r')
            out[n++] = '\r';
        else if (*s == 'n')
            out[n++] = '\n';
        else if (*s == 't')
            out[n++] = '\t';
        else if (*s == 'x' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            s += 2;
        } else
            out[n++] = *s;
    }
    if (write(master, out, n) != (ssize_t)n)
        die("cannot type '%s'", s);
}

int main(int argc, char **argv)
{
    struct winsize ws = {24, 80, 0, 0};
    struct termios before, after;
    char line[4096];
    FILE *script;
    int opt;

    while ((opt = getopt(argc, argv, "+c:r:o:")) != -1) {
        if (opt == 'c')
            ws.ws_col = (unsigned short)atoi(optarg);
        else if (opt == 'r')
            ws.ws_row = (unsigned short)atoi(optarg);
        else if (opt == 'o')
            tfd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        else
            return 2;
    }
    if (argc - optind < 3 || strcmp(argv[optind + 1], "--") != 0) {
        fprintf(stderr, "usage: ptydrive [-c COLS] [-r ROWS] [-o FILE] "
                        "SCRIPT -- PROGRAM [ARG...]\n");
        return 2;
    }
    script = fopen(argv[optind], "r");
    if (script == NULL)
        die("cannot read '%s'", argv[optind]);
    child = forkpty(&master, NULL, NULL, &ws);
    if (child < 0)
        die("forkpty: %s", strerror(errno));
    if (child == 0) {
        execvp(argv[optind + 2], argv + optind + 2);
        _exit(127);
    }
    if (tcgetattr(master, &before))
        die("tcgetattr: %s", strerror(errno));
    while (fgets(line, sizeof(line), script)) {
        char *arg;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        arg = strchr(line, ' ');
        arg = arg ? arg + 1 : line + strlen(line);
        if (strncmp(line, "expect ", 7) == 0) {
            int secs = atoi(arg);
            char *ere = strchr(arg, ' ');
            expect(secs, ere ? ere + 1 : "");
        } else if (strncmp(line, "send ", 5) == 0) {
            send_text(arg);
        } else if (strncmp(line, "resize ", 7) == 0) {
            ws.ws_col = (unsigned short)atoi(arg);
            ws.ws_row =
                (unsigned short)atoi(strchr(arg, ' ') ? strchr(arg, ' ') : "0");
            if (ioctl(master, TIOCSWINSZ, &ws))
                die("resize: %s", strerror(errno));
        } else if (strncmp(line, "sleep ", 6) == 0) {
            long long end = now_ms() + atoi(arg);
            while (now_ms() < end)
                pump((int)(end - now_ms()));
        } else if (strncmp(line, "run ", 4) == 0) {
            int st = system(arg);
            if (st != 0)
                die("'%s' failed", arg);
        } else if (strncmp(line, "signal ", 7) == 0) {
            if (kill(child, atoi(arg)))
                die("kill: %s", strerror(errno));
        } else if (strncmp(line, "exit ", 5) == 0) {
            long long end = now_ms() + atoi(arg) * 1000LL;
            int want = atoi(strchr(arg, ' ') ? strchr(arg, ' ') : "-1");
            char got[32];
            while (exited < 0 && now_ms() < end) {
                pump(50);
                reap(0);
            }
            if (exited < 0)
                die("the program did not end within %s seconds", arg);
            snprintf(got, sizeof(got), "%d", exited);
            if (exited != want)
                die("the program exited %s", got);
        } else if (strcmp(line, "modes") == 0) {
            if (tcgetattr(master, &after))
                die("tcgetattr: %s", strerror(errno));
            if (after.c_lflag != before.c_lflag ||
                after.c_iflag != before.c_iflag ||
                after.c_oflag != before.c_oflag ||
                after.c_cflag != before.c_cflag ||
                memcmp(after.c_cc, before.c_cc, sizeof(after.c_cc)))
                die("the terminal's modes were not restored%s", "");
        } else {
            die("unknown command '%s'", line);
        }
    }
    if (exited < 0)
        kill(-child, SIGKILL);
    reap(1);
    return 0;
}
