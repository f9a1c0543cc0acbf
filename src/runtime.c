/*
 * runtime.c - the runtime keys of inventories and tasks: read, merged
 * (defaults, then host, then task) and checked before anything connects.
 *
 * Container and engine names are checked here so that the host script
 * can pass them to the engine as they are: a name that starts with '-'
 * would be read as an option.
 */
#include "oneoff/runtime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/util.h"
#include "oneoff/yaml_doc.h"

const char *const runtime_keys[] = {"runtime",  "engine",     "container",
                                    "image_of", "network_of", NULL};

bool runtime_is_key(const char *key)
{
    for (size_t i = 0; runtime_keys[i]; i++)
        if (strcmp(runtime_keys[i], key) == 0)
            return true;
    return false;
}

/* A container name or id as docker and podman accept it:
 * [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes. */
static bool container_name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255 || !isalnum((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("_.-", *s)))
            return false;
    return true;
}

static int read_name(const struct ydoc *d, const char *what,
                     const struct ynode *v, char **out, char *err)
{
    free(*out);
    *out = NULL;
    if (ynode_is_null(v))
        return 0;
    if (ydoc_str(d, v, what, out, err))
        return -1;
    if (!container_name_valid(*out))
        return ydoc_err(d, v, err,
                        "'%s' is not a valid container name for '%s' "
                        "(letters, digits, '_', '.' and '-')",
                        *out, what);
    return 0;
}

int runtime_read(const struct ydoc *d, const char *key, const char *what,
                 const struct ynode *v, struct runtime *rt, char *err)
{
    char *s = NULL;
    int rc = 0;

    if (strcmp(key, "container") == 0)
        return read_name(d, what, v, &rt->container, err);
    if (strcmp(key, "image_of") == 0)
        return read_name(d, what, v, &rt->image_of, err);
    if (strcmp(key, "network_of") == 0)
        return read_name(d, what, v, &rt->network_of, err);
    if (ydoc_str(d, v, what, &s, err))
        return -1;
    if (strcmp(key, "engine") == 0) {
        if (strcmp(s, "docker") == 0 || strcmp(s, "podman") == 0) {
            free(rt->engine);
            rt->engine = s;
            return 0;
        }
        rc = ydoc_err(d, v, err, "'%s' must be docker or podman, not '%s'",
                      what, s);
    } else if (strcmp(s, "plain") == 0) {
        rt->kind = RUNTIME_PLAIN;
    } else if (strcmp(s, "container") == 0) {
        rt->kind = RUNTIME_CONTAINER;
    } else if (strcmp(s, "image") == 0) {
        rt->kind = RUNTIME_IMAGE;
    } else {
        rc = ydoc_err(d, v, err,
                      "'%s' must be plain, container or image, not '%s'", what,
                      s);
    }
    rt->kind_set = rc == 0;
    free(s);
    return rc;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void runtime_copy(struct runtime *dst, const struct runtime *src)
{
    dst->kind = src->kind;
    dst->kind_set = src->kind_set;
    dst->engine = dup_or_null(src->engine);
    dst->container = dup_or_null(src->container);
    dst->image_of = dup_or_null(src->image_of);
    dst->network_of = dup_or_null(src->network_of);
}

static void merge_str(char **dst, const char *over)
{
    if (!over)
        return;
    free(*dst);
    *dst = xstrdup(over);
}

void runtime_merge(struct runtime *dst, const struct runtime *over)
{
    if (over->kind_set) {
        dst->kind = over->kind;
        dst->kind_set = true;
    }
    merge_str(&dst->engine, over->engine);
    merge_str(&dst->container, over->container);
    merge_str(&dst->image_of, over->image_of);
    merge_str(&dst->network_of, over->network_of);
}

int runtime_check(const struct runtime *rt, const char *where, char *err)
{
    if (rt->kind == RUNTIME_CONTAINER && !rt->container)
        return errf(err,
                    "%s: 'runtime: container' needs 'container: NAME', the "
                    "app's running container",
                    where);
    if (rt->kind == RUNTIME_IMAGE && !rt->image_of)
        return errf(err,
                    "%s: 'runtime: image' needs 'image_of: NAME', the "
                    "container whose image runs the task",
                    where);
    return 0;
}

const char *runtime_name(enum runtime_kind k)
{
    switch (k) {
    case RUNTIME_CONTAINER:
        return "container";
    case RUNTIME_IMAGE:
        return "image";
    case RUNTIME_PLAIN:
    default:
        return "plain";
    }
}

const char *runtime_engine(const struct runtime *rt)
{
    return rt->engine ? rt->engine : "docker";
}

void runtime_release(struct runtime *rt)
{
    free(rt->engine);
    free(rt->container);
    free(rt->image_of);
    free(rt->network_of);
    memset(rt, 0, sizeof(*rt));
}
