/*
 * preflight.h - what a host's script reported before it runs anything (see
 * src/host_script.sh), read from its standard output.
 *
 * The report is a series of frames, one line each, "<nonce> <key>
 * <length> <length bytes>\n", ending with the frame "ready"; a value with
 * newlines comes as pieces "<key>+" (each followed by a newline in the
 * value) and a last "<key>". The nonce is new for every run, so bytes from
 * the login shell, an env file or a stray process cannot pass for a frame,
 * and lengths make every value (a path holding a newline, a task file)
 * arrive whole. Everything outside frames is noise, handed back to the
 * caller apart from the report.
 */
#ifndef ONEOFF_PREFLIGHT_H
#define ONEOFF_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/buf.h"
#include "oneoff/util.h"

/* The release's copy of the task file against this checkout's. */
enum task_state {
    TASK_STATE_NONE, /* not asked (an ad-hoc command) */
    TASK_SAME,
    TASK_DIFFERS,
    TASK_ABSENT,  /* the release has no tasks/NAME.yml */
    TASK_UNKNOWN, /* it has one that could not be read or hashed */
};

/* NULL, "same", "differs", "absent", "unknown". */
const char *task_state_name(enum task_state s);

/* What the report said of the task file. */
enum pf_task {
    PF_TASK_NONE,    /* nothing: not asked */
    PF_TASK_DIGEST,  /* task_sha256 holds the digest */
    PF_TASK_ABSENT,  /* no such file in the release */
    PF_TASK_UNKNOWN, /* there, but unreadable or not hashable */
};

/* What the report said of the history file (history.h). */
enum pf_history {
    PF_HISTORY_NONE,       /* not asked */
    PF_HISTORY_ABSENT,     /* the host has none yet */
    PF_HISTORY_READ,       /* its lines are in history_text */
    PF_HISTORY_UNREADABLE, /* there, but not readable */
    PF_HISTORY_WRITTEN,    /* note mode: the line was appended */
};

/* The most history text a report keeps; more is dropped (history_cut). */
#define PREFLIGHT_HISTORY_MAX (16u << 20)

/* A task lock some process holds (`oneoff check`). */
struct preflight_lock {
    char *name;   /* the task */
    char *holder; /* first line of its lock file, may be "" */
};

struct preflight {
    /* set by the caller before the first piece: a history or note report,
     * which carries no release (every other report must) */
    bool no_release;
    /* the report, complete once preflight_parse() returned 1 */
    char *release;  /* resolved release directory (absolute), or the image
                     * id of a container runtime */
    char *revision; /* first line of the revision file, "" if none */
    enum pf_task task;
    char task_sha256[65]; /* hex, PF_TASK_DIGEST only (else "") */
    bool lock_checked;
    bool lock_held;
    bool lock_yield;   /* held by an older run still in its preflight, and
                        * this run was asked to wait (--wait-lock): it
                        * released nothing yet, so it must let go and retry */
    char *lock_holder; /* lock_held: the holder's line, may be "" */
    struct preflight_lock *held; /* check: every held task lock */
    size_t nheld, held_alloc;
    /* history mode, and run mode for a `once` task: the history's lines
     * (each followed by '\n' but an unterminated last one; a NUL byte in
     * a line becomes '?') */
    enum pf_history history;
    struct buf history_text;
    bool history_cut; /* lines past PREFLIGHT_HISTORY_MAX were dropped */
    /* after preflight_parse() returned 1: how many bytes of the data it
     * was last given belonged to the report; the rest came after it */
    size_t used;
    /* parser state */
    bool ready, failed;
    char *in; /* bytes not yet parsed: a partial frame */
    size_t in_len, in_alloc;
    struct buf acc;   /* the pieces of a value so far */
    char acc_key[33]; /* ... and its key ("" when none) */
};

/* Reads the report incrementally (the history mode's report has no
 * release, every other one must): call it with each piece of the script's
 * standard output, in order, starting from a zeroed struct (no_release
 * set for the history mode). Returns 1 when
 * the ready frame was parsed (the report is complete; pf->used says where
 * it ended in data; later calls return 1 and use nothing), 0 when more
 * bytes are needed, -1 when a frame is malformed or the report incomplete
 * (err says why; later calls return -1). Bytes outside frames are appended
 * to noise (may be NULL; a full noise buffer drops them). Frame values are
 * bounded (1 MiB); unknown keys are skipped. */
int preflight_parse(struct preflight *pf, const char *nonce, const char *data,
                    size_t len, struct buf *noise, char *err);
/* Frees everything pf holds and zeroes it (ready for a new report). */
void preflight_release(struct preflight *pf);

/* The release id: the last component of the release directory; NULL when
 * the report named none. */
const char *preflight_release_id(const struct preflight *pf);

/* The release's task file against the local one (its hex SHA-256; NULL or
 * "" for an ad-hoc command: TASK_STATE_NONE). */
enum task_state preflight_task_state(const struct preflight *pf,
                                     const char *local_sha256);

#endif
