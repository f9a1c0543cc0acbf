/*
 * known_hosts.h - oneoff's own reading of OpenSSH known_hosts files
 * (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), used instead of libssh's, which
 * skips @cert-authority and @revoked lines.
 *
 * Understood: plain host patterns (comma lists, '*' and '?' wildcards,
 * '!' negations, "[host]:port"), hashed names (|1|salt|hash,
 * HMAC-SHA1), @cert-authority lines (a CA whose host certificates are
 * trusted for the names the line matches) and @revoked lines (a key never
 * accepted, whatever else the files say). Lines OpenSSH would skip (bad
 * base64, unknown markers, too long) are skipped, never fatal.
 *
 * A check is made for a lookup name as OpenSSH makes it: "host" on port
 * 22, "[host]:port" otherwise, or the HostKeyAlias as it is. A certificate
 * is checked for a principal: the host name (or the HostKeyAlias) without
 * port.
 *
 * Keys are handled as their SSH wire blobs (RFC 4253 6.6): a key equals
 * another when the blobs are equal. No libssh here: certificates are parsed
 * (PROTOCOL.certkeys) and their signatures verified with libcrypto
 * (ssh-ed25519, ecdsa-sha2-nistp256/384/521, rsa-sha2-256/512 CAs).
 *
 * Everything returned is owned by the struct it is in; *_release() frees
 * it. Nothing is thread-shared: a struct known_hosts is read-only after
 * loading and may then be read by many threads.
 */
#ifndef ONEOFF_KNOWN_HOSTS_H
#define ONEOFF_KNOWN_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/util.h"

/* A line longer than this is skipped (OpenSSH: 16 KiB RSA keys fit). */
#define KH_LINE_MAX 65536
/* A file larger than this is refused. */
#define KH_FILE_MAX (64u << 20)

enum kh_marker { KH_MARK_NONE, KH_MARK_CA, KH_MARK_REVOKED };

struct kh_entry {
    enum kh_marker marker;
    char *hosts; /* the host field as written */
    /* a hashed host field (|1|salt|hash), decoded when read; a field that
     * starts with |1| but is not one matches no name */
    bool hashed;
    unsigned char salt[20], hash[20];
    char *type; /* the key type of the line */
    unsigned char *blob;
    size_t blob_len;
    const char *file; /* points into known_hosts.files */
    unsigned line;
};

struct known_hosts {
    struct kh_entry *v;
    size_t n, alloc;
    struct strlist files;
    unsigned skipped; /* lines that were not understood */
};

/* Adds the entries of data (the text of file) to kh. */
void known_hosts_parse(struct known_hosts *kh, const char *file,
                       const char *data, size_t len);
/* Adds the entries of the file at path; a missing file adds nothing. -1
 * with err when it exists but cannot be read. */
int known_hosts_load(struct known_hosts *kh, const char *path, char *err);
void known_hosts_release(struct known_hosts *kh);

/* True when name matches e's host field (a hashed name, or a pattern list
 * that matches without a negation matching too). */
bool known_hosts_entry_matches(const struct kh_entry *e, const char *name);
/* OpenSSH's host pattern list match: 1 matched, -1 a negation matched, 0
 * neither. name is compared case-insensitively. */
int known_hosts_match_list(const char *name, const char *list);
/* The key types of the lines without a marker whose host field matches
 * name, each once, in the files' order: up to max of them into out
 * (pointers into kh). Returns how many. */
size_t known_hosts_types(const struct known_hosts *kh, const char *name,
                         const char **out, size_t max);

/* True when kh has an @cert-authority line for name: a certificate is
 * worth asking for. */
bool known_hosts_has_ca(const struct known_hosts *kh, const char *name);

/* A host or user certificate (PROTOCOL.certkeys), parsed from its blob. */
struct kh_cert {
    char *cert_type;    /* "ssh-ed25519-cert-v01@openssh.com" */
    unsigned char *key; /* the certified key, as a plain key blob */
    size_t key_len;
    uint64_t serial;
    uint32_t type; /* 1 user, 2 host */
    char *key_id;
    struct strlist principals;
    uint64_t valid_after, valid_before;
    bool critical;     /* it has critical options (none is known for hosts) */
    unsigned char *ca; /* the signature key blob */
    size_t ca_len;
    size_t signed_len;   /* blob[0..signed_len) is what was signed */
    unsigned char *blob; /* a copy of the whole certificate */
    size_t blob_len;
    size_t sig_off, sig_len; /* the signature, inside blob */
};

#define KH_CERT_HOST 2

/* Parses a certificate blob; -1 with err when it is not one. */
int kh_cert_parse(struct kh_cert *c, const unsigned char *blob, size_t len,
                  char *err);
/* 0 when the CA's signature over the certificate verifies. */
int kh_cert_verify(const struct kh_cert *c, char *err);
/* 0 when c is a valid host certificate for principal at time now (seconds
 * since the epoch) and signed by its CA; -1 with err saying why not. */
int kh_cert_check_host(const struct kh_cert *c, const char *principal,
                       int64_t now, char *err);
void kh_cert_release(struct kh_cert *c);

/* Base64 of RFC 4648 without line breaks; NULL when s is not. The caller
 * frees. */
unsigned char *kh_base64_decode(const char *s, size_t n, size_t *out_len);
/* The type name a key blob starts with (caller frees), or NULL. */
char *kh_blob_type(const unsigned char *blob, size_t len);

enum kh_status {
    KH_OK,       /* known, or certified by a trusted CA */
    KH_UNKNOWN,  /* no line for the name */
    KH_CHANGED,  /* a line for the name and type holds another key */
    KH_OTHER,    /* only keys of other types are known for the name */
    KH_REVOKED,  /* an @revoked line names the key (or its CA) */
    KH_CERT_BAD, /* a certificate from a trusted CA that fails its checks */
};

struct kh_verdict {
    enum kh_status status;
    char where[300];      /* "FILE:LINE" of the line that decided, or "" */
    char reason[ERR_MAX]; /* KH_CERT_BAD: why */
    bool by_cert;         /* KH_OK through a certificate */
};

/* Checks the server's plain key (its blob) for lookup, and its
 * certificate (NULL when none was obtained: cert_len 0) for principal at
 * time now. A certificate is trusted only for the key it certifies: its
 * key must be the plain key. */
void known_hosts_check(const struct known_hosts *kh, const char *lookup,
                       const char *principal, const unsigned char *key,
                       size_t key_len, const unsigned char *cert,
                       size_t cert_len, int64_t now, struct kh_verdict *v);

/* Asks the SSH server at the other end of fd (connected, nothing sent
 * yet) for the certificate of its plain_type host key ("ssh-ed25519"...),
 * before deadline (clock_mono_ms()): known_hosts_probe.c says why and how.
 * 0 with *cert NULL when the server offers none of that type; 0 with the
 * certificate's blob in *cert (the caller frees); -1 with err. fd is left
 * open. */
int known_hosts_probe(int fd, const char *plain_type, int64_t deadline,
                      unsigned char **cert, size_t *cert_len, char *err);

#endif
