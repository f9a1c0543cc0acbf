/*
 * ssh_config.c - resolves a host against a parsed ssh_config as `ssh -G`
 * (OpenSSH 9.2 as Debian 12 ships it: ssh.c main() and readconf.c) does.
 *
 * Theory of operation. sshcfg_load() parses the files once into directive
 * lists (ssh_config_parse.c). sshcfg_resolve() is then ssh's own sequence,
 * on a struct that plays OpenSSH's Options (NULL or -1: not set yet, and
 * only an unset member takes a value):
 *   1. -l/-p/-J equivalents from the target are set first (they win);
 *   2. pass one walks the files with Host patterns matched against the
 *      alias as typed; Match host sees HostName with %h expanded;
 *   3. the host name is HostName with %h, lowercase unless it is an
 *      address, which is put in canonical form (getaddrinfo with
 *      AI_NUMERICHOST: no DNS); CanonicalizeHostname is followed as far as
 *      it needs no DNS and refused beyond that;
 *   4. with `Match final` anywhere (or canonicalisation), pass two walks the
 *      files again with Host patterns matched against that host name, and
 *      the members still unset may take values (lists grow, de-duplicated
 *      as ssh does);
 *   5. defaults (Debian's included: BatchMode makes ServerAliveInterval
 *      300), ProxyJump "none", the jump-host self-loop check, and the
 *      expansion of '~', %-tokens and ${ENV} in the file lists.
 * A walk only reads cfg, so resolutions may run in parallel threads.
 */
#define _GNU_SOURCE
#include "oneoff/ssh_config.h"

#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "ssh_config_int.h"

#define CHAIN_MAX 32

/* Sets what the target forces, as ssh's -l, -p and -J do. */
static int force_target(struct sshcfg_walk *w, const struct sshcfg_target *t,
                        const struct sshcfg_dir *where, struct sshcfg_dir *jump)
{
    struct sshcfg_state *o = w->o;
    char e[ERR_MAX];

    if (t->user != NULL) {
        if (!sshcfg_valid_ruser(t->user))
            return sshcfg_located(w->err, where,
                                  "remote user name '%s' contains invalid "
                                  "characters",
                                  t->user);
        o->user = t->user;
    }
    if (t->port > 65535)
        return sshcfg_located(w->err, where, "bad port %u", t->port);
    if (t->port != 0)
        o->port = (int)t->port;
    if (t->hostname != NULL)
        o->hostname = t->hostname;
    if (t->jump == NULL)
        return 0;
    if (sshcfg_parse_jump(t->jump, jump, true, e) != 0)
        return sshcfg_located(w->err, where, "%s", e);
    jump->path = where ? where->path : NULL;
    jump->line = where ? where->line : 0;
    sshcfg_apply_jump(o, jump);
    o->jump_dir = where;
    o->proxy_command = "none";
    return 0;
}

/* default_client_percent_dollar_expand() of '~'-expanded s. */
static int expand_path(const struct sshcfg *cfg, const struct sshcfg_token *tok,
                       size_t ntok, const char *s, char **out, char *err)
{
    char *t = NULL;
    int r;

    if (sshcfg_tilde(s, cfg->home_dir, &t, err) != 0)
        return -1;
    r = sshcfg_expand(t, tok, ntok, true, out, err);
    free(t);
    return r;
}

static int expand_list(const struct sshcfg *cfg, const struct sshcfg_token *tok,
                       size_t ntok, const struct sshcfg_pathlist *l,
                       bool drop_none, const char *what, struct strlist *out,
                       char *err)
{
    for (size_t i = 0; i < l->n; i++) {
        char *p = NULL, e[ERR_MAX];

        if (drop_none && strcasecmp(l->v[i].path, "none") == 0)
            continue;
        if (expand_path(cfg, tok, ntok, l->v[i].path, &p, e) != 0)
            return sshcfg_located(err, l->v[i].d, "%s '%s': %s", what,
                                  l->v[i].path, e);
        strlist_push_owned(out, p);
    }
    return 0;
}

