/*
 * nodeset_int.h - what nodeset.c (parsing, expanding, matching) and
 * nodeset_fold.c (ordering and folding) share. Not a public interface.
 */
#ifndef ONEOFF_NODESET_INT_H
#define ONEOFF_NODESET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/nodeset.h"
#include "oneoff/util.h"

#define IDX_DIGITS 18 /* significant digits of an index */
#define IDX_WIDTH 64  /* digits of an index as written, zeros included */

/* One index as written: its value and its number of digits ("007": 7, 3). */
struct idx {
    uint64_t v;
    unsigned w;
};

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

unsigned idx_ndigits(uint64_t v);
/* The written form, zero-padded to a.w digits, into buf (IDX_WIDTH + 1). */
void idx_format(struct idx a, char *buf, size_t n);
/* Reads the digit run s[0..n) as an index; false when too large. */
bool idx_read(const char *s, size_t n, struct idx *out);

/* A set of indices, sorted by number of digits then value, without
 * duplicates once settled. The caller frees v. */
struct rset {
    struct idx *v;
    size_t n, alloc;
};

void rset_push(struct rset *r, struct idx a);
/* Sorts and removes duplicates after rset_push()es. */
void rset_settle(struct rset *r);
/* The end (exclusive) of the run of settled r that starts at i:
 * consecutive values, all padded to the first one's width or all
 * unpadded (ClusterShell's "A-B" pieces). */
size_t rset_run(const struct rset *r, size_t i);

/* Distinct names in insertion order, with an open-addressing index.
 * Zero-initialise; nameset_release() frees the names and the index. */
struct nameset {
    char **v;
    size_t n, alloc;
    size_t *slot; /* index + 1 into v; 0: free */
    size_t nslot;
};

bool nameset_has(const struct nameset *s, const char *name);
/* Adds name, taking it over; frees it when already there. */
void nameset_add(struct nameset *s, char *name);
void nameset_release(struct nameset *s);

/* Lays n distinct names out in ClusterShell's order: folded into folded
 * (comma-separated) when not NULL, and one by one into names when not
 * NULL. */
void nodeset_layout(char *const *v, size_t n, struct buf *folded,
                    struct strlist *names);

#endif
