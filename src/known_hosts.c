/*
 * known_hosts.c - OpenSSH known_hosts files read and checked by oneoff
 * (see known_hosts.h): the line parser, host pattern and hashed name
 * matching, and the verdict for a server's key and certificate. The
 * certificate format and its signatures are in known_hosts_cert.c.
 *
 * Hostile input is expected: a line is bounded (KH_LINE_MAX), patterns
 * are matched without recursion in O(name x pattern), and a line that is
 * not understood is skipped, as OpenSSH skips it.
 */
#define _GNU_SOURCE
#include "oneoff/known_hosts.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA1_LEN 20

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *word_end(const char *p, const char *end)
{
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    return p;
}

/* e's hashed host field, |1|base64(salt)|base64(HMAC-SHA1(salt, name)),
 * decoded into e; false when it is none. */
static bool hashed_decode(struct kh_entry *e)
{
    const char *salt = e->hosts + 3, *bar;
    unsigned char *s = NULL, *h = NULL;
    size_t slen = 0, hlen = 0;
    bool ok = false;

    if (strncmp(e->hosts, "|1|", 3) != 0 || (bar = strchr(salt, '|')) == NULL)
        return false;
    s = kh_base64_decode(salt, (size_t)(bar - salt), &slen);
    h = kh_base64_decode(bar + 1, strlen(bar + 1), &hlen);
    if (s && h && slen == SHA1_LEN && hlen == SHA1_LEN) {
        memcpy(e->salt, s, SHA1_LEN);
        memcpy(e->hash, h, SHA1_LEN);
        ok = true;
    }
    free(s);
    free(h);
    return ok;
}

/* One line (without its newline) into an entry; false when OpenSSH would
 * skip it. */
static bool parse_line(struct known_hosts *kh, const char *file,
                       unsigned lineno, const char *p, const char *end)
{
    enum kh_marker mark = KH_MARK_NONE;
    const char *w, *hosts, *hosts_end, *type, *type_end, *b64, *b64_end;
    unsigned char *blob;
    size_t blen;
    char *btype, *tname;
    struct kh_entry *e;

    p = skip_ws(p, end);
    if (p == end || *p == '#')
        return true;
    if (*p == '@') {
        w = word_end(p, end);
        if ((size_t)(w - p) == 15 && strncmp(p, "@cert-authority", 15) == 0)
            mark = KH_MARK_CA;
        else if ((size_t)(w - p) == 8 && strncmp(p, "@revoked", 8) == 0)
            mark = KH_MARK_REVOKED;
        else
            return false;
        p = skip_ws(w, end);
    }
    hosts = p;
    hosts_end = word_end(p, end);
    type = skip_ws(hosts_end, end);
    type_end = word_end(type, end);
    b64 = skip_ws(type_end, end);
    b64_end = word_end(b64, end);
    if (hosts == hosts_end || type == type_end || b64 == b64_end)
        return false;
    blob = kh_base64_decode(b64, (size_t)(b64_end - b64), &blen);
    if (blob == NULL)
        return false;
    btype = kh_blob_type(blob, blen);
    tname = xstrndup(type, (size_t)(type_end - type));
    /* the type written and the type inside the key must agree */
    if (btype == NULL || strcmp(btype, tname) != 0 ||
        (mark == KH_MARK_CA && strstr(btype, "-cert-v01@") != NULL)) {
        free(btype);
        free(tname);
        free(blob);
        return false;
    }
    free(btype);
    xgrow((void **)&kh->v, &kh->alloc, kh->n + 1, sizeof(*kh->v));
    e = &kh->v[kh->n++];
    e->marker = mark;
    e->hosts = xstrndup(hosts, (size_t)(hosts_end - hosts));
    e->hashed = hashed_decode(e);
    e->type = tname;
    e->blob = blob;
    e->blob_len = blen;
    e->file = file;
    e->line = lineno;
    return true;
}

void known_hosts_parse(struct known_hosts *kh, const char *file,
                       const char *data, size_t len)
{
    const char *p = data, *end = data + len, *name;
    unsigned lineno = 0;

    strlist_push(&kh->files, file);
    name = kh->files.v[kh->files.n - 1];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (le > p && le[-1] == '\r')
            le--;
        if ((size_t)(le - p) > KH_LINE_MAX ||
            memchr(p, '\0', (size_t)(le - p)) ||
            !parse_line(kh, name, lineno, p, le))
            kh->skipped++;
        p = nl ? nl + 1 : end;
    }
}

