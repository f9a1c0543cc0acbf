/*
 * inventory.h - hosts/<stage>.yml: the servers of one stage.
 *
 * Each host carries its effective settings: the stage's `defaults` with the
 * host's own keys applied on top (env merges key by key, later wins).
 * Everything returned is owned by the inventory and freed by
 * inventory_release().
 */
#ifndef ONEOFF_INVENTORY_H
#define ONEOFF_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/runtime.h"
#include "oneoff/util.h"

enum transport_kind { TRANSPORT_SSH, TRANSPORT_LOCAL };

/* The keys a host may set or inherit from `defaults`. */
struct host_settings {
    char *user;          /* NULL: from ssh config, else the local user */
    unsigned port;       /* 0: from ssh config, else 22 */
    char *app_dir;       /* required (here or in defaults) */
    char *release;       /* "current" unless set */
    char *revision_file; /* "REVISION" unless set */
    struct strlist env_file;
    struct kvlist env;
    char *become;
    char *identity;
    char *jump; /* ProxyJump syntax, "none"; NULL: the ssh config's */
    enum transport_kind transport;
    bool transport_set;
    struct runtime rt; /* runtime, engine, container, image_of, network_of */
};

struct host {
    char *name;
    char *address; /* NULL: the name (resolved through ssh config) */
    struct strlist roles;
    bool primary;
    unsigned line, col; /* where the host is defined */
    struct host_settings set;
};

struct inventory {
    char *path; /* display path, "hosts/production.yml" */
    char *stage;
    bool confirm;
    char *promote_from;
    bool require_reason; /* every run on the stage needs --reason */
    struct host *hosts;
    size_t nhosts;
};

/* Parses an inventory from memory; name is the display path and stage the
 * stage expected from the file name (NULL: take it from the file). */
int inventory_parse(struct inventory *inv, const char *name, const char *stage,
                    const char *data, size_t len, char *err);
/* Loads DIR/hosts/STAGE.yml. An unknown stage lists the stages that exist. */
int inventory_load(struct inventory *inv, const char *dir, const char *stage,
                   char *err);
void inventory_release(struct inventory *inv);

const struct host *inventory_find(const struct inventory *inv,
                                  const char *name);
bool host_has_role(const struct host *h, const char *role);

/* Lists the stages of DIR/hosts (sorted) into out. */
int inventory_list_stages(const char *dir, struct strlist *out, char *err);

/* A safe host, user or stage name: [A-Za-z0-9._-], not starting with '-'
 * or '.', at most 255 bytes. */
bool name_valid(const char *s);

#endif
