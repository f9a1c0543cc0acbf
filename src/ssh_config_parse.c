/*
 * ssh_config_parse.c - one ssh_config file (and what it includes) into the
 * directives a walk needs, checking every line as OpenSSH 9.2's
 * process_config_line() does.
 *
 * ssh checks each line whether or not its block applies, so a line it would
 * reject becomes a KW_ERROR directive in place: the walk reports the first
 * one it meets, as ssh would. Keywords oneoff does not use are checked
 * (arity, and the value where the rule is simple) and dropped. An Include
 * is expanded here, once: ssh reads included files whatever the host, so
 * the list of files does not depend on it. Each file is parsed once per
 * load even when included twice.
 */
#define _GNU_SOURCE
#include "ssh_config_int.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#define WHITESPACE " \t\r\n"
#define CONFIG_MAX (16u << 20)

struct sshcfg_dir *sshcfg_line_dir(struct sshcfg_line *l, enum sshcfg_kw kw)
{
    struct sshcfg_file *f = l->file;
    struct sshcfg_dir *d;

    xgrow((void **)&f->dirs, &f->alloc, f->ndirs + 1, sizeof(*f->dirs));
    d = &f->dirs[f->ndirs++];
    memset(d, 0, sizeof(*d));
    d->kw = kw;
    d->line = l->lineno;
    d->path = f->path;
    return d;
}

int sshcfg_line_bad(struct sshcfg_line *l, const char *fmt, ...)
{
    struct sshcfg_dir *d = sshcfg_line_dir(l, KW_ERROR);
    va_list ap;
    char msg[ERR_MAX];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->str = xstrdup(msg);
    return -1;
}

/* Match: the criteria, checked as match_cfg_line() checks them. */
static int parse_match(struct sshcfg_line *l)
{
    static const struct {
        const char *name;
        enum sshcfg_crit crit;
    } crits[] = {{"canonical", CRIT_CANONICAL},
                 {"final", CRIT_FINAL},
                 {"host", CRIT_HOST},
                 {"originalhost", CRIT_ORIGINALHOST},
                 {"user", CRIT_USER},
                 {"localuser", CRIT_LOCALUSER},
                 {"exec", CRIT_EXEC}};
    struct sshcfg_dir *d;
    struct sshcfg_match *m = NULL;
    size_t n = 0, alloc = 0;
    unsigned attributes = 0;
    char *dup = xstrdup(l->str), *cp = dup, *attrib;
    int ret = -1;

    while ((attrib = sshcfg_strdelim(&cp)) != NULL && *attrib != '\0') {
        struct sshcfg_match c = {CRIT_ALL, false, NULL};
        const char *arg;
        size_t i;

        if (*attrib == '#') {
            cp = NULL;
            break;
        }
        if ((c.negate = attrib[0] == '!'))
            attrib++;
        if (strcasecmp(attrib, "all") == 0) {
            arg = sshcfg_strdelim(&cp);
            if (attributes > 1 ||
                (arg != NULL && *arg != '\0' && *arg != '#')) {
                sshcfg_line_bad(
                    l, "'%s' cannot be combined with other Match attributes",
                    attrib);
                goto out;
            }
            if (arg != NULL && *arg == '#')
                cp = NULL;
            xgrow((void **)&m, &alloc, n + 1, sizeof(*m));
            m[n++] = c;
            goto done;
        }
        attributes++;
        for (i = 0; i < sizeof(crits) / sizeof(crits[0]); i++)
            if (strcasecmp(attrib, crits[i].name) == 0)
                break;
        if (i == sizeof(crits) / sizeof(crits[0])) {
            sshcfg_line_bad(l, "unsupported Match attribute '%s'", attrib);
            goto out;
        }
        c.crit = crits[i].crit;
        if (c.crit != CRIT_CANONICAL && c.crit != CRIT_FINAL) {
            arg = sshcfg_strdelim(&cp);
            if (arg == NULL || *arg == '\0' || *arg == '#') {
                sshcfg_line_bad(l, "missing Match criteria for '%s'", attrib);
                goto out;
            }
            c.arg = xstrdup(arg);
        }
        xgrow((void **)&m, &alloc, n + 1, sizeof(*m));
        m[n++] = c;
    }
    if (attributes == 0) {
        sshcfg_line_bad(l, "one or more attributes required for Match");
        goto out;
    }
done:
    if (cp != NULL && *cp != '\0') {
        sshcfg_line_bad(l, "extra arguments at end of line for 'match'");
        goto out;
    }
    d = sshcfg_line_dir(l, KW_MATCH);
    d->match = m;
    d->nmatch = n;
    m = NULL;
    n = 0;
    ret = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(m[i].arg);
    free(m);
    free(dup);
    return ret;
}

