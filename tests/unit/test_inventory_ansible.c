/*
 * test_inventory_ansible.c - unit tests for inventory_ansible.c and
 * nodeset_range.c: Ansible YAML inventories written the way Ansible's
 * "How to build your inventory" writes them (groups, nested children,
 * group and host variables, ranges), the precedence of variables, the
 * mapping of ansible_* variables, and every located error.
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

#include "oneoff/inventory.h"
#include "oneoff/nodeset.h"
#include "oneoff/util.h"

#define PROD "hosts/production.yml"

static void parse_ok(struct inventory *inv, const char *text)
{
    char err[ERR_MAX] = "";

    if (inventory_parse(inv, PROD, "production", text, strlen(text), err))
        fail_msg("unexpected error: %s", err);
}

#define parse_fails(text, want) parse_fails_at(__LINE__, text, want)

static void parse_fails_at(int line, const char *text, const char *want)
{
    struct inventory inv;
    char err[ERR_MAX] = "";

    if (inventory_parse(&inv, PROD, "production", text, strlen(text), err) !=
        -1)
        fail_msg("line %d: parse succeeded, want \"%s\"", line, want);
    if (strcmp(err, want) != 0)
        fail_msg("line %d:\n got  \"%s\"\n want \"%s\"", line, err, want);
    assert_int_equal(inv.nhosts, 0);
}

/* The host names of inv joined by ',' (caller frees). */
static char *names(const struct inventory *inv)
{
    struct strlist l = {0};
    char *s;

    for (size_t i = 0; i < inv->nhosts; i++)
        strlist_push(&l, inv->hosts[i].name);
    s = strlist_join(&l, ",");
    strlist_clear(&l);
    return s;
}

static char *roles(const struct host *h)
{
    return strlist_join(&h->roles, ",");
}

#define assert_str_free(got, want)                                             \
    do {                                                                       \
        char *g_ = (got);                                                      \
        if (strcmp(g_, (want)) != 0)                                           \
            fail_msg(" got  \"%s\"\n want \"%s\"", g_, (want));                \
        free(g_);                                                              \
    } while (0)

/* "Inventory basics": the YAML example, with app_dir in all's vars. */
static void test_basic_example(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "all:\n"
                   "  vars:\n"
                   "    app_dir: /srv/app\n"
                   "  hosts:\n"
                   "    mail.example.com:\n"
                   "  children:\n"
                   "    webservers:\n"
                   "      hosts:\n"
                   "        foo.example.com:\n"
                   "        bar.example.com:\n"
                   "    dbservers:\n"
                   "      hosts:\n"
                   "        one.example.com:\n"
                   "        two.example.com:\n"
                   "        three.example.com:\n");
    assert_string_equal(inv.stage, "production");
    assert_false(inv.confirm);
    assert_str_free(names(&inv), "mail.example.com,foo.example.com,"
                                 "bar.example.com,one.example.com,"
                                 "two.example.com,three.example.com");
    assert_int_equal(inv.hosts[0].roles.n, 0);
    assert_str_free(roles(&inv.hosts[1]), "webservers");
    assert_str_free(roles(&inv.hosts[5]), "dbservers");
    assert_string_equal(inv.hosts[5].set.app_dir, "/srv/app");
    assert_int_equal(inv.hosts[5].line, 15);
    assert_int_equal(inv.hosts[5].col, 9);
    assert_null(inv.hosts[0].address);
    inventory_release(&inv);
}

/* "Grouping groups": top-level groups (no `all`), a host in several
 * groups is one host, parents hold their children's hosts. */
static void test_parent_child_example(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "ungrouped:\n"
                   "  hosts:\n"
                   "    mail.example.com:\n"
                   "  vars:\n"
                   "    app_dir: /srv/mail\n"
                   "webservers:\n"
                   "  hosts:\n"
                   "    foo.example.com:\n"
                   "    bar.example.com:\n"
                   "  vars:\n"
                   "    app_dir: /srv/app\n"
                   "dbservers:\n"
                   "  hosts:\n"
                   "    one.example.com:\n"
                   "    two.example.com:\n"
                   "    three.example.com:\n"
                   "  vars:\n"
                   "    app_dir: /srv/app\n"
                   "east:\n"
                   "  hosts:\n"
                   "    foo.example.com:\n"
                   "    one.example.com:\n"
                   "    two.example.com:\n"
                   "west:\n"
                   "  hosts:\n"
                   "    bar.example.com:\n"
                   "    three.example.com:\n"
                   "prod:\n"
                   "  children:\n"
                   "    east:\n"
                   "test:\n"
                   "  children:\n"
                   "    west:\n");
    assert_int_equal(inv.nhosts, 6);
    assert_str_free(roles(&inv.hosts[0]), "");
    assert_string_equal(inv.hosts[3].name, "one.example.com");
    assert_str_free(roles(&inv.hosts[3]), "dbservers,east,prod");
    assert_str_free(roles(&inv.hosts[2]), "webservers,west,test");
    inventory_release(&inv);
}

