/*
 * inventory_int.h - what inventory.c (oneoff's own format) and
 * inventory_ansible.c (Ansible's YAML inventories) share. Not a public
 * interface. Errors are located "NAME:LINE:COL: ..." lines (yaml_doc.h).
 */
#ifndef ONEOFF_INVENTORY_INT_H
#define ONEOFF_INVENTORY_INT_H

#include <stdbool.h>

#include "oneoff/inventory.h"
#include "oneoff/yaml_doc.h"

/* Reads v, the value of the setting key (one of the keys of `defaults`:
 * "user", "port", "app_dir", ...), into s. what names the value in
 * messages (the key as written: "port", or "ansible_port"). */
int inventory_read_setting(const struct ydoc *d, const char *key,
                           const char *what, const struct ynode *v,
                           struct host_settings *s, char *err);
/* Reads a host's address (replacing *out). */
int inventory_read_address(const struct ydoc *d, const struct ynode *v,
                           const char *what, char **out, char *err);
/* Reads `stage`, `confirm` and `promote_from` from map (each optional)
 * into inv; stage is the one the file name expects (NULL: any). */
int inventory_read_stage_keys(const struct ydoc *d, const struct ynode *map,
                              const char *stage, struct inventory *inv,
                              char *err);
/* "One primary per role" over inv's hosts; at[i] is where host i is made
 * primary, for the message. */
int inventory_check_primaries(const struct ydoc *d, const struct inventory *inv,
                              const struct ynode *const *at, char *err);
void inventory_settings_release(struct host_settings *s);

/* True when root (a mapping) is an Ansible YAML inventory: it has the group
 * `all`, or no `hosts` and `defaults` of oneoff's format and some value is
 * a group with `hosts` or `children`. */
bool inventory_is_ansible(const struct ynode *root);
/* Reads an Ansible YAML inventory (inventory_ansible.c) into inv, whose
 * path is set; on failure inv may hold part of it (the caller releases). */
int inventory_parse_ansible(struct inventory *inv, const struct ydoc *d,
                            const char *stage, char *err);

#endif
