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

#endif