/* rtrim() as OpenSSH has it: cuts at the first space after the first
 * character. */
static void rtrim_ssh(char *s)
{
    size_t i = strlen(s);

    if (i == 0)
        return;
    for (i--; i > 0; i--)
        if (isspace((unsigned char)s[i]))
            s[i] = '\0';
}

int sshcfg_parse_jump(const char *s, struct sshcfg_dir *d, bool strict,
                      char *err)
{
    char *orig, *sdup, *cp, *user = NULL, *host = NULL;
    int port = -1, r;
    bool first = true;

    if (strcasecmp(s, "none") == 0) {
        d->jump_none = true;
        return 0;
    }
    errf(err, "invalid ProxyJump '%s'", s);
    orig = xstrdup(s);
    if ((cp = strchr(orig, '#')) != NULL)
        *cp = '\0';
    rtrim_ssh(orig);
    sdup = xstrdup(orig);
    do {
        char *u = NULL, *h = NULL;
        int p = -1;

        if ((cp = strrchr(sdup, ',')) == NULL)
            cp = sdup;
        else
            *cp++ = '\0';
        r = sshcfg_parse_ssh_uri(cp, &u, &h, &p);
        if (r == 1)
            r = sshcfg_parse_user_host_port(cp, &u, &h, &p);
        if (r == 0 && strict && !sshcfg_valid_hostname(h)) {
            errf(err, "invalid host name '%s' in ProxyJump", h);
            r = -1;
        } else if (r == 0 && strict && u != NULL && !sshcfg_valid_ruser(u)) {
            errf(err, "invalid user name '%s' in ProxyJump", u);
            r = -1;
        }
        if (r == 0 && first) {
            user = u;
            host = h;
            port = p;
        } else {
            free(u);
            free(h);
        }
        if (r != 0) {
            free(orig);
            free(sdup);
            free(user);
            free(host);
            return -1;
        }
        first = false;
    } while (cp != sdup);
    d->jump_user = user;
    d->jump_host = host;
    d->jump_port = port;
    if ((cp = strrchr(orig, ',')) != NULL)
        d->jump_extra = xstrndup(orig, (size_t)(cp - orig));
    free(orig);
    free(sdup);
    return 0;
}

static int parse_jump(struct sshcfg_line *l)
{
    const char *s = l->str + strspn(l->str, WHITESPACE "=");
    struct sshcfg_dir tmp;
    char err[ERR_MAX];

    memset(&tmp, 0, sizeof(tmp));
    if (sshcfg_parse_jump(s, &tmp, false, err) != 0)
        return sshcfg_line_bad(l, "%s", err);
    struct sshcfg_dir *d = sshcfg_line_dir(l, KW_PROXYJUMP);

    d->jump_none = tmp.jump_none;
    d->jump_user = tmp.jump_user;
    d->jump_host = tmp.jump_host;
    d->jump_port = tmp.jump_port;
    d->jump_extra = tmp.jump_extra;
    return 0;
}

