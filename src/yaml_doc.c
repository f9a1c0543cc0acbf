/*
 * yaml_doc.c - libyaml events into a located tree, and typed readers.
 *
 * Why events and not yaml_parser_load(): the loader shares aliased nodes
 * (an alias bomb of 16 stored nodes walks as 672,604) and can build cycles;
 * it keeps duplicate keys and has no depth limit. Reading events lets us
 * refuse anchors, aliases and tags outright, cap depth and size, and find
 * duplicate keys, with a line and column for every complaint.
 */
#define _GNU_SOURCE
#include "oneoff/yaml_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "oneoff/text.h"

/* A file name quoted in a message (escaped: it may come from the command
 * line). */
#define NAME_QUOTE 512

static struct ynode *node_new(struct ydoc *d, enum ynode_kind kind,
                              const yaml_mark_t *m)
{
    struct ynode *n = xcalloc(1, sizeof(*n));

    n->kind = kind;
    n->line = (unsigned)m->line + 1;
    n->col = (unsigned)m->column + 1;
    d->nodes++;
    return n;
}

static void node_free(struct ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->item[i]);
    free(n->item);
    free(n->str);
    free(n);
}

static void node_add(struct ynode *parent, struct ynode *child)
{
    xgrow((void **)&parent->item, &parent->alloc, parent->n + 1,
          sizeof(*parent->item));
    parent->item[parent->n++] = child;
}

void ydoc_release(struct ydoc *doc)
{
    node_free(doc->root);
    free(doc->name);
    memset(doc, 0, sizeof(*doc));
}

int ydoc_err(const struct ydoc *d, const struct ynode *n, char *err,
             const char *fmt, ...)
{
    char msg[ERR_MAX], qmsg[ERR_MAX], qname[NAME_QUOTE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* What these messages quote comes from the file (keys, values, host
     * names): the whole message is escaped here, once, so that no caller
     * can forget a value, and none may escape its own. */
    return errf(err, "%s:%u:%u: %s",
                text_escape_msg(d->name, qname, sizeof(qname)), n ? n->line : 1,
                n ? n->col : 1, text_escape_msg(msg, qmsg, sizeof(qmsg)));
}

/* When libyaml fails on a line indented with a tab, say so plainly: its own
 * message ("found character that cannot start any token") helps nobody. */
static bool tab_in_indent(const char *data, size_t len, size_t line,
                          size_t *col)
{
    size_t i = 0, l = 0;

    while (i < len && l < line) {
        if (data[i++] == '\n')
            l++;
    }
    for (size_t c = 0; i < len && (data[i] == ' ' || data[i] == '\t');
         i++, c++) {
        if (data[i] == '\t') {
            *col = c;
            return true;
        }
    }
    return false;
}

static int parser_error(struct ydoc *d, yaml_parser_t *p, const char *data,
                        size_t len, char *err)
{
    size_t line = p->problem_mark.line, col = p->problem_mark.column;
    size_t tcol = 0, tline = SIZE_MAX;
    char qname[NAME_QUOTE];
    const char *name = text_escape_msg(d->name, qname, sizeof(qname));

    if (p->error == YAML_MEMORY_ERROR)
        return errf(err, "%s: out of memory while parsing", name);
    if (p->error == YAML_READER_ERROR)
        return errf(err, "%s: byte %zu: %s (the file must be UTF-8 text)", name,
                    p->problem_offset,
                    p->problem ? p->problem : "invalid input");
    /* libyaml may report a tab-indented line at the start of the next */
    if (tab_in_indent(data, len, line, &tcol))
        tline = line;
    else if (line > 0 && col == 0 && tab_in_indent(data, len, line - 1, &tcol))
        tline = line - 1;
    if (tline != SIZE_MAX)
        return errf(err,
                    "%s:%zu:%zu: tab character in indentation; YAML "
                    "indents with spaces only",
                    name, tline + 1, tcol + 1);
    if (p->context)
        return errf(err, "%s:%zu:%zu: %s (%s at %zu:%zu)", name, line + 1,
                    col + 1, p->problem ? p->problem : "syntax error",
                    p->context, (size_t)p->context_mark.line + 1,
                    (size_t)p->context_mark.column + 1);
    return errf(err, "%s:%zu:%zu: %s", name, line + 1, col + 1,
                p->problem ? p->problem : "syntax error");
}

static int cmp_key(const void *a, const void *b)
{
    const struct ynode *x = *(struct ynode *const *)a;
    const struct ynode *y = *(struct ynode *const *)b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, m);

    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : (x->col > y->col);
}