/* What ssh.c main() checks and expands before the dump, for keywords
 * oneoff does not use; only the errors matter. */
static int check_extras(struct sshcfg_walk *w, const struct sshcfg_token *tok,
                        size_t ntok)
{
    static const char *const names[EX_COUNT] = {
        [EX_REMOTECMD] = "RemoteCommand",
        [EX_CONTROLPATH] = "ControlPath",
        [EX_IDENTITYAGENT] = "IdentityAgent",
        [EX_FWDAGENT] = "ForwardAgent"};
    const struct sshcfg_state *o = w->o;
    const struct sshcfg_dir *d;
    int v;

    if ((d = o->extra[EX_FDPASS]) != NULL && o->jump_host == NULL &&
        o->proxy_command != NULL && strcmp(o->proxy_command, "-") == 0 &&
        (strcasecmp(d->str, "yes") == 0 || strcasecmp(d->str, "true") == 0))
        return sshcfg_located(w->err, d,
                              "ProxyCommand=- and ProxyUseFDPass are "
                              "incompatible");
    if ((d = o->extra[EX_CONNATTEMPTS]) != NULL &&
        (sshcfg_atoi_err(d->str, &v) != NULL || v <= 0))
        return sshcfg_located(w->err, d,
                              "invalid number of ConnectionAttempts");
    for (int i = EX_REMOTECMD; i < EX_COUNT; i++) {
        char *x = NULL, e[ERR_MAX];
        int r;

        if ((d = o->extra[i]) == NULL)
            continue;
        if (i == EX_REMOTECMD || i == EX_CONTROLPATH) {
            if (strcasecmp(d->str, "none") == 0)
                continue; /* CLEAR_ON_NONE */
        }
        if (i == EX_REMOTECMD)
            r = sshcfg_expand(d->str, tok, ntok, false, &x, e);
        else
            r = expand_path(w->cfg, tok, ntok, d->str, &x, e);
        free(x);
        if (r != 0)
            return sshcfg_located(w->err, d, "%s '%s': %s", names[i], d->str,
                                  e);
    }
    return 0;
}

static void add_hop(struct sshcfg_host *h, const char *user, const char *host,
                    int port)
{
    struct sshcfg_hop *hop;

    h->hops = xrealloc(h->hops, (h->nhops + 1) * sizeof(*h->hops));
    hop = &h->hops[h->nhops++];
    hop->user = user ? xstrdup(user) : NULL;
    hop->host = xstrdup(host);
    hop->port = port > 0 ? (unsigned)port : 0;
}

/* ProxyJump as ssh -G prints it, and its hops. */
static int fill_jump(const struct sshcfg_state *o, struct sshcfg_host *h,
                     char *err)
{
    const char *jh = o->jump_host;
    bool numeric =
        strchr(jh, ':') != NULL || strspn(jh, "1234567890.") == strlen(jh);
    char port[16] = "";

    if (o->jump_port > 0)
        snprintf(port, sizeof(port), ":%d", o->jump_port);
    h->proxy_jump =
        xasprintf("%s%s%s%s%s%s%s%s", o->jump_extra ? o->jump_extra : "",
                  o->jump_extra ? "," : "", o->jump_user ? o->jump_user : "",
                  o->jump_user ? "@" : "", numeric ? "[" : "", jh,
                  numeric ? "]" : "", port);
    if (o->jump_dir != NULL && o->jump_dir->path != NULL)
        h->proxy_jump_where =
            xasprintf("%s:%u", o->jump_dir->path, o->jump_dir->line);
    if (o->jump_extra != NULL) {
        char *dup = xstrdup(o->jump_extra), *p = dup, *next;

        for (; p != NULL; p = next) {
            char *user = NULL, *host = NULL;
            int hp = -1, r;

            if ((next = strchr(p, ',')) != NULL)
                *next++ = '\0';
            r = sshcfg_parse_ssh_uri(p, &user, &host, &hp);
            if (r == 1)
                r = sshcfg_parse_user_host_port(p, &user, &host, &hp);
            if (r != 0) {
                sshcfg_located(err, o->jump_dir, "invalid ProxyJump hop '%s'",
                               p);
                free(dup);
                return -1;
            }
            add_hop(h, user, host, hp);
            free(user);
            free(host);
        }
        free(dup);
    }
    add_hop(h, o->jump_user, jh, o->jump_port);
    return 0;
}