static int parse_include(struct sshcfg_line *l)
{
    struct sshcfg_dir *d = sshcfg_line_dir(l, KW_INCLUDE);
    const char *a;
    char err[ERR_MAX];

    while ((a = sshcfg_line_next(l)) != NULL) {
        char *pat, *tilde = NULL;
        glob_t gl;
        int r;

        if (*a == '\0')
            return sshcfg_line_bad(l, "empty argument for 'include'");
        if (*a == '~' && !l->file->user)
            return sshcfg_line_bad(l, "bad include path '%s'", a);
        if (*a != '/' && *a != '~')
            pat = xasprintf("%s/%s", l->file->user ? "~/.ssh" : "/etc/ssh", a);
        else
            pat = xstrdup(a);
        if (pat[0] == '~' && (pat[1] == '\0' || pat[1] == '/')) {
            tilde = xasprintf("%s%s", l->cfg->include_home, pat + 1);
            free(pat);
            pat = tilde;
        }
        memset(&gl, 0, sizeof(gl));
        r = glob(pat, GLOB_TILDE | GLOB_NOSORT, NULL, &gl);
        if (r == GLOB_NOMATCH) {
            free(pat);
            continue;
        }
        if (r != 0) {
            globfree(&gl);
            sshcfg_line_bad(l, "glob failed for '%s'", pat);
            free(pat);
            return -1;
        }
        free(pat);
        struct strlist paths = {0};

        for (size_t i = 0; i < gl.gl_pathc; i++)
            strlist_push(&paths, gl.gl_pathv[i]);
        globfree(&gl);
        strlist_sort(&paths); /* glob(3) order in the C locale */
        for (size_t i = 0; i < paths.n; i++) {
            struct sshcfg_file *f = NULL;

            if (sshcfg_parse_file(l->cfg, paths.v[i], l->file->user, true,
                                  l->depth + 1, &f, err) != 0) {
                strlist_clear(&paths);
                return sshcfg_line_bad(l, "%s", err);
            }
            d->inc = xrealloc(d->inc, (d->ninc + 1) * sizeof(*d->inc));
            d->inc[d->ninc++] = f;
        }
        strlist_clear(&paths);
    }
    return 0;
}

