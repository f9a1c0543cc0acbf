/*
 * known_hosts_cert.c - OpenSSH certificates (PROTOCOL.certkeys) for
 * known_hosts.c: the wire format read with bounds checks on every field,
 * the CA's signature verified with libcrypto, and the host checks OpenSSH
 * makes (host type, principal, validity, no unknown critical option).
 */
#define _GNU_SOURCE
#include "oneoff/known_hosts.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64 and the wire format ----------------------------------------- */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

unsigned char *kh_base64_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *out;
    size_t o = 0, pad = 0;

    *out_len = 0;
    if (n == 0 || n % 4 != 0)
        return NULL;
    if (s[n - 1] == '=')
        pad++;
    if (s[n - 2] == '=')
        pad++;
    out = xmalloc(n / 4 * 3);
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            bool last = i + 4 == n;
            if (last && s[i + k] == '=' && k >= 4 - (int)pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64_val((unsigned char)s[i + k]);
            if (v[k] < 0) {
                free(out);
                return NULL;
            }
        }
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
        out[o++] = (unsigned char)(v[2] << 6 | v[3]);
    }
    *out_len = o - pad;
    return out;
}

struct rd {
    const unsigned char *p;
    size_t n;
};

static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->n < 4)
        return -1;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
         (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    r->n -= 4;
    return 0;
}

