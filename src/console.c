/*
 * console.c - the local terminal of a console (see console.h).
 *
 * Restoring the terminal. console_end() restores the modes saved by
 * console_begin(); an atexit() handler does it too, for an exit() from
 * anywhere (out of memory, a bug's abort path that exits). That handler
 * needs the saved modes in file-scope variables (saved_modes, saved_fd),
 * written only before raw mode is entered; raw_on and resized, the other
 * two, are atomics a signal handler or atexit() may read from any thread.
 * Nothing else here lives outside struct console. Signals oneoff ends on (TERM,
 * HUP) do not kill it: the runner reads them from a signalfd, and the session's
 * control() closes the channel, so console_end() runs.
 */
#define _GNU_SOURCE
#include "oneoff/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "oneoff/exit_codes.h"

/* lock-free atomics: set by a signal handler in any thread, read by the
 * worker that pumps the console (volatile sig_atomic_t is only for one
 * thread) */
static atomic_int resized;
static atomic_int raw_on;
static struct termios saved_modes; /* see above */
static int saved_fd = -1;

static void on_winch(int sig)
{
    (void)sig;
    atomic_store(&resized, 1);
}

static void restore_at_exit(void)
{
    if (atomic_exchange(&raw_on, 0) && saved_fd >= 0)
        tcsetattr(saved_fd, TCSADRAIN, &saved_modes);
}

static void window_size(int fd, unsigned *cols, unsigned *rows)
{
    struct winsize ws;

    memset(&ws, 0, sizeof(ws));
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

int console_init(struct console *c, char *err)
{
    const char *term = getenv("TERM");

    memset(c, 0, sizeof(*c));
    c->in = STDIN_FILENO;
    c->out = STDOUT_FILENO;
    c->copy_fd = -1;
    if (!isatty(c->in))
        return errf(err, "a console needs a terminal on its standard "
                         "input; without one, use 'oneoff run' or "
                         "'oneoff exec'");
    c->cols = 80;
    c->rows = 24;
    window_size(c->in, &c->cols, &c->rows);
    snprintf(c->term, sizeof(c->term), "%s",
             term && *term && strlen(term) < sizeof(c->term) ? term : "xterm");
    transport_result_init(&c->res);
    return 0;
}

void console_release(struct console *c)
{
    if (c->raw)
        restore_at_exit();
    if (c->copy_fd >= 0)
        close(c->copy_fd);
    c->copy_fd = -1;
}

int console_begin(struct console *c, struct tchan *chan, const char *cast_path,
                  char *err)
{
    static bool registered;
    struct termios raw;
    struct sigaction sa;

    if (tcgetattr(c->in, &saved_modes) != 0)
        return errf(err, "cannot read the terminal's modes: %s",
                    strerror(errno));
    if (cast_open(&c->cast, cast_path, c->cols, c->rows, c->term, err))
        return -1;
    c->casting = true;
    saved_fd = c->in;
    if (!registered)
        registered = atexit(restore_at_exit) == 0;
    raw = saved_modes;
    cfmakeraw(&raw);
    atomic_store(&raw_on, 1);
    if (tcsetattr(c->in, TCSADRAIN, &raw) != 0) {
        atomic_store(&raw_on, 0);
        cast_close(&c->cast, err);
        c->casting = false;
        return errf(err, "cannot put the terminal in raw mode: %s",
                    strerror(errno));
    }
    c->raw = true;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, NULL);
    atomic_store(&resized, 0);
    c->chan = chan;
    c->bol = true;
    c->ran = true;
    return 0;
}

void console_output(struct console *c, const char *p, size_t n)
{
    /* a terminal that went away (EIO) loses the bytes; the transcript
     * keeps them */
    if (write_all(c->out, p, n)) {
        /* nothing else to do with them */
    }
    if (c->casting)
        cast_output(&c->cast, p, n);
}

/* Adds typed bytes to what is sent, minding "~." and "~~". */
static void add_keys(struct console *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n && !c->disconnect; i++) {
        unsigned char k = p[i];

        if (c->tilde) {
            c->tilde = false;
            if (k == '.') {
                c->disconnect = true;
                break;
            }
            if (k != '~' && c->nkeys < sizeof(c->keys))
                c->keys[c->nkeys++] = '~';
        } else if (c->bol && k == '~') {
            c->tilde = true;
            continue;
        }
        if (c->nkeys < sizeof(c->keys))
            c->keys[c->nkeys++] = (char)k;
        c->bol = k == '\r' || k == '\n';
    }
}

enum transport_control console_control(struct console *c, bool interrupted)
{
    struct pollfd pf = {c->in, POLLIN, 0};

    if (interrupted)
        c->interrupted = true;
    if (c->interrupted || c->disconnect)
        return CONTROL_CLOSE;
    if (atomic_exchange(&resized, 0)) {
        unsigned cols = c->cols, rows = c->rows;
        window_size(c->in, &cols, &rows);
        if (cols != c->cols || rows != c->rows) {
            c->cols = cols;
            c->rows = rows;
            tchan_resize(c->chan, cols, rows);
            if (c->casting)
                cast_resize(&c->cast, cols, rows);
        }
    }
    /* room for what one read may bring, "~" included */
    if (c->nkeys + 2 < sizeof(c->keys) && poll(&pf, 1, 0) == 1) {
        unsigned char in[2048];
        size_t room = (sizeof(c->keys) - c->nkeys - 1) / 2;
        ssize_t n = read(c->in, in, room < sizeof(in) ? room : sizeof(in));
        if (n > 0)
            add_keys(c, in, (size_t)n);
        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
            c->disconnect = true; /* our terminal is gone */
    }
    return c->disconnect ? CONTROL_CLOSE : CONTROL_CONTINUE;
}

