/*
 * yaml_doc.h - typed, located access to small YAML files.
 *
 * The only module that includes <yaml.h>. A file is read with libyaml's
 * event API into a plain tree of scalars, mappings and sequences, each node
 * carrying its 1-based line and column. The reader is deliberately strict:
 * no anchors, aliases or tags (so no alias bombs and no cycles), a depth
 * and a node budget, duplicate keys are errors, one document per file.
 *
 * Every error is one line "NAME:LINE:COL: what is wrong" written to the
 * caller's ERR_MAX buffer. NAME is the display name given at parse time
 * (for example "hosts/production.yml"). Messages are safe to print: what
 * they quote from the file is escaped (text.h), a control byte in a key as
 * much as an ESC in a host name.
 */
#ifndef ONEOFF_YAML_DOC_H
#define ONEOFF_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/util.h"

#define YDOC_MAX_BYTES (4u << 20)
#define YDOC_MAX_DEPTH 32
#define YDOC_MAX_NODES 1000000u
/* Per mapping of environment values and per list: values copied into every
 * host must stay small, or a large inventory costs hosts x values. */
#define YDOC_MAX_ENV 256
#define YDOC_MAX_LIST 256

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
    enum ynode_kind kind;
    unsigned line;
    unsigned col;
    /* scalar */
    char *str;
    size_t len;
    bool plain; /* unquoted: "", "~" and "null" read as null */
    /* map or seq that is the value of a key: that key's text (borrowed) */
    const char *key;
    /* map: item[2i] is a key (a scalar), item[2i+1] its value; seq: items */
    struct ynode **item;
    size_t n;
    size_t alloc;
};

struct ydoc {
    char *name;
    struct ynode *root; /* NULL for an empty file */
    size_t nodes;
};

/* Parses len bytes of data. On success doc owns a tree to be freed with
 * ydoc_release(); on failure doc is left empty. */
int ydoc_parse(struct ydoc *doc, const char *name, const char *data, size_t len,
               char *err);
/* Reads path (at most YDOC_MAX_BYTES) and parses it as ydoc_parse().
 * display is the name used in messages. */
int ydoc_load(struct ydoc *doc, const char *path, const char *display,
              char *err);
void ydoc_release(struct ydoc *doc);

/* Formats "NAME:LINE:COL: message" at node n (or 1:1 when n is NULL), the
 * whole of it escaped (text.h): pass values raw, never escaped. */
int ydoc_err(const struct ydoc *d, const struct ynode *n, char *err,
             const char *fmt, ...) ONEOFF_PRINTF(4, 5);

size_t ymap_len(const struct ynode *map);
const struct ynode *ymap_key(const struct ynode *map, size_t i);
const struct ynode *ymap_val(const struct ynode *map, size_t i);
/* The value of key in map, or NULL. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
bool ynode_is_null(const struct ynode *n);

/* Checks n is a mapping; what names it in the message ("the task file"). */
int ydoc_want_map(const struct ydoc *d, const struct ynode *n, const char *what,
                  char *err);
/* Fails on the first key of map not in allowed (NULL-terminated), with a
 * "did you mean" for near misses. where is added to the message, e.g.
 * "in host 'web1'" (may be NULL). */
int ydoc_check_keys(const struct ydoc *d, const struct ynode *map,
                    const char *const *allowed, const char *where, char *err);
/* Fails when key is absent from map. */
int ydoc_require(const struct ydoc *d, const struct ynode *map, const char *key,
                 const struct ynode **out, char *err);

/* Typed readers: what names the value in messages (usually the key).
 * *out is replaced; strings are newly allocated (previous value freed). */
int ydoc_str(const struct ydoc *d, const struct ynode *n, const char *what,
             char **out, char *err);
int ydoc_bool(const struct ydoc *d, const struct ynode *n, const char *what,
              bool *out, char *err);
int ydoc_uint(const struct ydoc *d, const struct ynode *n, const char *what,
              unsigned long min, unsigned long max, unsigned long *out,
              char *err);
int ydoc_duration(const struct ydoc *d, const struct ynode *n, const char *what,
                  int64_t *ms, char *err);
/* A scalar or a sequence of scalars, appended to out. */
int ydoc_strlist(const struct ydoc *d, const struct ynode *n, const char *what,
                 struct strlist *out, char *err);
/* A mapping of environment names to scalar values, merged into out. */
int ydoc_env(const struct ydoc *d, const struct ynode *n, const char *what,
             struct kvlist *out, char *err);

#endif
