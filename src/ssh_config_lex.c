/*
 * ssh_config_lex.c - the lexical and matching rules of OpenSSH's client
 * configuration, written to behave as misc.c and match.c of OpenSSH 9.2
 * do: how a line splits into words (quotes, '=', comments), how patterns
 * match, how times, ports and [user@]host[:port] read, how %-tokens,
 * ${ENV} and '~' expand. Every quirk kept here is one `ssh -G` shows.
 */
#define _GNU_SOURCE
#include "ssh_config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"

#define WHITESPACE " \t\r\n"

char *sshcfg_strdelim(char **s)
{
    char *old, *p;
    bool wspace = false;

    if (*s == NULL)
        return NULL;
    old = *s;
    p = strpbrk(*s, WHITESPACE "\"=");
    if (p == NULL) {
        *s = NULL;
        return old;
    }
    if (*p == '"') {
        memmove(p, p + 1, strlen(p)); /* the NUL too */
        if ((p = strchr(p, '"')) == NULL) {
            *s = NULL;
            return NULL; /* no matching quote */
        }
        *p = '\0';
        *s = p + strspn(p + 1, WHITESPACE) + 1;
        return old;
    }
    if (*p == '=') /* only one '=' may be skipped */
        wspace = true;
    *p = '\0';
    p += strspn(p + 1, WHITESPACE) + 1;
    if (*p == '=' && !wspace)
        p += strspn(p + 1, WHITESPACE) + 1;
    *s = p;
    return old;
}

int sshcfg_argv_split(const char *s, struct strlist *out)
{
    size_t i = 0;

    while (s[i] != '\0') {
        char quote = 0, *arg;
        size_t j = 0;

        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        if (s[i] == '#')
            break;
        arg = xmalloc(strlen(s + i) + 1);
        for (; s[i] != '\0'; i++) {
            if (s[i] == '\\') {
                if (s[i + 1] == '\'' || s[i + 1] == '"' || s[i + 1] == '\\' ||
                    (quote == 0 && s[i + 1] == ' '))
                    i++;
                arg[j++] = s[i];
            } else if (quote == 0 && (s[i] == ' ' || s[i] == '\t')) {
                break;
            } else if (quote == 0 && (s[i] == '"' || s[i] == '\'')) {
                quote = s[i];
            } else if (quote != 0 && s[i] == quote) {
                quote = 0;
            } else {
                arg[j++] = s[i];
            }
        }
        arg[j] = '\0';
        strlist_push_owned(out, arg);
        if (s[i] == '\0') {
            if (quote != 0)
                return -1;
            break;
        }
    }
    return 0;
}

bool sshcfg_match_pattern(const char *s, const char *pattern)
{
    for (;;) {
        if (*pattern == '\0')
            return *s == '\0';
        if (*pattern == '*') {
            while (*pattern == '*')
                pattern++;
            if (*pattern == '\0')
                return true;
            if (*pattern != '?') {
                for (; *s; s++)
                    if (*s == *pattern &&
                        sshcfg_match_pattern(s + 1, pattern + 1))
                        return true;
                return false;
            }
            for (; *s; s++)
                if (sshcfg_match_pattern(s, pattern))
                    return true;
            return false;
        }
        if (*s == '\0')
            return false;
        if (*pattern != '?' && *pattern != *s)
            return false;
        s++;
        pattern++;
    }
}

int sshcfg_match_list(const char *s, const char *list, bool dolower)
{
    char sub[1024];
    size_t i = 0, len = strlen(list);
    int positive = 0;

    while (i < len) {
        bool negated = list[i] == '!';
        size_t n = 0;

        if (negated)
            i++;
        for (; i < len && n < sizeof(sub) - 1 && list[i] != ','; n++, i++)
            sub[n] = dolower ? (char)tolower((unsigned char)list[i]) : list[i];
        if (n >= sizeof(sub) - 1)
            return 0; /* a sub-pattern that long matches nothing */
        if (i < len && list[i] == ',')
            i++;
        sub[n] = '\0';
        if (sshcfg_match_pattern(s, sub)) {
            if (negated)
                return -1;
            positive = 1;
        }
    }
    return positive;
}

