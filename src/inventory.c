/*
 * inventory.c - hosts/<stage>.yml into struct inventory.
 *
 * The file is validated whole before anything uses it: unknown keys (with a
 * "did you mean"), wrong types, missing app_dir, duplicate hosts, invalid
 * names and two primaries for one role are all errors located at the
 * offending line and column. A host name may be a node set ("web[01-10]")
 * or an Ansible range ("web[01:10]"): each of its names is a host with the
 * same settings. A file in Ansible's YAML format (a top-level `all`) is
 * read by inventory_ansible.c; an INI one is refused, saying so.
 */
#define _GNU_SOURCE
#include "oneoff/inventory.h"
#include "inventory_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oneoff/nodeset.h"
#include "oneoff/text.h"
#include "oneoff/yaml_doc.h"

static const char *const top_keys[] = {
    "stage", "confirm", "promote_from", "require_reason", "defaults",
    "hosts", NULL};
static const char *const setting_keys[] = {
    "user",     "port",   "app_dir",   "release",  "revision_file",
    "env_file", "env",    "become",    "identity", "transport",
    "runtime",  "engine", "container", "image_of", "network_of",
    "jump",     NULL};
static const char *const host_keys[] = {
    "address",   "roles",    "primary",       "user",     "port",
    "app_dir",   "release",  "revision_file", "env_file", "env",
    "become",    "identity", "transport",     "runtime",  "engine",
    "container", "image_of", "network_of",    "jump",     NULL};

bool name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255 || s[0] == '-' || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static bool address_valid(const char *s)
{
    if (*s == '\0' || *s == '-' || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr(".-_:[]%", *s)))
            return false;
    return true;
}

int inventory_read_address(const struct ydoc *d, const struct ynode *v,
                           const char *what, char **out, char *err)
{
    if (ydoc_str(d, v, what, out, err))
        return -1;
    if (!address_valid(*out))
        return ydoc_err(d, v, err, "'%s' is not a valid address", *out);
    return 0;
}

void inventory_settings_release(struct host_settings *s)
{
    free(s->user);
    free(s->app_dir);
    free(s->release);
    free(s->revision_file);
    free(s->become);
    free(s->identity);
    free(s->jump);
    strlist_clear(&s->env_file);
    kvlist_clear(&s->env);
    runtime_release(&s->rt);
    memset(s, 0, sizeof(*s));
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void settings_copy(struct host_settings *dst,
                          const struct host_settings *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->user = dup_or_null(src->user);
    dst->port = src->port;
    dst->app_dir = dup_or_null(src->app_dir);
    dst->release = dup_or_null(src->release);
    dst->revision_file = dup_or_null(src->revision_file);
    strlist_copy(&dst->env_file, &src->env_file);
    kvlist_merge(&dst->env, &src->env);
    dst->become = dup_or_null(src->become);
    dst->identity = dup_or_null(src->identity);
    dst->jump = dup_or_null(src->jump);
    dst->transport = src->transport;
    dst->transport_set = src->transport_set;
    runtime_copy(&dst->rt, &src->rt);
}

static int read_user(const struct ydoc *d, const struct ynode *v,
                     const char *what, char **out, char *err)
{
    if (ydoc_str(d, v, what, out, err))
        return -1;
    if (!name_valid(*out))
        return ydoc_err(d, v, err,
                        "'%s' is not a valid user name for '%s' (letters, "
                        "digits, '.', '_' and '-')",
                        *out, what);
    return 0;
}

static int read_path(const struct ydoc *d, const struct ynode *v,
                     const char *what, char **out, char *err)
{
    if (ydoc_str(d, v, what, out, err))
        return -1;
    if (strchr(*out, '\n'))
        return ydoc_err(d, v, err, "'%s' must not contain a newline", what);
    return 0;
}

/* A path that stays inside the folder it is relative to (release: app_dir;
 * revision_file: the release): not absolute, not empty, no ".." step. */
static int read_inner_path(const struct ydoc *d, const struct ynode *v,
                           const char *what, const char *inside, char **out,
                           char *err)
{
    const char *p;

    if (read_path(d, v, what, out, err))
        return -1;
    p = *out;
    if (*p == '\0' || *p == '/')
        goto bad;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            goto bad;
        p += n;
        p += *p == '/';
    }
    return 0;
bad:
    return ydoc_err(d, v, err,
                    "'%s' must be a path inside %s (relative, without "
                    "'..'), not '%s'",
                    what, inside, *out);
}

/* jump: "none", or jump hosts as ProxyJump spells them: [user@]host[:port]
 * or ssh://[user@]host[:port], comma-separated, the first connected to
 * first. The ssh config resolves each name as for ssh -J. */