/* fill_default_options() and the rest of ssh.c main() up to the dump. */
static int finish(struct sshcfg_walk *w, const char *host,
                  struct sshcfg_host *h)
{
    const struct sshcfg *cfg = w->cfg;
    struct sshcfg_state *o = w->o;
    char portstr[16], hash[41];
    struct sshcfg_pathlist known = {0};
    int r = -1;

    h->identity_files_default = o->ids.n == 0;
    if (o->ids.n == 0) {
        static const char *const defaults[] = {
            "~/.ssh/id_rsa",     "~/.ssh/id_ecdsa",      "~/.ssh/id_ecdsa_sk",
            "~/.ssh/id_ed25519", "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss",
            "~/.ssh/id_dsa"};

        for (size_t i = 0; i < sizeof(defaults) / sizeof(*defaults); i++)
            sshcfg_path_add(&o->ids, defaults[i], false, NULL);
    }
    if (o->proxy_command != NULL && strcasecmp(o->proxy_command, "none") == 0)
        o->proxy_command = NULL;
    if (o->jump_host != NULL && strcmp(o->jump_host, "none") == 0 &&
        o->jump_port == 0 && o->jump_user == NULL)
        o->jump_host = NULL;
    if (o->user == NULL)
        o->user = cfg->local_user;
    if (o->port <= 0)
        o->port = (int)cfg->default_port;
    for (int i = 0; i <= ALG_HOSTKEY; i++) {
        const struct sshcfg_dir *d = o->algs[i];

        if (i == ALG_HOSTKEY && o->jump_host != NULL)
            break; /* after the jump-host check, as ssh checks it */
        if (d != NULL && !sshcfg_algs_usable((enum sshcfg_alg)i, d->str))
            return sshcfg_located(w->err, d,
                                  "'%s' leaves no usable algorithm for this "
                                  "ssh",
                                  d->str);
    }
    if (o->jump_host != NULL) {
        int jp = o->jump_port > 0 ? o->jump_port : (int)cfg->default_port;
        const char *ju = o->jump_user ? o->jump_user : o->user;

        if (strcmp(o->jump_host, host) == 0 && o->port == jp &&
            strcmp(o->user, ju) == 0)
            return sshcfg_located(w->err, o->jump_dir, "jumphost loop via %s",
                                  o->jump_host);
    }

    if (o->algs[ALG_HOSTKEY] != NULL &&
        !sshcfg_algs_usable(ALG_HOSTKEY, o->algs[ALG_HOSTKEY]->str))
        return sshcfg_located(w->err, o->algs[ALG_HOSTKEY],
                              "'%s' leaves no usable algorithm for this ssh",
                              o->algs[ALG_HOSTKEY]->str);

    h->hostname = xstrdup(host);
    h->user = xstrdup(o->user);
    h->port = (unsigned)o->port;
    h->identities_only = o->identities_only == 1;
    h->strict_host_key_checking =
        o->strict == -1 ? SSHCFG_STRICT_ASK : (enum sshcfg_strict)o->strict;
    h->connect_timeout_s = o->connect_timeout;
    h->batch_mode = o->batch_mode == 1;
    h->server_alive_interval_s = o->alive_interval != -1 ? o->alive_interval
                                 : h->batch_mode         ? 300
                                                         : 0;
    h->server_alive_set = o->alive_interval != -1 || h->batch_mode;
    h->server_alive_count_max = o->alive_count != -1 ? o->alive_count : 3;
    if (o->host_key_alias != NULL) {
        h->host_key_alias = xstrdup(o->host_key_alias);
        sshcfg_lowercase(h->host_key_alias);
    }
    if (o->proxy_command != NULL && o->jump_host == NULL)
        h->proxy_command = xstrdup(o->proxy_command);
    if (o->jump_host != NULL && fill_jump(o, h, w->err) != 0)
        return -1;

