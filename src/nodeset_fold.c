/*
 * nodeset_fold.c - node sets in ClusterShell's order: index sets, sets of
 * names, and folding names into the shortest node set string.
 *
 * Each name splits into a pattern ("r%sn%s") and its indices. The names of
 * one pattern are folded into vectors of index sets as ClusterShell's
 * RangeSetND does: one vector when a single dimension varies, otherwise a
 * greedy merge of single-name vectors, in sorted passes. The vectors are
 * then printed ("r[1-2]n[1-3]"), or iterated for the expanded order (last
 * dimension fastest). The merge is quadratic at worst, so it stops after a
 * fixed amount of work: the result then still holds exactly the names,
 * only perhaps in more pieces than ClusterShell would print.
 */
#define _GNU_SOURCE
/* The buffers here have no maximum (SIZE_MAX): an append cannot be
 * refused, hence BUF_MUST. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeset_int.h"

/* Index comparisons the merge may spend (the fuzzer builds with less). */
#ifndef FOLD_BUDGET
#define FOLD_BUDGET 20000000u
#endif

/* ---- indices and index sets ---- */

unsigned idx_ndigits(uint64_t v)
{
    unsigned n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static bool idx_padded(struct idx a)
{
    return a.w > idx_ndigits(a.v);
}

/* ClusterShell's order: shorter first, then by value. */
static int idx_cmp(const struct idx *a, const struct idx *b)
{
    if (a->w != b->w)
        return a->w < b->w ? -1 : 1;
    return a->v < b->v ? -1 : a->v > b->v;
}

static int idx_cmp_q(const void *a, const void *b)
{
    return idx_cmp(a, b);
}

void idx_format(struct idx a, char *buf, size_t n)
{
    char tmp[IDX_WIDTH];
    size_t k = 0;
    uint64_t v = a.v;

    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k < sizeof(tmp));
    while (k < a.w && k < sizeof(tmp))
        tmp[k++] = '0';
    if (n == 0)
        return;
    if (k > n - 1)
        k = n - 1;
    for (size_t i = 0; i < k; i++)
        buf[i] = tmp[k - 1 - i];
    buf[k] = '\0';
}

/* Compares the written forms as strings, as ClusterShell's sort keys do. */
static int idx_strcmp(struct idx a, struct idx b)
{
    char x[IDX_WIDTH + 1], y[IDX_WIDTH + 1];

    idx_format(a, x, sizeof(x));
    idx_format(b, y, sizeof(y));
    return strcmp(x, y);
}

/* Reads the digit run s[0..n) as an index; false when too large. */
bool idx_read(const char *s, size_t n, struct idx *out)
{
    size_t z = 0;

    if (n == 0 || n > IDX_WIDTH)
        return false;
    while (z + 1 < n && s[z] == '0')
        z++;
    if (n - z > IDX_DIGITS)
        return false;
    out->v = 0;
    out->w = (unsigned)n;
    for (size_t i = z; i < n; i++)
        out->v = out->v * 10 + (uint64_t)(s[i] - '0');
    return true;
}

void rset_push(struct rset *r, struct idx a)
{
    if (r->alloc == 0 && r->n) { /* borrowed from a pool: copy first */
        struct idx *own = xcalloc(r->n, sizeof(*own));
        memcpy(own, r->v, r->n * sizeof(*own));
        r->v = own;
        r->alloc = r->n;
    }
    xgrow((void **)&r->v, &r->alloc, r->n + 1, sizeof(*r->v));
    r->v[r->n++] = a;
}

/* Sorts and removes duplicates after rset_push()es. */
void rset_settle(struct rset *r)
{
    size_t k = 0;

    if (r->n < 2)
        return;
    qsort(r->v, r->n, sizeof(*r->v), idx_cmp_q);
    for (size_t i = 1; i < r->n; i++)
        if (idx_cmp(&r->v[i], &r->v[k]) != 0)
            r->v[++k] = r->v[i];
    r->n = k + 1;
}

static bool rset_eq(const struct rset *a, const struct rset *b, size_t *work)
{
    if (a->n != b->n)
        return false;
    *work += a->n;
    for (size_t i = 0; i < a->n; i++)
        if (idx_cmp(&a->v[i], &b->v[i]) != 0)
            return false;
    return true;
}