static int read_jump(const struct ydoc *d, const struct ynode *v,
                     const char *what, char **out, char *err)
{
    const char *p;
    bool start = true;

    if (ydoc_str(d, v, what, out, err))
        return -1;
    for (p = *out; *p; p++) {
        if (start && (*p == '-' || *p == ','))
            goto bad;
        start = *p == ',';
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._-@:,[]/%",
                    *p))
            goto bad;
    }
    if (**out == '\0' || start)
        goto bad;
    return 0;
bad:
    return ydoc_err(d, v, err,
                    "'%s' must be jump hosts as ProxyJump writes them "
                    "([user@]host[:port], comma-separated) or 'none', not "
                    "'%s'",
                    what, *out);
}

int inventory_read_setting(const struct ydoc *d, const char *key,
                           const char *what, const struct ynode *v,
                           struct host_settings *s, char *err)
{
    unsigned long port;
    char *t = NULL;

    if (strcmp(key, "user") == 0)
        return read_user(d, v, what, &s->user, err);
    if (strcmp(key, "port") == 0) {
        if (ydoc_uint(d, v, what, 1, 65535, &port, err))
            return -1;
        s->port = (unsigned)port;
        return 0;
    }
    if (strcmp(key, "app_dir") == 0)
        return read_path(d, v, what, &s->app_dir, err);
    if (strcmp(key, "release") == 0)
        return read_inner_path(d, v, what, "app_dir", &s->release, err);
    if (strcmp(key, "revision_file") == 0)
        return read_inner_path(d, v, what, "the release", &s->revision_file,
                               err);
    if (strcmp(key, "env_file") == 0) {
        strlist_clear(&s->env_file);
        return ynode_is_null(v) ? 0
                                : ydoc_strlist(d, v, what, &s->env_file, err);
    }
    if (strcmp(key, "env") == 0)
        return ynode_is_null(v) ? 0 : ydoc_env(d, v, what, &s->env, err);
    if (strcmp(key, "become") == 0) {
        if (!ynode_is_null(v))
            return read_user(d, v, what, &s->become, err);
        free(s->become);
        s->become = NULL;
        return 0;
    }
    if (strcmp(key, "identity") == 0)
        return read_path(d, v, what, &s->identity, err);
    if (runtime_is_key(key))
        return runtime_read(d, key, what, v, &s->rt, err);
    if (strcmp(key, "jump") == 0)
        return read_jump(d, v, what, &s->jump, err);
    if (strcmp(key, "transport") != 0)
        return ydoc_err(d, v, err, "'%s' is not a setting", key);
    if (ydoc_str(d, v, what, &t, err))
        return -1;
    if (strcmp(t, "ssh") == 0) {
        s->transport = TRANSPORT_SSH;
    } else if (strcmp(t, "local") == 0) {
        s->transport = TRANSPORT_LOCAL;
    } else {
        free(t);
        return ydoc_err(d, v, err, "'%s' must be ssh or local, not '%s'", what,
                        v->str);
    }
    s->transport_set = true;
    free(t);
    return 0;
}

/* Applies the setting keys present in map onto s. */
static int read_settings(const struct ydoc *d, const struct ynode *map,
                         struct host_settings *s, char *err)
{
    const struct ynode *v;

    for (size_t i = 0; setting_keys[i]; i++)
        if ((v = ymap_get(map, setting_keys[i])) &&
            inventory_read_setting(d, setting_keys[i], setting_keys[i], v, s,
                                   err))
            return -1;
    return 0;
}

static int read_host(const struct ydoc *d, const struct ynode *key,
                     const char *name, const struct ynode *val,
                     const struct host_settings *defaults, struct host *h,
                     char *err)
{
    const struct ynode *v;
    char where[300];

    memset(h, 0, sizeof(*h));
    h->name = xstrdup(name);
    h->line = key->line;
    h->col = key->col;
    settings_copy(&h->set, defaults);
    if (!name_valid(h->name))
        return ydoc_err(d, key, err,
                        "'%s' is not a valid host name (letters, digits, "
                        "'.', '_' and '-')",
                        h->name);
    if (ynode_is_null(val))
        return 0;
    snprintf(where, sizeof(where), "in host '%s'", h->name);
    if (val->kind != YNODE_MAP)
        return ydoc_err(d, val, err,
                        "host '%s' must be a mapping of settings (or empty)",
                        h->name);
    if (ydoc_check_keys(d, val, host_keys, where, err))
        return -1;
    if ((v = ymap_get(val, "address")) &&
        inventory_read_address(d, v, "address", &h->address, err))
        return -1;
    if ((v = ymap_get(val, "roles"))) {
        if (ydoc_strlist(d, v, "roles", &h->roles, err))
            return -1;
        for (size_t i = 0; i < h->roles.n; i++)
            if (!name_valid(h->roles.v[i]))
                return ydoc_err(d, v, err, "'%s' is not a valid role name",
                                h->roles.v[i]);
    }
    if ((v = ymap_get(val, "primary")) &&
        ydoc_bool(d, v, "primary", &h->primary, err))
        return -1;
    return read_settings(d, val, &h->set, err);
}

