/*
 * transport_ssh_jump_int.h - what transport_ssh_jump.c (connecting jump
 * hosts, requests from workers) and transport_ssh_jump_pump.c (the thread
 * that owns a jump session) share. Private to them. Locking: see
 * transport_ssh_jump.h; every field marked "pump" is touched by the pump
 * thread only, everything else under the table's lock.
 */
#ifndef ONEOFF_TRANSPORT_SSH_JUMP_INT_H
#define ONEOFF_TRANSPORT_SSH_JUMP_INT_H

#include <libssh/callbacks.h>
#include <pthread.h>
#include <sys/types.h>

#include "transport_ssh_int.h"
#include "transport_ssh_jump.h"

/* Bytes buffered per direction and channel: a slow reader stops the other
 * side through the SSH window, not through our memory. */
#define LINK_BUF (32u << 10)
#define PUMP_TICK_MS 100

enum js_state { JS_CONNECTING, JS_READY, JS_FAILED };
enum link_state { LK_PENDING, LK_OPENING, LK_OPEN, LK_FAILED };

struct jump_sess;

struct jump_link {
    struct jump_sess *js;    /* NULL: a ProxyCommand, not a channel */
    struct ssh_proxy *proxy; /* the ProxyCommand when js is NULL */
    char *host;
    unsigned port;
    int tfd;    /* the target's end (its session's SSH_OPTIONS_FD) */
    ino_t tino; /* to tell it from a reused descriptor number */
    int pfd;    /* the pump's end; -1 once closed */
    enum link_state state;
    enum transport_outcome outcome;
    char error[ERR_MAX];
    bool released; /* the target is done with it */
    /* pump: from here on */
    ssh_channel ch;
    struct ssh_channel_callbacks_struct cb;
    char to_sock[LINK_BUF], to_chan[LINK_BUF];
    size_t ns, nc;
    bool leftover; /* the channel holds data we could not take yet */
    bool sock_eof; /* the target closed its end */
    bool shut;     /* we told the target the channel ended */
    struct jump_link *next;
};

struct jump_sess {
    struct jump_table *jt;
    char *key;  /* user@host:port, then the key of the hop before */
    char *name; /* the hop as written (its alias), for messages */
    enum js_state state;
    enum transport_outcome outcome;
    char error[ERR_MAX];
    ssh_session s;
    /* what it runs over: TCP, its ProxyCommand, or a link of the hop
     * before it */
    struct host_socket hs;
    struct jump_link *links;
    pthread_t thread;
    bool running;
    bool stop;
    int wake; /* eventfd: a request or a release is queued */
    struct jump_sess *next;
};

struct jump_table {
    pthread_mutex_t lock;       /* everything shared, see the header */
    pthread_cond_t cond;        /* a session or a link changed state */
    struct jump_sess *sessions; /* newest first */
};

/* Rings the pump's doorbell; caller holds the lock. */
void jump_wake(struct jump_sess *js);
/* Marks l failed ("jump host 'NAME': cannot reach HOST:PORT: detail") and
 * closes the pump's end; caller holds the lock. */
void jump_link_fail(struct jump_link *l, enum transport_outcome o,
                    const char *detail);
/* The pump thread of a READY jump session (pthread_create's start). */
void *jump_pump_main(void *arg);

#endif
