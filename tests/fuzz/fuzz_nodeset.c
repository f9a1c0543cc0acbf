/*
 * fuzz_nodeset.c - libFuzzer target for the node set parser, folding and
 * matching.
 *
 * Node sets arrive in inventory files and on command lines, so any bytes
 * must give a result or an error, never a crash, a leak or a hang. Beyond
 * that, the target checks what must hold for every input that expands:
 * folding the names and expanding the fold gives the same names in the
 * same order, and a matcher compiled from the same text accepts each name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/nodeset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Round trips cost three layouts; keep the fuzzer fast on big sets. */
#define CHECK_MAX 2000

static void check(const struct strlist *names, const char *text)
{
    struct strlist back = {0};
    struct nodeset_match m;
    char err[ERR_MAX];
    char *folded = NULL;

    if (nodeset_fold(names, &folded, err) != 0) {
        if (names->n == 0)
            return;
        /* a name a node set gave can always be folded */
        fprintf(stderr, "fold of the expansion of '%s' failed: %s\n", text,
                err);
        abort();
    }
    if (names->n && nodeset_expand(folded, &back, err) != 0) {
        fprintf(stderr, "fold '%s' of '%s' does not expand: %s\n", folded, text,
                err);
        abort();
    }
    if (back.n != names->n) {
        fprintf(stderr, "'%s' -> '%s': %zu names, then %zu\n", text, folded,
                names->n, back.n);
        abort();
    }
    for (size_t i = 0; i < back.n; i++)
        if (strcmp(back.v[i], names->v[i]) != 0) {
            fprintf(stderr, "'%s' -> '%s': name %zu is '%s', then '%s'\n", text,
                    folded, i, names->v[i], back.v[i]);
            abort();
        }
    if (nodeset_match_init(&m, text, err) != 0) {
        fprintf(stderr, "'%s' expands but does not compile: %s\n", text, err);
        abort();
    }
    for (size_t i = 0; i < names->n; i++)
        if (!nodeset_match_test(&m, names->v[i])) {
            fprintf(stderr, "'%s' does not match its own '%s'\n", text,
                    names->v[i]);
            abort();
        }
    nodeset_match_release(&m);
    strlist_clear(&back);
    free(folded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct strlist names = {0}, parts = {0};
    struct nodeset_match m;
    char err[ERR_MAX];

    memcpy(text, data, size);
    text[size] = '\0';
    if (nodeset_expand(text, &names, err) == 0 && names.n <= CHECK_MAX)
        check(&names, text);
    if (nodeset_match_init(&m, text, err) == 0) {
        nodeset_match_test(&m, "web01");
        nodeset_match_test(&m, text);
        nodeset_match_release(&m);
    }
    nodeset_split(text, &parts);
    strlist_clear(&parts);
    strlist_clear(&names);
    free(text);
    return 0;
}