void sshcfg_lowercase(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

int sshcfg_match_hostname(const char *host, const char *list)
{
    char *h = xstrdup(host);
    int r;

    sshcfg_lowercase(h);
    r = sshcfg_match_list(h, list, true);
    free(h);
    return r;
}

long sshcfg_convtime(const char *s)
{
    long total = 0;
    const char *p = s;

    if (p == NULL || *p == '\0')
        return -1;
    while (*p) {
        long secs, mult = 1;
        char *end;

        errno = 0;
        secs = strtol(p, &end, 10);
        if (p == end ||
            (errno == ERANGE && (secs == LONG_MIN || secs == LONG_MAX)) ||
            secs < 0)
            return -1;
        switch (*end++) {
        case '\0':
            end--;
            break;
        case 's':
        case 'S':
            break;
        case 'm':
        case 'M':
            mult = 60;
            break;
        case 'h':
        case 'H':
            mult = 3600;
            break;
        case 'd':
        case 'D':
            mult = 86400;
            break;
        case 'w':
        case 'W':
            mult = 604800;
            break;
        default:
            return -1;
        }
        if (secs > INT_MAX / mult)
            return -1;
        secs *= mult;
        if (total > INT_MAX - secs)
            return -1;
        total += secs;
        p = end;
    }
    return total;
}

/* strtonum(s, lo, hi): NULL or "invalid", "too small", "too large". */
static const char *to_num(const char *s, long long lo, long long hi,
                          long long *val)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s == end || *end != '\0')
        return "invalid";
    if ((v == LLONG_MIN && errno == ERANGE) || v < lo)
        return "too small";
    if ((v == LLONG_MAX && errno == ERANGE) || v > hi)
        return "too large";
    *val = v;
    return NULL;
}

int sshcfg_a2port(const char *s)
{
    long long v;
    struct servent se, *sep = NULL;
    char buf[1024];

    if (to_num(s, 0, 65535, &v) == NULL)
        return (int)v;
    /* the reentrant lookup: hops are parsed while resolving, in threads */
    if (getservbyname_r(s, "tcp", &se, buf, sizeof(buf), &sep) == 0 &&
        sep != NULL)
        return ntohs((uint16_t)se.s_port);
    return -1;
}

const char *sshcfg_atoi_err(const char *s, int *val)
{
    long long v;
    const char *why;

    if (s == NULL || *s == '\0')
        return "missing";
    if ((why = to_num(s, 0, INT_MAX, &v)) == NULL)
        *val = (int)v;
    return why;
}

