/*
 * test_gather.c - gathered output: grouping by identical output and
 * ending, headers as node sets, the line diff (checked against patches it
 * must apply and against known hunks), the bounds, the closing summary's
 * listing and the status line's text.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneoff/gather.h"
#include "oneoff/output.h"
#include "oneoff/progress.h"

/* ---- helpers ------------------------------------------------------------- */

struct fake {
    struct buf kept[LINE_STREAMS];
};

static void fake_set(struct fake *f, const char *out, const char *err)
{
    for (int s = 0; s < LINE_STREAMS; s++)
        buf_init(&f->kept[s], 1u << 20);
    assert_int_equal(buf_adds(&f->kept[LINE_OUT], out), 0);
    assert_int_equal(buf_adds(&f->kept[LINE_ERR], err), 0);
}

static void fake_release(struct fake *f)
{
    for (int s = 0; s < LINE_STREAMS; s++)
        buf_release(&f->kept[s]);
}

static void host_of(struct gather_host *h, const char *name, const char *status,
                    const char *exit, struct fake *f)
{
    h->name = name;
    h->status = status;
    h->exit = exit;
    for (int s = 0; s < LINE_STREAMS; s++)
        h->kept[s] = &f->kept[s];
}

static int capture_open(char *path, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    int fd;

    snprintf(path, n, "%s/oneoff-test-%s.XXXXXX", t && *t ? t : "/tmp", tag);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

static char *capture_read(int fd, const char *path)
{
    char *data = NULL;
    size_t len;

    close(fd);
    assert_int_equal(file_read(path, 256u << 20, &data, &len), 0);
    unlink(path);
    return data;
}

/* ---- grouping ------------------------------------------------------------ */

static void test_groups_biggest_first(void **state)
{
    static const char *names[] = {"db1",  "web1", "web2", "web3",
                                  "web4", "web5", "web7", "web9"};
    struct fake f[8];
    struct gather_host h[8];
    struct gather_group *g;
    size_t ng;
    char *head;

    (void)state;
    for (int i = 0; i < 8; i++) {
        /* web4 and db1 print something else; web9 the same as most, but
         * exits 3; web5 the same as most but one more stderr line */
        fake_set(&f[i], i == 0 || i == 4 ? "other\n" : "same\nlines\n",
                 i == 5 ? "warn\nmore\n" : "warn\n");
        host_of(&h[i], names[i], i == 7 ? "failed" : "ok", i == 7 ? "3" : "0",
                &f[i]);
    }
    gather_group(h, 8, &g, &ng);
    assert_int_equal(ng, 4);
    /* web1, web2, web3, web7 */
    assert_int_equal(g[0].n, 4);
    assert_int_equal(g[0].v[0], 1);
    assert_int_equal(g[0].v[3], 6);
    head = gather_header(h, &g[0]);
    assert_string_equal(head, "web[1-3,7] (4 hosts): ok, exit 0");
    free(head);
    /* db1 and web4 */
    assert_int_equal(g[1].n, 2);
    head = gather_header(h, &g[1]);
    assert_string_equal(head, "db1,web4 (2 hosts): ok, exit 0");
    free(head);
    /* groups of one, in host order: web5, then web9 (the exit splits) */
    assert_int_equal(g[2].n, 1);
    assert_int_equal(g[2].v[0], 5);
    assert_int_equal(g[3].v[0], 7);
    head = gather_header(h, &g[3]);
    assert_string_equal(head, "web9 (1 host): failed, exit 3");
    free(head);
    gather_groups_release(g, ng);
    for (int i = 0; i < 8; i++)
        fake_release(&f[i]);
}

/* stdout "a\n" + stderr "" is not stdout "" + stderr "a\n"; a signal is
 * named as such in the header. */
static void test_key_separates_streams(void **state)
{
    struct fake f[3];
    struct gather_host h[3];
    struct gather_group *g;
    size_t ng;
    char *head;

    (void)state;
    fake_set(&f[0], "a\n", "");
    fake_set(&f[1], "", "a\n");
    fake_set(&f[2], "a\n", "");
    host_of(&h[0], "n1", "failed", "SIGKILL", &f[0]);
    host_of(&h[1], "n2", "failed", "SIGKILL", &f[1]);
    host_of(&h[2], "n3", "failed", "SIGKILL", &f[2]);
    assert_true(gather_hash(&h[0]) != gather_hash(&h[1]));
    assert_true(gather_hash(&h[0]) == gather_hash(&h[2]));
    gather_group(h, 3, &g, &ng);
    assert_int_equal(ng, 2);
    assert_int_equal(g[0].n, 2);
    head = gather_header(h, &g[0]);
    assert_string_equal(head, "n[1,3] (2 hosts): failed, SIGKILL");
    free(head);
    gather_groups_release(g, ng);
    for (int i = 0; i < 3; i++)
        fake_release(&f[i]);
}

/* A name that cannot be folded is listed; remote bytes are escaped. */
static void test_header_and_lines_escaped(void **state)
{
    struct fake f;
    struct gather_host h[2];
    struct gather_group g;
    size_t v[2] = {0, 1};
    struct buf b = BUF_INIT(1u << 20);
    char *head;

    (void)state;
    fake_set(&f, "red \033[31m\nwin\r\n", "");
    host_of(&h[0], "a b", "ok", "0", &f);
    host_of(&h[1], "c", "ok", "0", &f);
    g.v = v;
    g.n = 2;
    head = gather_header(h, &g);
    assert_string_equal(head, "a b,c (2 hosts): ok, exit 0");
    free(head);
    assert_int_equal(gather_lines(&b, "", &f.kept[LINE_OUT]), 0);
    assert_string_equal(buf_str(&b), "red \\e[31m\nwin\n");
    buf_release(&b);
    fake_release(&f);
}

/* ---- the diff ------------------------------------------------------------ */

static char *diff_of(const char *a, const char *b, int *rc)
{
    struct buf ba = BUF_INIT(1u << 24), bb = BUF_INIT(1u << 24),
               d = BUF_INIT(1u << 26);

    assert_int_equal(buf_adds(&ba, a), 0);
    assert_int_equal(buf_adds(&bb, b), 0);
    *rc = gather_diff(&d, "", &ba, &bb);
    buf_release(&ba);
    buf_release(&bb);
    return buf_detach(&d);
}

static void test_diff_hunks(void **state)
{
    int rc;
    char *d;

    (void)state;
    d = diff_of("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\n5\n6\n7\n8\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(d, "");
    free(d);
    d = diff_of("one\ntwo\nthree\nfive\nsix\nseven\neight\n",
                "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(d, "@@ -1,6 +1,7 @@\n one\n two\n three\n+four\n"
                           " five\n six\n seven\n");
    free(d);
    /* two changes far apart: two hunks; a change at the very start */
    d = diff_of("a\n1\n2\n3\n4\n5\n6\n7\n8\n9\nz\n",
                "A\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(d, "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n"
                           "@@ -8,4 +8,3 @@\n 7\n 8\n 9\n-z\n");
    free(d);
    /* from nothing */
    d = diff_of("", "x\ny\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(d, "@@ -0,0 +1,2 @@\n+x\n+y\n");
    free(d);
    /* escaped */
    d = diff_of("a\n", "\033]0;t\a\n", &rc);
    assert_string_equal(d, "@@ -1,1 +1,1 @@\n-a\n+\\e]0;t\\x07\n");
    free(d);
}

/* Too different: said so, nothing written. */
static void test_diff_bounded(void **state)
{
    struct buf a = BUF_INIT(1u << 24), b = BUF_INIT(1u << 24);
    char *d;
    int rc;

    (void)state;
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(buf_addf(&a, "a%d\n", i), 0);
        assert_int_equal(buf_addf(&b, "b%d\n", i), 0);
    }
    d = diff_of(buf_str(&a), buf_str(&b), &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(d, "");
    free(d);
    buf_release(&a);
    buf_release(&b);
}

/* Applies a unified diff made by gather_diff to a; returns the result. */
static char *patch(const char *a, const char *d)
{
    struct buf out = BUF_INIT(1u << 24);
    const char *ap = a;
    long aline = 1;

    while (*d) {
        long as, ac, bs, bc;
        const char *nl;
        assert_int_equal(
            sscanf(d, "@@ -%ld,%ld +%ld,%ld @@", &as, &ac, &bs, &bc), 4);
        d = strchr(d, '\n') + 1;
        if (ac == 0)
            as++;
        while (aline < as) { /* copy lines before the hunk */
            nl = strchr(ap, '\n');
            assert_int_equal(buf_add(&out, ap, (size_t)(nl - ap + 1)), 0);
            ap = nl + 1;
            aline++;
        }
        while (*d && *d != '@') {
            nl = strchr(d, '\n');
            if (*d == ' ' || *d == '-') {
                const char *anl = strchr(ap, '\n');
                assert_int_equal((long)(anl - ap), (long)(nl - d - 1));
                assert_memory_equal(ap, d + 1, (size_t)(anl - ap));
                ap = anl + 1;
                aline++;
            }
            if (*d == ' ' || *d == '+')
                assert_int_equal(buf_add(&out, d + 1, (size_t)(nl - d)), 0);
            d = nl + 1;
        }
    }
    assert_int_equal(buf_adds(&out, ap), 0);
    return buf_detach(&out);
}

/* Random texts over a small alphabet: the diff applied to a gives b. */
static void test_diff_applies(void **state)
{
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 300; round++) {
        struct buf a = BUF_INIT(1u << 20), b = BUF_INIT(1u << 20);
        int na = (int)(rand_r(&seed) % 40), nb;
        char *d, *p;
        int rc;
        for (int i = 0; i < na; i++)
            assert_int_equal(buf_addf(&a, "l%u\n", rand_r(&seed) % 6), 0);
        /* b: a with random edits */
        nb = na + (int)(rand_r(&seed) % 9) - 4;
        if (rand_r(&seed) % 2 == 0) {
            const char *p0 = buf_str(&a);
            while (*p0) {
                const char *nl = strchr(p0, '\n');
                unsigned r = rand_r(&seed) % 10;
                if (r == 0) {
                    assert_int_equal(buf_adds(&b, "new\n"), 0);
                } else if (r != 1) {
                    assert_int_equal(buf_add(&b, p0, (size_t)(nl - p0 + 1)), 0);
                }
                p0 = nl + 1;
            }
        } else {
            for (int i = 0; i < nb; i++)
                assert_int_equal(buf_addf(&b, "l%u\n", rand_r(&seed) % 6), 0);
        }
        d = diff_of(buf_str(&a), buf_str(&b), &rc);
        assert_int_equal(rc, 0);
        p = patch(buf_str(&a), d);
        assert_string_equal(p, buf_str(&b));
        free(p);
        free(d);
        buf_release(&a);
        buf_release(&b);
    }
}

/* ---- through the output -------------------------------------------------- */

static void test_gathered_output(void **state)
{
    char po[256], pe[256];
    struct output o;
    struct output_host h[4], *hp[4];
    struct summary_row rows[4];
    static const char *names[] = {"web1", "web2", "web3", "web4"};
    char *out, *err;

    (void)state;
    output_init(&o, OUT_GATHER, 4, false);
    o.color[0] = o.color[1] = false;
    o.fd[0] = capture_open(po, sizeof(po), "gout");
    o.fd[1] = capture_open(pe, sizeof(pe), "gerr");
    o.diff = true;
    memset(rows, 0, sizeof(rows));
    for (int i = 0; i < 4; i++) {
        struct line l[2] = {{"hello", 5, true},
                            {i == 2 ? "bye!" : "bye", i == 2 ? 4 : 3, true}};
        struct line e = {"warn", 4, true};
        output_host_init(&o, &h[i], names[i], (size_t)i);
        hp[i] = &h[i];
        output_lines(&o, &h[i], LINE_OUT, l, 2);
        output_lines(&o, &h[i], LINE_ERR, &e, 1);
        output_host_done(&o, &h[i]);
        rows[i].host = names[i];
        rows[i].status = "ok";
        snprintf(rows[i].exit, sizeof(rows[i].exit), "0");
    }
    /* nothing before the end */
    assert_int_equal(lseek(o.fd[0], 0, SEEK_END), 0);
    output_gathered(&o, hp, rows, 4);
    out = capture_read(o.fd[0], po);
    err = capture_read(o.fd[1], pe);
    assert_string_equal(out, "---------------\n"
                             "web[1-2,4] (3 hosts): ok, exit 0\n"
                             "---------------\n"
                             "hello\nbye\n"
                             "---------------\n"
                             "web3 (1 host): ok, exit 0\n"
                             "---------------\n"
                             "--- web[1-2,4] (stdout)\n"
                             "+++ web3 (stdout)\n"
                             "@@ -1,2 +1,2 @@\n hello\n-bye\n+bye!\n");
    /* stderr: under the first group's header, once (the same elsewhere) */
    assert_string_equal(err, "---------------\n"
                             "web[1-2,4] (3 hosts): ok, exit 0\n"
                             "---------------\n"
                             "warn\n");
    free(out);
    free(err);
    for (int i = 0; i < 4; i++)
        output_host_release(&h[i]);
    output_release(&o);
}

/* Past GATHER_HOST_MAX, a host is shown on its own, every line kept. */
static void test_gather_bound_spills(void **state)
{
    char po[256], pe[256];
    struct output o;
    struct output_host h;
    char line[1000];
    struct line l = {line, sizeof(line), true};
    size_t want = GATHER_HOST_MAX / sizeof(line) + 10, got = 0;
    char *out, *err, *p;

    (void)state;
    memset(line, 'x', sizeof(line));
    output_init(&o, OUT_GATHER, 2, false);
    o.color[0] = o.color[1] = false;
    o.fd[0] = capture_open(po, sizeof(po), "sout");
    o.fd[1] = capture_open(pe, sizeof(pe), "serr");
    output_host_init(&o, &h, "h1", 0);
    for (size_t i = 0; i < want; i++)
        output_lines(&o, &h, LINE_OUT, &l, 1);
    assert_true(h.spilled);
    assert_int_equal(o.kept_total, 0);
    output_host_done(&o, &h);
    out = capture_read(o.fd[0], po);
    err = capture_read(o.fd[1], pe);
    for (p = out; (p = strstr(p, "h1 | x")) != NULL; p++)
        got++;
    assert_int_equal(got, want);
    assert_non_null(strstr(err, "h1: more output than gathering keeps"));
    free(out);
    free(err);
    output_host_release(&h);
    output_release(&o);
}

/* ---- the summary and the status line ------------------------------------- */

static char *summary_of(enum summary_mode m, bool quiet, size_t n)
{
    char p[256];
    struct output o;
    struct summary_row *rows = calloc(n, sizeof(*rows));
    char(*names)[16] = calloc(n, 16);
    char *s;

    output_init(&o, OUT_STREAM, 4, false);
    o.fd[0] = capture_open(p, sizeof(p), "sum");
    o.summary = m;
    o.quiet = quiet;
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 16, "n%zu", i + 1);
        rows[i].host = names[i];
        rows[i].status = i == 4 ? "failed" : "ok";
        snprintf(rows[i].exit, sizeof(rows[i].exit), i == 4 ? "1" : "0");
    }
    output_summary(&o, rows, n);
    s = capture_read(o.fd[0], p);
    output_release(&o);
    free(rows);
    free(names);
    return s;
}

