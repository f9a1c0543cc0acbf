/*
 * known_hosts_probe.c - asks an SSH server for its host certificate.
 *
 * libssh 0.10 never negotiates a certificate host key algorithm (its
 * client drops them from the list it offers: kex.c,
 * ssh_client_select_hostkeys), so a host certificate cannot be received on
 * the connection oneoff uses. This opens the key exchange on a second
 * connection, offering only the certificate algorithm of the key the real
 * connection received, and stops as soon as the server's reply carries
 * its host key (RFC 5656 / curve25519-sha256: SSH_MSG_KEX_ECDH_REPLY,
 * whose first field is K_S): nothing is authenticated, nothing else is
 * sent.
 *
 * The certificate obtained so is not trusted for coming from that
 * connection: known_hosts_check() accepts it only when a trusted CA signed
 * it for the name AND it certifies the very key that the real connection's
 * key exchange proved the server holds.
 */
#define _GNU_SOURCE
#include "oneoff/known_hosts.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_DISCONNECT 1
#define MSG_IGNORE 2
#define MSG_DEBUG 4
#define MSG_KEXINIT 20
#define MSG_KEX_ECDH_INIT 30
#define MSG_KEX_ECDH_REPLY 31
#define PACKET_MAX (256u << 10)
#define BANNER_MAX 8192

struct conn {
    int fd;
    int64_t deadline;
    char *err;
};

static int wait_fd(struct conn *c, short ev)
{
    for (;;) {
        int64_t left = c->deadline - clock_mono_ms();
        struct pollfd p = {c->fd, ev, 0};
        int r;
        if (left <= 0)
            return errf(c->err, "timed out");
        r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return errf(c->err, "%s", strerror(errno));
    }
}