/* Duplicate keys, found by sorting at the end of a mapping so that a huge
 * mapping costs n log n; the later occurrence is the one reported. */
static int check_duplicates(struct ydoc *d, const struct ynode *map, char *err)
{
    size_t nk = map->n / 2;
    struct ynode **keys;
    int rc = 0;

    if (nk < 2)
        return 0;
    keys = xmalloc(nk * sizeof(*keys));
    for (size_t i = 0; i < nk; i++)
        keys[i] = map->item[2 * i];
    qsort(keys, nk, sizeof(*keys), cmp_key);
    for (size_t i = 1; i < nk; i++) {
        if (keys[i]->len == keys[i - 1]->len &&
            memcmp(keys[i]->str, keys[i - 1]->str, keys[i]->len) == 0) {
            if (map->key && strcmp(map->key, "hosts") == 0)
                rc = ydoc_err(d, keys[i], err,
                              "duplicate host '%s' (first at line %u)",
                              keys[i]->str, keys[i - 1]->line);
            else if (map->key)
                rc = ydoc_err(d, keys[i], err,
                              "duplicate key '%s' in '%s' (first at line %u)",
                              keys[i]->str, map->key, keys[i - 1]->line);
            else
                rc = ydoc_err(d, keys[i], err,
                              "duplicate key '%s' (first at line %u)",
                              keys[i]->str, keys[i - 1]->line);
            break;
        }
    }
    free(keys);
    return rc;
}

/* Refuses the YAML features this reader does not support, at the event. */
static int refuse_features(struct ydoc *d, const yaml_event_t *ev,
                           const unsigned char *anchor,
                           const unsigned char *tag, int implicit, char *err)
{
    struct ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                       .col = (unsigned)ev->start_mark.column + 1};

    if (anchor)
        return ydoc_err(d, &at, err,
                        "anchors (&%s) are not supported; write the "
                        "values out",
                        (const char *)anchor);
    if (tag && !implicit)
        return ydoc_err(d, &at, err, "tags (%s) are not supported",
                        (const char *)tag);
    return 0;
}

struct builder {
    struct ynode *stack[YDOC_MAX_DEPTH + 1];
    int depth;
    int docs;
};

static int attach(struct ydoc *d, struct builder *b, struct ynode *n, char *err)
{
    struct ynode *top;

    if (b->depth == 0) {
        d->root = n;
        return 0;
    }
    top = b->stack[b->depth - 1];
    if (top->kind == YNODE_MAP && top->n % 2 == 1 && n->kind != YNODE_SCALAR)
        n->key = top->item[top->n - 1]->str;
    if (top->kind == YNODE_MAP && top->n % 2 == 0) {
        if (n->kind != YNODE_SCALAR) {
            int rc = ydoc_err(d, n, err, "a key must be a plain string");
            node_free(n);
            return rc;
        }
    }
    node_add(top, n);
    return 0;
}

