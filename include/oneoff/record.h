/*
 * record.h - what stays behind after a run: log/<run-id>/<host>.log with
 * every byte received, and log/<run-id>/run.json (plus --report FILE).
 *
 * Host logs are appended with write(2) as lines arrive, so a crash or a
 * Ctrl-C loses nothing already received. Each log line is
 *     2026-11-21T09:12:34.123Z out | <bytes as received>
 * where the stream is "out" (the task's stdout), "err" (its stderr) or
 * "set" (what the host's set-up printed before the task started: env files,
 * login shell), and "~" instead of "|" marks a fragment: a piece of a line
 * too long to keep whole, or the last output without a newline. Lines
 *     2026-11-21T09:12:34.123Z # <text>
 * are the tool's own notes (start, preflight, end and status).
 *
 * run.json (docs/run.schema.json; the README lists its fields) carries
 * "format": RECORD_FORMAT. Format 2 added "format", each host's "output"
 * (the last TAIL_MAX bytes of its stdout and stderr, with byte counts) and
 * the run's "gate" (the go/no-go decision); format 1 had none of them.
 *
 * run.json is rewritten atomically (a temporary file beside it, then
 * rename; the final version also fsync'ed), so it is always whole, and is
 * valid JSON (UTF-8) whatever bytes the hosts sent.
 *
 * Nothing is lost silently. A write that fails (ENOSPC, EIO...) is
 * reported once per file: the call that meets the first failure of a file
 * returns -1 with err naming the file and the error, for the caller to show;
 * later calls for that file return 0. A host log stops at its first failed
 * write (it stays a clean prefix of what arrived; closing it makes one last
 * attempt to note how much was not written). A failed run.json write leaves
 * the previous version in place. record_lost() tells whether the record is
 * incomplete: a host log lost bytes, or the last run.json or report write
 * failed; the run then exits non-zero.
 *
 * --report FILE:
 *   - "-": the record is written to stdout once, at the end; the human
 *     output then goes to stderr (record_report_is_stdout()).
 *   - a path naming one of oneoff's descriptors (/dev/stdout, /dev/stderr,
 *     /dev/fd/N, /proc/self/fd/N, also through symlinks): written through
 *     that descriptor once, at the end.
 *   - a regular file, or a path that does not exist (also through
 *     symlinks): rewritten like run.json, the temporary file beside the
 *     resolved target, so a symlink stays a symlink to the new content.
 *   - a character device or a FIFO (also through symlinks): opened for
 *     writing and written once, at the end; a FIFO needs a reader by then.
 *   - anything else (a directory, a block device, a socket, a path that
 *     cannot be looked up) is refused by record_open().
 *
 * Thread safety. A struct record_log is used by one thread at a time (the
 * worker that owns its host). record_write() may be called from any thread:
 * calls are serialised by r->lock, which guards the record's run.json and
 * report state and the cache of each host's JSON (a rewrite renders anew
 * only the hosts whose fields changed since the last one). record_lost() may be
 * called from any thread at any time (its flags are atomic). Nothing here
 * prints.
 */
#ifndef ONEOFF_RECORD_H
#define ONEOFF_RECORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/lines.h"
#include "oneoff/util.h"

#define RECORD_FORMAT 2

/* The go/no-go decision (gate.h), as run.json's "gate". */
struct record_gate {
    const char *verdict; /* gate_verdict_name() */
    const char *reason;  /* NULL for go */
    int exit_code;       /* the gate's: 0, 2 or 4 */
    bool allow_drift;    /* --allow-drift was given */
    bool releases_agree; /* every reporting host has one release/revision */
    size_t hosts_judged; /* hosts whose preflight reported */
};

/* The kept end of one stream of a host (tail.h). */
struct record_output {
    const char *text; /* NULL: none kept */
    size_t len;
    uint64_t total; /* bytes received */
    bool truncated;
};

struct record_run {
    const char *run_id;
    const char *operator_name;
    const char *email;               /* git user.email, or NULL */
    const char *reason;              /* --reason, or NULL */
    const struct strlist *overrides; /* checks overridden: "force", ... */
    const char *stage;
    const char *task;
    const char *task_file;
    const char *task_sha256;
    const char *command;
    const struct strlist *args;
    int64_t started_ms;             /* wall clock */
    int64_t finished_ms;            /* 0 while running; set: the final record */
    int exit_code;                  /* -1 while running */
    bool allow_drift;               /* --allow-drift was given */
    const char *refused;            /* why nothing ran, or NULL */
    int64_t timeout_ms;             /* 0: none */
    const struct record_gate *gate; /* NULL: not decided (yet) */
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
    bool checked_only; /* in the stage selection, the task not run here */
    struct record_output out, err; /* stdout; stderr with set-up output */
};