size_t console_feed(struct console *c, const char **p)
{
    *p = c->keys;
    return c->nkeys;
}

void console_fed(struct console *c, size_t k)
{
    memmove(c->keys, c->keys + k, c->nkeys - k);
    c->nkeys -= k;
}

int console_wake_fd(const struct console *c)
{
    /* full: no reading until the host takes some */
    return c->nkeys + 2 < sizeof(c->keys) ? c->in : -1;
}

int console_end(struct console *c, const struct transport_result *res,
                char *err)
{
    int rc = 0;

    signal(SIGWINCH, SIG_DFL);
    if (c->raw) {
        tcsetattr(c->in, TCSADRAIN, &saved_modes);
        atomic_store(&raw_on, 0);
        c->raw = false;
    }
    if (c->casting && cast_close(&c->cast, err))
        rc = -1;
    c->casting = false;
    c->chan = NULL;
    c->res = *res;
    return rc;
}

/* ---- the copy to the host ------------------------------------------------ */

static void copy_data(void *ctx, enum transport_stream s, const char *p,
                      size_t n)
{
    struct console *c = ctx;
    size_t have = strlen(c->copy_err), take = sizeof(c->copy_err) - 1 - have;

    (void)s;
    if (take > n)
        take = n;
    memcpy(c->copy_err + have, p, take);
    c->copy_err[have + take] = '\0';
}

static enum transport_control copy_control(void *ctx)
{
    struct console *c = ctx;

    if (c->copy_eof && c->copy_off == c->copy_len && !c->copy_eof_sent) {
        c->copy_eof_sent = true;
        tchan_close_stdin(c->chan);
    }
    return clock_mono_ms() >= c->copy_deadline ? CONTROL_CLOSE
                                               : CONTROL_CONTINUE;
}

static size_t copy_feed(void *ctx, const char **p)
{
    struct console *c = ctx;

    if (c->copy_off == c->copy_len && !c->copy_eof) {
        ssize_t n = read(c->copy_fd, c->copy_buf, sizeof(c->copy_buf));
        c->copy_off = c->copy_len = 0;
        if (n > 0)
            c->copy_len = (size_t)n;
        else if (n == 0 || errno != EINTR)
            c->copy_eof = true;
    }
    *p = c->copy_buf + c->copy_off;
    return c->copy_len - c->copy_off;
}

static void copy_fed(void *ctx, size_t k)
{
    ((struct console *)ctx)->copy_off += k;
}

int console_copy(struct console *c, struct tchan *chan, const char *cast_path,
                 const char *command, char *err)
{
    struct transport_sink sink;
    struct transport_cmd cmd;
    struct transport_result res;

    memset(&sink, 0, sizeof(sink));
    sink.ctx = c;
    sink.data = copy_data;
    sink.control = copy_control;
    sink.feed = copy_feed;
    sink.fed = copy_fed;
    memset(&cmd, 0, sizeof(cmd));
    cmd.command = command;
    c->copy_fd = open(cast_path, O_RDONLY | O_CLOEXEC);
    if (c->copy_fd < 0)
        return errf(err, "cannot read '%s': %s", cast_path, strerror(errno));
    c->copy_len = c->copy_off = 0;
    c->copy_eof = c->copy_eof_sent = false;
    c->copy_err[0] = '\0';
    c->copy_deadline = clock_mono_ms() + CONSOLE_COPY_TIMEOUT_MS;
    c->chan = chan;
    if (tchan_again(chan, &cmd, &sink, &res) == 0)
        while (!tchan_pump(chan, &res))
            ;
    c->chan = NULL;
    close(c->copy_fd);
    c->copy_fd = -1;
    if (res.outcome == OUTCOME_EXITED && res.exit_code == 0)
        return 0;
    c->copy_err[strcspn(c->copy_err, "\r\n")] = '\0';
    if (c->copy_err[0])
        return errf(err, "%s", c->copy_err);
    if (res.error[0])
        return errf(err, "%s", res.error);
    return errf(err, "the copy ended with exit %d", res.exit_code);
}

int console_exit_code(const struct console *c)
{
    const struct transport_result *r = &c->res;

    if (c->disconnect || c->interrupted)
        return EXIT_INTERRUPTED;
    switch (r->outcome) {
    case OUTCOME_EXITED:
        return r->exit_code;
    case OUTCOME_SIGNALED:
        for (int s = 1; s < 65; s++) {
            const char *name = sigabbrev_np(s);
            if (name && strcmp(name, r->signal) == 0)
                return 128 + s;
        }
        return EXIT_TASK_FAILED;
    case OUTCOME_LOST:
        return EXIT_UNREACHABLE;
    default:
        return EXIT_INTERRUPTED;
    }
}
