/*
 * transport_ssh_jump.c - jump hosts through libssh itself (see
 * transport_ssh_jump.h for the contract and the threads): a table of jump
 * sessions keyed by where they lead and through what, each connected once
 * by the first worker that needs it and then served by a pump thread of its
 * own that bridges its direct-tcpip channels to socketpairs.
 */
#define _GNU_SOURCE
#include "transport_ssh_jump_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oneoff/ssh_config.h"
#include "transport_ssh_int.h"

struct jump_table *jump_table_new(void)
{
    struct jump_table *jt = xcalloc(1, sizeof(*jt));

    pthread_mutex_init(&jt->lock, NULL);
    pthread_cond_init(&jt->cond, NULL);
    return jt;
}

/* ---- connecting a jump host (in the worker that needs it first) --------- */

static void prefix_error(struct transport_result *res, const char *name)
{
    char e[ERR_MAX];

    snprintf(e, sizeof(e), "%s", res->error);
    errf(res->error, "jump host '%s': %s", name, e);
}

int jump_proxy(const char *command, struct jump_link **out, char *err)
{
    struct ssh_proxy *p = NULL;

    *out = NULL;
    if (proxy_start(command, &p, err))
        return -1;
    *out = xcalloc(1, sizeof(**out));
    (*out)->proxy = p;
    (*out)->tfd = proxy_fd(p);
    (*out)->pfd = -1;
    return 0;
}

static int link_request(struct ssh_tp *t, struct jump_sess *js,
                        const char *host, unsigned port, struct jump_link **out,
                        struct transport_result *res);

/* Connects, checks and authenticates the jump session js for hop h (through
 * the session before it, via, when there is one; else directly or through
 * h's ProxyCommand), with the options oneoff's ssh config reading gives h.
 * Called without the lock; js is ours until it is marked READY or FAILED. */
static int sess_connect(struct ssh_tp *t, struct jump_sess *js,
                        const struct sshcfg_host *h, struct jump_sess *via,
                        struct transport_result *res)
{
    struct ssh_hostopts o;
    int rc = -1;

    res->outcome = OUTCOME_ERROR;
    if (hostopts_hop(t, h, via == NULL, &o, res->error))
        goto out;
    js->s = ssh_new();
    if (js->s == NULL) {
        errf(res->error, "cannot create a session");
        goto out;
    }
    if (via) {
        struct jump_link *l = NULL;
        struct transport_result r2;
        transport_result_init(&r2);
        /* already "jump host 'VIA': ..." */
        if (link_request(t, via, h->hostname, h->port, &l, &r2)) {
            res->outcome = r2.outcome;
            snprintf(res->error, sizeof(res->error), "%s", r2.error);
            hostopts_release(&o);
            return -1;
        }
        if (host_socket_link(l, &js->hs, res))
            goto out;
    } else if (host_socket_open(t, &o, clock_mono_ms() + o.connect_timeout_ms,
                                &js->hs, res)) {
        goto out;
    }
    if (session_login(t, js->s, &o, &js->hs, res))
        goto out;
    ssh_set_blocking(js->s, 0);
    rc = 0;
out:
    if (rc)
        prefix_error(res, js->name);
    hostopts_release(&o);
    return rc;
}

static char *sess_key(const struct sshcfg_host *h, const struct jump_sess *via)
{
    return xasprintf("%s@%s:%u/%s", h->user, h->hostname, h->port,
                     via ? via->key : "");
}

/* Finds or makes the session for hop h behind via; waits while another
 * worker connects it. Returns it READY, or NULL with res (its failure,
 * remembered for the run). */
static struct jump_sess *sess_get(struct ssh_tp *t, const struct sshcfg_host *h,
                                  struct jump_sess *via,
                                  struct transport_result *res)
{
    struct jump_table *jt = t->jumps;
    char *key = sess_key(h, via);
    struct jump_sess *js;
    int rc;

    pthread_mutex_lock(&jt->lock);
    for (js = jt->sessions; js; js = js->next)
        if (strcmp(js->key, key) == 0)
            break;
    if (js) {
        free(key);
        while (js->state == JS_CONNECTING)
            pthread_cond_wait(&jt->cond, &jt->lock);
        goto done;
    }
    js = xcalloc(1, sizeof(*js));
    js->jt = jt;
    js->key = key; /* transferred */
    js->name = xstrdup(h->alias);
    js->wake = -1;
    js->hs.fd = js->hs.lib_fd = -1;
    js->state = JS_CONNECTING;
    js->next = jt->sessions;
    jt->sessions = js;
    pthread_mutex_unlock(&jt->lock);

    rc = sess_connect(t, js, h, via, res);
    if (rc == 0) {
        js->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (js->wake < 0) {
            res->outcome = OUTCOME_ERROR;
            rc = errf(res->error, "jump host '%s': %s", js->name,
                      strerror(errno));
        }
    }
    pthread_mutex_lock(&jt->lock);
    if (rc == 0) {
        js->state = JS_READY;
        /* from here the pump owns js->s */
        if (pthread_create(&js->thread, NULL, jump_pump_main, js) == 0) {
            js->running = true;
        } else {
            js->state = JS_FAILED;
            js->outcome = OUTCOME_ERROR;
            errf(js->error, "jump host '%s': cannot start a thread", js->name);
        }
    } else {
        js->state = JS_FAILED;
        js->outcome = res->outcome;
        snprintf(js->error, sizeof(js->error), "%s", res->error);
    }
    pthread_cond_broadcast(&jt->cond);
done:
    if (js->state != JS_READY) {
        res->outcome = js->outcome;
        snprintf(res->error, sizeof(res->error), "%s", js->error);
        js = NULL;
    }
    pthread_mutex_unlock(&jt->lock);
    return js;
}

