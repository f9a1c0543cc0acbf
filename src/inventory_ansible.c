/*
 * inventory_ansible.c - Ansible's YAML inventory format, read as is.
 *
 * Every top-level key is a group (`all` the root of them all); a group has
 * `hosts` (names, node sets or Ansible ranges "www[01:50].example.com",
 * each with its variables), `children` (groups) and `vars`. A host listed
 * in several groups is one host. Each host becomes a oneoff host whose
 * roles are the groups it is in, directly or through children (not `all`
 * or `ungrouped`), and whose settings come from the variables, with
 * Ansible's precedence: `all`, then the groups by depth (a child after its
 * parents), then ansible_group_priority, then name, then the host's own
 * (later wins, a value replaces another whole: env is not merged).
 *
 * The variables read are those of var_names[] (oneoff-hosts(5) says what
 * each does); other ansible_* variables are ignored, any other variable
 * is an error with a "did you mean" (a typo must not pass silently).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_int.h"
#include "oneoff/nodeset.h"

enum var {
    V_HOST,
    V_PORT,
    V_USER,
    V_KEY,
    V_BECOME,
    V_BECOME_USER,
    V_BECOME_METHOD,
    V_CONNECTION,
    V_PRIORITY,
    V_APP_DIR,
    V_RELEASE,
    V_REVISION_FILE,
    V_ENV_FILE,
    V_ENV,
    V_PRIMARY,
    V_STAGE,
    V_CONFIRM,
    V_REQUIRE_REASON,
    V_PROMOTE_FROM,
    NVARS
};

static const struct {
    const char *name;
    enum var v;
} var_names[] = {
    {"ansible_host", V_HOST},
    {"ansible_ssh_host", V_HOST},
    {"ansible_port", V_PORT},
    {"ansible_ssh_port", V_PORT},
    {"ansible_user", V_USER},
    {"ansible_ssh_user", V_USER},
    {"ansible_ssh_private_key_file", V_KEY},
    {"ansible_private_key_file", V_KEY},
    {"ansible_become", V_BECOME},
    {"ansible_become_user", V_BECOME_USER},
    {"ansible_become_method", V_BECOME_METHOD},
    {"ansible_connection", V_CONNECTION},
    {"transport", V_CONNECTION},
    {"ansible_group_priority", V_PRIORITY},
    {"app_dir", V_APP_DIR},
    {"release", V_RELEASE},
    {"revision_file", V_REVISION_FILE},
    {"env_file", V_ENV_FILE},
    {"env", V_ENV},
    {"primary", V_PRIMARY},
    {"stage", V_STAGE},
    {"confirm", V_CONFIRM},
    {"require_reason", V_REQUIRE_REASON},
    {"promote_from", V_PROMOTE_FROM},
};
#define NVAR_NAMES (sizeof(var_names) / sizeof(var_names[0]))

/* oneoff's keys that have an Ansible name here. */
static const char *const renamed[][2] = {
    {"address", "ansible_host"},
    {"user", "ansible_user"},
    {"port", "ansible_port"},
    {"identity", "ansible_ssh_private_key_file"},
    {"become", "ansible_become: true with ansible_become_user"},
    {"roles", "the groups that list the host"},
};

/* The variables set at one level: the key as written and its value. */
struct vars {
    const struct ynode *key[NVARS];
    const struct ynode *val[NVARS];
};

struct group {
    const char *name;
    const struct ynode *at; /* where it is first named */
    struct vars vars;
    size_t *kids;
    const struct ynode **kid_at;
    size_t nkids, kalloc;
    unsigned depth;
    unsigned long priority;
    int state; /* cycle check: 0 new, 1 on the path, 2 done */
};

struct ahost {
    char *name;
    const struct ynode *at;
    struct vars vars;
    size_t *groups; /* the groups that list it */
    size_t ngroups, galloc;
};

/* A list of indices. */
struct strlist_idx {
    size_t *v;
    size_t n, alloc;
};

