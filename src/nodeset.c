/*
 * nodeset.c - ClusterShell's node set syntax: parsing, expanding, matching.
 *
 * The text is read term by term, each term into pieces (plain text, or a
 * bracket's indices); a term expands by concatenation into a set of names,
 * and the sets combine with the operators, left to right. The result is
 * put in ClusterShell's order by nodeset_fold.c. A matching pattern is
 * read the same way, except that globs may stand in the text: each term
 * keeps its plain names sorted for bsearch(3) and its globs for
 * fnmatch(3).
 */
#define _GNU_SOURCE
/* The buffers here have no maximum (SIZE_MAX): an append cannot be
 * refused, hence BUF_MUST. */
#include "oneoff/nodeset.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeset_int.h"

#define OPS ",!&^"

/* ---- sets of names ---- */

/* acc = acc OP t, OP one of OPS; t is emptied. */
static void nameset_apply(struct nameset *acc, struct nameset *t, char op)
{
    struct nameset r = {0};

    if (op == ',') {
        for (size_t i = 0; i < t->n; i++)
            nameset_add(acc, t->v[i]);
        t->n = 0;
        nameset_release(t);
        return;
    }
    for (size_t i = 0; i < acc->n; i++)
        if (nameset_has(t, acc->v[i]) == (op == '&'))
            nameset_add(&r, xstrdup(acc->v[i]));
    for (size_t i = 0; op == '^' && i < t->n; i++)
        if (!nameset_has(acc, t->v[i]))
            nameset_add(&r, xstrdup(t->v[i]));
    nameset_release(acc);
    nameset_release(t);
    *acc = r;
}

/* ---- parsing ---- */

/* One piece of a term: text (literal, or glob text), or a bracket's
 * indices. */
struct piece {
    char *text;
    struct rset ix;
    bool glob;
};

struct scan {
    const char *text; /* the whole pattern, for messages */
    const char *p;
    bool match; /* globs allowed: a matching pattern */
    char *err;
    const char *op; /* the operator before the term being read, or NULL */
    size_t names;   /* names the terms so far expanded to */
    size_t indices; /* indices the brackets so far hold */
};

/* All terms of one pattern together may expand to this many names. */
#define NODESET_WORK (4 * NODESET_MAX)

static int scan_err(const struct scan *s, const char *at, const char *fmt, ...)
    ONEOFF_PRINTF(3, 4);
