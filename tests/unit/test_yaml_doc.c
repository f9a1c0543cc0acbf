/*
 * test_yaml_doc.c - unit tests for yaml_doc.c: the located tree, the
 * strict refusals (syntax, tabs, duplicates, anchors, aliases, tags, depth,
 * several documents, NUL bytes, size) and the typed readers with their
 * exact "NAME:LINE:COL: message" errors.
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

#include "oneoff/util.h"
#include "oneoff/yaml_doc.h"

#define NAME "t.yml"

static void parse_ok(struct ydoc *d, const char *text)
{
    char err[ERR_MAX] = "";

    if (ydoc_parse(d, NAME, text, strlen(text), err) != 0)
        fail_msg("unexpected parse error: %s", err);
}

/* Checks the parse fails with exactly want; failures name the caller's
 * line. */
#define parse_fails(text, len, want) parse_fails_at(__LINE__, text, len, want)
#define parse_fails_s(text, want) \
    parse_fails_at(__LINE__, text, strlen(text), want)

static void parse_fails_at(int line, const char *text, size_t len,
                           const char *want)
{
    struct ydoc d;
    char err[ERR_MAX] = "";

    if (ydoc_parse(&d, NAME, text, len, err) != -1)
        fail_msg("line %d: parse succeeded, want \"%s\"", line, want);
    if (strcmp(err, want) != 0)
        fail_msg("line %d:\n got  \"%s\"\n want \"%s\"", line, err, want);
    /* On failure the document is left empty. */
    assert_null(d.root);
    assert_null(d.name);
    assert_int_equal(d.nodes, 0);
    ydoc_release(&d);
}

static void test_good_document(void **state)
{
    struct ydoc d;
    const struct ynode *r, *v;

    (void)state;
    parse_ok(&d, "# a comment\n"
                 "a: 1\n"
                 "b:\n"
                 "  - x\n"
                 "  - 'y z'\n"
                 "c: {d: e, f: [g, h]}\n"
                 "\"q k\": \"multi\\nline\"\n");
    assert_string_equal(d.name, NAME);
    r = d.root;
    assert_non_null(r);
    assert_int_equal(r->kind, YNODE_MAP);
    assert_int_equal(r->line, 2);
    assert_int_equal(r->col, 1);
    assert_int_equal(ymap_len(r), 4);
    assert_string_equal(ymap_key(r, 0)->str, "a");
    assert_string_equal(ymap_key(r, 3)->str, "q k");

    v = ymap_get(r, "a");
    assert_int_equal(v->kind, YNODE_SCALAR);
    assert_string_equal(v->str, "1");
    assert_int_equal(v->len, 1);
    assert_true(v->plain);
    assert_int_equal(v->line, 2);
    assert_int_equal(v->col, 4);

    v = ymap_get(r, "b");
    assert_int_equal(v->kind, YNODE_SEQ);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->line, 4);
    assert_int_equal(v->col, 3);
    assert_string_equal(v->item[0]->str, "x");
    assert_true(v->item[0]->plain);
    assert_string_equal(v->item[1]->str, "y z");
    assert_false(v->item[1]->plain);
    assert_int_equal(v->item[1]->line, 5);
    assert_int_equal(v->item[1]->col, 5);

    v = ymap_get(r, "c");
    assert_int_equal(v->kind, YNODE_MAP);
    assert_int_equal(v->line, 6);
    assert_int_equal(v->col, 4);
    assert_string_equal(ymap_get(v, "d")->str, "e");
    assert_int_equal(ymap_get(v, "f")->kind, YNODE_SEQ);
    assert_string_equal(ymap_get(v, "f")->item[1]->str, "h");
    assert_int_equal(ymap_get(v, "f")->item[1]->col, 18);

    assert_string_equal(ymap_get(r, "q k")->str, "multi\nline");
    assert_null(ymap_get(r, "missing"));
    assert_null(ymap_get(r, "q"));
    /* Not a map: no entries. */
    assert_int_equal(ymap_len(ymap_get(r, "b")), 0);
    assert_null(ymap_get(ymap_get(r, "b"), "x"));
    assert_true(d.nodes >= 12);
    ydoc_release(&d);
    assert_null(d.root);
    assert_null(d.name);
}