bool sshcfg_valid_hostname(const char *s)
{
    if (*s == '-')
        return false;
    for (; *s; s++)
        if (strchr("'`\"$\\;&<>|(){},", *s) != NULL ||
            isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
            return false;
    return true;
}

bool sshcfg_valid_ruser(const char *s)
{
    if (*s == '-')
        return false;
    for (; *s; s++) {
        if (strchr("'`\";&<>|(){}", *s) != NULL || iscntrl((unsigned char)*s))
            return false;
        if (isspace((unsigned char)*s) && s[1] == '-')
            return false;
        if (*s == '\\' && s[1] == '\0')
            return false;
    }
    return true;
}

static void set_out(char **out, char **v)
{
    if (out != NULL) {
        *out = *v;
        *v = NULL;
    }
}

/* hpdelim(): the host of "host[:rest]" or "[host]:rest"; *cp moves to rest
 * (NULL when none). NULL when the form is bad. */
static char *hpdelim(char **cp)
{
    char *s, *old = *cp;

    s = old;
    if (*s == '[') {
        if ((s = strchr(s, ']')) == NULL)
            return NULL;
        s++;
    } else if ((s = strpbrk(s, ":/")) == NULL) {
        s = old + strlen(old);
    }
    if (*s == '\0') {
        *cp = NULL;
    } else if (*s == ':') {
        *s = '\0';
        *cp = s + 1;
    } else {
        return NULL; /* '/' or junk after ']' */
    }
    return old;
}

static char *cleanhostname(char *host)
{
    size_t n = strlen(host);

    if (host[0] == '[' && n > 0 && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return host + 1;
    }
    return host;
}

int sshcfg_parse_user_host_port(const char *s, char **userp, char **hostp,
                                int *portp)
{
    char *sdup = xstrdup(s), *tmp = sdup, *cp, *user = NULL, *host = NULL;
    int port = -1, ret = -1;

    if ((cp = strrchr(tmp, '@')) != NULL) {
        *cp = '\0';
        if (*tmp == '\0')
            goto out;
        user = xstrdup(tmp);
        tmp = cp + 1;
    }
    if ((cp = hpdelim(&tmp)) == NULL || *cp == '\0')
        goto out;
    host = xstrdup(cleanhostname(cp));
    if (tmp != NULL && *tmp != '\0' && (port = sshcfg_a2port(tmp)) <= 0)
        goto out;
    set_out(userp, &user);
    set_out(hostp, &host);
    if (portp != NULL)
        *portp = port;
    ret = 0;
out:
    free(sdup);
    free(user);
    free(host);
    return ret;
}

bool sshcfg_valid_domain(char *name, bool makelower)
{
    size_t l = strlen(name);
    unsigned char last = 0;

    if (l == 0 || !isalnum((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)name[i]);

        if (makelower)
            name[i] = (char)c;
        if (last == '.' && c == '.')
            return false;
        if (c != '.' && c != '-' && c != '_' && !isalnum(c))
            return false;
        last = c;
    }
    if (name[l - 1] == '.')
        name[l - 1] = '\0';
    return true;
}

static char *urldecode(const char *src)
{
    char *ret = xmalloc(strlen(src) + 1), *dst = ret;

    for (; *src; src++) {
        if (*src == '+') {
            *dst++ = ' ';
        } else if (*src == '%') {
            char hex[3] = {src[1], src[1] ? src[2] : 0, 0};

            if (!isxdigit((unsigned char)hex[0]) ||
                !isxdigit((unsigned char)hex[1])) {
                free(ret);
                return NULL;
            }
            *dst++ = (char)strtol(hex, NULL, 16);
            src += 2;
        } else {
            *dst++ = *src;
        }
    }
    *dst = '\0';
    return ret;
}

int sshcfg_parse_ssh_uri(const char *uri, char **userp, char **hostp,
                         int *portp)
{
    char *dup, *tmp, *cp, *user = NULL, *host = NULL, *path = NULL;
    int port = -1, ret = -1;

    if (strncmp(uri, "ssh://", 6) != 0)
        return 1;
    dup = tmp = xstrdup(uri + 6);
    if ((cp = strchr(tmp, '@')) != NULL) {
        char *semi;

        *cp = '\0';
        if ((semi = strchr(tmp, ';')) != NULL)
            *semi = '\0'; /* connection parameters are ignored */
        if (*tmp == '\0' || (user = urldecode(tmp)) == NULL)
            goto out;
        tmp = cp + 1;
    }
    /* hpdelim2(): like hpdelim() but '/' also ends the host */
    cp = tmp;
    if (*cp == '[') {
        char *e = strchr(cp, ']');

        if (e == NULL || (e[1] != '\0' && e[1] != ':' && e[1] != '/'))
            goto out;
        tmp = e + 1;
    } else {
        tmp = cp + strcspn(cp, ":/");
    }
    {
        char delim = *tmp;

        if (delim != '\0')
            *tmp++ = '\0';
        else
            tmp = NULL;
        if (*cp == '\0')
            goto out;
        host = xstrdup(cleanhostname(cp));
        if (!sshcfg_valid_domain(host, false))
            goto out;
        if (tmp != NULL && *tmp != '\0') {
            if (delim == ':') {
                char *slash = strchr(tmp, '/');

                if (slash != NULL)
                    *slash = '\0';
                if ((port = sshcfg_a2port(tmp)) <= 0)
                    goto out;
                tmp = slash != NULL ? slash + 1 : NULL;
            }
            if (tmp != NULL && *tmp != '\0')
                path = xstrdup(tmp);
        }
    }
    if (path != NULL)
        goto out; /* a path is not allowed */
    set_out(userp, &user);
    set_out(hostp, &host);
    if (portp != NULL)
        *portp = port;
    ret = 0;
out:
    free(dup);
    free(user);
    free(host);
    free(path);
    return ret;
}

int sshcfg_expand(const char *s, const struct sshcfg_token *tok, size_t ntok,
                  bool dollar, char **out, char *err)
{
    struct buf b = BUF_INIT(1 << 20);
    bool full = false; /* an append was refused: the value is too long */

    *out = NULL;
    for (; *s; s++) {
        if (dollar && s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s + 2, '}');
            char *var;
            const char *val;

            if (end == NULL) {
                buf_release(&b);
                return errf(err,
                            "environment variable '%s' missing "
                            "closing '}'",
                            s + 2);
            }
            if (end == s + 2) {
                buf_release(&b);
                return errf(err, "zero-length environment variable");
            }
            var = xstrndup(s + 2, (size_t)(end - s - 2));
            val = getenv(var);
            if (val == NULL) {
                errf(err, "environment variable '%s' is not set", var);
                free(var);
                buf_release(&b);
                return -1;
            }
            free(var);
            full |= buf_adds(&b, val) != 0;
            s = end;
            continue;
        }
        if (*s != '%' || tok == NULL) {
            full |= buf_addc(&b, *s) != 0;
            continue;
        }
        s++;
        if (*s == '%') {
            full |= buf_addc(&b, '%') != 0;
            continue;
        }
        if (*s == '\0') {
            buf_release(&b);
            return errf(err, "'%%' at the end of the value");
        }
        size_t i;

        for (i = 0; i < ntok; i++)
            if (tok[i].key == *s)
                break;
        if (i == ntok) {
            char c = *s;

            buf_release(&b);
            return errf(err, "unknown token '%%%c'", c);
        }
        full |= buf_adds(&b, tok[i].val) != 0;
    }
    if (full || b.len >= b.max - 1) {
        buf_release(&b);
        return errf(err, "expanded value too long");
    }
    *out = buf_detach(&b);
    return 0;
}

