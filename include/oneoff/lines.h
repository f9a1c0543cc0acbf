/*
 * lines.h - the unit of remote output after line assembly: one line (or
 * fragment) of one stream of one host, pointing into the caller's bytes.
 *
 * The splitter (lines.c) produces them; output and record consume them.
 */
#ifndef ONEOFF_LINES_H
#define ONEOFF_LINES_H

#include <stdbool.h>
#include <stddef.h>

/* Where a line came from: the task's stdout or stderr, or what the host's
 * set-up printed before the task started (env files, login shell). */
enum line_stream { LINE_OUT = 0, LINE_ERR = 1, LINE_SETUP = 2 };
#define LINE_STREAMS 3

/* One line handed over by the line splitter: eol is false for a fragment
 * (a line split because it was too long, or the last one without a
 * newline). p is not NUL-terminated and lives only during the call. */
struct line {
    const char *p;
    size_t n;
    bool eol;
};

/* Lines longer than this are cut into fragments rather than dropped. */
#define LINE_MAX_BYTES (64u << 10)

/* Receives a batch of whole lines (and fragments) of one stream. */
typedef void lines_emit_fn(void *ctx, enum line_stream s, const struct line *v,
                           size_t n);

/* The splitter of one stream of one host: bytes in, whole lines out. It
 * belongs to the thread that feeds it. */
struct lines {
    enum line_stream stream;
    char *partial; /* a line waiting for its newline: palloc bytes, grown
                      up to LINE_MAX_BYTES, freed by lines_flush() */
    size_t plen, palloc;
    lines_emit_fn *emit;
    void *ctx;
};

void lines_init(struct lines *l, enum line_stream s, lines_emit_fn *emit,
                void *ctx);
void lines_release(struct lines *l);
/* Splits p[0..n) into lines: every whole line is emitted (in batches, in
 * order); a partial line waits for the rest, and one that reaches
 * LINE_MAX_BYTES is emitted as a fragment. */
void lines_feed(struct lines *l, const char *p, size_t n);
/* Emits what waits without a newline as a fragment, and frees its
 * buffer. */
void lines_flush(struct lines *l);

#endif
