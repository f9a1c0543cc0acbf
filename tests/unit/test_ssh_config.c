/*
 * test_ssh_config.c - unit tests for the ssh_config module: every file of
 * the corpus in tests/ssh_config/ is resolved for the aliases its
 * "# test:" lines name and compared, field by field, with what the real
 * `ssh -G -F FILE [-l USER] [-p PORT] [-J JUMP] ALIAS` prints (run with
 * HOME pointing to a temporary directory whose .ssh is the corpus' include
 * directory, so the operator's ~/.ssh is never read; ssh -G connects to
 * nothing). Files whose "# error:" line names a line and a message must be
 * refused by both, with that located message from us. Then the ProxyJump
 * chains, the default file order, threads and the cost per host.
 * The ssh -G side (running it, comparing) is in ssh_g.h.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/ssh_config.h"
#include "oneoff/util.h"

#define CORPUS "tests/ssh_config"

static char home[PATH_MAX];   /* the temporary HOME */
static char corpus[PATH_MAX]; /* absolute path of the corpus */
static unsigned compared;

#include "ssh_g.h"

static int load(struct sshcfg **cfg, const char *file, char *err)
{
    struct sshcfg_opts o = {0};

    o.config_file = file;
    return sshcfg_load(cfg, &o, err);
}

/* "ALIAS [-l USER] [-p PORT] [-J JUMP] [-H HOSTNAME]" into t (pointing
 * into s); -H is ssh's -o HostName=HOSTNAME (an inventory's address). */
static void parse_target(char *s, struct sshcfg_target *t)
{
    char *w[8];
    size_t n = 0;

    memset(t, 0, sizeof(*t));
    for (char *p = strtok_r(s, " \t\r", &s); p && n < 8;
         p = strtok_r(NULL, " \t\r", &s))
        w[n++] = p;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(w[i], "-l") == 0 && i + 1 < n)
            t->user = w[++i];
        else if (strcmp(w[i], "-p") == 0 && i + 1 < n)
            t->port = (unsigned)strtoul(w[++i], NULL, 10);
        else if (strcmp(w[i], "-J") == 0 && i + 1 < n)
            t->jump = w[++i];
        else if (strcmp(w[i], "-H") == 0 && i + 1 < n)
            t->hostname = w[++i];
        else
            t->alias = w[i];
    }
}

