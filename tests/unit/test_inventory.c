/*
 * test_inventory.c - unit tests for inventory.c: hosts/<stage>.yml parsed
 * from memory (defaults inherited, per-host overrides, every located error)
 * and inventory_load()/inventory_list_stages() on a temporary directory.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/inventory.h"
#include "oneoff/util.h"

#define PROD "hosts/production.yml"

/* The example of DESIGN.md, byte for byte. */
static const char design_example[] =
    "stage: production\n"
    "confirm: true                    # interactive runs must type the stage "
    "name; CI passes --yes\n"
    "promote_from: staging            # a task runs here only after it passed "
    "on staging\n"
    "defaults:                        # every host inherits these; a host may "
    "override any\n"
    "  user: deploy\n"
    "  port: 22\n"
    "  app_dir: /srv/app              # holds releases/<id>/, current -> "
    "releases/<id>, shared/\n"
    "  release: current               # resolved once per run with `cd -P`, "
    "so one run = one release\n"
    "  env_file: shared/.env          # sourced on the host: secrets never "
    "leave it\n"
    "  env: { RAILS_ENV: production } # plain, non-secret values\n"
    "  become: app                    # run tasks as the app's user (sudo -n "
    "-u app)\n"
    "  identity: ~/.ssh/deploy_ed25519\n"
    "  transport: ssh                 # or local: the same script on this "
    "machine (dev parity)\n"
    "hosts:                           # loopback here; a real inventory names "
    "real servers\n"
    "  web1: { address: 127.0.0.11, roles: [web] }\n"
    "  web2: { address: 127.0.0.12, roles: [web] }\n"
    "  db1:  { address: 127.0.0.21, roles: [db], primary: true }\n";

static void parse_ok(struct inventory *inv, const char *stage, const char *text)
{
    char err[ERR_MAX] = "";

    if (inventory_parse(inv, PROD, stage, text, strlen(text), err) != 0)
        fail_msg("unexpected error: %s", err);
}

/* Checks the parse fails with exactly want; failures name the caller's
 * line. */
#define parse_fails(stage, text, want)                                         \
    parse_fails_at(__LINE__, stage, text, want)

static void parse_fails_at(int line, const char *stage, const char *text,
                           const char *want)
{
    struct inventory inv;
    char err[ERR_MAX] = "";

    if (inventory_parse(&inv, PROD, stage, text, strlen(text), err) != -1)
        fail_msg("line %d: parse succeeded, want \"%s\"", line, want);
    if (strcmp(err, want) != 0)
        fail_msg("line %d:\n got  \"%s\"\n want \"%s\"", line, err, want);
    /* A failed parse leaves nothing behind. */
    assert_int_equal(inv.nhosts, 0);
    assert_null(inv.hosts);
    assert_null(inv.path);
    assert_null(inv.stage);
    inventory_release(&inv);
}

static void test_design_example(void **state)
{
    struct inventory inv;
    static const char *const names[] = {"web1", "web2", "db1"};
    static const char *const addrs[] = {"127.0.0.11", "127.0.0.12",
                                        "127.0.0.21"};
    static const char *const roles[] = {"web", "web", "db"};
    static const unsigned lines[] = {15, 16, 17};

    (void)state;
    parse_ok(&inv, "production", design_example);
    assert_string_equal(inv.path, PROD);
    assert_string_equal(inv.stage, "production");
    assert_true(inv.confirm);
    assert_string_equal(inv.promote_from, "staging");
    assert_int_equal(inv.nhosts, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct host *h = &inv.hosts[i];
        assert_string_equal(h->name, names[i]);
        assert_string_equal(h->address, addrs[i]);
        assert_int_equal(h->roles.n, 1);
        assert_string_equal(h->roles.v[0], roles[i]);
        assert_int_equal(h->primary, i == 2);
        assert_int_equal(h->line, lines[i]);
        assert_int_equal(h->col, 3);
        /* Everything else comes from defaults. */
        assert_string_equal(h->set.user, "deploy");
        assert_int_equal(h->set.port, 22);
        assert_string_equal(h->set.app_dir, "/srv/app");
        assert_string_equal(h->set.release, "current");
        assert_null(h->set.revision_file);
        assert_int_equal(h->set.env_file.n, 1);
        assert_string_equal(h->set.env_file.v[0], "shared/.env");
        assert_int_equal(h->set.env.n, 1);
        assert_string_equal(kvlist_get(&h->set.env, "RAILS_ENV"), "production");
        assert_string_equal(h->set.become, "app");
        assert_string_equal(h->set.identity, "~/.ssh/deploy_ed25519");
        assert_int_equal(h->set.transport, TRANSPORT_SSH);
        assert_true(h->set.transport_set);
    }
    /* Hosts own their settings: no shared pointers. */
    assert_ptr_not_equal(inv.hosts[0].set.app_dir, inv.hosts[1].set.app_dir);
    assert_ptr_not_equal(inv.hosts[0].set.env.val, inv.hosts[1].set.env.val);

    assert_ptr_equal(inventory_find(&inv, "db1"), &inv.hosts[2]);
    assert_null(inventory_find(&inv, "db2"));
    assert_true(host_has_role(&inv.hosts[2], "db"));
    assert_false(host_has_role(&inv.hosts[2], "web"));
    inventory_release(&inv);
    assert_null(inv.hosts);
    assert_int_equal(inv.nhosts, 0);
}

