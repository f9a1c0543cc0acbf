/*
 * text.h - making bytes from hosts, files and the command line safe to show:
 * nothing a terminal could interpret reaches it, and nothing shown can pass
 * for something else.
 *
 * The escapes, the same everywhere oneoff shows text it did not write (live
 * lines, notes, the summary, error messages):
 *   ESC          \e
 *   CR           \r
 *   other C0 controls (not TAB), DEL, the bytes of C1 controls
 *   (U+0080..U+009F) and every byte of invalid UTF-8
 *                \xNN (two lowercase hex digits)
 *   Unicode bidirectional controls: U+061C, U+200E, U+200F,
 *   U+202A..U+202E, U+2066..U+2069 (they reorder what follows on screen)
 *                \u{NNNN} (four lowercase hex digits: \u{202e})
 *   a backslash  \\ (doubled, so that "\e" on screen is always an escape)
 * TAB and valid UTF-8 otherwise pass through. Host logs and run.json are
 * not escaped: logs keep the raw bytes, JSON has its own escaping.
 */
#ifndef ONEOFF_TEXT_H
#define ONEOFF_TEXT_H

#include <stddef.h>

#include "oneoff/buf.h"

/* Appends p[0..n) to dst escaped as above. Returns 0, or -1 when dst's
 * maximum was reached: dst then holds the escaped text of a prefix of p, cut
 * between two escapes. The escaped text is at most 4 * n bytes. */
int text_escape(struct buf *dst, const char *p, size_t n) ONEOFF_MUST_USE;

/* The NUL-terminated s escaped as above, for quoting a value (from a file,
 * a host or the command line) in a message: written into out (size bytes,
 * at least 8, always NUL-terminated) and returned. When the escaped text
 * does not fit it is cut between two escapes and ends in "...". */
const char *text_escape_msg(const char *s, char *out, size_t size);

/* How many leading bytes of p[0..n) are shown as they are with no check
 * per byte: printable ASCII other than the backslash, and TAB. */
size_t text_plain_len(const char *p, size_t n);

/* Appends p[0..n) to dst as valid UTF-8: invalid bytes become U+FFFD.
 * For JSON, which must hold valid UTF-8 whatever a host sends. At most
 * 3 * n bytes. Returns 0, or -1 when dst's maximum was reached. */
int text_utf8(struct buf *dst, const char *p, size_t n) ONEOFF_MUST_USE;

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
size_t text_utf8_len(const unsigned char *p, size_t n);

#endif