    /* The tokens of default_client_percent_dollar_expand(). */
    snprintf(portstr, sizeof(portstr), "%d", o->port);
    {
        const char *parts[] = {cfg->thishost, host, portstr, o->user};
        char shorthost[256];

        sshcfg_conn_hash(parts, 4, hash);
        snprintf(shorthost, sizeof(shorthost), "%.*s",
                 (int)strcspn(cfg->thishost, "."), cfg->thishost);
        const struct sshcfg_token tok[] = {
            {'C', hash},
            {'L', shorthost},
            {'i', cfg->uid},
            {'k', h->host_key_alias ? h->host_key_alias : h->alias},
            {'l', cfg->thishost},
            {'n', h->alias},
            {'p', portstr},
            {'d', cfg->home_dir},
            {'h', host},
            {'r', o->user},
            {'u', cfg->local_user}};
        const size_t ntok = sizeof(tok) / sizeof(tok[0]);

        if (check_extras(w, tok, ntok) != 0)
            goto out;
        if (o->known_hosts == NULL) {
            sshcfg_path_add(&known, "~/.ssh/known_hosts", false, NULL);
            sshcfg_path_add(&known, "~/.ssh/known_hosts2", false, NULL);
        } else if (strcasecmp(o->known_hosts->args.v[0], "none") != 0) {
            const struct strlist *kh = &o->known_hosts->args;

            for (size_t i = 0; i < kh->n; i++) {
                xgrow((void **)&known.v, &known.alloc, known.n + 1,
                      sizeof(*known.v));
                known.v[known.n].path = kh->v[i];
                known.v[known.n].d = o->known_hosts;
                known.v[known.n++].user = false;
            }
        }
        if (expand_list(cfg, tok, ntok, &known, false, "UserKnownHostsFile",
                        &h->known_hosts_files, w->err) != 0 ||
            expand_list(cfg, tok, ntok, &o->ids, true, "IdentityFile",
                        &h->identity_files, w->err) != 0 ||
            expand_list(cfg, tok, ntok, &o->certs, false, "CertificateFile",
                        &h->certificate_files, w->err) != 0)
            goto out;
    }
    r = 0;
out:
    free(known.v);
    return r;
}

/* The alias as ssh reads its destination: ssh://[user@]host[:port] or
 * [user@]host. */
static int split_alias(const struct sshcfg_target *t, struct sshcfg_state *o,
                       char **alias, char *err)
{
    char *user = NULL, *host = NULL, *at;
    int port = -1, r;

    *alias = NULL;
    r = sshcfg_parse_ssh_uri(t->alias, &user, &host, &port);
    if (r == -1)
        return errf(err, "invalid destination '%s'", t->alias);
    if (r == 1) {
        host = xstrdup(t->alias);
        if ((at = strrchr(host, '@')) != NULL) {
            if (at == host) {
                free(host);
                return errf(err, "invalid destination '%s'", t->alias);
            }
            *at = '\0';
            user = host;
            host = xstrdup(at + 1);
        }
    }
    if (host[0] == '\0' || !sshcfg_valid_hostname(host)) {
        errf(err, "host name '%s' contains invalid characters", host);
        free(user);
        free(host);
        return -1;
    }
    if (user != NULL && o->user == NULL && !sshcfg_valid_ruser(user)) {
        errf(err, "remote user name '%s' contains invalid characters", user);
        free(user);
        free(host);
        return -1;
    }
    if (user != NULL && o->user == NULL)
        o->user = sshcfg_state_own(o, user);
    else
        free(user);
    if (port > 0 && o->port == -1)
        o->port = port;
    *alias = host;
    return 0;
}

