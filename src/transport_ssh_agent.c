/*
 * transport_ssh_agent.c - ssh-agent as OpenSSH uses it: the keys it holds
 * are listed once per run, an IdentityFile whose public key is among them
 * is signed with by the agent (no passphrase, no decryption), and with
 * IdentitiesOnly no other agent key is ever offered.
 *
 * libssh 0.10 can only offer every key of an agent, in the agent's order
 * (ssh_userauth_agent()); an agent with many keys then trips sshd's
 * MaxAuthTries before the right one. So libssh gets an agent of our own
 * for the authentication: one end of a socket pair
 * (ssh_set_agent_socket()), served by a short-lived thread that lists only
 * the keys this host may offer (a certificate in place of its key when
 * there is one) and passes signature requests for them on to the real
 * agent, rewriting a certificate back to its key.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define AGENT_FAILURE 5
#define AGENTC_REQUEST_IDENTITIES 11
#define AGENT_IDENTITIES_ANSWER 12
#define AGENTC_SIGN_REQUEST 13
#define AGENT_MSG_MAX (256 * 1024)
#define AGENT_TIMEOUT_S 30

static int read_full(int fd, void *p, size_t n)
{
    char *q = p;

    while (n > 0) {
        ssize_t r = read(fd, q, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        q += r;
        n -= (size_t)r;
    }
    return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void put_u32(struct buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    BUF_MUST(buf_add(b, p, 4));
}

static void put_string(struct buf *b, const void *p, size_t n)
{
    put_u32(b, (uint32_t)n);
    BUF_MUST(buf_add(b, p, n));
}

/* libssh 0.10 exports no key blob functions: keys cross as base64. */
static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n)
{
    char *o = xmalloc((n + 2) / 3 * 4 + 1), *q = o;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *q++ = b64chars[v >> 18 & 63];
        *q++ = b64chars[v >> 12 & 63];
        *q++ = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        *q++ = i + 2 < n ? b64chars[v & 63] : '=';
    }
    *q = '\0';
    return o;
}

static unsigned char *b64_decode(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *o = xmalloc(len / 4 * 3 + 3);
    uint32_t v = 0;
    int bits = 0;

    *n = 0;
    for (; *s && *s != '='; s++) {
        const char *c = strchr(b64chars, *s);
        if (c == NULL) {
            free(o);
            return NULL;
        }
        v = v << 6 | (uint32_t)(c - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[(*n)++] = (unsigned char)(v >> bits);
        }
    }
    return o;
}

/* The key in a blob (its type name is its first string). */
static ssh_key key_from_blob(const unsigned char *blob, size_t len)
{
    char *b64, name[64];
    ssh_key k = NULL;
    uint32_t tl;

    if (len < 4 || (tl = get_u32(blob)) >= sizeof(name) || tl > len - 4)
        return NULL;
    memcpy(name, blob + 4, tl);
    name[tl] = '\0';
    b64 = b64_encode(blob, len);
    if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(name), &k) !=
        SSH_OK)
        k = NULL;
    free(b64);
    return k;
}

/* The blob of a key (or certificate); caller frees. */
static unsigned char *blob_of_key(ssh_key k, size_t *len)
{
    char *b64 = NULL;
    unsigned char *b;

    if (ssh_pki_export_pubkey_base64(k, &b64) != SSH_OK)
        return NULL;
    b = b64_decode(b64, len);
    ssh_string_free_char(b64);
    return b;
}

/* Reads one message (without its length) into *out (caller frees). */
static int msg_read(int fd, unsigned char **out, size_t *len)
{
    unsigned char h[4];
    uint32_t n;

    *out = NULL;
    if (read_full(fd, h, 4))
        return -1;
    n = get_u32(h);
    if (n == 0 || n > AGENT_MSG_MAX)
        return -1;
    *out = xmalloc(n);
    if (read_full(fd, *out, n)) {
        free(*out);
        *out = NULL;
        return -1;
    }
    *len = n;
    return 0;
}

static int msg_write(int fd, const void *p, size_t n)
{
    struct buf b = BUF_INIT(AGENT_MSG_MAX + 4);
    int rc;

    put_string(&b, p, n);
    rc = write_all(fd, buf_str(&b), b.len);
    buf_release(&b);
    return rc;
}

