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

int jump_table_new(struct jump_table **out, const char *config_file, char *err)
{
    struct jump_table *jt = xcalloc(1, sizeof(*jt));
    struct sshcfg_opts o;
    const char *home = getenv("HOME");

    *out = NULL;
    memset(&o, 0, sizeof(o));
    o.config_file = config_file;
    o.home_dir = home && *home ? home : NULL;
    if (sshcfg_load(&jt->cfg, &o, err)) {
        free(jt);
        return -1;
    }
    pthread_mutex_init(&jt->lock, NULL);
    pthread_cond_init(&jt->cond, NULL);
    *out = jt;
    return 0;
}

/* ---- connecting a jump host (in the worker that needs it first) --------- */

static void prefix_error(struct transport_result *res, const char *name)
{
    char e[ERR_MAX];

    snprintf(e, sizeof(e), "%s", res->error);
    errf(res->error, "jump host '%s': %s", name, e);
}

/* A link that is a ProxyCommand of h (which has one). */
static int proxy_link(const struct sshcfg_host *h, struct jump_link **out,
                      struct transport_result *res)
{
    char *cmd = NULL;
    struct ssh_proxy *p = NULL;

    *out = NULL;
    res->outcome = OUTCOME_ERROR;
    if (sshcfg_proxy_command(h, &cmd, res->error) ||
        proxy_start(cmd, &p, res->error)) {
        free(cmd);
        return -1;
    }
    free(cmd);
    *out = xcalloc(1, sizeof(**out));
    (*out)->proxy = p;
    (*out)->tfd = proxy_fd(p);
    (*out)->pfd = -1;
    return 0;
}

static int link_request(struct ssh_tp *t, struct jump_sess *js,
                        const char *host, unsigned port, struct jump_link **out,
                        struct transport_result *res);

/* The identity the hop's config names explicitly, if any; OpenSSH's default
 * names do not count (authenticate() tries those itself). */
static const char *hop_identity(const struct sshcfg_host *h)
{
    for (size_t i = 0; i < h->identity_files.n; i++) {
        const char *p = h->identity_files.v[i];
        const char *base = strrchr(p, '/');
        base = base ? base + 1 : p;
        if (strncmp(base, "id_", 3) == 0 && strstr(p, "/.ssh/"))
            continue;
        if (access(p, R_OK) == 0)
            return p;
    }
    return NULL;
}

/* Connects, checks and authenticates the jump session js for hop h (through
 * the session before it, via, when there is one). Called without the lock;
 * js is ours until it is marked READY or FAILED. */
static int sess_connect(struct ssh_tp *t, struct jump_sess *js,
                        const struct sshcfg_host *h, struct jump_sess *via,
                        struct transport_result *res)
{
    struct transport_target tg = {h->alias, h->hostname, h->port,
                                  h->user,  NULL,        NULL};
    char e[ERR_MAX] = "";
    struct hostkey_ctx hk;
    bool no = false;
    int one = 1;
    long sec = (long)(t->connect_timeout_ms / 1000);
    long usec = (long)(t->connect_timeout_ms % 1000) * 1000;
    unsigned int port = h->port;

