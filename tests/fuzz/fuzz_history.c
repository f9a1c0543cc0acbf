/*
 * fuzz_history.c - libFuzzer target for the history reader (history.c).
 *
 * A host's history.jsonl is untrusted input: a crash can tear a line, and
 * anyone who can write the file can put anything in it. The input is cut
 * in two at its first byte's value: the histories of two hosts, merged,
 * sorted, looked up and written back as JSON. Nothing may crash, leak or
 * hang, and every line is either used or reported.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct history h;
    struct history_query q = {"x", NULL, NULL};
    const struct history_run *r = NULL;
    const struct history_run **all;
    size_t cut;
    char *js;

    if (size == 0)
        return 0;
    cut = data[0] % size;
    history_init(&h);
    history_add_text(&h, "h1", (const char *)data + 1, cut ? cut - 1 : 0);
    history_add_text(&h, "h2", (const char *)data + (cut ? cut : 1),
                     size - (cut ? cut : 1));
    history_sort(&h);
    if (h.n) {
        q.sha256 = h.runs[0].sha256 ? h.runs[0].sha256 : "x";
        q.stage = h.runs[0].stage;
        q.revision = "r";
        history_lookup(&h, &q, &r);
        if (history_find(&h, h.runs[h.n - 1].run) == NULL)
            abort();
    }
    all = calloc(h.n ? h.n : 1, sizeof(*all));
    for (size_t i = 0; all && i < h.n; i++)
        all[i] = &h.runs[i];
    js = history_json(&h, all, all ? h.n : 0);
    free(js);
    free(all);
    history_release(&h);
    return 0;
}