static void test_repo_example_files_parse(void **state)
{
    /* The same shape as hosts/staging.yml of the repository. */
    static const char staging[] =
        "stage: staging\n"
        "defaults:\n"
        "  user: deploy\n"
        "  port: 2222\n"
        "  app_dir: /srv/app\n"
        "  env_file: shared/.env\n"
        "  env: { RAILS_ENV: staging }\n"
        "hosts:\n"
        "  web1: { address: 127.0.0.11, roles: [web] }\n"
        "  db1:  { address: 127.0.0.21, roles: [db], primary: true }\n";
    struct inventory inv;
    char err[ERR_MAX] = "";

    (void)state;
    assert_int_equal(inventory_parse(&inv, "hosts/staging.yml", "staging",
                                     staging, strlen(staging), err),
                     0);
    assert_false(inv.confirm);
    assert_null(inv.promote_from);
    assert_int_equal(inv.hosts[1].set.port, 2222);
    assert_null(inv.hosts[1].set.become);
    assert_null(inv.hosts[1].set.release);
    assert_int_equal(inv.hosts[1].set.transport, TRANSPORT_SSH);
    assert_false(inv.hosts[1].set.transport_set);
    inventory_release(&inv);
}

static void test_host_overrides(void **state)
{
    struct inventory inv;
    const struct host *h;

    (void)state;
    parse_ok(&inv, "production",
             "defaults:\n"
             "  user: deploy\n"
             "  port: 22\n"
             "  app_dir: /srv/app\n"
             "  env_file: shared/.env\n"
             "  env: { RAILS_ENV: production, LOG: info }\n"
             "  become: app\n"
             "  identity: /keys/a\n"
             "hosts:\n"
             "  web1:\n"
             "    address: '[::1]'\n"
             "    user: admin\n"
             "    port: 2201\n"
             "    app_dir: /opt/app\n"
             "    release: releases/42\n"
             "    revision_file: REV\n"
             "    env_file: [shared/.env, /etc/web.env]\n"
             "    env: { LOG: debug, EXTRA: '1' }\n"
             "    become: ~\n"
             "    identity: /keys/b\n"
             "    transport: local\n"
             "    roles: [web, assets]\n"
             "  web2:\n"
             "    roles: web\n"
             "    env_file: ~\n"
             "    become: root\n");
    /* No stage key: the stage is the one the file name gives. */
    assert_string_equal(inv.stage, "production");
    assert_false(inv.confirm);

    h = inventory_find(&inv, "web1");
    assert_non_null(h);
    assert_string_equal(h->address, "[::1]");
    assert_string_equal(h->set.user, "admin");
    assert_int_equal(h->set.port, 2201);
    assert_string_equal(h->set.app_dir, "/opt/app");
    assert_string_equal(h->set.release, "releases/42");
    assert_string_equal(h->set.revision_file, "REV");
    /* env_file is replaced, not appended to. */
    assert_int_equal(h->set.env_file.n, 2);
    assert_string_equal(h->set.env_file.v[0], "shared/.env");
    assert_string_equal(h->set.env_file.v[1], "/etc/web.env");
    /* env merges key by key, later wins, first position kept. */
    assert_int_equal(h->set.env.n, 3);
    assert_string_equal(h->set.env.key[0], "RAILS_ENV");
    assert_string_equal(h->set.env.val[0], "production");
    assert_string_equal(h->set.env.key[1], "LOG");
    assert_string_equal(h->set.env.val[1], "debug");
    assert_string_equal(h->set.env.key[2], "EXTRA");
    assert_string_equal(h->set.env.val[2], "1");
    assert_null(h->set.become);
    assert_string_equal(h->set.identity, "/keys/b");
    assert_int_equal(h->set.transport, TRANSPORT_LOCAL);
    assert_true(h->set.transport_set);
    assert_int_equal(h->roles.n, 2);
    assert_true(host_has_role(h, "assets"));

    h = inventory_find(&inv, "web2");
    assert_null(h->address);
    assert_string_equal(h->set.user, "deploy");
    assert_int_equal(h->set.port, 22);
    assert_string_equal(h->set.app_dir, "/srv/app");
    assert_null(h->set.release);
    assert_int_equal(h->set.env_file.n, 0);
    assert_int_equal(h->set.env.n, 2);
    assert_string_equal(kvlist_get(&h->set.env, "LOG"), "info");
    assert_string_equal(h->set.become, "root");
    assert_string_equal(h->set.identity, "/keys/a");
    assert_int_equal(h->roles.n, 1);
    assert_string_equal(h->roles.v[0], "web");
    assert_false(h->set.transport_set);
    inventory_release(&inv);
}