    js->s = ssh_new();
    if (js->s == NULL) {
        res->outcome = OUTCOME_ERROR;
        return errf(res->error, "jump host '%s': cannot create a session",
                    js->name);
    }
    /* the hop was resolved with oneoff's own ssh config reader */
    ssh_options_set(js->s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    if (ssh_options_set(js->s, SSH_OPTIONS_HOST, h->hostname) != SSH_OK ||
        ssh_options_set(js->s, SSH_OPTIONS_USER, h->user) != SSH_OK) {
        res->outcome = OUTCOME_ERROR;
        return errf(res->error, "jump host '%s': invalid host or user name",
                    js->name);
    }
    ssh_options_set(js->s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(js->s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &one);
    ssh_options_set(js->s, SSH_OPTIONS_TIMEOUT, &sec);
    ssh_options_set(js->s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
    ssh_options_set(js->s, SSH_OPTIONS_NODELAY, &one);
    if (t->known_hosts) {
        ssh_options_set(js->s, SSH_OPTIONS_KNOWNHOSTS, t->known_hosts);
        ssh_options_set(js->s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    } else if (h->known_hosts_files.n) {
        ssh_options_set(js->s, SSH_OPTIONS_KNOWNHOSTS,
                        h->known_hosts_files.v[0]);
    }
    if (via == NULL && h->proxy_command) {
        if (proxy_link(h, &js->via, res)) {
            prefix_error(res, js->name);
            return -1;
        }
        ssh_options_set(js->s, SSH_OPTIONS_FD, &js->via->tfd);
    } else if (via) {
        struct transport_result r2;
        transport_result_init(&r2);
        if (link_request(t, via, h->hostname, h->port, &js->via, &r2)) {
            res->outcome = r2.outcome;
            return errf(res->error, "%s", r2.error);
        }
        ssh_options_set(js->s, SSH_OPTIONS_FD, &js->via->tfd);
    }
    if (ssh_connect(js->s) != SSH_OK) {
        char where[300];
        endpoint(js->s, where, sizeof(where));
        res->outcome = OUTCOME_UNREACHABLE;
        errf(res->error, "jump host '%s': cannot connect to %s: %s", js->name,
             where, ssh_get_error(js->s));
        jump_link_explain(js->via, res->error);
        return -1;
    }
    hk.alias = h->host_key_alias;
    hk.link = js->via;
    switch (verify_host_key(t, js->s, &hk, e)) {
    case 0:
        break;
    case -2:
        res->outcome = OUTCOME_ERROR;
        return errf(res->error, "jump host '%s': %s", js->name, e);
    default:
        res->outcome = OUTCOME_HOST_KEY;
        return errf(res->error, "jump host '%s': %s", js->name, e);
    }
    if (authenticate(t, js->s, &tg, hop_identity(h), e)) {
        res->outcome = OUTCOME_AUTH;
        return errf(res->error, "jump host '%s': %s", js->name, e);
    }
    ssh_set_blocking(js->s, 0);
    return 0;
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

int jump_attach(struct ssh_tp *t, ssh_session s,
                const struct transport_target *tg, struct jump_link **out,
                struct transport_result *res)
{
    struct sshcfg_target st;
    struct sshcfg_chain ch = {0};
    struct jump_sess *js = NULL;
    char *host = NULL;
    unsigned int port = 22;
    int rc = -1;

    *out = NULL;
    if (t->jumps == NULL)
        return 0;
    memset(&st, 0, sizeof(st));
    st.alias = tg->name;
    st.jump = tg->jump;
    if (sshcfg_resolve_chain(t->jumps->cfg, &st, &ch, res->error)) {
        res->outcome = OUTCOME_ERROR;
        return -1;
    }
    if (ch.n < 2 && ch.v[0].proxy_command == NULL) {
        /* a direct connection: libssh must not run a ProxyCommand of its
         * own reading of the config (its ProxyJump, say, under jump: none) */
        ssh_options_set(s, SSH_OPTIONS_PROXYCOMMAND, "none");
        sshcfg_chain_release(&ch);
        return 0;
    }
    if (ch.n < 2) {
        /* %h and %p are the inventory's address and port when it has them */
        if (tg->address) {
            free(ch.v[0].hostname);
            ch.v[0].hostname = xstrdup(tg->address);
        }
        if (tg->port)
            ch.v[0].port = tg->port;
        if (proxy_link(&ch.v[0], out, res) == 0)
            rc = 0;
        goto fd;
    }
    for (size_t i = 0; i + 1 < ch.n; i++) {
        js = sess_get(t, &ch.v[i], js, res);
        if (js == NULL)
            goto out;
    }
    ssh_options_get(s, SSH_OPTIONS_HOST, &host);
    ssh_options_get_port(s, &port);
    if (link_request(t, js, host ? host : tg->name, port, out, res))
        goto out;
    rc = 0;
fd:
    if (rc == 0 && ssh_options_set(s, SSH_OPTIONS_FD, &(*out)->tfd) != SSH_OK) {
        rc = -1;
        res->outcome = OUTCOME_ERROR;
        errf(res->error, "cannot hand the connection to the session");
        jump_link_release(*out);
        *out = NULL;
    }
out:
    ssh_string_free_char(host);
    sshcfg_chain_release(&ch);
    return rc;
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

char *jump_host_key_alias(struct ssh_tp *t, const struct transport_target *tg)
{
    struct sshcfg_target st;
    struct sshcfg_host h;
    char e[ERR_MAX];
    char *alias = NULL;

    if (t->jumps == NULL)
        return NULL;
    memset(&st, 0, sizeof(st));
    st.alias = tg->name;
    if (sshcfg_resolve(t->jumps->cfg, &st, &h, e) == 0 && h.host_key_alias)
        alias = xstrdup(h.host_key_alias);
    sshcfg_host_release(&h);
    return alias;
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
        jump_link_release(js->via);
        jt->sessions = js->next;
        if (js->wake >= 0)
            close(js->wake);
        free(js->key);
        free(js->name);
        free(js);
    }
    sshcfg_free(jt->cfg);
    pthread_cond_destroy(&jt->cond);
    pthread_mutex_destroy(&jt->lock);
    free(jt);
}
