/*
 * transport_ssh_keys.c - public-key authentication as OpenSSH does it:
 * each identity file is read once per run; one whose public key
 * ssh-agent holds is used through the agent (no passphrase asked, nothing
 * decrypted), any other is decrypted once, asking on the terminal; a user
 * certificate (CertificateFile, or FILE-cert.pub beside the key) is offered
 * with its key; and the keys are offered in OpenSSH's order: the agent's
 * (only those named, with IdentitiesOnly), then the files.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

/* The public half of the key file at path: FILE.pub, else the file itself
 * (an OpenSSH private key file carries its public key in clear). */
static ssh_key public_half(const char *path)
{
    char *pubf = xasprintf("%s.pub", path);
    ssh_key pub = NULL;

    if (access(pubf, R_OK) != 0 ||
        ssh_pki_import_pubkey_file(pubf, &pub) != SSH_OK) {
        pub = NULL;
        if (ssh_pki_import_pubkey_file(path, &pub) != SSH_OK)
            pub = NULL;
    }
    free(pubf);
    return pub;
}

static void decrypt(struct loaded_key *k)
{
    struct ask ask = {k->path, false, false};
    ssh_key key = NULL;

    k->tried = true;
    if (ssh_pki_import_privkey_file(k->path, NULL, ask_passphrase, &ask,
                                    &key) != SSH_OK) {
        if (ask.no_tty)
            errf(k->error,
                 "identity '%s' is encrypted, ssh-agent does not hold it, and "
                 "there is no terminal to ask for its passphrase; add it to "
                 "ssh-agent (ssh-add) instead",
                 k->path);
        else if (ask.asked)
            errf(k->error, "wrong passphrase for identity '%s'", k->path);
        else
            errf(k->error,
                 "identity '%s' cannot be loaded (not a private key?)",
                 k->path);
        return;
    }
    if (k->pub == NULL &&
        ssh_pki_export_privkey_to_pubkey(key, &k->pub) != SSH_OK) {
        errf(k->error, "identity '%s': cannot derive its public key", k->path);
        ssh_key_free(key);
        return;
    }
    k->key = key;
}

/* The entry for path, read on first use: a key ssh-agent holds is never
 * decrypted; one that failed to load is remembered, so nobody is asked
 * twice. Caller holds the lock. */
static struct loaded_key *key_get_locked(struct ssh_tp *t, const char *path)
{
    char *abs = expand_home(path);
    struct loaded_key *k;

    for (size_t i = 0; i < t->nkeys; i++) {
        if (strcmp(t->keys[i].path, abs) == 0) {
            free(abs);
            return &t->keys[i];
        }
    }
    xgrow((void **)&t->keys, &t->alloc, t->nkeys + 1, sizeof(*t->keys));
    k = &t->keys[t->nkeys++];
    memset(k, 0, sizeof(*k));
    k->path = abs; /* transferred */
    if (access(abs, R_OK) != 0) {
        /* only FILE.pub: usable when the agent holds its key, as in ssh */
        errf(k->error, "identity '%s': %s", abs, strerror(errno));
        k->tried = true;
        k->missing = true;
        k->pub = public_half(abs);
        k->in_agent = agent_find(t, k->pub) != NULL;
        if (!k->in_agent) {
            ssh_key_free(k->pub);
            k->pub = NULL;
        } else {
            k->missing = false;
        }
        return k;
    }
    k->pub = public_half(abs);
    k->in_agent = agent_find(t, k->pub) != NULL;
    if (!k->in_agent)
        decrypt(k);
    return k;
}