/* A keyword oneoff uses: its directive, value checked. */
static int parse_tracked(struct sshcfg_line *l, enum sshcfg_kw kw)
{
    struct sshcfg_dir *d;
    const char *a;
    int v = 0;

    switch (kw) {
    case KW_HOST:
        for (size_t i = 0; i < l->av.n; i++)
            if (l->av.v[i][0] == '\0')
                return sshcfg_line_bad(l, "empty argument for 'host'");
        d = sshcfg_line_dir(l, kw);
        strlist_copy(&d->args, &l->av);
        l->ai = l->av.n;
        return 0;
    case KW_MATCH:
        l->ai = l->av.n;
        return parse_match(l);
    case KW_INCLUDE:
        return parse_include(l);
    case KW_PROXYJUMP:
        l->ai = l->av.n;
        return parse_jump(l);
    case KW_PROXYCOMMAND:
        d = sshcfg_line_dir(l, kw);
        d->str = xstrdup(l->str + strspn(l->str, WHITESPACE "="));
        l->ai = l->av.n;
        return 0;
    case KW_USERKNOWNHOSTSFILE:
    case KW_CANONICALDOMAINS: {
        struct strlist list = {0};

        if (sshcfg_check_array(l, &list) != 0) {
            strlist_clear(&list);
            return -1;
        }
        if (kw == KW_CANONICALDOMAINS)
            for (size_t i = 0; i < list.n; i++) {
                if (!sshcfg_valid_domain(list.v[i], true)) {
                    sshcfg_line_bad(l, "invalid domain name '%s'", list.v[i]);
                    strlist_clear(&list);
                    return -1;
                }
            }
        d = sshcfg_line_dir(l, kw);
        d->args = list;
        return 0;
    }
    case KW_CANONICALIZEPERMITTEDCNAMES:
        for (size_t i = 0; (a = sshcfg_line_next(l)) != NULL; i++) {
            if (strcasecmp(a, "none") == 0) {
                if (i > 0 || l->ai < l->av.n)
                    return sshcfg_line_bad(
                        l, "'none' must appear alone for '%s'", l->keyword);
            } else if (strcmp(a, "*") != 0) {
                const char *c = strchr(a, ':');

                if (c == NULL || c[1] == '\0')
                    return sshcfg_line_bad(l, "invalid permitted CNAME '%s'",
                                           a);
            }
        }
        d = sshcfg_line_dir(l, kw);
        /* ival: 1 when the list enables CNAME following */
        d->ival = !(l->av.n == 1 && strcasecmp(l->av.v[0], "none") == 0);
        return 0;
    default:
        break;
    }

    switch (kw) {
    case KW_HOSTNAME:
    case KW_USER:
    case KW_HOSTKEYALIAS:
    case KW_IGNOREUNKNOWN:
    case KW_IDENTITYFILE:
    case KW_CERTIFICATEFILE:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        d = sshcfg_line_dir(l, kw);
        d->str = xstrdup(a);
        return 0;
    case KW_PORT:
        if ((a = sshcfg_line_next(l)) == NULL || *a == '\0')
            return sshcfg_line_missing(l);
        if ((v = sshcfg_a2port(a)) <= 0)
            return sshcfg_line_bad(l, "bad port '%s'", a);
        break;
    case KW_IDENTITIESONLY:
    case KW_BATCHMODE:
    case KW_CANONICALIZEFALLBACKLOCAL:
        if (sshcfg_check_flag(l, &v) != 0)
            return -1;
        break;
    case KW_STRICTHOSTKEYCHECKING:
    case KW_ADDRESSFAMILY:
    case KW_CANONICALIZEHOSTNAME:
        if (sshcfg_check_state(l, kw, &v) != 0)
            return -1;
        break;
    case KW_CONNECTTIMEOUT:
    case KW_SERVERALIVEINTERVAL:
        if (sshcfg_check_time(l, &v) != 0)
            return -1;
        break;
    case KW_SERVERALIVECOUNTMAX:
    case KW_CANONICALIZEMAXDOTS:
        if (sshcfg_check_int(l, &v) != 0)
            return -1;
        break;
    default:
        return sshcfg_line_bad(l, "internal error: keyword '%s'", l->keyword);
    }
    d = sshcfg_line_dir(l, kw);
    d->ival = v;
    return 0;
}

/* A value ssh checks late (enum sshcfg_extra), kept for the resolver. */
static void add_extra(struct sshcfg_line *l, const struct sshcfg_keyword *k)
{
    struct sshcfg_dir *d;
    const char *v;

    if (k->vk == V_CMD)
        v = l->str + strspn(l->str, WHITESPACE "=");
    else if (l->av.n > 0)
        v = l->av.v[0];
    else
        return;
    if (k->vk == V_FWDAGENT &&
        (strcasecmp(v, "yes") == 0 || strcasecmp(v, "no") == 0 ||
         strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0))
        return; /* a flag, not a socket */
    d = sshcfg_line_dir(l, KW_EXTRA);
    d->ival = k->arg - 1;
    d->str = xstrdup(v);
}