static int scan_err(const struct scan *s, const char *at, const char *fmt, ...)
{
    char msg[ERR_MAX / 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return errf(s->err, "%s '%.200s%s', column %zu: %s",
                s->match ? "pattern" : "node set", s->text,
                strlen(s->text) > 200 ? "..." : "", (size_t)(at - s->text) + 1,
                msg);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads a number at *pp into out (its written form in *num, *numlen). */
static int read_num(const struct scan *s, const char **pp, const char *end,
                    struct idx *out, const char **num, size_t *numlen)
{
    const char *p = skip_ws(*pp), *q = p;

    while (q < end && is_digit(*q))
        q++;
    if (q == p) {
        if (p >= end || *p == ',')
            return scan_err(s, p, "empty range");
        return scan_err(s, p, "expected a number, found '%c'", *p);
    }
    if (!idx_read(p, (size_t)(q - p), out))
        return scan_err(s, p, "number '%.*s' is too large (at most %d digits)",
                        (int)(q - p), p, IDX_DIGITS);
    *num = p;
    *numlen = (size_t)(q - p);
    *pp = skip_ws(q);
    return 0;
}

static bool written_padded(const char *num, size_t n)
{
    return n > 1 && num[0] == '0';
}

/* ClusterShell never counts an end of zeros only ("0-00") as padded. */
static bool end_padded(const char *num, size_t n)
{
    return written_padded(num, n) && strspn(num, "0") < n;
}

/* Parses the range list in (open, close) into ix. lead: digits stand
 * right before '['; trail: digits right after ']'. Both join the indices,
 * and ClusterShell reads such digits into the range's bounds ("v1[8-12]"
 * is its v18 to v112, every number between), so where that differs from
 * plain concatenation (a run of numbers of different lengths), or where
 * ClusterShell refuses the padding, this is an error. */
static int scan_ranges(struct scan *s, const char *open, const char *close,
                       bool lead, bool trail, struct rset *ix)
{
    const char *p = open + 1;
    size_t total = 0;

    for (;;) {
        const char *sub = skip_ws(p), *bn, *en = NULL;
        size_t bl, el = 0;
        struct idx b, e, st = {1, 1};
        if (read_num(s, &p, close, &b, &bn, &bl))
            return -1;
        e = b;
        if (*p == '-') {
            p++;
            if (read_num(s, &p, close, &e, &en, &el))
                return -1;
            if (*p == '/') {
                const char *sn;
                size_t sl;
                p++;
                if (read_num(s, &p, close, &st, &sn, &sl))
                    return -1;
                if (st.v == 0)
                    return scan_err(s, sn, "a step must be at least 1");
                if (trail)
                    return scan_err(s, close + 1,
                                    "digits right after a range with a step");
            }
            if ((written_padded(bn, bl) || end_padded(en, el)) && bl != el)
                return scan_err(s, sub,
                                "'%.*s-%.*s': padded numbers must have the "
                                "same number of digits",
                                (int)bl, bn, (int)el, en);
            if (trail && (bn[0] == '0' || en[0] == '0') && bl != el)
                return scan_err(s, sub,
                                "'%.*s-%.*s' with the digits after ']' "
                                "makes padded numbers of different lengths",
                                (int)bl, bn, (int)el, en);
            if (b.v > e.v)
                return scan_err(s, sub,
                                "range '%.*s-%.*s' goes down (write "
                                "%.*s-%.*s)",
                                (int)bl, bn, (int)el, en, (int)el, en, (int)bl,
                                bn);
        } else if (*p == '/') {
            return scan_err(s, p, "a step needs a range (A-B/STEP)");
        }
        if (p < close && *p != ',')
            return scan_err(s, p, "expected ',', '-' or ']', found '%c'", *p);
        if ((e.v - b.v) / st.v >= NODESET_MAX ||
            (total += (e.v - b.v) / st.v + 1) > NODESET_MAX)
            return scan_err(s, open, "expands to more than %d names",
                            NODESET_MAX);
        if ((s->indices += (e.v - b.v) / st.v + 1) > NODESET_WORK)
            return scan_err(s, open,
                            "the brackets so far hold more than %d numbers",
                            NODESET_WORK);
        for (uint64_t v = b.v; v <= e.v; v += st.v) {
            struct idx a = {v, b.w};
            if (!written_padded(bn, bl) || idx_ndigits(v) > a.w)
                a.w = idx_ndigits(v);
            rset_push(ix, a);
        }
        if (p >= close)
            break;
        p++;
    }
    if (lead) {
        struct rset c = {0};
        for (size_t i = 0; i < ix->n; i++)
            rset_push(&c, ix->v[i]);
        rset_settle(&c);
        for (size_t i = 0, j; i < c.n; i = j) {
            j = rset_run(&c, i);
            if (c.v[i].w != c.v[j - 1].w) {
                free(c.v);
                return scan_err(s, open,
                                "digits before '[' and a range of numbers "
                                "of different lengths are ambiguous; put "
                                "the digits inside the brackets");
            }
        }
        free(c.v);
    }
    return 0;
}

/* In a matching pattern: the end of the glob class opening at p, or NULL
 * when it never closes. */
static const char *glob_class_end(const char *p)
{
    const char *q = p + 1;

    if (*q == '!' || *q == '^')
        q++;
    if (*q == ']')
        q++;
    for (; *q && *q != ']'; q++)
        if (q[0] == '[' && q[1] == ':') {
            const char *e = strstr(q + 2, ":]");
            if (e == NULL)
                return NULL;
            q = e + 1;
        }
    return *q ? q : NULL;
}

static bool is_range_list(const char *p, const char *end)
{
    bool digit = false;

    for (; p < end; p++) {
        if (!strchr("0123456789,-/ \t", *p))
            return false;
        digit |= is_digit(*p);
    }
    return digit;
}

struct term {
    struct piece *pc;
    size_t n, alloc;
    bool glob;
};

static void term_release(struct term *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->pc[i].text);
        free(t->pc[i].ix.v);
    }
    free(t->pc);
    memset(t, 0, sizeof(*t));
}

static struct piece *term_add(struct term *t)
{
    xgrow((void **)&t->pc, &t->alloc, t->n + 1, sizeof(*t->pc));
    memset(&t->pc[t->n], 0, sizeof(*t->pc));
    return &t->pc[t->n++];
}

/* Adds the text [p, q) to the term, joining the piece before. */
static void term_text(struct term *t, const char *p, const char *q, bool glob)
{
    struct piece *last = t->n ? &t->pc[t->n - 1] : NULL;

    if (last == NULL || last->text == NULL) {
        last = term_add(t);
        last->text = xstrndup(p, (size_t)(q - p));
    } else {
        char *j = xasprintf("%s%.*s", last->text, (int)(q - p), p);
        free(last->text);
        last->text = j;
    }
    last->glob |= glob;
    t->glob |= glob;
}

