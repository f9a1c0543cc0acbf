/*
 * transport_ssh.c - one command on one host over libssh.
 *
 * Per host, in the calling worker thread: the host's settings resolved
 * from the ssh config (transport_ssh_host.c), a turn among the connections
 * being set up to the same address (pacing), a connected socket of our own
 * (host_socket_open(): TCP, a ProxyCommand, or a channel through its jump
 * hosts, transport_ssh_jump.c), a libssh session of its own on it (never
 * a shared ssh_event: in libssh 0.10 one dead socket poisons every session
 * in a shared event), its host key checked (transport_ssh_hostkey.c) and
 * authenticated (transport_ssh_keys.c), then one
 * channel (with a terminal when asked), and a callback-driven pump on a
 * one-session event with a 100 ms tick until the channel is CLOSED (not at
 * EOF: exit-status may arrive after it). The pump sends OpenSSH's
 * keepalive@openssh.com while the host is silent, and gives the host up as
 * lost when ServerAliveCountMax of them went unanswered.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"
#include "transport_ssh_jump.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most of a command's first input (its script) one packet carries:
 * with the packet's own bytes it stays within the 2 KiB that the key
 * exchange already gave libssh's packet buffers. */
#define INPUT_PACKET 1920

struct chan_state {
    const struct transport_sink *sink;
    bool closed;
    bool have_status;
    int status;
    char signal[32];
    bool core;
};

static int on_data(ssh_session s, ssh_channel c, void *data, uint32_t len,
                   int is_stderr, void *ud)
{
    struct chan_state *cs = ud;

    (void)s;
    (void)c;
    cs->sink->data(cs->sink->ctx, is_stderr ? STREAM_ERR : STREAM_OUT, data,
                   len);
    return (int)len;
}

static void on_close(ssh_session s, ssh_channel c, void *ud)
{
    (void)s;
    (void)c;
    ((struct chan_state *)ud)->closed = true;
}

static void on_exit_status(ssh_session s, ssh_channel c, int status, void *ud)
{
    struct chan_state *cs = ud;

    (void)s;
    (void)c;
    cs->have_status = true;
    cs->status = status;
}

static void on_exit_signal(ssh_session s, ssh_channel c, const char *sig,
                           int core, const char *msg, const char *lang,
                           void *ud)
{
    struct chan_state *cs = ud;

    (void)s;
    (void)c;
    (void)msg;
    (void)lang;
    snprintf(cs->signal, sizeof(cs->signal), "%s", sig ? sig : "?");
    cs->core = core != 0;
}

/* One command on one host: the session (ours alone), its one channel, the
 * callbacks and the one-session event that pumps it. Lives on the heap:
 * libssh keeps a pointer to cb. */
struct ssh_chan {
    struct tchan base; /* first: ops */
    struct ssh_tp *t;
    struct ssh_hostopts o;
    struct host_socket hs;
    ssh_session s;
    ssh_channel ch;
    ssh_event ev;
    struct chan_state cs;
    struct ssh_channel_callbacks_struct cb;
    bool callbacks_set;
    bool paced; /* holds a pacing turn */
    int wake;   /* the sink's wake_fd in ev, or -1 */
    int stage;  /* 0 running, 1 stop asked, 2 closed by us */
    int64_t hard;
    bool lost;
    char *lost_error; /* ERR_MAX bytes, allocated when lost (lost_buf()) */
    /* keepalives (o's, kept when o is freed) */
    long alive_interval_s;
    int alive_count_max;
    struct ssh_counter_struct sc, rc;
    uint64_t seen;
    int64_t last_rx, last_sent;
    int unanswered;
};

/* The sink's wake_fd only ends ssh_event_dopoll()'s wait: control() and
 * feed() read it. */
static int on_wake(socket_t fd, int revents, void *ud)
{
    (void)fd;
    (void)revents;
    (void)ud;
    return 0;
}

static int fail_resources(struct transport_result *res, int e)
{
    res->outcome = OUTCOME_ERROR;
    errf(res->error, "%s (raise 'ulimit -n' or use fewer hosts at once)",
         strerror(e));
    return -1;
}

