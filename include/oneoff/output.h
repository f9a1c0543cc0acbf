/*
 * output.h - what the operator sees: live lines prefixed with an aligned
 * host name, grouped blocks, tool notes, and the closing summary.
 *
 * Writes are line-atomic: each call writes whole lines, prefix included,
 * with one write(2) per call under one lock, so lines of different hosts
 * never mix. Remote bytes are escaped (text.h) before they reach the
 * terminal. Knows nothing of SSH.
 */
#ifndef ONEOFF_OUTPUT_H
#define ONEOFF_OUTPUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/lines.h"
#include "oneoff/util.h"

enum out_mode { OUT_STREAM, OUT_GROUPED };

struct output {
    pthread_mutex_t lock;
    enum out_mode mode;
    int width;     /* of the host-name column */
    bool color[2]; /* per stream: colour the prefix */
    int fd[2];     /* stdout, stderr */
};

struct output_host {
    const char *name;
    int color;       /* ANSI colour number, 31..36 */
    char *prefix[2]; /* "name  | ", coloured per stream as configured */
    size_t prefix_len[2];
    struct buf group[2];
    struct buf scratch; /* the batch being formatted (stream mode) */
};

/* width: the longest host name. Colour is used on a terminal unless
 * NO_COLOR is set or TERM is dumb. */
void output_init(struct output *o, enum out_mode mode, int width);
void output_release(struct output *o);
void output_host_init(const struct output *o, struct output_host *h,
                      const char *name, size_t index);
void output_host_release(struct output_host *h);

/* Shows lines received from host h on stream s (0 stdout, 1 stderr). */
void output_lines(struct output *o, struct output_host *h, int s,
                  const struct line *lines, size_t n);
/* The host finished: in grouped mode its block is printed now. */
void output_host_done(struct output *o, struct output_host *h);
/* A message of the tool's own, to stderr, never mixed into a line. */
void output_note(struct output *o, const char *fmt, ...) ONEOFF_PRINTF(2, 3);

/* Formats one prefixed, escaped line into dst (exposed for tests). */
void output_format_line(const struct output *o, const struct output_host *h,
                        int s, const struct line *l, struct buf *dst);

struct summary_row {
    const char *host;
    const char *status;
    char exit[40];
    int64_t duration_ms;
    const char *release;
    const char *revision;
    const char *error;
};

/* The closing table and the counts line, to stdout. */
void output_summary(struct output *o, const struct summary_row *rows, size_t n);

#endif
