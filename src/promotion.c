/*
 * promotion.c - the history of the stage before (see promotion.h): the
 * hosts' files through history_fetch(), and the hosts it could not read
 * (its problems on line 0) named apart, since the gate must not take a
 * host it could not read for one where nothing ran. A skipped gate is
 * written back to the hosts that were read (history_note()).
 */
#include "oneoff/promotion.h"

#include <stdlib.h>
#include <string.h>

#include "oneoff/history_fetch.h"

void promotion_read(const struct plan *p, struct transport *const *per_host,
                    unsigned parallel, struct promotion_read *out)
{
    char err[ERR_MAX];

    memset(out, 0, sizeof(*out));
    history_init(&out->history);
    if (history_fetch(p, per_host, parallel, &out->history, err) < 0) {
        for (size_t i = 0; i < p->nhosts; i++) {
            strlist_push(&out->unread, p->hosts[i].host->name);
            strlist_push(&out->why, err);
        }
        return;
    }
    for (size_t i = 0; i < out->history.nproblems; i++) {
        const struct history_problem *pr = &out->history.problems[i];
        if (pr->line != 0)
            continue;
        strlist_push(&out->unread, pr->host);
        strlist_push(&out->why, pr->what);
    }
    history_sort(&out->history);
}

void promotion_read_release(struct promotion_read *r)
{
    history_release(&r->history);
    strlist_clear(&r->unread);
    strlist_clear(&r->why);
}

int promotion_note_skip(const struct plan *p, struct transport *const *per_host,
                        unsigned parallel, const char *const *unread,
                        size_t nunread, struct history_gate_skip *g,
                        struct strlist *failed, struct strlist *why, char *err)
{
    char **notes = xcalloc(p->nhosts ? p->nhosts : 1, sizeof(*notes));
    int rc;

    for (size_t i = 0; i < p->nhosts; i++) {
        const char *name = p->hosts[i].host->name;
        bool read = true;
        for (size_t k = 0; k < nunread && read; k++)
            read = strcmp(unread[k], name) != 0;
        if (!read)
            continue;
        g->host = name;
        notes[i] = history_gate_skip_line(g);
    }
    g->host = NULL;
    rc = history_note(p, per_host, parallel, notes, failed, why, err);
    for (size_t i = 0; i < p->nhosts; i++)
        free(notes[i]);
    free(notes);
    return rc;
}
