/*
 * ssh_g.h - the ssh -G side of test_ssh_config.c (included once, by it):
 * runs the real `ssh -G -F FILE [-l U] [-p P] [-J J] ALIAS` and compares
 * what it prints, field by field, with a struct sshcfg_host.
 *
 * Normalised, and only this: ssh -G prints IdentityFile and CertificateFile
 * as written (ssh expands them when it loads the keys), so they are
 * expanded here, by a small expander of the test's own, from the values
 * ssh -G printed.
 */
#ifndef ONEOFF_TEST_SSH_G_H
#define ONEOFF_TEST_SSH_G_H

static unsigned fields; /* fields compared */

/* --- running ssh -G ---------------------------------------------------- */

/* The lines ssh -G printed, as key and value. */
struct dump {
    struct strlist key, val;
    int status;
};

static void dump_release(struct dump *d)
{
    strlist_clear(&d->key);
    strlist_clear(&d->val);
}

static const char *dump_get(const struct dump *d, const char *key)
{
    for (size_t i = 0; i < d->key.n; i++)
        if (strcmp(d->key.v[i], key) == 0)
            return d->val.v[i];
    return NULL;
}

static void dump_all(const struct dump *d, const char *key, struct strlist *out)
{
    for (size_t i = 0; i < d->key.n; i++)
        if (strcmp(d->key.v[i], key) == 0)
            strlist_push(out, d->val.v[i]);
}

static void ssh_g(const char *file, const struct sshcfg_target *t,
                  struct dump *d)
{
    const char *argv[16];
    char port[16], hostname[300];
    size_t n = 0;
    int fd[2], status;
    pid_t pid;
    struct buf out = BUF_INIT(1 << 20);
    char chunk[4096];
    ssize_t r;

