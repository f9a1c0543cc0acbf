/*
 * transport_local.c - the transport contract on this machine, for hosts
 * with `transport: local`: the same command line an SSH host's login shell
 * would get, run by /bin/sh, with stdout and stderr piped back and stdin a
 * pipe held open (closing it is how the script's watchdog is told to stop
 * the task, exactly as when an SSH channel closes).
 */
#define _GNU_SOURCE
#include "oneoff/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TICK_MS 100
#define STOP_GRACE_MS 7000

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void local_transport_run(const char *command, const struct transport_sink *sink,
                         struct transport_result *res)
{
    local_transport_run_input(command, NULL, sink, res);
}

void local_transport_run_input(const char *command, const char *input,
                               const struct transport_sink *sink,
                               struct transport_result *res)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    int64_t hard = 0;
    int status = 0, stage = 0;
    pid_t pid;
    char chunk[32768];

    memset(res, 0, sizeof(*res));
    res->exit_code = -1;
    res->outcome = OUTCOME_ERROR;
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
        pipe2(errp, O_CLOEXEC)) {
        errf(res->error, "pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        errf(res->error, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(errp[1], 2);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        setsid(); /* Ctrl-C on the terminal is the runner's to handle */
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    if (input) /* a few bytes: the empty pipe takes them at once */
        write_all(in[1], input, strlen(input));
    sink->started(sink->ctx);
    while (out[0] >= 0 || errp[0] >= 0) {
        struct pollfd pf[2] = {{out[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
        enum transport_control c = sink->control(sink->ctx);
        int64_t now = clock_mono_ms();

        if (c != CONTROL_CONTINUE && stage == 0) {
            close_fd(&in[1]); /* the watchdog's EOF */
            stage = 1;
            hard = now + (c == CONTROL_CLOSE ? 0 : STOP_GRACE_MS);
        }
        if (stage == 1 && (now >= hard || c == CONTROL_CLOSE)) {
            kill(-pid, SIGKILL);
            stage = 2;
        }
        if (poll(pf, 2, TICK_MS) < 0 && errno != EINTR)
            break;
        for (int s = 0; s < 2; s++) {
            int *fd = s ? &errp[0] : &out[0];
            ssize_t n;
            if (*fd < 0 || !(pf[s].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(*fd, chunk, sizeof(chunk));
            if (n > 0)
                sink->data(sink->ctx, s ? STREAM_ERR : STREAM_OUT, chunk,
                           (size_t)n);
            else if (n == 0 || errno != EINTR)
                close_fd(fd);
        }
    }
    close_fd(&in[1]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status)) {
        res->outcome = OUTCOME_EXITED;
        res->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->outcome = OUTCOME_SIGNALED;
        snprintf(res->signal, sizeof(res->signal), "%s",
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                                : "?");
        res->core = WCOREDUMP(status);
    }
out:
    close_fd(&in[0]);
    close_fd(&in[1]);
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
}