struct actx {
    const struct ydoc *d;
    char *err;
    struct group *g;
    size_t ng, galloc;
    struct ahost *h;
    size_t nh, halloc;
    size_t *slot; /* hash of host names: index + 1, 0 empty */
    size_t nslot;
    struct ynode **owned; /* nodes made here (ports from "host:port") */
    size_t nowned, oalloc;
};

/* ---- hosts by name ---- */

static size_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static void hash_put(struct actx *c, size_t i)
{
    size_t k = name_hash(c->h[i].name) & (c->nslot - 1);

    while (c->slot[k])
        k = (k + 1) & (c->nslot - 1);
    c->slot[k] = i + 1;
}

static size_t host_get(struct actx *c, const char *name, const struct ynode *at)
{
    size_t k;

    if (2 * (c->nh + 1) > c->nslot) {
        free(c->slot);
        c->nslot = c->nslot ? 2 * c->nslot : 64;
        c->slot = xcalloc(c->nslot, sizeof(*c->slot));
        for (size_t i = 0; i < c->nh; i++)
            hash_put(c, i);
    }
    k = name_hash(name) & (c->nslot - 1);
    for (; c->slot[k]; k = (k + 1) & (c->nslot - 1))
        if (strcmp(c->h[c->slot[k] - 1].name, name) == 0)
            return c->slot[k] - 1;
    xgrow((void **)&c->h, &c->halloc, c->nh + 1, sizeof(*c->h));
    memset(&c->h[c->nh], 0, sizeof(c->h[c->nh]));
    c->h[c->nh].name = xstrdup(name);
    c->h[c->nh].at = at;
    c->slot[k] = ++c->nh;
    return c->nh - 1;
}

/* ---- variables ---- */

static void vars_merge(struct vars *dst, const struct vars *src)
{
    for (int v = 0; v < NVARS; v++)
        if (src->key[v]) {
            dst->key[v] = src->key[v];
            dst->val[v] = src->val[v];
        }
}

/* Records the variables of map into out; where names the level ("group
 * 'web'", "host 'web1'"). The stage's keys belong to `all` alone. */
static int vars_read(struct actx *c, const struct ynode *map, const char *where,
                     bool is_all, struct vars *out)
{
    for (size_t i = 0; i < ymap_len(map); i++) {
        const struct ynode *k = ymap_key(map, i);
        const char *best = NULL;
        size_t bestd = 3, j;

        for (j = 0; j < NVAR_NAMES; j++)
            if (strcmp(k->str, var_names[j].name) == 0)
                break;
        if (j < NVAR_NAMES) {
            enum var v = var_names[j].v;
            if (!is_all && (v >= V_STAGE && v <= V_PROMOTE_FROM))
                return ydoc_err(c->d, k, c->err,
                                "'%s' belongs in the vars of group 'all', "
                                "not of %s",
                                k->str, where);
            out->key[v] = k;
            out->val[v] = ymap_val(map, i);
            if (out->val[v] && out->val[v]->kind == YNODE_SCALAR &&
                strstr(out->val[v]->str, "{{"))
                return ydoc_err(c->d, out->val[v], c->err,
                                "'%s' is a Jinja template, which oneoff does "
                                "not expand",
                                k->str);
            continue;
        }
        for (j = 0; j < NVAR_NAMES; j++) {
            size_t dist = str_distance(k->str, var_names[j].name, 2);
            if (dist < bestd) {
                bestd = dist;
                best = var_names[j].name;
            }
        }
        /* Other ansible_* are Ansible's; a near miss is a typo. */
        if (strncmp(k->str, "ansible_", 8) == 0 && bestd > 1)
            continue;
        for (j = 0; j < sizeof(renamed) / sizeof(renamed[0]); j++)
            if (strcmp(k->str, renamed[j][0]) == 0)
                return ydoc_err(c->d, k, c->err,
                                "'%s' in %s: an Ansible inventory says %s",
                                k->str, where, renamed[j][1]);
        if (best)
            return ydoc_err(c->d, k, c->err,
                            "unknown variable '%s' in %s; did you mean '%s'?",
                            k->str, where, best);
        return ydoc_err(c->d, k, c->err,
                        "unknown variable '%s' in %s (oneoff reads its own "
                        "keys and ansible_* ones: keep other variables in "
                        "group_vars/ or host_vars/)",
                        k->str, where);
    }
    return 0;
}