int inventory_check_primaries(const struct ydoc *d, const struct inventory *inv,
                              const struct ynode *const *at, char *err)
{
    for (size_t i = 0; i < inv->nhosts; i++) {
        const struct host *a = &inv->hosts[i];
        if (!a->primary)
            continue;
        for (size_t j = 0; j < i; j++) {
            const struct host *b = &inv->hosts[j];
            const char *shared = NULL;
            if (!b->primary)
                continue;
            if (a->roles.n == 0 && b->roles.n == 0)
                shared = "";
            for (size_t r = 0; !shared && r < a->roles.n; r++)
                if (host_has_role(b, a->roles.v[r]))
                    shared = a->roles.v[r];
            if (shared && *shared)
                return ydoc_err(d, at[i], err,
                                "role '%s' has two primary hosts: '%s' and "
                                "'%s' (line %u)",
                                shared, a->name, b->name, b->line);
            if (shared)
                return ydoc_err(d, at[i], err,
                                "two primary hosts without roles: '%s' and "
                                "'%s' (line %u)",
                                a->name, b->name, b->line);
        }
    }
    return 0;
}

/* "One primary per role", each error at the host's 'primary' key. key_at[i]
 * is the index in hosts of the key that made host i. */
static int check_primaries(const struct ydoc *d, const struct ynode *hosts,
                           const size_t *key_at, const struct inventory *inv,
                           char *err)
{
    const struct ynode **at = xcalloc(inv->nhosts, sizeof(*at));
    int rc;

    for (size_t i = 0; i < inv->nhosts; i++) {
        const struct ynode *hv =
            hosts->kind == YNODE_MAP ? ymap_val(hosts, key_at[i]) : NULL;
        for (size_t k = 0; inv->hosts[i].primary && k < ymap_len(hv); k++)
            if (strcmp(ymap_key(hv, k)->str, "primary") == 0)
                at[i] = ymap_key(hv, k);
    }
    rc = inventory_check_primaries(d, inv, at, err);
    free(at);
    return rc;
}

struct named {
    const char *name;
    size_t i;
};

static int cmp_named(const void *a, const void *b)
{
    const struct named *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Two hosts of one name (two keys, or a node set and a key) are an error
 * at the later one. */
static int check_duplicates(const struct ydoc *d, const struct ynode *hosts,
                            const size_t *key_at, const struct inventory *inv,
                            char *err)
{
    struct named *v = xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*v));
    int rc = 0;

    for (size_t i = 0; i < inv->nhosts; i++) {
        v[i].name = inv->hosts[i].name;
        v[i].i = i;
    }
    qsort(v, inv->nhosts, sizeof(*v), cmp_named);
    for (size_t i = 1; i < inv->nhosts && rc == 0; i++) {
        size_t k = key_at[v[i].i];
        if (strcmp(v[i - 1].name, v[i].name) == 0)
            rc = ydoc_err(d,
                          hosts->kind == YNODE_MAP ? ymap_key(hosts, k)
                                                   : hosts->item[k],
                          err, "duplicate host '%s' (first at line %u)",
                          v[i].name, inv->hosts[v[i - 1].i].line);
    }
    free(v);
    return rc;
}

static int read_hosts(const struct ydoc *d, const struct ynode *hosts,
                      const struct host_settings *defaults,
                      struct inventory *inv, char *err)
{
    size_t n = hosts->kind == YNODE_MAP ? ymap_len(hosts) : hosts->n;
    struct strlist *names;
    size_t *key_at, total = 0;
    int rc = -1;