static int resolve_at(const struct sshcfg *cfg, const struct sshcfg_target *t,
                      const struct sshcfg_dir *where, struct sshcfg_host *out,
                      char *err)
{
    struct sshcfg_state o;
    struct sshcfg_dir jump;
    struct sshcfg_walk w = {.cfg = cfg, .o = &o, .err = err};
    char *alias = NULL, *host = NULL, e[ERR_MAX];
    struct sshcfg_token tok;
    int r = -1;

    memset(out, 0, sizeof(*out));
    memset(&jump, 0, sizeof(jump));
    sshcfg_state_init(&o);
    if (t == NULL || t->alias == NULL) {
        errf(err, "no host to resolve");
        goto out;
    }
    if (force_target(&w, t, where, &jump) != 0 ||
        split_alias(t, &o, &alias, err) != 0)
        goto out;
    out->alias = xstrdup(alias);
    w.host = w.original = alias;
    if (sshcfg_walk_all(&w) != 0)
        goto out;

    if (o.canon_max_dots == -1)
        o.canon_max_dots = 1;
    if (o.canon_fallback == -1)
        o.canon_fallback = 1;
    if (o.canon == -1)
        o.canon = 0;
    tok.key = 'h';
    tok.val = alias;
    if (o.hostname == NULL) {
        host = xstrdup(alias);
    } else if (sshcfg_expand(o.hostname, &tok, 1, false, &host, e) != 0) {
        sshcfg_located(err, o.hostname_dir, "HostName '%s': %s", o.hostname, e);
        goto out;
    }
    {
        bool was_addr = sshcfg_is_addr(&o, host);

        if (!was_addr)
            sshcfg_lowercase(host);
        if (sshcfg_canonicalize(&w, &host, was_addr) != 0)
            goto out;
    }
    if (o.canon != 0)
        w.want_final = true;
    if (w.want_final) {
        o.hostname = host;
        w.host = host;
        w.final_pass = true;
        if (sshcfg_walk_all(&w) != 0)
            goto out;
    }
    r = finish(&w, host, out);
out:
    free(alias);
    free(host);
    free(jump.jump_user);
    free(jump.jump_host);
    free(jump.jump_extra);
    sshcfg_state_release(&o);
    return r;
}

int sshcfg_resolve(const struct sshcfg *cfg, const struct sshcfg_target *t,
                   struct sshcfg_host *out, char *err)
{
    return resolve_at(cfg, t, NULL, out, err);
}

void sshcfg_host_release(struct sshcfg_host *h)
{
    if (h == NULL)
        return;
    free(h->alias);
    free(h->hostname);
    free(h->user);
    strlist_clear(&h->identity_files);
    strlist_clear(&h->certificate_files);
    free(h->proxy_jump);
    for (size_t i = 0; i < h->nhops; i++) {
        free(h->hops[i].user);
        free(h->hops[i].host);
    }
    free(h->hops);
    free(h->proxy_jump_where);
    free(h->proxy_command);
    strlist_clear(&h->known_hosts_files);
    free(h->host_key_alias);
    memset(h, 0, sizeof(*h));
}

/* What identifies one ssh process of a chain: its command line. */
static char *chain_key(const struct sshcfg_target *t)
{
    return xasprintf("%s\n%s\n%u\n%s\n%s", t->alias, t->user ? t->user : "",
                     t->port, t->jump ? t->jump : "",
                     t->hostname ? t->hostname : "");
}

int sshcfg_resolve_chain(const struct sshcfg *cfg,
                         const struct sshcfg_target *t,
                         struct sshcfg_chain *out, char *err)
{
    struct sshcfg_host *v = NULL;
    struct strlist keys = {0}, path = {0};
    struct sshcfg_target cur = *t;
    struct sshcfg_dir where = {0};
    const struct sshcfg_dir *wp = NULL;
    char *user = NULL, *host = NULL, *jump = NULL;
    size_t n = 0;
    int r = -1;