static void test_hosts_as_list_and_empty_host(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, NULL,
             "defaults: { app_dir: /srv/app, port: 2222 }\n"
             "hosts:\n"
             "  - alpha.example.com\n"
             "  - beta\n"
             "  - gamma_3\n");
    assert_string_equal(inv.stage, "default");
    assert_int_equal(inv.nhosts, 3);
    assert_string_equal(inv.hosts[0].name, "alpha.example.com");
    assert_string_equal(inv.hosts[2].name, "gamma_3");
    assert_int_equal(inv.hosts[1].line, 4);
    assert_int_equal(inv.hosts[1].col, 5);
    for (size_t i = 0; i < 3; i++) {
        assert_null(inv.hosts[i].address);
        assert_int_equal(inv.hosts[i].roles.n, 0);
        assert_false(inv.hosts[i].primary);
        assert_int_equal(inv.hosts[i].set.port, 2222);
        assert_string_equal(inv.hosts[i].set.app_dir, "/srv/app");
    }
    inventory_release(&inv);

    parse_ok(&inv, "production",
             "defaults: { app_dir: /a }\n"
             "hosts: [one, two]\n");
    assert_int_equal(inv.nhosts, 2);
    assert_string_equal(inv.hosts[1].name, "two");
    inventory_release(&inv);

    /* A host with an empty value (or {}) takes the defaults. */
    parse_ok(&inv, "production",
             "stage: production\n"
             "defaults:\n"
             "  app_dir: /a\n"
             "  user: deploy\n"
             "hosts:\n"
             "  web1:\n"
             "  web2: {}\n"
             "  web3: ~\n");
    assert_int_equal(inv.nhosts, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(inv.hosts[i].set.app_dir, "/a");
        assert_string_equal(inv.hosts[i].set.user, "deploy");
        assert_null(inv.hosts[i].address);
    }
    assert_int_equal(inv.hosts[0].line, 6);
    inventory_release(&inv);

    /* app_dir set on the host alone, no defaults at all. */
    parse_ok(&inv, "production", "hosts:\n  h1: { app_dir: /x }\n");
    assert_string_equal(inv.hosts[0].set.app_dir, "/x");
    assert_null(inv.hosts[0].set.user);
    assert_int_equal(inv.hosts[0].set.port, 0);
    inventory_release(&inv);
}

/* release and revision_file stay inside app_dir and the release: the
 * script enters and reads them there, so a path out of it is refused. */
static void test_paths_confined(void **state)
{
    static const struct {
        const char *key, *yaml, *value;
    } bad[] = {
        {"release", "/srv/x", "/srv/x"},
        {"release", "../x", "../x"},
        {"release", "'r/../..'", "r/../.."},
        {"release", "'r/..'", "r/.."},
        {"release", "''", ""},
        {"revision_file", "/x", "/x"},
        {"revision_file", "../R", "../R"},
    };
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "production",
             "defaults: { app_dir: /a, release: releases/20261121 }\n"
             "hosts:\n  a: { release: current, revision_file: meta/REV.txt }\n"
             "  b: { release: './rel..x/..y', revision_file: .REVISION }\n");
    assert_string_equal(inv.hosts[0].set.release, "current");
    assert_string_equal(inv.hosts[0].set.revision_file, "meta/REV.txt");
    assert_string_equal(inv.hosts[1].set.release, "./rel..x/..y");
    inventory_release(&inv);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool rel = strcmp(bad[i].key, "release") == 0;
        char *text = xasprintf("defaults: { app_dir: /a, %s: %s }\n"
                               "hosts: [a]\n",
                               bad[i].key, bad[i].yaml);
        char *want = xasprintf(PROD ":1:%d: '%s' must be a path inside %s "
                                    "(relative, without '..'), not '%s'",
                               rel ? 35 : 41, bad[i].key,
                               rel ? "app_dir" : "the release", bad[i].value);
        parse_fails("production", text, want);
        free(text);
        free(want);
    }
}

