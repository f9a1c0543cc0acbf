/*
 * host_run.h - what is known of each host of a run, shared between the
 * worker that drives a host, the record writer and the main thread.
 *
 * Ownership and locking. A struct host_table is owned by the runner. Every
 * field of every struct host_state is written only by host_transition(),
 * under the table's lock, and read by others only through
 * host_table_snapshot(), which copies the rows under the same lock. The
 * table also carries the run's "record wanted" generation: a transition
 * bumps it (waking nobody: the record writer, runner.c, looks at it on its
 * own clock), a thread that needs a record at once says so on the
 * writer's condition (cond), and waits on written_cond, which the writer
 * signals when it wrote one that a waiter needs.
 *
 * Phase and outcome are separate: the phase says how far a host got
 * (pending, connecting, preflight, ready, running, done); the outcome says
 * how it ended, and is set once, with the phase DONE.
 */
#ifndef ONEOFF_HOST_RUN_H
#define ONEOFF_HOST_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/preflight.h"
#include "oneoff/util.h"

enum host_phase {
    PHASE_PENDING,
    PHASE_CONNECTING,
    PHASE_PREFLIGHT,
    PHASE_READY, /* reported, waiting for the verdict or its turn */
    PHASE_RUNNING,
    PHASE_DONE,
};

enum host_outcome {
    HOST_NONE, /* not done yet */
    HOST_OK,
    HOST_FAILED,
    HOST_UNREACHABLE,
    HOST_AUTH,
    HOST_HOST_KEY,
    HOST_TIMEOUT,
    HOST_INTERRUPTED,
    HOST_REFUSED, /* nothing ran: drift, lock, another host's failure */
    HOST_SKIPPED, /* not started: max_fail reached */
    HOST_READY,   /* --preflight and check: ready, nothing run */
    HOST_CHECKED, /* a check-only host: its release was checked */
};

/* "pending", "connecting", ... and "ok", "failed", ...: the one table of
 * names, used by the summary, the logs and run.json. */
const char *host_phase_name(enum host_phase p);
const char *host_outcome_name(enum host_outcome o);

struct host_state {
    enum host_phase phase;
    enum host_outcome outcome;
    int exit_code;                                 /* -1: none */
    char signal[32];                               /* "" : none */
    int64_t started_ms, connected_ms, finished_ms; /* wall; 0: not yet */
    /* NULL: none; at most ERR_MAX - 1 bytes. Held only when there is one:
     * the table, the progress line and each record keep a row per host. */
    char *error;
    char *release;  /* resolved release directory; NULL: not reported */
    char *revision; /* with release */
    enum task_state task_state;
};

/* The status word of a row: its outcome when done, else its phase. */
const char *host_state_status(const struct host_state *s);

/* Told of every phase or outcome change of host i (s: a copy of its new
 * row, without release and revision, its error the caller's until the
 * observer returns), after the table's lock is released,
 * by the thread that made the change. */
typedef void (*host_observer_fn)(void *ctx, size_t i,
                                 const struct host_state *s);

struct host_table {
    pthread_mutex_t lock;
    host_observer_fn observer; /* NULL: none; set before any transition */
    void *observer_ctx;
    pthread_cond_t cond;         /* the record writer's: a record is urgent */
    pthread_cond_t written_cond; /* urgent waiters': a record was written */
    struct host_state *v;
    size_t n;
    uint64_t wanted;  /* record generations asked for */
    uint64_t written; /* ... and written */
    unsigned urgent;  /* threads waiting in host_table_wait_written() */
};

void host_table_init(struct host_table *t, size_t n);
void host_table_release(struct host_table *t);

/* A change of one host. Fields are applied when set: phase always (it
 * never moves back: a transition to an earlier phase is ignored, and one
 * from DONE too), outcome with PHASE_DONE, the rest when non-NULL or
 * non-negative. */
struct host_update {
    enum host_phase phase;
    enum host_outcome outcome;
    int exit_code;              /* -1: leave */
    const char *signal;         /* NULL: leave */
    const char *error;          /* NULL: leave */
    const struct preflight *pf; /* NULL: leave; else release, revision */
    enum task_state task_state; /* TASK_STATE_NONE: leave */
};

/* An update that changes nothing but what it is given. */
#define HOST_UPDATE(ph)                                                        \
    {                                                                          \
        (ph), HOST_NONE, -1, NULL, NULL, NULL, TASK_STATE_NONE                 \
    }

/* Applies u to host i under the lock, stamps the times (started at
 * CONNECTING, connected at PREFLIGHT, finished at DONE) and asks for a
 * record. Returns the record generation that will include the change. */
uint64_t host_transition(struct host_table *t, size_t i,
                         const struct host_update *u);
/* Sets host i done with outcome o and, when fmt is given, the error. */
uint64_t host_finish(struct host_table *t, size_t i, enum host_outcome o,
                     const char *fmt, ...) ONEOFF_PRINTF(4, 5);

/* The one way back: host i starts over as PENDING (its times, outcome and
 * report forgotten), when the whole preflight is tried again. */
void host_restart(struct host_table *t, size_t i);

/* Copies every row (strings duplicated: error, release, revision) into
 * out[0..t->n); also returns
 * the record generation the copy reflects. host_snapshot_release() frees
 * the copies. */
uint64_t host_table_snapshot(struct host_table *t, struct host_state *out);
void host_snapshot_release(struct host_state *v, size_t n);

/* Blocks until the record of generation gen was written (or timeout_ms
 * passed). */
void host_table_wait_written(struct host_table *t, uint64_t gen,
                             int64_t timeout_ms);
/* The record writer: generation gen is written. */
void host_table_mark_written(struct host_table *t, uint64_t gen);

/* The process exit code for a run whose hosts ended as rows say (see the
 * README's table): the first of 130, 4, 3, 1 that applies, else 0.
 * refused_code is the gate's code (0 when the run went ahead). */
int host_exit_code(const struct host_state *rows, size_t n, bool interrupted,
                   int refused_code);

#endif