    memset(out, 0, sizeof(*out));
    for (;;) {
        struct sshcfg_host h;
        const struct sshcfg_hop *last;
        char *key = chain_key(&cur);

        if (strlist_has(&keys, key)) {
            char *p = strlist_join(&path, " -> ");

            free(key);
            errf(err, "%s: ProxyJump loop: %s -> %s",
                 v[0].proxy_jump_where ? v[0].proxy_jump_where : "ProxyJump", p,
                 cur.alias);
            free(p);
            goto out;
        }
        strlist_push_owned(&keys, key);
        if (n == CHAIN_MAX) {
            errf(err, "ProxyJump chain of '%s' longer than %d hops", t->alias,
                 CHAIN_MAX);
            goto out;
        }
        if (resolve_at(cfg, &cur, wp, &h, err) != 0) {
            sshcfg_host_release(&h);
            goto out;
        }
        /* prepend: the target ends up last */
        v = xrealloc(v, (n + 1) * sizeof(*v));
        memmove(v + 1, v, n * sizeof(*v));
        v[0] = h;
        n++;
        strlist_push(&path, h.alias);
        if (h.nhops == 0)
            break;
        /* the child: ssh [-l U] [-p P] [-J EXTRA] HOP */
        last = &v[0].hops[v[0].nhops - 1];
        free(user);
        free(host);
        free(jump);
        user = last->user ? xstrdup(last->user) : NULL;
        host = xstrdup(last->host);
        jump = NULL;
        if (v[0].nhops > 1) {
            const char *pj = v[0].proxy_jump;

            jump = xstrndup(pj, (size_t)(strrchr(pj, ',') - pj));
        }
        cur.alias = host;
        cur.hostname = NULL;
        cur.user = user;
        cur.port = last->port;
        cur.jump = jump;
        if (v[0].proxy_jump_where != NULL) {
            char *colon = strrchr(v[0].proxy_jump_where, ':');

            free((char *)where.path);
            where.path = xstrndup(v[0].proxy_jump_where,
                                  (size_t)(colon - v[0].proxy_jump_where));
            where.line = (unsigned)strtoul(colon + 1, NULL, 10);
            wp = &where;
        }
    }
    out->v = v;
    out->n = n;
    v = NULL;
    n = 0;
    r = 0;
out:
    for (size_t i = 0; i < n; i++)
        sshcfg_host_release(&v[i]);
    free(v);
    strlist_clear(&keys);
    strlist_clear(&path);
    free((char *)where.path);
    free(user);
    free(host);
    free(jump);
    return r;
}

