/*
 * ssh_config.h - OpenSSH client configuration (ssh_config(5)) resolved for
 * a host exactly as `ssh -G` resolves it, so that an operator's
 * ~/.ssh/config means the same to oneoff as to ssh. The reference is the
 * ssh of Debian 12 (OpenSSH 9.2p1-2+deb12u10, whose backports read
 * ProxyJump as OpenSSH 10.3 does and refuse shell metacharacters in names
 * given on the command line), checked by tests/unit/test_ssh_config.c
 * against the real `ssh -G` over the corpus in tests/ssh_config/.
 *
 * Two steps. sshcfg_load() reads and checks the configuration files once
 * (Include files too); sshcfg_resolve() then walks the parsed blocks for one
 * host: no file is read and no process is started per host, and no name is
 * looked up in the DNS (numeric addresses are put in canonical form, as ssh
 * does, without any network traffic).
 *
 * Semantics are OpenSSH's: the first value obtained for a keyword wins
 * (IdentityFile and CertificateFile accumulate, UserKnownHostsFile takes a
 * list at once); `Host` patterns match the name as typed (the alias), `Match
 * host` the HostName; `Match final` (and CanonicalizeHostname) re-read the
 * configuration with the final host name as ssh does; Include, IgnoreUnknown,
 * quoting, `Key=Value`, case-insensitive keywords, comments.
 *
 * Refused with a located message "FILE:LINE: what" (the caller exits 2): a
 * line ssh rejects (syntax, bad value, unknown keyword; the first one in
 * reading order, as ssh reports it first), `Match exec` when ssh would run
 * it, a host name canonicalisation that would need the DNS, a ProxyJump
 * loop, and an algorithm list that leaves no usable algorithm (ssh -G
 * only warns about that one, and ssh then cannot connect).
 *
 * Naming: the prefix is sshcfg_, since libssh owns ssh_.
 */
#ifndef ONEOFF_SSH_CONFIG_H
#define ONEOFF_SSH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/util.h"

/* Which files, and whose. Every member may be NULL or 0. */
struct sshcfg_opts {
    /* Like `ssh -F FILE`: only this file is read (missing: an error);
     * "none": no file at all. NULL: user_config then system_config. */
    const char *config_file;
    /* NULL: HOME_DIR/.ssh/config (read only if it exists, and refused when
     * group/world-writable or owned by another user, as ssh does). */
    const char *user_config;
    /* NULL: /etc/ssh/ssh_config. Read after the user's file. */
    const char *system_config;
    /* The local user (%u, Match localuser, default User). NULL: the user
     * of getuid() from the password database. */
    const char *local_user;
    /* The local user's home (%d, '~' in IdentityFile, CertificateFile and
     * UserKnownHostsFile). NULL: from the password database, as ssh. */
    const char *home_dir;
    /* What '~' means in an Include path; ssh's glob(3) takes $HOME. NULL:
     * $HOME, or home_dir when HOME is unset. */
    const char *include_home;
};

/* A parsed configuration; opaque, read-only after load. */
struct sshcfg;

/* Reads and checks the files of opts (NULL: the defaults). On success *out
 * is a configuration the caller frees with sshcfg_free(). On failure -1 and
 * err says "FILE:LINE: what" when a line is at fault. Not thread-safe (it
 * reads the password and services databases). */
int sshcfg_load(struct sshcfg **out, const struct sshcfg_opts *opts, char *err);
void sshcfg_free(struct sshcfg *cfg);

/* What to resolve: `ssh [-l user] [-p port] [-J jump] alias`. As on ssh's
 * command line, these win over the configuration, and a host or user name
 * with shell metacharacters is refused. */
struct sshcfg_target {
    const char *alias; /* the host as typed; "user@host" and
                          "ssh://user@host:port" read as ssh reads them */
    const char *user;  /* NULL: from the configuration, else local_user */
    unsigned port;     /* 0: from the configuration, else 22 */
    const char *jump;  /* NULL: ProxyJump from the configuration; "none" */
    /* NULL: HostName from the configuration; else like `-o HostName=X`
     * (`Match host` sees it). Applies to the target only, not its hops. */
    const char *hostname;
};