static void test_null_values(void **state)
{
    struct ydoc d;
    const struct ynode *r;

    (void)state;
    parse_ok(&d, "a:\nb: ~\nc: null\nd: ''\ne: 'null'\nf: \"~\"\ng: nul\n");
    r = d.root;
    assert_true(ynode_is_null(ymap_get(r, "a")));
    assert_true(ynode_is_null(ymap_get(r, "b")));
    assert_true(ynode_is_null(ymap_get(r, "c")));
    assert_false(ynode_is_null(ymap_get(r, "d")));
    assert_false(ynode_is_null(ymap_get(r, "e")));
    assert_false(ynode_is_null(ymap_get(r, "f")));
    assert_false(ynode_is_null(ymap_get(r, "g")));
    assert_true(ynode_is_null(NULL));
    ydoc_release(&d);
}

static void test_empty_file(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";

    (void)state;
    parse_ok(&d, "");
    assert_null(d.root);
    assert_int_equal(ydoc_want_map(&d, d.root, "the file", err), -1);
    assert_string_equal(err, "t.yml:1:1: the file is empty; expected a "
                             "mapping");
    ydoc_release(&d);

    parse_ok(&d, "# only a comment\n\n   \n");
    assert_null(d.root);
    ydoc_release(&d);

    parse_ok(&d, "---\n...\n");
    assert_non_null(d.root); /* an explicit empty document: a null scalar */
    assert_true(ynode_is_null(d.root));
    ydoc_release(&d);
}

static void test_syntax_error(void **state)
{
    (void)state;
    parse_fails_s("a: 1\nb: c: d\n",
                  "t.yml:2:5: mapping values are not allowed in this "
                  "context");
    parse_fails_s("a: [1, 2\nb: 3\n",
                  "t.yml:2:2: did not find expected ',' or ']' (while "
                  "parsing a flow sequence at 1:4)");
    parse_fails_s("a: 'open\n",
                  "t.yml:2:1: found unexpected end of stream (while "
                  "scanning a quoted scalar at 1:4)");
}

static void test_tab_indentation(void **state)
{
    (void)state;
    parse_fails_s("a:\n\tb: 1\n", "t.yml:2:1: tab character in "
                                  "indentation; YAML indents with spaces "
                                  "only");
    parse_fails_s("x:\n  y: 1\n  \tz: 2\n", "t.yml:3:3: tab character in "
                                            "indentation; YAML indents "
                                            "with spaces only");
}

static void test_invalid_utf8(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    static const char text[] = "a: \xff\xfe\n";

    (void)state;
    assert_int_equal(ydoc_parse(&d, NAME, text, sizeof(text) - 1, err), -1);
    assert_non_null(strstr(err, "t.yml: byte 3: "));
    assert_non_null(strstr(err, "(the file must be UTF-8 text)"));
    ydoc_release(&d);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    parse_fails_s("a: 1\nb: 2\na: 3\n",
                  "t.yml:3:1: duplicate key 'a' (first at line 1)");
    parse_fails_s("x:\n  k: 1\n  j: 2\n  k: 3\n",
                  "t.yml:4:3: duplicate key 'k' in 'x' (first at line 2)");
    /* Quoting does not make a key different. */
    parse_fails_s("port: 1\n'port': 2\n",
                  "t.yml:2:1: duplicate key 'port' (first at line 1)");
    parse_fails_s("h: {a: 1, b: 2, a: 3}\n",
                  "t.yml:1:17: duplicate key 'a' in 'h' (first at line 1)");
    /* The same key in different mappings is fine. */
    struct ydoc d;
    parse_ok(&d, "a: {k: 1}\nb: {k: 2}\n");
    ydoc_release(&d);
}

static void test_duplicate_key_many(void **state)
{
    struct buf_s {
        char *p;
        size_t n;
    } b;
    size_t cap = 2000 * 16 + 64;
    struct ydoc d;
    char err[ERR_MAX] = "";
    int64_t t0;

    (void)state;
    b.p = malloc(cap);
    b.n = 0;
    for (int i = 0; i < 2000; i++)
        b.n += (size_t)snprintf(b.p + b.n, cap - b.n, "k%d: %d\n", i, i);
    b.n += (size_t)snprintf(b.p + b.n, cap - b.n, "k17: again\n");
    t0 = clock_mono_ms();
    assert_int_equal(ydoc_parse(&d, NAME, b.p, b.n, err), -1);
    assert_string_equal(err, "t.yml:2001:1: duplicate key 'k17' (first at "
                             "line 18)");
    assert_true(clock_mono_ms() - t0 < 1000);
    free(b.p);
}

