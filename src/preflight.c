/*
 * preflight.c - reading a host's framed report (see preflight.h and the
 * header of src/host_script.sh).
 *
 * The parser keeps the bytes it could not use yet (a partial frame, or a
 * tail that may be the start of the nonce) and hands everything else that
 * is not a frame to the caller as noise at once, so its memory is bounded
 * by the largest frame whatever the host prints. The task file arrives as
 * its bytes and is hashed here, which spares the host a sha256sum process.
 */
#define _GNU_SOURCE
#include "oneoff/preflight.h"

#include "oneoff/digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX (1u << 20)
#define KEY_MAX 32
#define HEADER_MAX (256 + KEY_MAX + 16) /* nonce, key, '+', length */
#define IN_MAX (VALUE_MAX + HEADER_MAX + 1)

static const char *const task_state_names[] = {NULL, "same", "differs",
                                               "absent", "unknown"};

const char *task_state_name(enum task_state s)
{
    if ((size_t)s >= sizeof(task_state_names) / sizeof(task_state_names[0]))
        return NULL;
    return task_state_names[s];
}

static bool is_hex64(const char *v, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            return false;
    return true;
}

static bool is_value(const char *v, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(v, s, n) == 0;
}

static int fail(struct preflight *pf, char *err, const char *what,
                const char *key)
{
    pf->failed = true;
    return errf(err, "malformed preflight report: %s%s%s%s", what,
                key ? " ('" : "", key ? key : "", key ? "')" : "");
}

static void held_add(struct preflight *pf, const char *v, size_t n,
                     const char *nl)
{
    struct preflight_lock *l;

    xgrow((void **)&pf->held, &pf->held_alloc, pf->nheld + 1,
          sizeof(*pf->held));
    l = &pf->held[pf->nheld++];
    l->name = xstrndup(v, (size_t)(nl - v));
    l->holder = xstrndup(nl + 1, n - (size_t)(nl - v) - 1);
}

/* One line of the history file. Its content is the history's business
 * (history.c reports bad lines); here it only has to fit. */
static int take_hist(struct preflight *pf, const char *v, size_t n,
                     bool newline, char *err)
{
    size_t start;

    if (pf->history != PF_HISTORY_READ)
        return fail(pf, err, "history lines without 'history read'", NULL);
    if (pf->history_cut)
        return 0;
    if (pf->history_text.max == 0)
        buf_init(&pf->history_text, PREFLIGHT_HISTORY_MAX);
    start = pf->history_text.len;
    if (buf_add(&pf->history_text, v, n) ||
        (newline && buf_addc(&pf->history_text, '\n'))) {
        buf_truncate(&pf->history_text, start);
        pf->history_cut = true;
        return 0;
    }
    for (size_t i = start; i < pf->history_text.len; i++)
        if (pf->history_text.data[i] == '\0')
            pf->history_text.data[i] = '?';
    return 0;
}

/* The report is complete: what must be there is there. */
static int finish(struct preflight *pf, char *err)
{
    if (pf->release == NULL && !pf->no_release)
        return fail(pf, err, "no release before 'ready'", NULL);
    if (pf->revision == NULL)
        pf->revision = xstrdup("");
    pf->ready = true;
    return 1;
}

/* A container image's id, the release of a container runtime: hex
 * digits, after "sha256:" for docker. */
