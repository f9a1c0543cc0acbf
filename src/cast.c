/*
 * cast.c - asciinema v2 transcripts (see cast.h).
 */
#define _GNU_SOURCE
#include "oneoff/cast.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Length of the UTF-8 sequence led by c, 0 when c cannot lead one. */
static size_t seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/* Whether byte k (k >= 1) of a sequence led by lead may be b. */
static bool cont_ok(unsigned char lead, size_t k, unsigned char b)
{
    if (b < 0x80 || b > 0xbf)
        return false;
    if (k != 1)
        return true;
    if (lead == 0xe0)
        return b >= 0xa0;
    if (lead == 0xed)
        return b <= 0x9f;
    if (lead == 0xf0)
        return b >= 0x90;
    if (lead == 0xf4)
        return b <= 0x8f;
    return true;
}

static int add_char(struct buf *b, unsigned char c)
{
    switch (c) {
    case '"':
        return buf_adds(b, "\\\"");
    case '\\':
        return buf_adds(b, "\\\\");
    case '\n':
        return buf_adds(b, "\\n");
    case '\r':
        return buf_adds(b, "\\r");
    case '\t':
        return buf_adds(b, "\\t");
    default:
        if (c < 0x20 || c == 0x7f)
            return buf_addf(b, "\\u%04x", c);
        return buf_addc(b, (char)c);
    }
}

int cast_json_text(struct buf *b, char held[4], size_t *nheld, const char *p,
                   size_t n, bool flush)
{
    unsigned char h[4];
    size_t nh = *nheld, total = nh + n, i = 0;

    /* the held bytes and p, read as one text */
#define AT(k) ((k) < nh ? h[(k)] : (unsigned char)p[(k)-nh])
    memcpy(h, held, nh);
    *nheld = 0;
    while (i < total) {
        unsigned char c = AT(i);
        size_t k = seq_len(c), j;

        if (k == 1) {
            if (add_char(b, c))
                return -1;
            i++;
            continue;
        }
        for (j = 1; k && j < k && i + j < total; j++)
            if (!cont_ok(c, j, AT(i + j)))
                break;
        if (k && j == k) {
            for (size_t m = 0; m < k; m++)
                if (buf_addc(b, (char)AT(i + m)))
                    return -1;
            i += k;
        } else if (k && i + j == total && !flush) {
            /* cut at the end: kept for what follows */
            for (size_t m = 0; m < total - i; m++)
                held[m] = (char)AT(i + m);
            *nheld = total - i;
            break;
        } else {
            if (buf_adds(b, "\xef\xbf\xbd"))
                return -1;
            i++;
        }
    }
#undef AT
    return 0;
}

static void put(struct cast *c, const struct buf *b)
{
    if (c->failed || c->f == NULL)
        return;
    if (fwrite(b->data, 1, b->len, c->f) != b->len || fflush(c->f) != 0) {
        c->failed = true;
        errf(c->error, "cannot write the transcript: %s", strerror(errno));
    }
}

static double since(const struct cast *c)
{
    return (double)(clock_mono_ms() - c->t0_ms) / 1000.0;
}

int cast_open(struct cast *c, const char *path, unsigned width, unsigned height,
              const char *term, char *err)
{
    struct buf b = BUF_INIT(4096);
    char h[4];
    size_t nh = 0;
    int fd;

    memset(c, 0, sizeof(*c));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (c->f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        return errf(err, "cannot create '%s': %s", path, strerror(errno));
    }
    c->t0_ms = clock_mono_ms();
    /* a TERM longer than the header's room is cut: it is only a hint */
    if (buf_addf(&b,
                 "{\"version\": 2, \"width\": %u, \"height\": %u, "
                 "\"timestamp\": %lld, \"env\": {\"TERM\": \"",
                 width, height, (long long)time(NULL)) ||
        cast_json_text(&b, h, &nh, term, strnlen(term, 256), true) ||
        buf_adds(&b, "\"}}\n"))
        buf_reset(&b);
    put(c, &b);
    buf_release(&b);
    if (c->failed)
        return errf(err, "%s", c->error);
    return 0;
}

void cast_output(struct cast *c, const char *p, size_t n)
{
    /* output comes in chunks of at most 32 KiB; escaped, a byte is at
     * most 6 */
    struct buf b = BUF_INIT(64 + 6 * (n + 4));

    BUF_MUST(buf_addf(&b, "[%.6f, \"o\", \"", since(c)));
    BUF_MUST(cast_json_text(&b, c->held, &c->nheld, p, n, false));
    BUF_MUST(buf_adds(&b, "\"]\n"));
    put(c, &b);
    buf_release(&b);
}

void cast_resize(struct cast *c, unsigned width, unsigned height)
{
    struct buf b = BUF_INIT(128);

    BUF_MUST(buf_addf(&b, "[%.6f, \"r\", \"%ux%u\"]\n", since(c), width,
                      height)); /* fits 128 */
    put(c, &b);
    buf_release(&b);
}

int cast_close(struct cast *c, char *err)
{
    int rc = 0;

    if (c->f == NULL)
        return 0;
    if (c->nheld) {
        struct buf b = BUF_INIT(64);
        BUF_MUST(buf_addf(&b, "[%.6f, \"o\", \"", since(c)));
        BUF_MUST(cast_json_text(&b, c->held, &c->nheld, "", 0, true));
        BUF_MUST(buf_adds(&b, "\"]\n"));
        put(c, &b);
        buf_release(&b);
    }
    if (fclose(c->f) != 0 && !c->failed) {
        c->failed = true;
        errf(c->error, "cannot write the transcript: %s", strerror(errno));
    }
    c->f = NULL;
    if (c->failed)
        rc = errf(err, "%s", c->error);
    return rc;
}