/* A boolean as Ansible reads one: true/false, yes/no, on/off, 1/0. */
static int ansible_bool(const struct ynode *k, const struct ynode *v,
                        struct actx *c, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "y", "t"};
    static const char *const no[] = {"false", "no", "off", "0", "n", "f"};

    for (size_t i = 0; v && v->kind == YNODE_SCALAR && i < 6; i++) {
        if (strcasecmp(v->str, yes[i]) == 0)
            return (*out = true, 0);
        if (strcasecmp(v->str, no[i]) == 0)
            return (*out = false, 0);
    }
    return ydoc_err(c->d, v ? v : k, c->err, "'%s' must be true or false",
                    k->str);
}

static int read_connection(struct actx *c, const struct ynode *k,
                           const struct ynode *v, struct host_settings *s)
{
    char *t = NULL;

    if (strcmp(k->str, "transport") == 0)
        return inventory_read_setting(c->d, "transport", k->str, v, s, c->err);
    if (ydoc_str(c->d, v, k->str, &t, c->err))
        return -1;
    s->transport = strcmp(t, "local") == 0 ? TRANSPORT_LOCAL : TRANSPORT_SSH;
    s->transport_set = s->transport == TRANSPORT_LOCAL ||
                       strcmp(t, "ssh") == 0 || strcmp(t, "smart") == 0 ||
                       strcmp(t, "paramiko") == 0 ||
                       strcmp(t, "paramiko_ssh") == 0;
    free(t);
    if (!s->transport_set)
        return ydoc_err(c->d, v, c->err,
                        "'%s' must be ssh, smart, paramiko or local for "
                        "oneoff, not '%s'",
                        k->str, v->str);
    return 0;
}

/* Applies the effective variables to h (which holds its name). */
static int vars_apply(struct actx *c, const struct vars *e, struct host *h)
{
    static const struct {
        enum var v;
        const char *key;
    } direct[] = {
        {V_PORT, "port"},         {V_USER, "user"},
        {V_KEY, "identity"},      {V_APP_DIR, "app_dir"},
        {V_RELEASE, "release"},   {V_REVISION_FILE, "revision_file"},
        {V_ENV_FILE, "env_file"}, {V_ENV, "env"},
    };
    bool become = false;

    for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++) {
        enum var v = direct[i].v;
        if (e->key[v] &&
            inventory_read_setting(c->d, direct[i].key, e->key[v]->str,
                                   e->val[v], &h->set, c->err))
            return -1;
    }
    if (e->key[V_HOST] &&
        inventory_read_address(c->d, e->val[V_HOST], e->key[V_HOST]->str,
                               &h->address, c->err))
        return -1;
    if (e->key[V_CONNECTION] &&
        read_connection(c, e->key[V_CONNECTION], e->val[V_CONNECTION], &h->set))
        return -1;
    if (e->key[V_PRIMARY] &&
        ydoc_bool(c->d, e->val[V_PRIMARY], "primary", &h->primary, c->err))
        return -1;
    if (e->key[V_BECOME] &&
        ansible_bool(e->key[V_BECOME], e->val[V_BECOME], c, &become))
        return -1;
    if (!become)
        return 0;
    if (e->key[V_BECOME_METHOD]) {
        const struct ynode *m = e->val[V_BECOME_METHOD];
        if (m == NULL || m->kind != YNODE_SCALAR || strcmp(m->str, "sudo"))
            return ydoc_err(c->d, m ? m : e->key[V_BECOME_METHOD], c->err,
                            "'%s' must be sudo: oneoff becomes another user "
                            "with sudo",
                            e->key[V_BECOME_METHOD]->str);
    }
    if (e->key[V_BECOME_USER])
        return inventory_read_setting(c->d, "become",
                                      e->key[V_BECOME_USER]->str,
                                      e->val[V_BECOME_USER], &h->set, c->err);
    h->set.become = xstrdup("root");
    return 0;
}

/* ---- host names ---- */

