/*
 * util.c - allocation, error buffers, string lists, durations and clocks.
 *
 * Everything here is small and dependency-free so that every other module,
 * the unit tests and the fuzzers can link it.
 */
#define _GNU_SOURCE
#include "oneoff/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oneoff/text.h"

static ONEOFF_NORETURN void oom(size_t n)
{
    fprintf(stderr, "oneoff: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

void xgrow(void **p, size_t *alloc, size_t need, size_t elsize)
{
    size_t n = *alloc;

    if (need <= n)
        return;
    if (n < 8)
        n = 8;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            oom(SIZE_MAX);
        n *= 2;
    }
    if (n > SIZE_MAX / elsize)
        oom(SIZE_MAX);
    *p = xrealloc(*p, n * elsize);
    *alloc = n;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

int errf(char *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, ERR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

void die_msg(const char *fmt, ...)
{
    va_list ap;

    fputs("oneoff: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void strlist_push(struct strlist *l, const char *s)
{
    strlist_push_owned(l, xstrdup(s));
}

void strlist_push_owned(struct strlist *l, char *s)
{
    xgrow((void **)&l->v, &l->alloc, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = s;
}

bool strlist_has(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

void strlist_clear(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void strlist_copy(struct strlist *dst, const struct strlist *src)
{
    for (size_t i = 0; i < src->n; i++)
        strlist_push(dst, src->v[i]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void strlist_sort(struct strlist *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

char *strlist_join(const struct strlist *l, const char *sep)
{
    size_t n = 1, sl = strlen(sep), off = 0;
    char *s;

    for (size_t i = 0; i < l->n; i++)
        n += strlen(l->v[i]) + sl;
    s = xmalloc(n);
    s[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        size_t k = strlen(l->v[i]);
        if (i) {
            memcpy(s + off, sep, sl);
            off += sl;
        }
        memcpy(s + off, l->v[i], k);
        off += k;
        s[off] = '\0';
    }
    return s;
}

/* the first allocation for a file of unknown size (a pipe) */
#define FILE_READ_FIRST (64u << 10)

int file_read(const char *path, size_t max, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    size_t cap, n = 0;
    char *p;

    *data = NULL;
    *len = 0;
    if (f == NULL)
        return -errno;
    /* sized for the file (one byte more tells a file that grew past max),
     * not for max: every host's connection reads known_hosts */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uintmax_t)st.st_size < max)
        cap = (size_t)st.st_size;
    else
        cap = max < FILE_READ_FIRST ? max : FILE_READ_FIRST;
    p = xmalloc(cap + 2);
    for (;;) {
        size_t want = cap + 1 - n, got = fread(p + n, 1, want, f);
        n += got;
        if (got < want || cap == max)
            break; /* the end, an error, or more than max */
        cap = max - cap < cap + 4096 ? max : cap * 2 + 4096;
        p = xrealloc(p, cap + 2);
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        fclose(f);
        free(p);
        return -e;
    }
    fclose(f);
    if (n > max) {
        free(p);
        return -EFBIG;
    }
    p[n] = '\0';
    *data = p;
    *len = n;
    return 0;
}

int yml_names(const char *dir, const char *sub, struct strlist *out, char *err)
{
    char *path = xasprintf("%s/%s", dir, sub);
    DIR *dp = opendir(path);
    struct dirent *de;

    if (dp == NULL) {
        char q[512];
        int rc = errf(err, "cannot open '%s': %s",
                      text_escape_msg(path, q, sizeof(q)), strerror(errno));
        free(path);
        return rc;
    }
    while ((de = readdir(dp)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".yml") == 0 &&
            de->d_name[0] != '.')
            strlist_push_owned(out, xstrndup(de->d_name, n - 4));
    }
    closedir(dp);
    free(path);
    strlist_sort(out);
    return 0;
}

int yml_read(const char *dir, const char *sub, const char *name,
             const char *what, size_t max, char **data, size_t *len,
             char **display, char *err)
{
    char *path = xasprintf("%s/%s/%s.yml", dir, sub, name);
    int rc = file_read(path, max, data, len);
    char qn[256], qd[512], ql[ERR_MAX / 2];

    *display = xasprintf("%s/%s.yml", sub, name);
    free(path);
    /* name comes from the command line, the list from file names: both
     * escaped */
    text_escape_msg(*display, qd, sizeof(qd));
    if (rc == -ENOENT) {
        struct strlist names = {0};
        char *list;
        yml_names(dir, sub, &names, NULL);
        list = strlist_join(&names, ", ");
        rc = errf(err, "no %s '%s' (no %s); %ss: %s", what,
                  text_escape_msg(name, qn, sizeof(qn)), qd, what,
                  text_escape_msg(names.n ? list : "none", ql, sizeof(ql)));
        free(list);
        strlist_clear(&names);
    } else if (rc == -EFBIG) {
        rc = errf(err, "%s: file is larger than %zu bytes", qd, max);
    } else if (rc < 0) {
        rc = errf(err, "cannot read '%s': %s", qd, strerror(-rc));
    }
    return rc;
}

int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            /* write(2) never returns 0 for n > 0 on a file; do not spin */
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void kvlist_set(struct kvlist *l, const char *key, const char *val)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->key[i], key) == 0) {
            free(l->val[i]);
            l->val[i] = xstrdup(val);
            return;
        }
    }
    size_t a = l->alloc;
    xgrow((void **)&l->key, &a, l->n + 1, sizeof(*l->key));
    a = l->alloc;
    xgrow((void **)&l->val, &a, l->n + 1, sizeof(*l->val));
    l->alloc = a;
    l->key[l->n] = xstrdup(key);
    l->val[l->n] = xstrdup(val);
    l->n++;
}

const char *kvlist_get(const struct kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->key[i], key) == 0)
            return l->val[i];
    return NULL;
}

void kvlist_clear(struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->key[i]);
        free(l->val[i]);
    }
    free(l->key);
    free(l->val);
    memset(l, 0, sizeof(*l));
}

