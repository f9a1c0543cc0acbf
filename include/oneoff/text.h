/*
 * text.h - making remote bytes safe to show: control characters and escape
 * sequences become visible escapes, valid UTF-8 passes through, anything
 * else is shown byte by byte as \xNN.
 */
#ifndef ONEOFF_TEXT_H
#define ONEOFF_TEXT_H

#include <stddef.h>

#include "oneoff/buf.h"

/* Appends p[0..n) to dst with every byte that a terminal could interpret
 * escaped: C0 controls except TAB (ESC is "\e", others "\xNN"), DEL, C1
 * controls, invalid UTF-8. Returns what buf_add returns. */
int text_escape(struct buf *dst, const char *p, size_t n);

/* How many leading bytes of p[0..n) are printable ASCII or TAB: shown as
 * they are. */
size_t text_plain_len(const char *p, size_t n);

/* Appends p[0..n) to dst as valid UTF-8: invalid bytes become U+FFFD.
 * For JSON, which must hold valid UTF-8 whatever a host sends. */
int text_utf8(struct buf *dst, const char *p, size_t n);

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
size_t text_utf8_len(const unsigned char *p, size_t n);

#endif
