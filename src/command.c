/*
 * command.c - help and usage messages shared by the subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"

const char exit_codes_help[] =
    "exit codes:\n"
    "  0    every selected host succeeded\n"
    "  1    the task failed on some host\n"
    "  2    usage or configuration error (nothing was run anywhere)\n"
    "  3    a host could not be reached or authenticated, or its host\n"
    "       key is unknown or changed\n"
    "  4    refused for safety (lock held, release or task file drift,\n"
    "       declined confirmation)\n"
    "  130  interrupted\n"
    "  where several apply, the first of 130, 4, 3, 1 wins\n";

void command_print_help(const struct command *c)
{
    printf("usage: oneoff %s %s\n\n%s\n\noptions:\n", c->name, c->usage,
           c->help);
    cli_print_option_help(c->opts);
    printf("\n%s", exit_codes_help);
}

int command_usage_error(const struct command *c, const char *msg)
{
    fprintf(stderr, "oneoff: %s\n", msg);
    fprintf(stderr, "usage: oneoff %s %s (see 'oneoff %s --help')\n", c->name,
            c->usage, c->name);
    return EXIT_USAGE;
}

int command_transports(const struct options *o, const struct plan *p,
                       struct command_transports *out, char *err)
{
    struct ssh_settings set;
    bool need_ssh = false, need_local = false;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < p->nhosts; i++) {
        need_ssh |= p->hosts[i].host->set.transport == TRANSPORT_SSH;
        need_local |= p->hosts[i].host->set.transport == TRANSPORT_LOCAL;
    }
    if (need_ssh) {
        memset(&set, 0, sizeof(set));
        set.ssh_config = o->ssh_config;
        set.known_hosts = o->known_hosts;
        set.policy = o->host_key_policy == HOST_KEY_ACCEPT_NEW
                         ? SSH_HK_ACCEPT_NEW
                         : SSH_HK_STRICT;
        set.policy_set = o->host_key_policy_set;
        set.connect_timeout_ms = o->connect_timeout_ms;
        set.connect_timeout_set = o->connect_timeout_set;
        set.identities = &o->identities;
        set.max_connecting = o->max_connecting;
        if (transport_ssh_new(&out->ssh, &set, err))
            return -1;
    }
    if (need_local)
        out->local = transport_local_new();
    out->per_host = xcalloc(p->nhosts ? p->nhosts : 1, sizeof(*out->per_host));
    for (size_t i = 0; i < p->nhosts; i++) {
        const struct host *h = p->hosts[i].host;
        struct transport_target tg = {h->name,         h->address,
                                      h->set.port,     h->set.user,
                                      h->set.identity, h->set.jump};
        if (h->set.transport == TRANSPORT_LOCAL) {
            out->per_host[i] = out->local;
            continue;
        }
        out->per_host[i] = out->ssh;
        /* Resolve every host's ssh config now (a ProxyJump loop is an
         * error before anything connects anywhere), and ask for
         * passphrases. */
        if (transport_ssh_preload(out->ssh, &tg, err)) {
            command_transports_release(out);
            return -1;
        }
    }
    return 0;
}

void command_transports_release(struct command_transports *t)
{
    transport_free(t->ssh);
    transport_free(t->local);
    free(t->per_host);
    memset(t, 0, sizeof(*t));
}

int command_stage_open(const struct options *o, const char *stage,
                       const char *command, const struct plan_opts *po,
                       struct stage_hosts *sh, char *err)
{
    struct plan_opts all;

    memset(&all, 0, sizeof(all));
    if (inventory_load(&sh->inv, o->dir, stage, err))
        return -1;
    task_adhoc(&sh->t, command);
    if (plan_build(&sh->plan, &sh->inv, &sh->t, po ? po : &all, err) == 0) {
        if (command_transports(o, &sh->plan, &sh->tps, err) == 0)
            return 0;
        plan_release(&sh->plan);
    }
    task_release(&sh->t);
    inventory_release(&sh->inv);
    return -1;
}

void command_stage_close(struct stage_hosts *sh)
{
    command_transports_release(&sh->tps);
    plan_release(&sh->plan);
    task_release(&sh->t);
    inventory_release(&sh->inv);
}