static void test_anchors_and_aliases_refused(void **state)
{
    (void)state;
    parse_fails_s("a: &x 1\nb: 2\n",
                  "t.yml:1:4: anchors (&x) are not supported; write the "
                  "values out");
    parse_fails_s("a: &m {k: v}\n",
                  "t.yml:1:4: anchors (&m) are not supported; write the "
                  "values out");
    parse_fails_s("a: &s [1]\n",
                  "t.yml:1:4: anchors (&s) are not supported; write the "
                  "values out");
    /* An alias alone (its anchor never defined) is refused as an alias. */
    parse_fails_s("a: 1\nb: *x\n",
                  "t.yml:2:4: aliases (*x) are not supported; write the "
                  "values out");
    /* Merge keys need aliases: refused too. */
    parse_fails_s("base: {a: 1}\nc:\n  <<: *base\n",
                  "t.yml:3:7: aliases (*base) are not supported; write the "
                  "values out");
}

static void test_alias_bomb_refused_quickly(void **state)
{
    static const char bomb[] =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
        "\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
        "j: [*i,*i,*i,*i,*i,*i,*i,*i,*i]\n";
    /* The same bomb with the anchors on scalars behind aliases only. */
    static const char aliases_only[] =
        "j: [*i,*i,*i,*i,*i,*i,*i,*i,*i]\n";
    int64_t t0 = clock_mono_ms();

    (void)state;
    parse_fails_s(bomb, "t.yml:1:4: anchors (&a) are not supported; write "
                        "the values out");
    parse_fails_s(aliases_only, "t.yml:1:5: aliases (*i) are not "
                                "supported; write the values out");
    assert_true(clock_mono_ms() - t0 < 1000);
}

static void test_tags_refused(void **state)
{
    (void)state;
    parse_fails_s("a: !!str 1\n",
                  "t.yml:1:4: tags (tag:yaml.org,2002:str) are not "
                  "supported");
    parse_fails_s("a: !custom x\n", "t.yml:1:4: tags (!custom) are not "
                                    "supported");
    parse_fails_s("a: !!seq [1]\n",
                  "t.yml:1:4: tags (tag:yaml.org,2002:seq) are not "
                  "supported");
    parse_fails_s("a: !!map {k: v}\n",
                  "t.yml:1:4: tags (tag:yaml.org,2002:map) are not "
                  "supported");
    parse_fails_s("!!python/object:os.system\nx: 1\n",
                  "t.yml:1:1: tags (tag:yaml.org,2002:python/object:"
                  "os.system) are not supported");
}

static char *nested(int depth)
{
    char *s = xmalloc((size_t)depth * 2 + 2);
    int i;

    for (i = 0; i < depth; i++)
        s[i] = '[';
    for (int j = 0; j < depth; j++)
        s[i + j] = ']';
    s[2 * depth] = '\n';
    s[2 * depth + 1] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    struct ydoc d;
    char *s;
    const struct ynode *n;
    int levels = 0;

    (void)state;
    s = nested(YDOC_MAX_DEPTH);
    parse_ok(&d, s);
    for (n = d.root; n && n->kind == YNODE_SEQ; n = n->n ? n->item[0] : NULL)
        levels++;
    assert_int_equal(levels, YDOC_MAX_DEPTH);
    ydoc_release(&d);
    free(s);

    s = nested(YDOC_MAX_DEPTH + 1);
    parse_fails_s(s, "t.yml:1:33: nesting deeper than 32 levels");
    free(s);

    /* Deep block mappings are refused the same way, at the 33rd level. */
    {
        char text[8192];
        size_t off = 0;
        for (int i = 0; i < 40; i++)
            off += (size_t)snprintf(text + off, sizeof(text) - off, "%*sk%d:\n",
                                    i * 2, "", i);
        parse_fails_s(text, "t.yml:33:65: nesting deeper than 32 levels");
    }

    /* A much deeper input fails the same way and does not crash. */
    s = nested(100000);
    parse_fails_s(s, "t.yml:1:33: nesting deeper than 32 levels");
    free(s);
}