void kvlist_merge(struct kvlist *dst, const struct kvlist *src)
{
    if (dst->n == 0 && src->n > 0) {
        /* src's keys are unique: copy without the per-key search, so that
         * copying defaults into many hosts stays linear */
        size_t a = dst->alloc;
        xgrow((void **)&dst->key, &a, src->n, sizeof(*dst->key));
        a = dst->alloc;
        xgrow((void **)&dst->val, &a, src->n, sizeof(*dst->val));
        dst->alloc = a;
        for (size_t i = 0; i < src->n; i++) {
            dst->key[i] = xstrdup(src->key[i]);
            dst->val[i] = xstrdup(src->val[i]);
        }
        dst->n = src->n;
        return;
    }
    for (size_t i = 0; i < src->n; i++)
        kvlist_set(dst, src->key[i], src->val[i]);
}

size_t str_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t prev[64], cur[64];

    if (strcmp(a, b) == 0)
        return 0;
    if (la >= 64 || lb >= 64)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb] > cap ? cap + 1 : prev[lb];
}

bool env_name_valid(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

int duration_parse(const char *s, int64_t *ms_out, char *err)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    const int64_t max_ms = (int64_t)366 * 86400000;
    int64_t total = 0;
    const char *p = s;

    *ms_out = 0;
    if (*p == '\0')
        return errf(err, "empty duration; expected e.g. 90s, 15m, 1h30m");
    while (*p) {
        int64_t v = 0;
        size_t i, ulen = 0;

        if (!isdigit((unsigned char)*p))
            return errf(
                err, "invalid duration '%s'; expected e.g. 90s, 15m, 1h30m", s);
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            if (v > max_ms)
                return errf(err, "duration '%s' is too long", s);
        }
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            ulen = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ulen) == 0 &&
                !(ulen == 1 && p[0] == 'm' && p[1] == 's'))
                break;
        }
        if (i == sizeof(units) / sizeof(units[0]))
            return errf(err,
                        "invalid duration '%s': a number needs a unit "
                        "(ms, s, m, h, d)",
                        s);
        total += v * units[i].ms;
        if (total > max_ms)
            return errf(err, "duration '%s' is too long", s);
        p += ulen;
    }
    if (total == 0)
        return errf(err, "duration '%s' must be greater than zero", s);
    *ms_out = total;
    return 0;
}

void duration_format(int64_t ms, char *buf, size_t n)
{
    int64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60;
    size_t off = 0;

    if (n == 0)
        return;
    buf[0] = '\0';
    if (ms < 1000) {
        snprintf(buf, n, "%lldms", (long long)ms);
        return;
    }
    if (ms % 1000 != 0 && ms < 60000) {
        snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
        return;
    }
    if (h)
        off += (size_t)snprintf(buf + off, n - off, "%lldh", (long long)h);
    if (m && off < n)
        off += (size_t)snprintf(buf + off, n - off, "%lldm", (long long)m);
    if ((s || (!h && !m)) && off < n)
        snprintf(buf + off, n - off, "%llds", (long long)s);
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_format_iso(int64_t wall_ms, char *buf, size_t n)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(wall_ms % 1000));
}

int fd_limit_reserve(size_t hosts, unsigned per_host, char *err)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)hosts * per_host + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return 0;
    rl.rlim_cur =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
        return errf(err,
                    "%zu hosts need about %llu open files, but the limit is "
                    "%llu (ulimit -n); raise it or select fewer hosts",
                    hosts, (unsigned long long)want,
                    (unsigned long long)rl.rlim_cur);
    return 0;
}

void spawn_attr_clean(posix_spawnattr_t *at, short flags)
{
    sigset_t none, def;

    posix_spawnattr_init(at);
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setsigmask(at, &none);
    posix_spawnattr_setsigdefault(at, &def);
    posix_spawnattr_setflags(
        at, (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags));
}