static int rd_u64(struct rd *r, uint64_t *v)
{
    uint32_t hi, lo;

    if (rd_u32(r, &hi) || rd_u32(r, &lo))
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* A string: *p points into the data, not NUL-terminated. */
static int rd_str(struct rd *r, const unsigned char **p, size_t *n)
{
    uint32_t len;

    if (rd_u32(r, &len) || len > r->n)
        return -1;
    *p = r->p;
    *n = len;
    r->p += len;
    r->n -= len;
    return 0;
}

/* The whole field (length and bytes) as it is on the wire. */
static int rd_field(struct rd *r, const unsigned char **p, size_t *n)
{
    const unsigned char *start = r->p, *s;
    size_t sn;

    if (rd_str(r, &s, &sn))
        return -1;
    *p = start;
    *n = 4 + sn;
    return 0;
}

static char *str_dup(const unsigned char *p, size_t n)
{
    if (memchr(p, '\0', n))
        return NULL;
    return xstrndup((const char *)p, n);
}

char *kh_blob_type(const unsigned char *blob, size_t len)
{
    struct rd r = {blob, len};
    const unsigned char *p;
    size_t n;

    if (blob == NULL || rd_str(&r, &p, &n) || n == 0 || n > 64)
        return NULL;
    return str_dup(p, n);
}

static void put_str(unsigned char **o, const void *p, size_t n)
{
    (*o)[0] = (unsigned char)(n >> 24);
    (*o)[1] = (unsigned char)(n >> 16);
    (*o)[2] = (unsigned char)(n >> 8);
    (*o)[3] = (unsigned char)n;
    memcpy(*o + 4, p, n);
    *o += 4 + n;
}

/* ---- parsing ------------------------------------------------------------ */

void kh_cert_release(struct kh_cert *c)
{
    free(c->cert_type);
    free(c->key);
    free(c->key_id);
    strlist_clear(&c->principals);
    free(c->ca);
    free(c->blob);
    memset(c, 0, sizeof(*c));
}

/* The certified key's fields (after the nonce) into a plain key blob. */
static int read_key(struct kh_cert *c, struct rd *r, const char *plain)
{
    const unsigned char *f[2];
    size_t fn[2], nf = 0, total;
    unsigned char *o;

    if (strcmp(plain, "ssh-ed25519") == 0) {
        nf = 1;
    } else if (strncmp(plain, "ecdsa-sha2-nistp", 16) == 0 ||
               strcmp(plain, "ssh-rsa") == 0) {
        nf = 2; /* curve and point, or e and n */
    } else {
        return -1;
    }
    total = 4 + strlen(plain);
    for (size_t i = 0; i < nf; i++) {
        if (rd_field(r, &f[i], &fn[i]))
            return -1;
        total += fn[i];
    }
    c->key = o = xmalloc(total);
    c->key_len = total;
    put_str(&o, plain, strlen(plain));
    for (size_t i = 0; i < nf; i++) {
        memcpy(o, f[i], fn[i]);
        o += fn[i];
    }
    return 0;
}

int kh_cert_parse(struct kh_cert *c, const unsigned char *blob, size_t len,
                  char *err)
{
    struct rd r = {NULL, 0}, pr;
    const unsigned char *p, *nonce;
    size_t n, nn;
    char *plain = NULL;
    const char *suffix = "-cert-v01@openssh.com";
    size_t sl = strlen(suffix);

    memset(c, 0, sizeof(*c));
    c->blob = xmalloc(len ? len : 1);
    memcpy(c->blob, blob, len);
    c->blob_len = len;
    r.p = c->blob;
    r.n = len;
    if (rd_str(&r, &p, &n) || n <= sl || n > 64 ||
        memcmp(p + n - sl, suffix, sl) != 0 ||
        (c->cert_type = str_dup(p, n)) == NULL)
        goto bad;
    plain = xstrndup(c->cert_type, n - sl);
    if (rd_str(&r, &nonce, &nn) || read_key(c, &r, plain) ||
        rd_u64(&r, &c->serial) || rd_u32(&r, &c->type) || rd_str(&r, &p, &n) ||
        (c->key_id = str_dup(p, n)) == NULL || rd_str(&r, &p, &n))
        goto bad;
    pr.p = p;
    pr.n = n;
    while (pr.n > 0) {
        char *s;
        if (rd_str(&pr, &p, &n) || (s = str_dup(p, n)) == NULL)
            goto bad;
        strlist_push_owned(&c->principals, s);
    }
    if (rd_u64(&r, &c->valid_after) || rd_u64(&r, &c->valid_before) ||
        rd_str(&r, &p, &n))
        goto bad;
    c->critical = n > 0;
    if (rd_str(&r, &p, &n) || rd_str(&r, &p, &n) /* extensions, reserved */ ||
        rd_str(&r, &p, &n) || n == 0)
        goto bad;
    c->ca = xmalloc(n);
    memcpy(c->ca, p, n);
    c->ca_len = n;
    c->signed_len = (size_t)(r.p - c->blob);
    if (rd_str(&r, &p, &n) || r.n != 0)
        goto bad;
    c->sig_off = (size_t)(p - c->blob);
    c->sig_len = n;
    free(plain);
    return 0;
bad:
    free(plain);
    kh_cert_release(c);
    return errf(err, "not a valid OpenSSH certificate");
}

/* ---- the CA's signature ------------------------------------------------- */

static BIGNUM *mpint(const unsigned char *p, size_t n)
{
    if (n > 2048)
        return NULL;
    return BN_bin2bn(p, (int)n, NULL);
}

static EVP_PKEY *pkey_from_params(const char *alg, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY *k = NULL;

    if (pc && EVP_PKEY_fromdata_init(pc) == 1)
        EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(pc);
    return k;
}

static EVP_PKEY *rsa_key(struct rd *r)
{
    const unsigned char *e, *n;
    size_t en, nn;
    BIGNUM *be = NULL, *bn = NULL;
    OSSL_PARAM_BLD *b = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *k = NULL;

    if (rd_str(r, &e, &en) || rd_str(r, &n, &nn))
        return NULL;
    be = mpint(e, en);
    bn = mpint(n, nn);
    b = OSSL_PARAM_BLD_new();
    if (be && bn && b && BN_num_bits(bn) >= 1024 &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(b)) != NULL)
        k = pkey_from_params("RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(be);
    BN_free(bn);
    return k;
}

static EVP_PKEY *ec_key(struct rd *r, const char *type, const EVP_MD **md)
{
    static const struct {
        const char *name, *group;
        const EVP_MD *(*md)(void);
    } curves[] = {{"nistp256", "prime256v1", EVP_sha256},
                  {"nistp384", "secp384r1", EVP_sha384},
                  {"nistp521", "secp521r1", EVP_sha512}};
    const unsigned char *cv, *q;
    size_t cn, qn;
    OSSL_PARAM params[3];

    if (rd_str(r, &cv, &cn) || rd_str(r, &q, &qn))
        return NULL;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(type + 11, curves[i].name) != 0 ||
            cn != strlen(curves[i].name) || memcmp(cv, curves[i].name, cn))
            continue;
        *md = curves[i].md();
        params[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_PKEY_PARAM_GROUP_NAME, (char *)curves[i].group, 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                      (void *)q, qn);
        params[2] = OSSL_PARAM_construct_end();
        return pkey_from_params("EC", params);
    }
    return NULL;
}

