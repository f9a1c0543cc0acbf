/*
 * gather.c - grouping hosts by identical output, and the line diff of
 * --diff (see gather.h).
 *
 * Grouping: every host's key is hashed (FNV-1a, 64 bits, over the status,
 * the exit and the length and bytes of each stream); the hosts are sorted
 * by hash, and each run of equal hashes is split by comparing the keys
 * byte for byte. Then the groups are sorted by size.
 *
 * The diff is Myers' O((N+M)D) algorithm over lines, keeping the frontier
 * of every step for the backtrack: memory grows with the square of the
 * number of edits D and time with (N+M)D, so D is capped
 * (GATHER_DIFF_MAX_EDITS, and GATHER_DIFF_WORK / (N+M)); past it the
 * caller shows the group whole. Lines are compared by a hash first,
 * then by their bytes.
 */
#define _GNU_SOURCE
#include "oneoff/gather.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/nodeset.h"
#include "oneoff/text.h"
#include "oneoff/util.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    return h;
}

static size_t kept_len(const struct buf *b)
{
    return b ? b->len : 0;
}

static const char *kept_data(const struct buf *b)
{
    return b && b->len ? b->data : "";
}

uint64_t gather_hash(const struct gather_host *h)
{
    uint64_t v = FNV_OFFSET;

    v = fnv(v, h->status, strlen(h->status) + 1);
    v = fnv(v, h->exit, strlen(h->exit) + 1);
    for (int s = 0; s < LINE_STREAMS; s++) {
        uint64_t len = kept_len(h->kept[s]);
        v = fnv(v, &len, sizeof(len));
        v = fnv(v, kept_data(h->kept[s]), kept_len(h->kept[s]));
    }
    return v;
}

static bool same_key(const struct gather_host *a, const struct gather_host *b)
{
    if (strcmp(a->status, b->status) || strcmp(a->exit, b->exit))
        return false;
    for (int s = 0; s < LINE_STREAMS; s++)
        if (kept_len(a->kept[s]) != kept_len(b->kept[s]) ||
            memcmp(kept_data(a->kept[s]), kept_data(b->kept[s]),
                   kept_len(a->kept[s])))
            return false;
    return true;
}

struct keyed {
    uint64_t hash;
    size_t i;
};

static int by_hash(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;

    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int by_size(const void *x, const void *y)
{
    const struct gather_group *a = x, *b = y;

    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return a->v[0] < b->v[0] ? -1 : a->v[0] > b->v[0];
}

void gather_group(const struct gather_host *hosts, size_t n,
                  struct gather_group **groups, size_t *ngroups)
{
    struct keyed *k = xcalloc(n ? n : 1, sizeof(*k));
    struct gather_group *g = xcalloc(n ? n : 1, sizeof(*g));
    bool *taken = xcalloc(n ? n : 1, sizeof(*taken));
    size_t ng = 0;

    for (size_t i = 0; i < n; i++) {
        k[i].hash = gather_hash(&hosts[i]);
        k[i].i = i;
    }
    qsort(k, n, sizeof(*k), by_hash);
    for (size_t run = 0; run < n;) {
        size_t end = run;
        while (end < n && k[end].hash == k[run].hash)
            end++;
        /* split the run by the bytes: almost always one group */
        for (size_t a = run; a < end; a++) {
            struct gather_group *cur;
            if (taken[a])
                continue;
            cur = &g[ng++];
            cur->v = xcalloc(end - a, sizeof(*cur->v));
            for (size_t b = a; b < end; b++) {
                if (taken[b] || !same_key(&hosts[k[a].i], &hosts[k[b].i]))
                    continue;
                taken[b] = true;
                cur->v[cur->n++] = k[b].i; /* in host order: sorted by i */
            }
        }
        run = end;
    }
    qsort(g, ng, sizeof(*g), by_size);
    free(taken);
    free(k);
    *groups = g;
    *ngroups = ng;
}

void gather_groups_release(struct gather_group *groups, size_t ngroups)
{
    for (size_t i = 0; i < ngroups; i++)
        free(groups[i].v);
    free(groups);
}

char *gather_header(const struct gather_host *hosts,
                    const struct gather_group *g)
{
    struct strlist names = {0};
    char *set = NULL, err[ERR_MAX], *out;
    struct buf b = BUF_INIT(SIZE_MAX / 2);

    for (size_t i = 0; i < g->n; i++)
        strlist_push(&names, hosts[g->v[i]].name);
    if (nodeset_fold(&names, &set, err) != 0)
        set = strlist_join(&names, ",");
    /* no bound is reached: b's maximum is the address space */
    BUF_MUST(text_escape(&b, set, strlen(set)));
    BUF_MUST(buf_addf(&b, " (%zu host%s): ", g->n, g->n == 1 ? "" : "s"));
    BUF_MUST(
        text_escape(&b, hosts[g->v[0]].status, strlen(hosts[g->v[0]].status)));
    if (strcmp(hosts[g->v[0]].exit, "-") != 0) {
        const char *e = hosts[g->v[0]].exit;
        BUF_MUST(buf_addf(&b, ", %s", e[0] == 'S' ? "" : "exit "));
        BUF_MUST(text_escape(&b, e, strlen(e)));
    }
    out = buf_detach(&b);
    free(set);
    strlist_clear(&names);
    return out;
}

/* One line of output as shown: mark, the escaped bytes (a trailing CR
 * dropped, as live output does), a newline. */
static int add_line(struct buf *dst, const char *lead, const char *mark,
                    const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (buf_adds(dst, lead) || buf_adds(dst, mark) || text_escape(dst, p, n) ||
        buf_addc(dst, '\n'))
        return -1;
    return 0;
}

int gather_lines(struct buf *dst, const char *mark, const struct buf *text)
{
    const char *p = kept_data(text), *end = p + kept_len(text);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (add_line(dst, "", mark, p, n))
            return -1;
        p += n + 1;
    }
    return 0;
}

