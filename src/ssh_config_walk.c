/*
 * ssh_config_walk.c - one pass of ssh over the configuration files for one
 * host (read_config_file() and process_config_line() with their Host and
 * Match logic), on a struct that plays OpenSSH's Options, and the host
 * name steps between the passes (numeric addresses, canonicalisation).
 *
 * Host patterns match w->host: the alias in pass one, the final host name
 * in pass two. A directive sets a member only in an active block and only
 * if the member is still unset. An Include is walked with the including
 * block's state, and never matches inside a block that is not active.
 */
#define _GNU_SOURCE
#include "ssh_config_int.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

int sshcfg_located(char *err, const struct sshcfg_dir *d, const char *fmt, ...)
{
    char msg[ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d == NULL)
        return errf(err, "%s", msg);
    return errf(err, "%s:%u: %s", d->path, d->line, msg);
}

void sshcfg_path_add(struct sshcfg_pathlist *l, const char *path, bool user,
                     const struct sshcfg_dir *d)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].user == user && strcmp(l->v[i].path, path) == 0)
            return;
    xgrow((void **)&l->v, &l->alloc, l->n + 1, sizeof(*l->v));
    l->v[l->n].path = path;
    l->v[l->n].d = d;
    l->v[l->n++].user = user;
}

const char *sshcfg_state_own(struct sshcfg_state *o, char *s)
{
    strlist_push_owned(&o->owned, s);
    return s;
}

/* The host Match sees: HostName with %h, or the name. */
static int match_host(struct sshcfg_walk *w, const struct sshcfg_dir *d,
                      char **out)
{
    const struct sshcfg_state *o = w->o;
    struct sshcfg_token tok = {'h', w->host};
    char e[ERR_MAX];

    if (w->final_pass || o->hostname == NULL) {
        *out = xstrdup(w->final_pass ? o->hostname : w->host);
        return 0;
    }
    if (sshcfg_expand(o->hostname, &tok, 1, false, out, e) != 0)
        return sshcfg_located(w->err, o->hostname_dir ? o->hostname_dir : d,
                              "HostName '%s': %s", o->hostname, e);
    return 0;
}

/* match_cfg_line(): 1 match, 0 none, -1 error. */
static int eval_match(struct sshcfg_walk *w, const struct sshcfg_dir *d)
{
    const struct sshcfg_state *o = w->o;
    const char *ruser = o->user ? o->user : w->cfg->local_user;
    char *host = NULL;
    int result = 1;

    if (match_host(w, d, &host) != 0)
        return -1;
    for (size_t i = 0; i < d->nmatch; i++) {
        const struct sshcfg_match *m = &d->match[i];
        int r = 0;

        switch (m->crit) {
        case CRIT_ALL:
            if (result)
                result = m->negate ? 0 : 1;
            goto out;
        case CRIT_FINAL:
            w->want_final = true;
            r = w->final_pass;
            break;
        case CRIT_CANONICAL:
            r = w->final_pass;
            break;
        case CRIT_HOST:
            r = sshcfg_match_hostname(host, m->arg) == 1;
            break;
        case CRIT_ORIGINALHOST:
            r = sshcfg_match_hostname(w->original, m->arg) == 1;
            break;
        case CRIT_USER:
            r = sshcfg_match_list(ruser, m->arg, false) == 1;
            break;
        case CRIT_LOCALUSER:
            r = sshcfg_match_list(w->cfg->local_user, m->arg, false) == 1;
            break;
        case CRIT_EXEC:
            if (result != 1)
                continue; /* ssh skips it too */
            free(host);
            return sshcfg_located(w->err, d,
                                  "Match exec is not supported (it would run "
                                  "'%s' for each host)",
                                  m->arg);
        }
        if (r == (m->negate ? 1 : 0))
            result = 0;
    }
out:
    free(host);
    return result;
}

static bool host_matches(const struct sshcfg_dir *d, const char *host)
{
    bool active = false;

    for (size_t i = 0; i < d->args.n; i++) {
        const char *p = d->args.v[i];
        bool negated = *p == '!';

        if (sshcfg_match_pattern(host, negated ? p + 1 : p)) {
            if (negated)
                return false;
            active = true;
        }
    }
    return active;
}

static void set_int(int *dst, int v, bool active)
{
    if (active && *dst == -1)
        *dst = v;
}

void sshcfg_apply_jump(struct sshcfg_state *o, const struct sshcfg_dir *d)
{
    if (d->jump_none) {
        if (o->jump_host == NULL) {
            o->jump_host = "none";
            o->jump_port = 0;
            o->jump_dir = d;
        }
        return;
    }
    if (o->proxy_command != NULL || o->jump_host != NULL)
        return;
    o->jump_dir = d;
    o->jump_user = d->jump_user;
    o->jump_host = d->jump_host;
    o->jump_port = d->jump_port;
    o->jump_extra = d->jump_extra;
    o->proxy_command = "none";
}

