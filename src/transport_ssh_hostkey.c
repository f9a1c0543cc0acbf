/*
 * transport_ssh_hostkey.c - the SSH transport's host key check, made with
 * oneoff's own known_hosts reader (known_hosts.h) instead of libssh's,
 * which ignores @revoked and @cert-authority lines and HostKeyAlias.
 *
 * The verdict comes from the server's plain key, which libssh's key
 * exchange proved the server holds. When no line accepts that key but an
 * @cert-authority line covers the name, the server's host certificate is
 * fetched on a second connection (libssh 0.10 cannot negotiate one, see
 * known_hosts_probe.c) -- through the same jump host when there is one --
 * and trusted only if it certifies that same key.
 *
 * The names and files are those of the host's resolution
 * (transport_ssh_host.c): HostKeyAlias (looked up without the port),
 * UserKnownHostsFile and the global file, or --known-hosts alone.
 * Strict always, whatever the ssh config says: an unknown key is refused
 * (or recorded with accept-new, from --host-key-policy or the config's
 * StrictHostKeyChecking), a changed or revoked one is refused in every
 * mode.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oneoff/known_hosts.h"
#include "transport_ssh_jump.h"

/* The server's key as a wire blob (caller frees), and its type. */
static unsigned char *server_key(ssh_key k, size_t *len)
{
    char *b64 = NULL;
    unsigned char *blob = NULL;

    *len = 0;
    if (ssh_pki_export_pubkey_base64(k, &b64) == SSH_OK && b64)
        blob = kh_base64_decode(b64, strlen(b64), len);
    ssh_string_free_char(b64);
    return blob;
}