/* "Inheriting variable values": usa > southeast > atlanta/raleigh, and the
 * precedence all < parent < child < host, same depth by name. */
static void test_precedence(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "all:\n"
                   "  vars:\n"
                   "    app_dir: /srv/all\n"
                   "    release: from-all\n"
                   "    env: { A: all, B: all }\n"
                   "    ansible_user: alluser\n"
                   "  children:\n"
                   "    usa:\n"
                   "      children:\n"
                   "        southeast:\n"
                   "          children:\n"
                   "            atlanta:\n"
                   "              hosts:\n"
                   "                host1:\n"
                   "                host2:\n"
                   "              vars:\n"
                   "                release: from-atlanta\n"
                   "            raleigh:\n"
                   "              hosts:\n"
                   "                host2:\n"
                   "                  ansible_port: 2201\n"
                   "                host3:\n"
                   "              vars:\n"
                   "                release: from-raleigh\n"
                   "                ansible_port: 2200\n"
                   "          vars:\n"
                   "            app_dir: /srv/southeast\n"
                   "            env: { A: southeast }\n"
                   "            ansible_ssh_common_args: -o ProxyJump=bastion\n"
                   "            ansible_python_interpreter: /usr/bin/python3\n"
                   "        northeast:\n"
                   "        northwest:\n"
                   "        southwest:\n"
                   "      vars:\n"
                   "        app_dir: /srv/usa\n"
                   "        ansible_user: usauser\n"
                   "    other:\n"
                   "      hosts:\n"
                   "        host4:\n"
                   "          release: own\n");
    assert_int_equal(inv.nhosts, 4);
    /* host1: atlanta over southeast over usa over all. */
    assert_string_equal(inv.hosts[0].set.release, "from-atlanta");
    assert_string_equal(inv.hosts[0].set.app_dir, "/srv/southeast");
    assert_string_equal(inv.hosts[0].set.user, "usauser");
    /* A mapping replaces another whole, as Ansible does. */
    assert_int_equal(inv.hosts[0].set.env.n, 1);
    assert_string_equal(kvlist_get(&inv.hosts[0].set.env, "A"), "southeast");
    assert_str_free(roles(&inv.hosts[0]), "usa,southeast,atlanta");
    /* host2: in atlanta and raleigh (same depth: raleigh, later by name,
     * wins); its own port over raleigh's. */
    assert_string_equal(inv.hosts[1].set.release, "from-raleigh");
    assert_int_equal(inv.hosts[1].set.port, 2201);
    assert_str_free(roles(&inv.hosts[1]), "usa,southeast,atlanta,raleigh");
    assert_int_equal(inv.hosts[2].set.port, 2200);
    assert_string_equal(inv.hosts[3].set.release, "own");
    assert_string_equal(inv.hosts[3].set.app_dir, "/srv/all");
    assert_int_equal(inv.hosts[3].set.env.n, 2);
    inventory_release(&inv);
}

/* ansible_group_priority orders groups of one depth. */
static void test_group_priority(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "a_group:\n"
                   "  hosts: { h1: }\n"
                   "  vars:\n"
                   "    release: a\n"
                   "    ansible_group_priority: 10\n"
                   "b_group:\n"
                   "  hosts: { h1: }\n"
                   "  vars: { release: b, app_dir: /srv/app }\n");
    assert_string_equal(inv.hosts[0].set.release, "a");
    inventory_release(&inv);
}

