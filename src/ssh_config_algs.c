/*
 * ssh_config_algs.c - the algorithm lists of ssh_config (Ciphers, MACs,
 * KexAlgorithms, HostKeyAlgorithms, CASignatureAlgorithms, the accepted
 * key algorithms, Debian's GSSAPIKexAlgorithms), checked as the ssh of
 * Debian 12 checks them, so that a typo stops oneoff where it stops ssh.
 *
 * Two checks, as in ssh. When the line is read (readconf.c), whatever the
 * host: unless the value starts with '-', every name must be one the build
 * knows (key algorithms may also be patterns that match a known name, or a
 * short name such as "RSA"). On the value a host ends up with, when the
 * options are completed (kex_assemble_names() in fill_default_options(),
 * and for HostKeyAlgorithms in ssh -G's dump): unless it starts with '-',
 * no name may be negated with '!', and the names must match at least one
 * algorithm of the build.
 *
 * The name tables are those of `ssh -Q cipher|mac|kex|key|sig` of that
 * ssh; a build with other algorithms would need them changed.
 */
#define _GNU_SOURCE
#include "ssh_config_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const ciphers[] = {"3des-cbc",
                                      "aes128-cbc",
                                      "aes192-cbc",
                                      "aes256-cbc",
                                      "aes128-ctr",
                                      "aes192-ctr",
                                      "aes256-ctr",
                                      "aes128-gcm@openssh.com",
                                      "aes256-gcm@openssh.com",
                                      "chacha20-poly1305@openssh.com",
                                      NULL};

static const char *const macs[] = {"hmac-sha1",
                                   "hmac-sha1-96",
                                   "hmac-sha2-256",
                                   "hmac-sha2-512",
                                   "hmac-md5",
                                   "hmac-md5-96",
                                   "umac-64@openssh.com",
                                   "umac-128@openssh.com",
                                   "hmac-sha1-etm@openssh.com",
                                   "hmac-sha1-96-etm@openssh.com",
                                   "hmac-sha2-256-etm@openssh.com",
                                   "hmac-sha2-512-etm@openssh.com",
                                   "hmac-md5-etm@openssh.com",
                                   "hmac-md5-96-etm@openssh.com",
                                   "umac-64-etm@openssh.com",
                                   "umac-128-etm@openssh.com",
                                   NULL};

static const char *const kexes[] = {"diffie-hellman-group1-sha1",
                                    "diffie-hellman-group14-sha1",
                                    "diffie-hellman-group14-sha256",
                                    "diffie-hellman-group16-sha512",
                                    "diffie-hellman-group18-sha512",
                                    "diffie-hellman-group-exchange-sha1",
                                    "diffie-hellman-group-exchange-sha256",
                                    "ecdh-sha2-nistp256",
                                    "ecdh-sha2-nistp384",
                                    "ecdh-sha2-nistp521",
                                    "curve25519-sha256",
                                    "curve25519-sha256@libssh.org",
                                    "sntrup761x25519-sha512",
                                    "sntrup761x25519-sha512@openssh.com",
                                    NULL};

/* Debian's GSSAPI key exchanges: names that begin with one of these are
 * valid key exchange names, but none is in the default-usable set. */
static const char *const gss_kexes[] = {
    "gss-gex-sha1-",          "gss-group1-sha1-",
    "gss-group14-sha1-",      "gss-group14-sha256-",
    "gss-group16-sha512-",    "gss-nistp256-sha256-",
    "gss-curve25519-sha256-", NULL};

/* Every key and signature algorithm (sshkey_alg_list(0, 0, 1)). */
static const char *const keys[] = {
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
    NULL};

/* The signature algorithms a CA may use (sshkey_alg_list(0, 1, 1)). */
static const char *const sigs[] = {
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "rsa-sha2-256",
    "rsa-sha2-512",
    NULL};

/* The short names of plain key types, accepted in any case. */
static const char *const key_short[] = {
    "ED25519", "ECDSA", "ECDSA-SK", "ED25519-SK", "RSA", "DSA", NULL};

static bool in(const char *const *names, const char *s)
{
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], s) == 0)
            return true;
    return false;
}

static bool gss_kex(const char *s)
{
    for (size_t i = 0; gss_kexes[i] != NULL; i++)
        if (strncmp(s, gss_kexes[i], strlen(gss_kexes[i])) == 0)
            return true;
    return false;
}

/* One name, as ciphers_valid(), mac_valid(), kex_names_valid(),
 * sshkey_names_valid2(names, 1) and kex_gss_names_valid() take it. */
static bool name_ok(enum sshcfg_vkind vk, const char *p)
{
    switch (vk) {
    case V_CIPHERS:
        return in(ciphers, p);
    case V_MACS:
        return in(macs, p);
    case V_KEX:
        return in(kexes, p) || gss_kex(p);
    case V_GSSKEX:
        return gss_kex(p);
    default:
        break;
    }
    if (in(keys, p))
        return true;
    for (size_t i = 0; key_short[i] != NULL; i++)
        if (strcasecmp(key_short[i], p) == 0)
            return true;
    for (size_t i = 0; keys[i] != NULL; i++)
        if (sshcfg_match_list(keys[i], p, false) != 0)
            return true;
    return false;
}

/* The names up to the first empty one (strsep() loops of ssh stop there). */
static bool names_ok(enum sshcfg_vkind vk, const char *list)
{
    char *dup, *cp, *p;
    bool ok = true;

    if (*list == '\0')
        return false;
    dup = cp = xstrdup(list);
    while (ok && (p = strsep(&cp, ",")) != NULL && *p != '\0')
        ok = name_ok(vk, p);
    free(dup);
    return ok;
}

/* kex_assemble_names() for an explicit, '+' or '^' list: no '!', and at
 * least one algorithm matched (the default list counts for '+' and '^'). */
bool sshcfg_algs_usable(enum sshcfg_alg slot, const char *list)
{
    const char *const *all = slot == ALG_CIPHERS ? ciphers
                             : slot == ALG_MACS  ? macs
                             : slot == ALG_KEX   ? kexes
                             : slot == ALG_CASIG ? sigs
                                                 : keys;
    bool any = *list == '+' || *list == '^';
    char *dup, *cp, *p;

    if (*list == '-')
        return true; /* only removes names from the defaults */
    dup = cp = xstrdup(any ? list + 1 : list);
    while ((p = strsep(&cp, ",")) != NULL) {
        if (*p == '!') {
            free(dup);
            return false;
        }
        for (size_t i = 0; !any && all[i] != NULL; i++)
            any = sshcfg_match_list(all[i], p, false) == 1;
    }
    free(dup);
    return any;
}

int sshcfg_check_algs(struct sshcfg_line *l, enum sshcfg_vkind vk, int slot)
{
    const char *a = sshcfg_line_next(l);
    struct sshcfg_dir *d;

    if (a == NULL || *a == '\0')
        return sshcfg_line_missing(l);
    if (vk == V_GSSKEX) {
        if (!names_ok(vk, a))
            return sshcfg_line_bad(l, "unsupported key exchange in '%s'", a);
        return 0;
    }
    if (*a != '-' && !names_ok(vk, *a == '+' || *a == '^' ? a + 1 : a))
        return sshcfg_line_bad(l, "bad %s '%s'", l->keyword, a);
    d = sshcfg_line_dir(l, KW_ALGS);
    d->str = xstrdup(a);
    d->ival = slot;
    return 0;
}
