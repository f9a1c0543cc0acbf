/*
 * preflight.h - what a host's preflight script reported (see
 * script_preflight()), parsed from its output.
 */
#ifndef ONEOFF_PREFLIGHT_H
#define ONEOFF_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/util.h"

enum task_state {
    TASK_STATE_NONE,
    TASK_SAME,
    TASK_DIFFERS,
    TASK_ABSENT,
    TASK_UNKNOWN,
};

struct preflight {
    char *release;     /* resolved release directory (absolute) */
    char *revision;    /* "" when the release has no revision file */
    char *task_sha256; /* hex digest, "none", "unknown"; NULL: not asked */
    bool lock_checked;
    bool lock_held;
    char *lock_holder;
};

/* Parses the preflight's stdout. Fails when the release line is missing. */
int preflight_parse(struct preflight *pf, const char *out, size_t len,
                    char *err);
void preflight_release(struct preflight *pf);

/* The release id: the last component of the release directory. */
const char *preflight_release_id(const struct preflight *pf);

/* "same", "differs", "absent" or "unknown" for the task file digest. */
const char *preflight_task_state(const struct preflight *pf,
                                 const char *local_sha256);

#endif