static void test_transport(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, NULL,
             "defaults: { app_dir: /a, transport: local }\n"
             "hosts:\n"
             "  h1:\n"
             "  h2: { transport: ssh }\n");
    assert_int_equal(inv.hosts[0].set.transport, TRANSPORT_LOCAL);
    assert_true(inv.hosts[0].set.transport_set);
    assert_int_equal(inv.hosts[1].set.transport, TRANSPORT_SSH);
    assert_true(inv.hosts[1].set.transport_set);
    inventory_release(&inv);

    parse_fails(NULL,
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  h1: { transport: ftp }\n",
                PROD ":3:20: 'transport' must be ssh or local, not 'ftp'");
    parse_fails(NULL,
                "defaults:\n"
                "  app_dir: /a\n"
                "  transport: [ssh]\n"
                "hosts: [h1]\n",
                PROD ":3:14: 'transport' must be a string, not a list");
}

static void test_jump(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, NULL,
             "defaults: { app_dir: /a, jump: 'ops@bastion:2222' }\n"
             "hosts:\n"
             "  h1:\n"
             "  h2: { jump: none }\n"
             "  h3: { jump: 'outer,ssh://bastion:22' }\n");
    assert_string_equal(inv.hosts[0].set.jump, "ops@bastion:2222");
    assert_string_equal(inv.hosts[1].set.jump, "none");
    assert_string_equal(inv.hosts[2].set.jump, "outer,ssh://bastion:22");
    inventory_release(&inv);
    parse_ok(&inv, NULL, "defaults: { app_dir: /a }\nhosts: [h1]\n");
    assert_null(inv.hosts[0].set.jump);
    inventory_release(&inv);

    parse_fails(NULL,
                "defaults: { app_dir: /a }\nhosts:\n  h1: { jump: "
                "'-oProxyCommand=x' }\n",
                PROD ":3:15: 'jump' must be jump hosts as ProxyJump writes "
                     "them ([user@]host[:port], comma-separated) or 'none', "
                     "not '-oProxyCommand=x'");
    parse_fails(NULL,
                "defaults: { app_dir: /a }\nhosts:\n  h1: { jump: 'a,,b' }\n",
                PROD ":3:15: 'jump' must be jump hosts as ProxyJump writes "
                     "them ([user@]host[:port], comma-separated) or 'none', "
                     "not 'a,,b'");
    parse_fails(NULL,
                "defaults: { app_dir: /a }\nhosts:\n  h1: { jump: 'a b' }\n",
                PROD ":3:15: 'jump' must be jump hosts as ProxyJump writes "
                     "them ([user@]host[:port], comma-separated) or 'none', "
                     "not 'a b'");
    parse_fails(NULL,
                "defaults: { app_dir: /a }\nhosts:\n  h1: { jump: 'a,' }\n",
                PROD ":3:15: 'jump' must be jump hosts as ProxyJump writes "
                     "them ([user@]host[:port], comma-separated) or 'none', "
                     "not 'a,'");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    /* Top level, with and without a suggestion. */
    parse_fails("production", "stage: production\nstgae: x\nhosts: [a]\n",
                PROD ":2:1: unknown key 'stgae'; did you mean 'stage'?");
    parse_fails("production", "colour: red\nhosts: [a]\n",
                PROD ":1:1: unknown key 'colour'");
    /* A setting that belongs in defaults, written at the top level. */
    parse_fails("production", "app_dir: /a\nhosts: [a]\n",
                PROD ":1:1: unknown key 'app_dir'");
    /* In defaults. */
    parse_fails("production",
                "defaults:\n  app_dir: /a\n  prot: 22\nhosts: [a]\n",
                PROD ":3:3: unknown key 'prot' in 'defaults'; did you mean "
                     "'port'?");
    parse_fails("production",
                "defaults:\n  app_dir: /a\n  flavour: x\nhosts: [a]\n",
                PROD ":3:3: unknown key 'flavour' in 'defaults'");
    /* Host keys are not defaults keys. */
    parse_fails("production",
                "defaults:\n  app_dir: /a\n  roles: [web]\nhosts: [a]\n",
                PROD ":3:3: unknown key 'roles' in 'defaults'");
    /* In a host: the example of the brief, at 12:5. */
    parse_fails("production",
                "stage: production\n"
                "defaults:\n"
                "  user: deploy\n"
                "  app_dir: /srv/app\n"
                "hosts:\n"
                "  db1:\n"
                "    roles: [db]\n"
                "    primary: true\n"
                "  web2:\n"
                "    roles: [web]\n"
                "  web1:\n"
                "    adress: 10.0.0.1\n",
                PROD ":12:5: unknown key 'adress' in host 'web1'; did you "
                     "mean 'address'?");
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  web1: { address: a, flavour: b }\n",
                PROD ":3:23: unknown key 'flavour' in host 'web1'");
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  web1: { role: web }\n",
                PROD ":3:11: unknown key 'role' in host 'web1'; did you mean "
                     "'roles'?");
}

