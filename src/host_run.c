/*
 * host_run.c - the hosts' shared state: one locked transition function,
 * snapshots for readers, and the exit code the outcomes add up to.
 */
#define _GNU_SOURCE
#include "oneoff/host_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oneoff/exit_codes.h"

static const char *const phase_names[] = {
    [PHASE_PENDING] = "pending",     [PHASE_CONNECTING] = "connecting",
    [PHASE_PREFLIGHT] = "preflight", [PHASE_READY] = "ready",
    [PHASE_RUNNING] = "running",     [PHASE_DONE] = "done",
};

static const char *const outcome_names[] = {
    [HOST_NONE] = "none",       [HOST_OK] = "ok",
    [HOST_FAILED] = "failed",   [HOST_UNREACHABLE] = "unreachable",
    [HOST_AUTH] = "auth",       [HOST_HOST_KEY] = "host-key",
    [HOST_TIMEOUT] = "timeout", [HOST_INTERRUPTED] = "interrupted",
    [HOST_REFUSED] = "refused", [HOST_SKIPPED] = "skipped",
    [HOST_READY] = "ready",     [HOST_CHECKED] = "checked",
};

const char *host_phase_name(enum host_phase p)
{
    return (unsigned)p < sizeof(phase_names) / sizeof(*phase_names)
               ? phase_names[p]
               : "?";
}

const char *host_outcome_name(enum host_outcome o)
{
    return (unsigned)o < sizeof(outcome_names) / sizeof(*outcome_names)
               ? outcome_names[o]
               : "?";
}

const char *host_state_status(const struct host_state *s)
{
    return s->phase == PHASE_DONE ? host_outcome_name(s->outcome)
                                  : host_phase_name(s->phase);
}

void host_table_init(struct host_table *t, size_t n)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    pthread_cond_init(&t->written_cond, NULL);
    t->n = n;
    t->v = xcalloc(n ? n : 1, sizeof(*t->v));
    for (size_t i = 0; i < n; i++)
        t->v[i].exit_code = -1;
}

void host_table_release(struct host_table *t)
{
    host_snapshot_release(t->v, t->n);
    free(t->v);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    pthread_cond_destroy(&t->written_cond);
    memset(t, 0, sizeof(*t));
}

static void apply(struct host_state *s, const struct host_update *u)
{
    int64_t now = clock_wall_ms();

    if (s->phase == PHASE_DONE || u->phase < s->phase)
        return;
    s->phase = u->phase;
    if (u->phase >= PHASE_CONNECTING && s->started_ms == 0)
        s->started_ms = now;
    if (u->phase >= PHASE_PREFLIGHT && u->phase < PHASE_DONE &&
        s->connected_ms == 0)
        s->connected_ms = now;
    if (u->phase == PHASE_DONE) {
        s->outcome = u->outcome == HOST_NONE ? HOST_FAILED : u->outcome;
        s->finished_ms = now;
    }
    if (u->exit_code >= 0)
        s->exit_code = u->exit_code;
    if (u->signal)
        snprintf(s->signal, sizeof(s->signal), "%s", u->signal);
    if (u->error) {
        free(s->error);
        s->error = xstrndup(u->error, strnlen(u->error, ERR_MAX - 1));
    }
    if (u->pf && u->pf->release) {
        free(s->release);
        free(s->revision);
        s->release = xstrdup(u->pf->release);
        s->revision = xstrdup(u->pf->revision ? u->pf->revision : "");
    }
    if (u->task_state != TASK_STATE_NONE)
        s->task_state = u->task_state;
}

uint64_t host_transition(struct host_table *t, size_t i,
                         const struct host_update *u)
{
    uint64_t gen;
    enum host_phase ph;
    enum host_outcome oc;
    struct host_state now;
    bool changed;

    pthread_mutex_lock(&t->lock);
    ph = t->v[i].phase;
    oc = t->v[i].outcome;
    apply(&t->v[i], u);
    changed = t->v[i].phase != ph || t->v[i].outcome != oc;
    now = t->v[i];
    now.release = now.revision = NULL; /* owned by the table */
    now.error = changed && now.error ? xstrdup(now.error) : NULL;
    gen = ++t->wanted; /* the writer sees it on its next round */
    pthread_mutex_unlock(&t->lock);
    /* outside the lock: an observer may block (a slow reader of --json);
     * one host's transitions come from one thread at a time, in order */
    if (t->observer && changed)
        t->observer(t->observer_ctx, i, &now);
    free(now.error);
    return gen;
}

uint64_t host_finish(struct host_table *t, size_t i, enum host_outcome o,
                     const char *fmt, ...)
{
    struct host_update u = HOST_UPDATE(PHASE_DONE);
    char msg[ERR_MAX];
    va_list ap;

    u.outcome = o;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        u.error = msg;
    }
    return host_transition(t, i, &u);
}

void host_restart(struct host_table *t, size_t i)
{
    struct host_state *s = &t->v[i];

    pthread_mutex_lock(&t->lock);
    free(s->release);
    free(s->revision);
    free(s->error);
    memset(s, 0, sizeof(*s));
    s->exit_code = -1;
    t->wanted++;
    pthread_mutex_unlock(&t->lock);
}

uint64_t host_table_snapshot(struct host_table *t, struct host_state *out)
{
    uint64_t gen;

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        out[i] = t->v[i];
        out[i].release = t->v[i].release ? xstrdup(t->v[i].release) : NULL;
        out[i].revision = t->v[i].revision ? xstrdup(t->v[i].revision) : NULL;
        out[i].error = t->v[i].error ? xstrdup(t->v[i].error) : NULL;
    }
    gen = t->wanted;
    pthread_mutex_unlock(&t->lock);
    return gen;
}

void host_snapshot_release(struct host_state *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].release);
        free(v[i].revision);
        free(v[i].error);
        v[i].release = v[i].revision = v[i].error = NULL;
    }
}

void host_table_wait_written(struct host_table *t, uint64_t gen,
                             int64_t timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    if (t->written >= gen) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    t->urgent++;
    pthread_cond_signal(&t->cond); /* the writer alone waits there */
    while (t->written < gen &&
           pthread_cond_timedwait(&t->written_cond, &t->lock, &ts) == 0)
        ;
    t->urgent--;
    pthread_mutex_unlock(&t->lock);
}

void host_table_mark_written(struct host_table *t, uint64_t gen)
{
    pthread_mutex_lock(&t->lock);
    if (gen > t->written)
        t->written = gen;
    if (t->urgent)
        pthread_cond_broadcast(&t->written_cond);
    pthread_mutex_unlock(&t->lock);
}

int host_exit_code(const struct host_state *rows, size_t n, bool interrupted,
                   int refused_code)
{
    bool intr = interrupted, unreach = false, failed = false;

    for (size_t i = 0; i < n; i++) {
        if (rows[i].phase != PHASE_DONE) {
            intr = true; /* never concluded: only after an interrupt */
            continue;
        }
        switch (rows[i].outcome) {
        case HOST_INTERRUPTED:
            intr = true;
            break;
        case HOST_UNREACHABLE:
        case HOST_AUTH:
        case HOST_HOST_KEY:
            unreach = true;
            break;
        case HOST_OK:
        case HOST_READY:
        case HOST_CHECKED:
        case HOST_REFUSED:
        case HOST_SKIPPED:
            break;
        default:
            failed = true;
            break;
        }
    }
    if (intr)
        return EXIT_INTERRUPTED;
    if (refused_code)
        return refused_code;
    if (unreach)
        return EXIT_UNREACHABLE;
    return failed ? EXIT_TASK_FAILED : EXIT_OK;
}