static int put(struct conn *c, const void *p, size_t n)
{
    const char *q = p;

    while (n > 0) {
        ssize_t w;
        if (wait_fd(c, POLLOUT))
            return -1;
        w = send(c->fd, q, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w <= 0)
            return errf(c->err, "%s", w < 0 ? strerror(errno) : "closed");
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

static int get(struct conn *c, void *p, size_t n)
{
    char *q = p;

    while (n > 0) {
        ssize_t r;
        if (wait_fd(c, POLLIN))
            return -1;
        r = recv(c->fd, q, n, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0)
            return errf(c->err, "%s",
                        r < 0 ? strerror(errno) : "connection closed");
        q += r;
        n -= (size_t)r;
    }
    return 0;
}

static void u32(unsigned char *o, uint32_t v)
{
    o[0] = (unsigned char)(v >> 24);
    o[1] = (unsigned char)(v >> 16);
    o[2] = (unsigned char)(v >> 8);
    o[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* An unencrypted binary packet (RFC 4253 6) with payload p. */
static int send_packet(struct conn *c, const unsigned char *p, size_t n)
{
    size_t pad = 8 - (5 + n) % 8;
    unsigned char *b;
    int rc;

    if (pad < 4)
        pad += 8;
    b = xcalloc(1, 5 + n + pad);
    u32(b, (uint32_t)(1 + n + pad));
    b[4] = (unsigned char)pad;
    memcpy(b + 5, p, n);
    rc = put(c, b, 5 + n + pad);
    free(b);
    return rc;
}

/* The next packet's payload (caller frees). */
static unsigned char *recv_packet(struct conn *c, size_t *n)
{
    unsigned char h[5], *b;
    uint32_t len;

    if (get(c, h, 5))
        return NULL;
    len = get_u32(h);
    if (len < 5 || len > PACKET_MAX || h[4] >= len - 1) {
        errf(c->err, "not an SSH packet");
        return NULL;
    }
    b = xmalloc(len - 1);
    if (get(c, b, len - 1)) {
        free(b);
        return NULL;
    }
    *n = len - 1 - h[4];
    return b;
}

/* Banner lines until "SSH-2.0-" (RFC 4253 4.2 allows lines before it). */
static int read_banner(struct conn *c)
{
    char line[256];
    size_t n = 0, total = 0;

    for (;;) {
        char ch;
        if (get(c, &ch, 1))
            return -1;
        if (++total > BANNER_MAX)
            return errf(c->err, "no SSH banner");
        if (ch != '\n') {
            if (n + 1 < sizeof(line))
                line[n++] = ch;
            continue;
        }
        line[n] = '\0';
        if (strncmp(line, "SSH-2.0-", 8) == 0 ||
            strncmp(line, "SSH-1.99-", 9) == 0)
            return 0;
        if (strncmp(line, "SSH-", 4) == 0)
            return errf(c->err, "not SSH 2");
        n = 0;
    }
}

static size_t put_str(unsigned char *o, const char *s)
{
    size_t n = strlen(s);

    u32(o, (uint32_t)n);
    memcpy(o + 4, s, n);
    return 4 + n;
}

/* True when the server's KEXINIT offers alg among its host key types. */
static bool offers(const unsigned char *p, size_t n, const char *alg)
{
    size_t off = 1 + 16; /* type, cookie */
    uint32_t len;
    const char *list, *end;
    size_t an = strlen(alg);

    for (int i = 0; i < 2; i++) { /* kex, then host key algorithms */
        if (off + 4 > n)
            return false;
        len = get_u32(p + off);
        if (len > n - off - 4)
            return false;
        if (i == 0) {
            off += 4 + len;
            continue;
        }
        list = (const char *)p + off + 4;
        end = list + len;
        while (list < end) {
            const char *comma = memchr(list, ',', (size_t)(end - list));
            size_t k = comma ? (size_t)(comma - list) : (size_t)(end - list);
            if (k == an && memcmp(list, alg, an) == 0)
                return true;
            list += k + 1;
        }
    }
    return false;
}

/* The certificate algorithm for a plain key type, or NULL. */
static const char *cert_alg(const char *plain)
{
    static const char *const map[][2] = {
        {"ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"},
        {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com"},
        {"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com"},
        {"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com"},
        {"ssh-rsa", "rsa-sha2-512-cert-v01@openssh.com"},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(plain, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static int send_kexinit(struct conn *c, const char *alg)
{
    const char *lists[10] = {
        "curve25519-sha256,curve25519-sha256@libssh.org",
        alg,
        "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,"
        "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        NULL,
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
        "hmac-sha2-256,hmac-sha2-512",
        NULL,
        "none",
        "none",
        "",
        ""};
    unsigned char b[2048];
    size_t o = 0;

    lists[3] = lists[2];
    lists[5] = lists[4];
    b[o++] = MSG_KEXINIT;
    if (RAND_bytes(b + o, 16) != 1)
        return errf(c->err, "no random bytes");
    o += 16;
    for (int i = 0; i < 10; i++)
        o += put_str(b + o, lists[i]);
    b[o++] = 0; /* first_kex_packet_follows */
    u32(b + o, 0);
    o += 4;
    return send_packet(c, b, o);
}

static int send_ecdh_init(struct conn *c)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    unsigned char b[1 + 4 + 32];
    size_t n = 32;
    int rc;

    if (k == NULL || EVP_PKEY_get_raw_public_key(k, b + 5, &n) != 1 ||
        n != 32) {
        EVP_PKEY_free(k);
        return errf(c->err, "cannot make a key exchange key");
    }
    EVP_PKEY_free(k);
    b[0] = MSG_KEX_ECDH_INIT;
    u32(b + 1, 32);
    rc = send_packet(c, b, sizeof(b));
    return rc;
}

int known_hosts_probe(int fd, const char *plain_type, int64_t deadline,
                      unsigned char **cert, size_t *cert_len, char *err)
{
    struct conn c = {fd, deadline, err};
    const char *alg = cert_alg(plain_type);
    unsigned char *p = NULL;
    size_t n = 0;
    uint32_t klen;
    int rc = -1;

    *cert = NULL;
    *cert_len = 0;
    if (alg == NULL)
        return 0;
    if (put(&c, "SSH-2.0-oneoff\r\n", 16) || read_banner(&c) ||
        send_kexinit(&c, alg))
        return -1;
    for (;;) {
        free(p);
        p = recv_packet(&c, &n);
        if (p == NULL)
            goto out;
        if (n == 0 || p[0] == MSG_IGNORE || p[0] == MSG_DEBUG)
            continue;
        if (p[0] == MSG_DISCONNECT) {
            errf(err, "the server disconnected");
            goto out;
        }
        if (p[0] == MSG_KEXINIT)
            break;
        errf(err, "unexpected message %u", p[0]);
        goto out;
    }
    if (!offers(p, n, alg)) {
        rc = 0; /* no certificate of that type */
        goto out;
    }
    if (send_ecdh_init(&c))
        goto out;
    do {
        free(p);
        p = recv_packet(&c, &n);
        if (p == NULL)
            goto out;
    } while (n > 0 && (p[0] == MSG_IGNORE || p[0] == MSG_DEBUG));
    if (n < 5 || p[0] != MSG_KEX_ECDH_REPLY ||
        (klen = get_u32(p + 1)) > n - 5) {
        errf(err, "no key exchange reply (the server refused curve25519?)");
        goto out;
    }
    *cert = xmalloc(klen ? klen : 1);
    memcpy(*cert, p + 5, klen);
    *cert_len = klen;
    rc = 0;
out:
    free(p);
    return rc;
}
