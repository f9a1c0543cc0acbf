/*
 * transport_ssh_int.h - what the two halves of the SSH transport share:
 * transport_ssh_auth.c (options, host keys, keys and authentication) and
 * transport_ssh.c (sessions, channels, the pump). Private to them: the only
 * files that include libssh.
 *
 * Locking: struct ssh_tp is shared by every worker; its key table,
 * passphrase prompts and known_hosts updates are under its lock, and the
 * rest is immutable after transport_ssh_new().
 */
#ifndef ONEOFF_TRANSPORT_SSH_INT_H
#define ONEOFF_TRANSPORT_SSH_INT_H

#include <libssh/libssh.h>
#include <pthread.h>
#include <stdbool.h>

#include "oneoff/buf.h"
#include "oneoff/transport.h"

struct jump_table;
struct jump_link;

struct loaded_key {
    char *path;
    ssh_key key; /* NULL: failed to load, error says why */
    ssh_key pub;
    char error[ERR_MAX];
};

struct ssh_tp {
    struct transport base; /* first: ops */
    char *ssh_config;
    char *known_hosts;
    enum ssh_host_key_policy policy;
    int64_t connect_timeout_ms;
    struct strlist cli_ids;
    pthread_mutex_t lock; /* keys, prompting, known_hosts updates */
    struct loaded_key *keys;
    size_t nkeys, alloc;
    struct jump_table *jumps; /* transport_ssh_jump.c; its own lock */
};

/* "~/x" and "%d/x" (the ssh directory) to absolute paths. */
extern const struct transport_ops transport_ssh_ops;

/* Applies Host, the ssh config, then the target's values and the policy we
 * always enforce (strict host keys, timeouts, TCP_NODELAY). */
int set_options(struct ssh_tp *t, ssh_session s,
                const struct transport_target *tg, char *err);
/* What a host key check needs besides the session: the HostKeyAlias
 * (NULL: none) and the jump link the session runs over (NULL: none), to
 * ask the host for its certificate (transport_ssh_hostkey.c). */
struct hostkey_ctx {
    const char *alias;
    struct jump_link *link;
};
/* 0 when the host key is known and matches, or is certified by a trusted
 * CA; -1 with err (a host key problem); -2 with err when the process is
 * out of descriptors. hk may be NULL. */
int verify_host_key(struct ssh_tp *t, ssh_session s,
                    const struct hostkey_ctx *hk, char *err);
/* The identity named by the ssh config (caller frees), or NULL. */
char *config_identity(ssh_session s);
int authenticate(struct ssh_tp *t, ssh_session s,
                 const struct transport_target *tg, const char *cfg, char *err);
/* Loads (decrypts) the key at path once per run. */
int preload(struct ssh_tp *t, const char *path, char *err);
/* "host" or "[host]:port", as known_hosts spells it. */
void endpoint(ssh_session s, char *out, size_t n);
bool out_of_resources(int e);
void ssh_tp_free(struct transport *base);

#endif
