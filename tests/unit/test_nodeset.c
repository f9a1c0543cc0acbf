/*
 * test_nodeset.c - unit tests for nodeset.c and nodeset_fold.c: expanding
 * and folding ClusterShell node sets, their errors and bounds, splitting
 * --limit lists, and matching names against node sets mixed with globs.
 *
 * Every expected expansion and folding below was checked against what
 * ClusterShell's own command prints (`nodeset -e PATTERN` and
 * `nodeset -f NAME...`, ClusterShell 1.9.1, Debian's clustershell
 * package). The tests do not need ClusterShell: the strings are written
 * out here.
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

#include "oneoff/nodeset.h"

struct pair {
    const char *in;
    const char *want;
};

/* Splits "a b c" into a list. */
static void words(struct strlist *l, const char *s)
{
    const char *p = s;

    while (*p) {
        size_t n = strcspn(p, " ");
        if (n)
            strlist_push_owned(l, xstrndup(p, n));
        p += n;
        p += strspn(p, " ");
    }
}

static char *expand_joined(const char *pattern)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";
    char *s;

    if (nodeset_expand(pattern, &l, err) != 0)
        fail_msg("nodeset_expand('%s') failed: %s", pattern, err);
    s = strlist_join(&l, " ");
    strlist_clear(&l);
    return s;
}

static char *fold_words(const char *names)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";
    char *s = NULL;

    words(&l, names);
    if (nodeset_fold(&l, &s, err) != 0)
        fail_msg("nodeset_fold('%s') failed: %s", names, err);
    strlist_clear(&l);
    return s;
}

/* Expected values: `nodeset -e PATTERN`. */
static const struct pair expansions[] = {
    {"web[01-10]",
     "web01 web02 web03 web04 web05 web06 web07 web08 web09 web10"},
    {"web[1-10/2]", "web1 web3 web5 web7 web9"},
    {"web[01-10/3]", "web01 web04 web07 web10"},
    {"web[1-3,7,9-10]", "web1 web2 web3 web7 web9 web10"},
    {"r[1-2]n[1-3]", "r1n1 r1n2 r1n3 r2n1 r2n2 r2n3"},
    {"x[1-3]y[1-2]z[7]", "x1y1z7 x1y2z7 x2y1z7 x2y2z7 x3y1z7 x3y2z7"},
    {"web[1-3],db1", "db1 web1 web2 web3"},
    {"web[3,1,2]", "web1 web2 web3"},
    {"b1,a1,a,c", "a a1 b1 c"},
    {"a[1-2]b", "a1b a2b"},
    {"web1[0-2]", "web10 web11 web12"},
    {"web[1-3]0", "web10 web20 web30"},
    {"web[1-10]!web[3-5]", "web1 web2 web6 web7 web8 web9 web10"},
    {"web[1-10]!web[3-5],db[1-2]&db2", "db2"},
    {"a[1-3]^a[2-5]", "a1 a4 a5"},
    {" web[1 - 3] , db1 ", "db1 web1 web2 web3"},
    {"web[1,01,001]", "web1 web01 web001"},
    {"web[0-1,00-01]", "web0 web1 web00 web01"},
    {"web[098-101]", "web098 web099 web100 web101"},
    {"web[8-11]", "web8 web9 web10 web11"},
    {"[1-3]", "1 2 3"},
    {"a[0-00]", "a0"},
    {"web[1-3/1]", "web1 web2 web3"},
    {"r1n1,r1n2,r2n1,r3n1,r3n2", "r2n1 r3n1 r1n1 r1n2 r3n2"},
    {"web1!web1", ""},
};

static void test_expand_like_clustershell(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expansions) / sizeof(expansions[0]); i++) {
        char *got = expand_joined(expansions[i].in);
        if (strcmp(got, expansions[i].want) != 0)
            fail_msg("expand '%s':\n got  '%s'\n want '%s'", expansions[i].in,
                     got, expansions[i].want);
        free(got);
    }
}

