/*
 * transport.h - the one contract between the runner and every way of
 * reaching a host: open a command (with or without a pseudo-terminal of a
 * given size), stream what it prints, write to its standard input, close
 * that input, resize its terminal, stop it (gracefully, then at once), and
 * report how it ended.
 *
 * Two implementations exist: SSH (transport_ssh.c, libssh) and this machine
 * (transport_local.c, fork/exec). The runner holds a struct transport per
 * host and never knows which kind it is. A command runs the host script
 * (host_script.h) in both: the same preflight report, the same handshake,
 * the same lock and watchdog.
 *
 * Threads. A struct transport is shared by every host it drives; its own
 * state (loaded keys, known_hosts updates) is under its own lock. A
 * struct tchan belongs to one thread at a time: the one that called
 * transport_open() or that it was handed to afterwards. The sink is called
 * only from the thread pumping the channel.
 *
 * Stopping. tchan_pump() polls the sink's control() at least every 100 ms.
 * CONTROL_STOP asks for a graceful stop: TERM to the command's process
 * group where the transport can send it, and EOF on its standard input,
 * which the host script's watchdog turns into TERM, then KILL after its
 * grace period, for the task's whole process group; after STOP_GRACE_MS the
 * channel is closed. CONTROL_CLOSE closes at once (the watchdog still
 * stops the remote work when it sees the channel go). CONTROL_PAUSE makes
 * tchan_pump() return with the command left running, to be resumed by
 * another tchan_pump() call, possibly from another thread.
 */
#ifndef ONEOFF_TRANSPORT_H
#define ONEOFF_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/util.h"

/* How long a graceful stop may take before the channel is closed: the host
 * script's watchdog KILLs 5 s after it sees EOF. */
#define STOP_GRACE_MS 7000

enum transport_stream { STREAM_OUT = 0, STREAM_ERR = 1 };

enum transport_control {
    CONTROL_CONTINUE = 0,
    CONTROL_STOP,  /* stop the remote work, wait for it to end */
    CONTROL_CLOSE, /* close the channel now */
    CONTROL_PAUSE, /* return to the caller, the command left running */
};

enum transport_outcome {
    OUTCOME_EXITED,      /* exit_code is set */
    OUTCOME_SIGNALED,    /* signal is set */
    OUTCOME_CLOSED,      /* channel closed without status (stopped by us) */
    OUTCOME_UNREACHABLE, /* refused, timed out, name unknown */
    OUTCOME_AUTH,        /* authentication failed */
    OUTCOME_HOST_KEY,    /* unknown or changed host key */
    OUTCOME_LOST,        /* connection dropped while the command ran */
    OUTCOME_ERROR,       /* anything else (out of descriptors, ...) */
};

struct transport_sink {
    void *ctx;
    /* The host was reached and authenticated (SSH), or the process exists
     * (local): the command is about to start. May be NULL. */
    void (*connected)(void *ctx);
    /* Bytes received on a stream, in order. */
    void (*data)(void *ctx, enum transport_stream s, const char *p, size_t n);
    enum transport_control (*control)(void *ctx);
    /* May be NULL. An input for the command's standard input: feed()
     * returns how many bytes are waiting (*p points at them; 0: none now),
     * and after writing k of them, without ever blocking (as much as the
     * SSH window or the pipe takes), the pump calls fed(ctx, k). Asked on
     * every round of the pump, after control(). */
    size_t (*feed)(void *ctx, const char **p);
    void (*fed)(void *ctx, size_t k);
    /* May be NULL. A descriptor that ends the pump's wait as soon as it is
     * readable (control() and feed() are asked at once), or -1: a terminal
     * or an input that must not wait for the 100 ms tick. */
    int (*wake_fd)(void *ctx);
};

struct transport_result {
    enum transport_outcome outcome;
    int exit_code; /* -1 when none */
    char signal[32];
    bool core;
    char error[ERR_MAX];
};

/* Where one host is. A transport uses what it needs: the local one nothing. */
struct transport_target {
    const char *name;     /* looked up in ssh config (Host/Match) */
    const char *address;  /* NULL: HostName from ssh config, else name */
    unsigned port;        /* 0: from ssh config, else 22 */
    const char *user;     /* NULL: from ssh config, else the local user */
    const char *identity; /* NULL: -i keys, ssh config, agent, defaults */
    /* Jump hosts, as ProxyJump ("[user@]host[:port],..." or "none"); NULL:
     * the ssh config's ProxyJump */
    const char *jump;
};

/* What to start. */
struct transport_cmd {
    const char *command; /* one line for the host's login shell (POSIX sh) */
    bool pty;            /* on a pseudo-terminal: stdout and stderr merge */
    unsigned cols, rows; /* its size, with pty */
    const char *term;    /* TERM for it, with pty; NULL: "xterm" */
    /* NULL, or the bytes (a NUL ends them) the command's standard input
     * starts with, written right after it starts and before anything else
     * (the script: script_compose_boot()); not with pty */
    const char *input;
};

struct transport;
struct tchan;