/* Runs the "# test:" and "# error:" lines of one corpus file. */
static void run_file(const char *path, const char *base)
{
    char *data = NULL, err[ERR_MAX] = "";
    size_t len;
    struct sshcfg *cfg = NULL;
    unsigned tests = 0;
    int lr;

    assert_int_equal(file_read(path, 1 << 20, &data, &len), 0);
    lr = load(&cfg, path, err);
    for (char *line = data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        struct sshcfg_target t;
        struct sshcfg_host h;
        struct dump d;
        char ctx[512];

        if ((nl = strchr(line, '\n')) != NULL)
            *nl = '\0';
        if (strncmp(line, "# test: ", 8) == 0) {
            char *spec = xstrdup(line + 8);

            snprintf(ctx, sizeof(ctx), "%s [%s]", base, spec);
            parse_target(spec, &t);
            if (lr != 0)
                fail_msg("%s: load failed: %s", ctx, err);
            ssh_g(path, &t, &d);
            if (d.status != 0)
                fail_msg("%s: ssh -G failed (%d)", ctx, d.status);
            if (sshcfg_resolve(cfg, &t, &h, err) != 0)
                fail_msg("%s: resolve failed: %s", ctx, err);
            compare(ctx, &d, &h);
            sshcfg_host_release(&h);
            dump_release(&d);
            free(spec);
            tests++;
            compared++;
        } else if (strncmp(line, "# error: ", 9) == 0 ||
                   strncmp(line, "# refused: ", 11) == 0) {
            /* "# error: ALIAS WHERE MESSAGE": refused by ssh -G and by
             * us; "# refused:" only by us (ssh would run a command or
             * query the DNS, or only warns; ssh is not run). WHERE is a
             * line of this file, ~/.ssh/FILE:LINE, or "-" for none. */
            bool refused = line[2] == 'r';
            char *spec = xstrdup(line + (refused ? 11 : 9)), *sp1, *sp2;
            char want[2048];
            int r;

            sp1 = strchr(spec, ' ');
            assert_non_null(sp1);
            *sp1++ = '\0';
            sp2 = strchr(sp1, ' ');
            assert_non_null(sp2);
            *sp2++ = '\0';
            memset(&t, 0, sizeof(t));
            t.alias = spec;
            snprintf(ctx, sizeof(ctx), "%s [error %s]", base, spec);
            if (!refused) {
                ssh_g(path, &t, &d);
                if (d.status == 0)
                    fail_msg("%s: ssh -G accepted it", ctx);
                dump_release(&d);
            }
            r = lr;
            if (r == 0) {
                r = sshcfg_resolve(cfg, &t, &h, err);
                sshcfg_host_release(&h);
            }
            if (r == 0)
                fail_msg("%s: sshcfg accepted it", ctx);
            if (strcmp(sp1, "-") == 0)
                snprintf(want, sizeof(want), "%s", sp2);
            else if (strncmp(sp1, "~/.ssh/", 7) == 0)
                snprintf(want, sizeof(want), "%.1024s/.ssh/%.512s: %.400s",
                         home, sp1 + 7, sp2);
            else
                snprintf(want, sizeof(want), "%s:%s: %s", path, sp1, sp2);
            if (strncmp(err, want, strlen(want)) != 0)
                fail_msg("%s: message '%s', wanted '%s...'", ctx, err, want);
            free(spec);
            tests++;
            compared++;
        }
    }
    if (tests == 0)
        fail_msg("%s: no '# test:' or '# error:' line", base);
    sshcfg_free(cfg);
    free(data);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus_matches_ssh_g(void **state)
{
    DIR *dp = opendir(corpus);
    struct dirent *de;
    struct strlist names = {0};

    (void)state;
    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL) {
        size_t n = strlen(de->d_name);

        if (n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0)
            strlist_push(&names, de->d_name);
    }
    closedir(dp);
    qsort(names.v, names.n, sizeof(*names.v), cmp_names);
    if (names.n < 30)
        fail_msg("corpus has %zu files, wants at least 30", names.n);
    for (size_t i = 0; i < names.n; i++) {
        char *path = xasprintf("%s/%s", corpus, names.v[i]);

        run_file(path, names.v[i]);
        free(path);
    }
    print_message("ssh_config corpus: %zu files, %u resolutions, %u fields "
                  "equal to ssh -G\n",
                  names.n, compared, fields);
    strlist_clear(&names);
}

/* --- ProxyJump chains ---------------------------------------------------- */

