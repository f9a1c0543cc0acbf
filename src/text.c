/*
 * text.c - escaping bytes for terminals and messages (text.h lists the
 * escapes) and making them valid UTF-8 for JSON.
 */
#include "oneoff/text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

size_t text_utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static bool plain(unsigned char c)
{
    return (c >= 0x20 && c < 0x7f && c != '\\') || c == '\t';
}

size_t text_plain_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n && plain(p[i]))
        i++;
    return i;
}

static bool bidi_control(unsigned cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* The character at p[0..n) (n > 0): *used is how many bytes it takes; the
 * result is the length of its escape, written to esc (NUL-terminated), or 0
 * when it is shown as it is. */
static size_t escape_one(const unsigned char *p, size_t n, size_t *used,
                         char esc[16])
{
    unsigned c = p[0];
    size_t len;

    *used = 1;
    if (plain(c))
        return 0;
    if (c == '\\')
        return (size_t)snprintf(esc, 16, "\\\\");
    if (c == 0x1b)
        return (size_t)snprintf(esc, 16, "\\e");
    if (c == '\r')
        return (size_t)snprintf(esc, 16, "\\r");
    len = c >= 0x80 ? text_utf8_len(p, n) : 0;
    /* U+0080..U+009F (C1 controls) are C2 80..C2 9F: byte by byte */
    if (len > 1 && !(len == 2 && c == 0xc2 && p[1] < 0xa0)) {
        unsigned cp = 0; /* four-byte sequences hold no bidi control */
        if (len == 2)
            cp = ((c & 0x1fu) << 6) | (p[1] & 0x3fu);
        else if (len == 3)
            cp = ((c & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
        *used = len;
        if (bidi_control(cp))
            return (size_t)snprintf(esc, 16, "\\u{%04x}", cp);
        return 0;
    }
    return (size_t)snprintf(esc, 16, "\\x%02x", c);
}

int text_escape(struct buf *dst, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        char esc[16];
        size_t used = 0, elen = 0, run = i;

        /* the longest run shown as it is goes in one append (usually a
         * whole line of printable ASCII) */
        while (run < n) {
            if (plain(p[run])) {
                run++;
                continue;
            }
            elen = escape_one(p + run, n - run, &used, esc);
            if (elen)
                break;
            run += used;
        }
        if (run > i && buf_add(dst, p + i, run - i))
            return -1;
        if (run == n)
            break;
        if (buf_add(dst, esc, elen))
            return -1;
        i = run + used;
    }
    return 0;
}

const char *text_escape_msg(const char *s, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0, cut = 0;

    /* copy escape by escape; remember the last place where "..." still
     * fits, in case the rest does not */
    while (i < n) {
        char esc[16];
        size_t used, elen = escape_one(p + i, n - i, &used, esc);
        const char *piece = elen ? esc : s + i;
        size_t plen = elen ? elen : used;

        if (o + plen + 1 > size)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        i += used;
        if (o + 4 <= size)
            cut = o;
    }
    if (i < n) {
        memcpy(out + cut, "...", 3);
        o = cut + 3;
    }
    out[o] = '\0';
    return out;
}

int text_utf8(struct buf *dst, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t len = text_utf8_len(p + i, n - i);
        if (len == 0) {
            if (buf_adds(dst, "\xef\xbf\xbd"))
                return -1;
            i++;
            continue;
        }
        if (buf_add(dst, p + i, len))
            return -1;
        i += len;
    }
    return 0;
}
