/*
 * transport_local.c - the transport contract on this machine, for hosts
 * with `transport: local`: the same command line an SSH host's login shell
 * would get, run by /bin/sh in a session of its own, with stdout and stderr
 * piped back (or one pseudo-terminal for both) and stdin a pipe held open.
 * Closing stdin is how the host script's watchdog is told to stop the
 * task, exactly as when an SSH channel closes; a graceful stop also sends
 * TERM to the session's process group, as sshd does for a signal request.
 */
#define _GNU_SOURCE
#include "oneoff/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct local_chan {
    struct tchan base; /* first: ops */
    const struct transport_sink *sink;
    pid_t pid;
    int in, out, err; /* ours; -1 when closed. With a pty, out is it. */
    bool pty;
    bool in_broken; /* the sink's input can no longer be written */
    int stage;      /* 0 running, 1 stop asked, 2 killed */
    int64_t hard;
    bool reaped;
    int status;
};

static const struct transport_ops local_ops;
static int local_write(struct tchan *base, const void *p, size_t n);

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* In the child: the command's own session and default signal handling
 * (the runner blocks signals in every thread, and a blocked mask is
 * inherited across exec). */
static void child_exec(const char *command, const char *term)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (term)
        setenv("TERM", term, 1);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
}

/* Returns once the child has exec'd (its end of the close-on-exec pipe is
 * gone), so its session and process group exist for kill(-pid). */
static void wait_exec(int sync[2])
{
    char c;

    close_fd(&sync[1]);
    while (read(sync[0], &c, 1) < 0 && errno == EINTR)
        ;
    close_fd(&sync[0]);
}

static int spawn_pipes(struct local_chan *c, const char *command,
                       struct transport_result *res)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    int sync[2] = {-1, -1};

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
        pipe2(errp, O_CLOEXEC) || pipe2(sync, O_CLOEXEC)) {
        errf(res->error, "pipe: %s", strerror(errno));
        goto fail;
    }
    c->pid = fork();
    if (c->pid < 0) {
        errf(res->error, "fork: %s", strerror(errno));
        goto fail;
    }
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(errp[1], 2);
        setsid(); /* Ctrl-C on the terminal is the runner's to handle */
        child_exec(command, NULL);
    }
    wait_exec(sync);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    c->in = in[1];
    c->out = out[0];
    c->err = errp[0];
    return 0;
fail:
    close_fd(&in[0]);
    close_fd(&in[1]);
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&sync[0]);
    close_fd(&sync[1]);
    return -1;
}

static int spawn_pty(struct local_chan *c, const struct transport_cmd *cmd,
                     struct transport_result *res)
{
    struct winsize ws;
    int master = -1, sync[2] = {-1, -1};