/* Expected values: `nodeset -f NAME...`. */
static const struct pair folds[] = {
    {"web1 web2 web3 web7 db1", "db1,web[1-3,7]"},
    {"web01 web02 web1 web3", "web[1,3,01-02]"},
    {"web1 web01 web001", "web[1,01,001]"},
    {"web9 web10 web08 web09 web11 web010", "web[9,08-11,010]"},
    {"web099 web100 web0100 web101", "web[099-101,0100]"},
    {"db1 db01 db2 db002", "db[1-2,01,002]"},
    {"r1n1 r1n2 r2n1 r2n2", "r[1-2]n[1-2]"},
    {"r1n1 r1n2 r2n1", "r1n[1-2],r2n1"},
    {"r1n1 r1n2 r2n1 r3n1 r3n2", "r[2-3]n1,r1n[1-2],r3n2"},
    {"a1b1c1 a1b1c2 a1b2c1 a1b2c2 a2b1c1", "a1b[1-2]c[1-2],a2b1c1"},
    {"node1-ib0 node2-ib0 node3-ib0 node1-ib1", "node[2-3]-ib0,node1-ib[0-1]"},
    {"foo bar foo1", "bar,foo,foo1"},
    {"1 2 3", "[1-3]"},
    {"a-1 a-2 a.1", "a-[1-2],a.1"},
    {"web1 web3 web5", "web[1,3,5]"},
    {"web2 web1 web2 web3", "web[1-3]"},
    {"x", "x"},
    {"a%b1 a%b2", "a%b[1-2]"},
};

static void test_fold_like_clustershell(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(folds) / sizeof(folds[0]); i++) {
        char *got = fold_words(folds[i].in);
        if (strcmp(got, folds[i].want) != 0)
            fail_msg("fold '%s':\n got  '%s'\n want '%s'", folds[i].in, got,
                     folds[i].want);
        free(got);
    }
}

/* What a fold prints expands back to exactly the names. */
static void test_fold_then_expand_round_trip(void **state)
{
    static const char *const lists[] = {
        "web1 web2 web3 web7 db1",
        "web9 web10 web08 web09 web11 web010 web0 web00",
        "r1n1 r1n2 r2n1 r3n1 r3n2 r10n10 r01n1",
        "a1b1c1 a1b1c2 a1b2c1 a1b2c2 a2b1c1 q",
        "host-12345678901234567890 host-1 h.example.com",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct strlist in = {0}, back = {0};
        char *folded = fold_words(lists[i]);
        char err[ERR_MAX] = "";
        words(&in, lists[i]);
        if (nodeset_expand(folded, &back, err) != 0)
            fail_msg("expand '%s' (fold of '%s'): %s", folded, lists[i], err);
        assert_int_equal(back.n, in.n);
        for (size_t k = 0; k < in.n; k++)
            if (!strlist_has(&back, in.v[k]))
                fail_msg("'%s' lost in fold '%s'", in.v[k], folded);
        free(folded);
        strlist_clear(&in);
        strlist_clear(&back);
    }
}

static void assert_expand_error(const char *pattern, const char *want)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";

    strlist_push(&l, "kept");
    if (nodeset_expand(pattern, &l, err) == 0)
        fail_msg("nodeset_expand('%s') succeeded", pattern);
    if (strcmp(err, want) != 0)
        fail_msg("nodeset_expand('%s'):\n got  '%s'\n want '%s'", pattern, err,
                 want);
    assert_int_equal(l.n, 1); /* out untouched */
    strlist_clear(&l);
}