/* Each host's JSON as the last run.json had it (record_json.c), so that a
 * rewrite renders only the hosts that changed since. */
struct record_json_host;
struct record_json_cache {
    struct record_json_host *v;
    size_t n;
};

enum record_report_kind {
    REPORT_NONE,
    REPORT_FILE,   /* rewritten atomically at report_path */
    REPORT_DEVICE, /* report_path opened and written once, at the end */
    REPORT_FD,     /* written through report_fd once, at the end */
};

struct record {
    char *dir;       /* log/<run-id>; NULL for a refused run's report */
    char *json_path; /* log/<run-id>/run.json, or NULL */
    char *report;    /* --report as given, or NULL */
    enum record_report_kind report_kind;
    char *report_path;    /* FILE: the resolved target; DEVICE: the device */
    int report_fd;        /* FD: the descriptor; -1 otherwise */
    pthread_mutex_t lock; /* record_write(), and the three fields below */
    bool json_reported;   /* run.json's first failure was returned */
    bool report_reported; /* the report's first failure was returned */
    bool report_sent;     /* DEVICE, FD: written (or tried) */
    struct record_json_cache json_cache; /* under lock */
    atomic_bool json_lost, report_lost, log_lost;
};

/* One host's log. path stays valid until record_log_release(). */
struct record_log {
    int fd;              /* -1: not open */
    char *path;          /* log/<run-id>/<host>.log */
    bool failed;         /* a write failed: nothing more is written */
    int error;           /* its errno */
    bool mid_line;       /* the failed write stopped inside a line */
    uint64_t lost_bytes; /* not written since the failure */
    struct buf scratch;  /* the batch being formatted */
    struct record *rec;  /* told when a write fails */
};

/* Makes a new run id: 20261121T091234Z-1a2b3c. */
void record_new_id(char *buf, size_t n);
/* The operator's user name (or "uid N") into buf. */
void record_operator(char *buf, size_t n);

/* Checks --report (NULL: none; see the top for what it may be) and creates
 * log_root/run_id/. Returns 0, or -1 with err (nothing connected yet: a
 * usage error). */
int record_open(struct record *r, const char *log_root, const char *run_id,
                const char *report, char *err);
void record_release(struct record *r);

/* True when the record is incomplete (see the top). */
bool record_lost(const struct record *r);

/* True when report is "-" or names oneoff's stdout: the human output must
 * then go to stderr (output_init()'s human_to_stderr). */
bool record_report_is_stdout(const char *report);

/* Writes run.json and the report from the current state (the final
 * version when run->finished_ms is set). Returns 0, or -1 with err on the
 * first failure of a file (see the top). */
int record_write(struct record *r, const struct record_run *run,
                 const struct record_host *hosts, size_t n, char *err);

/* Replaces path with data, atomically (a temporary file beside it, then
 * rename; fsync'ed when durable). Returns 0, or -1 with err. */
int record_file_replace(const char *path, const char *data, size_t len,
                        bool durable, char *err);

/* For a run refused before it started (confirmation declined, a
 * configuration error found after the plan): writes the --report record
 * with no host, refused = why and exit_code, the run's finished time now
 * when unset. No log folder is made. Returns 0, or -1 with err. */
int record_write_refused(const char *report, const struct record_run *run,
                         const char *why, int exit_code, char *err);

/* An empty log (fd -1): safe to close and release. */
void record_log_init(struct record_log *log);
/* Creates (appends to) r's log of host; log was set up by
 * record_log_init(). Returns 0, or -1 with err. */
int record_log_open(struct record *r, struct record_log *log, const char *host,
                    char *err) ONEOFF_MUST_USE;
/* Appends lines of stream s, one write per batch (a batch over 64 MiB is
 * written in several, each of whole lines). Returns 0, or -1 with err on the
 * log's first failed write. */
int record_log_lines(struct record_log *log, enum line_stream s,
                     const struct line *lines, size_t n,
                     char *err) ONEOFF_MUST_USE;
/* Appends a note: one "# " line per line of the formatted text. Returns as
 * record_log_lines(). */
int record_log_note(struct record_log *log, char *err, const char *fmt, ...)
    ONEOFF_PRINTF(3, 4) ONEOFF_MUST_USE;
/* Ends the log: after a failure, one last attempt to note how many bytes
 * were not written; then close(2), whose failure also counts. Returns as
 * record_log_lines(). The path stays. */
int record_log_close(struct record_log *log, char *err) ONEOFF_MUST_USE;
/* Closes (without a word) and frees. */
void record_log_release(struct record_log *log);
/* Frees what the log keeps between batches (its formatting buffer), for a
 * host that is done; the log stays open for its closing note. */
void record_log_idle(struct record_log *log);

#endif
