/*
 * transport_ssh_int.h - what the parts of the SSH transport share:
 * transport_ssh_host.c (the ssh config resolved per host, connection
 * pacing), transport_ssh_auth.c (set-up, libssh's options),
 * transport_ssh_hostkey.c (the host key check, with known_hosts.h),
 * transport_ssh_keys.c and transport_ssh_agent.c (keys, ssh-agent, one key
 * at a time), transport_ssh_jump*.c and transport_ssh_proxy.c (jump hosts,
 * ProxyCommand) and transport_ssh.c (the socket, sessions, channels, the
 * pump, keepalives). Private to them: the only files that include libssh.
 *
 * Locking: struct ssh_tp is shared by every worker; its key table,
 * passphrase prompts, known_hosts updates, pacing table and loaded
 * known_hosts files are under its locks, and the rest is immutable after
 * transport_ssh_new().
 */
#ifndef ONEOFF_TRANSPORT_SSH_INT_H
#define ONEOFF_TRANSPORT_SSH_INT_H

#include <libssh/libssh.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "oneoff/buf.h"
#include "oneoff/ssh_config.h"
#include "oneoff/transport.h"

struct jump_table;
struct jump_link;
struct known_hosts;
struct kh_set;

/* A key file, read once per run: its public half (from FILE.pub, else the
 * file itself), whether ssh-agent holds it, and the private key, decrypted
 * only when the agent does not hold it. */
struct loaded_key {
    char *path;
    ssh_key pub; /* NULL: no such key file (error says why) */
    ssh_key key; /* decrypted private key; NULL when in the agent */
    bool in_agent;
    bool missing; /* no such file (nor FILE.pub of an agent key) */
    bool tried;   /* decryption was attempted (error says why it failed) */
    char error[ERR_MAX];
};

/* A certificate file, read once per run. */
struct loaded_cert {
    char *path;
    ssh_key cert; /* NULL: unreadable */
    char *b64;    /* to copy it: libssh 0.10's ssh_key_dup() cannot */
};

/* One key ssh-agent holds, as it listed it. */
struct agent_key {
    unsigned char *blob;
    size_t len;
    ssh_key pub;
};

/* Connections being set up to one address (or through one jump host). */
struct pace_slot {
    char *key;
    unsigned busy;
};

struct ssh_tp {
    struct transport base; /* first: ops */
    struct sshcfg *cfg;
    char *known_hosts;
    enum ssh_host_key_policy policy;
    bool policy_set;
    int64_t connect_timeout_ms;
    bool connect_timeout_set;
    struct strlist cli_ids;
    char *agent_sock; /* SSH_AUTH_SOCK, NULL: none */
    struct agent_key *agent_keys;
    size_t nagent;
    pthread_mutex_t lock; /* keys, prompting, known_hosts updates */
    struct loaded_key *keys;
    size_t nkeys, alloc;
    struct loaded_cert *certs;
    size_t ncerts, certs_alloc;
    unsigned max_connecting;
    pthread_mutex_t pace_lock;
    pthread_cond_t pace_cond;
    struct pace_slot *pace;
    size_t npace, pace_alloc;
    struct jump_table *jumps; /* transport_ssh_jump.c; its own lock */
    /* the known_hosts files as read (transport_ssh_khcache.c): kh_sets and
     * each set's refs and stale flag under kh_lock; a set's content is
     * read-only once loaded */
    pthread_mutex_t kh_lock;
    struct kh_set *kh_sets;
};

/* How one host is connected: the ssh config's resolution for it (and for
 * each ProxyJump hop), with the inventory's and the command line's values
 * applied. */
struct ssh_hostopts {
    /* chain.v[0 .. n-2]: the ProxyJump hops, the first one connected to
     * first, each resolved as ssh resolves it; chain.v[n-1]: the target.
     * A jump implementation reaches hop 0, then each next one through it. */
    struct sshcfg_chain chain;
    const struct sshcfg_host *h; /* the target: &chain.v[chain.n - 1] */
    char *proxy_command;         /* to run with /bin/sh -c, or NULL */
    /* What to offer, in order: -i, else the inventory's identity, else the
     * ssh config's IdentityFile list. */
    struct strlist identities;
    bool identities_explicit; /* -i or identity: a bad one is an error */
    bool identities_only;     /* never offer other agent keys */
    struct strlist certificates;
    enum ssh_host_key_policy policy;
    int64_t connect_timeout_ms;
    long alive_interval_s; /* 0: no keepalives */
    int alive_count_max;
    char *known_hosts; /* written by accept-new, named in messages */
    /* The known_hosts files read: --known-hosts alone, else the config's
     * UserKnownHostsFile list and the global file. */
    struct strlist kh_files;
    char *kh_host;    /* the name looked up in known_hosts */
    unsigned kh_port; /* its port there (22: "host", else "[host]:port") */
    char *pace_key;   /* "host:port" of the first machine connected to */
};

/* A connected byte stream to a host's SSH server, and what made it. */
struct host_socket {
    int fd;                 /* ours: a TCP socket, or link's end */
    int lib_fd;             /* the copy libssh owns (and may close) */
    struct jump_link *link; /* a ProxyCommand or a jump host's channel */
};

extern const struct transport_ops transport_ssh_ops;