static int handle_event(struct ydoc *d, struct builder *b,
                        const yaml_event_t *ev, char *err)
{
    struct ynode *n = NULL;

    if (d->nodes >= YDOC_MAX_NODES) {
        struct ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                           .col = (unsigned)ev->start_mark.column + 1};
        return ydoc_err(d, &at, err, "file has too many values (limit %u)",
                        YDOC_MAX_NODES);
    }
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1) {
            struct ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                               .col = (unsigned)ev->start_mark.column + 1};
            return ydoc_err(d, &at, err,
                            "a second YAML document; one file holds one "
                            "document");
        }
        return 0;
    case YAML_ALIAS_EVENT: {
        struct ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                           .col = (unsigned)ev->start_mark.column + 1};
        return ydoc_err(d, &at, err,
                        "aliases (*%s) are not supported; write the values "
                        "out",
                        (const char *)ev->data.alias.anchor);
    }
    case YAML_SCALAR_EVENT:
        if (refuse_features(d, ev, ev->data.scalar.anchor, ev->data.scalar.tag,
                            ev->data.scalar.plain_implicit ||
                                ev->data.scalar.quoted_implicit,
                            err))
            return -1;
        n = node_new(d, YNODE_SCALAR, &ev->start_mark);
        n->len = ev->data.scalar.length;
        n->str = xstrndup((const char *)ev->data.scalar.value, n->len);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (memchr(n->str, '\0', n->len)) {
            int rc = ydoc_err(d, n, err, "NUL byte in a value");
            node_free(n);
            return rc;
        }
        return attach(d, b, n, err);
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        if (refuse_features(d, ev,
                            map ? ev->data.mapping_start.anchor
                                : ev->data.sequence_start.anchor,
                            map ? ev->data.mapping_start.tag
                                : ev->data.sequence_start.tag,
                            map ? ev->data.mapping_start.implicit
                                : ev->data.sequence_start.implicit,
                            err))
            return -1;
        if (b->depth >= YDOC_MAX_DEPTH) {
            struct ynode at = {.line = (unsigned)ev->start_mark.line + 1,
                               .col = (unsigned)ev->start_mark.column + 1};
            return ydoc_err(d, &at, err, "nesting deeper than %d levels",
                            YDOC_MAX_DEPTH);
        }
        n = node_new(d, map ? YNODE_MAP : YNODE_SEQ, &ev->start_mark);
        if (attach(d, b, n, err))
            return -1;
        b->stack[b->depth++] = n;
        return 0;
    }
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        n = b->stack[--b->depth];
        if (n->kind == YNODE_MAP)
            return check_duplicates(d, n, err);
        return 0;
    default:
        return 0;
    }
}