static void test_second_document_refused(void **state)
{
    (void)state;
    parse_fails_s("a: 1\n---\nb: 2\n",
                  "t.yml:2:1: a second YAML document; one file holds one "
                  "document");
    parse_fails_s("---\na: 1\n...\n---\nb: 2\n",
                  "t.yml:4:1: a second YAML document; one file holds one "
                  "document");
    /* One explicit document is fine. */
    struct ydoc d;
    parse_ok(&d, "---\na: 1\n...\n");
    assert_string_equal(ymap_get(d.root, "a")->str, "1");
    ydoc_release(&d);
}

static void test_nul_byte_refused(void **state)
{
    (void)state;
    parse_fails_s("a: ok\nb: \"x\\0y\"\n", "t.yml:2:4: NUL byte in a value");
    parse_fails_s("\"k\\0\": v\n", "t.yml:1:1: NUL byte in a value");
    /* A raw NUL byte in the input is not text either. */
    {
        static const char raw[] = "a: x\0y\n";
        struct ydoc d;
        char err[ERR_MAX] = "";
        assert_int_equal(ydoc_parse(&d, NAME, raw, sizeof(raw) - 1, err), -1);
        assert_int_equal(strncmp(err, "t.yml:", 6), 0);
        ydoc_release(&d);
    }
}

static void test_non_scalar_key_refused(void **state)
{
    (void)state;
    parse_fails_s("? [a, b]\n: 1\n", "t.yml:1:3: a key must be a plain "
                                      "string");
    parse_fails_s("{[a]: 1}\n", "t.yml:1:2: a key must be a plain string");
    parse_fails_s("? {a: b}\n: 1\n", "t.yml:1:3: a key must be a plain "
                                      "string");
}

static void test_size_limit(void **state)
{
    size_t len = YDOC_MAX_BYTES + 1;
    char *big = xmalloc(len);

    (void)state;
    memset(big, ' ', len);
    parse_fails(big, len, "t.yml: file is larger than 4194304 bytes");
    free(big);
}

static void test_load_file(void **state)
{
    char path[] = "/tmp/oneoff-test-ydoc-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    struct ydoc d;
    char err[ERR_MAX] = "";

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("k: v\n", f);
    fclose(f);
    assert_int_equal(ydoc_load(&d, path, "shown.yml", err), 0);
    assert_string_equal(d.name, "shown.yml");
    assert_string_equal(ymap_get(d.root, "k")->str, "v");
    ydoc_release(&d);
    unlink(path);
    assert_int_equal(ydoc_load(&d, path, "shown.yml", err), -1);
    assert_string_equal(err, "cannot read 'shown.yml': No such file or "
                             "directory");
}

/* Parses text (a mapping) and returns the value of key "v". */
static const struct ynode *val_of(struct ydoc *d, const char *text)
{
    parse_ok(d, text);
    return ymap_get(d->root, "v");
}

static void test_bool_reader(void **state)
{
    static const char *const refused[] = {"yes", "no", "on", "off", "y",
                                          "n", "Yes", "No", "True", "False",
                                          "TRUE", "1", "0"};
    struct ydoc d;
    char err[ERR_MAX] = "";
    bool b = false;

    (void)state;
    assert_int_equal(ydoc_bool(&d, val_of(&d, "v: true\n"), "flag", &b, err),
                     0);
    assert_true(b);
    ydoc_release(&d);
    assert_int_equal(ydoc_bool(&d, val_of(&d, "v: false\n"), "flag", &b, err),
                     0);
    assert_false(b);
    ydoc_release(&d);

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char text[64], want[128];
        snprintf(text, sizeof(text), "v: %s\n", refused[i]);
        snprintf(want, sizeof(want),
                 "t.yml:1:4: 'flag' must be true or false, not '%s'",
                 refused[i]);
        b = true;
        assert_int_equal(ydoc_bool(&d, val_of(&d, text), "flag", &b, err), -1);
        assert_string_equal(err, want);
        assert_true(b); /* untouched */
        ydoc_release(&d);
    }

    assert_int_equal(ydoc_bool(&d, val_of(&d, "v: [true]\n"), "flag", &b, err),
                     -1);
    assert_string_equal(err, "t.yml:1:4: 'flag' must be true or false, not a "
                             "list");
    ydoc_release(&d);
    assert_int_equal(
        ydoc_bool(&d, val_of(&d, "v: {a: b}\n"), "flag", &b, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'flag' must be true or false, not a "
                             "mapping");
    ydoc_release(&d);
}