/* One ProxyJump hop, [user@]host[:port] or ssh://[user@]host[:port]. */
struct sshcfg_hop {
    char *user;    /* NULL: not given (the hop's own config decides) */
    char *host;    /* as written, without [] */
    unsigned port; /* 0: not given */
};

enum sshcfg_strict {
    SSHCFG_STRICT_OFF = 0,        /* "no", "off" */
    SSHCFG_STRICT_ACCEPT_NEW = 1, /* "accept-new" */
    SSHCFG_STRICT_YES = 2,        /* "yes" */
    SSHCFG_STRICT_ASK = 3,        /* "ask", the default */
};

/* The resolved settings of one host; every string and list is owned by the
 * struct and freed by sshcfg_host_release(). Values are those `ssh -G`
 * prints, except where noted. */
struct sshcfg_host {
    char *alias;    /* the name as typed, without "user@" */
    char *hostname; /* after HostName, %h, lowercase (addresses canonical) */
    char *user;
    unsigned port;
    /* In order, OpenSSH's defaults when none is configured, '~' and tokens
     * (%d %h %p %r %u %n %l %L %i %k %C %%, ${ENV}) expanded as ssh does
     * when it loads them; "none" entries dropped (ssh -G prints them
     * unexpanded). ssh also tries FILE-cert when no CertificateFile is
     * set: that is the loader's business. */
    struct strlist identity_files;
    bool identity_files_default; /* none configured: OpenSSH's defaults */
    bool identities_only;
    struct strlist certificate_files; /* expanded likewise */
    /* ProxyJump as ssh -G prints it, NULL when none; hops in connection
     * order (the first is connected to first). */
    char *proxy_jump;
    struct sshcfg_hop *hops;
    size_t nhops;
    char *proxy_jump_where; /* "FILE:LINE" of the ProxyJump line, or NULL */
    /* ProxyCommand as written (NULL when none or ProxyJump is set); see
     * sshcfg_proxy_command() for the command to run. */
    char *proxy_command;
    struct strlist known_hosts_files; /* expanded; empty: "none" */
    char *host_key_alias;             /* lowercase, NULL when unset */
    enum sshcfg_strict strict_host_key_checking;
    long connect_timeout_s;       /* -1: none */
    long server_alive_interval_s; /* 0: off */
    bool server_alive_set;        /* configured (or implied by BatchMode) */
    int server_alive_count_max;
    bool batch_mode;
};

/* Resolves t against cfg into *out (cleared on entry; release it even on
 * failure). Returns 0, or -1 with err. Thread-safe: cfg is only read. */
int sshcfg_resolve(const struct sshcfg *cfg, const struct sshcfg_target *t,
                   struct sshcfg_host *out, char *err);
void sshcfg_host_release(struct sshcfg_host *h);

/* The ssh processes a connection to t goes through: v[0] is the first
 * machine connected to, v[n - 1] the target itself (n == 1 without
 * ProxyJump). Each hop is resolved as ssh's `ssh -l U -p P -J REST HOP`
 * child resolves it, so a hop's own ProxyJump applies when it is the first
 * of its list. Returns 0, or -1 with err; a chain that comes back to an
 * ssh invocation already in it is a loop, reported at the ProxyJump line
 * that closes it ("FILE:LINE: ProxyJump loop: a -> b -> a"). *out is
 * cleared on entry; release it with sshcfg_chain_release(). */
struct sshcfg_chain {
    struct sshcfg_host *v;
    size_t n;
};
int sshcfg_resolve_chain(const struct sshcfg *cfg,
                         const struct sshcfg_target *t,
                         struct sshcfg_chain *out, char *err);
void sshcfg_chain_release(struct sshcfg_chain *c);

/* The ProxyCommand of h as ssh runs it with /bin/sh -c: "exec " and the
 * command with %h %p %r %n %k %% expanded. *out is NULL when h has none.
 * The caller frees *out. */
int sshcfg_proxy_command(const struct sshcfg_host *h, char **out, char *err);

#endif