void sshcfg_chain_release(struct sshcfg_chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        sshcfg_host_release(&c->v[i]);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

int sshcfg_proxy_command(const struct sshcfg_host *h, char **out, char *err)
{
    char port[16], *cmd, e[ERR_MAX];
    int r;

    *out = NULL;
    if (h->proxy_command == NULL)
        return 0;
    snprintf(port, sizeof(port), "%u", h->port);
    const struct sshcfg_token tok[] = {
        {'h', h->hostname},
        {'k', h->host_key_alias ? h->host_key_alias : h->alias},
        {'n', h->alias},
        {'p', port},
        {'r', h->user}};
    cmd = xasprintf("exec %s", h->proxy_command);
    r = sshcfg_expand(cmd, tok, sizeof(tok) / sizeof(tok[0]), false, out, e);
    free(cmd);
    if (r != 0)
        return errf(err, "ProxyCommand '%s': %s", h->proxy_command, e);
    return 0;
}

/* The errors ssh reports whatever the host: a rejected line, a file it
 * cannot read, Includes nested too deep, and an unknown keyword that no
 * earlier IgnoreUnknown line could excuse. The first in reading order. */
static int scan(const struct sshcfg_file *f, unsigned depth,
                const struct sshcfg_dir *from, struct strlist *ignore,
                char *err)
{
    if (depth > SSHCFG_INCLUDE_MAX_DEPTH)
        return sshcfg_located(err, from,
                              "too many recursive configuration includes");
    if (f->open_error != NULL)
        return sshcfg_located(err, from, "%s", f->open_error);
    for (size_t i = 0; i < f->ndirs; i++) {
        const struct sshcfg_dir *d = &f->dirs[i];
        bool excusable = false;

        switch (d->kw) {
        case KW_ERROR:
            return sshcfg_located(err, d, "%s", d->str);
        case KW_IGNOREUNKNOWN:
            strlist_push(ignore, d->str);
            break;
        case KW_UNKNOWN:
            for (size_t j = 0; j < ignore->n; j++)
                excusable |= sshcfg_match_list(d->str, ignore->v[j], true) == 1;
            if (!excusable)
                return sshcfg_located(err, d, "bad configuration option '%s'",
                                      d->str);
            break;
        default:
            break;
        }
        for (size_t j = 0; j < d->ninc; j++)
            if (scan(d->inc[j], depth + 1, d, ignore, err) != 0)
                return -1;
    }
    return 0;
}

static int add_top(struct sshcfg *cfg, const char *path, bool user,
                   bool checkperm, bool must_exist, char *err)
{
    struct sshcfg_file *f = NULL;

    if (sshcfg_parse_file(cfg, path, user, checkperm, 0, &f, err) != 0)
        return -1;
    if (must_exist && f->missing)
        return errf(err, "can't open user config file %s: %s", path,
                    strerror(ENOENT));
    cfg->top[cfg->ntop++] = f;
    return 0;
}

int sshcfg_load(struct sshcfg **out, const struct sshcfg_opts *opts, char *err)
{
    static const struct sshcfg_opts defaults;
    struct sshcfg *cfg;
    struct passwd pw, *pwp = NULL;
    char pwbuf[4096], name[256];
    const char *home;
    struct strlist ignore = {0};
    int r;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if ((opts->local_user == NULL || opts->home_dir == NULL) &&
        (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
         pwp == NULL))
        return errf(err, "no password database entry for uid %u",
                    (unsigned)getuid());
    cfg = xcalloc(1, sizeof(*cfg));
    cfg->local_user = xstrdup(opts->local_user ? opts->local_user : pw.pw_name);
    cfg->home_dir = xstrdup(opts->home_dir ? opts->home_dir : pw.pw_dir);
    home = opts->include_home ? opts->include_home : getenv("HOME");
    cfg->include_home = xstrdup(home && *home ? home : cfg->home_dir);
    if (gethostname(name, sizeof(name)) != 0)
        name[0] = '\0';
    name[sizeof(name) - 1] = '\0';
    cfg->thishost = xstrdup(name);
    snprintf(cfg->uid, sizeof(cfg->uid), "%llu", (unsigned long long)getuid());
    r = sshcfg_a2port("ssh");
    cfg->default_port = r > 0 ? (unsigned)r : 22;

    if (opts->config_file != NULL) {
        if (strcasecmp(opts->config_file, "none") != 0 &&
            add_top(cfg, opts->config_file, true, false, true, err) != 0)
            goto fail;
    } else {
        char *user = opts->user_config
                         ? xstrdup(opts->user_config)
                         : xasprintf("%s/.ssh/config", cfg->home_dir);
        r = add_top(cfg, user, true, true, false, err);
        free(user);
        if (r != 0 || add_top(cfg,
                              opts->system_config ? opts->system_config
                                                  : "/etc/ssh/ssh_config",
                              false, false, false, err) != 0)
            goto fail;
    }
    for (size_t i = 0; i < cfg->ntop; i++)
        if (scan(cfg->top[i], 0, NULL, &ignore, err) != 0)
            goto fail;
    strlist_clear(&ignore);
    *out = cfg;
    return 0;
fail:
    strlist_clear(&ignore);
    sshcfg_free(cfg);
    return -1;
}

void sshcfg_free(struct sshcfg *cfg)
{
    if (cfg == NULL)
        return;
    sshcfg_files_free(cfg->files);
    free(cfg->local_user);
    free(cfg->home_dir);
    free(cfg->include_home);
    free(cfg->thishost);
    free(cfg);
}