int sshcfg_tilde(const char *s, const char *home, char **out, char *err)
{
    const char *path, *dir = home;
    char *user = NULL, pwbuf[4096];
    struct passwd pw, *pwp = NULL;
    size_t n;

    *out = NULL;
    if (*s != '~') {
        *out = xstrdup(s);
        return 0;
    }
    s++;
    if (*s == '\0' || *s == '/') {
        path = s + strspn(s, "/");
    } else {
        const char *slash = strchr(s, '/');

        user = slash ? xstrndup(s, (size_t)(slash - s)) : xstrdup(s);
        path = slash ? slash + 1 + strspn(slash + 1, "/") : "";
        if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
            pwp == NULL) {
            errf(err, "no such user '%s'", user);
            free(user);
            return -1;
        }
        free(user);
        dir = pw.pw_dir;
    }
    n = strlen(dir);
    *out =
        xasprintf("%s%s%s", dir, n == 0 || dir[n - 1] != '/' ? "/" : "", path);
    if (strlen(*out) >= PATH_MAX) {
        free(*out);
        *out = NULL;
        return errf(err, "path too long");
    }
    return 0;
}

/* SHA-1 (FIPS 180-4), only for the %C token. */
struct sha1 {
    uint32_t h[5];
    unsigned char blk[64];
    size_t nblk;
    uint64_t len;
};

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1 *c)
{
    uint32_t w[80], a = c->h[0], b = c->h[1], d3 = c->h[2], d = c->h[3],
                    e = c->h[4];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)c->blk[4 * i] << 24 |
               (uint32_t)c->blk[4 * i + 1] << 16 |
               (uint32_t)c->blk[4 * i + 2] << 8 | c->blk[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k, t;

        if (i < 20) {
            f = (b & d3) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ d3 ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & d3) | (b & d) | (d3 & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ d3 ^ d;
            k = 0xca62c1d6;
        }
        t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = d3;
        d3 = rol(b, 30);
        b = a;
        a = t;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += d3;
    c->h[3] += d;
    c->h[4] += e;
    c->nblk = 0;
}

static void sha1_add(struct sha1 *c, const void *p, size_t n)
{
    const unsigned char *s = p;

    c->len += n;
    while (n-- > 0) {
        c->blk[c->nblk++] = *s++;
        if (c->nblk == 64)
            sha1_block(c);
    }
}

void sshcfg_conn_hash(const char *const *parts, size_t n, char out[41])
{
    struct sha1 c = {
        {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0},
        {0},
        0,
        0};
    uint64_t bits;
    unsigned char pad = 0x80, len[8];

    for (size_t i = 0; i < n; i++)
        sha1_add(&c, parts[i], strlen(parts[i]));
    bits = c.len * 8;
    sha1_add(&c, &pad, 1);
    pad = 0;
    while (c.nblk != 56)
        sha1_add(&c, &pad, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_add(&c, len, 8);
    for (int i = 0; i < 20; i++) {
        static const char hex[] = "0123456789abcdef";
        unsigned v = (c.h[i / 4] >> (24 - 8 * (i % 4))) & 0xff;

        out[2 * i] = hex[v >> 4];
        out[2 * i + 1] = hex[v & 15];
    }
    out[40] = '\0';
}
