/*
 * gather.h - gathered output (--output gather, -b): hosts whose output and
 * ending are the same are shown once, under a node set of their names,
 * and the differing ones each once more, biggest group first; with --diff
 * every other group is shown as a unified diff against the biggest.
 *
 * What is kept of a host: its lines, raw, each ending in '\n', in one
 * buffer per stream (stdout, stderr, set-up). The key of a host is its
 * status word, its exit (code or signal) and those three buffers: two
 * hosts are in one group when their keys are byte for byte the same. A
 * 64-bit hash of the key sorts the hosts; equal hashes are confirmed by
 * comparing the bytes, so a collision never joins two groups.
 *
 * Bounds (output.c enforces them while lines arrive): at most
 * GATHER_HOST_MAX bytes kept per host and GATHER_TOTAL_MAX in all; a host
 * past either is shown on its own block instead, as --output grouped
 * does. The diff is bounded too: at most GATHER_DIFF_MAX_EDITS changed
 * lines per stream, and fewer for long texts (the work, lines times
 * edits, stays under GATHER_DIFF_WORK), else the group is shown whole.
 *
 * Pure functions: no locks, no output; output.c writes what they build.
 */
#ifndef ONEOFF_GATHER_H
#define ONEOFF_GATHER_H

#include <stddef.h>
#include <stdint.h>

#include "oneoff/buf.h"
#include "oneoff/lines.h"

#define GATHER_HOST_MAX (64u << 10)
#define GATHER_TOTAL_MAX (64u << 20)
#define GATHER_DIFF_MAX_EDITS 1000
#define GATHER_DIFF_WORK (16l << 20)
#define GATHER_DIFF_CONTEXT 3

/* One host as gathered: kept[s] holds stream s's lines, each ending in
 * '\n' (the lines hold no '\n' of their own). */
struct gather_host {
    const char *name;
    const char *status; /* "ok", "failed", ... */
    const char *exit;   /* "0", "SIGKILL", "-" */
    const struct buf *kept[LINE_STREAMS];
};

/* A group: indices into the hosts given, in their order. */
struct gather_group {
    size_t *v;
    size_t n;
};

/* Groups hosts[0..n) by key; *groups is newly allocated, biggest group
 * first, groups of one size in the order of their first host. */
void gather_group(const struct gather_host *hosts, size_t n,
                  struct gather_group **groups, size_t *ngroups);
void gather_groups_release(struct gather_group *groups, size_t ngroups);

/* The key's hash of one host (exposed for tests). */
uint64_t gather_hash(const struct gather_host *h);

/* The header of a group: "web[1-3,7] (4 hosts): ok, exit 0". The names
 * are folded into a node set (nodeset.h), or listed when they cannot be;
 * escaped. Newly allocated. */
char *gather_header(const struct gather_host *hosts,
                    const struct gather_group *g);

/* Appends the lines of text (lines ending in '\n'), escaped, each after
 * mark ("" or "setup: "), to dst. Returns 0, or -1 when dst is full. */
int gather_lines(struct buf *dst, const char *mark,
                 const struct buf *text) ONEOFF_MUST_USE;

/* A unified diff (3 lines of context, "@@ -a,b +c,d @@" hunks) of text a
 * (the old, lines ending in '\n') against b, escaped, each line after its
 * '-', '+' or ' ' and mark; nothing when they are equal. Returns 0, 1 when
 * too many lines differ (see the top; dst unchanged), or -1 when dst is
 * full. */
int gather_diff(struct buf *dst, const char *mark, const struct buf *a,
                const struct buf *b) ONEOFF_MUST_USE;

#endif