/* The connection variables, become, transport and the stage's keys. */
static void test_connection_vars(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "all:\n"
                   "  vars:\n"
                   "    stage: production\n"
                   "    confirm: true\n"
                   "    promote_from: staging\n"
                   "    app_dir: /srv/app\n"
                   "    env_file: shared/.env\n"
                   "  hosts:\n"
                   "    jumper:\n"
                   "      ansible_port: 5555\n"
                   "      ansible_host: 192.0.2.50\n"
                   "      ansible_user: deploy\n"
                   "      ansible_ssh_private_key_file: ~/.ssh/deploy_ed25519\n"
                   "      ansible_become: yes\n"
                   "      ansible_become_user: app\n"
                   "      primary: true\n"
                   "    localhost:\n"
                   "      ansible_connection: local\n"
                   "      ansible_become: True\n"
                   "    old:\n"
                   "      ansible_ssh_host: 192.0.2.51\n"
                   "      ansible_ssh_port: 22\n"
                   "      ansible_ssh_user: legacy\n"
                   "      ansible_become_user: nobody\n"
                   "      transport: ssh\n"
                   "    badwolf.example.com:5309:\n");
    assert_true(inv.confirm);
    assert_string_equal(inv.promote_from, "staging");
    assert_string_equal(inv.hosts[0].address, "192.0.2.50");
    assert_int_equal(inv.hosts[0].set.port, 5555);
    assert_string_equal(inv.hosts[0].set.user, "deploy");
    assert_string_equal(inv.hosts[0].set.identity, "~/.ssh/deploy_ed25519");
    assert_string_equal(inv.hosts[0].set.become, "app");
    assert_true(inv.hosts[0].primary);
    assert_string_equal(inv.hosts[0].set.env_file.v[0], "shared/.env");
    assert_int_equal(inv.hosts[1].set.transport, TRANSPORT_LOCAL);
    assert_string_equal(inv.hosts[1].set.become, "root");
    assert_string_equal(inv.hosts[2].address, "192.0.2.51");
    assert_string_equal(inv.hosts[2].set.user, "legacy");
    /* ansible_become_user without ansible_become: no become. */
    assert_null(inv.hosts[2].set.become);
    assert_int_equal(inv.hosts[2].set.transport, TRANSPORT_SSH);
    assert_string_equal(inv.hosts[3].name, "badwolf.example.com");
    assert_int_equal(inv.hosts[3].set.port, 5309);
    inventory_release(&inv);
}

/* "Adding ranges of hosts", node sets, and a name given as a string. */
static void test_ranges(void **state)
{
    struct inventory inv;

    (void)state;
    parse_ok(&inv, "all:\n"
                   "  vars: { app_dir: /srv/app }\n"
                   "  children:\n"
                   "    webservers:\n"
                   "      hosts:\n"
                   "        www[01:50].example.com:\n"
                   "    odd:\n"
                   "      hosts:\n"
                   "        www[01:50:2].example.com:\n"
                   "    databases:\n"
                   "      hosts:\n"
                   "        db-[a:f].example.com:\n"
                   "    cluster:\n"
                   "      hosts:\n"
                   "        node[1-3]:\n"
                   "        r[1:2]n[8:9]:\n"
                   "    single:\n"
                   "      hosts: lonely\n");
    assert_int_equal(inv.nhosts, 50 + 6 + 3 + 4 + 1);
    assert_string_equal(inv.hosts[0].name, "www01.example.com");
    assert_string_equal(inv.hosts[49].name, "www50.example.com");
    /* www[01:50:2] are hosts already listed: more groups, not more hosts. */
    assert_str_free(roles(&inv.hosts[2]), "webservers,odd");
    assert_str_free(roles(&inv.hosts[1]), "webservers");
    assert_string_equal(inv.hosts[50].name, "db-a.example.com");
    assert_string_equal(inv.hosts[55].name, "db-f.example.com");
    assert_string_equal(inv.hosts[56].name, "node1");
    assert_string_equal(inv.hosts[59].name, "r1n8");
    assert_string_equal(inv.hosts[62].name, "r2n9");
    assert_string_equal(inv.hosts[63].name, "lonely");
    inventory_release(&inv);
}