/* transport_ssh_host.c */
int hostopts_resolve(struct ssh_tp *t, const struct transport_target *tg,
                     struct ssh_hostopts *out, char *err);
/* The options of jump host h (the hop of a chain, which keeps owning it):
 * its ProxyCommand when first is set (the first machine connected to). */
int hostopts_hop(struct ssh_tp *t, const struct sshcfg_host *h, bool first,
                 struct ssh_hostopts *out, char *err);
void hostopts_release(struct ssh_hostopts *o);
/* Waits until fewer than max_connecting connections to key are being set
 * up, polling stop() every 100 ms; -1 when stop() said to give up. */
int pace_acquire(struct ssh_tp *t, const char *key, bool (*stop)(void *),
                 void *ctx);
void pace_release(struct ssh_tp *t, const char *key);

/* transport_ssh_auth.c */
/* libssh's options for a session whose socket is fd: no config parsing of
 * its own, strict host keys, timeouts, TCP_NODELAY. */
int set_options(struct ssh_tp *t, ssh_session s, const struct ssh_hostopts *o,
                int fd, char *err);
int authenticate(struct ssh_tp *t, ssh_session s, const struct ssh_hostopts *o,
                 char *err);
/* How much a key must be usable. */
enum id_need {
    ID_REQUIRED,   /* -i, identity: missing or undecryptable is an error */
    ID_CONFIGURED, /* IdentityFile: missing is skipped (as ssh does),
                      undecryptable is an error */
    ID_DEFAULT,    /* OpenSSH's default names: skipped when unusable */
};
/* Reads the key at path once per run, decrypting it unless ssh-agent holds
 * it (asking for its passphrase on the terminal). */
int preload(struct ssh_tp *t, const char *path, enum id_need need, char *err);

/* transport_ssh_khcache.c */
/* The entries of the known_hosts files of list files, read once and shared
 * while the files stay as they were (device, inode, size, times: a file
 * changed since, by accept-new or anyone else, is read again). *ref is
 * for kh_sets_put(). NULL with err when a file cannot be read. */
const struct known_hosts *kh_sets_get(struct ssh_tp *t,
                                      const struct strlist *files,
                                      struct kh_set **ref, char *err);
/* Done with what kh_sets_get() returned (ref NULL: nothing). */
void kh_sets_put(struct ssh_tp *t, struct kh_set *ref);
void kh_sets_free(struct ssh_tp *t);
/* Has s offer first the host key algorithms of the key types that o's
 * known_hosts files hold for its host (as libssh would, reading the files
 * again for each connection). Nothing when they hold none or cannot be
 * read (the host key check says so). */
void kh_order_hostkeys(struct ssh_tp *t, const struct ssh_hostopts *o,
                       ssh_session s);

/* transport_ssh_hostkey.c */
/* 0 when the host key is known and matches, or is certified by a trusted
 * CA; -1 with err (a host key problem); -2 with err when the process is
 * out of descriptors. link: the ProxyCommand or jump link the session runs
 * over (a certificate is asked for through it), or NULL. */
int verify_host_key(struct ssh_tp *t, ssh_session s,
                    const struct ssh_hostopts *o, struct jump_link *link,
                    char *err);

/* transport_ssh.c */
/* The connected socket for o's host: TCP, its ProxyCommand, or a channel
 * through its jump hosts (o->chain). 0, or -1 with res. */
int host_socket_open(struct ssh_tp *t, const struct ssh_hostopts *o,
                     int64_t deadline, struct host_socket *hs,
                     struct transport_result *res);
/* hs made of link (taken over: host_socket_close() releases it, even
 * after a failure). 0, or -1 with res. */
int host_socket_link(struct jump_link *link, struct host_socket *hs,
                     struct transport_result *res);
/* After ssh_free(): closes what is left, stops a ProxyCommand, gives a
 * jump channel back. */
void host_socket_close(struct host_socket *hs);
/* Connects session s over hs, checks the host key and authenticates: 0, or
 * -1 with res (outcome and error). */
int session_login(struct ssh_tp *t, ssh_session s, const struct ssh_hostopts *o,
                  struct host_socket *hs, struct transport_result *res);

/* transport_ssh_auth.c */
/* "host" or "[host]:port", as known_hosts spells it. */
void endpoint(const struct ssh_hostopts *o, char *out, size_t n);
bool out_of_resources(int e);
void ssh_tp_free(struct transport *base);
char *expand_home(const char *p);

/* transport_ssh_agent.c */
/* cert certifies pub (libssh 0.10's ssh_key_cmp() says they differ). */
bool cert_of_key(ssh_key cert, ssh_key pub);
/* Lists the keys of the agent at t->agent_sock (none when unreachable). */
void agent_list(struct ssh_tp *t);
/* The agent key equal to pub, or NULL. */
const struct agent_key *agent_find(const struct ssh_tp *t, ssh_key pub);
/* Authenticates through the agent offering keys[0..n) only (the agent's
 * keys; certs[i], when set, offered instead of keys[i] and signed by its
 * key). Returns an SSH_AUTH_* code. */
int agent_auth(struct ssh_tp *t, ssh_session s,
               const struct agent_key *const *keys, ssh_key const *certs,
               size_t n, char *err);

#endif
