/*
 * transport_ssh_auth.c - the SSH transport's checks before a command runs:
 * options in the order that keeps the inventory in charge (Host, then the
 * ssh config, then inventory and command-line values, then the policy we
 * always enforce), a strict host-key check that a user's
 * "StrictHostKeyChecking no" cannot weaken, and public-key authentication
 * with keys decrypted once per run.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"
#include "transport_ssh_jump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static char *expand_path(const char *p)
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

struct ask {
    const char *path;
    bool asked;  /* the operator was asked */
    bool no_tty; /* there was no terminal to ask on */
};

/* Asks for a passphrase on the terminal, never echoing it: echo goes off
 * before the prompt, so nothing typed early is shown. */
static int ask_passphrase(const char *prompt, char *buf, size_t len, int echo,
                          int verify, void *userdata)
{
    struct ask *a = userdata;
    struct termios old, raw;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    size_t n = 0;

    (void)prompt;
    (void)echo;
    (void)verify;
    if (fd < 0 || len == 0 || tcgetattr(fd, &old) != 0) {
        a->no_tty = true;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    raw = old;
    raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    raw.c_lflag |= ICANON;
    tcsetattr(fd, TCSANOW, &raw);
    dprintf(fd, "oneoff: passphrase for '%s': ", a->path);
    a->asked = true;
    while (n + 1 < len) {
        char c;
        if (read(fd, &c, 1) != 1 || c == '\n' || c == '\r')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    tcsetattr(fd, TCSANOW, &old);
    dprintf(fd, "\n");
    close(fd);
    return 0;
}

/* Returns the key for path, decrypting it on first use; a key that failed
 * to load is remembered, so nobody is asked twice. Caller holds lock. */
static struct loaded_key *key_get_locked(struct ssh_tp *t, const char *path,
                                         char *err)
{
    char *abs = expand_path(path);
    struct loaded_key *k;
    struct ask ask = {abs, false, false};
    ssh_key key = NULL, pub = NULL;

    for (size_t i = 0; i < t->nkeys; i++) {
        if (strcmp(t->keys[i].path, abs) == 0) {
            free(abs);
            k = &t->keys[i];
            if (k->key == NULL)
                errf(err, "%s", k->error);
            return k->key ? k : NULL;
        }
    }
    xgrow((void **)&t->keys, &t->alloc, t->nkeys + 1, sizeof(*t->keys));
    k = &t->keys[t->nkeys++];
    memset(k, 0, sizeof(*k));
    k->path = abs; /* transferred */
    if (access(abs, R_OK) != 0) {
        errf(k->error, "identity '%s': %s", abs, strerror(errno));
    } else if (ssh_pki_import_privkey_file(abs, NULL, ask_passphrase, &ask,
                                           &key) != SSH_OK) {
        if (ask.no_tty)
            errf(k->error,
                 "identity '%s' is encrypted and there is no terminal to ask "
                 "for its passphrase; add it to ssh-agent (ssh-add) instead",
                 abs);
        else if (ask.asked)
            errf(k->error, "wrong passphrase for identity '%s'", abs);
        else
            errf(k->error,
                 "identity '%s' cannot be loaded (not a private "
                 "key?)",
                 abs);
    } else if (ssh_pki_export_privkey_to_pubkey(key, &pub) != SSH_OK) {
        errf(k->error, "identity '%s': cannot derive its public key", abs);
        ssh_key_free(key);
        key = NULL;
    }
    k->key = key;
    k->pub = pub;
    if (key == NULL) {
        errf(err, "%s", k->error);
        return NULL;
    }
    return k;
}

int preload(struct ssh_tp *t, const char *path, char *err)
{
    struct loaded_key *k;

    pthread_mutex_lock(&t->lock);
    k = key_get_locked(t, path, err);
    pthread_mutex_unlock(&t->lock);
    return k ? 0 : -1;
}

int transport_ssh_new(struct transport **out, const struct ssh_settings *set,
                      char *err)
{
    struct ssh_tp *t = xcalloc(1, sizeof(*t));

    *out = NULL;
    t->base.ops = &transport_ssh_ops;
    pthread_mutex_init(&t->lock, NULL);
    t->policy = set->policy;
    t->connect_timeout_ms = set->connect_timeout_ms;
    if (set->ssh_config) {
        if (access(set->ssh_config, R_OK) != 0) {
            errf(err, "--ssh-config '%s': %s", set->ssh_config,
                 strerror(errno));
            ssh_tp_free(&t->base);
            return -1;
        }
        t->ssh_config = xstrdup(set->ssh_config);
    }
    /* jump hosts: their table reads the ssh config once */
    if (jump_table_new(&t->jumps, t->ssh_config, err)) {
        ssh_tp_free(&t->base);
        return -1;
    }
    if (set->known_hosts)
        t->known_hosts = xstrdup(set->known_hosts);
    if (set->identities)
        strlist_copy(&t->cli_ids, set->identities);
    for (size_t i = 0; i < t->cli_ids.n; i++) {
        if (preload(t, t->cli_ids.v[i], err)) {
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
    jump_table_free(t->jumps);
    free(t->ssh_config);
    free(t->known_hosts);
    strlist_clear(&t->cli_ids);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int set_options(struct ssh_tp *t, ssh_session s,
                const struct transport_target *tg, char *err)
{
    int one = 1;
    long sec = (long)(t->connect_timeout_ms / 1000);
    long usec = (long)(t->connect_timeout_ms % 1000) * 1000;

    const char *home = getenv("HOME");

    if (ssh_options_set(s, SSH_OPTIONS_HOST, tg->name) != SSH_OK)
        return errf(err, "invalid host name '%s'", tg->name);
    /* ~/.ssh is $HOME/.ssh, as for "~/" in the inventory (libssh would
     * take the home directory from the password database) */
    if (home && *home) {
        char *dir = xasprintf("%s/.ssh", home);
        ssh_options_set(s, SSH_OPTIONS_SSH_DIR, dir);
        free(dir);
    }
    /* Parse the config ourselves, before our own values: if we did not,
     * ssh_connect() would parse it later and override them. */
    if (ssh_options_parse_config(s, t->ssh_config) != SSH_OK)
        return errf(err, "cannot read ssh config: %s", ssh_get_error(s));
    if (tg->address && ssh_options_set(s, SSH_OPTIONS_HOST, tg->address))
        return errf(err, "invalid address '%s'", tg->address);
    if (tg->port) {
        unsigned int port = tg->port;
        ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    }
    if (tg->user && ssh_options_set(s, SSH_OPTIONS_USER, tg->user) != SSH_OK)
        return errf(err, "invalid user '%s'", tg->user);
    /* Always strict: a config's "StrictHostKeyChecking no" would otherwise
     * turn an unknown key into OK inside libssh. */
    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &one);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
    ssh_options_set(s, SSH_OPTIONS_NODELAY, &one);
    if (t->known_hosts) {
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, t->known_hosts);
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    }
    return 0;
}

/* "host" or "[host]:port", as known_hosts spells it. */
void endpoint(ssh_session s, char *out, size_t n)
{
    char *host = NULL;
    unsigned int port = 22;

    ssh_options_get(s, SSH_OPTIONS_HOST, &host);
    ssh_options_get_port(s, &port);
    if (port == 22)
        snprintf(out, n, "%s", host ? host : "?");
    else
        snprintf(out, n, "[%s]:%u", host ? host : "?", port);
    ssh_string_free_char(host);
}

/* Running out of descriptors (or memory) is said as such, never as a host
 * key or a network problem. */
bool out_of_resources(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}

/* Offers the key at path, decrypted once per run. The shared key is only
 * touched under the lock: what the session signs with is a copy, since
 * another thread may grow the key table meanwhile. */
static int try_key(struct ssh_tp *t, ssh_session s, const char *path,
                   struct buf *tried, char *err)
{
    struct loaded_key *k;
    ssh_key mine = NULL, pub = NULL;
    int rc;

    pthread_mutex_lock(&t->lock);
    k = key_get_locked(t, path, err);
    if (k) {
        mine = ssh_key_dup(k->key);
        pub = ssh_key_dup(k->pub);
    }
    pthread_mutex_unlock(&t->lock);
    if (buf_addf(tried, "%skey %s", tried->len ? ", " : "", path) != 0) {
        /* the list only words a message: past its bound it is shorter */
    }
    if (mine == NULL || pub == NULL) {
        ssh_key_free(mine);
        ssh_key_free(pub);
        if (k && !err[0])
            errf(err, "identity '%s': out of memory", path);
        return SSH_AUTH_ERROR;
    }
    rc = ssh_userauth_try_publickey(s, NULL, pub);
    if (rc == SSH_AUTH_SUCCESS)
        rc = ssh_userauth_publickey(s, NULL, mine);
    ssh_key_free(mine);
    ssh_key_free(pub);
    return rc;
}

/* The identity named by the ssh config, if any: libssh keeps its defaults
 * ("%d/id_*") in the same list, and those do not count as explicit. */
char *config_identity(ssh_session s)
{
    char *v = NULL, *r = NULL;

    if (ssh_options_get(s, SSH_OPTIONS_IDENTITY, &v) != SSH_OK || v == NULL)
        return NULL;
    if (strncmp(v, "%d/id_", 6) != 0)
        r = xstrdup(v);
    ssh_string_free_char(v);
    return r;
}

int authenticate(struct ssh_tp *t, ssh_session s,
                 const struct transport_target *tg, const char *cfg, char *err)
{
    static const char *const defaults[] = {
        "~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa", NULL};
    struct buf tried = BUF_INIT(4096);
    char kerr[ERR_MAX] = "";
    char *user = NULL;
    int rc = SSH_AUTH_DENIED;

    if (t->cli_ids.n) {
        for (size_t i = 0; i < t->cli_ids.n && rc != SSH_AUTH_SUCCESS; i++)
            rc = try_key(t, s, t->cli_ids.v[i], &tried, kerr);
    } else if (tg->identity) {
        rc = try_key(t, s, tg->identity, &tried, kerr);
    } else if (cfg != NULL) {
        rc = try_key(t, s, cfg, &tried, kerr);
    } else {
        if (getenv("SSH_AUTH_SOCK")) {
            BUF_MUST(buf_adds(&tried, "ssh-agent")); /* the first entry */
            rc = ssh_userauth_agent(s, NULL);
        }
        for (size_t i = 0;
             defaults[i] && rc != SSH_AUTH_SUCCESS && ssh_is_connected(s);
             i++) {
            char *p = expand_path(defaults[i]);
            if (access(p, R_OK) == 0)
                rc = try_key(t, s, defaults[i], &tried, kerr);
            free(p);
        }
    }
    if (rc == SSH_AUTH_SUCCESS) {
        buf_release(&tried);
        return 0;
    }
    ssh_options_get(s, SSH_OPTIONS_USER, &user);
    if (!ssh_is_connected(s))
        errf(err, "authentication as '%s' failed: %s (tried: %s)",
             user ? user : "?", ssh_get_error(s),
             tried.len ? buf_str(&tried) : "nothing");
    else if (kerr[0] && tried.len && !strchr(buf_str(&tried), ','))
        errf(err, "authentication as '%s' failed: %s", user ? user : "?", kerr);
    else
        errf(err, "authentication as '%s' denied (tried: %s)%s%s",
             user ? user : "?",
             tried.len ? buf_str(&tried)
                       : "no key: no -i, identity, "
                         "IdentityFile, agent or default "
                         "key",
             kerr[0] ? "; " : "", kerr);
    ssh_string_free_char(user);
    buf_release(&tried);
    return -1;
}