static void test_wrong_types(void **state)
{
    (void)state;
    parse_fails("production",
                "defaults:\n  app_dir: /a\n  port: abc\nhosts: [a]\n",
                PROD ":3:9: 'port' must be a number, not 'abc'");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  a: { port: 70000 }\n",
                PROD ":3:14: 'port' must be between 1 and 65535, not 70000");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  a: { port: 0 }\n",
                PROD ":3:14: 'port' must be between 1 and 65535, not 0");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  a: { roles: {a: b} }\n",
                PROD ":3:15: 'roles' must be a string or a list of strings, "
                     "not a mapping");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  a: { primary: yes }\n",
                PROD ":3:17: 'primary' must be true or false, not 'yes'");
    parse_fails("production", "confirm: on\nhosts: [a]\n",
                PROD ":1:10: 'confirm' must be true or false, not 'on'");
    parse_fails("production", "defaults: { app_dir: [/a] }\nhosts: [a]\n",
                PROD ":1:22: 'app_dir' must be a string, not a list");
    parse_fails("production",
                "defaults: { app_dir: /a, env: [A] }\nhosts: [a]\n",
                PROD ":1:31: 'env' must be a mapping of NAME: value, not a "
                     "list");
    parse_fails("production",
                "defaults: { app_dir: /a, env: {'A B': x} }\nhosts: [a]\n",
                PROD ":1:32: 'A B' is not a valid environment variable name");
    parse_fails("production",
                "defaults: { app_dir: /a, user: 'de ploy' }\nhosts: [a]\n",
                PROD ":1:32: 'de ploy' is not a valid user name for 'user' "
                     "(letters, digits, '.', '_' and '-')");
    parse_fails("production",
                "defaults: { app_dir: /a, become: '-u' }\nhosts: [a]\n",
                PROD ":1:34: '-u' is not a valid user name for 'become' "
                     "(letters, digits, '.', '_' and '-')");
    parse_fails("production", "defaults: { app_dir: \"/a\\nb\" }\nhosts: [a]\n",
                PROD ":1:22: 'app_dir' must not contain a newline");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  a: { address: "
                "'-oProxyCommand=x' }\n",
                PROD ":3:17: '-oProxyCommand=x' is not a valid address");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  a: { address: 'a b' }\n",
                PROD ":3:17: 'a b' is not a valid address");
    parse_fails(
        "production",
        "defaults: { app_dir: /a }\nhosts:\n  a: { roles: [web, 'x y'] }\n",
        PROD ":3:15: 'x y' is not a valid role name");
    parse_fails("production", "promote_from: 'a/b'\nhosts: [a]\n",
                PROD ":1:15: 'a/b' is not a valid stage name");
    parse_fails("production", "defaults: [a]\nhosts: [a]\n",
                PROD ":1:11: 'defaults' must be a mapping, not a list");
}

