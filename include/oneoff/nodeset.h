/*
 * nodeset.h - ClusterShell's node set syntax: "web[01-10]", "web[1-10/2]",
 * "r[1-2]n[1-3]", "web[1-3],db1", and back from a list of names to the
 * shortest such string ("db1,web[1-3,7]").
 *
 * A node set is a list of terms joined by operators read left to right:
 * ',' union, '!' difference, '&' intersection, '^' symmetric difference.
 * A term is a name whose brackets hold range lists: "N", "A-B" and
 * "A-B/STEP", comma-separated. Zero padding is kept as written ("01-10"
 * gives web01 ... web10; padded bounds must have the same number of
 * digits). Whitespace around terms and inside brackets is ignored.
 *
 * Order is ClusterShell's (what `nodeset -e` and `nodeset -f` print): the
 * names are grouped by their pattern (the name with each digit run as a
 * placeholder), patterns in byte order, and in a pattern the indices by
 * number of digits, then value. A set has no duplicates.
 *
 * Not supported, and refused with an error: node groups ("@group"),
 * negative indices, and indices with more than 18 significant digits (a
 * digit run that long in a name is kept as plain text when folding).
 *
 * Errors name the pattern and the 1-based column of the fault:
 *   node set 'web[3-1]', column 5: range '3-1' goes down (write 1-3)
 * Caller-supplied err buffers are ERR_MAX bytes.
 */
#ifndef ONEOFF_NODESET_H
#define ONEOFF_NODESET_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/util.h"

/* The most names one pattern may expand to (the fuzzer builds with less). */
#ifndef NODESET_MAX
#define NODESET_MAX 100000
#endif

/* Expands text and appends the names to out, in ClusterShell's order and
 * without duplicates. On error out is left as it was. */
int nodeset_expand(const char *text, struct strlist *out, char *err);

/* Expands Ansible's host ranges ("www[01:50].example.com", "[1:9:2]",
 * "[a:f]"; nodeset_range.c), in Ansible's order, appending to out; at most
 * NODESET_MAX names. On error out is left as it was. */
int nodeset_expand_ansible(const char *text, struct strlist *out, char *err);

/* Folds names (duplicates allowed) into the shortest node set string, as
 * `nodeset -f` prints it; *out is newly allocated (caller frees). Fails for
 * a name that could not be read back: empty, or holding whitespace, a
 * control character or one of "[]!&^,*?", or starting with '@'. For any
 * other list, nodeset_expand(*out) gives back exactly the names. */
int nodeset_fold(const struct strlist *names, char **out, char *err);

/* Splits a comma-separated list at the commas outside brackets
 * ("web[1-3,7],db*" -> "web[1-3,7]", "db*"), trimming whitespace and
 * dropping empty items; appends to out. */
void nodeset_split(const char *list, struct strlist *out);

/*
 * Matching names against a pattern that may mix node sets and shell globs
 * (fnmatch(3)): "web[01-10]", "db*", "rack[1-2]-*", "web[1-10]!web5". A
 * bracket whose content is a range list (digits, ',', '-', '/') is a node
 * set, so "web[05]" means web05 and "web[1-10]" web1 ... web10; any other
 * bracket ("[a-c]", "[!0-9]") is a glob class. The operators are those of
 * node sets; a leading '!' is an error here (callers that give '!PATTERN'
 * its own meaning strip it first).
 */
struct nodeset_term; /* private to nodeset.c */
struct nodeset_match {
    struct nodeset_term *terms;
    size_t nterms;
};

/* Compiles pattern into m; on error m is empty and err says why. */
int nodeset_match_init(struct nodeset_match *m, const char *pattern, char *err);
bool nodeset_match_test(const struct nodeset_match *m, const char *name);
void nodeset_match_release(struct nodeset_match *m);

#endif
