/*
 * transport_ssh.c - one command on one host over libssh.
 *
 * Per host, in the calling worker thread: a session of its own (never a
 * shared ssh_event: in libssh 0.10 one dead socket poisons every session in
 * a shared event), connected and authenticated by transport_ssh_auth.c,
 * then one channel (with a terminal when asked), and a callback-driven
 * pump on a one-session event with a 100 ms tick until the channel is
 * CLOSED (not at EOF: exit-status may arrive after it).
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"
#include "transport_ssh_jump.h"

#include <errno.h>
#include <libssh/callbacks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    ssh_session s;
    ssh_channel ch;
    ssh_event ev;
    struct chan_state cs;
    struct ssh_channel_callbacks_struct cb;
    bool callbacks_set;
    int stage; /* 0 running, 1 stop asked, 2 closed by us */
    int64_t hard;
    struct jump_link *link; /* through jump hosts: the forwarded connection */
    bool lost;
    char lost_error[ERR_MAX];
};

static int fail_resources(struct transport_result *res, int e)
{
    res->outcome = OUTCOME_ERROR;
    errf(res->error, "%s (raise 'ulimit -n' or use fewer hosts at once)",
         strerror(e));
    return -1;
}

static int chan_connect(struct ssh_tp *t, struct ssh_chan *c,
                        const struct transport_target *tg,
                        const struct transport_sink *sink,
                        struct transport_result *res)
{
    char *cfg = NULL, *alias = NULL;
    struct hostkey_ctx hk;
    int rc = -1;

    res->outcome = OUTCOME_ERROR;
    if (set_options(t, c->s, tg, res->error))
        return -1;
    /* before connecting: ssh_connect() expands libssh's default identities
     * and they would read as configured ones */
    cfg = config_identity(c->s);
    /* jump hosts: a forwarded connection instead of a socket */
    if (jump_attach(t, c->s, tg, &c->link, res))
        goto out;
    errno = 0;
    if (ssh_connect(c->s) != SSH_OK) {
        char where[300];
        if (out_of_resources(errno)) {
            rc = fail_resources(res, errno);
            goto out;
        }
        res->outcome = OUTCOME_UNREACHABLE;
        endpoint(c->s, where, sizeof(where));
        errf(res->error, "cannot connect to %s: %s", where,
             ssh_get_error(c->s));
        jump_link_explain(c->link, res->error); /* a ProxyCommand's words */
        goto out;
    }
    hk.alias = alias = jump_host_key_alias(t, tg);
    hk.link = c->link;
    switch (verify_host_key(t, c->s, &hk, res->error)) {
    case 0:
        break;
    case -2:
        res->outcome = OUTCOME_ERROR;
        goto out;
    default:
        res->outcome = OUTCOME_HOST_KEY;
        goto out;
    }
    if (authenticate(t, c->s, tg, cfg, res->error)) {
        res->outcome = OUTCOME_AUTH;
        goto out;
    }
    if (sink->connected)
        sink->connected(sink->ctx);
    rc = 0;
out:
    free(cfg);
    free(alias);
    return rc;
}

static int chan_start(struct ssh_chan *c, const struct transport_cmd *cmd,
                      struct transport_result *res)
{
    ssh_session s = c->s;

    c->ch = ssh_channel_new(s);
    if (c->ch == NULL || ssh_channel_open_session(c->ch) != SSH_OK) {
        res->outcome = ssh_is_connected(s) ? OUTCOME_ERROR : OUTCOME_LOST;
        return errf(res->error, "cannot open a channel: %s", ssh_get_error(s));
    }
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
    if (cmd->pty &&
        ssh_channel_request_pty_size(c->ch, cmd->term ? cmd->term : "xterm",
                                     (int)cmd->cols, (int)cmd->rows) != SSH_OK)
        return errf(res->error, "the host refused a terminal: %s",
                    ssh_get_error(s));
    if (ssh_channel_request_exec(c->ch, cmd->command) != SSH_OK)
        return errf(res->error, "the host refused to run the command: %s",
                    ssh_get_error(s));
    return 0;
}

static void ssh_chan_free(struct tchan *base)
{
    struct ssh_chan *c = (struct ssh_chan *)base;

    if (c->ev) {
        ssh_event_remove_session(c->ev, c->s);
        ssh_event_free(c->ev);
    }
    if (c->callbacks_set)
        ssh_remove_channel_callbacks(c->ch, &c->cb);
    if (c->ch)
        ssh_channel_free(c->ch);
    if (c->s) {
        ssh_disconnect(c->s);
        ssh_free(c->s);
    }
    jump_link_release(c->link); /* after the session let go of it */
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
    c->cs.sink = sink;
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
    if (chan_start(c, cmd, res))
        goto fail;
    *out = &c->base;
    return 0;
fail:
    ssh_chan_free(&c->base);
    return -1;
}

/* Pumps the channel, applying the sink's control, until it is closed
 * (returns 1) or control() asks to pause (returns 0). */
static int pump(struct ssh_chan *c)
{
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
        if (ssh_event_dopoll(c->ev, 100) == SSH_ERROR && !c->cs.closed) {
            if (!ssh_is_connected(c->s) ||
                ssh_get_status(c->s) & SSH_CLOSED_ERROR) {
                c->lost = true;
                errf(c->lost_error, "connection lost: %s",
                     *ssh_get_error(c->s) ? ssh_get_error(c->s) : "closed");
                jump_link_explain(c->link, c->lost_error);
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
        snprintf(res->error, sizeof(res->error), "%s", c->lost_error);
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
    struct ssh_chan *c = (struct ssh_chan *)base;
    const char *q = p;

    while (n > 0) {
        uint32_t chunk = n > 32768 ? 32768 : (uint32_t)n;
        int w = ssh_channel_write(c->ch, q, chunk);
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return 0;
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

const struct transport_ops transport_ssh_ops = {
    .name = "ssh",
    .open = ssh_open,
    .pump = ssh_pump,
    .write = ssh_write,
    .close_stdin = ssh_close_stdin,
    .resize = ssh_resize,
    .free_chan = ssh_chan_free,
    .free = ssh_tp_free,
};

int transport_ssh_preload(struct transport *base,
                          const struct transport_target *tg, char *err)
{
    struct ssh_tp *t = (struct ssh_tp *)base;
    ssh_session s;
    char *cfg = NULL;
    int rc = 0;

    if (t->cli_ids.n)
        return 0; /* -i keys were loaded already and are the only ones */
    if (tg->identity)
        return preload(t, tg->identity, err);
    s = ssh_new();
    if (s == NULL)
        return errf(err, "cannot create an SSH session");
    if (set_options(t, s, tg, err) == 0) {
        cfg = config_identity(s);
        if (cfg)
            rc = preload(t, cfg, err);
    } else {
        rc = -1;
    }
    free(cfg);
    ssh_free(s);
    return rc;
}