/* ClusterShell refuses each of these too ("Parse error"). */
static void test_expand_errors_name_pattern_and_column(void **state)
{
    (void)state;
    assert_expand_error("web[3-1]", "node set 'web[3-1]', column 5: range "
                                    "'3-1' goes down (write 1-3)");
    assert_expand_error("web[1-",
                        "node set 'web[1-', column 4: '[' is never closed");
    assert_expand_error("web[a-b]", "node set 'web[a-b]', column 5: expected "
                                    "a number, found 'a'");
    assert_expand_error("web[1-3/0]", "node set 'web[1-3/0]', column 9: a "
                                      "step must be at least 1");
    assert_expand_error("web[1/2]", "node set 'web[1/2]', column 6: a step "
                                    "needs a range (A-B/STEP)");
    assert_expand_error("web[]", "node set 'web[]', column 5: empty range");
    assert_expand_error("web[1,,2]",
                        "node set 'web[1,,2]', column 7: empty range");
    assert_expand_error("web[1-2]]",
                        "node set 'web[1-2]]', column 9: ']' without '['");
    assert_expand_error("web]", "node set 'web]', column 4: ']' without '['");
    assert_expand_error("web[1-2][3-4]", "node set 'web[1-2][3-4]', column "
                                         "9: two brackets in a row");
    assert_expand_error("web[[1]]",
                        "node set 'web[[1]]', column 5: '[' inside brackets");
    assert_expand_error("web[01-5]", "node set 'web[01-5]', column 5: "
                                     "'01-5': padded numbers must have the "
                                     "same number of digits");
    assert_expand_error("a[1 2]", "node set 'a[1 2]', column 5: expected ',', "
                                  "'-' or ']', found '2'");
    assert_expand_error("a,", "node set 'a,', column 2: nothing after ','");
    assert_expand_error(",a", "node set ',a', column 1: nothing before ','");
    assert_expand_error("!a", "node set '!a', column 1: nothing before '!'");
    assert_expand_error("", "node set '', column 1: empty node set");
    assert_expand_error("web 1",
                        "node set 'web 1', column 4: whitespace inside a name");
}

/* Digits around a bracket: ClusterShell reads "v1[8-12]" as v18 to v112
 * (every number between), refuses "web0[1-10]" and "web[0-10]0"; plain
 * concatenation would disagree, so these are errors here. */
static void test_expand_digits_beside_brackets(void **state)
{
    (void)state;
    assert_expand_error("v1[8-12]",
                        "node set 'v1[8-12]', column 3: digits before '[' and "
                        "a range of numbers of different lengths are "
                        "ambiguous; put the digits inside the brackets");
    assert_expand_error("web0[1-10]",
                        "node set 'web0[1-10]', column 5: digits before '[' "
                        "and a range of numbers of different lengths are "
                        "ambiguous; put the digits inside the brackets");
    assert_expand_error("web[0-10]0",
                        "node set 'web[0-10]0', column 5: '0-10' with the "
                        "digits after ']' makes padded numbers of different "
                        "lengths");
    assert_expand_error("web[1-5/2]0", "node set 'web[1-5/2]0', column 11: "
                                       "digits right after a range with a "
                                       "step");
    assert_expand_error("a[1-2]3[4-5]", "node set 'a[1-2]3[4-5]', column 8: "
                                        "digits between two brackets");
}

static void test_expand_unsupported(void **state)
{
    (void)state;
    assert_expand_error("@web", "node set '@web', column 1: node groups ('@') "
                                "are not supported");
    assert_expand_error("web*", "node set 'web*', column 4: '*' is a glob, "
                                "not a node set");
    assert_expand_error("web[99999999999999999999]",
                        "node set 'web[99999999999999999999]', column 5: "
                        "number '99999999999999999999' is too large (at most "
                        "18 digits)");
}