int ydoc_parse(struct ydoc *doc, const char *name, const char *data, size_t len,
               char *err)
{
    yaml_parser_t parser;
    struct builder b;
    char qname[NAME_QUOTE];
    int rc = 0;

    memset(doc, 0, sizeof(*doc));
    memset(&b, 0, sizeof(b));
    doc->name = xstrdup(name);
    if (len > YDOC_MAX_BYTES) {
        rc = errf(err, "%s: file is larger than %u bytes",
                  text_escape_msg(name, qname, sizeof(qname)), YDOC_MAX_BYTES);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = errf(err, "%s: cannot initialise the YAML parser",
                  text_escape_msg(name, qname, sizeof(qname)));
        goto out;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    for (;;) {
        yaml_event_t ev;
        yaml_event_type_t type;

        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(doc, &parser, data, len, err);
            break;
        }
        rc = handle_event(doc, &b, &ev, err);
        type = ev.type;
        yaml_event_delete(&ev);
        if (rc || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
out:
    if (rc) {
        /* On error, nodes still on the stack are owned by the root. */
        char *keep = doc->name;
        doc->name = NULL;
        node_free(doc->root);
        doc->root = NULL;
        free(keep);
        doc->nodes = 0;
        return -1;
    }
    return 0;
}

int ydoc_load(struct ydoc *doc, const char *path, const char *display,
              char *err)
{
    char *data = NULL, qname[NAME_QUOTE];
    size_t len = 0;
    int rc;

    memset(doc, 0, sizeof(*doc));
    rc = file_read(path, YDOC_MAX_BYTES, &data, &len);
    if (rc == -EFBIG)
        return errf(err, "%s: file is larger than %u bytes",
                    text_escape_msg(display, qname, sizeof(qname)),
                    YDOC_MAX_BYTES);
    if (rc < 0)
        return errf(err, "cannot read '%s': %s",
                    text_escape_msg(display, qname, sizeof(qname)),
                    strerror(-rc));
    rc = ydoc_parse(doc, display, data, len, err);
    free(data);
    return rc;
}

size_t ymap_len(const struct ynode *map)
{
    return map && map->kind == YNODE_MAP ? map->n / 2 : 0;
}

const struct ynode *ymap_key(const struct ynode *map, size_t i)
{
    return map->item[2 * i];
}

const struct ynode *ymap_val(const struct ynode *map, size_t i)
{
    return 2 * i + 1 < map->n ? map->item[2 * i + 1] : NULL;
}

const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
    size_t klen = strlen(key);

    for (size_t i = 0; i < ymap_len(map); i++) {
        const struct ynode *k = ymap_key(map, i);
        if (k->len == klen && memcmp(k->str, key, klen) == 0)
            return ymap_val(map, i);
    }
    return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
    return n == NULL || (n->kind == YNODE_SCALAR && n->plain &&
                         (n->len == 0 || strcmp(n->str, "~") == 0 ||
                          strcmp(n->str, "null") == 0));
}

static const char *kind_name(const struct ynode *n)
{
    if (ynode_is_null(n))
        return "nothing";
    switch (n->kind) {
    case YNODE_MAP:
        return "a mapping";
    case YNODE_SEQ:
        return "a list";
    default:
        return "a string";
    }
}

int ydoc_want_map(const struct ydoc *d, const struct ynode *n, const char *what,
                  char *err)
{
    if (n == NULL)
        return ydoc_err(d, NULL, err, "%s is empty; expected a mapping", what);
    if (n->kind != YNODE_MAP)
        return ydoc_err(d, n, err, "%s must be a mapping, not %s", what,
                        kind_name(n));
    return 0;
}

int ydoc_check_keys(const struct ydoc *d, const struct ynode *map,
                    const char *const *allowed, const char *where, char *err)
{
    for (size_t i = 0; i < ymap_len(map); i++) {
        const struct ynode *k = ymap_key(map, i);
        const char *best = NULL;
        size_t bestd = 3, j;

        for (j = 0; allowed[j]; j++) {
            if (strcmp(allowed[j], k->str) == 0)
                break;
            size_t dist = str_distance(k->str, allowed[j], 2);
            if (dist < bestd) {
                bestd = dist;
                best = allowed[j];
            }
        }
        if (allowed[j])
            continue;
        if (best)
            return ydoc_err(d, k, err,
                            "unknown key '%s'%s%s; did you mean '%s'?", k->str,
                            where ? " " : "", where ? where : "", best);
        return ydoc_err(d, k, err, "unknown key '%s'%s%s", k->str,
                        where ? " " : "", where ? where : "");
    }
    return 0;
}

int ydoc_require(const struct ydoc *d, const struct ynode *map, const char *key,
                 const struct ynode **out, char *err)
{
    const struct ynode *v = ymap_get(map, key);

    *out = NULL;
    for (size_t i = 0; i < ymap_len(map); i++)
        if (strcmp(ymap_key(map, i)->str, key) == 0)
            return (*out = v, 0);
    return ydoc_err(d, map, err, "missing required key '%s'", key);
}

int ydoc_str(const struct ydoc *d, const struct ynode *n, const char *what,
             char **out, char *err)
{
    if (n == NULL || n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ydoc_err(d, n, err, "'%s' must be a string, not %s", what,
                        kind_name(n));
    free(*out);
    *out = xstrdup(n->str);
    return 0;
}

int ydoc_bool(const struct ydoc *d, const struct ynode *n, const char *what,
              bool *out, char *err)
{
    static const char *const yaml11[] = {"yes", "no", "on",   "off",   "y", "n",
                                         "Yes", "No", "True", "False", NULL};

    if (n && n->kind == YNODE_SCALAR && n->plain) {
        if (strcmp(n->str, "true") == 0)
            return (*out = true, 0);
        if (strcmp(n->str, "false") == 0)
            return (*out = false, 0);
        for (size_t i = 0; yaml11[i]; i++)
            if (strcmp(n->str, yaml11[i]) == 0)
                return ydoc_err(d, n, err,
                                "'%s' must be true or false, not '%s'", what,
                                n->str);
    }
    if (n && n->kind == YNODE_SCALAR)
        return ydoc_err(d, n, err, "'%s' must be true or false, not '%s'", what,
                        n->str);
    return ydoc_err(d, n, err, "'%s' must be true or false, not %s", what,
                    kind_name(n));
}

int ydoc_uint(const struct ydoc *d, const struct ynode *n, const char *what,
              unsigned long min, unsigned long max, unsigned long *out,
              char *err)
{
    unsigned long v = 0;

    if (n == NULL || n->kind != YNODE_SCALAR || n->len == 0 || n->len > 12)
        goto bad;
    for (size_t i = 0; i < n->len; i++) {
        if (n->str[i] < '0' || n->str[i] > '9')
            goto bad;
        v = v * 10 + (unsigned long)(n->str[i] - '0');
    }
    if (v < min || v > max)
        return ydoc_err(d, n, err, "'%s' must be between %lu and %lu, not %s",
                        what, min, max, n->str);
    *out = v;
    return 0;
bad:
    if (n && n->kind == YNODE_SCALAR)
        return ydoc_err(d, n, err, "'%s' must be a number, not '%s'", what,
                        n->str);
    return ydoc_err(d, n, err, "'%s' must be a number, not %s", what,
                    kind_name(n));
}

int ydoc_duration(const struct ydoc *d, const struct ynode *n, const char *what,
                  int64_t *ms, char *err)
{
    char msg[ERR_MAX];

    if (n == NULL || n->kind != YNODE_SCALAR)
        return ydoc_err(d, n, err,
                        "'%s' must be a duration such as 15m, not "
                        "%s",
                        what, kind_name(n));
    if (duration_parse(n->str, ms, msg))
        return ydoc_err(d, n, err, "'%s': %s", what, msg);
    return 0;
}

int ydoc_strlist(const struct ydoc *d, const struct ynode *n, const char *what,
                 struct strlist *out, char *err)
{
    if (n && n->kind == YNODE_SCALAR && !ynode_is_null(n)) {
        strlist_push(out, n->str);
        return 0;
    }
    if (n == NULL || n->kind != YNODE_SEQ)
        return ydoc_err(d, n, err,
                        "'%s' must be a string or a list of strings, not %s",
                        what, kind_name(n));
    if (n->n > YDOC_MAX_LIST)
        return ydoc_err(d, n, err, "'%s' has more than %d items", what,
                        YDOC_MAX_LIST);
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->item[i];
        if (it->kind != YNODE_SCALAR || ynode_is_null(it))
            return ydoc_err(d, it, err, "items of '%s' must be strings, not %s",
                            what, kind_name(it));
        strlist_push(out, it->str);
    }
    return 0;
}

int ydoc_env(const struct ydoc *d, const struct ynode *n, const char *what,
             struct kvlist *out, char *err)
{
    if (n == NULL || n->kind != YNODE_MAP)
        return ydoc_err(d, n, err,
                        "'%s' must be a mapping of NAME: value, not %s", what,
                        kind_name(n));
    if (ymap_len(n) > YDOC_MAX_ENV)
        return ydoc_err(d, n, err, "'%s' has more than %d values", what,
                        YDOC_MAX_ENV);
    for (size_t i = 0; i < ymap_len(n); i++) {
        const struct ynode *k = ymap_key(n, i), *v = ymap_val(n, i);
        if (!env_name_valid(k->str))
            return ydoc_err(d, k, err,
                            "'%s' is not a valid environment variable name",
                            k->str);
        if (v == NULL || v->kind != YNODE_SCALAR)
            return ydoc_err(d, v ? v : k, err,
                            "value of %s in '%s' must be a string, not %s",
                            k->str, what, kind_name(v));
        kvlist_set(out, k->str, v->str);
    }
    return 0;
}
