/*
 * events.h - `--json`: the run as a stream of JSON events on stdout, one
 * compact object per line, for tools that follow a run live. The README
 * and docs/run.schema.json ($defs/event) describe every event:
 *
 *   {"event":"run_start", "format", "time", "run_id", "mode", "stage",
 *    "task", "hosts": [names]}
 *   {"event":"host_state", "time", "host", "phase", "status"}
 *   {"event":"output", "time", "host", "stream", "text", "eol"}
 *   {"event":"gate", "time", "verdict", "reason", "exit_code"}
 *   {"event":"host_end", "time", "host", "status", "exit_code", "signal",
 *    "error", "duration_ms"}
 *   {"event":"run_end", "time", "run_id", "exit_code", "record"}
 *
 * Text from hosts is made valid UTF-8 (invalid bytes become U+FFFD). Each
 * event is one write(2) under the stream's lock, so events never mix. A
 * failed write (the reader went away) ends the stream quietly: the run
 * goes on, and run.json keeps everything.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef ONEOFF_EVENTS_H
#define ONEOFF_EVENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/host_run.h"
#include "oneoff/lines.h"
#include "oneoff/record.h"

struct events {
    pthread_mutex_t lock;
    int fd;                   /* -1: off */
    bool failed;              /* a write failed: nothing more is written */
    const char *const *names; /* host i's name (borrowed) */
    size_t n;
};

/* fd -1: every call below does nothing. names[0..n) are borrowed. */
void events_init(struct events *e, int fd, const char *const *names, size_t n);
void events_release(struct events *e);

void events_run_start(struct events *e, const struct record_run *run,
                      const char *mode);
/* A phase or outcome change of host i; also host_end when s is done. */
void events_host_state(struct events *e, size_t i, const struct host_state *s);
void events_lines(struct events *e, size_t i, enum line_stream st,
                  const struct line *v, size_t n);
void events_gate(struct events *e, const struct record_gate *g);
void events_run_end(struct events *e, const char *run_id, int exit_code,
                    const char *record_path);

#endif