static void test_expand_ansible(void **state)
{
    struct strlist l = {0};
    char err[ERR_MAX] = "";
    char *s;

    (void)state;
    assert_int_equal(nodeset_expand_ansible("h[:2]", &l, err), 0);
    assert_int_equal(nodeset_expand_ansible("x[8:10]", &l, err), 0);
    assert_int_equal(nodeset_expand_ansible("y[y:B]", &l, err), 0);
    s = strlist_join(&l, ",");
    assert_string_equal(s, "h0,h1,h2,x8,x9,x10,yy,yz,yA,yB");
    free(s);
    strlist_clear(&l);
    assert_int_equal(nodeset_expand_ansible("h[01:5]", &l, err), -1);
    assert_string_equal(err, "host range in 'h[01:5]': '01' and '5' must "
                             "have as many digits");
    assert_int_equal(nodeset_expand_ansible("h[5:1]", &l, err), -1);
    assert_string_equal(err, "host range in 'h[5:1]': '5:1' goes down");
    assert_int_equal(nodeset_expand_ansible("h[1:5:0]", &l, err), -1);
    assert_string_equal(err, "host range in 'h[1:5:0]': step '0' is not a "
                             "positive number");
    assert_int_equal(nodeset_expand_ansible("h[1:]", &l, err), -1);
    assert_string_equal(err, "host range in 'h[1:]' must be [BEGIN:END] or "
                             "[BEGIN:END:STEP]");
    assert_int_equal(nodeset_expand_ansible("h[1:b]", &l, err), -1);
    assert_string_equal(err, "host range in 'h[1:b]': '1:b' is neither "
                             "numbers nor letters");
    assert_int_equal(nodeset_expand_ansible("h[0:999999]", &l, err), -1);
    assert_int_equal(l.n, 0);
    strlist_clear(&l);
}

static void test_errors(void **state)
{
    (void)state;
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  hosts:\n"
                "    web1:\n"
                "      app_dri: /b\n",
                PROD ":5:7: unknown variable 'app_dri' in host 'web1'; did "
                     "you mean 'app_dir'?");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  hosts:\n"
                "    jumper: { ansible_hosts: 192.0.2.50 }\n",
                PROD
                ":4:15: unknown variable 'ansible_hosts' in host 'jumper'; "
                "did you mean 'ansible_host'?");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  hosts:\n"
                "    web1: { ansible_host: '{{ inventory_hostname }}.lan' }\n",
                PROD ":4:27: 'ansible_host' is a Jinja template, which oneoff "
                     "does not expand");
    parse_fails("all:\n"
                "  children:\n"
                "    atlanta:\n"
                "      hosts: { host1: }\n"
                "      vars:\n"
                "        ntp_server: ntp.atlanta.example.com\n",
                PROD ":6:9: unknown variable 'ntp_server' in group 'atlanta' "
                     "(oneoff reads its own keys and ansible_* ones: keep "
                     "other variables in group_vars/ or host_vars/)");
    parse_fails("all:\n"
                "  vars: { app_dir: /a, user: deploy }\n"
                "  hosts: { web1: }\n",
                PROD ":2:24: 'user' in group 'all': an Ansible inventory says "
                     "ansible_user");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  children:\n"
                "    web:\n"
                "      hosts: { web1: }\n"
                "      vars: { stage: production }\n",
                PROD ":6:15: 'stage' belongs in the vars of group 'all', not "
                     "of group 'web'");
    parse_fails("all:\n"
                "  vars: { app_dir: /a, stage: staging }\n"
                "  hosts: { web1: }\n",
                PROD ":2:31: stage 'staging' does not match the file name "
                     "(expected 'production')");
    parse_fails("all:\n"
                "  children:\n"
                "    web:\n"
                "      host:\n"
                "        web1:\n",
                PROD ":4:7: unknown key 'host' in group 'web'; did you mean "
                     "'hosts'?");
    parse_fails("all:\n"
                "  hosts:\n"
                "    - web1\n",
                PROD ":3:5: 'hosts' of group 'all' must be a mapping (as in "
                     "Ansible's YAML inventories), not a list");
    parse_fails("all:\n"
                "  hosts: { web1: }\n",
                PROD ":2:12: host 'web1' has no app_dir (set it in the vars "
                     "of the host, of a group or of 'all')");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  hosts:\n"
                "    web1: { ansible_port: 70000 }\n",
                PROD ":4:27: 'ansible_port' must be between 1 and 65535, not "
                     "70000");
    parse_fails("all:\n"
                "  vars: { app_dir: /a, ansible_connection: docker }\n"
                "  hosts: { web1: }\n",
                PROD ":2:44: 'ansible_connection' must be ssh, smart, "
                     "paramiko or local for oneoff, not 'docker'");
    parse_fails("all:\n"
                "  vars:\n"
                "    app_dir: /a\n"
                "    ansible_become: true\n"
                "    ansible_become_method: su\n"
                "  hosts: { web1: }\n",
                PROD ":5:28: 'ansible_become_method' must be sudo: oneoff "
                     "becomes another user with sudo");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  children:\n"
                "    a:\n"
                "      children:\n"
                "        b:\n"
                "          children:\n"
                "            a:\n",
                PROD ":8:13: group 'a' is a child of 'b' and so its own "
                     "ancestor");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  children:\n"
                "    db:\n"
                "      hosts:\n"
                "        db1: { primary: true }\n"
                "        db2: { primary: true }\n",
                PROD ":7:16: role 'db' has two primary hosts: 'db2' and 'db1' "
                     "(line 6)");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  hosts:\n"
                "    www[01:5].example.com:\n",
                PROD ":4:5: host range in 'www[01:5].example.com': '01' and "
                     "'5' must have as many digits");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  hosts:\n"
                "    'web 1':\n",
                PROD ":4:5: 'web 1' is not a valid host name (letters, "
                     "digits, '.', '_' and '-')");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n",
                PROD ":1:1: the inventory lists no host");
    parse_fails("plugin: aws_ec2\n"
                "all:\n",
                PROD ":1:1: this is the configuration of an Ansible inventory "
                     "plugin, not an inventory");
    parse_fails("mail.example.com\n"
                "\n"
                "[webservers]\n"
                "foo.example.com\n",
                PROD ":3:1: '[webservers]' is a section of an Ansible INI "
                     "inventory; oneoff reads Ansible's YAML inventories "
                     "(ansible-inventory -i FILE --list --yaml converts one)");
    parse_fails("stage: production\n"
                "all:\n"
                "  hosts: { web1: { app_dir: /a } }\n",
                PROD ":1:1: 'stage' is not a group; in an Ansible inventory, "
                     "stage, confirm and promote_from are vars of group 'all'");
    parse_fails("all:\n"
                "  vars: { app_dir: /a }\n"
                "  children:\n"
                "    web:\n"
                "      children:\n"
                "        all:\n",
                PROD ":6:9: group 'all' holds every group; it cannot be a "
                     "child");
}