/* How many members of a are also in b. */
/* Where x is, or would go, in r. */
static size_t rset_find(const struct rset *r, const struct idx *x, bool *found)
{
    size_t lo = 0, hi = r->n;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = idx_cmp(&r->v[mid], x);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A few indices against a big set: binary searches, not a walk. */
#define RSET_FEW 8

static size_t rset_common(const struct rset *a, const struct rset *b,
                          size_t *work)
{
    size_t i = 0, j = 0, k = 0;
    bool found;

    if (idx_cmp(&a->v[a->n - 1], &b->v[0]) < 0 ||
        idx_cmp(&b->v[b->n - 1], &a->v[0]) < 0)
        return 0;
    if (a->n <= RSET_FEW || b->n <= RSET_FEW) {
        const struct rset *few = a->n <= b->n ? a : b, *many = few == a ? b : a;
        for (i = 0; i < few->n; i++) {
            rset_find(many, &few->v[i], &found);
            k += found;
        }
        *work += few->n;
        return k;
    }
    *work += a->n + b->n;
    while (i < a->n && j < b->n) {
        int c = idx_cmp(&a->v[i], &b->v[j]);
        if (c == 0)
            k++;
        i += c <= 0;
        j += c >= 0;
    }
    return k;
}

/* a = a | b. */
static void rset_union(struct rset *a, const struct rset *b)
{
    struct rset m = {0};
    size_t i = 0, j = 0;

    if (idx_cmp(&a->v[a->n - 1], &b->v[0]) < 0) {
        for (j = 0; j < b->n; j++)
            rset_push(a, b->v[j]);
        return;
    }
    if (b->n <= RSET_FEW) { /* insert in place */
        for (j = 0; j < b->n; j++) {
            bool found;
            size_t at = rset_find(a, &b->v[j], &found);
            if (found)
                continue;
            rset_push(a, b->v[j]);
            memmove(&a->v[at + 1], &a->v[at], (a->n - 1 - at) * sizeof(*a->v));
            a->v[at] = b->v[j];
        }
        return;
    }
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : idx_cmp(&a->v[i], &b->v[j]);
        rset_push(&m, c <= 0 ? a->v[i] : b->v[j]);
        i += c <= 0;
        j += c >= 0;
    }
    if (a->alloc)
        free(a->v);
    *a = m;
}

/* The end (exclusive) of the run of r that starts at i: consecutive
 * values, all padded to the first one's width or all unpadded. */
size_t rset_run(const struct rset *r, size_t i)
{
    bool padded = idx_padded(r->v[i]);
    size_t j = i + 1;

    for (; j < r->n; j++) {
        struct idx e = r->v[j];
        if (padded ? e.w != r->v[i].w : idx_padded(e))
            break;
        if (e.v != r->v[j - 1].v + 1)
            break;
    }
    return j;
}

/* "1-3,7,01-02" (ClusterShell without autostep). */
static void rset_print(struct buf *b, const struct rset *r)
{
    char x[IDX_WIDTH + 1];

    for (size_t i = 0, j; i < r->n; i = j) {
        j = rset_run(r, i);
        idx_format(r->v[i], x, sizeof(x));
        BUF_MUST(buf_addf(b, "%s%s", i ? "," : "", x));
        if (j - i > 1) {
            idx_format(r->v[j - 1], x, sizeof(x));
            BUF_MUST(buf_addf(b, "-%s", x));
        }
    }
}

/* ---- names split into a pattern and its indices ---- */

struct node {
    char *pat; /* the name, '%' doubled, "%s" for each index */
    struct idx *ix;
    size_t nix;
    size_t pos;
};

static void node_split(struct node *nd, const char *name, size_t pos)
{
    size_t len = strlen(name), runs = 0, o = 0;
    char *pat = xmalloc(2 * len + 1);

    for (size_t i = 0; i < len; i++)
        runs += is_digit(name[i]) && (i == 0 || !is_digit(name[i - 1]));
    nd->ix = xcalloc(runs ? runs : 1, sizeof(*nd->ix));
    nd->nix = 0;
    nd->pos = pos;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        if (!is_digit(name[i])) {
            if (name[i] == '%')
                pat[o++] = '%';
            pat[o++] = name[i++];
            continue;
        }
        while (j < len && is_digit(name[j]))
            j++;
        if (idx_read(name + i, j - i, &nd->ix[nd->nix])) {
            nd->nix++;
            pat[o++] = '%';
            pat[o++] = 's';
        } else {
            memcpy(pat + o, name + i, j - i); /* too long: plain text */
            o += j - i;
        }
        i = j;
    }
    pat[o] = '\0';
    nd->pat = pat;
}

