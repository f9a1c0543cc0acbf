/*
 * text.c - escaping remote bytes for terminals and JSON.
 */
#include "oneoff/text.h"

#include <stdio.h>

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

size_t text_plain_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n && ((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t'))
        i++;
    return i;
}

int text_escape(struct buf *dst, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];
    size_t i = text_plain_len(s, n);

    /* the common case: a whole line of printable ASCII */
    if (buf_add(dst, p, i))
        return -1;
    while (i < n) {
        unsigned c = p[i];
        size_t run = i;

        /* copy the longest plain printable ASCII run in one call */
        while (run < n && ((p[run] >= 0x20 && p[run] < 0x7f) || p[run] == '\t'))
            run++;
        if (run > i) {
            if (buf_add(dst, p + i, run - i))
                return -1;
            i = run;
            continue;
        }
        if (c >= 0x80) {
            size_t len = text_utf8_len(p + i, n - i);
            /* U+0080..U+009F (C1 controls) are C2 80..C2 9F */
            if (len > 1 && !(len == 2 && c == 0xc2 && p[i + 1] < 0xa0)) {
                if (buf_add(dst, p + i, len))
                    return -1;
                i += len;
                continue;
            }
        }
        if (c == 0x1b)
            snprintf(esc, sizeof(esc), "\\e");
        else if (c == '\r')
            snprintf(esc, sizeof(esc), "\\r");
        else
            snprintf(esc, sizeof(esc), "\\x%02x", c);
        if (buf_adds(dst, esc))
            return -1;
        i++;
    }
    return 0;
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
