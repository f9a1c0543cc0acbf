/*
 * transport_ssh_proxy.c - ProxyCommand run by oneoff rather than by libssh
 * (which sends its standard error to /dev/null, so a failing proxy reads as
 * "connection reset"): the command runs with /bin/sh -c, its standard input
 * and output are one end of a socketpair that the session takes as its
 * connection, and what it writes on standard error is kept (the last
 * PROXY_ERR_MAX bytes) for the host's error text.
 *
 * The child is spawned with posix_spawn (the caller is one of many
 * threads): its own process group (a Ctrl-C on the terminal is oneoff's to
 * handle), default signal dispositions and an empty signal mask (workers
 * block every signal, and oneoff ignores SIGPIPE), and no descriptor but
 * the three it needs. Freeing it ends it: TERM, then KILL after a second.
 */
#define _GNU_SOURCE
#include "transport_ssh_jump.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROXY_ERR_MAX 2048

extern char **environ;

struct ssh_proxy {
    pid_t pid;
    int fd;    /* our end: the session's connection */
    ino_t ino; /* to tell it from a reused descriptor number */
    int errfd; /* the command's standard error (non-blocking) */
    char err[PROXY_ERR_MAX];
    size_t nerr;
};

int proxy_start(const char *command, struct ssh_proxy **out, char *err)
{
    struct ssh_proxy *p = xcalloc(1, sizeof(*p));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, rc;
    char sh[] = "sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, (char *)command, NULL};

    *out = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        pipe2(ep, O_CLOEXEC) != 0) {
        rc = errno;
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        free(p);
        return errf(err, "cannot run the proxy command: %s", strerror(rc));
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    spawn_attr_clean(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    rc = posix_spawn(&p->pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    close(ep[1]);
    if (rc != 0) {
        close(sv[0]);
        close(ep[0]);
        free(p);
        return errf(err, "cannot run the proxy command: %s", strerror(rc));
    }
    p->fd = sv[0];
    {
        struct stat st;
        p->ino = fstat(p->fd, &st) == 0 ? st.st_ino : 0;
    }
    p->errfd = ep[0];
    fcntl(p->errfd, F_SETFL, O_NONBLOCK);
    *out = p;
    return 0;
}

int proxy_fd(const struct ssh_proxy *p)
{
    return p->fd;
}

/* Keeps the last PROXY_ERR_MAX - 1 bytes the command wrote on stderr. */
static void drain(struct ssh_proxy *p)
{
    char b[512];
    ssize_t r;

    while ((r = read(p->errfd, b, sizeof(b))) > 0) {
        size_t n = (size_t)r, cap = sizeof(p->err) - 1; /* n < cap */
        if (p->nerr + n > cap) {
            size_t drop = p->nerr + n - cap;
            memmove(p->err, p->err + drop, p->nerr - drop);
            p->nerr -= drop;
        }
        memcpy(p->err + p->nerr, b, n);
        p->nerr += n;
    }
    p->err[p->nerr] = '\0';
}

void proxy_explain(struct ssh_proxy *p, char *err)
{
    size_t len = strlen(err);
    char *s, *e;

    if (p == NULL)
        return;
    /* what it said before it exited (or now, if it still runs) */
    for (int i = 0; i < 10 && waitpid(p->pid, NULL, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    drain(p);
    s = p->err;
    while (*s == '\n' || *s == '\r' || *s == ' ')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
        *--e = '\0';
    for (char *c = s; *c; c++)
        if (*c == '\n' || *c == '\r' || (unsigned char)*c < 0x20)
            *c = ' ';
    if (*s && len + 20 < ERR_MAX)
        snprintf(err + len, ERR_MAX - len, "; proxy command: %s", s);
}

void proxy_free(struct ssh_proxy *p)
{
    struct stat st;

    if (p == NULL)
        return;
    /* libssh 0.10 closes a descriptor given with SSH_OPTIONS_FD on some
     * error paths: close it only if the number still names our socket */
    if (p->fd >= 0 && fstat(p->fd, &st) == 0 && st.st_ino == p->ino)
        close(p->fd);
    close(p->errfd);
    if (waitpid(p->pid, NULL, WNOHANG) == 0) {
        kill(p->pid, SIGTERM);
        for (int i = 0; i < 50 && waitpid(p->pid, NULL, WNOHANG) == 0; i++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (waitpid(p->pid, NULL, WNOHANG) == 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
        }
    }
    free(p);
}
