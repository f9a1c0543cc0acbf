/*
 * transport_ssh_khcache.c - the known_hosts files, read once per run and
 * shared by every worker's host key check.
 *
 * A set is the entries of one list of files (most runs have one list for
 * every host: --known-hosts, or the config's files), with each file's
 * stamp as it was before it was read: device, inode, size, modification
 * and change times, or "absent". A check stats the files again (cheap)
 * and uses the set while every stamp is the same; when one differs
 * (accept-new appended a key, or someone edited the file) it reads the
 * list again into a new set, and the old one goes once its last reader is
 * done. So a check sees what it would have seen reading the files itself.
 *
 * The sets also order the host key algorithms a connection offers
 * (kh_order_hostkeys()): libssh would read its known_hosts file again for
 * every connection to learn the key types known for the host, which with
 * a few thousand hashed lines costs more than the connection itself.
 *
 * Ownership and locking: the sets belong to the transport (t->kh_sets);
 * the list, each set's refs and stale flag are under t->kh_lock. A set's
 * files, stamps and entries are written before it is listed and only read
 * after, by any number of threads (known_hosts.h: read-only once loaded).
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oneoff/known_hosts.h"

struct kh_stamp {
    bool present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct kh_set {
    struct strlist files;
    struct kh_stamp *stamps; /* one per file */
    struct known_hosts kh;
    unsigned refs; /* readers: under kh_lock */
    bool stale;    /* replaced: freed when refs drops to 0 (kh_lock) */
    struct kh_set *next;
};

static void stamp_of(const char *path, struct kh_stamp *s)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    if (stat(path, &st) != 0)
        return; /* unreadable ones fail at the read, and are not kept */
    s->present = true;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime = st.st_mtim;
    s->ctime = st.st_ctim;
}

static bool stamp_same(const struct kh_stamp *a, const struct kh_stamp *b)
{
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static bool same_list(const struct strlist *a, const struct strlist *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static void set_free(struct kh_set *s)
{
    known_hosts_release(&s->kh);
    strlist_clear(&s->files);
    free(s->stamps);
    free(s);
}

/* Drops s from the list and frees it. Caller holds kh_lock. */
static void set_unlink_locked(struct ssh_tp *t, struct kh_set *s)
{
    for (struct kh_set **p = &t->kh_sets; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    set_free(s);
}

/* Reads files into a new set (stamps first: a file changed while it is
 * read is read again next time). NULL with err. */
static struct kh_set *set_load(const struct strlist *files, char *err)
{
    struct kh_set *s = xcalloc(1, sizeof(*s));

    s->stamps = xcalloc(files->n + 1, sizeof(*s->stamps));
    for (size_t i = 0; i < files->n; i++) {
        strlist_push(&s->files, files->v[i]);
        stamp_of(files->v[i], &s->stamps[i]);
    }
    for (size_t i = 0; i < files->n; i++) {
        if (known_hosts_load(&s->kh, files->v[i], err)) {
            set_free(s);
            return NULL;
        }
    }
    return s;
}

const struct known_hosts *kh_sets_get(struct ssh_tp *t,
                                      const struct strlist *files,
                                      struct kh_set **ref, char *err)
{
    struct kh_stamp *now = xcalloc(files->n + 1, sizeof(*now));
    struct kh_set *s, *fresh;

    *ref = NULL;
    for (size_t i = 0; i < files->n; i++)
        stamp_of(files->v[i], &now[i]);
    pthread_mutex_lock(&t->kh_lock);
    for (s = t->kh_sets; s; s = s->next) {
        if (s->stale || !same_list(&s->files, files))
            continue;
        bool same = true;
        for (size_t i = 0; i < files->n && same; i++)
            same = stamp_same(&s->stamps[i], &now[i]);
        if (same)
            break;
        /* out of date: nobody takes it any more */
        s->stale = true;
        if (s->refs == 0) {
            set_unlink_locked(t, s);
            s = NULL;
            break;
        }
    }
    if (s && !s->stale) {
        s->refs++;
        pthread_mutex_unlock(&t->kh_lock);
        free(now);
        *ref = s;
        return &s->kh;
    }
    /* read under the lock: the others would read the same files */
    fresh = set_load(files, err);
    if (fresh) {
        fresh->refs = 1;
        fresh->next = t->kh_sets;
        t->kh_sets = fresh;
    }
    pthread_mutex_unlock(&t->kh_lock);
    free(now);
    *ref = fresh;
    return fresh ? &fresh->kh : NULL;
}

void kh_sets_put(struct ssh_tp *t, struct kh_set *ref)
{
    if (ref == NULL)
        return;
    pthread_mutex_lock(&t->kh_lock);
    if (--ref->refs == 0 && ref->stale)
        set_unlink_locked(t, ref);
    pthread_mutex_unlock(&t->kh_lock);
}

void kh_sets_free(struct ssh_tp *t)
{
    while (t->kh_sets) {
        struct kh_set *s = t->kh_sets;
        t->kh_sets = s->next;
        set_free(s);
    }
}

/* libssh 0.10's default host key algorithms in its order (kex.c's
 * DEFAULT_HOSTKEYS), each with the known_hosts key type it proves. */
static const struct {
    const char *algo, *type;
} hostkey_algos[] = {
    {"ssh-ed25519", "ssh-ed25519"},
    {"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521"},
    {"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"},
    {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"},
    {"sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519@openssh.com"},
    {"sk-ecdsa-sha2-nistp256@openssh.com",
     "sk-ecdsa-sha2-nistp256@openssh.com"},
    {"rsa-sha2-512", "ssh-rsa"},
    {"rsa-sha2-256", "ssh-rsa"},
};
#define NALGOS (sizeof(hostkey_algos) / sizeof(*hostkey_algos))

static bool type_known(const char *type, const char *const *types, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(types[i], type) == 0)
            return true;
    return false;
}

void kh_order_hostkeys(struct ssh_tp *t, const struct ssh_hostopts *o,
                       ssh_session s)
{
    struct kh_set *ref = NULL;
    const struct known_hosts *kh;
    const char *types[NALGOS];
    char lookup[300], err[ERR_MAX], list[512] = "";
    size_t n, len = 0;

    kh = kh_sets_get(t, &o->kh_files, &ref, err);
    if (kh == NULL)
        return;
    endpoint(o, lookup, sizeof(lookup));
    n = known_hosts_types(kh, lookup, types, NALGOS);
    /* the known ones first, then the others, each in libssh's order */
    for (int pass = 0; n > 0 && pass < 2; pass++)
        for (size_t i = 0; i < NALGOS; i++)
            if (type_known(hostkey_algos[i].type, types, n) == (pass == 0))
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
                                        len ? "," : "", hostkey_algos[i].algo);
    kh_sets_put(t, ref);
    if (n > 0)
        ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, list);
}