/* The names of a host key: "name", "name:PORT", a node set
 * ("web[01-10]") or an Ansible range ("www[01:50].example.com"). *port
 * receives the port after a colon outside brackets (NULL: none). */
static int host_names(struct actx *c, const struct ynode *key,
                      struct strlist *out, char **port)
{
    const char *s = key->str, *colon = NULL;
    bool range = false;
    int depth = 0, rc;
    char *text, msg[ERR_MAX];

    *port = NULL;
    for (const char *p = s; *p; p++) {
        depth += *p == '[';
        depth -= *p == ']';
        if (*p == ':' && depth > 0)
            range = true;
        else if (*p == ':')
            colon = colon ? s : p; /* two colons: no port */
    }
    if (colon && colon != s && colon[1] &&
        strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
        *port = xstrdup(colon + 1);
        text = xstrndup(s, (size_t)(colon - s));
    } else {
        text = xstrdup(s);
    }
    if (range || strpbrk(text, "[,")) {
        rc = range ? nodeset_expand_ansible(text, out, msg)
                   : nodeset_expand(text, out, msg);
        if (rc)
            ydoc_err(c->d, key, c->err, "%s", msg);
    } else {
        strlist_push(out, text);
        rc = 0;
    }
    free(text);
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        if (!name_valid(out->v[i]))
            rc = ydoc_err(c->d, key, c->err,
                          "'%s' is not a valid host name (letters, digits, "
                          "'.', '_' and '-')",
                          out->v[i]);
    return rc;
}

static struct ynode *node_new(struct actx *c, const struct ynode *at,
                              const char *str)
{
    struct ynode *n = xcalloc(1, sizeof(*n));

    n->kind = YNODE_SCALAR;
    n->line = at->line;
    n->col = at->col;
    n->str = xstrdup(str);
    n->len = strlen(str);
    n->plain = true;
    xgrow((void **)&c->owned, &c->oalloc, c->nowned + 1, sizeof(*c->owned));
    c->owned[c->nowned++] = n;
    return n;
}

/* ---- groups ---- */

static size_t group_get(struct actx *c, const char *name,
                        const struct ynode *at)
{
    for (size_t i = 0; i < c->ng; i++)
        if (strcmp(c->g[i].name, name) == 0)
            return i;
    xgrow((void **)&c->g, &c->galloc, c->ng + 1, sizeof(*c->g));
    memset(&c->g[c->ng], 0, sizeof(c->g[c->ng]));
    c->g[c->ng].name = name;
    c->g[c->ng].at = at;
    c->g[c->ng].priority = 1;
    return c->ng++;
}

/* Makes gi a child of p (once), named at at. */
static void add_kid(struct group *p, size_t gi, const struct ynode *at)
{
    size_t a = p->kalloc;

    for (size_t i = 0; i < p->nkids; i++)
        if (p->kids[i] == gi)
            return;
    xgrow((void **)&p->kids, &p->kalloc, p->nkids + 1, sizeof(*p->kids));
    xgrow((void **)&p->kid_at, &a, p->nkids + 1, sizeof(*p->kid_at));
    p->kid_at[p->nkids] = at;
    p->kids[p->nkids++] = gi;
}

static int read_hosts(struct actx *c, size_t gi, const struct ynode *hosts)
{
    for (size_t i = 0; i < ymap_len(hosts); i++) {
        const struct ynode *k = ymap_key(hosts, i), *v = ymap_val(hosts, i);
        struct strlist names = {0};
        struct vars hv;
        char *port = NULL, where[300];
        int rc;

        memset(&hv, 0, sizeof(hv));
        rc = host_names(c, k, &names, &port);
        if (rc == 0 && port) {
            hv.key[V_PORT] = node_new(c, k, "ansible_port");
            hv.val[V_PORT] = node_new(c, k, port);
        }
        snprintf(where, sizeof(where), "host '%s'", k->str);
        if (rc == 0 && !ynode_is_null(v) && v->kind != YNODE_MAP)
            rc = ydoc_err(c->d, v, c->err,
                          "host '%s' must be a mapping of variables (or "
                          "empty)",
                          k->str);
        if (rc == 0 && !ynode_is_null(v))
            rc = vars_read(c, v, where, false, &hv);
        for (size_t j = 0; rc == 0 && j < names.n; j++) {
            size_t hi = host_get(c, names.v[j], k);
            struct ahost *h = &c->h[hi];
            bool listed = false;
            for (size_t x = 0; x < h->ngroups; x++)
                listed |= h->groups[x] == gi;
            if (!listed) {
                xgrow((void **)&h->groups, &h->galloc, h->ngroups + 1,
                      sizeof(*h->groups));
                h->groups[h->ngroups++] = gi;
            }
            vars_merge(&h->vars, &hv);
        }
        free(port);
        strlist_clear(&names);
        if (rc)
            return -1;
    }
    return 0;
}

