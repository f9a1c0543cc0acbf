/*
 * progress.h - what the operator sees of a run while it goes, beyond the
 * hosts' lines: on a terminal, a status line redrawn in place
 *     [1m02s] 12 done, 64 running, 924 waiting, 3 failed; slowest: web7
 *     2m01s, web9 1m58s; silent: web3 12s
 * and with -v, a note for each host when it is reached (address, port,
 * user) and when it reports its release.
 *
 * The status line is drawn on stderr only when stderr is a terminal (and
 * TERM is not "dumb"), not with -q, at most every PROGRESS_EVERY_MS and
 * first PROGRESS_FIRST_MS after the start (a quick run shows none). It is
 * cut to the terminal's width. A host counts as silent when it is running
 * (connecting, in its preflight or its task) and printed no line for
 * --silent-after (PROGRESS_SILENT_MS by default) since it entered that
 * phase.
 *
 * Ownership and locking. A struct progress belongs to the runner's main
 * thread: progress_tick() is called from the pool's tick (runner.c's
 * on_tick()), never from a worker, and progress_end() once every worker
 * is joined. It reads the host table only through host_table_snapshot()
 * (the table's lock) and each host's output_host.last_line_ms (an atomic);
 * it draws through output_status() and output_info(), which take the
 * output's lock, so the status line is erased before every output write
 * and redrawn after it (output.h).
 */
#ifndef ONEOFF_PROGRESS_H
#define ONEOFF_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/host_run.h"
#include "oneoff/output.h"
#include "oneoff/plan.h"

#define PROGRESS_SILENT_MS 10000
#define PROGRESS_EVERY_MS 250
#define PROGRESS_FIRST_MS 500
/* how many of the slowest and of the silent hosts the line names */
#define PROGRESS_NAMES 3

struct progress {
    struct output *out;
    struct host_table *tab;
    const struct plan *plan;
    struct output_host *const *oh; /* per host: last_line_ms (borrowed) */
    size_t n;
    bool line;    /* draw the status line */
    bool verbose; /* -v notes */
    int64_t silent_ms;
    int64_t t0, last; /* monotonic: the start, the last look */
    bool drawn;
    struct host_state *rows;
    enum host_phase *phase; /* as last seen */
    int64_t *since;         /* monotonic: when it was first seen there */
    bool *told_conn, *told_release;
};

/* oh[i] is plan host i's output state. silent_ms 0: PROGRESS_SILENT_MS. */
void progress_init(struct progress *p, struct output *out,
                   struct host_table *tab, const struct plan *plan,
                   struct output_host *const *oh, bool verbose,
                   int64_t silent_ms);
/* Looks at the table (at most every PROGRESS_EVERY_MS): -v notes, the
 * status line. */
void progress_tick(struct progress *p);
/* The last -v notes; the status line is erased for good. */
void progress_end(struct progress *p);
void progress_release(struct progress *p);

/* The status line for rows (exposed for tests), at most width bytes (cut
 * between two UTF-8 sequences), into out (width + 1 bytes). */
void progress_render(const struct progress *p, int64_t now, size_t width,
                     char *out);

#endif