static void test_structure_errors(void **state)
{
    (void)state;
    /* Missing hosts. */
    parse_fails("production", "stage: production\ndefaults: { app_dir: /a }\n",
                PROD ":1:1: missing required key 'hosts'");
    /* hosts of the wrong shape or empty. */
    parse_fails("production", "defaults: { app_dir: /a }\nhosts: web1\n",
                PROD ":2:8: 'hosts' must be a mapping of host names (or a "
                     "list of names)");
    parse_fails("production", "defaults: { app_dir: /a }\nhosts: {}\n",
                PROD ":2:8: 'hosts' lists no host");
    parse_fails("production", "defaults: { app_dir: /a }\nhosts: []\n",
                PROD ":2:8: 'hosts' lists no host");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  - a\n  - [b]\n",
                PROD ":4:5: items of 'hosts' must be host names");
    /* Missing app_dir, located at the host. */
    parse_fails("production", "defaults: { user: deploy }\nhosts:\n  web1:\n",
                PROD ":3:3: host 'web1' has no app_dir (set it in 'defaults' "
                     "or on the host)");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  web1: { app_dir: ~ }\n",
                PROD ":3:20: 'app_dir' must be a string, not nothing");
    /* Duplicate host, as a mapping and as a list. */
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  web1: {}\n  web2: {}\n"
                "  web1: {}\n",
                PROD ":5:3: duplicate host 'web1' (first at line 3)");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  - web1\n  - web2\n"
                "  - web1\n",
                PROD ":5:5: duplicate host 'web1' (first at line 3)");
    /* Invalid host names. */
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  'web 1': {}\n",
                PROD ":3:3: 'web 1' is not a valid host name (letters, "
                     "digits, '.', '_' and '-')");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  - ok\n  - '-oProxy'\n",
                PROD ":4:5: '-oProxy' is not a valid host name (letters, "
                     "digits, '.', '_' and '-')");
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  'a;b': {}\n",
                PROD ":3:3: 'a;b' is not a valid host name (letters, "
                     "digits, '.', '_' and '-')");
    /* A host that is not a mapping. */
    parse_fails("production",
                "defaults: { app_dir: /a }\nhosts:\n  web1: 10.0.0.1\n",
                PROD ":3:9: host 'web1' must be a mapping of settings (or "
                     "empty)");
    /* Not a mapping at all, and empty. */
    parse_fails("production", "- web1\n- web2\n",
                PROD ":1:1: the inventory must be a mapping, not a list");
    parse_fails("production", "just text\n",
                PROD ":1:1: the inventory must be a mapping, not a string");
    parse_fails("production", "",
                PROD ":1:1: the inventory is empty; expected a mapping");
    parse_fails("production", "# nothing but a comment\n",
                PROD ":1:1: the inventory is empty; expected a mapping");
    /* YAML errors keep their location. */
    parse_fails("production", "hosts:\n\tweb1:\n",
                PROD ":2:1: tab character in indentation; YAML indents "
                     "with spaces only");
    parse_fails("production", "hosts: &h [a]\n",
                PROD ":1:8: anchors (&h) are not supported; write the values "
                     "out");
}

static void test_stage_mismatch(void **state)
{
    (void)state;
    parse_fails("production",
                "stage: staging\ndefaults: { app_dir: /a }\nhosts: [a]\n",
                PROD ":1:8: stage 'staging' does not match the file name "
                     "(expected 'production')");
    parse_fails("production", "stage: [production]\nhosts: [a]\n",
                PROD ":1:8: 'stage' must be a string, not a list");
}

static void test_primaries(void **state)
{
    struct inventory inv;

    (void)state;
    /* One primary per role: different roles may each have one. */
    parse_ok(&inv, "production",
             "defaults: { app_dir: /a }\n"
             "hosts:\n"
             "  db1: { roles: [db], primary: true }\n"
             "  db2: { roles: [db] }\n"
             "  cache1: { roles: [cache], primary: true }\n"
             "  db3: { roles: [db], primary: false }\n");
    assert_true(inv.hosts[0].primary);
    assert_false(inv.hosts[1].primary);
    assert_true(inv.hosts[2].primary);
    assert_false(inv.hosts[3].primary);
    inventory_release(&inv);

    /* Two primaries in one role: located at the second host's 'primary'
     * key. */
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  db1: { roles: [db], primary: true }\n"
                "  web1: { roles: [web] }\n"
                "  db2:\n"
                "    roles: [replica, db]\n"
                "    primary: true\n",
                PROD ":7:5: role 'db' has two primary hosts: 'db2' and "
                     "'db1' (line 3)");
    /* The same in flow style: the key, not its value. */
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  db1: { roles: [db], primary: true }\n"
                "  db2: { roles: [db], primary: true }\n",
                PROD ":4:23: role 'db' has two primary hosts: 'db2' and "
                     "'db1' (line 3)");
    /* Two primaries without roles. */
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  a: { primary: true }\n"
                "  b: {}\n"
                "  c:\n"
                "    primary: true\n",
                PROD ":6:5: two primary hosts without roles: 'c' and 'a' "
                     "(line 3)");
}

/* A temporary project folder for inventory_load, removed even when the
 * test fails. */