static void test_expand_bound(void **state)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";

    (void)state;
    assert_int_equal(nodeset_expand("web[1-100000]", &l, err), 0);
    assert_int_equal(l.n, NODESET_MAX);
    assert_string_equal(l.v[0], "web1");
    assert_string_equal(l.v[l.n - 1], "web100000");
    strlist_clear(&l);
    assert_expand_error("web[1-100001]", "node set 'web[1-100001]', column "
                                         "4: expands to more than 100000 "
                                         "names");
    assert_expand_error("web[1-999999999999]",
                        "node set 'web[1-999999999999]', column 4: expands to "
                        "more than 100000 names");
    assert_expand_error("r[1-1000]n[1-1000]",
                        "node set 'r[1-1000]n[1-1000]', column 1: expands to "
                        "more than 100000 names");
    assert_expand_error("a[1-60000],b[1-60000]",
                        "node set 'a[1-60000],b[1-60000]', column 12: with "
                        "this term the set holds more than 100000 names");
    /* the bound holds after every term, even one a later term would undo */
    assert_int_equal(
        nodeset_expand("a[1-60000],b[1-60000]!b[1-60000]", &l, err), -1);
    assert_int_equal(nodeset_expand("a[1-90000]!a[1-89999],b1", &l, err), 0);
    assert_int_equal(l.n, 2);
    strlist_clear(&l);
}

static void test_expand_appends(void **state)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";

    (void)state;
    strlist_push(&l, "first");
    assert_int_equal(nodeset_expand("w[2-1/1]", &l, err), -1);
    assert_int_equal(nodeset_expand("w[1-2]", &l, err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "first");
    assert_string_equal(l.v[2], "w2");
    strlist_clear(&l);
}

static void assert_fold_error(const char *name, const char *want)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";
    char *out = (char *)"untouched";

    strlist_push(&l, "web1");
    strlist_push(&l, name);
    assert_int_equal(nodeset_fold(&l, &out, err), -1);
    assert_null(out);
    assert_string_equal(err, want);
    strlist_clear(&l);
}

static void test_fold_refuses_unreadable_names(void **state)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";
    char *out = NULL;

    (void)state;
    assert_fold_error("web[1]", "cannot fold 'web[1]': it holds '['");
    assert_fold_error("a,b", "cannot fold 'a,b': it holds ','");
    assert_fold_error("a b", "cannot fold 'a b': it holds ' '");
    assert_fold_error("a!b", "cannot fold 'a!b': it holds '!'");
    assert_fold_error("db*", "cannot fold 'db*': it holds '*'");
    assert_fold_error("@all", "cannot fold '@all': it starts with '@'");
    assert_fold_error("", "cannot fold '': empty name");
    assert_int_equal(nodeset_fold(&l, &out, err), 0); /* no names */
    assert_string_equal(out, "");
    free(out);
}

static void test_split_respects_brackets(void **state)
{
    struct strlist l = {0};

    (void)state;
    nodeset_split(" web[1-3,7] ,db*,, !web[02,05],x[,a]", &l);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0], "web[1-3,7]");
    assert_string_equal(l.v[1], "db*");
    assert_string_equal(l.v[2], "!web[02,05]");
    assert_string_equal(l.v[3], "x[,a]");
    strlist_clear(&l);
    nodeset_split("", &l);
    assert_int_equal(l.n, 0);
}

static void assert_matches(const char *pattern, const char *yes, const char *no)
{
    struct nodeset_match m;
    struct strlist y = {0}, n = {0};
    char err[ERR_MAX] = "";

    if (nodeset_match_init(&m, pattern, err) != 0)
        fail_msg("nodeset_match_init('%s') failed: %s", pattern, err);
    words(&y, yes);
    words(&n, no);
    for (size_t i = 0; i < y.n; i++)
        if (!nodeset_match_test(&m, y.v[i]))
            fail_msg("'%s' should match '%s'", pattern, y.v[i]);
    for (size_t i = 0; i < n.n; i++)
        if (nodeset_match_test(&m, n.v[i]))
            fail_msg("'%s' should not match '%s'", pattern, n.v[i]);
    nodeset_match_release(&m);
    strlist_clear(&y);
    strlist_clear(&n);
}

