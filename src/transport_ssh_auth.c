/*
 * transport_ssh_auth.c - what the SSH transport sets up once per run (the
 * ssh config read, ssh-agent's keys listed, -i keys loaded) and checks
 * before a command runs: libssh's options for a host whose settings
 * sshcfg resolved (libssh reads no config of its own), and a strict
 * host-key check that a user's "StrictHostKeyChecking no" cannot weaken.
 * Authentication itself is transport_ssh_keys.c's.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"

#include <errno.h>
#include <fcntl.h>
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
    if (set->ssh_config)
        t->ssh_config = xstrdup(set->ssh_config);
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
    sshcfg_free(t->cfg);
    free(t->ssh_config);
    free(t->known_hosts);
    free(t->agent_sock);
    strlist_clear(&t->cli_ids);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->pace_lock);
    pthread_cond_destroy(&t->pace_cond);
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
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, o->known_hosts);
    if (t->known_hosts)
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
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

/* The known_hosts line that holds a changed key, for the message. */
static void find_known_line(const struct ssh_hostopts *o, const char *file,
                            char *out, size_t n)
{
    char *line = NULL, key[600];
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    FILE *f;

    out[0] = '\0';
    endpoint(o, key, sizeof(key));
    f = fopen(file, "r");
    if (f == NULL)
        return;
    while ((len = getline(&line, &cap, f)) > 0) {
        struct ssh_knownhosts_entry *e = NULL;
        lineno++;
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (ssh_known_hosts_parse_line(key, line, &e) == SSH_OK) {
            snprintf(out, n, "%s:%u", file, lineno);
            ssh_knownhosts_entry_free(e);
            break;
        }
        ssh_knownhosts_entry_free(e);
    }
    free(line);
    fclose(f);
}

/* Running out of descriptors (or memory) is said as such, never as a host
 * key or a network problem. */
bool out_of_resources(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}

int verify_host_key(struct ssh_tp *t, ssh_session s,
                    const struct ssh_hostopts *o, char *err)
{
    ssh_key srv = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL, *kh = NULL;
    char where[600], ep[300];
    const char *type = "unknown";
    int rc = -1;

    if (ssh_get_server_publickey(s, &srv) != SSH_OK)
        return errf(err, "no host key received: %s", ssh_get_error(s));
    {
        /* libssh reads known_hosts here and says "unknown" when it cannot
         * open it: a process out of descriptors must not pass for a host
         * whose key is not known */
        int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (probe < 0 && out_of_resources(errno)) {
            errf(err,
                 "cannot check the host key: %s (raise 'ulimit -n' or "
                 "use fewer hosts at once)",
                 strerror(errno));
            ssh_key_free(srv);
            return -2;
        }
        if (probe >= 0)
            close(probe);
    }
    type = ssh_key_type_to_char(ssh_key_type(srv));
    if (ssh_get_publickey_hash(srv, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) ==
        0)
        fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    ssh_options_get(s, SSH_OPTIONS_KNOWNHOSTS, &kh);
    endpoint(o, ep, sizeof(ep));
    switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
        rc = 0;
        break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
        find_known_line(o, kh ? kh : o->known_hosts, where, sizeof(where));
        errf(err,
             "HOST KEY CHANGED for '%s': it now offers %s %s, which does "
             "not match the key recorded in %s; someone may be "
             "intercepting the connection, or the host was reinstalled: "
             "verify before you edit that line",
             ep, type ? type : "?", fp ? fp : "?",
             where[0] ? where : (kh ? kh : "known_hosts"));
        break;
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        if (o->policy == SSH_HK_ACCEPT_NEW) {
            pthread_mutex_lock(&t->lock);
            rc = ssh_session_update_known_hosts(s) == SSH_OK ? 0 : -1;
            pthread_mutex_unlock(&t->lock);
            if (rc)
                errf(err, "cannot record the host key in %s: %s",
                     kh ? kh : "known_hosts", ssh_get_error(s));
            break;
        }
        errf(err,
             "host key of '%s' is not known: %s %s; check it with the "
             "host's owner and add it to %s, or connect once with "
             "--host-key-policy accept-new",
             ep, type ? type : "?", fp ? fp : "?",
             kh ? kh : "~/.ssh/known_hosts");
        break;
    default:
        errf(err, "cannot check the host key: %s", ssh_get_error(s));
        break;
    }
    ssh_string_free_char(fp);
    ssh_string_free_char(kh);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(srv);
    return rc;
}