/* An SSH ECDSA signature (mpint r, mpint s) as DER; caller frees. */
static unsigned char *ecdsa_der(const unsigned char *p, size_t n, size_t *dn)
{
    struct rd r = {p, n};
    const unsigned char *a, *b;
    size_t an, bn;
    BIGNUM *br, *bs;
    ECDSA_SIG *sig;
    unsigned char *der = NULL;
    int len;

    if (rd_str(&r, &a, &an) || rd_str(&r, &b, &bn) || r.n != 0)
        return NULL;
    br = mpint(a, an);
    bs = mpint(b, bn);
    sig = ECDSA_SIG_new();
    if (br == NULL || bs == NULL || sig == NULL ||
        ECDSA_SIG_set0(sig, br, bs) != 1) {
        BN_free(br);
        BN_free(bs);
        ECDSA_SIG_free(sig);
        return NULL;
    }
    len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0)
        return NULL;
    *dn = (size_t)len;
    return der;
}

int kh_cert_verify(const struct kh_cert *c, char *err)
{
    struct rd ca = {c->ca, c->ca_len}, sr = {c->blob + c->sig_off, c->sig_len};
    const unsigned char *t, *alg, *sig;
    size_t tn, an, sn, dn = 0;
    char type[65], salg[65];
    const EVP_MD *md = NULL;
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *mc = NULL;
    unsigned char *der = NULL;
    int ok = 0;

    if (rd_str(&ca, &t, &tn) || tn == 0 || tn >= sizeof(type) ||
        rd_str(&sr, &alg, &an) || an == 0 || an >= sizeof(salg) ||
        rd_str(&sr, &sig, &sn))
        return errf(err, "malformed CA key or signature");
    memcpy(type, t, tn);
    type[tn] = '\0';
    memcpy(salg, alg, an);
    salg[an] = '\0';
    if (strcmp(type, "ssh-ed25519") == 0 && strcmp(salg, type) == 0) {
        const unsigned char *pk;
        size_t pn;
        if (rd_str(&ca, &pk, &pn) == 0 && pn == 32)
            k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, pn);
    } else if (strcmp(type, "ssh-rsa") == 0 &&
               (strcmp(salg, "rsa-sha2-256") == 0 ||
                strcmp(salg, "rsa-sha2-512") == 0)) {
        md = strcmp(salg, "rsa-sha2-256") == 0 ? EVP_sha256() : EVP_sha512();
        k = rsa_key(&ca);
    } else if (strncmp(type, "ecdsa-sha2-nistp", 16) == 0 &&
               strcmp(salg, type) == 0) {
        k = ec_key(&ca, type, &md);
        der = k ? ecdsa_der(sig, sn, &dn) : NULL;
        sig = der;
        sn = dn;
    } else {
        return errf(err, "CA key type %s with signature %s is not supported",
                    type, salg);
    }
    mc = EVP_MD_CTX_new();
    if (k && mc && sig && EVP_DigestVerifyInit(mc, NULL, md, NULL, k) == 1)
        ok = EVP_DigestVerify(mc, sig, sn, c->blob, c->signed_len) == 1;
    EVP_MD_CTX_free(mc);
    EVP_PKEY_free(k);
    OPENSSL_free(der);
    return ok ? 0 : errf(err, "its CA signature does not verify");
}

int kh_cert_check_host(const struct kh_cert *c, const char *principal,
                       int64_t now, char *err)
{
    bool named = false;
    char *list;

    if (c->type != KH_CERT_HOST)
        return errf(err, "certificate '%s' is not a host certificate",
                    c->key_id);
    if (kh_cert_verify(c, err))
        return -1;
    if (now < 0 || (uint64_t)now < c->valid_after)
        return errf(err, "certificate '%s' is not valid yet", c->key_id);
    if ((uint64_t)now >= c->valid_before)
        return errf(err, "certificate '%s' has expired", c->key_id);
    for (size_t i = 0; i < c->principals.n; i++)
        named |= strcmp(c->principals.v[i], principal) == 0;
    if (!named) {
        list = strlist_join(&c->principals, ",");
        errf(err, "certificate '%s' is not for '%s' (it names: %s)", c->key_id,
             principal, *list ? list : "nobody");
        free(list);
        return -1;
    }
    if (c->critical)
        return errf(err, "certificate '%s' has critical options", c->key_id);
    return 0;
}
