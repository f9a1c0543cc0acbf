/*
 * history_fetch.h - reads the history file of every host of a plan, in
 * parallel, through the hosts' transports: each runs the host script in
 * its history mode (host_script.sh), which enters app_dir and reports the
 * file's lines framed by a new nonce, then exits. No env file is sourced,
 * no release entered, nothing run.
 */
#ifndef ONEOFF_HISTORY_FETCH_H
#define ONEOFF_HISTORY_FETCH_H

#include "oneoff/history.h"
#include "oneoff/plan.h"
#include "oneoff/transport.h"

/* How long one host may take to answer once connected. */
#define HISTORY_FETCH_MS 60000

/* Both calls below ignore SIGPIPE from then on, in the whole process: a
 * host's stdin (its script) may close before it was all written.
 *
 * Adds every host's lines to h (history_add_text()); a host that could not
 * be read (unreachable, authentication, set-up, a malformed report) or
 * whose file is unreadable or cut becomes a problem of h (line 0) saying
 * why. tps[i] drives plan host i. Returns how many hosts could not be
 * read, or -1 (err set) when nothing could be started. */
int history_fetch(const struct plan *p, struct transport *const *tps,
                  unsigned parallel, struct history *h, char *err);

/* Appends notes[i] (one history line without its newline, shorter than
 * HISTORY_LINE_MAX; NULL: nothing) to the history file of plan host i, in
 * parallel, through tps[i]: the host script's note mode, which enters
 * app_dir and appends the line as the run mode appends its own (one write
 * with O_APPEND), starting no process. Each host that could not be
 * written is pushed onto failed, and why onto why. Returns how many, or -1
 * (err set) when nothing could be started. */
int history_note(const struct plan *p, struct transport *const *tps,
                 unsigned parallel, char *const *notes, struct strlist *failed,
                 struct strlist *why, char *err);

#endif
