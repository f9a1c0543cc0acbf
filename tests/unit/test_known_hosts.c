/*
 * test_known_hosts.c - known_hosts.h: the line parser against hostile
 * lines, OpenSSH's pattern lists and hashed names, and the verdicts for
 * plain keys, @revoked lines and host certificates (signed by ed25519,
 * ECDSA and RSA CAs, made with ssh-keygen: known_hosts_fixtures.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "known_hosts_fixtures.h"
#include "oneoff/known_hosts.h"

#define NOW 1767225600 /* 2026-01-01 */

static unsigned char *dec(const char *b64, size_t *n)
{
    unsigned char *p = kh_base64_decode(b64, strlen(b64), n);
    assert_non_null(p);
    return p;
}

static void parse(struct known_hosts *kh, const char *text)
{
    memset(kh, 0, sizeof(*kh));
    known_hosts_parse(kh, "kh", text, strlen(text));
}

/* The verdict for HOST's key (and cert, a base64 certificate or NULL). */
static struct kh_verdict check(const char *text, const char *lookup,
                               const char *principal, const char *key,
                               const char *cert)
{
    struct known_hosts kh;
    struct kh_verdict v;
    size_t kn = 0, cn = 0;
    unsigned char *k = dec(key, &kn), *c = cert ? dec(cert, &cn) : NULL;

    parse(&kh, text);
    known_hosts_check(&kh, lookup, principal, k, kn, c, cn, NOW, &v);
    known_hosts_release(&kh);
    free(k);
    free(c);
    return v;
}

static void test_hostile_lines(void **state)
{
    struct known_hosts kh;
    size_t big = KH_LINE_MAX + 10;
    char *text = malloc(big + 200);

    (void)state;
    /* every line here but the two good ones is skipped, none is fatal */
    parse(&kh,
          "# comment\n"
          "\n"
          "   \t\n"
          "@bogus web1 ssh-ed25519 " HOST "\n"
          "web1 ssh-ed25519 !!!notbase64\n"
          "web1 ssh-rsa " HOST "\n" /* type and key disagree */
          "web1\n"
          "web1 ssh-ed25519\n"
          "@cert-authority\n"
          "@cert-authority * ssh-ed25519-cert-v01@openssh.com " CERT_GOOD "\n"
          "web1 ssh-ed25519 AAAA\n" /* a truncated blob */
          "web1 ssh-ed25519 " HOST " a comment\r\n"
          "@revoked * ssh-ed25519 " OTHER "\n");
    assert_int_equal(kh.n, 2);
    assert_int_equal(kh.skipped, 8);
    assert_int_equal(kh.v[0].line, 12);
    assert_int_equal(kh.v[1].marker, KH_MARK_REVOKED);
    known_hosts_release(&kh);

    /* an overlong line and a NUL byte */
    memset(text, 'a', big);
    memcpy(text + big, "\nweb1 ssh-ed25519 " HOST "\n", 18 + strlen(HOST));
    memset(&kh, 0, sizeof(kh));
    known_hosts_parse(&kh, "kh", text, big + 18 + strlen(HOST));
    assert_int_equal(kh.n, 1);
    assert_int_equal(kh.skipped, 1);
    known_hosts_release(&kh);
    memset(&kh, 0, sizeof(kh));
    known_hosts_parse(&kh, "kh", "we\0b1 ssh-ed25519 " HOST "\n",
                      19 + strlen(HOST));
    assert_int_equal(kh.n, 0);
    known_hosts_release(&kh);
    free(text);
}