static void test_summary_listing(void **state)
{
    char *s;

    (void)state;
    s = summary_of(SUMMARY_AUTO, false, 20); /* every host */
    assert_non_null(strstr(s, "\nn20 "));
    free(s);
    s = summary_of(SUMMARY_AUTO, false, 21); /* only n5 */
    assert_null(strstr(s, "\nn1 "));
    assert_non_null(strstr(s, "\nn5 "));
    assert_non_null(strstr(s, "\n20 ok, 1 failed, 0 unreachable\n"));
    free(s);
    s = summary_of(SUMMARY_FULL, false, 21);
    assert_non_null(strstr(s, "\nn21 "));
    free(s);
    s = summary_of(SUMMARY_SHORT, false, 3); /* all ok: no table */
    assert_string_equal(s, "\n3 ok, 0 failed, 0 unreachable\n");
    free(s);
    s = summary_of(SUMMARY_FULL, true, 5); /* -q: only those not ok */
    assert_null(strstr(s, "\nn1 "));
    assert_non_null(strstr(s, "\nn5 "));
    free(s);
}

static void test_status_line(void **state)
{
    struct plan plan;
    struct plan_host ph[4];
    struct host hs[4];
    struct output o;
    struct output_host oh[4], *ohp[4];
    struct host_table tab;
    struct progress p;
    char line[200];
    static const char *names[] = {"web1", "web2", "web3", "web4"};

    (void)state;
    memset(&plan, 0, sizeof(plan));
    memset(ph, 0, sizeof(ph));
    memset(hs, 0, sizeof(hs));
    output_init(&o, OUT_STREAM, 4, false);
    host_table_init(&tab, 4);
    for (int i = 0; i < 4; i++) {
        hs[i].name = (char *)names[i];
        ph[i].host = &hs[i];
        output_host_init(&o, &oh[i], names[i], (size_t)i);
        ohp[i] = &oh[i];
    }
    plan.hosts = ph;
    plan.nhosts = 4;
    progress_init(&p, &o, &tab, &plan, ohp, false, 5000);
    /* web1 done and failed; web2 and web3 running; web4 waiting */
    host_finish(&tab, 0, HOST_FAILED, "x");
    {
        struct host_update u = HOST_UPDATE(PHASE_CONNECTING);
        host_transition(&tab, 1, &u);
        host_transition(&tab, 2, &u);
    }
    p.line = true;
    host_table_snapshot(&tab, p.rows);
    for (int i = 0; i < 4; i++)
        p.phase[i] = p.rows[i].phase;
    p.since[1] = p.t0 - 2000;  /* the slowest */
    p.since[2] = p.t0 - 20000; /* and silent */
    atomic_store(&oh[1].last_line_ms, p.t0);
    progress_render(&p, p.t0 + 62000, sizeof(line) - 1, line);
    assert_string_equal(line, "[1m2s] 1/4 done, 2 running, 1 waiting, 1 "
                              "failed; slowest: web3 1m22s, web2 1m4s; "
                              "silent: web3 1m22s, web2 1m2s");
    progress_render(&p, p.t0 + 62000, 20, line);
    assert_string_equal(line, "[1m2s] 1/4 done, 2 r");
    progress_release(&p);
    host_table_release(&tab);
    for (int i = 0; i < 4; i++)
        output_host_release(&oh[i]);
    output_release(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_biggest_first),
        cmocka_unit_test(test_key_separates_streams),
        cmocka_unit_test(test_header_and_lines_escaped),
        cmocka_unit_test(test_diff_hunks),
        cmocka_unit_test(test_diff_bounded),
        cmocka_unit_test(test_diff_applies),
        cmocka_unit_test(test_gathered_output),
        cmocka_unit_test(test_gather_bound_spills),
        cmocka_unit_test(test_summary_listing),
        cmocka_unit_test(test_status_line),
    };

    return cmocka_run_group_tests_name("gather", tests, NULL, NULL);
}