    memset(d, 0, sizeof(*d));
    argv[n++] = "ssh";
    argv[n++] = "-G";
    argv[n++] = "-F";
    argv[n++] = file;
    if (t->user != NULL) {
        argv[n++] = "-l";
        argv[n++] = t->user;
    }
    if (t->port != 0) {
        snprintf(port, sizeof(port), "%u", t->port);
        argv[n++] = "-p";
        argv[n++] = port;
    }
    if (t->jump != NULL) {
        argv[n++] = "-J";
        argv[n++] = t->jump;
    }
    if (t->hostname != NULL) {
        snprintf(hostname, sizeof(hostname), "HostName=%s", t->hostname);
        argv[n++] = "-o";
        argv[n++] = hostname;
    }
    argv[n++] = "--";
    argv[n++] = t->alias;
    argv[n] = NULL;
    assert_int_equal(pipe(fd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        dup2(null, 0);
        dup2(fd[1], 1);
        dup2(null, 2);
        close(fd[0]);
        execvp("ssh", (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    while ((r = read(fd[0], chunk, sizeof(chunk))) > 0)
        assert_int_equal(buf_add(&out, chunk, (size_t)r), 0);
    close(fd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    d->status = WIFEXITED(status) ? WEXITSTATUS(status) : 256;
    for (char *line = out.data, *nl; line && *line; line = nl + 1) {
        char *sp;

        if ((nl = strchr(line, '\n')) == NULL)
            break;
        *nl = '\0';
        if ((sp = strchr(line, ' ')) == NULL)
            continue;
        *sp = '\0';
        strlist_push(&d->key, line);
        strlist_push(&d->val, sp + 1);
    }
    buf_release(&out);
}

/* --- the test's own expansion of IdentityFile/CertificateFile ---------- */

static char *expand_like_ssh(const char *s, const struct dump *d)
{
    struct passwd *pw = getpwuid(getuid());
    char host[256], shorthost[256], uid[32];
    struct buf b = BUF_INIT(1 << 16);
    const char *alias = dump_get(d, "host"), *k = dump_get(d, "hostkeyalias");

    gethostname(host, sizeof(host));
    snprintf(shorthost, sizeof(shorthost), "%.*s", (int)strcspn(host, "."),
             host);
    snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
    const char *tok[][2] = {{"%", "%"},
                            {"d", pw->pw_dir},
                            {"h", dump_get(d, "hostname")},
                            {"p", dump_get(d, "port")},
                            {"r", dump_get(d, "user")},
                            {"u", pw->pw_name},
                            {"n", alias},
                            {"k", k ? k : alias},
                            {"l", host},
                            {"L", shorthost},
                            {"i", uid}};

    if (s[0] == '~' && (s[1] == '/' || s[1] == '\0')) {
        assert_int_equal(buf_addf(&b, "%s/", pw->pw_dir), 0);
        s += 1 + strspn(s + 1, "/");
    }
    for (; *s; s++) {
        size_t i;

        if (s[0] == '$' && s[1] == '{') {
            const char *e = strchr(s, '}');
            char *var = xstrndup(s + 2, (size_t)(e - s - 2));

            assert_int_equal(buf_adds(&b, getenv(var)), 0);
            free(var);
            s = e;
        } else if (*s != '%') {
            assert_int_equal(buf_addc(&b, *s), 0);
        } else {
            s++;
            for (i = 0; i < sizeof(tok) / sizeof(tok[0]); i++)
                if (*s == tok[i][0][0])
                    break;
            if (i == sizeof(tok) / sizeof(tok[0]))
                fail_msg("corpus uses a token the test cannot expand: %%%c",
                         *s);
            assert_int_equal(buf_adds(&b, tok[i][1]), 0);
        }
    }
    return buf_detach(&b);
}

/* --- comparing ---------------------------------------------------------- */

static void same(const char *what, const char *ctx, const char *ssh,
                 const char *ours)
{
    fields++;
    if (ssh == NULL && ours == NULL)
        return;
    if (ssh == NULL || ours == NULL || strcmp(ssh, ours) != 0)
        fail_msg("%s: %s: ssh -G says '%s', sshcfg says '%s'", ctx, what,
                 ssh ? ssh : "(none)", ours ? ours : "(none)");
}

static void same_list(const char *what, const char *ctx,
                      const struct strlist *ssh, const struct strlist *ours)
{
    char *a = strlist_join(ssh, " | "), *b = strlist_join(ours, " | ");

    same(what, ctx, a, b);
    free(a);
    free(b);
}

static void expanded(const struct dump *d, const char *key, bool drop_none,
                     struct strlist *out)
{
    struct strlist raw = {0};

    dump_all(d, key, &raw);
    for (size_t i = 0; i < raw.n; i++)
        if (!drop_none || strcasecmp(raw.v[i], "none") != 0)
            strlist_push_owned(out, expand_like_ssh(raw.v[i], d));
    strlist_clear(&raw);
}

static const char *const strict_name[] = {[SSHCFG_STRICT_OFF] = "false",
                                          [SSHCFG_STRICT_ACCEPT_NEW] =
                                              "accept-new",
                                          [SSHCFG_STRICT_YES] = "true",
                                          [SSHCFG_STRICT_ASK] = "ask"};

static void compare(const char *ctx, const struct dump *d,
                    const struct sshcfg_host *h)
{
    char num[32];
    struct strlist a = {0};
    char *kh;

    same("hostname", ctx, dump_get(d, "hostname"), h->hostname);
    same("user", ctx, dump_get(d, "user"), h->user);
    snprintf(num, sizeof(num), "%u", h->port);
    same("port", ctx, dump_get(d, "port"), num);

    expanded(d, "identityfile", true, &a);
    same_list("identityfile", ctx, &a, &h->identity_files);
    strlist_clear(&a);
    same("identitiesonly", ctx, dump_get(d, "identitiesonly"),
         h->identities_only ? "yes" : "no");
    expanded(d, "certificatefile", false, &a);
    same_list("certificatefile", ctx, &a, &h->certificate_files);
    strlist_clear(&a);

    same("proxyjump", ctx, dump_get(d, "proxyjump"), h->proxy_jump);
    same("proxycommand", ctx, dump_get(d, "proxycommand"), h->proxy_command);
    kh = h->known_hosts_files.n ? strlist_join(&h->known_hosts_files, " ")
                                : xstrdup("none");
    same("userknownhostsfile", ctx, dump_get(d, "userknownhostsfile"), kh);
    free(kh);
    same("hostkeyalias", ctx, dump_get(d, "hostkeyalias"), h->host_key_alias);
    same("stricthostkeychecking", ctx, dump_get(d, "stricthostkeychecking"),
         strict_name[h->strict_host_key_checking]);
    if (h->connect_timeout_s < 0)
        snprintf(num, sizeof(num), "none");
    else
        snprintf(num, sizeof(num), "%ld", h->connect_timeout_s);
    same("connecttimeout", ctx, dump_get(d, "connecttimeout"), num);
    snprintf(num, sizeof(num), "%ld", h->server_alive_interval_s);
    same("serveraliveinterval", ctx, dump_get(d, "serveraliveinterval"), num);
    snprintf(num, sizeof(num), "%d", h->server_alive_count_max);
    same("serveralivecountmax", ctx, dump_get(d, "serveralivecountmax"), num);
    same("batchmode", ctx, dump_get(d, "batchmode"),
         h->batch_mode ? "yes" : "no");
}

#endif