/* A TCP connection to host:port, trying each address until deadline. */
static int tcp_connect(const char *host, unsigned port, int64_t deadline,
                       struct transport_result *res)
{
    struct addrinfo hints, *ai = NULL;
    char ps[16], why[256] = "no address";
    int fd = -1, e;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%u", port);
    res->outcome = OUTCOME_UNREACHABLE;
    e = getaddrinfo(host, ps, &hints, &ai);
    if (e != 0)
        return errf(res->error, "cannot resolve '%s': %s", host,
                    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        int err = 0;
        socklen_t el = sizeof(err);
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0) {
            if (out_of_resources(errno)) {
                freeaddrinfo(ai);
                return fail_resources(res, errno);
            }
            snprintf(why, sizeof(why), "%s", strerror(errno));
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno == EINPROGRESS) {
                struct pollfd p = {fd, POLLOUT, 0};
                int64_t left = deadline - clock_mono_ms();
                int n = left > 0 ? poll(&p, 1, (int)left) : 0;
                if (n == 0)
                    err = ETIMEDOUT;
                else if (n < 0 ||
                         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
                    err = errno;
            } else {
                err = errno;
            }
        }
        if (err) {
            snprintf(why, sizeof(why), "%s",
                     err == ETIMEDOUT ? "Timeout (no answer)" : strerror(err));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return errf(res->error, "cannot connect to %s port %u: %s", host, port,
                    why);
    {
        int one = 1;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

int host_socket_link(struct jump_link *link, struct host_socket *hs,
                     struct transport_result *res)
{
    hs->link = link;
    hs->fd = jump_link_fd(link);
    /* libssh 0.10 closes a caller's socket on some error paths but not on
     * ssh_disconnect(): it gets a copy, reclaimed in host_socket_close() */
    hs->lib_fd = fcntl(hs->fd, F_DUPFD_CLOEXEC, 3);
    if (hs->lib_fd < 0)
        return fail_resources(res, errno);
    return 0;
}

int host_socket_open(struct ssh_tp *t, const struct ssh_hostopts *o,
                     int64_t deadline, struct host_socket *hs,
                     struct transport_result *res)
{
    struct jump_link *link = NULL;

    hs->fd = hs->lib_fd = -1;
    hs->link = NULL;
    res->outcome = OUTCOME_ERROR;
    if (o->chain.n > 1) {
        if (jump_attach(t, o, &link, res))
            return -1;
        return host_socket_link(link, hs, res);
    }
    if (o->proxy_command) {
        if (jump_proxy(o->proxy_command, &link, res->error))
            return -1;
        return host_socket_link(link, hs, res);
    }
    hs->fd = tcp_connect(o->h->hostname, o->h->port, deadline, res);
    if (hs->fd < 0)
        return -1;
    hs->lib_fd = fcntl(hs->fd, F_DUPFD_CLOEXEC, 3);
    if (hs->lib_fd < 0)
        return fail_resources(res, errno);
    return 0;
}

void host_socket_close(struct host_socket *hs)
{
    struct stat a, b;

    if (hs->lib_fd >= 0 && hs->fd >= 0 && fstat(hs->lib_fd, &a) == 0 &&
        fstat(hs->fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        close(hs->lib_fd);
    if (hs->link)
        jump_link_release(hs->link); /* closes fd */
    else if (hs->fd >= 0)
        close(hs->fd);
    hs->fd = hs->lib_fd = -1;
    hs->link = NULL;
}

int session_login(struct ssh_tp *t, ssh_session s, const struct ssh_hostopts *o,
                  struct host_socket *hs, struct transport_result *res)
{
    res->outcome = OUTCOME_ERROR;
    if (set_options(t, s, o, hs->lib_fd, res->error))
        return -1;
    errno = 0;
    if (ssh_connect(s) != SSH_OK) {
        if (out_of_resources(errno))
            return fail_resources(res, errno);
        res->outcome = OUTCOME_UNREACHABLE;
        errf(res->error, "cannot connect to %s port %u: %s", o->h->hostname,
             o->h->port, ssh_get_error(s));
        /* what a ProxyCommand said, or why the jump host was lost */
        jump_link_explain(hs->link, res->error);
        return -1;
    }
    switch (verify_host_key(t, s, o, hs->link, res->error)) {
    case 0:
        break;
    case -2:
        res->outcome = OUTCOME_ERROR;
        return -1;
    default:
        res->outcome = OUTCOME_HOST_KEY;
        return -1;
    }
    if (authenticate(t, s, o, res->error)) {
        res->outcome = OUTCOME_AUTH;
        return -1;
    }
    return 0;
}

static bool stop_asked(void *ctx)
{
    const struct transport_sink *sink = ctx;

    return sink->control(sink->ctx) != CONTROL_CONTINUE;
}

/* Socket, session, host key, authentication. */
static int connect_auth(struct ssh_tp *t, struct ssh_chan *c,
                        const struct transport_sink *sink,
                        struct transport_result *res)
{
    int64_t deadline = clock_mono_ms() + c->o.connect_timeout_ms;

    if (host_socket_open(t, &c->o, deadline, &c->hs, res) ||
        session_login(t, c->s, &c->o, &c->hs, res))
        return -1;
    if (sink->connected)
        sink->connected(sink->ctx);
    return 0;
}

static int chan_connect(struct ssh_tp *t, struct ssh_chan *c,
                        const struct transport_target *tg,
                        const struct transport_sink *sink,
                        struct transport_result *res)
{
    int rc;

    res->outcome = OUTCOME_ERROR;
    if (hostopts_resolve(t, tg, &c->o, res->error))
        return -1;
    /* at most max_connecting unauthenticated connections per address */
    if (pace_acquire(t, c->o.pace_key, stop_asked, (void *)sink)) {
        res->outcome = OUTCOME_CLOSED;
        return errf(res->error, "not started: stopped while connecting");
    }
    c->paced = true;
    rc = connect_auth(t, c, sink, res);
    return rc;
}

/* The turn is given back once the host has answered after the login: by
 * then sshd no longer counts the connection against MaxStartups (it stops
 * counting a moment after it told us we are in). */
static void unpace(struct ssh_tp *t, struct ssh_chan *c)
{
    if (c->paced)
        pace_release(t, c->o.pace_key);
    c->paced = false;
}

/* Writes p[0..n) to the channel in packets of at most chunk bytes. */
static int write_packets(struct ssh_chan *c, const char *p, size_t n,
                         uint32_t chunk)
{
    while (n > 0) {
        int w = ssh_channel_write(c->ch, p, n > chunk ? chunk : (uint32_t)n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Corks (on) or uncorks the connection where it is TCP (not a proxy's
 * pipe): packets written in between leave in one segment, so the host's
 * sshd wakes once for them, not once a packet, and loopback and the
 * network carry one segment. Closing the socket sends what is corked. */
static bool cork(struct ssh_chan *c, int on)
{
    int fd = ssh_get_fd(c->s);

    return fd >= 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == 0;
}

/* The script's packets, in one segment. */
static void write_corked(struct ssh_chan *c, const char *p, size_t n)
{
    bool corked = cork(c, 1);

    (void)write_packets(c, p, n, INPUT_PACKET);
    if (corked)
        (void)cork(c, 0);
}

static int chan_start(struct ssh_tp *t, struct ssh_chan *c,
                      const struct transport_cmd *cmd,
                      struct transport_result *res)
{
    ssh_session s = c->s;

    c->ch = ssh_channel_new(s);
    if (c->ch == NULL || ssh_channel_open_session(c->ch) != SSH_OK) {
        res->outcome = ssh_is_connected(s) ? OUTCOME_ERROR : OUTCOME_LOST;
        return errf(res->error, "cannot open a channel: %s", ssh_get_error(s));
    }
    unpace(t, c);
    c->cb.userdata = &c->cs;
    c->cb.channel_data_function = on_data;
    c->cb.channel_close_function = on_close;
    c->cb.channel_exit_status_function = on_exit_status;
    c->cb.channel_exit_signal_function = on_exit_signal;
    ssh_callbacks_init(&c->cb);
    if (ssh_set_channel_callbacks(c->ch, &c->cb) != SSH_OK)
        return errf(res->error, "cannot set channel callbacks");
    c->callbacks_set = true;
    c->ev = ssh_event_new();
    if (c->ev == NULL || ssh_event_add_session(c->ev, s) != SSH_OK) {
        if (c->ev)
            ssh_event_free(c->ev);
        c->ev = NULL;
        return errf(res->error, "cannot poll the session");
    }
    ssh_set_counters(s, &c->sc, &c->rc);
    if (cmd->pty &&
        ssh_channel_request_pty_size(c->ch, cmd->term ? cmd->term : "xterm",
                                     (int)cmd->cols, (int)cmd->rows) != SSH_OK)
        return errf(res->error, "the host refused a terminal: %s",
                    ssh_get_error(s));
    if (ssh_channel_request_exec(c->ch, cmd->command) != SSH_OK)
        return errf(res->error, "the host refused to run the command: %s",
                    ssh_get_error(s));
    /* Small packets: libssh grows a session's packet buffers to the
     * largest packet it sent and keeps them, and a run holds every
     * session open until "go". A command that ended without reading its
     * input (sudo asking for a password) refuses it: the pump then says
     * how it ended, as a lost connection would. */
    if (cmd->input)
        write_corked(c, cmd->input, strlen(cmd->input));
    return 0;
}

/* Frees the channel (libssh sends its CLOSE if it was not sent). */
static void chan_free_channel(struct ssh_chan *c)
{
    if (c->callbacks_set)
        ssh_remove_channel_callbacks(c->ch, &c->cb);
    c->callbacks_set = false;
    if (c->ch)
        ssh_channel_free(c->ch);
    c->ch = NULL;
}

/* Forgets the channel, keeping the session. */
static void chan_drop(struct ssh_chan *c)
{
    chan_free_channel(c);
    if (c->ev) {
        if (c->wake >= 0)
            ssh_event_remove_fd(c->ev, c->wake);
        ssh_event_remove_session(c->ev, c->s);
        ssh_event_free(c->ev);
    }
    c->ev = NULL;
    c->wake = -1;
}

/* Readies the session's goodbye. libssh 0.10 writes a packet at once only
 * after a poll found the socket writable since its last write, else it
 * queues it for the next poll; ssh_disconnect() queues its
 * SSH_MSG_DISCONNECT and closes, so the message is lost and sshd, seeing
 * only the end of the connection, leaves the long way: its normal exit,
 * with OpenSSL's clean-up, a few ms of the host's CPU per session (OpenSSH's
 * client says goodbye and sshd leaves at once). So: the channel goes first
 * (its CLOSE, if not sent yet), one poll writes whatever is queued, a
 * second finds the socket writable again. Neither waits. All of it, and
 * the disconnect, leave corked, in the segment that closes the
 * connection: sshd wakes once for the goodbye. */
static void say_goodbye(struct ssh_chan *c)
{
    (void)cork(c, 1);
    chan_free_channel(c);
    if (c->ev) {
        (void)ssh_event_dopoll(c->ev, 0);
        (void)ssh_event_dopoll(c->ev, 0);
    }
}

static void ssh_chan_free(struct tchan *base)
{
    struct ssh_chan *c = (struct ssh_chan *)base;

    unpace(c->t, c);
    if (c->s && c->lost)
        ssh_set_blocking(c->s, 0); /* nobody answers: never wait */
    else if (c->s && ssh_is_connected(c->s))
        say_goodbye(c);
    chan_drop(c);
    if (c->s) {
        ssh_set_counters(c->s, NULL, NULL);
        ssh_disconnect(c->s);
        ssh_free(c->s);
    }
    host_socket_close(&c->hs);
    hostopts_release(&c->o);
    free(c->lost_error);
    free(c);
}

static int ssh_open(struct transport *base, const struct transport_target *tg,
                    const struct transport_cmd *cmd,
                    const struct transport_sink *sink, struct tchan **out,
                    struct transport_result *res)
{
    struct ssh_tp *t = (struct ssh_tp *)base;
    struct ssh_chan *c = xcalloc(1, sizeof(*c));

    *out = NULL;
    transport_result_init(res);
    c->base.ops = &transport_ssh_ops;
    c->t = t;
    c->cs.sink = sink;
    c->hs.fd = c->hs.lib_fd = -1;
    c->wake = -1;
    errno = 0;
    c->s = ssh_new();
    if (c->s == NULL) {
        fail_resources(res, errno ? errno : ENOMEM);
        goto fail;
    }
    if (chan_connect(t, c, tg, sink, res))
        goto fail;
    if (sink->control(sink->ctx) != CONTROL_CONTINUE) {
        /* stopped while connecting: nothing starts */
        res->outcome = OUTCOME_CLOSED;
        errf(res->error, "not started: stopped while connecting");
        goto fail;
    }
    if (chan_start(t, c, cmd, res))
        goto fail;
    /* Connected, its pacing turn given back: of the host's options only
     * the keepalives are used from here on. The rest is freed, since the
     * session may wait for the gate beside a thousand others. */
    c->alive_interval_s = c->o.alive_interval_s;
    c->alive_count_max = c->o.alive_count_max;
    hostopts_release(&c->o);
    *out = &c->base;
    return 0;
fail:
    ssh_chan_free(&c->base);
    return -1;
}

/* Where why the connection was lost is written: allocated then, since a
 * thousand paused sessions may wait for the gate. */
static char *lost_buf(struct ssh_chan *c)
{
    if (c->lost_error == NULL)
        c->lost_error = xcalloc(1, ERR_MAX);
    return c->lost_error;
}

/* ServerAliveInterval: a keepalive@openssh.com request (answered by any
 * OpenSSH server) after each interval without a packet from the host; the
 * host is lost when ServerAliveCountMax of them went unanswered, about
 * interval x count after it fell silent. Returns true when lost. */
static bool keepalive(struct ssh_chan *c, int64_t now)
{
    int64_t iv = (int64_t)c->alive_interval_s * 1000;
    uint64_t seen = c->sc.in_bytes + c->rc.in_packets;

    if (iv <= 0)
        return false;
    if (seen != c->seen) {
        c->seen = seen;
        c->last_rx = now;
        c->unanswered = 0;
        return false;
    }
    if (c->unanswered > 0 && now - c->last_sent >= iv &&
        now - c->last_rx >= iv * c->alive_count_max) {
        errf(lost_buf(c),
             "connection lost: no answer from the host for %llds "
             "(ServerAliveInterval %ld x ServerAliveCountMax %d)",
             (long long)((now - c->last_rx) / 1000), c->alive_interval_s,
             c->alive_count_max);
        jump_link_explain(c->hs.link, c->lost_error);
        return true;
    }
    if (now - (c->last_sent > c->last_rx ? c->last_sent : c->last_rx) >= iv) {
        /* non-blocking: the answer is counted when it arrives; a second
         * call sends when the first one only collected the last answer */
        ssh_set_blocking(c->s, 0);
        ssh_send_keepalive(c->s);
        ssh_send_keepalive(c->s);
        ssh_set_blocking(c->s, 1);
        c->unanswered++;
        c->last_sent = now;
    }
    return false;
}

/* Keeps the sink's wake_fd, which may change from round to round, in the
 * event. */
static void follow_wake(struct ssh_chan *c)
{
    const struct transport_sink *k = c->cs.sink;
    int want = k->wake_fd ? k->wake_fd(k->ctx) : -1;

    if (want == c->wake)
        return;
    if (c->wake >= 0)
        ssh_event_remove_fd(c->ev, c->wake);
    c->wake = -1;
    if (want >= 0 &&
        ssh_event_add_fd(c->ev, want, POLLIN, on_wake, NULL) == SSH_OK)
        c->wake = want;
}

/* Writes what the sink's feed() offers, as far as the channel's window
 * takes it now: never waits for the window to open. */
static void feed_input(struct ssh_chan *c)
{
    const struct transport_sink *k = c->cs.sink;

    if (k->feed == NULL || c->stage != 0)
        return;
    for (;;) {
        const char *p = NULL;
        size_t n = k->feed(k->ctx, &p);
        uint32_t win;
        int w;

        if (n == 0 || (win = ssh_channel_window_size(c->ch)) == 0)
            return;
        if (n > win)
            n = win;
        if (n > 32768)
            n = 32768;
        w = ssh_channel_write(c->ch, p, (uint32_t)n);
        if (w <= 0)
            return;
        k->fed(k->ctx, (size_t)w);
        if ((size_t)w < n)
            return;
    }
}

/* Pumps the channel, applying the sink's control, until it is closed
 * (returns 1) or control() asks to pause (returns 0). */
static int pump(struct ssh_chan *c)
{
    c->last_rx = clock_mono_ms(); /* a pause is not silence */
    c->unanswered = 0;
    while (!c->cs.closed) {
        enum transport_control ctl = c->cs.sink->control(c->cs.sink->ctx);
        int64_t now = clock_mono_ms();

        if (ctl == CONTROL_PAUSE)
            return 0;
        if (ctl == CONTROL_STOP && c->stage == 0) {
            /* The signal reaches the session's process group for non-root
             * logins on OpenSSH >= 7.9; the EOF makes the host script's
             * watchdog stop the task everywhere, root logins included. */
            ssh_channel_request_send_signal(c->ch, "TERM");
            ssh_channel_send_eof(c->ch);
            c->stage = 1;
            c->hard = now + STOP_GRACE_MS;
        }
        if (c->stage < 2 &&
            (ctl == CONTROL_CLOSE || (c->stage == 1 && now >= c->hard))) {
            ssh_channel_close(c->ch);
            c->stage = 2;
            c->hard = now + 2000;
        }
        if (c->stage == 2 && now >= c->hard)
            break;
        if (keepalive(c, now)) {
            c->lost = true;
            break;
        }
        feed_input(c);
        follow_wake(c);
        if (ssh_event_dopoll(c->ev, 100) == SSH_ERROR && !c->cs.closed) {
            if (!ssh_is_connected(c->s) ||
                ssh_get_status(c->s) & SSH_CLOSED_ERROR) {
                c->lost = true;
                errf(lost_buf(c), "connection lost: %s",
                     *ssh_get_error(c->s) ? ssh_get_error(c->s) : "closed");
                jump_link_explain(c->hs.link, c->lost_error);
                break;
            }
        }
    }
    return 1;
}

static int ssh_pump(struct tchan *base, struct transport_result *res)
{
    struct ssh_chan *c = (struct ssh_chan *)base;

    transport_result_init(res);
    if (!pump(c))
        return 0;
    if (c->lost && !c->cs.have_status && !c->cs.signal[0]) {
        res->outcome = OUTCOME_LOST;
        snprintf(res->error, sizeof(res->error), "%s",
                 c->lost_error ? c->lost_error : "connection lost");
    } else if (c->cs.signal[0]) {
        res->outcome = OUTCOME_SIGNALED;
        snprintf(res->signal, sizeof(res->signal), "%s", c->cs.signal);
        res->core = c->cs.core;
    } else if (c->cs.have_status) {
        res->outcome = OUTCOME_EXITED;
        res->exit_code = c->cs.status;
    } else {
        res->outcome = OUTCOME_CLOSED;
        errf(res->error, "channel closed without an exit status");
    }
    return 1;
}

static int ssh_write(struct tchan *base, const void *p, size_t n)
{
    return write_packets((struct ssh_chan *)base, p, n, 32768);
}

static int ssh_close_stdin(struct tchan *base)
{
    struct ssh_chan *c = (struct ssh_chan *)base;

    return ssh_channel_send_eof(c->ch) == SSH_OK ? 0 : -1;
}

static int ssh_resize(struct tchan *base, unsigned cols, unsigned rows)
{
    struct ssh_chan *c = (struct ssh_chan *)base;

    return ssh_channel_change_pty_size(c->ch, (int)cols, (int)rows) == SSH_OK
               ? 0
               : -1;
}

static int ssh_again(struct tchan *base, const struct transport_cmd *cmd,
                     const struct transport_sink *sink,
                     struct transport_result *res)
{
    struct ssh_chan *c = (struct ssh_chan *)base;

    transport_result_init(res);
    chan_drop(c);
    memset(&c->cs, 0, sizeof(c->cs));
    c->cs.sink = sink;
    c->stage = 0;
    c->lost = false;
    free(c->lost_error);
    c->lost_error = NULL;
    return chan_start(c->t, c, cmd, res);
}

const struct transport_ops transport_ssh_ops = {
    .name = "ssh",
    .open = ssh_open,
    .pump = ssh_pump,
    .write = ssh_write,
    .close_stdin = ssh_close_stdin,
    .resize = ssh_resize,
    .again = ssh_again,
    .free_chan = ssh_chan_free,
    .free = ssh_tp_free,
};
