/*
 * transport.h - the contract between the runner and a transport: run one
 * command line on one target, stream what it prints, report how it ended.
 *
 * A transport knows nothing of YAML, plans or output formatting. It calls
 * the sink from the thread that called transport_*_run(), never from
 * another. The sink's control() is polled at least every 100 ms while the
 * command runs and tells the transport to go on, to stop the remote work
 * gracefully (TERM to the task's process group, EOF on its stdin so the
 * remote watchdog stops it too), or to close at once.
 */
#ifndef ONEOFF_TRANSPORT_H
#define ONEOFF_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/util.h"

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
    OUTCOME_ERROR,       /* anything else */
};

struct transport_sink {
    void *ctx;
    /* The command started (connected, authenticated, exec accepted). */
    void (*started)(void *ctx);
    /* Bytes received on a stream, in order. */
    void (*data)(void *ctx, enum transport_stream s, const char *p, size_t n);
    enum transport_control (*control)(void *ctx);
};

struct transport_result {
    enum transport_outcome outcome;
    int exit_code; /* -1 when none */
    char signal[32];
    bool core;
    char error[ERR_MAX];
};

/* Where and how to reach one host over SSH. */
struct ssh_target {
    const char *name;     /* looked up in ssh config (Host/Match) */
    const char *address;  /* NULL: HostName from ssh config, else name */
    unsigned port;        /* 0: from ssh config, else 22 */
    const char *user;     /* NULL: from ssh config, else the local user */
    const char *identity; /* NULL: -i keys, ssh config, agent, defaults */
};

enum ssh_host_key_policy { SSH_HK_STRICT, SSH_HK_ACCEPT_NEW };

struct ssh_settings {
    const char *ssh_config;  /* NULL: ~/.ssh/config and /etc/ssh/ssh_config */
    const char *known_hosts; /* NULL: ~/.ssh/known_hosts (+ global file) */
    enum ssh_host_key_policy policy;
    int64_t connect_timeout_ms;
    const struct strlist *identities; /* -i: used for every host */
};

struct ssh_transport;

/* Prepares what all sessions of a run share: decrypted keys (asked for once,
 * on the terminal), the known_hosts lock. Identities named with -i are
 * loaded here so a bad passphrase fails before any host is contacted. */
int ssh_transport_new(struct ssh_transport **out,
                      const struct ssh_settings *set, char *err);
void ssh_transport_free(struct ssh_transport *t);
/* Loads the identity this target will use (its own, else the ssh config's
 * IdentityFile), so that a passphrase is asked once, before anything
 * connects. Nothing to do with -i keys (loaded by ssh_transport_new()) or
 * when the agent and default keys are used. */
int ssh_transport_preload_target(struct ssh_transport *t,
                                 const struct ssh_target *tg, char *err);

/* An authenticated session to one host, able to run several commands one
 * after the other. It may be handed from one thread to another, but used
 * by one thread at a time. */
struct ssh_conn;

/* Connects, checks the host key and authenticates. On failure *out is
 * NULL and res says why (UNREACHABLE, HOST_KEY, AUTH or ERROR). */
void ssh_transport_connect(struct ssh_transport *t, const struct ssh_target *tg,
                           struct ssh_conn **out, struct transport_result *res);
/* Runs command in a new channel; blocks until the channel closed. */
void ssh_conn_exec(struct ssh_conn *c, const char *command,
                   const struct transport_sink *sink,
                   struct transport_result *res);
void ssh_conn_free(struct ssh_conn *c);

/* A command running in a channel of a connection, which can be paused
 * (the sink's control() returns CONTROL_PAUSE), talked to, and resumed,
 * possibly from another thread. */
struct ssh_chan;
/* Opens a channel and starts command; the sink receives what it prints. */
int ssh_chan_open(struct ssh_conn *c, const char *command,
                  const struct transport_sink *sink, struct ssh_chan **out,
                  struct transport_result *res);
/* Pumps until the channel closed (returns 1, res says how the command
 * ended) or control() asked to pause (returns 0). */
int ssh_chan_pump(struct ssh_chan *c, struct transport_result *res);
/* Writes to the command's standard input. */
int ssh_chan_write(struct ssh_chan *c, const char *data, size_t n);
void ssh_chan_free(struct ssh_chan *c);

/* The same contract on this machine: /bin/sh -c command (transport: local). */
void local_transport_run(const char *command, const struct transport_sink *sink,
                         struct transport_result *res);
/* The same, writing input (at most a few bytes; NULL: none) to the
 * command's stdin as it starts, which then stays open as above. */
void local_transport_run_input(const char *command, const char *input,
                               const struct transport_sink *sink,
                               struct transport_result *res);

#endif
