/*
 * cmd_hosts.c - `oneoff hosts -s STAGE`: the hosts a selection resolves to,
 * with the settings each would be contacted with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/inventory.h"
#include "oneoff/nodeset.h"
#include "oneoff/plan.h"

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

static int hosts_run(struct options *o)
{
    struct inventory inv;
    const struct host **sel = NULL;
    size_t n = 0, wn = 4, wa = 7;
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
    for (size_t i = 0; i < n; i++) {
        const char *a = sel[i]->address ? sel[i]->address : sel[i]->name;
        if (strlen(sel[i]->name) > wn)
            wn = strlen(sel[i]->name);
        if (strlen(a) > wa)
            wa = strlen(a);
    }
    printf("%-*s  %-*s  %-5s  %-10s  %-7s  %s\n", (int)wn, "HOST", (int)wa,
           "ADDRESS", "PORT", "USER", "PRIMARY", "ROLES");
    for (size_t i = 0; i < n; i++) {
        const struct host *h = sel[i];
        char port[12] = "-";
        char *roles = strlist_join(&h->roles, ",");
        if (h->set.port)
            snprintf(port, sizeof(port), "%u", h->set.port);
        printf("%-*s  %-*s  %-5s  %-10s  %-7s  %s\n", (int)wn, h->name, (int)wa,
               h->address ? h->address : h->name, port,
               h->set.user ? h->set.user : "-", h->primary ? "yes" : "no",
               *roles ? roles : "-");
        free(roles);
    }
    free(sel);
    inventory_release(&inv);
    return EXIT_OK;
}

const struct command cmd_hosts = {
    .name = "hosts",
    .usage = "-s STAGE [--limit PATTERNS] [--role ROLES] [--fold]",
    .summary = "show the hosts a stage and selection resolve to",
    .help = "Prints the hosts of hosts/STAGE.yml that the selection keeps:\n"
            "name, address, port, user, whether it is primary, and roles.\n"
            "'-' means the value comes from ssh config or its default.\n"
            "--fold prints the names only, folded into one node set.",
    .opts = OPT_STAGE | OPT_SELECT | OPT_FOLD,
    .run = hosts_run,
};
