/*
 * output.h - what the operator sees: live lines prefixed with an aligned
 * host name, grouped blocks, tool notes, and the closing summary.
 *
 * Writes are line-atomic: each write(2) holds whole lines, prefix included,
 * and is made under one lock, so lines of different hosts never mix. Bytes
 * from hosts are escaped (text.h) before they reach the terminal. Knows
 * nothing of SSH.
 *
 * Streams: a host's task stdout goes to the output's stdout, its stderr to
 * stderr as it is, and what its set-up printed before the task started
 * (LINE_SETUP: env files, login shell) to stderr, marked:
 *     web1 | setup: text
 * With human_to_stderr (--report -, where stdout carries the JSON record)
 * everything goes to stderr, the summary included.
 *
 * Gathered mode (--output gather, gather.h) keeps each host's lines, up to
 * a bound, and shows them at the end, once per group of hosts whose
 * output is the same (output_gathered()).
 *
 * The status line (progress.h) lives on stderr, a terminal: every write
 * to a terminal made here first erases it and then draws it again, under
 * the lock, so it is never mixed into an output line.
 *
 * Thread safety: output_lines(), output_host_done(), output_note(),
 * output_info() and output_status() may be called from any thread; one
 * output_host is used by one thread at a time (its last_line_ms excepted:
 * an atomic, read by the status line). The fields marked "set before use"
 * are set by the runner after output_init(), before any thread starts.
 */
#ifndef ONEOFF_OUTPUT_H
#define ONEOFF_OUTPUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/lines.h"
#include "oneoff/util.h"

enum out_mode { OUT_STREAM, OUT_GROUPED, OUT_GATHER };

/* The closing table: AUTO lists every host up to SUMMARY_AUTO_MAX hosts,
 * above that only those that are not ok; FULL always every host; SHORT
 * always only those not ok. */
enum summary_mode { SUMMARY_AUTO, SUMMARY_FULL, SUMMARY_SHORT };
#define SUMMARY_AUTO_MAX 20

/* The two places output goes: index 0 "stdout", 1 "stderr". */
struct output {
    pthread_mutex_t lock;
    enum out_mode mode;
    int width;     /* of the host-name column */
    bool color[2]; /* per place: colour the host names */
    int fd[2];     /* STDOUT_FILENO (or STDERR_FILENO), STDERR_FILENO */
    bool tty[2];   /* per place: a terminal */
    /* set before use */
    bool quiet; /* -q: no host lines, no info notes, only the hosts not ok
                   in the summary */
    bool diff;  /* gather: other groups as diffs against the biggest */
    enum summary_mode summary;
    /* under lock */
    size_t kept_total; /* gather: bytes kept of every host */
    char *status;      /* the status line; NULL: none */
    bool status_shown; /* drawn on stderr now */
};

struct output_host {
    const char *name;
    int color;                  /* ANSI colour number, 31..36 */
    char *prefix[LINE_STREAMS]; /* "name  | ", "name  | setup: " */
    size_t prefix_len[LINE_STREAMS];
    struct buf group[2];           /* grouped mode: per place */
    struct buf scratch;            /* the batch being formatted */
    struct buf kept[LINE_STREAMS]; /* gather: raw lines, '\n'-ended */
    bool spilled;                  /* gather: past the bound, grouped */
    _Atomic int64_t last_line_ms;  /* monotonic time of its last line */
};

/* width: the longest host name. Colour is used on a terminal unless
 * NO_COLOR is set or TERM is dumb. human_to_stderr: everything, stdout's
 * share included, goes to stderr. */
void output_init(struct output *o, enum out_mode mode, int width,
                 bool human_to_stderr);
void output_release(struct output *o);
void output_host_init(const struct output *o, struct output_host *h,
                      const char *name, size_t index);
void output_host_release(struct output_host *h);

/* Shows lines received from host h on stream s. A line of any length is
 * shown whole: one longer than OUTPUT_PIECE_MAX is shown as several
 * prefixed pieces. A failed write to the terminal is not retried (the host
 * log and the record keep everything). */
#define OUTPUT_PIECE_MAX (1u << 20)
void output_lines(struct output *o, struct output_host *h, enum line_stream s,
                  const struct line *lines, size_t n);
/* The host finished: in grouped mode its block is printed now. Its
 * formatting buffers are freed (what gathering kept stays, for
 * output_gathered()). */
void output_host_done(struct output *o, struct output_host *h);
/* A message of the tool's own, to stderr, never mixed into a line: each
 * line "oneoff: " and escaped (a note may quote what a host reported). A
 * note longer than 1 MiB is cut, saying how much was left out. */
void output_note(struct output *o, const char *fmt, ...) ONEOFF_PRINTF(2, 3);
/* A note that is not an error (where the logs are, batches, -v): not
 * shown with -q. */
void output_info(struct output *o, const char *fmt, ...) ONEOFF_PRINTF(2, 3);

/* Sets the status line (one line, no newline, already escaped and cut to
 * the terminal's width) and draws it on stderr at once; NULL erases it
 * for good. Only call it when stderr is a terminal. */
void output_status(struct output *o, const char *line);

/* Appends one prefixed, escaped line to dst (exposed for tests). Returns 0,
 * or -1 when it does not fit in dst's maximum (dst is then unchanged). */
int output_format_line(const struct output *o, const struct output_host *h,
                       enum line_stream s, const struct line *l,
                       struct buf *dst) ONEOFF_MUST_USE;

struct summary_row {
    const char *host;
    const char *status;
    char exit[40];
    int64_t duration_ms;
    const char *release;
    const char *revision;
    const char *error;
};

/* The closing table and the counts line, to stdout (see human_to_stderr).
 * Every cell is escaped; a cell longer than 4 KiB is cut with "...". */
void output_summary(struct output *o, const struct summary_row *rows, size_t n);

/* Gathered mode, at the end, with the workers joined: shows the kept
 * output of hosts[i] (whose ending rows[i] tells) grouped, biggest group
 * first, each under a header naming its hosts as a node set; with diff,
 * every group after the first as a unified diff against it. Hosts that
 * neither printed nor ended with an exit code are left out (the summary
 * tells about them), and so are those shown on their own already. */
void output_gathered(struct output *o, struct output_host *const *hosts,
                     const struct summary_row *rows, size_t n);

#endif