static int read_group(struct actx *c, const struct ynode *key,
                      const struct ynode *val, size_t parent);

static int read_children(struct actx *c, size_t gi, const struct ynode *kids)
{
    for (size_t i = 0; i < ymap_len(kids); i++)
        if (read_group(c, ymap_key(kids, i), ymap_val(kids, i), gi))
            return -1;
    return 0;
}

/* A section given as one name ("hosts: web1") stands for {web1: null}. */
static const struct ynode *as_map(const struct ynode *v, struct ynode *tmp,
                                  const struct ynode **item)
{
    if (v->kind != YNODE_SCALAR)
        return v;
    memset(tmp, 0, sizeof(*tmp));
    tmp->kind = YNODE_MAP;
    tmp->line = v->line;
    tmp->col = v->col;
    item[0] = v;
    item[1] = NULL;
    tmp->item = (struct ynode **)item;
    tmp->n = 2;
    return tmp;
}

static int read_group(struct actx *c, const struct ynode *key,
                      const struct ynode *val, size_t parent)
{
    static const char *const sections[] = {"hosts", "children", "vars", NULL};
    char where[300];
    size_t gi;

    if (!name_valid(key->str))
        return ydoc_err(c->d, key, c->err,
                        "'%s' is not a valid group name (letters, digits, "
                        "'.', '_' and '-')",
                        key->str);
    if (parent != SIZE_MAX && strcmp(key->str, "all") == 0)
        return ydoc_err(c->d, key, c->err,
                        "group 'all' holds every group; it cannot be a "
                        "child");
    gi = group_get(c, key->str, key);
    if (parent != SIZE_MAX)
        add_kid(&c->g[parent], gi, key);
    if (ynode_is_null(val))
        return 0;
    snprintf(where, sizeof(where), "in group '%s'", key->str);
    if (val->kind != YNODE_MAP)
        return ydoc_err(c->d, val, c->err,
                        "group '%s' must be a mapping of hosts, children and "
                        "vars (or empty)",
                        key->str);
    if (ydoc_check_keys(c->d, val, sections, where, c->err))
        return -1;
    for (size_t i = 0; i < ymap_len(val); i++) {
        const char *k = ymap_key(val, i)->str;
        const struct ynode *v = ymap_val(val, i), *item[2];
        struct ynode tmp;
        if (ynode_is_null(v))
            continue;
        if (v->kind == YNODE_SEQ || (v->kind == YNODE_SCALAR && *k == 'v'))
            return ydoc_err(c->d, v, c->err,
                            "'%s' of group '%s' must be a mapping (as in "
                            "Ansible's YAML inventories), not a %s",
                            k, key->str,
                            v->kind == YNODE_SEQ ? "list" : "string");
        v = as_map(v, &tmp, item);
        snprintf(where, sizeof(where), "group '%s'", key->str);
        if (*k == 'v' && vars_read(c, v, where, strcmp(key->str, "all") == 0,
                                   &c->g[gi].vars))
            return -1;
        if (*k == 'h' && read_hosts(c, gi, v))
            return -1;
        if (*k == 'c' && read_children(c, gi, v))
            return -1;
    }
    return 0;
}