/* A directive that sets something, in an active block. */
static void apply(struct sshcfg_state *o, const struct sshcfg_dir *d, bool user)
{
    switch (d->kw) {
    case KW_HOSTNAME:
        if (o->hostname == NULL) {
            o->hostname = d->str;
            o->hostname_dir = d;
        }
        break;
    case KW_USER:
        if (o->user == NULL)
            o->user = d->str;
        break;
    case KW_PORT:
        set_int(&o->port, d->ival, true);
        break;
    case KW_IDENTITYFILE:
        sshcfg_path_add(&o->ids, d->str, user, d);
        break;
    case KW_CERTIFICATEFILE:
        sshcfg_path_add(&o->certs, d->str, user, d);
        break;
    case KW_IDENTITIESONLY:
        set_int(&o->identities_only, d->ival, true);
        break;
    case KW_PROXYJUMP:
        sshcfg_apply_jump(o, d);
        break;
    case KW_PROXYCOMMAND:
        if (o->proxy_command == NULL)
            o->proxy_command = d->str;
        break;
    case KW_USERKNOWNHOSTSFILE:
        if (o->known_hosts == NULL && d->args.n > 0)
            o->known_hosts = d;
        break;
    case KW_HOSTKEYALIAS:
        if (o->host_key_alias == NULL)
            o->host_key_alias = d->str;
        break;
    case KW_STRICTHOSTKEYCHECKING:
        set_int(&o->strict, d->ival, true);
        break;
    case KW_CONNECTTIMEOUT:
        set_int(&o->connect_timeout, d->ival, true);
        break;
    case KW_SERVERALIVEINTERVAL:
        set_int(&o->alive_interval, d->ival, true);
        break;
    case KW_SERVERALIVECOUNTMAX:
        set_int(&o->alive_count, d->ival, true);
        break;
    case KW_BATCHMODE:
        set_int(&o->batch_mode, d->ival, true);
        break;
    case KW_IGNOREUNKNOWN:
        if (o->ignored_unknown == NULL)
            o->ignored_unknown = d->str;
        break;
    case KW_ADDRESSFAMILY:
        set_int(&o->address_family, d->ival, true);
        break;
    case KW_CANONICALIZEHOSTNAME:
        if (o->canon == -1)
            o->canon_dir = d;
        set_int(&o->canon, d->ival, true);
        break;
    case KW_CANONICALIZEMAXDOTS:
        set_int(&o->canon_max_dots, d->ival, true);
        break;
    case KW_CANONICALIZEFALLBACKLOCAL:
        set_int(&o->canon_fallback, d->ival, true);
        break;
    case KW_CANONICALDOMAINS:
        if (o->domains == NULL && d->args.n > 0) {
            o->domains = &d->args;
            o->domains_dir = d;
        }
        break;
    case KW_ALGS:
        if (o->algs[d->ival] == NULL)
            o->algs[d->ival] = d;
        break;
    case KW_EXTRA:
        if (o->extra[d->ival] == NULL)
            o->extra[d->ival] = d;
        break;
    case KW_CANONICALIZEPERMITTEDCNAMES:
        if (o->cnames == -1) {
            o->cnames = d->ival;
            o->cnames_dir = d;
        }
        break;
    default:
        break;
    }
}

static int walk_file(struct sshcfg_walk *w, const struct sshcfg_file *f,
                     bool nevermatch, bool *active, unsigned depth,
                     const struct sshcfg_dir *from)
{
    if (depth > SSHCFG_INCLUDE_MAX_DEPTH)
        return sshcfg_located(w->err, from,
                              "too many recursive configuration includes");
    if (f->open_error != NULL)
        return sshcfg_located(w->err, from, "%s", f->open_error);
    for (size_t i = 0; i < f->ndirs; i++) {
        const struct sshcfg_dir *d = &f->dirs[i];
        int r;

        switch (d->kw) {
        case KW_HOST:
            *active = !nevermatch && host_matches(d, w->host);
            break;
        case KW_MATCH:
            if ((r = eval_match(w, d)) < 0)
                return -1;
            *active = !nevermatch && r == 1;
            break;
        case KW_INCLUDE: {
            bool oactive = *active;

            for (size_t j = 0; j < d->ninc; j++) {
                if (walk_file(w, d->inc[j], nevermatch || !oactive, active,
                              depth + 1, d) != 0)
                    return -1;
                *active = oactive;
            }
            break;
        }
        case KW_UNKNOWN:
            if (w->o->ignored_unknown == NULL ||
                sshcfg_match_list(d->str, w->o->ignored_unknown, true) != 1)
                return sshcfg_located(w->err, d,
                                      "bad configuration option '%s'", d->str);
            if (d->ival)
                return sshcfg_located(w->err, d, "invalid quotes");
            break;
        case KW_ERROR:
            return sshcfg_located(w->err, d, "%s", d->str);
        default:
            if (*active)
                apply(w->o, d, f->user);
            break;
        }
    }
    return 0;
}