static int agent_connect(const char *path)
{
    struct sockaddr_un sa;
    struct timeval tv = {AGENT_TIMEOUT_S, 0};
    int fd;

    if (path == NULL || strlen(path) >= sizeof(sa.sun_path))
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    /* an agent that never answers must not hang the run (a key that needs
     * a confirmation gets this long) */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* A string at *p of the len bytes left; advances. */
static int get_string(const unsigned char **p, size_t *left,
                      const unsigned char **s, size_t *n)
{
    uint32_t l;

    if (*left < 4)
        return -1;
    l = get_u32(*p);
    if (l > *left - 4)
        return -1;
    *s = *p + 4;
    *n = l;
    *p += 4 + l;
    *left -= 4 + l;
    return 0;
}

bool cert_of_key(ssh_key cert, ssh_key pub)
{
    size_t cl = 0, pl = 0, cleft, pleft, n;
    unsigned char *cb = blob_of_key(cert, &cl), *pb = blob_of_key(pub, &pl);
    const unsigned char *c = cb, *p = pb, *s;
    bool r = false;

    /* cert: type, nonce, the key's fields, ...; key: type, its fields */
    cleft = cl;
    pleft = pl;
    if (cb && pb && get_string(&c, &cleft, &s, &n) == 0 &&
        get_string(&c, &cleft, &s, &n) == 0 &&
        get_string(&p, &pleft, &s, &n) == 0 && pleft > 0 && cleft >= pleft)
        r = memcmp(c, p, pleft) == 0;
    free(cb);
    free(pb);
    return r;
}

void agent_list(struct ssh_tp *t)
{
    unsigned char req = AGENTC_REQUEST_IDENTITIES, *ans = NULL;
    const unsigned char *p;
    size_t len = 0, left;
    uint32_t n;
    int fd = agent_connect(t->agent_sock);

    if (fd < 0)
        return;
    if (msg_write(fd, &req, 1) || msg_read(fd, &ans, &len) || len < 5 ||
        ans[0] != AGENT_IDENTITIES_ANSWER)
        goto out;
    n = get_u32(ans + 1);
    p = ans + 5;
    left = len - 5;
    for (uint32_t i = 0; i < n && i < 4096; i++) {
        const unsigned char *blob, *comment;
        size_t bl, cl;
        ssh_key k;
        if (get_string(&p, &left, &blob, &bl) ||
            get_string(&p, &left, &comment, &cl))
            break;
        if ((k = key_from_blob(blob, bl)) != NULL) {
            struct agent_key *a;
            t->agent_keys =
                xrealloc(t->agent_keys, (t->nagent + 1) * sizeof(*a));
            a = &t->agent_keys[t->nagent++];
            a->blob = xmalloc(bl);
            memcpy(a->blob, blob, bl);
            a->len = bl;
            a->pub = k;
        }
    }
out:
    free(ans);
    close(fd);
}

const struct agent_key *agent_find(const struct ssh_tp *t, ssh_key pub)
{
    for (size_t i = 0; pub && i < t->nagent; i++)
        if (ssh_key_cmp(t->agent_keys[i].pub, pub, SSH_KEY_CMP_PUBLIC) == 0)
            return &t->agent_keys[i];
    return NULL;
}

/* One key the stand-in agent lists: offered is what it shows (a
 * certificate, or the key), key what the real agent signs with. */
struct offer {
    unsigned char *offered;
    size_t olen;
    const struct agent_key *key;
};

struct standin {
    int fd;   /* our end of the pair */
    int real; /* the real agent, connected on the first signature */
    const char *real_path;
    struct offer *v;
    size_t n;
};

static void answer_identities(struct standin *a, struct buf *r)
{
    BUF_MUST(buf_addc(r, AGENT_IDENTITIES_ANSWER));
    put_u32(r, (uint32_t)a->n);
    for (size_t i = 0; i < a->n; i++) {
        put_string(r, a->v[i].offered, a->v[i].olen);
        put_string(r, "", 0);
    }
}

/* A signature request for an offered key, passed on with the key the real
 * agent knows; its answer relayed as it is. */
static int relay_sign(struct standin *a, const unsigned char *m, size_t len,
                      struct buf *r)
{
    const unsigned char *p = m + 1, *blob, *data;
    size_t left = len - 1, bl, dl;
    unsigned char *ans = NULL;
    size_t alen = 0;
    const struct offer *o = NULL;
    struct buf q = BUF_INIT(AGENT_MSG_MAX);

    if (get_string(&p, &left, &blob, &bl) ||
        get_string(&p, &left, &data, &dl) || left != 4)
        return -1;
    for (size_t i = 0; i < a->n && o == NULL; i++)
        if (a->v[i].olen == bl && memcmp(a->v[i].offered, blob, bl) == 0)
            o = &a->v[i];
    if (o == NULL)
        return -1;
    if (a->real < 0)
        a->real = agent_connect(a->real_path);
    if (a->real < 0)
        return -1;
    BUF_MUST(buf_addc(&q, AGENTC_SIGN_REQUEST));
    put_string(&q, o->key->blob, o->key->len);
    put_string(&q, data, dl);
    BUF_MUST(buf_add(&q, p, 4)); /* flags */
    if (msg_write(a->real, buf_str(&q), q.len) ||
        msg_read(a->real, &ans, &alen)) {
        buf_release(&q);
        return -1;
    }
    buf_release(&q);
    BUF_MUST(buf_add(r, ans, alen));
    free(ans);
    return 0;
}

static void *standin_serve(void *arg)
{
    struct standin *a = arg;
    unsigned char *m = NULL;
    size_t len = 0;

    while (msg_read(a->fd, &m, &len) == 0) {
        struct buf r = BUF_INIT(AGENT_MSG_MAX);
        int ok = -1;
        if (m[0] == AGENTC_REQUEST_IDENTITIES) {
            answer_identities(a, &r);
            ok = 0;
        } else if (m[0] == AGENTC_SIGN_REQUEST) {
            ok = relay_sign(a, m, len, &r);
        }
        if (ok != 0) {
            buf_reset(&r);
            BUF_MUST(buf_addc(&r, AGENT_FAILURE));
        }
        free(m);
        m = NULL;
        ok = msg_write(a->fd, buf_str(&r), r.len);
        buf_release(&r);
        if (ok)
            break;
    }
    free(m);
    return NULL;
}

int agent_auth(struct ssh_tp *t, ssh_session s,
               const struct agent_key *const *keys, ssh_key const *certs,
               size_t n, char *err)
{
    struct standin a;
    pthread_t th;
    int sv[2], rc;

    if (n == 0)
        return SSH_AUTH_DENIED;
    memset(&a, 0, sizeof(a));
    a.real = -1;
    a.real_path = t->agent_sock;
    a.v = xcalloc(n, sizeof(*a.v));
    for (size_t i = 0; i < n; i++) {
        a.v[i].key = keys[i];
        if (certs[i] == NULL ||
            (a.v[i].offered = blob_of_key(certs[i], &a.v[i].olen)) == NULL) {
            a.v[i].olen = keys[i]->len;
            a.v[i].offered = xmalloc(keys[i]->len);
            memcpy(a.v[i].offered, keys[i]->blob, keys[i]->len);
        }
    }
    a.n = n;
    rc = SSH_AUTH_ERROR;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        errf(err, "ssh-agent: %s", strerror(errno));
        goto out;
    }
    a.fd = sv[1];
    /* libssh owns sv[0] from here on and closes it with the session */
    if (ssh_set_agent_socket(s, sv[0]) != SSH_OK) {
        close(sv[0]);
        close(sv[1]);
        errf(err, "ssh-agent: %s", ssh_get_error(s));
        goto out;
    }
    if (pthread_create(&th, NULL, standin_serve, &a) != 0) {
        close(sv[1]);
        errf(err, "ssh-agent: cannot start a thread");
        goto out;
    }
    rc = ssh_userauth_agent(s, NULL);
    shutdown(sv[1], SHUT_RDWR);
    pthread_join(th, NULL);
    close(sv[1]);
out:
    if (a.real >= 0)
        close(a.real);
    for (size_t i = 0; i < n; i++)
        free(a.v[i].offered);
    free(a.v);
    return rc;
}
