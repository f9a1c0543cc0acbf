/*
 * promotion.h - reading the history of the stage a stage is promoted from
 * (promote_from), for the promotion gate (gate_promotion() in gate.h).
 *
 * Every host of that stage is read with history_fetch() (its history mode:
 * nothing is sourced, entered or run there). A host without the file has
 * no history yet (no runs); a host that cannot be reached, or whose file
 * cannot be read whole, is named in unread, with why: the gate cannot know
 * what ran there. Lines that do not parse are skipped and noted
 * (history.h), which never makes a host unread.
 */
#ifndef ONEOFF_PROMOTION_H
#define ONEOFF_PROMOTION_H

#include <stddef.h>

#include "oneoff/history.h"
#include "oneoff/plan.h"
#include "oneoff/transport.h"
#include "oneoff/util.h"

struct promotion_read {
    struct history history;
    struct strlist unread, why; /* hosts not read, and why (same order) */
};

/* Reads the history of every host of p (a plan over the stage, any task:
 * only its hosts are used) through per_host[i], at most parallel at a
 * time. Always fills out (promotion_read_release() frees it). */
void promotion_read(const struct plan *p, struct transport *const *per_host,
                    unsigned parallel, struct promotion_read *out);
void promotion_read_release(struct promotion_read *r);

/* --skip-gate: appends g's gate-skipped line (history_gate_skip_line(),
 * g->host set to each host's name) to the history of every host of p (the
 * stage before, as read by promotion_read()) that is not in unread[0..
 * nunread), through per_host[i], at most parallel at a time. Hosts that
 * could not be written are pushed onto failed, with why. Returns how many,
 * or -1 (err set) when nothing could be started. */
int promotion_note_skip(const struct plan *p, struct transport *const *per_host,
                        unsigned parallel, const char *const *unread,
                        size_t nunread, struct history_gate_skip *g,
                        struct strlist *failed, struct strlist *why, char *err);

#endif
