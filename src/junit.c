/*
 * junit.c - the JUnit XML report (see junit.h).
 */
#include "oneoff/junit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"
#include "oneoff/util.h"

/* The document holds at most a few tails of 64 KiB per host, each at most
 * 6 bytes per byte once escaped: no practical bound is needed. */
#define DOC_MAX (SIZE_MAX / 2)

/* Appends p[0..n) as XML character data or an attribute value. */
static void add_xml(struct buf *b, const char *p, size_t n)
{
    struct buf u;

    buf_init(&u, 3 * n + 1);
    BUF_MUST(text_utf8(&u, p ? p : "", p ? n : 0));
    for (size_t i = 0; i < u.len; i++) {
        unsigned char c = (unsigned char)u.data[i];
        switch (c) {
        case '&':
            BUF_MUST(buf_add(b, "&amp;", 5));
            break;
        case '<':
            BUF_MUST(buf_add(b, "&lt;", 4));
            break;
        case '>':
            BUF_MUST(buf_add(b, "&gt;", 4));
            break;
        case '"':
            BUF_MUST(buf_add(b, "&quot;", 6));
            break;
        case '\'':
            BUF_MUST(buf_add(b, "&apos;", 6));
            break;
        default:
            /* control characters are not XML (U+FFFE, U+FFFF neither) */
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                break;
            if (c == 0xEF && i + 2 < u.len &&
                (unsigned char)u.data[i + 1] == 0xBF &&
                ((unsigned char)u.data[i + 2] & 0xFE) == 0xBE) {
                i += 2;
                break;
            }
            BUF_MUST(buf_addc(b, (char)c));
        }
    }
    buf_release(&u);
}

static void add_xs(struct buf *b, const char *s)
{
    add_xml(b, s, s ? strlen(s) : 0);
}

static void add_property(struct buf *b, const char *name, const char *value)
{
    BUF_MUST(buf_addf(b, "      <property name=\"%s\" value=\"", name));
    add_xs(b, value);
    BUF_MUST(buf_add(b, "\"/>\n", 4));
}

static bool passed(const char *status)
{
    return strcmp(status, "ok") == 0 || strcmp(status, "ready") == 0 ||
           strcmp(status, "checked") == 0;
}

static bool skipped(const char *status)
{
    return strcmp(status, "skipped") == 0 || strcmp(status, "refused") == 0;
}

static double seconds(int64_t from, int64_t to)
{
    return from && to && to >= from ? (double)(to - from) / 1000.0 : 0.0;
}

static void add_case(struct buf *b, const struct record_run *run,
                     const struct record_host *h)
{
    const char *st = h->status ? h->status : "unknown";
    char how[96];

    BUF_MUST(buf_add(b, "    <testcase name=\"", 20));
    add_xs(b, h->name);
    BUF_MUST(buf_add(b, "\" classname=\"", 13));
    add_xs(b, run->stage);
    BUF_MUST(buf_addc(b, '.'));
    add_xs(b, run->task);
    BUF_MUST(buf_addf(b, "\" time=\"%.3f\">\n",
                      seconds(h->started_ms, h->finished_ms)));
    if (skipped(st)) {
        BUF_MUST(buf_add(b, "      <skipped message=\"", 24));
        add_xs(b, h->error ? h->error : st);
        BUF_MUST(buf_add(b, "\"/>\n", 4));
    } else if (!passed(st)) {
        if (h->signal)
            snprintf(how, sizeof(how), "signal %s", h->signal);
        else if (h->exit_code >= 0)
            snprintf(how, sizeof(how), "exit %d", h->exit_code);
        else
            snprintf(how, sizeof(how), "%s", st);
        BUF_MUST(buf_add(b, "      <failure message=\"", 24));
        add_xs(b, how);
        if (h->error) {
            BUF_MUST(buf_add(b, ": ", 2));
            add_xs(b, h->error);
        }
        BUF_MUST(buf_add(b, "\" type=\"", 8));
        add_xs(b, st);
        BUF_MUST(buf_add(b, "\">", 2));
        add_xml(b, h->err.text, h->err.len);
        BUF_MUST(buf_add(b, "</failure>\n", 11));
    }
    if (h->out.len) {
        BUF_MUST(buf_add(b, "      <system-out>", 18));
        add_xml(b, h->out.text, h->out.len);
        BUF_MUST(buf_add(b, "</system-out>\n", 14));
    }
    if (h->err.len) {
        BUF_MUST(buf_add(b, "      <system-err>", 18));
        add_xml(b, h->err.text, h->err.len);
        BUF_MUST(buf_add(b, "</system-err>\n", 14));
    }
    BUF_MUST(buf_add(b, "    </testcase>\n", 16));
}

char *junit_format(const struct record_run *run,
                   const struct record_host *hosts, size_t n)
{
    struct buf b = BUF_INIT(DOC_MAX);
    size_t nfail = 0, nskip = 0;
    double total = seconds(run->started_ms, run->finished_ms);
    char ts[40] = "", code[16];

    for (size_t i = 0; i < n; i++) {
        const char *st = hosts[i].status ? hosts[i].status : "unknown";
        if (skipped(st))
            nskip++;
        else if (!passed(st))
            nfail++;
    }
    if (run->started_ms)
        time_format_iso(run->started_ms, ts, sizeof(ts));
    BUF_MUST(buf_addf(&b,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<testsuites name=\"oneoff\" tests=\"%zu\" "
                      "failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
                      "time=\"%.3f\">\n"
                      "  <testsuite name=\"",
                      n, nfail, nskip, total));
    add_xs(&b, run->task);
    BUF_MUST(buf_add(&b, " on ", 4));
    add_xs(&b, run->stage);
    BUF_MUST(buf_add(&b, "\" id=\"", 6));
    add_xs(&b, run->run_id);
    BUF_MUST(buf_addf(&b,
                      "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                      "skipped=\"%zu\" time=\"%.3f\" timestamp=\"%s\">\n"
                      "    <properties>\n",
                      n, nfail, nskip, total, ts));
    add_property(&b, "run_id", run->run_id);
    add_property(&b, "stage", run->stage);
    add_property(&b, "task", run->task);
    snprintf(code, sizeof(code), "%d", run->exit_code);
    if (run->exit_code >= 0)
        add_property(&b, "exit_code", code);
    if (run->refused)
        add_property(&b, "refused", run->refused);
    BUF_MUST(buf_add(&b, "    </properties>\n", 18));
    for (size_t i = 0; i < n; i++)
        add_case(&b, run, &hosts[i]);
    BUF_MUST(buf_add(&b, "  </testsuite>\n</testsuites>\n", 29));
    return buf_detach(&b);
}

int junit_write(const char *path, const struct record_run *run,
                const struct record_host *hosts, size_t n, char *err)
{
    char *doc = junit_format(run, hosts, n);
    int rc = record_file_replace(path, doc, strlen(doc), true, err);

    free(doc);
    return rc;
}