static char *write_tmp(const char *name, const char *text, mode_t mode)
{
    char *path = xasprintf("%s/%s", home, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static const char chain_conf[] =
    "Host target\n"
    "    HostName 10.0.0.5\n"
    "    ProxyJump jumper@bastion2:2202,bastion1\n" /* line 3 */
    "Host bastion1\n"
    "    HostName 192.0.2.1\n"
    "    User b1\n"
    "    ProxyJump ignored-because-of-J\n"
    "Host bastion2\n"
    "    ProxyJump gw\n"
    "Host gw\n"
    "    HostName 192.0.2.254\n"
    "    Port 2022\n";

/* Each element of the chain equals ssh -G of the command line ssh would
 * run for it: ssh [-l U] [-p P] [-J REST] HOP. */
static void test_chain_matches_ssh_g(void **state)
{
    char *path = write_tmp("chain.conf", chain_conf, 0644), err[ERR_MAX];
    struct sshcfg *cfg = NULL;
    struct sshcfg_chain c;
    struct sshcfg_target t = {.alias = "target"};
    static const char *const want[] = {"gw", "bastion2", "bastion1", "target"};

    (void)state;
    assert_int_equal(load(&cfg, path, err), 0);
    if (sshcfg_resolve_chain(cfg, &t, &c, err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.n, 4);
    for (size_t i = 0; i < c.n; i++)
        assert_string_equal(c.v[i].alias, want[i]);
    for (size_t i = c.n; i-- > 0;) {
        struct sshcfg_target ti = t;
        struct dump d;
        char *jump = NULL;

        if (i + 1 < c.n) {
            const struct sshcfg_host *next = &c.v[i + 1];
            const struct sshcfg_hop *hop = &next->hops[next->nhops - 1];

            ti.alias = hop->host;
            ti.user = hop->user;
            ti.port = hop->port;
            if (next->nhops > 1)
                jump = xstrndup(next->proxy_jump,
                                (size_t)(strrchr(next->proxy_jump, ',') -
                                         next->proxy_jump));
            ti.jump = jump;
        }
        ssh_g(path, &ti, &d);
        assert_int_equal(d.status, 0);
        compare(c.v[i].alias, &d, &c.v[i]);
        dump_release(&d);
        free(jump);
    }
    /* the hops of target, in connection order */
    assert_int_equal(c.v[3].nhops, 2);
    assert_string_equal(c.v[3].hops[0].host, "bastion2");
    assert_string_equal(c.v[3].hops[0].user, "jumper");
    assert_int_equal(c.v[3].hops[0].port, 2202);
    assert_string_equal(c.v[3].hops[1].host, "bastion1");
    assert_null(c.v[3].hops[1].user);
    assert_int_equal(c.v[3].hops[1].port, 0);
    assert_string_equal(c.v[2].user, "b1");
    assert_string_equal(c.v[1].user, "jumper");
    assert_int_equal(c.v[1].port, 2202);
    assert_int_equal(c.v[0].port, 2022);
    sshcfg_chain_release(&c);
    sshcfg_free(cfg);
    unlink(path);
    free(path);
}

static void test_chain_loop_is_located(void **state)
{
    char *path = write_tmp("loop.conf",
                           "Host a\n"
                           "    ProxyJump b\n"
                           "Host b\n"
                           "    HostName 192.0.2.7\n"
                           "    ProxyJump a\n",
                           0644),
         err[ERR_MAX], *want;
    struct sshcfg *cfg = NULL;
    struct sshcfg_chain c;
    struct sshcfg_target t = {.alias = "a"};
    struct sshcfg_host h;

    (void)state;
    assert_int_equal(load(&cfg, path, err), 0);
    /* each host alone is fine, as for ssh -G */
    assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
    want = xasprintf("%s:2", path);
    assert_string_equal(h.proxy_jump_where, want);
    free(want);
    sshcfg_host_release(&h);
    assert_int_equal(sshcfg_resolve_chain(cfg, &t, &c, err), -1);
    want = xasprintf("%s:5: ProxyJump loop: a -> b -> a", path);
    assert_string_equal(err, want);
    assert_null(c.v);
    free(want);
    sshcfg_free(cfg);
    unlink(path);
    free(path);
}

/* --- files, order, expansion ------------------------------------------- */

static void test_user_file_before_system_file(void **state)
{
    char *user = write_tmp("user.conf",
                           "Host x\n"
                           "    Port 1111\n",
                           0600),
         *sys = write_tmp("system.conf",
                          "Include oneoff-test-no-such-file.conf\n"
                          "Host *\n"
                          "    Port 2222\n"
                          "    User sys\n",
                          0644),
         err[ERR_MAX];
    struct sshcfg_opts o = {.user_config = user, .system_config = sys};
    struct sshcfg *cfg = NULL;
    struct sshcfg_host h;
    struct sshcfg_target t = {.alias = "x"};

    (void)state;
    assert_int_equal(sshcfg_load(&cfg, &o, err), 0);
    assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
    assert_int_equal(h.port, 1111);
    assert_string_equal(h.user, "sys");
    sshcfg_host_release(&h);
    t.alias = "y";
    t.user = "forced";
    assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
    assert_int_equal(h.port, 2222);
    assert_string_equal(h.user, "forced");
    sshcfg_host_release(&h);
    sshcfg_free(cfg);

    /* the user's file is refused when others may write it, as ssh does */
    chmod(user, 0666);
    assert_int_equal(sshcfg_load(&cfg, &o, err), -1);
    assert_non_null(strstr(err, "bad owner or permissions"));
    chmod(user, 0600);

    /* a system file may not Include from a home */
    unlink(sys);
    free(sys);
    sys = write_tmp("system.conf", "Host *\n\nInclude ~/x.conf\n", 0644);
    o.system_config = sys;
    assert_int_equal(sshcfg_load(&cfg, &o, err), -1);
    char *want = xasprintf("%s:3: bad include path '~/x.conf'", sys);
    assert_string_equal(err, want);
    free(want);

    /* -F none: no file at all */
    o.config_file = "none";
    assert_int_equal(sshcfg_load(&cfg, &o, err), 0);
    t.alias = "Web.Example";
    t.user = NULL;
    assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
    assert_string_equal(h.hostname, "web.example");
    assert_int_equal(h.port, 22);
    sshcfg_host_release(&h);
    sshcfg_free(cfg);

    /* -F of a missing file */
    o.config_file = "/nonexistent/oneoff/ssh_config";
    assert_int_equal(sshcfg_load(&cfg, &o, err), -1);
    assert_non_null(strstr(err, "can't open user config file"));
    unlink(user);
    unlink(sys);
    free(user);
    free(sys);
}

/* An included file others may write is refused, as ssh refuses it. */
static void test_include_permissions(void **state)
{
    char *inc = write_tmp(".ssh/perm-open.conf", "User x\n", 0666),
         *top = write_tmp("perm-top.conf", "Host *\n  Include perm-open.conf\n",
                          0644),
         err[ERR_MAX], *want;
    struct sshcfg *cfg = NULL;
    struct sshcfg_target t = {.alias = "web1"};
    struct dump d;

    (void)state;
    ssh_g(top, &t, &d);
    assert_int_not_equal(d.status, 0);
    dump_release(&d);
    assert_int_equal(load(&cfg, top, err), -1);
    want = xasprintf("%s:2: bad owner or permissions on %s", top, inc);
    assert_string_equal(err, want);
    free(want);
    chmod(inc, 0644);
    assert_int_equal(load(&cfg, top, err), 0);
    sshcfg_free(cfg);
    unlink(inc);
    unlink(top);
    free(inc);
    free(top);
}

static void test_proxy_command_expanded(void **state)
{
    char *path = write_tmp("pc.conf",
                           "Host pc\n"
                           "    HostName 192.0.2.9\n"
                           "    User deploy\n"
                           "    Port 2200\n"
                           "    ProxyCommand nc -X 5 %h %p # %r@%n 100%%\n",
                           0644),
         err[ERR_MAX], *cmd = NULL;
    struct sshcfg *cfg = NULL;
    struct sshcfg_host h;
    struct sshcfg_target t = {.alias = "pc"};

    (void)state;
    assert_int_equal(load(&cfg, path, err), 0);
    assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
    assert_string_equal(h.proxy_command, "nc -X 5 %h %p # %r@%n 100%%");
    assert_int_equal(sshcfg_proxy_command(&h, &cmd, err), 0);
    assert_string_equal(cmd, "exec nc -X 5 192.0.2.9 2200 # deploy@pc 100%");
    free(cmd);
    sshcfg_host_release(&h);
    sshcfg_free(cfg);
    unlink(path);
    free(path);
}

/* --- threads and cost ---------------------------------------------------- */

static char *big_config(unsigned nhosts)
{
    struct buf b = BUF_INIT(64 << 20);

    assert_int_equal(
        buf_adds(&b, "# an inventory-sized config\n"
                     "Host bastion\n    HostName 192.0.2.1\n    User jump\n"),
        0);
    for (unsigned i = 0; i < nhosts; i++)
        assert_int_equal(buf_addf(&b,
                                  "Host web%04u web%04u.example.com\n"
                                  "    HostName 10.%u.%u.%u\n"
                                  "    IdentityFile ~/.ssh/web_%%h\n",
                                  i, i, i / 65536, (i / 256) % 256, i % 256),
                         0);
    assert_int_equal(
        buf_adds(&b, "Match originalhost web0* user root\n"
                     "    ProxyJump bastion\n"
                     "Host *.example.com\n    User app\n"
                     "Host *\n"
                     "    ServerAliveInterval 15\n"
                     "    UserKnownHostsFile ~/.ssh/known_hosts.d/%k\n"),
        0);
    char *path = write_tmp("big.conf", buf_str(&b), 0644);

    buf_release(&b);
    return path;
}

struct worker {
    const struct sshcfg *cfg;
    unsigned from, n;
    int failures;
};

static void *resolve_some(void *arg)
{
    struct worker *w = arg;
    char err[ERR_MAX], alias[32], want[32];

    for (unsigned i = w->from; i < w->from + w->n; i++) {
        struct sshcfg_host h;
        struct sshcfg_target t = {.alias = alias};

        snprintf(alias, sizeof(alias), "web%04u", i);
        snprintf(want, sizeof(want), "10.0.%u.%u", (i / 256) % 256, i % 256);
        if (sshcfg_resolve(w->cfg, &t, &h, err) != 0 ||
            strcmp(h.hostname, want) != 0 || h.nhops != 1)
            w->failures++;
        sshcfg_host_release(&h);
    }
    return NULL;
}

static void test_threads_share_one_config(void **state)
{
    char *path = big_config(400), err[ERR_MAX];
    struct sshcfg *cfg = NULL;
    pthread_t th[4];
    struct worker w[4];

    (void)state;
    assert_int_equal(load(&cfg, path, err), 0);
    for (unsigned i = 0; i < 4; i++) {
        w[i] = (struct worker){cfg, i * 100, 100, 0};
        assert_int_equal(pthread_create(&th[i], NULL, resolve_some, &w[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    sshcfg_free(cfg);
    unlink(path);
    free(path);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* 1,000 hosts, each its own Host block: load once, resolve each. */
static void test_cost_per_host(void **state)
{
    char *path = big_config(1000), err[ERR_MAX], alias[32];
    struct sshcfg *cfg = NULL;
    double t0, t1, t2;
    struct sshcfg_host h;

    (void)state;
    t0 = now_us();
    assert_int_equal(load(&cfg, path, err), 0);
    t1 = now_us();
    for (unsigned i = 0; i < 1000; i++) {
        struct sshcfg_target t = {.alias = alias};

        snprintf(alias, sizeof(alias), "web%04u.example.com", i);
        assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
        sshcfg_host_release(&h);
    }
    t2 = now_us();
    print_message("ssh_config cost: load of 3,000 lines %.0f us, %.1f us "
                  "per host over 1,000 hosts\n",
                  t1 - t0, (t2 - t1) / 1000);
    /* the same host resolved against the real thing */
    {
        struct sshcfg_target t = {.alias = "web0042.example.com"};
        struct dump d;

        ssh_g(path, &t, &d);
        assert_int_equal(sshcfg_resolve(cfg, &t, &h, err), 0);
        compare("big.conf web0042.example.com", &d, &h);
        dump_release(&d);
        sshcfg_host_release(&h);
    }
    /* generous: sanitizer builds are several times slower */
    assert_true((t2 - t1) / 1000 < 5000);
    sshcfg_free(cfg);
    unlink(path);
    free(path);
}

static int setup(void **state)
{
    char *cmd;
    int r;

    (void)state;
    if (realpath(CORPUS, corpus) == NULL) {
        fprintf(stderr, "test_ssh_config: run from the source tree (%s)\n",
                CORPUS);
        return -1;
    }
    snprintf(home, sizeof(home), "/tmp/oneoff-sshcfg.XXXXXX");
    if (mkdtemp(home) == NULL)
        return -1;
    /* a copy, so that a group-writable checkout does not trip the
     * permission check ssh makes on included files */
    cmd = xasprintf("cp -R '%s/include' '%s/.ssh' && chmod -R go-w '%s'",
                    corpus, home, home);
    r = system(cmd);
    free(cmd);
    if (r != 0)
        return -1;
    /* ssh -G and sshcfg see the same HOME and environment */
    setenv("HOME", home, 1);
    setenv("SSHCFG_TEST_DIR", "kh.d", 1);
    return 0;
}

static int teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", home);
    int r;

    (void)state;
    r = system(cmd);
    free(cmd);
    return r == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_matches_ssh_g),
        cmocka_unit_test(test_chain_matches_ssh_g),
        cmocka_unit_test(test_chain_loop_is_located),
        cmocka_unit_test(test_user_file_before_system_file),
        cmocka_unit_test(test_include_permissions),
        cmocka_unit_test(test_proxy_command_expanded),
        cmocka_unit_test(test_threads_share_one_config),
        cmocka_unit_test(test_cost_per_host),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
