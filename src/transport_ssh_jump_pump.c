/*
 * transport_ssh_jump_pump.c - the thread that owns one jump session (see
 * transport_ssh_jump.h): it opens the direct-tcpip channels that workers
 * ask for, and copies bytes between each channel and its socketpair end
 * with one poll(2) over the session's socket, every channel's socket and
 * its doorbell. Each channel buffers at most LINK_BUF bytes each way: a
 * slow reader holds the other side back through the SSH window or the
 * socket, never through our memory.
 */
#define _GNU_SOURCE
#include "transport_ssh_jump_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_ssh_int.h"

void jump_wake(struct jump_sess *js)
{
    uint64_t one = 1;

    if (js->wake >= 0 && write(js->wake, &one, sizeof(one)) < 0)
        (void)0; /* the counter is only a doorbell: it cannot overflow */
}

static int on_chan_data(ssh_session s, ssh_channel c, void *data, uint32_t len,
                        int is_stderr, void *ud)
{
    struct jump_link *l = ud;
    size_t room = LINK_BUF - l->ns;
    size_t n = len < room ? len : room;

    (void)s;
    (void)c;
    if (is_stderr)
        return (int)len; /* direct-tcpip has no stderr: drop it */
    memcpy(l->to_sock + l->ns, data, n);
    l->ns += n;
    l->leftover = n < len;
    return (int)n;
}

static void link_close_pfd(struct jump_link *l)
{
    if (l->pfd >= 0)
        close(l->pfd);
    l->pfd = -1;
}

/* Frees a link the target released; the channel goes with it. */
static void link_destroy(struct jump_link *l)
{
    if (l->ch) {
        ssh_remove_channel_callbacks(l->ch, &l->cb);
        if (ssh_channel_is_open(l->ch))
            ssh_channel_close(l->ch);
        ssh_channel_free(l->ch);
    }
    link_close_pfd(l);
    free(l->host);
    free(l);
}

/* Caller holds the lock. */
void jump_link_fail(struct jump_link *l, enum transport_outcome o,
                    const char *detail)
{
    l->state = LK_FAILED;
    l->outcome = o;
    errf(l->error, "jump host '%s': cannot reach %s:%u: %s", l->js->name,
         l->host, l->port, detail && *detail ? detail : "failed");
    link_close_pfd(l);
}

/* Opens (or goes on opening) the channel of l; caller holds the lock. */
static void link_open(struct jump_sess *js, struct jump_link *l)
{
    int rc;

    if (l->ch == NULL) {
        l->ch = ssh_channel_new(js->s);
        if (l->ch == NULL) {
            jump_link_fail(l, OUTCOME_ERROR, "no channel");
            return;
        }
        l->cb.userdata = l;
        l->cb.channel_data_function = on_chan_data;
        ssh_callbacks_init(&l->cb);
        ssh_set_channel_callbacks(l->ch, &l->cb);
        l->state = LK_OPENING;
    }
    rc = ssh_channel_open_forward(l->ch, l->host, (int)l->port, "127.0.0.1", 0);
    if (rc == SSH_AGAIN)
        return;
    if (rc == SSH_OK) {
        l->state = LK_OPEN;
        return;
    }
    jump_link_fail(l, OUTCOME_UNREACHABLE, ssh_get_error(js->s));
}

/* Moves bytes between l's channel and its socket; caller holds the lock
 * (the work is short: at most one buffer each way). */
