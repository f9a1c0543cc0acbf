/*
 * transport_ssh_host.c - how the SSH transport reaches one host: the ssh
 * config (read once per run by sshcfg_load()) resolved for the host as
 * `ssh -G` resolves it, with the inventory's values and the command line's
 * options winning over it; and the pacing of connections, so that many
 * hosts behind one address or one jump host do not storm its sshd past
 * MaxStartups.
 */
#define _GNU_SOURCE
#include "transport_ssh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ssh's GlobalKnownHostsFile (its second default, ssh_known_hosts2, is
 * deprecated) */
#define GLOBAL_KNOWN_HOSTS "/etc/ssh/ssh_known_hosts"

/* The first file of the list that exists, else the first (accept-new
 * creates it); "none" (an empty list): nothing. */
static char *pick_known_hosts(const struct strlist *l)
{
    if (l->n == 0)
        return xstrdup("/dev/null");
    for (size_t i = 0; i < l->n; i++)
        if (access(l->v[i], F_OK) == 0)
            return xstrdup(l->v[i]);
    return xstrdup(l->v[0]);
}

/* Everything but the chain, the identities and the pacing key, from h. */
static void fill(struct ssh_tp *t, const struct sshcfg_host *h,
                 struct ssh_hostopts *o)
{
    o->identities_only = h->identities_only || o->identities_explicit;
    strlist_copy(&o->certificates, &h->certificate_files);

    /* StrictHostKeyChecking: accept-new is honoured; "no" and "off" are
     * not (an unknown key is never accepted silently), "ask" is strict. */
    if (t->policy_set)
        o->policy = t->policy;
    else
        o->policy = h->strict_host_key_checking == SSHCFG_STRICT_ACCEPT_NEW
                        ? SSH_HK_ACCEPT_NEW
                        : SSH_HK_STRICT;
    o->connect_timeout_ms = t->connect_timeout_ms;
    if (!t->connect_timeout_set && h->connect_timeout_s > 0)
        o->connect_timeout_ms = (int64_t)h->connect_timeout_s * 1000;
    o->alive_interval_s = SSH_ALIVE_INTERVAL_S;
    o->alive_count_max = SSH_ALIVE_COUNT_MAX;
    if (h->server_alive_set) {
        o->alive_interval_s = h->server_alive_interval_s;
        o->alive_count_max = h->server_alive_count_max;
    }
    if (o->alive_count_max < 1)
        o->alive_count_max = 1;
    if (t->known_hosts) {
        o->known_hosts = xstrdup(t->known_hosts);
        strlist_push(&o->kh_files, t->known_hosts);
    } else {
        o->known_hosts = pick_known_hosts(&h->known_hosts_files);
        strlist_copy(&o->kh_files, &h->known_hosts_files);
        strlist_push(&o->kh_files, GLOBAL_KNOWN_HOSTS);
    }
    if (h->host_key_alias) {
        o->kh_host = xstrdup(h->host_key_alias);
        o->kh_port = 22; /* ssh looks an alias up without the port */
    } else {
        o->kh_host = xstrdup(h->hostname);
        o->kh_port = h->port;
    }
}

int hostopts_resolve(struct ssh_tp *t, const struct transport_target *tg,
                     struct ssh_hostopts *o, char *err)
{
    struct sshcfg_target st;
    const struct sshcfg_host *h, *first;

    memset(o, 0, sizeof(*o));
    memset(&st, 0, sizeof(st));
    st.alias = tg->name;
    st.user = tg->user;
    st.port = tg->port;
    st.hostname = tg->address;
    st.jump = tg->jump; /* the inventory's jump: wins, as ssh -J */
    if (sshcfg_resolve_chain(t->cfg, &st, &o->chain, err))
        return -1;
    h = o->h = &o->chain.v[o->chain.n - 1];
    first = &o->chain.v[0];
    /* through jump hosts, the target's ProxyCommand is not run (the first
     * hop's is, by the jump host code) */
    if (o->chain.n == 1 && sshcfg_proxy_command(h, &o->proxy_command, err))
        return -1;

    if (t->cli_ids.n) {
        strlist_copy(&o->identities, &t->cli_ids);
        o->identities_explicit = true;
    } else if (tg->identity) {
        strlist_push_owned(&o->identities, expand_home(tg->identity));
        o->identities_explicit = true;
    } else {
        strlist_copy(&o->identities, &h->identity_files);
    }
    fill(t, h, o);
    if (o->chain.n > 1)
        o->pace_key = xasprintf("jump %s:%u", first->hostname, first->port);
    else
        o->pace_key = xasprintf("%s:%u", h->hostname, h->port);
    return 0;
}