/* Refuses a cycle of children, at the key that closes it. */
static int check_cycles(struct actx *c, size_t gi)
{
    struct group *g = &c->g[gi];

    g->state = 1;
    for (size_t i = 0; i < g->nkids; i++) {
        struct group *k = &c->g[g->kids[i]];
        if (k->state == 1)
            return ydoc_err(c->d, g->kid_at[i], c->err,
                            "group '%s' is a child of '%s' and so its own "
                            "ancestor",
                            k->name, g->name);
        if (k->state == 0 && check_cycles(c, g->kids[i]))
            return -1;
    }
    g->state = 2;
    return 0;
}

/* Depth: the longest path from `all` (a group nobody lists as a child
 * hangs from `all`). */
static void set_depth(struct actx *c, size_t gi, unsigned depth)
{
    struct group *g = &c->g[gi];

    if (g->depth >= depth && depth)
        return;
    g->depth = depth;
    for (size_t i = 0; i < g->nkids; i++)
        set_depth(c, g->kids[i], depth + 1);
}

static int cmp_groups(const void *a, const void *b, void *ctx)
{
    const struct actx *c = ctx;
    const struct group *x = &c->g[*(const size_t *)a];
    const struct group *y = &c->g[*(const size_t *)b];

    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Marks group gi and its ancestors in in[] (parents[g]: g's parents). */
static void mark_ancestors(const struct strlist_idx *parents, bool *in,
                           size_t gi)
{
    if (in[gi])
        return;
    in[gi] = true;
    for (size_t i = 0; i < parents[gi].n; i++)
        mark_ancestors(parents, in, parents[gi].v[i]);
}

/* ---- the inventory ---- */

static int settle_groups(struct actx *c, size_t **order)
{
    bool *listed = xcalloc(c->ng, sizeof(*listed));
    struct host scratch;
    int rc = 0;

    for (size_t i = 0; i < c->ng; i++)
        for (size_t k = 0; k < c->g[i].nkids; k++)
            listed[c->g[i].kids[k]] = true;
    for (size_t i = 1; i < c->ng; i++)
        if (!listed[i])
            add_kid(&c->g[0], i, c->g[i].at);
    free(listed);
    if (check_cycles(c, 0))
        return -1;
    set_depth(c, 0, 0);
    /* Each group's values are checked once, whether or not a host uses
     * them. */
    *order = xcalloc(c->ng, sizeof(**order));
    for (size_t i = 0; i < c->ng && rc == 0; i++) {
        const struct vars *v = &c->g[i].vars;
        unsigned long p = 1;
        (*order)[i] = i;
        memset(&scratch, 0, sizeof(scratch));
        rc = vars_apply(c, v, &scratch);
        if (rc == 0 && v->key[V_PRIORITY])
            rc = ydoc_uint(c->d, v->val[V_PRIORITY], v->key[V_PRIORITY]->str, 0,
                           1000000, &p, c->err);
        c->g[i].priority = p;
        free(scratch.address);
        inventory_settings_release(&scratch.set);
    }
    qsort_r(*order, c->ng, sizeof(**order), cmp_groups, c);
    return rc;
}

static int make_hosts(struct actx *c, const size_t *order,
                      struct inventory *inv)
{
    struct strlist_idx *parents = xcalloc(c->ng, sizeof(*parents));
    const struct ynode **at = xcalloc(c->nh, sizeof(*at));
    bool *in = xcalloc(c->ng, sizeof(*in));
    int rc = 0;

    for (size_t p = 0; p < c->ng; p++)
        for (size_t k = 0; k < c->g[p].nkids; k++) {
            struct strlist_idx *l = &parents[c->g[p].kids[k]];
            xgrow((void **)&l->v, &l->alloc, l->n + 1, sizeof(*l->v));
            l->v[l->n++] = p;
        }
    inv->hosts = xcalloc(c->nh, sizeof(*inv->hosts));
    for (size_t i = 0; i < c->nh && rc == 0; i++) {
        struct ahost *a = &c->h[i];
        struct host *h = &inv->hosts[inv->nhosts++];
        struct vars e;

        memset(&e, 0, sizeof(e));
        memset(in, 0, c->ng * sizeof(*in));
        in[0] = true;
        for (size_t k = 0; k < a->ngroups; k++)
            mark_ancestors(parents, in, a->groups[k]);
        for (size_t k = 0; k < c->ng; k++)
            if (in[order[k]])
                vars_merge(&e, &c->g[order[k]].vars);
        vars_merge(&e, &a->vars);
        h->name = xstrdup(a->name);
        h->line = a->at->line;
        h->col = a->at->col;
        for (size_t j = 1; j < c->ng; j++)
            if (in[j] && strcmp(c->g[j].name, "ungrouped") != 0)
                strlist_push(&h->roles, c->g[j].name);
        at[i] = e.key[V_PRIMARY];
        rc = vars_apply(c, &e, h);
        if (rc == 0 && h->set.app_dir == NULL)
            rc = ydoc_err(c->d, a->at, c->err,
                          "host '%s' has no app_dir (set it in the vars of "
                          "the host, of a group or of 'all')",
                          h->name);
    }
    if (rc == 0)
        rc = inventory_check_primaries(c->d, inv, at, c->err);
    for (size_t i = 0; i < c->ng; i++)
        free(parents[i].v);
    free(parents);
    free(at);
    free(in);
    return rc;
}

static void ctx_release(struct actx *c)
{
    for (size_t i = 0; i < c->ng; i++) {
        free(c->g[i].kids);
        free(c->g[i].kid_at);
    }
    for (size_t i = 0; i < c->nh; i++) {
        free(c->h[i].name);
        free(c->h[i].groups);
    }
    for (size_t i = 0; i < c->nowned; i++) {
        free(c->owned[i]->str);
        free(c->owned[i]);
    }
    free(c->owned);
    free(c->g);
    free(c->h);
    free(c->slot);
}

bool inventory_is_ansible(const struct ynode *root)
{
    if (ymap_get(root, "all"))
        return true;
    if (ymap_get(root, "hosts") || ymap_get(root, "defaults"))
        return false;
    for (size_t i = 0; i < ymap_len(root); i++) {
        const struct ynode *v = ymap_val(root, i);
        if (ymap_get(v, "hosts") || ymap_get(v, "children"))
            return true;
    }
    return false;
}

int inventory_parse_ansible(struct inventory *inv, const struct ydoc *d,
                            const char *stage, char *err)
{
    struct actx c;
    const struct ynode *root = d->root;
    struct ynode stage_map;
    const struct ynode *stage_items[2 * (V_PROMOTE_FROM - V_STAGE + 1)];
    size_t *order = NULL;
    int rc = -1;

    memset(&c, 0, sizeof(c));
    c.d = d;
    c.err = err;
    group_get(&c, "all", root);
    for (size_t i = 0; i < ymap_len(root); i++) {
        const struct ynode *k = ymap_key(root, i), *v = ymap_val(root, i);
        if (strcmp(k->str, "plugin") == 0) {
            ydoc_err(d, k, err,
                     "this is the configuration of an Ansible inventory "
                     "plugin, not an inventory");
            goto out;
        }
        if (v && v->kind != YNODE_MAP && !ynode_is_null(v)) {
            ydoc_err(d, k, err,
                     "'%s' is not a group; in an Ansible inventory, stage, "
                     "confirm and promote_from are vars of group 'all'",
                     k->str);
            goto out;
        }
        if (read_group(&c, k, v, SIZE_MAX))
            goto out;
    }
    if (settle_groups(&c, &order))
        goto out;
    if (c.nh == 0) {
        ydoc_err(d, root, err, "the inventory lists no host");
        goto out;
    }
    /* The stage's own keys, from the vars of `all`. */
    memset(&stage_map, 0, sizeof(stage_map));
    stage_map.kind = YNODE_MAP;
    stage_map.item = (struct ynode **)stage_items;
    for (int v = V_STAGE; v <= V_PROMOTE_FROM; v++)
        if (c.g[0].vars.key[v]) {
            stage_items[stage_map.n++] = c.g[0].vars.key[v];
            stage_items[stage_map.n++] = c.g[0].vars.val[v];
        }
    if (inventory_read_stage_keys(d, &stage_map, stage, inv, err) ||
        make_hosts(&c, order, inv))
        goto out;
    rc = 0;
out:
    free(order);
    ctx_release(&c);
    return rc;
}
