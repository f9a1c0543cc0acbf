/*
 * preflight.c - reading a host's preflight report.
 *
 * The report is our own script's output, one "key=value" per line; the
 * values are paths and a revision, so only the first '=' splits.
 */
#include "oneoff/preflight.h"

#include <stdlib.h>
#include <string.h>

static void take(char **dst, const char *v, size_t n)
{
    free(*dst);
    *dst = xstrndup(v, n);
}

int preflight_parse(struct preflight *pf, const char *out, size_t len,
                    char *err)
{
    const char *p = out, *end = out + len;

    memset(pf, 0, sizeof(*pf));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        size_t klen = eq ? (size_t)(eq - p) : 0;
        const char *v = eq ? eq + 1 : eol;
        size_t vlen = (size_t)(eol - v);

        if (eq && klen == 7 && memcmp(p, "release", 7) == 0) {
            take(&pf->release, v, vlen);
        } else if (eq && klen == 8 && memcmp(p, "revision", 8) == 0) {
            take(&pf->revision, v, vlen);
        } else if (eq && klen == 11 && memcmp(p, "task_sha256", 11) == 0) {
            take(&pf->task_sha256, v, vlen);
        } else if (eq && klen == 4 && memcmp(p, "lock", 4) == 0) {
            pf->lock_checked = true;
            pf->lock_held = vlen >= 4 && memcmp(v, "held", 4) == 0;
            if (pf->lock_held)
                take(&pf->lock_holder, v + (vlen > 5 ? 5 : 4),
                     vlen > 5 ? vlen - 5 : 0);
        }
        p = nl ? nl + 1 : end;
    }
    if (pf->release == NULL || pf->release[0] != '/') {
        preflight_release(pf);
        return errf(err, "the preflight did not report the release");
    }
    if (pf->revision == NULL)
        pf->revision = xstrdup("");
    return 0;
}

void preflight_release(struct preflight *pf)
{
    free(pf->release);
    free(pf->revision);
    free(pf->task_sha256);
    free(pf->lock_holder);
    memset(pf, 0, sizeof(*pf));
}

const char *preflight_release_id(const struct preflight *pf)
{
    const char *s;

    if (pf->release == NULL)
        return NULL;
    s = strrchr(pf->release, '/');
    return s && s[1] ? s + 1 : pf->release;
}

const char *preflight_task_state(const struct preflight *pf,
                                 const char *local_sha256)
{
    if (pf->task_sha256 == NULL || strcmp(pf->task_sha256, "unknown") == 0)
        return "unknown";
    if (strcmp(pf->task_sha256, "none") == 0)
        return "absent";
    return strcmp(pf->task_sha256, local_sha256) == 0 ? "same" : "differs";
}