int hostopts_hop(struct ssh_tp *t, const struct sshcfg_host *h, bool first,
                 struct ssh_hostopts *o, char *err)
{
    memset(o, 0, sizeof(*o));
    o->h = h;
    if (first && sshcfg_proxy_command(h, &o->proxy_command, err))
        return -1;
    /* -i applies to every login; the inventory's identity is the
     * target's */
    if (t->cli_ids.n) {
        strlist_copy(&o->identities, &t->cli_ids);
        o->identities_explicit = true;
    } else {
        strlist_copy(&o->identities, &h->identity_files);
    }
    fill(t, h, o);
    o->pace_key = xasprintf("%s:%u", h->hostname, h->port);
    return 0;
}

void hostopts_release(struct ssh_hostopts *o)
{
    sshcfg_chain_release(&o->chain);
    free(o->proxy_command);
    strlist_clear(&o->identities);
    strlist_clear(&o->certificates);
    free(o->known_hosts);
    strlist_clear(&o->kh_files);
    free(o->kh_host);
    free(o->pace_key);
    memset(o, 0, sizeof(*o));
}

static int preload_all(struct ssh_tp *t, const struct ssh_hostopts *o,
                       char *err)
{
    for (size_t i = 0; i < o->identities.n; i++) {
        enum id_need need = ID_CONFIGURED;
        if (o->identities_explicit)
            need = ID_REQUIRED;
        else if (o->h->identity_files_default)
            need = ID_DEFAULT;
        if (preload(t, o->identities.v[i], need, err))
            return -1;
    }
    return 0;
}

int transport_ssh_preload(struct transport *base,
                          const struct transport_target *tg, char *err)
{
    struct ssh_tp *t = (struct ssh_tp *)base;
    struct ssh_hostopts o;
    int rc = 0;

    if (hostopts_resolve(t, tg, &o, err)) {
        hostopts_release(&o);
        return -1;
    }
    rc = preload_all(t, &o, err);
    /* the jump hosts' keys too: a passphrase is asked for before the run */
    for (size_t i = 0; i + 1 < o.chain.n && rc == 0; i++) {
        struct ssh_hostopts ho;
        rc = hostopts_hop(t, &o.chain.v[i], i == 0, &ho, err);
        if (rc == 0)
            rc = preload_all(t, &ho, err);
        hostopts_release(&ho);
    }
    hostopts_release(&o);
    return rc;
}

int transport_ssh_where(struct transport *base,
                        const struct transport_target *tg,
                        struct ssh_where *out, char *err)
{
    struct ssh_tp *t = (struct ssh_tp *)base;
    struct ssh_hostopts o;

    memset(out, 0, sizeof(*out));
    if (hostopts_resolve(t, tg, &o, err)) {
        hostopts_release(&o);
        return -1;
    }
    out->address = xstrdup(o.h->hostname);
    out->port = o.h->port;
    out->user = xstrdup(o.h->user);
    if (o.chain.n > 1) {
        struct buf b = BUF_INIT(4096);
        for (size_t i = 0; i + 1 < o.chain.n; i++) {
            const struct sshcfg_host *hop = &o.chain.v[i];
            BUF_MUST(buf_addf(&b, "%s%s@%s", i ? " -> " : "", hop->user,
                              hop->hostname));
            if (hop->port != 22)
                BUF_MUST(buf_addf(&b, ":%u", hop->port));
        }
        out->jump = xstrdup(buf_str(&b));
        buf_release(&b);
    }
    if (o.h->proxy_command)
        out->proxy_command = xstrdup(o.h->proxy_command);
    hostopts_release(&o);
    return 0;
}

void ssh_where_release(struct ssh_where *w)
{
    free(w->address);
    free(w->user);
    free(w->jump);
    free(w->proxy_command);
    memset(w, 0, sizeof(*w));
}

/* ---- pacing ---------------------------------------------------------------
 */

static struct pace_slot *pace_slot(struct ssh_tp *t, const char *key)
{
    for (size_t i = 0; i < t->npace; i++)
        if (strcmp(t->pace[i].key, key) == 0)
            return &t->pace[i];
    xgrow((void **)&t->pace, &t->pace_alloc, t->npace + 1, sizeof(*t->pace));
    t->pace[t->npace].key = xstrdup(key);
    t->pace[t->npace].busy = 0;
    return &t->pace[t->npace++];
}

int pace_acquire(struct ssh_tp *t, const char *key, bool (*stop)(void *),
                 void *ctx)
{
    int rc = 0;

    pthread_mutex_lock(&t->pace_lock);
    for (;;) {
        struct pace_slot *p = pace_slot(t, key);
        struct timespec ts;
        if (p->busy < t->max_connecting) {
            p->busy++;
            break;
        }
        if (stop && stop(ctx)) {
            rc = -1;
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->pace_cond, &t->pace_lock, &ts);
    }
    pthread_mutex_unlock(&t->pace_lock);
    return rc;
}

void pace_release(struct ssh_tp *t, const char *key)
{
    pthread_mutex_lock(&t->pace_lock);
    struct pace_slot *p = pace_slot(t, key);
    if (p->busy)
        p->busy--;
    pthread_cond_broadcast(&t->pace_cond);
    pthread_mutex_unlock(&t->pace_lock);
}
