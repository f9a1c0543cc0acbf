/*
 * record.h - what stays behind after a run: log/<run-id>/<host>.log with
 * every byte received, and log/<run-id>/run.json (plus --report FILE).
 *
 * Host logs are appended with write(2) as lines arrive, so a crash or a
 * Ctrl-C loses nothing already received. Each log line is
 *     2026-11-21T09:12:34.123Z out | <bytes as received>
 * with "err" for stderr, and "~" instead of "|" for a fragment: a piece of
 * a line too long to keep whole, or the last output without a newline.
 * Lines starting with "#" are the tool's own notes (start and end).
 *
 * run.json is rewritten atomically (temporary file, rename; the final
 * version also fsync'ed) and is
 * valid JSON (UTF-8) whatever bytes the hosts sent.
 */
#ifndef ONEOFF_RECORD_H
#define ONEOFF_RECORD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/lines.h"
#include "oneoff/util.h"

struct record_run {
    const char *run_id;
    const char *operator_name;
    const char *stage;
    const char *task;
    const char *task_file;
    const char *task_sha256;
    const char *command;
    const struct strlist *args;
    int64_t started_ms;  /* wall clock */
    int64_t finished_ms; /* 0 while running */
    int exit_code;       /* -1 while running */
    bool allow_drift;    /* --allow-drift was given */
    const char *refused; /* why nothing ran, or NULL */
    int64_t timeout_ms;  /* 0: none */
};

struct record_host {
    const char *name;
    const char *address;
    unsigned port;
    const char *user;
    const char *status;
    int exit_code;                                 /* -1: none */
    const char *signal;                            /* NULL: none */
    int64_t started_ms, connected_ms, finished_ms; /* wall; 0: not yet */
    const char *log_path;
    const char *error;
    const char *release;         /* resolved release directory */
    const char *revision;        /* first line of its revision file */
    const char *task_in_release; /* same | differs | absent | unknown */
};

struct record {
    char *dir;       /* log/<run-id> */
    char *json_path; /* log/<run-id>/run.json */
    char *report;    /* --report FILE or NULL */
};

/* Makes a new run id: 20261121T091234Z-1a2b3c. */
void record_new_id(char *buf, size_t n);
/* Creates log_root/run_id/. */
int record_open(struct record *r, const char *log_root, const char *run_id,
                const char *report, char *err);
void record_release(struct record *r);

/* Opens (creates) the log of one host; returns an fd or -1 (err set). The
 * path is returned in *path (caller frees). */
int record_host_log_open(const struct record *r, const char *host, char **path,
                         char *err);
/* Appends lines of stream s (0 out, 1 err) to a host log, one write;
 * scratch (max >= 64 MiB) is the caller's reusable formatting buffer. */
void record_log_lines(int fd, int s, const struct line *lines, size_t n,
                      struct buf *scratch);
/* Appends a "# note" line. */
void record_log_note(int fd, const char *fmt, ...) ONEOFF_PRINTF(2, 3);

/* Writes run.json (and the report) atomically from the current state. */
int record_write(const struct record *r, const struct record_run *run,
                 const struct record_host *hosts, size_t n, char *err);

#endif