/* Asks js's pump for a channel to host:port and waits for it. */
static int link_request(struct ssh_tp *t, struct jump_sess *js,
                        const char *host, unsigned port, struct jump_link **out,
                        struct transport_result *res)
{
    struct jump_table *jt = t->jumps;
    struct jump_link *l = xcalloc(1, sizeof(*l));
    int sv[2];
    struct stat st;
    int64_t deadline = clock_mono_ms() + t->connect_timeout_ms;
    int rc = -1;

    *out = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        res->outcome = OUTCOME_ERROR;
        errf(res->error, "cannot reach '%s' through jump host '%s': %s", host,
             js->name, strerror(errno));
        free(l);
        return -1;
    }
    fstat(sv[0], &st);
    l->js = js;
    l->host = xstrdup(host);
    l->port = port;
    l->tfd = sv[0];
    l->tino = st.st_ino;
    l->pfd = sv[1];
    l->state = LK_PENDING;
    pthread_mutex_lock(&jt->lock);
    if (js->state != JS_READY) {
        res->outcome = js->outcome;
        snprintf(res->error, sizeof(res->error), "%s", js->error);
        pthread_mutex_unlock(&jt->lock);
        close(sv[0]);
        close(sv[1]);
        free(l->host);
        free(l);
        return -1;
    }
    l->next = js->links;
    js->links = l;
    jump_wake(js);
    while (l->state == LK_PENDING || l->state == LK_OPENING) {
        struct timespec ts;
        int64_t now = clock_mono_ms();
        if (now >= deadline) {
            jump_link_fail(l, OUTCOME_UNREACHABLE, "timed out");
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&jt->cond, &jt->lock, &ts);
    }
    if (l->state == LK_OPEN) {
        *out = l;
        rc = 0;
    } else {
        res->outcome = l->outcome;
        snprintf(res->error, sizeof(res->error), "%s", l->error);
        close(l->tfd);
        l->tfd = -1;
        l->released = true;
        jump_wake(js);
    }
    pthread_mutex_unlock(&jt->lock);
    return rc;
}

int jump_attach(struct ssh_tp *t, const struct ssh_hostopts *o,
                struct jump_link **out, struct transport_result *res)
{
    struct jump_sess *js = NULL;

    *out = NULL;
    for (size_t i = 0; i + 1 < o->chain.n; i++) {
        js = sess_get(t, &o->chain.v[i], js, res);
        if (js == NULL)
            return -1;
    }
    if (js == NULL) {
        res->outcome = OUTCOME_ERROR;
        return errf(res->error, "no jump host");
    }
    /* the target's HostName and Port, as the last jump host resolves
     * them (ssh -W %h:%p) */
    return link_request(t, js, o->h->hostname, o->h->port, out, res);
}

int jump_link_again(struct ssh_tp *t, struct jump_link *l,
                    struct jump_link **out, struct transport_result *res)
{
    *out = NULL;
    if (l->js == NULL) {
        res->outcome = OUTCOME_ERROR;
        return errf(res->error, "not through a ProxyCommand");
    }
    return link_request(t, l->js, l->host, l->port, out, res);
}

int jump_link_fd(const struct jump_link *l)
{
    return l->tfd;
}

void jump_link_explain(struct jump_link *l, char *err)
{
    size_t len = strlen(err);

    if (l && l->proxy) {
        proxy_explain(l->proxy, err);
    } else if (l) {
        pthread_mutex_lock(&l->js->jt->lock);
        if (l->js->state == JS_FAILED)
            snprintf(err + len, ERR_MAX - len, " (%s)", l->js->error);
        pthread_mutex_unlock(&l->js->jt->lock);
    }
}

void jump_link_release(struct jump_link *l)
{
    struct stat st;
    struct jump_table *jt;

    if (l == NULL)
        return;
    if (l->js == NULL) {
        proxy_free(l->proxy);
        free(l);
        return;
    }
    jt = l->js->jt;
    /* libssh 0.10 closes a descriptor given with SSH_OPTIONS_FD on some
     * error paths, and not otherwise: close it only if the number still
     * names our socket */
    if (l->tfd >= 0 && fstat(l->tfd, &st) == 0 && st.st_ino == l->tino)
        close(l->tfd);
    pthread_mutex_lock(&jt->lock);
    l->tfd = -1;
    l->released = true;
    jump_wake(l->js);
    pthread_mutex_unlock(&jt->lock);
}

void jump_table_free(struct jump_table *jt)
{
    if (jt == NULL)
        return;
    /* newest first: a second hop goes before the hop it runs through */
    while (jt->sessions) {
        struct jump_sess *js = jt->sessions;
        pthread_mutex_lock(&jt->lock);
        js->stop = true;
        jump_wake(js);
        pthread_mutex_unlock(&jt->lock);
        if (js->running)
            pthread_join(js->thread, NULL);
        if (js->s) {
            ssh_disconnect(js->s);
            ssh_free(js->s);
        }
        host_socket_close(&js->hs);
        jt->sessions = js->next;
        if (js->wake >= 0)
            close(js->wake);
        free(js->key);
        free(js->name);
        free(js);
    }
    pthread_cond_destroy(&jt->cond);
    pthread_mutex_destroy(&jt->lock);
    free(jt);
}
