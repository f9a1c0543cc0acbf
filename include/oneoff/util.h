/*
 * util.h - allocation that cannot fail, error buffers and small string
 * helpers shared by every module.
 *
 * Error convention: below main() and cmd_*(), a function that can fail
 * returns 0 on success or a negative value, and writes one human-readable
 * line (lowercase, no trailing period) into a caller-supplied buffer of
 * ERR_MAX bytes. It never prints and never exits. The line is safe to
 * print: a value it quotes from a file, a host or the command line is
 * escaped with text_escape_msg() (text.h) where it is quoted.
 */
#ifndef ONEOFF_UTIL_H
#define ONEOFF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>

#define ERR_MAX 1024

#if defined(__GNUC__)
#define ONEOFF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ONEOFF_NORETURN __attribute__((noreturn))
/* The result says something was not done: the caller must look at it (a
 * (void) cast does not silence GCC, on purpose). */
#define ONEOFF_MUST_USE __attribute__((warn_unused_result))
#else
#define ONEOFF_PRINTF(f, a)
#define ONEOFF_NORETURN
#define ONEOFF_MUST_USE
#endif

/* Allocators: abort the program with a message on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows *p (of *alloc elements of elsize bytes) to hold at least need. */
void xgrow(void **p, size_t *alloc, size_t need, size_t elsize);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) ONEOFF_PRINTF(1, 2);

/* Formats one message into err (ERR_MAX bytes); always returns -1. */
int errf(char *err, const char *fmt, ...) ONEOFF_PRINTF(2, 3);

/* Prints "oneoff: MESSAGE" to stderr. */
void die_msg(const char *fmt, ...) ONEOFF_PRINTF(1, 2);

/* A growable list of owned strings. */
struct strlist {
    char **v;
    size_t n;
    size_t alloc;
};
void strlist_push(struct strlist *l, const char *s);
void strlist_push_owned(struct strlist *l, char *s);
bool strlist_has(const struct strlist *l, const char *s);
void strlist_clear(struct strlist *l);
void strlist_copy(struct strlist *dst, const struct strlist *src);
void strlist_sort(struct strlist *l);
/* Joins with sep into a new string (caller frees). */
char *strlist_join(const struct strlist *l, const char *sep);

/* A key=value list in insertion order; setting an existing key replaces it
 * in place so that "later wins" keeps the first position. */
struct kvlist {
    char **key;
    char **val;
    size_t n;
    size_t alloc;
};
void kvlist_set(struct kvlist *l, const char *key, const char *val);
const char *kvlist_get(const struct kvlist *l, const char *key);
void kvlist_clear(struct kvlist *l);
void kvlist_merge(struct kvlist *dst, const struct kvlist *src);

/* Edit distance, capped: returns cap + 1 when larger than cap. */
size_t str_distance(const char *a, const char *b, size_t cap);
/* True when s is a valid environment variable name. */
bool env_name_valid(const char *s);

/* Durations: "90s", "15m", "1h30m", "500ms", "2d". Result in ms. The
 * message quotes s as it is: the caller escapes it (text_escape_msg()). */
int duration_parse(const char *s, int64_t *ms_out, char *err);
/* Formats ms as "1h30m", "90s", "250ms" into buf. */
void duration_format(int64_t ms, char *buf, size_t n);

/* Reads a whole file of at most max bytes into *data (NUL-terminated,
 * caller frees). Returns 0, -EFBIG when larger, or -errno. */
int file_read(const char *path, size_t max, char **data, size_t *len);

/* The names of the .yml files of DIR/SUB without ".yml", sorted, appended
 * to out. */
int yml_names(const char *dir, const char *sub, struct strlist *out, char *err);
/* Reads DIR/SUB/NAME.yml (at most max bytes) for a loader: on failure err
 * says why, and a missing file lists the NAMEs that exist ("no stage
 * 'prod' (no hosts/prod.yml); stages: production, staging"). what is
 * "stage" or "task". display receives "SUB/NAME.yml" (caller frees). */
int yml_read(const char *dir, const char *sub, const char *name,
             const char *what, size_t max, char **data, size_t *len,
             char **display, char *err);
/* write(2) all of p, retrying on EINTR and short writes. Returns 0, or -1
 * with errno set (ENOSPC, EIO, EPIPE...) when a write failed: some of p
 * may have been written. */
int write_all(int fd, const void *p, size_t n);

/* Monotonic and wall clocks in milliseconds. */
int64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/* "2026-11-21T09:12:34.123Z" into buf (>= 32 bytes). */
void time_format_iso(int64_t wall_ms, char *buf, size_t n);

/* Raises the soft limit of open files to what `hosts` hosts need at
 * per_host descriptors each, plus a margin for agents, known_hosts and the
 * record, or fails with a message saying so: refusing up front beats hosts
 * failing one by one for lack of descriptors. */
int fd_limit_reserve(size_t hosts, unsigned per_host, char *err);

/* Initializes at for a child that starts clean, whatever the calling
 * thread blocks or catches: no signal blocked, SIGPIPE, SIGINT, SIGTERM,
 * SIGHUP and SIGCHLD at their defaults; with flags added (say
 * POSIX_SPAWN_SETPGROUP). The caller destroys it. */
void spawn_attr_clean(posix_spawnattr_t *at, short flags);

#endif