static bool is_image_id(const char *v, size_t n)
{
    if (n > 7 && memcmp(v, "sha256:", 7) == 0) {
        v += 7;
        n -= 7;
    }
    if (n < 12 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            return false;
    return true;
}

/* One frame: key (NUL-terminated) and its value of n bytes. */
static int take_frame(struct preflight *pf, const char *key, const char *v,
                      size_t n, char *err)
{
    bool task = strcmp(key, "task") == 0;

    if (strcmp(key, "ready") == 0)
        return n ? fail(pf, err, "'ready' with a value", NULL)
                 : finish(pf, err);
    if (strcmp(key, "locked") == 0) {
        const char *nl = memchr(v, '\n', n);
        if (nl == NULL || nl == v || memchr(v, '\0', n))
            return fail(pf, err, "a held lock without a name", key);
        held_add(pf, v, n, nl);
        return 0;
    }
    if (strcmp(key, "hist") == 0 || strcmp(key, "hist_tail") == 0)
        return take_hist(pf, v, n, key[4] == '\0', err);
    if (memchr(v, '\0', n))
        return fail(pf, err, "a NUL byte in", key);
    if (strcmp(key, "release") == 0) {
        if (pf->release)
            return fail(pf, err, "repeated", key);
        if (n == 0 || (v[0] != '/' && !is_image_id(v, n)))
            return fail(pf, err, "not an absolute path or an image id", key);
        pf->release = xstrndup(v, n);
    } else if (strcmp(key, "revision") == 0) {
        if (pf->revision)
            return fail(pf, err, "repeated", key);
        pf->revision = xstrndup(v, n);
    } else if (task || strcmp(key, "task_sha256") == 0) {
        if (pf->task != PF_TASK_NONE)
            return fail(pf, err, "repeated", key);
        if (task) {
            pf->task = PF_TASK_DIGEST;
            sha256_hex(v, n, pf->task_sha256);
        } else if (is_value(v, n, "none")) {
            pf->task = PF_TASK_ABSENT;
        } else if (is_value(v, n, "unknown")) {
            pf->task = PF_TASK_UNKNOWN;
        } else if (is_hex64(v, n)) {
            pf->task = PF_TASK_DIGEST;
            memcpy(pf->task_sha256, v, 64);
            pf->task_sha256[64] = '\0';
        } else {
            return fail(pf, err, "not a digest", key);
        }
    } else if (strcmp(key, "history") == 0) {
        if (pf->history != PF_HISTORY_NONE)
            return fail(pf, err, "repeated", key);
        if (is_value(v, n, "none"))
            pf->history = PF_HISTORY_ABSENT;
        else if (is_value(v, n, "read"))
            pf->history = PF_HISTORY_READ;
        else if (is_value(v, n, "unreadable"))
            pf->history = PF_HISTORY_UNREADABLE;
        else if (is_value(v, n, "written"))
            pf->history = PF_HISTORY_WRITTEN;
        else
            return fail(pf, err, "not none, read, unreadable or written", key);
    } else if (strcmp(key, "lock") == 0) {
        if (pf->lock_checked)
            return fail(pf, err, "repeated", key);
        pf->lock_checked = true;
        if (is_value(v, n, "free"))
            return 0;
        if (n >= 5 && memcmp(v, "yield", 5) == 0 && (n == 5 || v[5] == ' ')) {
            /* held by an older run that may wait for us: try again */
            pf->lock_held = pf->lock_yield = true;
            pf->lock_holder = n > 6 ? xstrndup(v + 6, n - 6) : xstrdup("");
            return 0;
        }
        if (n < 4 || memcmp(v, "held", 4) != 0 || (n > 4 && v[4] != ' '))
            return fail(pf, err, "neither free, held nor yield", key);
        pf->lock_held = true;
        pf->lock_holder = n > 5 ? xstrndup(v + 5, n - 5) : xstrdup("");
    }
    /* other keys: from a newer script, skipped */
    return 0;
}

/* A frame's header after the nonce and its space: "<key>[+] <len> ".
 * Returns its length, 0 when more bytes are needed, -1 when malformed. */
static long parse_header(const char *h, size_t n, char key[KEY_MAX + 1],
                         bool *more, size_t *len)
{
    size_t i = 0, kn, dn = 0, v = 0;

    while (i < n && i <= KEY_MAX &&
           ((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= '0' && h[i] <= '9') ||
            h[i] == '_'))
        i++;
    kn = i;
    if (i == n)
        return kn > KEY_MAX ? -1 : 0;
    if (kn == 0 || kn > KEY_MAX)
        return -1;
    *more = h[i] == '+';
    if (*more && ++i == n)
        return 0;
    if (h[i++] != ' ')
        return -1;
    for (; i < n && h[i] >= '0' && h[i] <= '9'; i++, dn++) {
        if (dn == 8 || (dn == 1 && v == 0))
            return -1;
        v = v * 10 + (size_t)(h[i] - '0');
    }
    if (i == n)
        return 0;
    if (dn == 0 || h[i] != ' ' || v > VALUE_MAX)
        return -1;
    memcpy(key, h, kn);
    key[kn] = '\0';
    *len = v;
    return (long)i + 1;
}

/* One piece of a value: pieces marked "+" are followed by a newline and
 * the next piece of the same key; the last one completes the value. */
static int take_piece(struct preflight *pf, const char *key, bool more,
                      const char *v, size_t n, char *err)
{
    int rc;

    if (pf->acc_key[0] && strcmp(pf->acc_key, key) != 0) {
        /* a task file too large to send: its digest replaces it */
        if (strcmp(pf->acc_key, "task") != 0 || strcmp(key, "task_sha256") != 0)
            return fail(pf, err, "an unfinished value", pf->acc_key);
        buf_reset(&pf->acc);
        pf->acc_key[0] = '\0';
    }
    if (!more && pf->acc_key[0] == '\0')
        return take_frame(pf, key, v, n, err);
    if (pf->acc.max == 0)
        buf_init(&pf->acc, VALUE_MAX);
    if (buf_add(&pf->acc, v, n) || (more && buf_addc(&pf->acc, '\n')))
        return fail(pf, err, "a value longer than its limit", key);
    if (more) {
        snprintf(pf->acc_key, sizeof(pf->acc_key), "%s", key);
        return 0;
    }
    rc = take_frame(pf, key, pf->acc.data, pf->acc.len, err);
    buf_reset(&pf->acc);
    pf->acc_key[0] = '\0';
    return rc;
}

/* The longest tail of p[0..n) that is a proper prefix of the nonce. */
static size_t nonce_tail(const char *p, size_t n, const char *nonce,
                         size_t nlen)
{
    size_t k = n < nlen - 1 ? n : nlen - 1;

    for (; k > 0; k--)
        if (memcmp(p + n - k, nonce, k) == 0)
            return k;
    return 0;
}

static void to_noise(struct buf *noise, const char *p, size_t n)
{
    if (noise && n && buf_add(noise, p, n) != 0) {
        /* a full noise buffer drops the rest (preflight.h): it is what a
         * host printed besides the report, bounded on purpose */
    }
}

/* Parses what pf->in holds; *pos is how much of it was used. */
static int parse_in(struct preflight *pf, const char *nonce, size_t nlen,
                    struct buf *noise, size_t *pos, char *err)
{
    while (*pos < pf->in_len) {
        const char *p = pf->in + *pos;
        size_t n = pf->in_len - *pos, vlen = 0, total;
        const char *at = memmem(p, n, nonce, nlen);
        char key[KEY_MAX + 1];
        bool more = false;
        long hn;
        int rc;

        if (at == NULL) {
            size_t keep = nonce_tail(p, n, nonce, nlen);
            to_noise(noise, p, n - keep);
            *pos += n - keep;
            return 0;
        }
        to_noise(noise, p, (size_t)(at - p));
        *pos += (size_t)(at - p);
        p = at;
        n = pf->in_len - *pos;
        if (n < nlen + 1)
            return 0;
        if (p[nlen] != ' ')
            return fail(pf, err, "no space after the nonce", NULL);
        hn = parse_header(p + nlen + 1, n - nlen - 1, key, &more, &vlen);
        if (hn < 0)
            return fail(pf, err, "a bad header", NULL);
        if (hn == 0)
            return 0;
        total = nlen + 1 + (size_t)hn + vlen + 1;
        if (n < total)
            return 0;
        if (p[total - 1] != '\n')
            return fail(pf, err, "a value longer than its length", key);
        rc = take_piece(pf, key, more, p + nlen + 1 + hn, vlen, err);
        *pos += total;
        if (rc)
            return rc;
    }
    return 0;
}

int preflight_parse(struct preflight *pf, const char *nonce, const char *data,
                    size_t len, struct buf *noise, char *err)
{
    size_t nlen = nonce ? strlen(nonce) : 0, fed = 0;
    int rc = 0;

    pf->used = 0;
    if (pf->ready)
        return 1;
    if (pf->failed)
        return errf(err, "malformed preflight report");
    if (nlen == 0)
        return fail(pf, err, "no nonce to look for", NULL);
    /* Feed the data in pieces that fit, parsing as we go: noise leaves
     * pf->in at once, so only a partial frame ever stays. */
    while (rc == 0 && fed < len) {
        size_t room = IN_MAX - pf->in_len, take = len - fed, pos = 0;
        if (take > room)
            take = room;
        if (take == 0)
            return fail(pf, err, "a frame longer than its limit", NULL);
        xgrow((void **)&pf->in, &pf->in_alloc, pf->in_len + take + 1, 1);
        memcpy(pf->in + pf->in_len, data + fed, take);
        pf->in_len += take;
        fed += take;
        rc = parse_in(pf, nonce, nlen, noise, &pos, err);
        if (rc == 1)
            pf->used = fed - (pf->in_len - pos);
        memmove(pf->in, pf->in + pos, pf->in_len - pos);
        pf->in_len -= pos;
    }
    if (rc == 1) {
        free(pf->in);
        pf->in = NULL;
        pf->in_len = pf->in_alloc = 0;
    }
    return rc;
}

void preflight_release(struct preflight *pf)
{
    free(pf->release);
    free(pf->revision);
    free(pf->lock_holder);
    for (size_t i = 0; i < pf->nheld; i++) {
        free(pf->held[i].name);
        free(pf->held[i].holder);
    }
    free(pf->held);
    buf_release(&pf->history_text);
    free(pf->in);
    buf_release(&pf->acc);
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

enum task_state preflight_task_state(const struct preflight *pf,
                                     const char *local_sha256)
{
    if (local_sha256 == NULL || local_sha256[0] == '\0')
        return TASK_STATE_NONE;
    switch (pf->task) {
    case PF_TASK_DIGEST:
        return strcmp(pf->task_sha256, local_sha256) == 0 ? TASK_SAME
                                                          : TASK_DIFFERS;
    case PF_TASK_ABSENT:
        return TASK_ABSENT;
    case PF_TASK_UNKNOWN:
        return TASK_UNKNOWN;
    default:
        return TASK_STATE_NONE;
    }
}