/* A TCP connection to host:port within the deadline, or -1. */
static int tcp_connect(const char *host, unsigned port, int64_t deadline)
{
    struct addrinfo hints, *res = NULL;
    char ps[16];
    int fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ps, sizeof(ps), "%u", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        struct pollfd p;
        int e = 0;
        socklen_t el = sizeof(e);
        int64_t left = deadline - clock_mono_ms();
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        p.fd = fd;
        p.events = POLLOUT;
        if (errno != EINPROGRESS || left <= 0 || poll(&p, 1, (int)left) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* The server's host certificate for its plain key type, fetched on a
 * second connection (through the same jump host when link is a jump
 * channel). NULL when there is none or it cannot be had; why goes to why. */
static unsigned char *fetch_cert(struct ssh_tp *t, const struct ssh_hostopts *o,
                                 struct jump_link *link, const char *type,
                                 size_t *len, char *why)
{
    int64_t deadline = clock_mono_ms() + o->connect_timeout_ms;
    struct jump_link *l = NULL;
    struct transport_result r;
    unsigned char *cert = NULL;
    int fd = -1;

    *len = 0;
    if (link) {
        transport_result_init(&r);
        if (jump_link_again(t, link, &l, &r) == 0)
            fd = jump_link_fd(l);
        else
            snprintf(why, ERR_MAX, "%s", r.error);
    } else {
        fd = tcp_connect(o->h->hostname, o->h->port, deadline);
        if (fd < 0)
            errf(why, "cannot connect again to ask for its certificate");
    }
    if (fd >= 0 &&
        known_hosts_probe(fd, type, deadline, &cert, len, why) == 0 &&
        cert == NULL)
        errf(why, "it offers no %s certificate", type);
    if (l)
        jump_link_release(l); /* closes fd */
    else if (fd >= 0)
        close(fd);
    return cert;
}

/* --host-key-policy accept-new: appends "NAME TYPE KEY" to the file
 * (under the transport's lock: one line at a time). */
static int accept_new(struct ssh_tp *t, const char *path, const char *name,
                      ssh_key srv, char *err)
{
    char *b64 = NULL, *line = NULL, *dir = xstrdup(path), *slash;
    int fd, rc = -1;

    if (ssh_pki_export_pubkey_base64(srv, &b64) != SSH_OK || b64 == NULL) {
        free(dir);
        return errf(err, "cannot record the host key: cannot encode it");
    }
    line = xasprintf("%s %s %s\n", name,
                     ssh_key_type_to_char(ssh_key_type(srv)), b64);
    pthread_mutex_lock(&t->lock);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0700); /* as ssh does for ~/.ssh; EEXIST is fine */
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && write_all(fd, line, strlen(line)) == 0)
        rc = 0;
    if (rc)
        errf(err, "cannot record the host key in %s: %s", path,
             strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = errf(err, "cannot record the host key in %s: %s", path,
                  strerror(errno));
    pthread_mutex_unlock(&t->lock);
    ssh_string_free_char(b64);
    free(line);
    free(dir);
    return rc;
}

/* libssh reads nothing here, but a process out of descriptors must not
 * pass for a host whose key is not known. */
static int out_of_descriptors(char *err)
{
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (probe >= 0) {
        close(probe);
        return 0;
    }
    if (!out_of_resources(errno))
        return 0;
    errf(err,
         "cannot check the host key: %s (raise 'ulimit -n' or use fewer "
         "hosts at once)",
         strerror(errno));
    return -1;
}

int verify_host_key(struct ssh_tp *t, ssh_session s,
                    const struct ssh_hostopts *o, struct jump_link *link,
                    char *err)
{
    ssh_key srv = NULL;
    /* o->kh_files, read once for every host (transport_ssh_khcache.c);
     * the first one is where an unknown key would be recorded */
    const struct known_hosts *kh = NULL;
    struct kh_set *kh_ref = NULL;
    struct kh_verdict v;
    unsigned char *key = NULL, *cert = NULL, *hash = NULL;
    size_t klen = 0, clen = 0, hlen = 0;
    char *fp = NULL, *type = NULL;
    char lookup[300], why[ERR_MAX] = "";
    const char *first = o->known_hosts;
    /* HostKeyAlias names the key in known_hosts and in certificates */
    const char *principal = o->kh_host;
    int rc = -1;

    if (ssh_get_server_publickey(s, &srv) != SSH_OK)
        return errf(err, "no host key received: %s", ssh_get_error(s));
    if (out_of_descriptors(err)) {
        ssh_key_free(srv);
        return -2;
    }
    key = server_key(srv, &klen);
    type = kh_blob_type(key, klen);
    if (ssh_get_publickey_hash(srv, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) ==
        0)
        fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    if (key == NULL || type == NULL) {
        errf(err, "cannot read the host key");
        goto out;
    }
    kh = kh_sets_get(t, &o->kh_files, &kh_ref, err);
    if (kh == NULL)
        goto out;
    endpoint(o, lookup, sizeof(lookup));
    known_hosts_check(kh, lookup, principal, key, klen, NULL, 0,
                      (int64_t)time(NULL), &v);
    /* as ssh, which prefers a certificate when a CA line covers the name */
    if (v.status != KH_OK && v.status != KH_REVOKED &&
        known_hosts_has_ca(kh, lookup)) {
        cert = fetch_cert(t, o, link, type, &clen, why);
        if (cert)
            known_hosts_check(kh, lookup, principal, key, klen, cert, clen,
                              (int64_t)time(NULL), &v);
    }
    switch (v.status) {
    case KH_OK:
        rc = 0;
        break;
    case KH_REVOKED:
        errf(err,
             "host key of '%s' is REVOKED: it offers %s %s, which %s marks "
             "@revoked; refused",
             lookup, type, fp ? fp : "?", v.where);
        break;
    case KH_CERT_BAD:
        errf(err,
             "host certificate of '%s' refused: %s (certificate authority "
             "trusted at %s)",
             lookup, v.reason, v.where);
        break;
    case KH_CHANGED:
    case KH_OTHER:
        errf(err,
             "HOST KEY CHANGED for '%s': it now offers %s %s, which does "
             "not match the key recorded in %s; someone may be "
             "intercepting the connection, or the host was reinstalled: "
             "verify before you edit that line",
             lookup, type, fp ? fp : "?", v.where[0] ? v.where : first);
        break;
    case KH_UNKNOWN:
        if (o->policy == SSH_HK_ACCEPT_NEW) {
            rc = accept_new(t, first, lookup, srv, err);
            break;
        }
        errf(err,
             "host key of '%s' is not known: %s %s; check it with the "
             "host's owner and add it to %s, or connect once with "
             "--host-key-policy accept-new%s%s",
             lookup, type, fp ? fp : "?", first,
             why[0] ? "; a certificate authority is trusted for it, but " : "",
             why);
        break;
    }
out:
    kh_sets_put(t, kh_ref);
    free(key);
    free(cert);
    free(type);
    ssh_string_free_char(fp);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(srv);
    return rc;
}
