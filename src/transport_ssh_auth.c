/*
 * transport_ssh_auth.c - what the SSH transport sets up once per run (the
 * ssh config read, ssh-agent's keys listed, -i keys loaded, the jump host
 * table made) and libssh's options for a host whose settings sshcfg
 * resolved (libssh reads no config of its own). The host key check is
 * transport_ssh_hostkey.c's, authentication transport_ssh_keys.c's.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"
#include "transport_ssh_jump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *expand_home(const char *p)
{
    const char *home = getenv("HOME");

    if (home == NULL || *home == '\0')
        home = "/";
    if (strncmp(p, "~/", 2) == 0)
        return xasprintf("%s/%s", home, p + 2);
    if (strncmp(p, "%d/", 3) == 0)
        return xasprintf("%s/.ssh/%s", home, p + 3);
    return xstrdup(p);
}

int transport_ssh_new(struct transport **out, const struct ssh_settings *set,
                      char *err)
{
    struct ssh_tp *t = xcalloc(1, sizeof(*t));
    struct sshcfg_opts co;
    const char *home = getenv("HOME"), *sock = getenv("SSH_AUTH_SOCK");

    *out = NULL;
    t->base.ops = &transport_ssh_ops;
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->pace_lock, NULL);
    pthread_cond_init(&t->pace_cond, NULL);
    pthread_mutex_init(&t->kh_lock, NULL);
    t->policy = set->policy;
    t->policy_set = set->policy_set;
    t->connect_timeout_ms = set->connect_timeout_ms;
    t->connect_timeout_set = set->connect_timeout_set;
    t->max_connecting =
        set->max_connecting ? set->max_connecting : SSH_MAX_CONNECTING;
    memset(&co, 0, sizeof(co));
    co.config_file = set->ssh_config;
    /* ~ is $HOME, as for "~/" in the inventory (ssh would take the home
     * directory from the password database) */
    if (home && *home)
        co.home_dir = home;
    if (sshcfg_load(&t->cfg, &co, err)) {
        ssh_tp_free(&t->base);
        return -1;
    }
    t->jumps = jump_table_new();
    if (set->known_hosts)
        t->known_hosts = xstrdup(set->known_hosts);
    if (sock && *sock) {
        t->agent_sock = xstrdup(sock);
        agent_list(t);
    }
    if (set->identities)
        for (size_t i = 0; i < set->identities->n; i++)
            strlist_push_owned(&t->cli_ids, expand_home(set->identities->v[i]));
    for (size_t i = 0; i < t->cli_ids.n; i++) {
        if (preload(t, t->cli_ids.v[i], ID_REQUIRED, err)) {
            ssh_tp_free(&t->base);
            return -1;
        }
    }
    *out = &t->base;
    return 0;
}

void ssh_tp_free(struct transport *base)
{
    struct ssh_tp *t = (struct ssh_tp *)base;

    for (size_t i = 0; i < t->nkeys; i++) {
        free(t->keys[i].path);
        ssh_key_free(t->keys[i].key);
        ssh_key_free(t->keys[i].pub);
    }
    free(t->keys);
    for (size_t i = 0; i < t->ncerts; i++) {
        free(t->certs[i].path);
        ssh_key_free(t->certs[i].cert);
        ssh_string_free_char(t->certs[i].b64);
    }
    free(t->certs);
    for (size_t i = 0; i < t->nagent; i++) {
        free(t->agent_keys[i].blob);
        ssh_key_free(t->agent_keys[i].pub);
    }
    free(t->agent_keys);
    for (size_t i = 0; i < t->npace; i++)
        free(t->pace[i].key);
    free(t->pace);
    jump_table_free(t->jumps); /* before the config its hops came from */
    sshcfg_free(t->cfg);
    free(t->known_hosts);
    free(t->agent_sock);
    strlist_clear(&t->cli_ids);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->pace_lock);
    pthread_cond_destroy(&t->pace_cond);
    kh_sets_free(t);
    pthread_mutex_destroy(&t->kh_lock);
    free(t);
}

int set_options(struct ssh_tp *t, ssh_session s, const struct ssh_hostopts *o,
                int fd, char *err)
{
    int one = 1;
    bool no = false;
    unsigned int port = o->kh_port;
    long sec = (long)(o->connect_timeout_ms / 1000);
    long usec = (long)(o->connect_timeout_ms % 1000) * 1000;
    socket_t sfd = fd;
    const char *home = getenv("HOME");

    /* libssh reads no config of its own: sshcfg resolved it all */
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    if (home && *home) {
        char *dir = xasprintf("%s/.ssh", home);
        ssh_options_set(s, SSH_OPTIONS_SSH_DIR, dir);
        free(dir);
    }
    /* host and port are what known_hosts is searched for (HostKeyAlias
     * included): the socket is connected already */
    if (ssh_options_set(s, SSH_OPTIONS_HOST, o->kh_host) != SSH_OK)
        return errf(err, "invalid host name '%s'", o->kh_host);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    if (ssh_options_set(s, SSH_OPTIONS_USER, o->h->user) != SSH_OK)
        return errf(err, "invalid user '%s'", o->h->user);
    ssh_options_set(s, SSH_OPTIONS_FD, &sfd);
    /* Always strict: a config's "StrictHostKeyChecking no" would otherwise
     * turn an unknown key into OK inside libssh. */
    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &one);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
    ssh_options_set(s, SSH_OPTIONS_NODELAY, &one);
    /* The host key check is oneoff's own (transport_ssh_hostkey.c); libssh
     * reads known_hosts files only to offer the known key types first,
     * which the files read once for the run tell without reading them
     * again for every connection. */
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    kh_order_hostkeys(t, o, s);
    return 0;
}

/* "host" or "[host]:port", as known_hosts spells it. */
void endpoint(const struct ssh_hostopts *o, char *out, size_t n)
{
    if (o->kh_port == 22)
        snprintf(out, n, "%s", o->kh_host);
    else
        snprintf(out, n, "[%s]:%u", o->kh_host, o->kh_port);
}

/* Running out of descriptors (or memory) is said as such, never as a host
 * key or a network problem. */
bool out_of_resources(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}