/* ---- the diff ------------------------------------------------------------ */

struct dline {
    const char *p;
    size_t n;
    uint64_t h;
};

static struct dline *split(const struct buf *text, size_t *count)
{
    const char *p = kept_data(text), *end = p + kept_len(text);
    struct dline *v = NULL;
    size_t n = 0, alloc = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        xgrow((void **)&v, &alloc, n + 1, sizeof(*v));
        v[n].p = p;
        v[n].n = len;
        v[n].h = fnv(FNV_OFFSET, p, len);
        n++;
        p += len + 1;
    }
    *count = n;
    return v;
}

static bool line_eq(const struct dline *a, const struct dline *b)
{
    return a->h == b->h && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

enum op { OP_EQ, OP_DEL, OP_INS };

/* Myers: fills ops (at most na + nb) and returns their count, or -1 when
 * more than max_d edits are needed. V[d] holds x for k = -d..d, at
 * V[d][k + d]. */
static long myers(const struct dline *a, long na, const struct dline *b,
                  long nb, long max_d, enum op *ops)
{
    long **V = xcalloc((size_t)max_d + 1, sizeof(*V));
    long d, found = -1, nops = 0, x, y, made = 0;

    for (d = 0; d <= max_d && found < 0; d++) {
        V[d] = xcalloc((size_t)(2 * d + 1), sizeof(long));
        made = d + 1;
        for (long k = -d; k <= d; k += 2) {
            if (d == 0)
                x = 0;
            else if (k == -d || (k != d && V[d - 1][k - 1 + d - 1] <
                                               V[d - 1][k + 1 + d - 1]))
                x = V[d - 1][k + 1 + d - 1]; /* down: b[y] inserted */
            else
                x = V[d - 1][k - 1 + d - 1] + 1; /* right: a[x] deleted */
            y = x - k;
            while (x < na && y < nb && line_eq(&a[x], &b[y])) {
                x++;
                y++;
            }
            V[d][k + d] = x;
            if (x >= na && y >= nb) {
                found = d;
                break;
            }
        }
    }
    if (found >= 0) {
        /* backtrack from (na, nb), writing ops from the end */
        long pos = na + nb; /* an upper bound on the count */
        enum op *rev = xcalloc((size_t)pos + 1, sizeof(*rev));
        x = na;
        y = nb;
        for (d = found; d >= 0; d--) {
            long k = x - y, pk, px, py;
            if (d == 0) {
                while (x > 0 && y > 0) {
                    rev[nops++] = OP_EQ;
                    x--;
                    y--;
                }
                break;
            }
            if (k == -d ||
                (k != d && V[d - 1][k - 1 + d - 1] < V[d - 1][k + 1 + d - 1]))
                pk = k + 1;
            else
                pk = k - 1;
            px = V[d - 1][pk + d - 1];
            py = px - pk;
            /* the snake after the move: down ends at x = px, right at px+1 */
            while (x > (pk == k + 1 ? px : px + 1)) {
                rev[nops++] = OP_EQ;
                x--;
                y--;
            }
            rev[nops++] = pk == k + 1 ? OP_INS : OP_DEL;
            x = px;
            y = py;
        }
        for (long i = 0; i < nops; i++)
            ops[i] = rev[nops - 1 - i];
        free(rev);
    }
    for (long i = 0; i < made; i++)
        free(V[i]);
    free(V);
    return found < 0 ? -1 : nops;
}

static int hunk(struct buf *dst, const char *mark, const struct dline *a,
                const struct dline *b, const enum op *ops, long from, long to,
                long ax, long by)
{
    long ac = 0, bc = 0;

    for (long i = from; i < to; i++) {
        ac += ops[i] != OP_INS;
        bc += ops[i] != OP_DEL;
    }
    if (buf_addf(dst, "@@ -%ld,%ld +%ld,%ld @@\n", ac ? ax + 1 : ax, ac,
                 bc ? by + 1 : by, bc))
        return -1;
    for (long i = from; i < to; i++) {
        int rc = 0;
        if (ops[i] == OP_EQ)
            rc = add_line(dst, " ", mark, a[ax].p, a[ax].n);
        else if (ops[i] == OP_DEL)
            rc = add_line(dst, "-", mark, a[ax].p, a[ax].n);
        else
            rc = add_line(dst, "+", mark, b[by].p, b[by].n);
        if (rc)
            return -1;
        ax += ops[i] != OP_INS;
        by += ops[i] != OP_DEL;
    }
    return 0;
}

int gather_diff(struct buf *dst, const char *mark, const struct buf *ta,
                const struct buf *tb)
{
    size_t na, nb;
    struct dline *a = split(ta, &na), *b = split(tb, &nb);
    enum op *ops = xcalloc(na + nb + 1, sizeof(*ops));
    /* Myers' work is (na + nb) * D: a long text gets fewer edits */
    long max_d = GATHER_DIFF_WORK / (long)(na + nb + 1);
    long nops = myers(
        a, (long)na, b, (long)nb,
        max_d < GATHER_DIFF_MAX_EDITS ? max_d : GATHER_DIFF_MAX_EDITS, ops);
    size_t mark_len = dst->len;
    int rc = 0;

    /* hunks: runs of ops around the changes, with GATHER_DIFF_CONTEXT
     * equal lines on each side, joined when their contexts touch */
    for (long i = 0, ax = 0, by = 0; nops > 0 && i < nops && rc == 0;) {
        long first, last, from, to, hax, hby;
        while (i < nops && ops[i] == OP_EQ) {
            i++;
            ax++;
            by++;
        }
        if (i >= nops)
            break;
        first = i;
        last = i;
        for (long j = i; j < nops; j++) {
            if (ops[j] == OP_EQ)
                continue;
            if (j - last - 1 > 2 * GATHER_DIFF_CONTEXT)
                break;
            last = j;
        }
        from =
            first - GATHER_DIFF_CONTEXT < 0 ? 0 : first - GATHER_DIFF_CONTEXT;
        to = last + 1 + GATHER_DIFF_CONTEXT > nops
                 ? nops
                 : last + 1 + GATHER_DIFF_CONTEXT;
        hax = ax - (first - from);
        hby = by - (first - from);
        rc = hunk(dst, mark, a, b, ops, from, to, hax, hby);
        for (; i < to; i++) {
            ax += ops[i] != OP_INS;
            by += ops[i] != OP_DEL;
        }
    }
    if (rc)
        buf_truncate(dst, mark_len);
    free(ops);
    free(a);
    free(b);
    if (nops < 0)
        return 1;
    return rc;
}