static void test_uint_reader(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    unsigned long u = 0;

    (void)state;
    assert_int_equal(
        ydoc_uint(&d, val_of(&d, "v: 22\n"), "port", 1, 65535, &u, err), 0);
    assert_int_equal(u, 22);
    ydoc_release(&d);
    assert_int_equal(
        ydoc_uint(&d, val_of(&d, "v: 65535\n"), "port", 1, 65535, &u, err), 0);
    assert_int_equal(u, 65535);
    ydoc_release(&d);
    assert_int_equal(
        ydoc_uint(&d, val_of(&d, "v: '8080'\n"), "port", 1, 65535, &u, err),
        0);
    assert_int_equal(u, 8080);
    ydoc_release(&d);

    u = 5;
    assert_int_equal(
        ydoc_uint(&d, val_of(&d, "v: 0\n"), "port", 1, 65535, &u, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'port' must be between 1 and 65535, "
                             "not 0");
    assert_int_equal(u, 5);
    ydoc_release(&d);
    assert_int_equal(
        ydoc_uint(&d, val_of(&d, "v: 70000\n"), "port", 1, 65535, &u, err),
        -1);
    assert_string_equal(err, "t.yml:1:4: 'port' must be between 1 and 65535, "
                             "not 70000");
    ydoc_release(&d);
    assert_int_equal(ydoc_uint(&d, val_of(&d, "v: 999999999999\n"), "port", 1,
                               65535, &u, err),
                     -1);
    assert_string_equal(err, "t.yml:1:4: 'port' must be between 1 and 65535, "
                             "not 999999999999");
    ydoc_release(&d);

    static const char *const bad[] = {"abc", "-1", "+5", "0x10", "1e3",
                                      "2.5", "22 ", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[64], want[128];
        snprintf(text, sizeof(text), "v: '%s'\n", bad[i]);
        snprintf(want, sizeof(want),
                 "t.yml:1:4: 'port' must be a number, not '%s'", bad[i]);
        assert_int_equal(
            ydoc_uint(&d, val_of(&d, text), "port", 1, 65535, &u, err), -1);
        assert_string_equal(err, want);
        ydoc_release(&d);
    }
    assert_int_equal(
        ydoc_uint(&d, val_of(&d, "v: [1]\n"), "port", 1, 65535, &u, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'port' must be a number, not a list");
    ydoc_release(&d);
}

static void test_duration_reader(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    int64_t ms = 0;

    (void)state;
    assert_int_equal(
        ydoc_duration(&d, val_of(&d, "v: 1h30m\n"), "timeout", &ms, err), 0);
    assert_int_equal(ms, 5400000);
    ydoc_release(&d);
    assert_int_equal(
        ydoc_duration(&d, val_of(&d, "v: 15\n"), "timeout", &ms, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'timeout': invalid duration '15': a "
                             "number needs a unit (ms, s, m, h, d)");
    ydoc_release(&d);
    assert_int_equal(
        ydoc_duration(&d, val_of(&d, "v: 0s\n"), "timeout", &ms, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'timeout': duration '0s' must be "
                             "greater than zero");
    ydoc_release(&d);
    assert_int_equal(
        ydoc_duration(&d, val_of(&d, "v: [1m]\n"), "timeout", &ms, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'timeout' must be a duration such as "
                             "15m, not a list");
    ydoc_release(&d);
}

static void test_str_reader(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    char *s = xstrdup("old");

    (void)state;
    assert_int_equal(ydoc_str(&d, val_of(&d, "v: 'new'\n"), "x", &s, err), 0);
    assert_string_equal(s, "new");
    ydoc_release(&d);
    assert_int_equal(ydoc_str(&d, val_of(&d, "v: ''\n"), "x", &s, err), 0);
    assert_string_equal(s, "");
    ydoc_release(&d);
    assert_int_equal(ydoc_str(&d, val_of(&d, "v:\n"), "x", &s, err), -1);
    assert_string_equal(err, "t.yml:1:3: 'x' must be a string, not nothing");
    ydoc_release(&d);
    assert_int_equal(ydoc_str(&d, val_of(&d, "v: [a]\n"), "x", &s, err), -1);
    assert_string_equal(err, "t.yml:1:4: 'x' must be a string, not a list");
    ydoc_release(&d);
    assert_string_equal(s, "");
    free(s);
}

static void test_strlist_reader(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    struct strlist l = {0};

    (void)state;
    strlist_push(&l, "kept");
    assert_int_equal(ydoc_strlist(&d, val_of(&d, "v: one\n"), "roles", &l,
                                  err),
                     0);
    ydoc_release(&d);
    assert_int_equal(ydoc_strlist(&d, val_of(&d, "v: [a, 'b c']\n"), "roles",
                                  &l, err),
                     0);
    ydoc_release(&d);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0], "kept");
    assert_string_equal(l.v[1], "one");
    assert_string_equal(l.v[2], "a");
    assert_string_equal(l.v[3], "b c");
    strlist_clear(&l);

    assert_int_equal(ydoc_strlist(&d, val_of(&d, "v:\n  - a\n  - [b]\n"),
                                  "roles", &l, err),
                     -1);
    assert_string_equal(err, "t.yml:3:5: items of 'roles' must be strings, "
                             "not a list");
    ydoc_release(&d);
    strlist_clear(&l);
    assert_int_equal(ydoc_strlist(&d, val_of(&d, "v: [a, ~]\n"), "roles", &l,
                                  err),
                     -1);
    assert_string_equal(err, "t.yml:1:8: items of 'roles' must be strings, "
                             "not nothing");
    ydoc_release(&d);
    strlist_clear(&l);
    assert_int_equal(ydoc_strlist(&d, val_of(&d, "v: {a: b}\n"), "roles", &l,
                                  err),
                     -1);
    assert_string_equal(err, "t.yml:1:4: 'roles' must be a string or a list "
                             "of strings, not a mapping");
    ydoc_release(&d);
    assert_int_equal(ydoc_strlist(&d, val_of(&d, "v: ~\n"), "roles", &l, err),
                     -1);
    assert_string_equal(err, "t.yml:1:4: 'roles' must be a string or a list "
                             "of strings, not nothing");
    ydoc_release(&d);
    strlist_clear(&l);
}

static void test_env_reader(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    struct kvlist kv = {0};

    (void)state;
    kvlist_set(&kv, "B", "old");
    assert_int_equal(ydoc_env(&d, val_of(&d, "v: {A: 1, B: 'two', _c3: "
                                             "\"x y\"}\n"),
                              "env", &kv, err),
                     0);
    ydoc_release(&d);
    assert_int_equal(kv.n, 3);
    assert_string_equal(kv.key[0], "B");
    assert_string_equal(kv.val[0], "two");
    assert_string_equal(kvlist_get(&kv, "A"), "1");
    assert_string_equal(kvlist_get(&kv, "_c3"), "x y");
    kvlist_clear(&kv);

    assert_int_equal(
        ydoc_env(&d, val_of(&d, "v:\n  OK: 1\n  1BAD: x\n"), "env", &kv, err),
        -1);
    assert_string_equal(err, "t.yml:3:3: '1BAD' is not a valid environment "
                             "variable name");
    ydoc_release(&d);
    kvlist_clear(&kv);
    assert_int_equal(
        ydoc_env(&d, val_of(&d, "v: {'A-B': x}\n"), "env", &kv, err), -1);
    assert_string_equal(err, "t.yml:1:5: 'A-B' is not a valid environment "
                             "variable name");
    ydoc_release(&d);
    kvlist_clear(&kv);
    assert_int_equal(
        ydoc_env(&d, val_of(&d, "v: {A: [1]}\n"), "env", &kv, err), -1);
    assert_string_equal(err, "t.yml:1:8: value of A in 'env' must be a "
                             "string, not a list");
    ydoc_release(&d);
    kvlist_clear(&kv);
    assert_int_equal(ydoc_env(&d, val_of(&d, "v: A=1\n"), "env", &kv, err),
                     -1);
    assert_string_equal(err, "t.yml:1:4: 'env' must be a mapping of NAME: "
                             "value, not a string");
    ydoc_release(&d);
    kvlist_clear(&kv);
}

static void test_check_keys_and_require(void **state)
{
    static const char *const allowed[] = {"address", "port", "roles", NULL};
    struct ydoc d;
    char err[ERR_MAX] = "";
    const struct ynode *out = NULL;

    (void)state;
    parse_ok(&d, "port: 1\nroles: x\n");
    assert_int_equal(ydoc_check_keys(&d, d.root, allowed, NULL, err), 0);
    assert_int_equal(ydoc_require(&d, d.root, "port", &out, err), 0);
    assert_string_equal(out->str, "1");
    assert_int_equal(ydoc_require(&d, d.root, "address", &out, err), -1);
    assert_null(out);
    assert_string_equal(err, "t.yml:1:1: missing required key 'address'");
    ydoc_release(&d);

    parse_ok(&d, "port: 1\n  # c\nadress: x\n");
    assert_int_equal(ydoc_check_keys(&d, d.root, allowed, "in host 'web1'",
                                     err),
                     -1);
    assert_string_equal(err, "t.yml:3:1: unknown key 'adress' in host 'web1'; "
                             "did you mean 'address'?");
    assert_int_equal(ydoc_check_keys(&d, d.root, allowed, NULL, err), -1);
    assert_string_equal(err, "t.yml:3:1: unknown key 'adress'; did you mean "
                             "'address'?");
    ydoc_release(&d);

    parse_ok(&d, "colour: red\n");
    assert_int_equal(ydoc_check_keys(&d, d.root, allowed, "in x", err), -1);
    assert_string_equal(err, "t.yml:1:1: unknown key 'colour' in x");
    ydoc_release(&d);

    /* ydoc_require finds a key whose value is null. */
    parse_ok(&d, "port:\n");
    assert_int_equal(ydoc_require(&d, d.root, "port", &out, err), 0);
    assert_non_null(out);
    assert_true(ynode_is_null(out));
    ydoc_release(&d);

    parse_ok(&d, "- a\n");
    assert_int_equal(ydoc_want_map(&d, d.root, "the thing", err), -1);
    assert_string_equal(err, "t.yml:1:1: the thing must be a mapping, not a "
                             "list");
    ydoc_release(&d);
}

static void test_err_format(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";

    (void)state;
    parse_ok(&d, "a:\n  b: c\n");
    assert_int_equal(ydoc_err(&d, ymap_get(ymap_get(d.root, "a"), "b"), err,
                              "bad %s %d", "thing", 7),
                     -1);
    assert_string_equal(err, "t.yml:2:6: bad thing 7");
    assert_int_equal(ydoc_err(&d, NULL, err, "x"), -1);
    assert_string_equal(err, "t.yml:1:1: x");
    ydoc_release(&d);
}

/* Messages are escaped whole: what they quote from the file (a key, a
 * value, a duration) reaches the terminal as escapes, a backslash doubled
 * once; the file name too. */
static void test_err_escaped(void **state)
{
    struct ydoc d;
    char err[ERR_MAX] = "";
    int64_t ms;

    (void)state;
    parse_ok(&d, "\"k\\e\\a\\\\\": \"5\\u202eq\"\n");
    assert_int_equal(ydoc_err(&d, ymap_key(d.root, 0), err, "bad key '%s'",
                              ymap_key(d.root, 0)->str),
                     -1);
    assert_string_equal(err, "t.yml:1:1: bad key 'k\\e\\x07\\\\'");
    assert_int_equal(
        ydoc_duration(&d, ymap_get(d.root, "k\033\a\\"), "timeout", &ms, err),
        -1);
    assert_null(strchr(err, '\033'));
    assert_non_null(strstr(err, "'5\\u{202e}q'"));
    ydoc_release(&d);
    assert_int_equal(ydoc_parse(&d, "tasks/\033.yml", "a: [", 4, err), -1);
    assert_memory_equal(err, "tasks/\\e.yml:", 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_document),
        cmocka_unit_test(test_null_values),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_tab_indentation),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_duplicate_key_many),
        cmocka_unit_test(test_anchors_and_aliases_refused),
        cmocka_unit_test(test_alias_bomb_refused_quickly),
        cmocka_unit_test(test_tags_refused),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_second_document_refused),
        cmocka_unit_test(test_nul_byte_refused),
        cmocka_unit_test(test_non_scalar_key_refused),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_bool_reader),
        cmocka_unit_test(test_uint_reader),
        cmocka_unit_test(test_duration_reader),
        cmocka_unit_test(test_str_reader),
        cmocka_unit_test(test_strlist_reader),
        cmocka_unit_test(test_env_reader),
        cmocka_unit_test(test_check_keys_and_require),
        cmocka_unit_test(test_err_format),
        cmocka_unit_test(test_err_escaped),
    };

    return cmocka_run_group_tests_name("yaml_doc", tests, NULL, NULL);
}