static void test_patterns(void **state)
{
    char name[300];

    (void)state;
    assert_int_equal(known_hosts_match_list("web1", "web1"), 1);
    assert_int_equal(known_hosts_match_list("WEB1", "web1"), 1);
    assert_int_equal(known_hosts_match_list("web1", "db,web?"), 1);
    assert_int_equal(known_hosts_match_list("web12", "web?"), 0);
    assert_int_equal(known_hosts_match_list("a.example.com", "*.example.com"),
                     1);
    assert_int_equal(
        known_hosts_match_list("bad.example.com", "*.example.com,!bad.*"), -1);
    assert_int_equal(known_hosts_match_list("x", "!y"), 0);
    assert_int_equal(known_hosts_match_list("[web2]:2222", "[web2]:2222"), 1);
    assert_int_equal(known_hosts_match_list("web2", "[web2]:2222"), 0);
    assert_int_equal(known_hosts_match_list("[web2]:2222", "web2"), 0);
    assert_int_equal(known_hosts_match_list("", ""), 0);
    assert_int_equal(known_hosts_match_list("a", ",,a,,"), 1);
    /* a pattern that backtracks exponentially in a naive matcher */
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(
        known_hosts_match_list(name, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"),
        0);
}

static void test_hashed(void **state)
{
    struct known_hosts kh;

    (void)state;
    parse(&kh, HASHED_WEB1 " ssh-ed25519 " HOST "\n" HASHED_WEB2
                           " ssh-ed25519 " OTHER "\n"
                           "|1|bad|bad ssh-ed25519 " HOST "\n"
                           "|1|" HOST " ssh-ed25519 " HOST "\n");
    assert_int_equal(kh.n, 4);
    assert_true(known_hosts_entry_matches(&kh.v[0], "web1"));
    assert_false(known_hosts_entry_matches(&kh.v[0], "web2"));
    assert_true(known_hosts_entry_matches(&kh.v[1], "[web2]:2222"));
    assert_false(known_hosts_entry_matches(&kh.v[1], "web2"));
    assert_false(known_hosts_entry_matches(&kh.v[2], "web1"));
    assert_false(known_hosts_entry_matches(&kh.v[3], "web1"));
    known_hosts_release(&kh);
    assert_int_equal(
        check(HASHED_WEB1 " ssh-ed25519 " HOST "\n", "web1", "web1", HOST, NULL)
            .status,
        KH_OK);
}

static void test_plain(void **state)
{
    struct kh_verdict v;

    (void)state;
    v = check("db ssh-ed25519 " OTHER "\nweb1,web2 ssh-ed25519 " HOST "\n",
              "web2", "web2", HOST, NULL);
    assert_int_equal(v.status, KH_OK);
    assert_string_equal(v.where, "kh:2");
    v = check("web1 ssh-ed25519 " OTHER "\n", "web1", "web1", HOST, NULL);
    assert_int_equal(v.status, KH_CHANGED);
    assert_string_equal(v.where, "kh:1");
    v = check("web1 ecdsa-sha2-nistp256 " CAEC "\n", "web1", "web1", HOST,
              NULL);
    assert_int_equal(v.status, KH_OTHER);
    v = check("web1 ssh-ed25519 " HOST "\n", "[web1]:2222", "web1", HOST, NULL);
    assert_int_equal(v.status, KH_UNKNOWN);
    v = check("*,!web1 ssh-ed25519 " HOST "\n", "web1", "web1", HOST, NULL);
    assert_int_equal(v.status, KH_UNKNOWN);
}

static void test_revoked(void **state)
{
    struct kh_verdict v;

    (void)state;
    /* refused even though listed as known, whatever the order */
    v = check("web1 ssh-ed25519 " HOST "\n@revoked * ssh-ed25519 " HOST "\n",
              "web1", "web1", HOST, NULL);
    assert_int_equal(v.status, KH_REVOKED);
    assert_string_equal(v.where, "kh:2");
    v = check("@revoked db ssh-ed25519 " HOST "\nweb1 ssh-ed25519 " HOST "\n",
              "web1", "web1", HOST, NULL);
    assert_int_equal(v.status, KH_OK);
    /* a revoked CA takes its certificates with it */
    v = check("@cert-authority * ssh-ed25519 " CA "\n"
              "@revoked * ssh-ed25519 " CA "\n",
              "web1", "web1", HOST, CERT_GOOD);
    assert_int_equal(v.status, KH_REVOKED);
}

static void test_certificates(void **state)
{
    const char *ca = "@cert-authority web* ssh-ed25519 " CA "\n";
    struct kh_verdict v;

    (void)state;
    v = check(ca, "web1", "web1", HOST, CERT_GOOD);
    assert_int_equal(v.status, KH_OK);
    assert_true(v.by_cert);
    /* a trusted certificate wins over an old plain line, as in ssh */
    v = check("web1 ssh-ed25519 " OTHER "\n@cert-authority web* ssh-ed25519 " CA
              "\n",
              "web1", "web1", HOST, CERT_GOOD);
    assert_int_equal(v.status, KH_OK);
    v = check("web1 ssh-ed25519 " OTHER "\n@cert-authority web* ssh-ed25519 " CA
              "\n",
              "web1", "web1", HOST, NULL);
    assert_int_equal(v.status, KH_CHANGED);
    /* the name the certificate does not list */
    v = check(ca, "web9", "web9", HOST, CERT_GOOD);
    assert_int_equal(v.status, KH_CERT_BAD);
    assert_non_null(strstr(v.reason, "is not for 'web9'"));
    v = check(ca, "web1", "web1", HOST, CERT_EXPIRED);
    assert_int_equal(v.status, KH_CERT_BAD);
    assert_non_null(strstr(v.reason, "expired"));
    v = check(ca, "web1", "web1", HOST, CERT_USER);
    assert_int_equal(v.status, KH_CERT_BAD);
    assert_non_null(strstr(v.reason, "not a host certificate"));
    /* signed by a CA nobody trusts: as if there were no certificate */
    v = check(ca, "web1", "web1", HOST, CERT_OTHERCA);
    assert_int_equal(v.status, KH_UNKNOWN);
    /* a CA line for other names */
    v = check("@cert-authority db ssh-ed25519 " CA "\n", "web1", "web1", HOST,
              CERT_GOOD);
    assert_int_equal(v.status, KH_UNKNOWN);
    /* a certificate of another key than the one the server proved */
    v = check(ca, "web1", "web1", OTHER, CERT_GOOD);
    assert_int_equal(v.status, KH_UNKNOWN);
    v = check("@cert-authority * ecdsa-sha2-nistp256 " CAEC "\n", "web1",
              "web1", HOST, CERT_EC);
    assert_int_equal(v.status, KH_OK);
    v = check("@cert-authority * ssh-rsa " CARSA "\n", "web1", "web1", HOST,
              CERT_RSA);
    assert_int_equal(v.status, KH_OK);
}

static void test_cert_tampered(void **state)
{
    struct kh_cert c;
    char err[ERR_MAX];
    size_t n = 0;
    unsigned char *b = dec(CERT_GOOD, &n);

    (void)state;
    assert_int_equal(kh_cert_parse(&c, b, n, err), 0);
    assert_int_equal(c.type, KH_CERT_HOST);
    assert_string_equal(c.key_id, "good");
    assert_int_equal(c.principals.n, 2);
    assert_int_equal(kh_cert_check_host(&c, "web1.example.com", NOW, err), 0);
    /* one bit of the signed part changed */
    c.blob[c.signed_len - 40] ^= 1;
    assert_int_equal(kh_cert_verify(&c, err), -1);
    assert_non_null(strstr(err, "does not verify"));
    kh_cert_release(&c);
    /* every truncation is refused, none reads past the end */
    for (size_t i = 0; i < n; i++) {
        unsigned char *cut = malloc(i ? i : 1);
        memcpy(cut, b, i);
        assert_int_equal(kh_cert_parse(&c, cut, i, err), -1);
        free(cut);
    }
    free(b);
}

static void test_base64(void **state)
{
    size_t n;
    unsigned char *p;

    (void)state;
    p = kh_base64_decode("aGk=", 4, &n);
    assert_non_null(p);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "hi", 2);
    free(p);
    assert_null(kh_base64_decode("aGk", 3, &n));
    assert_null(kh_base64_decode("a=Gk", 4, &n));
    assert_null(kh_base64_decode("aG!k", 4, &n));
    assert_null(kh_base64_decode("", 0, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_lines),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_hashed),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_cert_tampered),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests_name("known_hosts", tests, NULL, NULL);
}