/* One line, as process_config_line_depth() takes it. */
static void parse_line(struct sshcfg_line *l, char *line)
{
    size_t len = strlen(line);
    const struct sshcfg_keyword *k;
    char *keyword, *str = line;
    bool quotes_ok;

    if (len == 0)
        return;
    for (len--; len > 0; len--) {
        if (strchr(WHITESPACE "\f", line[len]) == NULL)
            break;
        line[len] = '\0';
    }
    if ((keyword = sshcfg_strdelim(&str)) == NULL)
        return;
    if (*keyword == '\0')
        keyword = sshcfg_strdelim(&str);
    if (keyword == NULL || *keyword == '\0' || *keyword == '\n' ||
        *keyword == '#')
        return;
    sshcfg_lowercase(keyword);
    if (str != NULL)
        str += strspn(str, WHITESPACE);
    if (str == NULL || *str == '\0') {
        sshcfg_line_bad(l, "no argument after keyword '%s'", keyword);
        return;
    }
    k = sshcfg_keyword_find(keyword);
    l->keyword = keyword;
    l->str = str;
    quotes_ok = sshcfg_argv_split(str, &l->av) == 0;
    if (k == NULL) {
        struct sshcfg_dir *d = sshcfg_line_dir(l, KW_UNKNOWN);

        d->str = xstrdup(keyword);
        d->ival = !quotes_ok;
        return;
    }
    if (!quotes_ok) {
        sshcfg_line_bad(l, "invalid quotes");
        return;
    }
    if ((k->vk == V_TRACK ? parse_tracked(l, (enum sshcfg_kw)k->arg)
                          : sshcfg_check_other(l, k)) != 0)
        return;
    if (k->vk != V_TRACK && k->vk < V_CIPHERS && k->arg != 0)
        add_extra(l, k);
    if (l->ai < l->av.n)
        sshcfg_line_bad(l, "extra arguments at end of line for '%s'", keyword);
}

static struct sshcfg_file *file_find(struct sshcfg *cfg, const char *path,
                                     bool user)
{
    for (struct sshcfg_file *f = cfg->files; f != NULL; f = f->next)
        if (f->user == user && strcmp(f->path, path) == 0)
            return f;
    return NULL;
}

int sshcfg_parse_file(struct sshcfg *cfg, const char *path, bool user,
                      bool checkperm, unsigned depth, struct sshcfg_file **out,
                      char *err)
{
    struct sshcfg_file *f;
    char *data = NULL, *p;
    size_t len = 0;
    unsigned lineno = 0;
    struct stat st;
    int r;

    *out = NULL;
    if ((f = file_find(cfg, path, user)) != NULL) {
        *out = f; /* parsed once; a loop of Includes is caught by depth */
        return 0;
    }
    if (depth > 16)
        return errf(err, "too many recursive configuration includes");
    f = xcalloc(1, sizeof(*f));
    f->path = xstrdup(path);
    f->user = user;
    f->next = cfg->files;
    cfg->files = f;
    *out = f;

    r = file_read(path, CONFIG_MAX, &data, &len);
    if (r == -ENOENT) {
        f->missing = true; /* a missing file is no file */
        return 0;
    } else if (r == -EISDIR) {
        return 0; /* ssh reads nothing from a directory */
    } else if (r != 0) {
        f->open_error = xasprintf("can't open config file %s: %s", path,
                                  r == -EFBIG ? "too large" : strerror(-r));
        return 0;
    }
    if (checkperm && stat(path, &st) == 0 &&
        ((st.st_uid != 0 && st.st_uid != getuid()) ||
         (st.st_mode & 022) != 0)) {
        f->open_error = xasprintf("bad owner or permissions on %s", path);
        free(data);
        return 0;
    }
    for (p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        struct sshcfg_line l = {.cfg = cfg, .file = f, .depth = depth};

        if (nl != NULL)
            *nl = '\0';
        l.lineno = ++lineno;
        parse_line(&l, p);
        strlist_clear(&l.av);
        p = nl != NULL ? nl + 1 : data + len;
    }
    free(data);
    return 0;
}

void sshcfg_files_free(struct sshcfg_file *f)
{
    while (f != NULL) {
        struct sshcfg_file *nx = f->next;

        for (size_t i = 0; i < f->ndirs; i++) {
            struct sshcfg_dir *d = &f->dirs[i];

            free(d->str);
            strlist_clear(&d->args);
            for (size_t j = 0; j < d->nmatch; j++)
                free(d->match[j].arg);
            free(d->match);
            free(d->inc);
            free(d->jump_user);
            free(d->jump_host);
            free(d->jump_extra);
        }
        free(f->dirs);
        free(f->path);
        free(f->open_error);
        free(f);
        f = nx;
    }
}