static void put(const char *dir, const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* hosts/STAGE.ini, hosts/STAGE (INI) and hosts/STAGE.yaml are named, not
 * missed; hosts/STAGE.yml in Ansible's format loads. */
static void test_load_formats(void **state)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = xasprintf("%s/oneoff-test-ansible-XXXXXX", tmp ? tmp : "/tmp");
    char *sub, *cmd, err[ERR_MAX] = "";
    struct inventory inv;

    (void)state;
    assert_non_null(mkdtemp(dir));
    sub = xasprintf("%s/hosts", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put(dir, "hosts/prod.ini", "[web]\nweb1\n");
    put(dir, "hosts/test", "[web]\nweb1\n");
    put(dir, "hosts/dev.yaml", "all:\n");
    put(dir, "hosts/staging.yml",
        "all:\n  vars: { app_dir: /a }\n  hosts: { web1: }\n");
    assert_int_equal(inventory_load(&inv, dir, "prod", err), -1);
    assert_string_equal(err, "hosts/prod.ini is an Ansible INI inventory: "
                             "oneoff reads YAML inventories, hosts/prod.yml "
                             "(ansible-inventory -i FILE --list --yaml "
                             "converts one)");
    assert_int_equal(inventory_load(&inv, dir, "test", err), -1);
    assert_string_equal(err, "hosts/test is an Ansible INI inventory: oneoff "
                             "reads YAML inventories, hosts/test.yml "
                             "(ansible-inventory -i FILE --list --yaml "
                             "converts one)");
    assert_int_equal(inventory_load(&inv, dir, "dev", err), -1);
    assert_string_equal(err, "hosts/dev.yaml: oneoff reads hosts/dev.yml "
                             "(rename it)");
    assert_int_equal(inventory_load(&inv, dir, "staging", err), 0);
    assert_string_equal(inv.stage, "staging");
    assert_int_equal(inv.nhosts, 1);
    inventory_release(&inv);
    cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(sub);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_example),
        cmocka_unit_test(test_parent_child_example),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_group_priority),
        cmocka_unit_test(test_connection_vars),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_expand_ansible),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load_formats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