static int make_dir(void **state)
{
    char *dir = xstrdup("/tmp/oneoff-test-inv-XXXXXX");

    if (mkdtemp(dir) == NULL) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int remove_dir(void **state)
{
    char *dir = *state, *cmd = xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);

    free(cmd);
    free(dir);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static void remove_tree(const char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);

    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_load(void **state)
{
    const char *dir = *state;
    char *hosts = xasprintf("%s/hosts", dir);
    struct inventory inv;
    struct strlist stages = {0};
    char err[ERR_MAX] = "";

    assert_int_equal(mkdir(hosts, 0700), 0);
    write_file(dir, "hosts/production.yml", design_example);
    write_file(dir, "hosts/staging.yml",
               "stage: staging\ndefaults: { app_dir: /a }\nhosts: [s1]\n");
    write_file(dir, "hosts/README", "not a stage\n");
    write_file(dir, "hosts/.hidden.yml", "hosts: [x]\n");
    write_file(dir, "hosts/wrong.yml",
               "stage: production\ndefaults: { app_dir: /a }\nhosts: [w]\n");

    assert_int_equal(inventory_list_stages(dir, &stages, err), 0);
    assert_int_equal(stages.n, 3);
    assert_string_equal(stages.v[0], "production");
    assert_string_equal(stages.v[1], "staging");
    assert_string_equal(stages.v[2], "wrong");
    strlist_clear(&stages);

    assert_int_equal(inventory_load(&inv, dir, "production", err), 0);
    assert_string_equal(inv.path, "hosts/production.yml");
    assert_string_equal(inv.stage, "production");
    assert_int_equal(inv.nhosts, 3);
    inventory_release(&inv);

    assert_int_equal(inventory_load(&inv, dir, "staging", err), 0);
    assert_string_equal(inv.path, "hosts/staging.yml");
    assert_string_equal(inv.hosts[0].name, "s1");
    inventory_release(&inv);

    /* The stage inside the file must match its name. */
    assert_int_equal(inventory_load(&inv, dir, "wrong", err), -1);
    assert_string_equal(err, "hosts/wrong.yml:1:8: stage 'production' does "
                             "not match the file name (expected 'wrong')");

    write_file(dir, "hosts/wrong.yml", "stage: wrong\n");
    remove_tree(hosts);
    assert_int_equal(mkdir(hosts, 0700), 0);
    write_file(dir, "hosts/production.yml", design_example);
    write_file(dir, "hosts/staging.yml",
               "defaults: { app_dir: /a }\nhosts: [s1]\n");

    /* An unknown stage lists the stages that exist. */
    assert_int_equal(inventory_load(&inv, dir, "prod", err), -1);
    assert_string_equal(err, "no stage 'prod' (no hosts/prod.yml); stages: "
                             "production, staging");
    assert_int_equal(inv.nhosts, 0);

    /* A stage name that is not a name never reaches the file system. */
    assert_int_equal(inventory_load(&inv, dir, "../production", err), -1);
    assert_string_equal(err, "'../production' is not a valid stage name");
    assert_int_equal(inventory_load(&inv, dir, "", err), -1);
    assert_string_equal(err, "'' is not a valid stage name");

    /* No stage at all. */
    remove_tree(hosts);
    assert_int_equal(mkdir(hosts, 0700), 0);
    assert_int_equal(inventory_load(&inv, dir, "production", err), -1);
    assert_string_equal(err, "no stage 'production' (no "
                             "hosts/production.yml); stages: none");
    remove_tree(hosts);
    assert_int_equal(inventory_load(&inv, dir, "production", err), -1);
    assert_string_equal(err, "no stage 'production' (no "
                             "hosts/production.yml); stages: none");
    assert_int_equal(inventory_list_stages(dir, &stages, err), -1);
    assert_non_null(strstr(err, "/hosts': No such file or directory"));

    free(hosts);
}

/* Regression: every host copies the defaults' env, so an inventory with
 * thousands of env values and thousands of hosts cost hosts x values (a
 * 88 KB file took minutes and gigabytes). Values per mapping are capped. */
static void test_regress_env_times_hosts(void **state)
{
    struct buf b = BUF_INIT(1u << 20);

    (void)state;
    assert_int_equal(buf_adds(&b, "defaults:\n  app_dir: /a\n  env:\n"), 0);
    for (int i = 0; i < 257; i++)
        assert_int_equal(buf_addf(&b, "    K%d: v\n", i), 0);
    assert_int_equal(buf_adds(&b, "hosts:\n  h1:\n"), 0);
    parse_fails("production", buf_str(&b),
                "hosts/production.yml:4:5: 'env' has more than 256 values");
    buf_release(&b);
}

/* Regression: an invalid host name with ESC and BEL was refused, but the
 * message printed those bytes raw to the terminal. Every value an error
 * quotes is escaped (text.h). */
static void test_regress_control_bytes_in_errors(void **state)
{
    struct inventory inv;
    char err[ERR_MAX];

    (void)state;
    parse_fails("production",
                "hosts:\n  \"web\\e]0;pwned\\a\": { app_dir: /a }\n",
                "hosts/production.yml:2:3: 'web\\e]0;pwned\\x07' is not a "
                "valid host name (letters, digits, '.', '_' and '-')");
    parse_fails("production", "defaults:\n  \"app\\\\dir\": /a\nhosts: [h1]\n",
                "hosts/production.yml:2:3: unknown key 'app\\\\dir' in "
                "'defaults'; did you mean 'app_dir'?");
    parse_fails("production",
                "hosts:\n  h1: { app_dir: /a, roles: [\"\\u202eweb\"] }\n",
                "hosts/production.yml:2:29: '\\u{202e}web' is not a valid "
                "role name");
    assert_int_equal(inventory_load(&inv, "/nonexistent", "st\033[2Jx", err),
                     -1);
    assert_string_equal(err, "'st\\e[2Jx' is not a valid stage name");
}

/* A host key may be a node set: one host per name, same settings. */
static void test_node_set_hosts(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "production",
             "defaults: { app_dir: /srv/app }\n"
             "hosts:\n"
             "  web[01-03]: { roles: [web], port: 2222 }\n"
             "  db1: { primary: true }\n"
             "  r[1-2]n[1-2]: {}\n");
    assert_int_equal(inv.nhosts, 8);
    assert_string_equal(inv.hosts[0].name, "web01");
    assert_string_equal(inv.hosts[2].name, "web03");
    assert_int_equal(inv.hosts[2].set.port, 2222);
    assert_true(host_has_role(&inv.hosts[2], "web"));
    assert_int_equal(inv.hosts[2].line, 3);
    assert_string_equal(inv.hosts[3].name, "db1");
    assert_string_equal(inv.hosts[7].name, "r2n2");
    inventory_release(&inv);
    parse_ok(&inv, "production",
             "defaults: { app_dir: /srv/app }\n"
             "hosts:\n"
             "  - web[1-2],db1\n");
    assert_int_equal(inv.nhosts, 3);
    assert_string_equal(inv.hosts[0].name, "db1");
    inventory_release(&inv);
    /* Ansible's range syntax too. */
    parse_ok(&inv, "production",
             "defaults: { app_dir: /srv/app }\n"
             "hosts:\n"
             "  web[08:10]: { roles: [web] }\n");
    assert_int_equal(inv.nhosts, 3);
    assert_string_equal(inv.hosts[0].name, "web08");
    assert_string_equal(inv.hosts[2].name, "web10");
    inventory_release(&inv);
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  web[1-3]: {}\n"
                "  web2: {}\n",
                PROD ":4:3: duplicate host 'web2' (first at line 3)");
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  web[3-1]: {}\n",
                PROD ":3:3: node set 'web[3-1]', column 5: range '3-1' goes "
                     "down (write 1-3)");
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  web[1-2]: { roles: [db], primary: true }\n",
                PROD ":3:28: role 'db' has two primary hosts: 'web2' and "
                     "'web1' (line 3)");
    parse_fails("production",
                "defaults: { app_dir: /a }\n"
                "hosts:\n"
                "  web[1-2]x%: {}\n",
                PROD ":3:3: 'web1x%' is not a valid host name (letters, "
                     "digits, '.', '_' and '-')");
}

