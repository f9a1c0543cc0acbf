/*
 * cmd_hosts.c - `oneoff hosts -s STAGE`: the hosts a selection resolves to,
 * with where each would be contacted (the ssh config resolved by the SSH
 * transport, the inventory's values applied).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/inventory.h"
#include "oneoff/nodeset.h"
#include "oneoff/plan.h"
#include "oneoff/transport.h"

/* --fold: the selection as one node set ("db1,web[01-10]"). */
static int print_folded(const struct host **sel, size_t n)
{
    struct strlist names = {0};
    char err[ERR_MAX];
    char *s = NULL;

    for (size_t i = 0; i < n; i++)
        strlist_push(&names, sel[i]->name);
    if (nodeset_fold(&names, &s, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        strlist_clear(&names);
        return EXIT_USAGE;
    }
    printf("%s\n", s);
    free(s);
    strlist_clear(&names);
    return EXIT_OK;
}

/* One row: where the host is reached, as the SSH transport resolves it
 * (ssh config, then the inventory's values). */
struct row {
    const struct host *h;
    char address[256], port[12], user[64], jump[512];
};

static int resolve_rows(const struct options *o, const struct host **sel,
                        size_t n, struct row *rows, char *err)
{
    struct transport *tp = NULL;
    struct ssh_settings set;
    int rc = 0;

    memset(&set, 0, sizeof(set));
    set.ssh_config = o->ssh_config;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct host *h = sel[i];
        struct transport_target tg = {h->name,         h->address,
                                      h->set.port,     h->set.user,
                                      h->set.identity, h->set.jump};
        struct ssh_where w;
        rows[i].h = h;
        if (h->set.transport == TRANSPORT_LOCAL) {
            snprintf(rows[i].address, sizeof(rows[i].address), "(local)");
            snprintf(rows[i].port, sizeof(rows[i].port), "-");
            snprintf(rows[i].user, sizeof(rows[i].user), "-");
            snprintf(rows[i].jump, sizeof(rows[i].jump), "-");
            continue;
        }
        if (tp == NULL && transport_ssh_new(&tp, &set, err))
            return -1;
        if (transport_ssh_where(tp, &tg, &w, err)) {
            rc = -1;
            break;
        }
        snprintf(rows[i].address, sizeof(rows[i].address), "%s", w.address);
        snprintf(rows[i].port, sizeof(rows[i].port), "%u", w.port);
        snprintf(rows[i].user, sizeof(rows[i].user), "%s", w.user);
        if (w.jump)
            snprintf(rows[i].jump, sizeof(rows[i].jump), "%s", w.jump);
        else if (w.proxy_command)
            snprintf(rows[i].jump, sizeof(rows[i].jump), "(ProxyCommand)");
        else
            snprintf(rows[i].jump, sizeof(rows[i].jump), "-");
        ssh_where_release(&w);
    }
    transport_free(tp);
    return rc;
}

static int width(const struct row *rows, size_t n, size_t off, int min)
{
    int w = min;

    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen((const char *)&rows[i] + off);
        if (l > w)
            w = l;
    }
    return w;
}

static int hosts_run(struct options *o)
{
    struct inventory inv;
    const struct host **sel = NULL;
    struct row *rows;
    size_t n = 0;
    int wn = 4, wa, wu, wj;
    char err[ERR_MAX];

    if (o->stage == NULL)
        return command_usage_error(&cmd_hosts, "no stage given (-s STAGE)");
    if (o->positional.n)
        return command_usage_error(&cmd_hosts, "unexpected argument");
    if (inventory_load(&inv, o->dir, o->stage, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        return EXIT_USAGE;
    }
    if (plan_select(&inv, NULL, &o->plan, &sel, &n, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        inventory_release(&inv);
        return EXIT_USAGE;
    }
    if (o->fold) {
        int rc = print_folded(sel, n);
        free(sel);
        inventory_release(&inv);
        return rc;
    }
    rows = xcalloc(n ? n : 1, sizeof(*rows));
    if (resolve_rows(o, sel, n, rows, err)) {
        fprintf(stderr, "oneoff: %s\n", err);
        free(rows);
        free(sel);
        inventory_release(&inv);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(sel[i]->name) > wn)
            wn = (int)strlen(sel[i]->name);
    wa = width(rows, n, offsetof(struct row, address), 7);
    wu = width(rows, n, offsetof(struct row, user), 4);
    wj = width(rows, n, offsetof(struct row, jump), 4);
    printf("%-*s  %-*s  %-5s  %-*s  %-*s  %-7s  %s\n", wn, "HOST", wa,
           "ADDRESS", "PORT", wu, "USER", wj, "JUMP", "PRIMARY", "ROLES");
    for (size_t i = 0; i < n; i++) {
        const struct host *h = sel[i];
        char *roles = strlist_join(&h->roles, ",");
        printf("%-*s  %-*s  %-5s  %-*s  %-*s  %-7s  %s\n", wn, h->name, wa,
               rows[i].address, rows[i].port, wu, rows[i].user, wj,
               rows[i].jump, h->primary ? "yes" : "no", *roles ? roles : "-");
        free(roles);
    }
    free(rows);
    free(sel);
    inventory_release(&inv);
    return EXIT_OK;
}

const struct command cmd_hosts = {
    .name = "hosts",
    .usage = "-s STAGE [--limit PATTERNS] [--role ROLES] [--ssh-config FILE] "
             "[--fold]",
    .summary = "show the hosts a stage and selection resolve to",
    .help = "Prints the hosts of hosts/STAGE.yml that the selection keeps:\n"
            "name, then where each is reached as the SSH connection would\n"
            "reach it (the ssh config resolved for the name, as `ssh -G`\n"
            "does, with the inventory's address, port and user winning):\n"
            "address, port, user, the ProxyJump hops (JUMP), then whether\n"
            "it is primary, and roles. Reads no key and contacts nobody.\n"
            "--fold prints the names only, folded into one node set.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_FOLD | OPT_SSH_CONFIG,
    .run = hosts_run,
};