int known_hosts_load(struct known_hosts *kh, const char *path, char *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = file_read(path, KH_FILE_MAX, &data, &len);

    if (rc == -ENOENT || rc == -ENOTDIR)
        return 0;
    if (rc == -EFBIG)
        return errf(err, "known hosts file '%s' is larger than %u MiB", path,
                    KH_FILE_MAX >> 20);
    if (rc < 0)
        return errf(err, "cannot read known hosts file '%s': %s", path,
                    strerror(-rc));
    known_hosts_parse(kh, path, data, len);
    free(data);
    return 0;
}

void known_hosts_release(struct known_hosts *kh)
{
    for (size_t i = 0; i < kh->n; i++) {
        free(kh->v[i].hosts);
        free(kh->v[i].type);
        free(kh->v[i].blob);
    }
    free(kh->v);
    strlist_clear(&kh->files);
    memset(kh, 0, sizeof(*kh));
}

/* '*' and '?' globbing, case-insensitive; iterative (one star to come back
 * to), so a hostile pattern costs O(sn x pn), never exponential time. */
static bool glob_match(const char *s, size_t sn, const char *p, size_t pn)
{
    size_t si = 0, pi = 0, star = (size_t)-1, mark = 0;

    while (si < sn) {
        if (pi < pn && (p[pi] == '?' || tolower((unsigned char)p[pi]) ==
                                            tolower((unsigned char)s[si]))) {
            si++;
            pi++;
        } else if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

int known_hosts_match_list(const char *name, const char *list)
{
    size_t sn = strlen(name);
    int got = 0;

    while (*list) {
        const char *c = strchr(list, ',');
        size_t len = c ? (size_t)(c - list) : strlen(list);
        bool neg = len > 0 && *list == '!';
        if (glob_match(name, sn, list + neg, len - neg)) {
            if (neg)
                return -1;
            got = 1;
        }
        list += len;
        if (*list == ',')
            list++;
    }
    return got;
}

/* SHA-1 fetched once: EVP_sha1() would look the algorithm up again, under
 * OpenSSL's global lock, for every digest, and a lookup digests every
 * hashed line of the files (OpenSSH's do the same, line by line). Each
 * thread keeps one digest context for all its lines (freed when it
 * ends). */
static EVP_MD *sha1_md;
static pthread_key_t sha1_ctx_key;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

static void sha1_fetch(void)
{
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (sha1_md && pthread_key_create(&sha1_ctx_key, ctx_free) != 0) {
        EVP_MD_free(sha1_md);
        sha1_md = NULL;
    }
}

/* This thread's digest context, NULL when there can be none. */
static EVP_MD_CTX *sha1_ctx(void)
{
    EVP_MD_CTX *c;

    pthread_once(&sha1_once, sha1_fetch);
    if (sha1_md == NULL)
        return NULL;
    c = pthread_getspecific(sha1_ctx_key);
    if (c == NULL && (c = EVP_MD_CTX_new()) != NULL &&
        pthread_setspecific(sha1_ctx_key, c) != 0) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* One digest of a 64-byte block and then n bytes of m. */
static bool sha1_two(EVP_MD_CTX *c, const unsigned char *block, const void *m,
                     size_t n, unsigned char *out)
{
    unsigned int len = 0;

    return EVP_DigestInit_ex(c, sha1_md, NULL) == 1 &&
           EVP_DigestUpdate(c, block, 64) == 1 &&
           EVP_DigestUpdate(c, m, n) == 1 &&
           EVP_DigestFinal_ex(c, out, &len) == 1 && len == SHA1_LEN;
}

/* HMAC-SHA1 (RFC 2104) of name under e's salt, against e's hash. */
static bool hashed_match(const struct kh_entry *e, const char *name)
{
    unsigned char pad[64], inner[SHA1_LEN], mac[SHA1_LEN];
    EVP_MD_CTX *c;
    bool ok;

    if (!e->hashed || (c = sha1_ctx()) == NULL)
        return false;
    memset(pad, 0x36, sizeof(pad));
    for (size_t i = 0; i < SHA1_LEN; i++)
        pad[i] ^= e->salt[i];
    ok = sha1_two(c, pad, name, strlen(name), inner);
    memset(pad, 0x5c, sizeof(pad));
    for (size_t i = 0; i < SHA1_LEN; i++)
        pad[i] ^= e->salt[i];
    ok = ok && sha1_two(c, pad, inner, sizeof(inner), mac);
    return ok && CRYPTO_memcmp(mac, e->hash, SHA1_LEN) == 0;
}

bool known_hosts_entry_matches(const struct kh_entry *e, const char *name)
{
    if (strncmp(e->hosts, "|1|", 3) == 0)
        return hashed_match(e, name);
    return known_hosts_match_list(name, e->hosts) == 1;
}

size_t known_hosts_types(const struct known_hosts *kh, const char *name,
                         const char **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < kh->n && n < max; i++) {
        const struct kh_entry *e = &kh->v[i];
        size_t k = 0;
        if (e->marker != KH_MARK_NONE || !known_hosts_entry_matches(e, name))
            continue;
        while (k < n && strcmp(out[k], e->type) != 0)
            k++;
        if (k == n)
            out[n++] = e->type;
    }
    return n;
}

bool known_hosts_has_ca(const struct known_hosts *kh, const char *name)
{
    for (size_t i = 0; i < kh->n; i++)
        if (kh->v[i].marker == KH_MARK_CA &&
            known_hosts_entry_matches(&kh->v[i], name))
            return true;
    return false;
}

static bool blob_eq(const unsigned char *a, size_t an, const unsigned char *b,
                    size_t bn)
{
    return a && b && an == bn && memcmp(a, b, an) == 0;
}

static void where(struct kh_verdict *v, const struct kh_entry *e)
{
    snprintf(v->where, sizeof(v->where), "%s:%u", e->file, e->line);
}

/* An @revoked line for lookup that names the key, the certified key or the
 * CA. */
static bool check_revoked(const struct known_hosts *kh, const char *lookup,
                          const unsigned char *key, size_t key_len,
                          const struct kh_cert *c, struct kh_verdict *v)
{
    for (size_t i = 0; i < kh->n; i++) {
        const struct kh_entry *e = &kh->v[i];
        if (e->marker != KH_MARK_REVOKED ||
            !known_hosts_entry_matches(e, lookup))
            continue;
        if (blob_eq(e->blob, e->blob_len, key, key_len) ||
            (c && (blob_eq(e->blob, e->blob_len, c->key, c->key_len) ||
                   blob_eq(e->blob, e->blob_len, c->ca, c->ca_len)))) {
            v->status = KH_REVOKED;
            where(v, e);
            return true;
        }
    }
    return false;
}

/* The certificate, when a trusted CA signed it: true with the verdict;
 * false when no @cert-authority line trusts its CA. */
static bool check_cert(const struct known_hosts *kh, const char *lookup,
                       const char *principal, const struct kh_cert *c,
                       int64_t now, struct kh_verdict *v)
{
    for (size_t i = 0; i < kh->n; i++) {
        const struct kh_entry *e = &kh->v[i];
        if (e->marker != KH_MARK_CA ||
            !blob_eq(e->blob, e->blob_len, c->ca, c->ca_len) ||
            !known_hosts_entry_matches(e, lookup))
            continue;
        where(v, e);
        if (kh_cert_check_host(c, principal, now, v->reason) == 0) {
            v->status = KH_OK;
            v->by_cert = true;
        } else {
            v->status = KH_CERT_BAD;
        }
        return true;
    }
    return false;
}

void known_hosts_check(const struct known_hosts *kh, const char *lookup,
                       const char *principal, const unsigned char *key,
                       size_t key_len, const unsigned char *cert,
                       size_t cert_len, int64_t now, struct kh_verdict *v)
{
    struct kh_cert c;
    bool have_cert = false;
    char *ktype = kh_blob_type(key, key_len);
    char e[ERR_MAX];
    const struct kh_entry *changed = NULL;
    bool other = false;

    memset(v, 0, sizeof(*v));
    memset(&c, 0, sizeof(c));
    v->status = KH_UNKNOWN;
    if (cert_len && kh_cert_parse(&c, cert, cert_len, e) == 0) {
        /* a certificate speaks only for the key the server proved it has */
        have_cert = blob_eq(c.key, c.key_len, key, key_len);
        if (!have_cert)
            kh_cert_release(&c);
    }
    if (check_revoked(kh, lookup, key, key_len, have_cert ? &c : NULL, v))
        goto out;
    for (size_t i = 0; i < kh->n; i++) {
        const struct kh_entry *en = &kh->v[i];
        if (en->marker != KH_MARK_NONE ||
            !known_hosts_entry_matches(en, lookup))
            continue;
        if (blob_eq(en->blob, en->blob_len, key, key_len)) {
            v->status = KH_OK;
            where(v, en);
            goto out;
        }
        if (ktype && strcmp(en->type, ktype) == 0) {
            if (changed == NULL)
                changed = en;
        } else {
            other = true;
        }
    }
    if (have_cert && check_cert(kh, lookup, principal, &c, now, v))
        goto out;
    if (changed) {
        v->status = KH_CHANGED;
        where(v, changed);
    } else if (other) {
        v->status = KH_OTHER;
    }
out:
    if (have_cert)
        kh_cert_release(&c);
    free(ktype);
}