int sshcfg_walk_all(struct sshcfg_walk *w)
{
    for (size_t i = 0; i < w->cfg->ntop; i++) {
        bool active = true;

        if (walk_file(w, w->cfg->top[i], false, &active, 0, NULL) != 0)
            return -1;
    }
    return 0;
}

static bool is_addr_fast(const char *name)
{
    return strchr(name, '%') != NULL || strchr(name, ':') != NULL ||
           strspn(name, "0123456789.") == strlen(name);
}

static int family(const struct sshcfg_state *o)
{
    return o->address_family == 4   ? AF_INET
           : o->address_family == 6 ? AF_INET6
                                    : AF_UNSPEC;
}

/* resolve_addr(): a numeric address in canonical form, without the DNS;
 * NULL when name is not exactly one address. */
static char *numeric_addr(const struct sshcfg_state *o, const char *name)
{
    struct addrinfo hints, *res = NULL;
    char addr[NI_MAXHOST];
    char *ret = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family(o);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(name, "22", &hints, &res) != 0 || res == NULL)
        return NULL;
    if (res->ai_next == NULL &&
        getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr), NULL, 0,
                    NI_NUMERICHOST) == 0)
        ret = xstrdup(addr);
    freeaddrinfo(res);
    return ret;
}

bool sshcfg_is_addr(const struct sshcfg_state *o, const char *name)
{
    struct addrinfo hints, *res = NULL;
    bool one;

    if (is_addr_fast(name))
        return true;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family(o);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(name, "22", &hints, &res) != 0)
        return false;
    one = res != NULL && res->ai_next == NULL;
    freeaddrinfo(res);
    return one;
}

static bool direct(const struct sshcfg_state *o)
{
    return (o->proxy_command == NULL ||
            strcasecmp(o->proxy_command, "none") == 0) &&
           o->jump_host == NULL;
}

static int needs_dns(char *err, const struct sshcfg_dir *d, const char *what)
{
    return sshcfg_located(err, d,
                          "%s needs DNS lookups to canonicalise the host name, "
                          "which oneoff does not do",
                          what);
}

int sshcfg_canonicalize(struct sshcfg_walk *w, char **host, bool was_addr)
{
    struct sshcfg_state *o = w->o;
    char *a;

    if (o->canon != 0 || was_addr) {
        if ((a = numeric_addr(o, *host)) != NULL) {
            if (strcasecmp(a, *host) != 0) {
                free(*host);
                *host = a;
            } else {
                free(a);
            }
            return 0;
        }
        if (is_addr_fast(*host) || o->canon == 0)
            goto cnames;
        if (!direct(o) && o->canon != 2)
            goto cnames;
        size_t len = strlen(*host), ndots = 0;

        if (len > 0 && (*host)[len - 1] == '.')
            return needs_dns(w->err, o->canon_dir, "CanonicalizeHostname");
        for (size_t i = 0; i < len; i++)
            ndots += (*host)[i] == '.';
        if ((int)ndots > o->canon_max_dots)
            goto cnames;
        if (o->domains != NULL && strcasecmp(o->domains->v[0], "none") != 0)
            return needs_dns(w->err, o->canon_dir, "CanonicalizeHostname");
        if (!o->canon_fallback)
            return sshcfg_located(
                w->err, o->canon_dir,
                "could not resolve host '%s' (CanonicalDomains "
                "has no domain and CanonicalizeFallbackLocal is "
                "no)",
                *host);
    }
cnames:
    if (o->cnames == 1 && (direct(o) || o->canon == 2))
        return needs_dns(w->err, o->cnames_dir, "CanonicalizePermittedCNAMEs");
    return 0;
}

void sshcfg_state_init(struct sshcfg_state *o)
{
    memset(o, 0, sizeof(*o));
    o->port = o->identities_only = o->jump_port = -1;
    o->strict = o->connect_timeout = o->alive_interval = -1;
    o->alive_count = o->batch_mode = o->address_family = -1;
    o->canon = o->canon_max_dots = o->canon_fallback = o->cnames = -1;
}

void sshcfg_state_release(struct sshcfg_state *o)
{
    free(o->ids.v);
    free(o->certs.v);
    strlist_clear(&o->owned);
}
