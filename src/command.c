/*
 * command.c - help and usage messages shared by the subcommands.
 */
#include <stdio.h>
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

int command_ssh_transport(const struct options *o, const struct plan *p,
                          struct ssh_transport **out, char *err)
{
    struct ssh_settings set;
    bool need_ssh = false;

    *out = NULL;
    for (size_t i = 0; i < p->nhosts; i++)
        need_ssh |= p->hosts[i].host->set.transport == TRANSPORT_SSH;
    if (!need_ssh)
        return 0;
    memset(&set, 0, sizeof(set));
    set.ssh_config = o->ssh_config;
    set.known_hosts = o->known_hosts;
    set.policy = o->host_key_policy == HOST_KEY_ACCEPT_NEW ? SSH_HK_ACCEPT_NEW
                                                           : SSH_HK_STRICT;
    set.connect_timeout_ms = o->connect_timeout_ms;
    set.identities = &o->identities;
    if (ssh_transport_new(out, &set, err))
        return -1;
    /* Ask for passphrases now, before anything connects anywhere. */
    for (size_t i = 0; i < p->nhosts && o->identities.n == 0; i++) {
        const struct host *h = p->hosts[i].host;
        struct ssh_target tg = {h->name, h->address, h->set.port, h->set.user,
                                h->set.identity};
        if (h->set.transport == TRANSPORT_SSH &&
            ssh_transport_preload_target(*out, &tg, err)) {
            ssh_transport_free(*out);
            *out = NULL;
            return -1;
        }
    }
    return 0;
}