int preload(struct ssh_tp *t, const char *path, enum id_need need, char *err)
{
    struct loaded_key *k;
    int rc = 0;

    pthread_mutex_lock(&t->lock);
    k = key_get_locked(t, path);
    if (k->key == NULL && !k->in_agent &&
        (need == ID_REQUIRED || (need == ID_CONFIGURED && !k->missing)))
        rc = errf(err, "%s", k->error);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* The certificate at path, read once per run (NULL: none there). */
static struct loaded_cert *cert_get_locked(struct ssh_tp *t, const char *path)
{
    struct loaded_cert *c;

    for (size_t i = 0; i < t->ncerts; i++)
        if (strcmp(t->certs[i].path, path) == 0)
            return &t->certs[i];
    xgrow((void **)&t->certs, &t->certs_alloc, t->ncerts + 1,
          sizeof(*t->certs));
    c = &t->certs[t->ncerts++];
    c->path = xstrdup(path);
    c->cert = NULL;
    c->b64 = NULL;
    if (access(path, R_OK) != 0 ||
        ssh_pki_import_cert_file(path, &c->cert) != SSH_OK)
        c->cert = NULL;
    else if (ssh_pki_export_pubkey_base64(c->cert, &c->b64) != SSH_OK)
        c->b64 = NULL;
    return c;
}

/* The certificate for k: the first CertificateFile of its key, else
 * KEY-cert.pub. A copy, or NULL. Caller holds the lock. */
static ssh_key cert_for_locked(struct ssh_tp *t, const struct ssh_hostopts *o,
                               const struct loaded_key *k)
{
    char *own = xasprintf("%s-cert.pub", k->path);
    const struct loaded_cert *found = NULL;
    ssh_key copy = NULL;

    for (size_t i = 0; i <= o->certificates.n && found == NULL; i++) {
        const char *p = i < o->certificates.n ? o->certificates.v[i] : own;
        const struct loaded_cert *c = cert_get_locked(t, p);
        if (c->cert && c->b64 && k->pub && cert_of_key(c->cert, k->pub))
            found = c;
    }
    free(own);
    if (found && ssh_pki_import_cert_base64(
                     found->b64, ssh_key_type(found->cert), &copy) != SSH_OK)
        copy = NULL;
    return copy;
}

/* One identity of a host, copied out of the shared table. */
struct ident {
    const char *path;
    ssh_key pub, key, cert;
    const struct agent_key *agent;
    char error[ERR_MAX];
};

static int offer_file(ssh_session s, struct ident *id, struct buf *tried)
{
    int rc = SSH_AUTH_DENIED;

    if (id->cert) {
        ssh_key k = ssh_key_dup(id->key);
        BUF_MUST(
            buf_addf(tried, "%scert %s", tried->len ? ", " : "", id->path));
        if (k && ssh_pki_copy_cert_to_privkey(id->cert, k) == SSH_OK) {
            rc = ssh_userauth_try_publickey(s, NULL, id->cert);
            if (rc == SSH_AUTH_SUCCESS)
                rc = ssh_userauth_publickey(s, NULL, k);
        }
        ssh_key_free(k);
        if (rc == SSH_AUTH_SUCCESS || !ssh_is_connected(s))
            return rc;
    }
    BUF_MUST(buf_addf(tried, "%skey %s", tried->len ? ", " : "", id->path));
    rc = ssh_userauth_try_publickey(s, NULL, id->pub);
    if (rc == SSH_AUTH_SUCCESS)
        rc = ssh_userauth_publickey(s, NULL, id->key);
    return rc;
}

/* The host's identities, in the order given, copied under the lock. */
static struct ident *idents_get(struct ssh_tp *t, const struct ssh_hostopts *o)
{
    struct ident *v = xcalloc(o->identities.n + 1, sizeof(*v));

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < o->identities.n; i++) {
        struct loaded_key *k = key_get_locked(t, o->identities.v[i]);
        v[i].path = o->identities.v[i];
        snprintf(v[i].error, sizeof(v[i].error), "%s", k->error);
        if (k->pub == NULL)
            continue;
        v[i].pub = ssh_key_dup(k->pub);
        v[i].key = k->key ? ssh_key_dup(k->key) : NULL;
        v[i].agent = k->in_agent ? agent_find(t, k->pub) : NULL;
        v[i].cert = cert_for_locked(t, o, k);
    }
    pthread_mutex_unlock(&t->lock);
    return v;
}

static void idents_free(struct ident *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ssh_key_free(v[i].pub);
        ssh_key_free(v[i].key);
        ssh_key_free(v[i].cert);
    }
    free(v);
}

/* The agent's part, in the agent's order: its keys named by an identity
 * (with their certificates), and without IdentitiesOnly its others. */
static int offer_agent(struct ssh_tp *t, ssh_session s,
                       const struct ssh_hostopts *o, struct ident *ids,
                       struct buf *tried, char *kerr)
{
    const struct agent_key **keys;
    ssh_key *certs;
    size_t n = 0;
    int rc;

    if (t->agent_sock == NULL)
        return SSH_AUTH_DENIED;
    keys = xcalloc(t->nagent + 1, sizeof(*keys));
    certs = xcalloc(t->nagent + 1, sizeof(*certs));
    for (size_t a = 0; a < t->nagent; a++) {
        const struct ident *mine = NULL;
        for (size_t i = 0; i < o->identities.n && mine == NULL; i++)
            if (ids[i].agent == &t->agent_keys[a])
                mine = &ids[i];
        if (mine == NULL && o->identities_only)
            continue;
        keys[n] = &t->agent_keys[a];
        certs[n++] = mine ? mine->cert : NULL;
    }
    if (n || !o->identities_only)
        BUF_MUST(buf_addf(tried, "%sssh-agent (%zu key%s)",
                          tried->len ? ", " : "", n, n == 1 ? "" : "s"));
    rc = agent_auth(t, s, keys, certs, n, kerr);
    free(keys);
    free(certs);
    return rc;
}

int authenticate(struct ssh_tp *t, ssh_session s, const struct ssh_hostopts *o,
                 char *err)
{
    struct buf tried = BUF_INIT(4096);
    char kerr[ERR_MAX] = "";
    struct ident *ids = idents_get(t, o);
    const char *user = o->h->user;
    int rc;

    rc = offer_agent(t, s, o, ids, &tried, kerr);
    for (size_t i = 0;
         i < o->identities.n && rc != SSH_AUTH_SUCCESS && ssh_is_connected(s);
         i++) {
        if (ids[i].agent)
            continue; /* offered through the agent */
        if (ids[i].key == NULL) {
            if (o->identities_explicit ||
                (ids[i].pub && !o->h->identity_files_default)) {
                BUF_MUST(buf_addf(&tried, "%skey %s", tried.len ? ", " : "",
                                  ids[i].path));
                snprintf(kerr, sizeof(kerr), "%s", ids[i].error);
            }
            continue;
        }
        rc = offer_file(s, &ids[i], &tried);
    }
    idents_free(ids, o->identities.n);
    if (rc == SSH_AUTH_SUCCESS) {
        buf_release(&tried);
        return 0;
    }
    if (!ssh_is_connected(s))
        errf(err, "authentication as '%s' failed: %s (tried: %s)", user,
             ssh_get_error(s), tried.len ? buf_str(&tried) : "nothing");
    else if (kerr[0] && tried.len && !strchr(buf_str(&tried), ','))
        errf(err, "authentication as '%s' failed: %s", user, kerr);
    else
        errf(err, "authentication as '%s' denied (tried: %s)%s%s", user,
             tried.len ? buf_str(&tried)
                       : "no key: no -i, identity, IdentityFile, agent or "
                         "default key",
             kerr[0] ? "; " : "", kerr);
    buf_release(&tried);
    return -1;
}