/* Connects (where there is anything to connect to) and starts cmd; the
 * sink receives what it prints. control() is asked once more between the
 * two: anything but CONTROL_CONTINUE then means nothing starts (CLOSED). On
 * failure *out is NULL and res says why (UNREACHABLE, HOST_KEY, AUTH, LOST or
 * ERROR). */
int transport_open(struct transport *t, const struct transport_target *tg,
                   const struct transport_cmd *cmd,
                   const struct transport_sink *sink, struct tchan **out,
                   struct transport_result *res);
/* Pumps until the command ended (returns 1, res says how) or control()
 * asked to pause (returns 0). */
int tchan_pump(struct tchan *c, struct transport_result *res);
/* Writes all of p[0..n) to the command's standard input; -1 when the
 * channel is gone. */
int tchan_write(struct tchan *c, const void *p, size_t n);
/* Sends EOF on the command's standard input. */
int tchan_close_stdin(struct tchan *c);
/* Changes the size of the command's terminal (pty only). */
int tchan_resize(struct tchan *c, unsigned cols, unsigned rows);
/* Runs cmd over the connection of c, whose command has ended (tchan_pump()
 * returned 1): a new channel on the same SSH session, costing no new
 * handshake; a new process for the local transport. c then drives the new
 * command, with sink. On failure res says why and c may only be freed. */
int tchan_again(struct tchan *c, const struct transport_cmd *cmd,
                const struct transport_sink *sink,
                struct transport_result *res);
/* Closes the channel (and the connection it owns) and frees it; a command
 * still running is left to its watchdog. NULL is fine. */
void tchan_free(struct tchan *c);
void transport_free(struct transport *t);

/* What an implementation provides; every struct transport and struct tchan
 * starts with a pointer to its ops. */
struct transport_ops {
    const char *name;
    int (*open)(struct transport *t, const struct transport_target *tg,
                const struct transport_cmd *cmd,
                const struct transport_sink *sink, struct tchan **out,
                struct transport_result *res);
    int (*pump)(struct tchan *c, struct transport_result *res);
    int (*write)(struct tchan *c, const void *p, size_t n);
    int (*close_stdin)(struct tchan *c);
    int (*resize)(struct tchan *c, unsigned cols, unsigned rows);
    int (*again)(struct tchan *c, const struct transport_cmd *cmd,
                 const struct transport_sink *sink,
                 struct transport_result *res);
    void (*free_chan)(struct tchan *c);
    void (*free)(struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
};

struct tchan {
    const struct transport_ops *ops;
};

/* Clears res to "no outcome yet". */
void transport_result_init(struct transport_result *res);

/* ---- SSH ---------------------------------------------------------------- */

enum ssh_host_key_policy { SSH_HK_STRICT, SSH_HK_ACCEPT_NEW };

/* Keepalives when the ssh config sets no ServerAliveInterval: a peer that
 * stops answering is "lost" after about interval x count. */
#define SSH_ALIVE_INTERVAL_S 15
#define SSH_ALIVE_COUNT_MAX 3
/* Connections being set up (not yet authenticated) at once to one address
 * and port, or through one jump host: below sshd's MaxStartups 10. */
#define SSH_MAX_CONNECTING 8

struct ssh_settings {
    const char *ssh_config;  /* NULL: ~/.ssh/config and /etc/ssh/ssh_config */
    const char *known_hosts; /* NULL: the ssh config's UserKnownHostsFile */
    enum ssh_host_key_policy policy;
    bool policy_set; /* policy given on the command line: wins */
    int64_t connect_timeout_ms;
    bool connect_timeout_set;         /* given on the command line: wins */
    const struct strlist *identities; /* -i: used for every host */
    unsigned max_connecting;          /* 0: SSH_MAX_CONNECTING */
};

/* Reads the ssh config once (sshcfg_load: a bad line fails here with
 * "FILE:LINE: what"), lists the keys ssh-agent holds, and loads the -i
 * identities (asking for passphrases on the terminal), before any host is
 * contacted. */
int transport_ssh_new(struct transport **out, const struct ssh_settings *set,
                      char *err);
/* Resolves tg against the ssh config (a ProxyJump loop or a bad token
 * fails here, located) and loads the identities it will offer that
 * ssh-agent does not hold, so that a passphrase is asked once, before
 * anything connects. */
int transport_ssh_preload(struct transport *t,
                          const struct transport_target *tg, char *err);

/* Where tg would be connected to, for display: the ssh config resolved,
 * the inventory's values applied. */
struct ssh_where {
    char *address; /* HostName */
    unsigned port;
    char *user;
    char *jump;          /* "bastion -> inner" (ProxyJump hops), or NULL */
    char *proxy_command; /* as configured, or NULL */
};
int transport_ssh_where(struct transport *t, const struct transport_target *tg,
                        struct ssh_where *out, char *err);
void ssh_where_release(struct ssh_where *w);

/* ---- this machine ------------------------------------------------------- */

/* Runs each command with /bin/sh -c in a session of its own. */
struct transport *transport_local_new(void);

#endif
