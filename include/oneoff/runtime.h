/*
 * runtime.h - how a host wraps the task: plainly in the release, inside
 * the app's running container (`runtime: container`), or in a fresh
 * container of that container's image (`runtime: image`).
 *
 * The keys (runtime, engine, container, image_of, network_of) may be set
 * in an inventory's defaults, on a host, or in a task; a task's keys win
 * over its host's, key by key. The host script does the wrapping
 * (src/host_runtime.sh); this module only reads, merges and checks the
 * settings. Strings are owned; runtime_release() frees them.
 */
#ifndef ONEOFF_RUNTIME_H
#define ONEOFF_RUNTIME_H

#include <stdbool.h>

struct ydoc;
struct ynode;

enum runtime_kind { RUNTIME_PLAIN = 0, RUNTIME_CONTAINER, RUNTIME_IMAGE };

struct runtime {
    enum runtime_kind kind;
    bool kind_set;
    char *engine;     /* "docker" (NULL) or "podman" */
    char *container;  /* runtime: container, the running container */
    char *image_of;   /* runtime: image, the container whose image runs */
    char *network_of; /* runtime: image, whose network the run joins */
};

/* The keys, NULL-terminated, for key lists of files. */
extern const char *const runtime_keys[];

/* True when key is one of runtime_keys. */
bool runtime_is_key(const char *key);

/* Reads v, the value of key (one of runtime_keys), into rt; what names
 * the key in messages. Errors are located at v. */
int runtime_read(const struct ydoc *d, const char *key, const char *what,
                 const struct ynode *v, struct runtime *rt, char *err);

/* dst = src (a deep copy; dst is overwritten, not freed). */
void runtime_copy(struct runtime *dst, const struct runtime *src);

/* Applies what over sets onto dst, key by key. */
void runtime_merge(struct runtime *dst, const struct runtime *over);

/* Checks that the effective settings are whole: a container runtime names
 * its container, an image runtime its image_of; where is "host 'web1'". */
int runtime_check(const struct runtime *rt, const char *where, char *err);

const char *runtime_name(enum runtime_kind k);
/* The engine's command: "docker" or "podman". */
const char *runtime_engine(const struct runtime *rt);

void runtime_release(struct runtime *rt);

#endif