    if (n == 0)
        return ydoc_err(d, hosts, err, "'hosts' lists no host");
    names = xcalloc(n, sizeof(*names));
    for (size_t i = 0; i < n; i++) {
        const struct ynode *key =
            hosts->kind == YNODE_MAP ? ymap_key(hosts, i) : hosts->item[i];
        char msg[ERR_MAX];
        if (hosts->kind == YNODE_SEQ &&
            (key->kind != YNODE_SCALAR || ynode_is_null(key))) {
            ydoc_err(d, key, err, "items of 'hosts' must be host names");
            goto out;
        }
        if (!strpbrk(key->str, "[,")) {
            strlist_push(&names[i], key->str);
        } else if (strchr(key->str, ':')
                       ? nodeset_expand_ansible(key->str, &names[i], msg)
                       : nodeset_expand(key->str, &names[i], msg)) {
            ydoc_err(d, key, err, "%s", msg);
            goto out;
        }
        total += names[i].n;
    }
    inv->hosts = xcalloc(total, sizeof(*inv->hosts));
    key_at = xcalloc(total, sizeof(*key_at));
    for (size_t i = 0; i < n; i++) {
        const struct ynode *key =
            hosts->kind == YNODE_MAP ? ymap_key(hosts, i) : hosts->item[i];
        const struct ynode *val =
            hosts->kind == YNODE_MAP ? ymap_val(hosts, i) : NULL;
        for (size_t k = 0; k < names[i].n; k++) {
            struct host *h = &inv->hosts[inv->nhosts];
            key_at[inv->nhosts++] = i;
            if (read_host(d, key, names[i].v[k], val, defaults, h, err))
                goto out_keys;
            if (h->set.app_dir == NULL) {
                ydoc_err(d, key, err,
                         "host '%s' has no app_dir (set it in 'defaults' or "
                         "on the host)",
                         h->name);
                goto out_keys;
            }
        }
    }
    if (check_duplicates(d, hosts, key_at, inv, err) == 0 &&
        check_primaries(d, hosts, key_at, inv, err) == 0)
        rc = 0;
out_keys:
    free(key_at);
out:
    for (size_t i = 0; i < n; i++)
        strlist_clear(&names[i]);
    free(names);
    return rc;
}

int inventory_read_stage_keys(const struct ydoc *d, const struct ynode *map,
                              const char *stage, struct inventory *inv,
                              char *err)
{
    const struct ynode *v;

    if ((v = ymap_get(map, "stage"))) {
        if (ydoc_str(d, v, "stage", &inv->stage, err))
            return -1;
        if (!name_valid(inv->stage))
            return ydoc_err(d, v, err, "'%s' is not a valid stage name",
                            inv->stage);
        if (stage && strcmp(stage, inv->stage) != 0)
            return ydoc_err(d, v, err,
                            "stage '%s' does not match the file name "
                            "(expected '%s')",
                            inv->stage, stage);
    } else {
        inv->stage = xstrdup(stage ? stage : "default");
    }
    if ((v = ymap_get(map, "confirm")) &&
        ydoc_bool(d, v, "confirm", &inv->confirm, err))
        return -1;
    if ((v = ymap_get(map, "require_reason")) &&
        ydoc_bool(d, v, "require_reason", &inv->require_reason, err))
        return -1;
    if ((v = ymap_get(map, "promote_from"))) {
        if (ydoc_str(d, v, "promote_from", &inv->promote_from, err))
            return -1;
        if (!name_valid(inv->promote_from))
            return ydoc_err(d, v, err, "'%s' is not a valid stage name",
                            inv->promote_from);
    }
    return 0;
}

/* An Ansible INI inventory ("[webservers]" on a line of its own, at the
 * start of the line, where YAML would have a flow sequence as the whole
 * document): refused with a message that says so. */
static int refuse_ini(const char *name, const char *data, size_t len, char *err)
{
    const char *p = data, *end = data + len;
    unsigned line = 1;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *q = eol ? eol : end;
        while (q > p && (q[-1] == ' ' || q[-1] == '\r' || q[-1] == '\t'))
            q--;
        if (q - p >= 3 && p[0] == '[' && q[-1] == ']' &&
            !memchr(p, ',', (size_t)(q - p)) &&
            !memchr(p, ' ', (size_t)(q - p))) {
            char q1[ERR_MAX / 2], q2[256], sec[64];
            size_t n = (size_t)(q - p) < sizeof(sec) ? (size_t)(q - p)
                                                     : sizeof(sec) - 1;
            memcpy(sec, p, n);
            sec[n] = '\0';
            return errf(err,
                        "%s:%u:1: '%s' is a section of an Ansible INI "
                        "inventory; oneoff reads Ansible's YAML inventories "
                        "(ansible-inventory -i FILE --list --yaml converts "
                        "one)",
                        text_escape_msg(name, q1, sizeof(q1)), line,
                        text_escape_msg(sec, q2, sizeof(q2)));
        }
        if (eol == NULL)
            break;
        p = eol + 1;
        line++;
    }
    return 0;
}