static int node_cmp(const void *a, const void *b)
{
    const struct node *x = *(struct node *const *)a;
    const struct node *y = *(struct node *const *)b;
    int c = strcmp(x->pat, y->pat);

    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* ---- folding the names of one pattern into vectors ---- */

struct vec {
    struct rset *d; /* one index set per dimension */
    size_t ndim;
    size_t count; /* names it holds */
    size_t pos;   /* sort tie-break: place before sorting */
};

static void vec_count(struct vec *v, size_t ndim)
{
    v->count = 1;
    for (size_t k = 0; k < ndim; k++)
        v->count *= v->d[k].n;
}

/* ClusterShell's key: more names first; then per dimension the larger
 * set, the lower first and the lower last index (as strings). */
static int vec_cmp(const void *a, const void *b)
{
    const struct vec *x = *(struct vec *const *)a;
    const struct vec *y = *(struct vec *const *)b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    for (size_t k = 0; k < x->ndim; k++) {
        const struct rset *p = &x->d[k], *q = &y->d[k];
        int c;
        if (p->n != q->n)
            return p->n > q->n ? -1 : 1;
        if ((c = idx_strcmp(p->v[0], q->v[0])) != 0 ||
            (c = idx_strcmp(p->v[p->n - 1], q->v[q->n - 1])) != 0)
            return c;
    }
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void vec_sort(struct vec **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i]->pos = i;
    qsort(v, n, sizeof(*v), vec_cmp);
}

/* Merges b into a when they differ in one dimension only, there either
 * disjoint or one holding the other. Returns whether it did. */
static bool vec_merge(struct vec *a, const struct vec *b, size_t ndim,
                      size_t *work)
{
    size_t diff = SIZE_MAX, common = 0;

    for (size_t k = 0; k < ndim; k++) {
        const struct rset *p = &a->d[k], *q = &b->d[k];
        if (rset_eq(p, q, work))
            continue;
        if (diff != SIZE_MAX)
            return false;
        diff = k;
        common = rset_common(p, q, work);
        if (common && common != p->n && common != q->n)
            return false;
    }
    if (diff == SIZE_MAX)
        return true;
    if (common == 0) {
        rset_union(&a->d[diff], &b->d[diff]);
    } else if (common == a->d[diff].n) { /* b holds a */
        struct rset c = {0};
        for (size_t i = 0; i < b->d[diff].n; i++)
            rset_push(&c, b->d[diff].v[i]);
        if (a->d[diff].alloc)
            free(a->d[diff].v);
        a->d[diff] = c;
    }
    vec_count(a, ndim);
    return true;
}

/* ClusterShell's multivariate merge: sorted passes that merge each vector
 * with the next ones it can absorb; quick passes look at the next vector
 * only, then full passes at all of them, until nothing changes. */
static size_t vec_merge_all(struct vec **v, size_t n, size_t ndim)
{
    bool full = false, chg = true;
    size_t work = 0;

    while (chg && work < FOLD_BUDGET) {
        size_t k = 0;
        chg = false;
        vec_sort(v, n);
        for (size_t i = 0; i < n && work < FOLD_BUDGET; i++) {
            if (v[i] == NULL)
                continue;
            for (size_t j = i + 1; j < n && work < FOLD_BUDGET; j++) {
                if (v[j] == NULL)
                    continue;
                work++;
                if (vec_merge(v[i], v[j], ndim, &work)) {
                    v[j] = NULL; /* its memory goes with the pools */
                    chg = true;
                } else if (!full) {
                    break;
                }
            }
        }
        for (size_t i = 0; i < n; i++)
            if (v[i])
                v[k++] = v[i];
        n = k;
        if (!chg && !full)
            chg = full = true;
    }
    vec_sort(v, n);
    return n;
}

/* The vectors of the names of one pattern. Vectors, their index sets and
 * the single indices they start with come from pools, one allocation each
 * however many names (an index set that grows gets memory of its own). */
struct fold {
    struct vec **v;
    size_t n;
    struct vec *vpool;
    struct rset *dpool;
    struct idx *ipool;
    size_t npool, ndim;
};

static void fold_release(struct fold *f)
{
    for (size_t i = 0; i < f->npool * f->ndim; i++)
        if (f->dpool[i].alloc)
            free(f->dpool[i].v);
    free(f->v);
    free(f->vpool);
    free(f->dpool);
    free(f->ipool);
}

static void fold_nodes(struct fold *f, struct node **nd, size_t n, size_t ndim)
{
    size_t varying = 0;

    for (size_t k = 0; k < ndim; k++)
        for (size_t i = 1; i < n; i++)
            if (idx_cmp(&nd[i]->ix[k], &nd[0]->ix[k]) != 0) {
                varying++;
                break;
            }
    f->ndim = ndim;
    f->npool = varying <= 1 ? 1 : n;
    f->v = xcalloc(f->npool, sizeof(*f->v));
    f->vpool = xcalloc(f->npool, sizeof(*f->vpool));
    f->dpool = xcalloc(f->npool * ndim, sizeof(*f->dpool));
    f->ipool = xcalloc(f->npool * ndim, sizeof(*f->ipool));
    for (size_t i = 0; i < f->npool; i++) {
        f->v[i] = &f->vpool[i];
        f->v[i]->d = &f->dpool[i * ndim];
        f->v[i]->ndim = ndim;
        f->v[i]->count = 1;
    }
    if (varying <= 1) {
        struct vec *v = f->v[0];
        for (size_t k = 0; k < ndim; k++) {
            for (size_t i = 0; i < n; i++)
                rset_push(&v->d[k], nd[i]->ix[k]);
            rset_settle(&v->d[k]);
        }
        vec_count(v, ndim);
        f->n = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ndim; k++) {
            struct rset *r = &f->v[i]->d[k];
            r->v = &f->ipool[i * ndim + k];
            r->v[0] = nd[i]->ix[k];
            r->n = 1;
        }
    f->n = vec_merge_all(f->v, n, ndim);
}

/* Appends pat with each "%s" replaced by the next of parts. */
static void pat_fill(struct buf *b, const char *pat, char *const *parts)
{
    size_t k = 0;

    for (const char *p = pat; *p; p++) {
        if (*p != '%') {
            BUF_MUST(buf_addc(b, *p));
        } else if (*++p == 's') {
            BUF_MUST(buf_adds(b, parts[k++]));
        } else {
            BUF_MUST(buf_addc(b, '%'));
        }
    }
}

/* Appends one vector's folded form ("r[1-2]n3") to folded, or its names
 * (last dimension fastest) to names. */
static void vec_emit(const char *pat, const struct vec *v, size_t ndim,
                     struct buf *folded, struct strlist *names)
{
    char **parts = xcalloc(ndim, sizeof(*parts));
    size_t *at = xcalloc(ndim, sizeof(*at));
    struct buf b = BUF_INIT(SIZE_MAX);

    for (size_t k = 0; k < ndim; k++)
        parts[k] = xmalloc(IDX_WIDTH + 1);
    if (folded) {
        for (size_t k = 0; k < ndim; k++) {
            struct buf r = BUF_INIT(SIZE_MAX);
            rset_print(&r, &v->d[k]);
            free(parts[k]);
            parts[k] =
                v->d[k].n > 1 ? xasprintf("[%s]", buf_str(&r)) : buf_detach(&r);
            buf_release(&r);
        }
        pat_fill(folded, pat, parts);
    }
    for (bool more = names != NULL; more;) {
        for (size_t k = 0; k < ndim; k++)
            idx_format(v->d[k].v[at[k]], parts[k], IDX_WIDTH + 1);
        buf_reset(&b);
        pat_fill(&b, pat, parts);
        strlist_push(names, buf_str(&b));
        more = false;
        for (size_t k = ndim; k-- > 0 && !more;) {
            more = ++at[k] < v->d[k].n;
            if (!more)
                at[k] = 0;
        }
    }
    for (size_t k = 0; k < ndim; k++)
        free(parts[k]);
    free(parts);
    free(at);
    buf_release(&b);
}

/* Lays n distinct names out in ClusterShell's order: folded into folded
 * (comma-separated), or one by one into names. */
void nodeset_layout(char *const *v, size_t n, struct buf *folded,
                    struct strlist *names)
{
    struct node *nodes = xcalloc(n ? n : 1, sizeof(*nodes));
    struct node **nd = xcalloc(n ? n : 1, sizeof(*nd));

    for (size_t i = 0; i < n; i++) {
        node_split(&nodes[i], v[i], i);
        nd[i] = &nodes[i];
    }
    qsort(nd, n, sizeof(*nd), node_cmp);
    for (size_t i = 0, j; i < n; i = j) {
        size_t ndim = nd[i]->nix;
        struct fold f;
        for (j = i + 1; j < n && strcmp(nd[j]->pat, nd[i]->pat) == 0;)
            j++;
        if (ndim == 0) { /* one name: its pattern is the name, '%' doubled */
            struct buf b = BUF_INIT(SIZE_MAX);
            pat_fill(&b, nd[i]->pat, NULL);
            if (folded)
                BUF_MUST(buf_addf(folded, "%s%s", folded->len ? "," : "",
                                  buf_str(&b)));
            if (names)
                strlist_push(names, buf_str(&b));
            buf_release(&b);
            continue;
        }
        fold_nodes(&f, nd + i, j - i, ndim);
        for (size_t k = 0; k < f.n; k++) {
            if (folded && folded->len)
                BUF_MUST(buf_addc(folded, ','));
            vec_emit(nd[i]->pat, f.v[k], ndim, folded, names);
        }
        fold_release(&f);
    }
    for (size_t i = 0; i < n; i++) {
        free(nodes[i].pat);
        free(nodes[i].ix);
    }
    free(nodes);
    free(nd);
}

/* ---- sets of names ---- */

static size_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static size_t nameset_find(const struct nameset *s, const char *name)
{
    size_t i = name_hash(name) & (s->nslot - 1);

    while (s->slot[i] && strcmp(s->v[s->slot[i] - 1], name) != 0)
        i = (i + 1) & (s->nslot - 1);
    return i;
}

bool nameset_has(const struct nameset *s, const char *name)
{
    return s->nslot && s->slot[nameset_find(s, name)] != 0;
}

/* Adds name (taking it over); frees it when already there. */
void nameset_add(struct nameset *s, char *name)
{
    size_t i;

    if (2 * (s->n + 1) > s->nslot) {
        size_t ns = s->nslot ? 2 * s->nslot : 64;
        free(s->slot);
        s->slot = xcalloc(ns, sizeof(*s->slot));
        s->nslot = ns;
        for (size_t k = 0; k < s->n; k++)
            s->slot[nameset_find(s, s->v[k])] = k + 1;
    }
    i = nameset_find(s, name);
    if (s->slot[i]) {
        free(name);
        return;
    }
    xgrow((void **)&s->v, &s->alloc, s->n + 1, sizeof(*s->v));
    s->v[s->n++] = name;
    s->slot[i] = s->n;
}

void nameset_release(struct nameset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s->slot);
    memset(s, 0, sizeof(*s));
}

/* ---- the public entry point ---- */

int nodeset_fold(const struct strlist *names, char **out, char *err)
{
    struct nameset set = {0};
    struct buf b = BUF_INIT(SIZE_MAX);

    *out = NULL;
    for (size_t i = 0; i < names->n; i++) {
        const char *n = names->v[i];
        for (const char *p = n; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f ||
                strchr("[]!&^,*?", *p)) {
                nameset_release(&set);
                return errf(err, "cannot fold '%s': it holds '%c'", n, *p);
            }
        if (*n == '\0' || *n == '@') {
            nameset_release(&set);
            return errf(err, "cannot fold '%s': %s", n,
                        *n ? "it starts with '@'" : "empty name");
        }
        nameset_add(&set, xstrdup(n));
    }
    nodeset_layout(set.v, set.n, &b, NULL);
    nameset_release(&set);
    *out = buf_detach(&b);
    return 0;
}