static int scan_bracket(struct scan *s, struct term *t)
{
    const char *open = s->p, *close = NULL, *d;
    const struct piece *last = t->n ? &t->pc[t->n - 1] : NULL;
    bool lead = false;

    if (s->match && (close = glob_class_end(open)) != NULL &&
        !is_range_list(open + 1, close)) {
        term_text(t, open, close + 1, true);
        s->p = close + 1;
        return 0;
    }
    for (close = open + 1; *close && *close != ']'; close++)
        if (*close == '[')
            return scan_err(s, close, "'[' inside brackets");
    if (*close == '\0')
        return scan_err(s, open, "'[' is never closed");
    if (last && last->text == NULL)
        return scan_err(s, open, "two brackets in a row");
    if (last) { /* digits right before '[' join the indices */
        const char *txt = last->text, *e = txt + strlen(txt);
        for (d = e; d > txt && is_digit(d[-1]);)
            d--;
        if (d < e && d == txt && t->n > 1)
            return scan_err(s, open, "digits between two brackets");
        lead = d < e;
    }
    if (scan_ranges(s, open, close, lead, is_digit(close[1]), &term_add(t)->ix))
        return -1;
    s->p = close + 1;
    return 0;
}

/* Parses one term at s->p, up to an operator or the end. */
static int scan_term(struct scan *s, struct term *t)
{
    const char *start;

    memset(t, 0, sizeof(*t));
    s->p = start = skip_ws(s->p);
    if (*s->p == '@')
        return scan_err(s, s->p, "node groups ('@') are not supported");
    while (*s->p && !strchr(OPS, *s->p)) {
        const char *p = s->p;
        if (*p == ' ' || *p == '\t') {
            s->p = skip_ws(p);
            if (*s->p && !strchr(OPS, *s->p))
                return scan_err(s, p, "whitespace inside a name");
        } else if (*p == '[') {
            if (scan_bracket(s, t))
                return -1;
        } else if (*p == ']') {
            return scan_err(s, p, "']' without '['");
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return scan_err(s, p, "control character 0x%02x",
                            (unsigned)(unsigned char)*p);
        } else if ((*p == '*' || *p == '?') && !s->match) {
            return scan_err(s, p, "'%c' is a glob, not a node set", *p);
        } else {
            term_text(t, p, p + 1, *p == '*' || *p == '?');
            s->p++;
        }
    }
    if (s->p == start || t->n == 0) {
        if (*start == '\0' && start == skip_ws(s->text))
            return scan_err(s, start, "empty %s",
                            s->match ? "pattern" : "node set");
        if (*start == '\0' && s->op)
            return scan_err(s, s->op, "nothing after '%c'", *s->op);
        return scan_err(s, start, "nothing before '%c'", *start);
    }
    return 0;
}

/* The names of a term; false with an error past NODESET_MAX. */
static int term_expand(struct scan *s, const char *start, const struct term *t,
                       struct nameset *out)
{
    size_t total = 1, *at = xcalloc(t->n, sizeof(*at));
    struct buf b = BUF_INIT(SIZE_MAX);
    char x[IDX_WIDTH + 1];

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < t->n; i++)
        if (t->pc[i].text == NULL) {
            total *= t->pc[i].ix.n;
            if (total > NODESET_MAX) {
                free(at);
                return scan_err(s, start, "expands to more than %d names",
                                NODESET_MAX);
            }
        }
    s->names += total;
    if (s->names > NODESET_WORK) {
        free(at);
        return scan_err(s, start,
                        "the terms so far expand to more than %d names",
                        NODESET_WORK);
    }
    for (bool more = true; more;) {
        buf_reset(&b);
        for (size_t i = 0; i < t->n; i++) {
            if (t->pc[i].text) {
                BUF_MUST(buf_adds(&b, t->pc[i].text));
                continue;
            }
            idx_format(t->pc[i].ix.v[at[i]], x, sizeof(x));
            BUF_MUST(buf_adds(&b, x));
        }
        nameset_add(out, xstrdup(buf_str(&b)));
        more = false;
        for (size_t i = t->n; i-- > 0 && !more;) {
            if (t->pc[i].text)
                continue;
            more = ++at[i] < t->pc[i].ix.n;
            if (!more)
                at[i] = 0;
        }
    }
    free(at);
    buf_release(&b);
    return 0;
}

/* Parses the whole text, calling each(term's names, operator) in order. */
typedef int (*term_fn)(void *ctx, struct scan *s, const char *start,
                       const struct term *t, char op);