int inventory_parse(struct inventory *inv, const char *name, const char *stage,
                    const char *data, size_t len, char *err)
{
    struct ydoc d;
    struct host_settings defaults;
    const struct ynode *root, *v, *hosts;
    int rc = -1;

    memset(inv, 0, sizeof(*inv));
    memset(&defaults, 0, sizeof(defaults));
    if (refuse_ini(name, data, len, err) ||
        ydoc_parse(&d, name, data, len, err))
        return -1;
    root = d.root;
    inv->path = xstrdup(name);
    if (ydoc_want_map(&d, root, "the inventory", err))
        goto out;
    if (inventory_is_ansible(root)) {
        rc = inventory_parse_ansible(inv, &d, stage, err);
        goto out;
    }
    if (ydoc_check_keys(&d, root, top_keys, NULL, err) ||
        inventory_read_stage_keys(&d, root, stage, inv, err))
        goto out;
    if ((v = ymap_get(root, "defaults")) && !ynode_is_null(v)) {
        if (ydoc_want_map(&d, v, "'defaults'", err) ||
            ydoc_check_keys(&d, v, setting_keys, "in 'defaults'", err) ||
            read_settings(&d, v, &defaults, err))
            goto out;
    }
    if (ydoc_require(&d, root, "hosts", &hosts, err))
        goto out;
    if (hosts == NULL ||
        (hosts->kind != YNODE_MAP && hosts->kind != YNODE_SEQ)) {
        ydoc_err(&d, hosts ? hosts : root, err,
                 "'hosts' must be a mapping of host names (or a list of "
                 "names)");
        goto out;
    }
    rc = read_hosts(&d, hosts, &defaults, inv, err);
out:
    inventory_settings_release(&defaults);
    ydoc_release(&d);
    if (rc)
        inventory_release(inv);
    return rc;
}

int inventory_list_stages(const char *dir, struct strlist *out, char *err)
{
    return yml_names(dir, "hosts", out, err);
}

/* Without hosts/STAGE.yml, an Ansible INI inventory (hosts/STAGE.ini, or
 * hosts/STAGE) or a hosts/STAGE.yaml is named rather than missed. */
static int refuse_other_format(const char *dir, const char *stage, char *err)
{
    static const char *const ext[] = {".yml", ".ini", "", ".yaml"};
    struct stat st;
    char q[256];

    for (size_t i = 0; i < 4; i++) {
        char *path = xasprintf("%s/hosts/%s%s", dir, stage, ext[i]);
        bool found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
        if (found && i == 0)
            return 0;
        if (found && i == 3)
            return errf(err,
                        "hosts/%s.yaml: oneoff reads hosts/%s.yml (rename "
                        "it)",
                        text_escape_msg(stage, q, sizeof(q)), q);
        if (found)
            return errf(err,
                        "hosts/%s%s is an Ansible INI inventory: oneoff reads "
                        "YAML inventories, hosts/%s.yml (ansible-inventory "
                        "-i FILE --list --yaml converts one)",
                        text_escape_msg(stage, q, sizeof(q)), ext[i], q);
    }
    return 0;
}

int inventory_load(struct inventory *inv, const char *dir, const char *stage,
                   char *err)
{
    char *display = NULL, *data = NULL, q[256];
    size_t len = 0;
    int rc;

    memset(inv, 0, sizeof(*inv));
    if (!name_valid(stage))
        return errf(err, "'%s' is not a valid stage name",
                    text_escape_msg(stage, q, sizeof(q)));
    if (refuse_other_format(dir, stage, err))
        return -1;
    rc = yml_read(dir, "hosts", stage, "stage", YDOC_MAX_BYTES, &data, &len,
                  &display, err);
    if (rc == 0)
        rc = inventory_parse(inv, display, stage, data, len, err);
    free(data);
    free(display);
    return rc;
}

void inventory_release(struct inventory *inv)
{
    for (size_t i = 0; i < inv->nhosts; i++) {
        struct host *h = &inv->hosts[i];
        free(h->name);
        free(h->address);
        strlist_clear(&h->roles);
        inventory_settings_release(&h->set);
    }
    free(inv->hosts);
    free(inv->path);
    free(inv->stage);
    free(inv->promote_from);
    memset(inv, 0, sizeof(*inv));
}

const struct host *inventory_find(const struct inventory *inv, const char *name)
{
    for (size_t i = 0; i < inv->nhosts; i++)
        if (strcmp(inv->hosts[i].name, name) == 0)
            return &inv->hosts[i];
    return NULL;
}

bool host_has_role(const struct host *h, const char *role)
{
    return strlist_has(&h->roles, role);
}