static void link_service(struct jump_link *l, short revents)
{
    ssize_t r;

    if (l->leftover && l->ns < LINK_BUF) {
        int got = ssh_channel_read_timeout(l->ch, l->to_sock + l->ns,
                                           (uint32_t)(LINK_BUF - l->ns), 0, 0);
        if (got > 0)
            l->ns += (size_t)got;
        l->leftover = got > 0 && l->ns == LINK_BUF;
    }
    if (l->ns > 0 && l->pfd >= 0 && (revents & POLLOUT)) {
        r = send(l->pfd, l->to_sock, l->ns, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) {
            memmove(l->to_sock, l->to_sock + r, l->ns - (size_t)r);
            l->ns -= (size_t)r;
        } else if (r < 0 && errno != EAGAIN && errno != EINTR) {
            l->sock_eof = true;
            l->ns = 0;
        }
    }
    if (l->nc == 0 && !l->sock_eof && l->pfd >= 0 && (revents & POLLIN)) {
        uint32_t win = ssh_channel_window_size(l->ch);
        size_t want = win < LINK_BUF ? win : LINK_BUF;
        if (want > 0) {
            r = recv(l->pfd, l->to_chan, want, MSG_DONTWAIT);
            if (r > 0)
                l->nc = (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                l->sock_eof = true;
        }
    }
    if (l->nc > 0) {
        int w = ssh_channel_write(l->ch, l->to_chan, (uint32_t)l->nc);
        if (w > 0) {
            memmove(l->to_chan, l->to_chan + w, l->nc - (size_t)w);
            l->nc -= (size_t)w;
        } else if (w == SSH_ERROR) {
            l->nc = 0;
            l->sock_eof = true;
        }
    }
    if (l->sock_eof && l->nc == 0 && ssh_channel_is_open(l->ch) &&
        !ssh_channel_is_eof(l->ch))
        ssh_channel_send_eof(l->ch);
    /* the far end is gone and everything it sent was delivered */
    if (!l->shut && l->pfd >= 0 && l->ns == 0 && !l->leftover &&
        (ssh_channel_is_eof(l->ch) || ssh_channel_is_closed(l->ch))) {
        shutdown(l->pfd, SHUT_WR);
        l->shut = true;
    }
}

/* The jump session is gone: every target behind it sees its connection
 * end, new requests fail. Caller holds the lock. */
static void sess_lost(struct jump_sess *js, const char *why)
{
    const char *e = why ? why : ssh_get_error(js->s);

    js->state = JS_FAILED;
    js->outcome = OUTCOME_UNREACHABLE;
    errf(js->error, "jump host '%s': connection lost: %s", js->name,
         e && *e ? e : "closed");
    for (struct jump_link *l = js->links; l; l = l->next) {
        if (l->state == LK_OPEN && l->pfd >= 0)
            shutdown(l->pfd, SHUT_RDWR);
        else if (l->state != LK_OPEN && l->state != LK_FAILED)
            jump_link_fail(l, OUTCOME_UNREACHABLE,
                           "connection to the jump host lost");
    }
}

/* Frees the released links; caller holds the lock. */
static void reap_links(struct jump_sess *js)
{
    struct jump_link **pp = &js->links;

    while (*pp) {
        struct jump_link *l = *pp;
        if (l->released) {
            *pp = l->next;
            link_destroy(l);
        } else {
            pp = &l->next;
        }
    }
}

/* The descriptors to wait for: the doorbell, the session, the links'
 * sockets. *now is set when a link has work that no descriptor announces
 * (channel data we left in libssh for want of room, now that there is). */
static size_t build_poll(struct jump_sess *js, struct pollfd **pfd,
                         size_t *alloc, struct jump_link ***who, bool *now)
{
    size_t n = 0, nl = 0;
    int flags = ssh_get_poll_flags(js->s);

    for (struct jump_link *l = js->links; l; l = l->next)
        nl++;
    xgrow((void **)pfd, alloc, nl + 2, sizeof(**pfd));
    *who = xrealloc(*who, (nl + 2) * sizeof(**who));
    (*pfd)[n].fd = js->wake;
    (*pfd)[n].events = POLLIN;
    (*who)[n++] = NULL;
    (*pfd)[n].fd = ssh_get_fd(js->s);
    (*pfd)[n].events =
        (short)(POLLIN | ((flags & SSH_WRITE_PENDING) ? POLLOUT : 0));
    (*who)[n++] = NULL;
    for (struct jump_link *l = js->links; l; l = l->next) {
        short ev = 0;
        if (l->state != LK_OPEN || l->pfd < 0)
            continue;
        if (l->leftover && l->ns < LINK_BUF)
            *now = true;
        if (l->ns > 0)
            ev |= POLLOUT;
        if (l->nc == 0 && !l->sock_eof && ssh_channel_window_size(l->ch) > 0)
            ev |= POLLIN;
        (*pfd)[n].fd = l->pfd;
        (*pfd)[n].events = ev;
        (*who)[n++] = l;
    }
    return n;
}

void *jump_pump_main(void *arg)
{
    struct jump_sess *js = arg;
    struct jump_table *jt = js->jt;
    ssh_event ev = ssh_event_new();
    struct pollfd *pfd = NULL;
    struct jump_link **who = NULL;
    size_t alloc = 0;
    uint64_t cnt;
    bool bye;

    pthread_mutex_lock(&jt->lock);
    if (ev == NULL || ssh_event_add_session(ev, js->s) != SSH_OK) {
        sess_lost(js, "cannot poll the session");
    }
    while (!js->stop) {
        size_t n;
        bool now = false;
        int pr;

        reap_links(js);
        if (js->state == JS_READY) {
            for (struct jump_link *l = js->links; l; l = l->next)
                if (l->state == LK_PENDING || l->state == LK_OPENING)
                    link_open(js, l);
        }
        pthread_cond_broadcast(&jt->cond);
        n = build_poll(js, &pfd, &alloc, &who, &now);
        if (js->state != JS_READY)
            n = 1; /* only the doorbell: we wait to be stopped */
        pthread_mutex_unlock(&jt->lock);
        pr = poll(pfd, n, now ? 0 : PUMP_TICK_MS);
        pthread_mutex_lock(&jt->lock);
        if (pr < 0)
            continue;
        if (pfd[0].revents & POLLIN && read(js->wake, &cnt, sizeof(cnt)) < 0)
            (void)0; /* nothing queued: the next poll says so */
        if (js->state != JS_READY)
            continue;
        if (pfd[1].revents && ssh_event_dopoll(ev, 0) == SSH_ERROR &&
            !ssh_is_connected(js->s)) {
            sess_lost(js, NULL);
            continue;
        }
        for (size_t i = 2; i < n; i++)
            if (who[i] && !who[i]->released)
                link_service(who[i], pfd[i].revents | POLLOUT | POLLIN);
        if (!ssh_is_connected(js->s))
            sess_lost(js, NULL);
    }
    for (struct jump_link *l = js->links; l; l = l->next)
        l->released = true; /* the table is going: nobody waits any more */
    reap_links(js);
    bye = ev && js->state == JS_READY && ssh_is_connected(js->s);
    pthread_mutex_unlock(&jt->lock);
    if (bye) {
        /* the channels' CLOSEs out, the socket found writable: the
         * disconnect that jump_table_free() sends then leaves at once (as
         * a host's session does, transport_ssh.c say_goodbye()) */
        (void)ssh_event_dopoll(ev, 0);
        (void)ssh_event_dopoll(ev, 0);
    }
    if (ev) {
        ssh_event_remove_session(ev, js->s);
        ssh_event_free(ev);
    }
    free(pfd);
    free(who);
    return NULL;
}