static void test_match_node_sets_and_globs(void **state)
{
    (void)state;
    /* a range list in brackets is a node set, not a glob class */
    assert_matches("web[01-10]", "web01 web05 web10", "web1 web11 web0 web");
    assert_matches("web[05]", "web05", "web0 web5");
    assert_matches("web[1-10]", "web1 web7 web10", "web0 web01 web11");
    assert_matches("web[0-9]", "web0 web9", "web10 web");
    /* any other bracket is a glob class */
    assert_matches("web[a-c]", "weba webc", "webd web1");
    assert_matches("web[!0-9]", "weba", "web1 web");
    assert_matches("web[[:digit:]]", "web1", "weba web12");
    assert_matches("web[]]", "web]", "web");
    /* globs, plain names and both at once */
    assert_matches("db*", "db db1 db-primary", "web1 xdb");
    assert_matches("web?", "web1 webx", "web web10");
    assert_matches("db1", "db1", "db10 db");
    assert_matches("rack[1-2]-*", "rack1-a rack2-web3", "rack3-a rack1");
    assert_matches("r[1-2]n[1-3]", "r1n1 r2n3", "r3n1 r1n4");
    /* node set operators, left to right */
    assert_matches("web[1-10]!web5", "web1 web4 web6 web10", "web5 web11");
    assert_matches("web*!web[2-3]", "web1 web4 webx", "web2 web3");
    assert_matches("web[1-5]&web[4-9]", "web4 web5", "web3 web6");
    assert_matches("web[1-3]^web[2-4]", "web1 web4", "web2 web3");
    assert_matches(" web[1-2] , db* ", "web1 db7", "web3");
}

static void assert_match_error(const char *pattern, const char *want)
{
    struct nodeset_match m;
    char err[ERR_MAX] = "";

    assert_int_equal(nodeset_match_init(&m, pattern, err), -1);
    assert_string_equal(err, want);
    assert_int_equal(m.nterms, 0);
    nodeset_match_release(&m);
}

static void test_match_errors(void **state)
{
    (void)state;
    assert_match_error("web[3-1]", "pattern 'web[3-1]', column 5: range '3-1' "
                                   "goes down (write 1-3)");
    assert_match_error("web[1-", "pattern 'web[1-', column 4: '[' is never "
                                 "closed");
    assert_match_error("web[a-", "pattern 'web[a-', column 4: '[' is never "
                                 "closed");
    assert_match_error("!web1", "pattern '!web1', column 1: nothing before "
                                "'!'");
    assert_match_error("web[1-100001]", "pattern 'web[1-100001]', column 4: "
                                        "expands to more than 100000 names");
}

/* A big node set is matched by lookup, not one fnmatch per name. */
static void test_match_big_node_set(void **state)
{
    struct nodeset_match m;
    char err[ERR_MAX] = "";
    char name[32];

    (void)state;
    assert_int_equal(nodeset_match_init(&m, "n[00001-99999]", err), 0);
    for (int i = 0; i < 200000; i += 7) {
        snprintf(name, sizeof(name), "n%05d", i);
        assert_int_equal(nodeset_match_test(&m, name), i >= 1 && i <= 99999);
    }
    nodeset_match_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_like_clustershell),
        cmocka_unit_test(test_fold_like_clustershell),
        cmocka_unit_test(test_fold_then_expand_round_trip),
        cmocka_unit_test(test_expand_errors_name_pattern_and_column),
        cmocka_unit_test(test_expand_digits_beside_brackets),
        cmocka_unit_test(test_expand_unsupported),
        cmocka_unit_test(test_expand_bound),
        cmocka_unit_test(test_expand_appends),
        cmocka_unit_test(test_fold_refuses_unreadable_names),
        cmocka_unit_test(test_split_respects_brackets),
        cmocka_unit_test(test_match_node_sets_and_globs),
        cmocka_unit_test(test_match_errors),
        cmocka_unit_test(test_match_big_node_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