    if (pipe2(sync, O_CLOEXEC))
        return errf(res->error, "pipe: %s", strerror(errno));
    memset(&ws, 0, sizeof(ws));
    ws.ws_col = (unsigned short)cmd->cols;
    ws.ws_row = (unsigned short)cmd->rows;
    c->pid = forkpty(&master, NULL, NULL, &ws);
    if (c->pid < 0) {
        close_fd(&sync[0]);
        close_fd(&sync[1]);
        return errf(res->error, "cannot open a terminal: %s", strerror(errno));
    }
    if (c->pid == 0)
        child_exec(cmd->command, cmd->term ? cmd->term : "xterm");
    wait_exec(sync);
    fcntl(master, F_SETFD, FD_CLOEXEC);
    c->pty = true;
    c->out = master;
    c->in = dup(master);
    if (c->in >= 0)
        fcntl(c->in, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Starts cmd; with an input to feed, its stdin never blocks the pump. */
static int spawn(struct local_chan *c, const struct transport_cmd *cmd,
                 struct transport_result *res)
{
    int rc =
        cmd->pty ? spawn_pty(c, cmd, res) : spawn_pipes(c, cmd->command, res);

    /* the script: read whole by the shell before it runs anything, so this
     * blocking write ends (or fails, EPIPE, if the shell is gone: then the
     * pump sees how it ended) */
    if (rc == 0 && cmd->input && !cmd->pty)
        local_write(&c->base, cmd->input, strlen(cmd->input));
    if (rc == 0 && c->sink->feed && c->in >= 0)
        fcntl(c->in, F_SETFL, fcntl(c->in, F_GETFL) | O_NONBLOCK);
    return rc;
}

static void local_chan_free(struct tchan *base)
{
    struct local_chan *c = (struct local_chan *)base;

    close_fd(&c->in);
    close_fd(&c->out);
    close_fd(&c->err);
    if (c->pid > 0 && !c->reaped) {
        /* still running: the closed stdin lets its watchdog stop it; the
         * process is reaped so that no zombie stays behind */
        kill(-c->pid, SIGTERM);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(c);
}

static int local_open(struct transport *t, const struct transport_target *tg,
                      const struct transport_cmd *cmd,
                      const struct transport_sink *sink, struct tchan **out,
                      struct transport_result *res)
{
    struct local_chan *c = xcalloc(1, sizeof(*c));
    int rc;

    (void)t;
    (void)tg;
    *out = NULL;
    transport_result_init(res);
    c->base.ops = &local_ops;
    c->sink = sink;
    c->in = c->out = c->err = -1;
    if (sink->control(sink->ctx) != CONTROL_CONTINUE) {
        res->outcome = OUTCOME_CLOSED;
        errf(res->error, "not started: stopped before it started");
        free(c);
        return -1;
    }
    rc = spawn(c, cmd, res);
    if (rc) {
        free(c);
        return -1;
    }
    if (sink->connected)
        sink->connected(sink->ctx);
    *out = &c->base;
    return 0;
}

static void apply_control(struct local_chan *c, enum transport_control ctl)
{
    int64_t now = clock_mono_ms();

    if ((ctl == CONTROL_STOP || ctl == CONTROL_CLOSE) && c->stage == 0) {
        /* what sshd does for a signal request, and the watchdog's EOF */
        kill(-c->pid, SIGTERM);
        if (!c->pty)
            close_fd(&c->in);
        c->stage = 1;
        c->hard = now + (ctl == CONTROL_CLOSE ? 0 : STOP_GRACE_MS);
    }
    if (c->stage == 1 && (now >= c->hard || ctl == CONTROL_CLOSE)) {
        kill(-c->pid, SIGKILL);
        c->stage = 2;
    }
}

static void read_ready(struct local_chan *c, int *fd, enum transport_stream s)
{
    char chunk[32768];
    ssize_t n = read(*fd, chunk, sizeof(chunk));

    if (n > 0)
        c->sink->data(c->sink->ctx, s, chunk, (size_t)n);
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        close_fd(fd); /* EIO on a pty: the other side is gone */
}

/* Writes what the sink's feed() offers until the pipe is full; true when
 * bytes are left waiting for room. */
static bool feed_input(struct local_chan *c)
{
    const struct transport_sink *k = c->sink;

    if (k->feed == NULL || c->in < 0 || c->in_broken || c->stage != 0)
        return false;
    for (;;) {
        const char *p = NULL;
        size_t n = k->feed(k->ctx, &p);
        ssize_t w;

        if (n == 0)
            return false;
        w = write(c->in, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return true;
        if (w <= 0) {
            c->in_broken = true;
            return false;
        }
        k->fed(k->ctx, (size_t)w);
        if ((size_t)w < n)
            return true;
    }
}

static int local_pump(struct tchan *base, struct transport_result *res)
{
    struct local_chan *c = (struct local_chan *)base;

    transport_result_init(res);
    while (c->out >= 0 || c->err >= 0) {
        struct pollfd pf[4] = {{c->out, POLLIN, 0},
                               {c->err, POLLIN, 0},
                               {-1, POLLIN, 0},
                               {-1, POLLOUT, 0}};
        enum transport_control ctl = c->sink->control(c->sink->ctx);

        if (ctl == CONTROL_PAUSE)
            return 0;
        apply_control(c, ctl);
        if (c->sink->wake_fd)
            pf[2].fd = c->sink->wake_fd(c->sink->ctx);
        if (feed_input(c))
            pf[3].fd = c->in;
        if (poll(pf, 4, 100) < 0 && errno != EINTR)
            break;
        if (c->out >= 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            read_ready(c, &c->out, STREAM_OUT);
        if (c->err >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
            read_ready(c, &c->err, STREAM_ERR);
    }
    close_fd(&c->in);
    while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
        ;
    c->reaped = true;
    if (WIFEXITED(c->status)) {
        res->outcome = OUTCOME_EXITED;
        res->exit_code = WEXITSTATUS(c->status);
    } else if (WIFSIGNALED(c->status)) {
        const char *name = sigabbrev_np(WTERMSIG(c->status));
        res->outcome = OUTCOME_SIGNALED;
        snprintf(res->signal, sizeof(res->signal), "%s", name ? name : "?");
        res->core = WCOREDUMP(c->status);
    }
    return 1;
}

static int local_write(struct tchan *base, const void *p, size_t n)
{
    struct local_chan *c = (struct local_chan *)base;
    const char *q = p;

    while (n > 0 && c->in >= 0) {
        ssize_t w = write(c->in, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return n == 0 ? 0 : -1;
}

static int local_close_stdin(struct tchan *base)
{
    struct local_chan *c = (struct local_chan *)base;

    if (c->pty) /* a terminal's EOF is its VEOF character */
        return local_write(base, "\004", 1);
    close_fd(&c->in);
    return 0;
}

static int local_resize(struct tchan *base, unsigned cols, unsigned rows)
{
    struct local_chan *c = (struct local_chan *)base;
    struct winsize ws;

    if (!c->pty || c->out < 0)
        return -1;
    memset(&ws, 0, sizeof(ws));
    ws.ws_col = (unsigned short)cols;
    ws.ws_row = (unsigned short)rows;
    return ioctl(c->out, TIOCSWINSZ, &ws) == 0 ? 0 : -1;
}

static int local_again(struct tchan *base, const struct transport_cmd *cmd,
                       const struct transport_sink *sink,
                       struct transport_result *res)
{
    struct local_chan *c = (struct local_chan *)base;

    transport_result_init(res);
    close_fd(&c->in);
    close_fd(&c->out);
    close_fd(&c->err);
    if (c->pid > 0 && !c->reaped) {
        kill(-c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    c->pid = 0;
    c->reaped = c->pty = c->in_broken = false;
    c->stage = 0;
    c->sink = sink;
    if (spawn(c, cmd, res))
        return -1;
    if (sink->connected)
        sink->connected(sink->ctx);
    return 0;
}

static void local_free(struct transport *t)
{
    free(t);
}

static const struct transport_ops local_ops = {
    .name = "local",
    .open = local_open,
    .pump = local_pump,
    .write = local_write,
    .close_stdin = local_close_stdin,
    .resize = local_resize,
    .again = local_again,
    .free_chan = local_chan_free,
    .free = local_free,
};

struct transport *transport_local_new(void)
{
    struct transport *t = xcalloc(1, sizeof(*t));

    t->ops = &local_ops;
    return t;
}
