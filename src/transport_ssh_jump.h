/*
 * transport_ssh_jump.h - jump hosts without the OpenSSH binary: ProxyJump
 * (ssh config, one or several hops) and the inventory's `jump:` key.
 * Private to the SSH transport (it includes libssh).
 *
 * One authenticated libssh session per jump host per run, shared by every
 * target behind it. Each target gets a `direct-tcpip` channel of that
 * session, bridged to one end of a socketpair whose other end the target's
 * own session takes with SSH_OPTIONS_FD: the target is still checked
 * against known_hosts and authenticated end to end, the jump host only
 * forwards bytes. A second hop is reached the same way through the first.
 *
 * Threads. A jump session is connected and authenticated (blocking) by the
 * first worker that needs it; the others wait for it. From then on ONE
 * thread, the jump's pump, owns the libssh session and every channel of
 * it: it opens channels on request, copies bytes between each channel and
 * its socketpair end (poll(2) over all of them and the session's socket),
 * and closes them when their target is done. Workers never touch the jump
 * session: they queue a request and wait. Everything shared (the table,
 * each jump's state, request queue and links) is under the table's one
 * lock; the pump is woken by an eventfd. Why one pump per jump host and not
 * per channel: libssh allows one thread per session, and one poll loop over
 * N channels costs one thread instead of N.
 *
 * ProxyCommand (a target's, or a first jump host's) is run by oneoff too
 * (a link without a channel), so that what it prints on standard error
 * reaches the host's error.
 *
 * Failures are remembered for the run: a jump host that is down, refuses
 * us or shows an unknown host key is reported for every host behind it,
 * prefixed "jump host 'NAME': ", and never retried.
 */
#ifndef ONEOFF_TRANSPORT_SSH_JUMP_H
#define ONEOFF_TRANSPORT_SSH_JUMP_H

#include <libssh/libssh.h>

#include "oneoff/transport.h"

struct ssh_tp;
struct jump_table;
struct jump_link;

/* A table for a run; the hops come resolved from the transport's one ssh
 * config (struct ssh_hostopts's chain). */
struct jump_table *jump_table_new(void);
/* Stops every pump and disconnects every jump session; every link must
 * have been released. NULL is fine. */
void jump_table_free(struct jump_table *jt);

struct ssh_hostopts;
/* For a target reached through jump hosts (o->chain.n > 1): reaches the
 * target's HostName and Port through the hops (each one's session made
 * once per run, the first hop through its ProxyCommand when it has one)
 * and makes *out the link whose descriptor (jump_link_fd()) is the
 * target's connection; release it with jump_link_release() after the
 * target's session was freed. On failure -1, res says why (outcome and
 * "jump host 'NAME': ..."). */
int jump_attach(struct ssh_tp *t, const struct ssh_hostopts *o,
                struct jump_link **out, struct transport_result *res);
/* A link that is command, a ProxyCommand (transport_ssh_proxy.c); -1 with
 * err. */
int jump_proxy(const char *command, struct jump_link **out, char *err);
/* Another forwarded connection to the same place as l, through the same
 * jump host (to ask for a host certificate); release it likewise. -1 when
 * l is a ProxyCommand. */
int jump_link_again(struct ssh_tp *t, struct jump_link *l,
                    struct jump_link **out, struct transport_result *res);
/* The descriptor of the target's end. */
int jump_link_fd(const struct jump_link *l);
/* Says more about a failed or lost connection through l, appended to err:
 * what its proxy command wrote on standard error ("; proxy command: ..."),
 * or that its jump host was lost (" (jump host 'NAME': ...)"). NULL is
 * fine. */
void jump_link_explain(struct jump_link *l, char *err);
/* Closes the target's end (unless libssh closed it already) and asks the
 * pump to close the channel. NULL is fine. */
void jump_link_release(struct jump_link *l);

/* ProxyCommand (transport_ssh_proxy.c). */
struct ssh_proxy;
/* Starts command (as ssh runs it: /bin/sh -c) with a socketpair for its
 * standard input and output; -1 with err. */
int proxy_start(const char *command, struct ssh_proxy **out, char *err);
/* Our end of the socketpair, for SSH_OPTIONS_FD. */
int proxy_fd(const struct ssh_proxy *p);
/* Appends "; proxy command: WHAT IT SAID" to err when it said anything. */
void proxy_explain(struct ssh_proxy *p, char *err);
/* Closes our end (unless libssh did), ends the command and reaps it. */
void proxy_free(struct ssh_proxy *p);

#endif