static void test_name_valid(void **state)
{
    char long_name[300];

    (void)state;
    assert_true(name_valid("web1"));
    assert_true(name_valid("db-1.example_com"));
    assert_true(name_valid("A"));
    assert_false(name_valid(""));
    assert_false(name_valid("-web"));
    assert_false(name_valid(".web"));
    assert_false(name_valid(".."));
    assert_false(name_valid("a/b"));
    assert_false(name_valid("a b"));
    assert_false(name_valid("a'b"));
    assert_false(name_valid("a$b"));
    assert_false(name_valid("a\nb"));
    assert_false(name_valid("w\xc3\xa9"));
    memset(long_name, 'a', 255);
    long_name[255] = '\0';
    assert_true(name_valid(long_name));
    long_name[255] = 'a';
    long_name[256] = '\0';
    assert_false(name_valid(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_jump),
        cmocka_unit_test(test_repo_example_files_parse),
        cmocka_unit_test(test_host_overrides),
        cmocka_unit_test(test_hosts_as_list_and_empty_host),
        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_paths_confined),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_stage_mismatch),
        cmocka_unit_test(test_primaries),
        cmocka_unit_test_setup_teardown(test_load, make_dir, remove_dir),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_node_set_hosts),
        cmocka_unit_test(test_regress_env_times_hosts),
        cmocka_unit_test(test_regress_control_bytes_in_errors),
    };

    return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
