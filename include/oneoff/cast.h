/*
 * cast.h - a console's transcript in asciinema's v2 format
 * (https://docs.asciinema.org/manual/asciicast/v2/): a header line
 *     {"version": 2, "width": W, "height": H, "timestamp": T,
 *      "env": {"TERM": "..."}}
 * then one event per line, [seconds since the start, "o", text] for what the
 * terminal printed and [seconds, "r", "WxH"] when it was resized. Text is
 * JSON: bytes that are not UTF-8 become U+FFFD, and a character cut between
 * two chunks of output is written whole with the second.
 *
 * Each event is written at once (a crash loses nothing already shown).
 * cast_close() frees everything; the struct belongs to the caller.
 */
#ifndef ONEOFF_CAST_H
#define ONEOFF_CAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oneoff/buf.h"
#include "oneoff/util.h"

struct cast {
    FILE *f;
    int64_t t0_ms; /* monotonic: event times count from here */
    char held[4];  /* the start of a character cut at a chunk's end */
    size_t nheld;
    bool failed; /* a write failed: the transcript is incomplete */
    char error[ERR_MAX];
};

/* Creates path (mode 0600) and writes the header. */
int cast_open(struct cast *c, const char *path, unsigned width, unsigned height,
              const char *term, char *err);
/* An "o" event for n bytes of output. */
void cast_output(struct cast *c, const char *p, size_t n);
/* An "r" event. */
void cast_resize(struct cast *c, unsigned width, unsigned height);
/* Writes what is held, closes; -1 with err when any write failed. */
int cast_close(struct cast *c, char *err);

/* Appends p[0..n) to b as the inside of a JSON string (held/nheld: a
 * character cut at the end of p is kept there for the next call; flush
 * true writes it as U+FFFD instead). Exposed for the unit tests. */
int cast_json_text(struct buf *b, char held[4], size_t *nheld, const char *p,
                   size_t n, bool flush) ONEOFF_MUST_USE;

#endif