static int scan_all(struct scan *s, term_fn each, void *ctx)
{
    char op = ',';

    s->p = s->text;
    s->op = NULL;
    for (;;) {
        struct term t;
        const char *start = skip_ws(s->p);
        int rc = scan_term(s, &t);
        if (rc == 0)
            rc = each(ctx, s, start, &t, op);
        term_release(&t);
        if (rc)
            return -1;
        if (*s->p == '\0')
            return 0;
        s->op = s->p;
        op = *s->p++;
    }
}

/* ---- expanding and folding ---- */

static int expand_term(void *ctx, struct scan *s, const char *start,
                       const struct term *t, char op)
{
    struct nameset *acc = ctx, names;

    if (term_expand(s, start, t, &names))
        return -1;
    nameset_apply(acc, &names, op);
    if (acc->n > NODESET_MAX)
        return scan_err(s, start,
                        "with this term the set holds more than %d "
                        "names",
                        NODESET_MAX);
    return 0;
}

int nodeset_expand(const char *text, struct strlist *out, char *err)
{
    struct scan s = {text, text, false, err, NULL, 0, 0};
    struct nameset acc = {0};

    if (scan_all(&s, expand_term, &acc)) {
        nameset_release(&acc);
        return -1;
    }
    nodeset_layout(acc.v, acc.n, NULL, out);
    nameset_release(&acc);
    return 0;
}

void nodeset_split(const char *list, struct strlist *out)
{
    const char *p = list;
    int depth = 0;

    for (const char *q = list;; q++) {
        if (*q == '[')
            depth++;
        else if (*q == ']' && depth > 0)
            depth--;
        if (*q == '\0' || (*q == ',' && depth == 0)) {
            const char *a = skip_ws(p), *e = q;
            while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > a)
                strlist_push_owned(out, xstrndup(a, (size_t)(e - a)));
            if (*q == '\0')
                return;
            p = q + 1;
        }
    }
}

/* ---- matching ---- */

struct nodeset_term {
    char op;
    char **names; /* plain names, sorted for bsearch */
    size_t nnames;
    char **globs; /* fnmatch(3) patterns */
    size_t nglobs;
};

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int match_term(void *ctx, struct scan *s, const char *start,
                      const struct term *t, char op)
{
    struct nodeset_match *m = ctx;
    struct nodeset_term *mt;
    struct nameset names;

    if (term_expand(s, start, t, &names))
        return -1;
    m->terms = xrealloc(m->terms, (m->nterms + 1) * sizeof(*m->terms));
    mt = &m->terms[m->nterms++];
    memset(mt, 0, sizeof(*mt));
    mt->op = op;
    if (t->glob) {
        mt->globs = names.v;
        mt->nglobs = names.n;
    } else {
        qsort(names.v, names.n, sizeof(*names.v), cmp_strp);
        mt->names = names.v;
        mt->nnames = names.n;
    }
    free(names.slot);
    return 0;
}

int nodeset_match_init(struct nodeset_match *m, const char *pattern, char *err)
{
    struct scan s = {pattern, pattern, true, err, NULL, 0, 0};

    memset(m, 0, sizeof(*m));
    if (scan_all(&s, match_term, m)) {
        nodeset_match_release(m);
        return -1;
    }
    return 0;
}

static bool term_hit(const struct nodeset_term *t, const char *name)
{
    if (t->nnames &&
        bsearch(&name, t->names, t->nnames, sizeof(*t->names), cmp_strp))
        return true;
    for (size_t i = 0; i < t->nglobs; i++)
        if (fnmatch(t->globs[i], name, 0) == 0)
            return true;
    return false;
}

bool nodeset_match_test(const struct nodeset_match *m, const char *name)
{
    bool in = false;

    for (size_t i = 0; i < m->nterms; i++) {
        const struct nodeset_term *t = &m->terms[i];
        switch (t->op) {
        case ',':
            in = in || term_hit(t, name);
            break;
        case '!':
            in = in && !term_hit(t, name);
            break;
        case '&':
            in = in && term_hit(t, name);
            break;
        default: /* '^' */
            in = in != term_hit(t, name);
            break;
        }
    }
    return in;
}

void nodeset_match_release(struct nodeset_match *m)
{
    for (size_t i = 0; i < m->nterms; i++) {
        struct nodeset_term *t = &m->terms[i];
        for (size_t k = 0; k < t->nnames; k++)
            free(t->names[k]);
        for (size_t k = 0; k < t->nglobs; k++)
            free(t->globs[k]);
        free(t->names);
        free(t->globs);
    }
    free(m->terms);
    memset(m, 0, sizeof(*m));
}
