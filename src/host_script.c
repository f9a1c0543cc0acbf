/*
 * host_script.c - the script a host runs: a data prelude written here, then
 * src/host_script.sh as embedded at build time (host_script_text.S).
 *
 * The prelude is data only, one single-quoted assignment per value, so the
 * script's logic lives in one file that shellcheck reads and that tests run
 * under several shells; nothing here writes shell code. Lists (env files,
 * literal env) travel as a count and numbered variables.
 */
#define _GNU_SOURCE
#include "oneoff/host_script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* src/host_script.sh and src/host_runtime.sh, NUL-terminated
 * (host_script_text.S) */
extern const char oneoff_host_script[];
extern const char oneoff_host_runtime[];
extern const char oneoff_host_job[];

size_t sh_quoted_max(const char *s)
{
    size_t n = strlen(s) + 2;

    while ((s = strchr(s, '\'')) != NULL) {
        n += 3; /* each ' becomes '\'' */
        s++;
    }
    return n;
}

/* s (n bytes) as it stands between single quotes: each ' becomes '\''.
 * The caller reserved room for it. */
static void add_escaped(struct buf *b, const char *s, size_t n)
{
    const char *end = s + n, *q;

    while ((q = memchr(s, '\'', (size_t)(end - s))) != NULL) {
        buf_add_reserved(b, s, (size_t)(q - s));
        buf_add_reserved(b, "'\\''", 4);
        s = q + 1;
    }
    buf_add_reserved(b, s, (size_t)(end - s));
}

int sh_quote(struct buf *b, const char *s)
{
    if (buf_reserve(b, sh_quoted_max(s)) != 0)
        return -1; /* b unchanged */
    buf_add_reserved(b, "'", 1);
    add_escaped(b, s, strlen(s));
    buf_add_reserved(b, "'", 1);
    return 0;
}

/* Every append below fits: script_compose() and script_command_line()
 * size their buffers for the worst case of what they are given first. */
static void assign(struct buf *b, const char *name, const char *value)
{
    BUF_MUST(buf_adds(b, name));
    BUF_MUST(buf_addc(b, '='));
    BUF_MUST(sh_quote(b, value ? value : ""));
    BUF_MUST(buf_addc(b, '\n'));
}

/* The worst case of assign(name, value): name, '=', quotes, newline. */
static size_t assign_max(const char *value)
{
    return 64 + sh_quoted_max(value ? value : "");
}

static void assign_cut(struct buf *b, const char *name, const char *value,
                       size_t max)
{
    const char *s = value ? value : "";
    char *v = xstrndup(s, strnlen(s, max));

    assign(b, name, v);
    free(v);
}

static void assign_num(struct buf *b, const char *name, long n)
{
    char v[32];

    snprintf(v, sizeof(v), "%ld", n);
    assign(b, name, v);
}

static void assign_nth(struct buf *b, const char *prefix, size_t i,
                       const char *value)
{
    char name[64];

    snprintf(name, sizeof(name), "%s%zu", prefix, i);
    assign(b, name, value);
}

/* Where script_compose() writes: pre, the script itself; or, with line
 * set, pre holds the prelude's text not yet copied into line, the command
 * line being built inside its quotes (compose_command_line()). */
struct compose {
    struct buf pre;
    struct buf *line;
};

/* line's escaped copy of pre, which empties. */
static void flush_prelude(struct compose *c)
{
    /* the line's maximum holds the quoted whole script */
    BUF_MUST(buf_reserve(c->line, sh_quoted_max(buf_str(&c->pre))));
    add_escaped(c->line, buf_str(&c->pre), c->pre.len);
    buf_reset(&c->pre);
}

/* True when a run of s calls the functions of the script's part NAME
 * (host_script.sh says which part holds what). */
static bool part_wanted(const struct script_spec *s, const char *name, size_t n)
{
#define IS(w) (n == sizeof(w) - 1 && memcmp(name, w, n) == 0)
    if (IS("task"))
        return s->task_file != NULL && s->task_file[0] != '\0';
    if (IS("lock"))
        return s->lock != NULL && s->lock[0] != '\0';
    if (IS("held"))
        return s->check_locks;
    if (IS("history"))
        return s->mode == SCRIPT_HISTORY ||
               (s->once_sha256 != NULL && s->once_sha256[0] != '\0');
    if (IS("input"))
        return s->input;
#undef IS
    return true; /* a part this file does not know: keep it */
}

/* Appends the script p without the parts s does not need and without the
 * lines that mark them ("#@part NAME" ... "#@end"): whatever lies between
 * two markers is copied at once. */
static void add_parts(struct buf *b, const char *p, const struct script_spec *s)
{
    bool keep = true;

    for (;;) {
        const char *m = strncmp(p, "#@", 2) == 0 ? p : strstr(p, "\n#@");
        const char *nl;

        if (m == NULL) {
            if (keep)
                BUF_MUST(buf_adds(b, p)); /* sized for the whole text */
            return;
        }
        if (m != p)
            m++; /* the marker's line, after the newline */
        if (keep)
            BUF_MUST(buf_add(b, p, (size_t)(m - p)));
        nl = strchr(m, '\n');
        if (strncmp(m, "#@part ", 7) == 0)
            keep = part_wanted(s, m + 7,
                               nl ? (size_t)(nl - m - 7) : strlen(m + 7));
        else
            keep = true; /* #@end */
        if (nl == NULL)
            return;
        p = nl + 1;
    }
}

/* Appends a script: the build left out its comment lines, indentation and
 * blank lines (Makefile), so it is sent as it is, but for the parts s does
 * not need (escaped for a command line's quotes). */
static void add_script_body(struct compose *c, const char *p,
                            const struct script_spec *s)
{
    struct buf t = BUF_INIT(strlen(p) + 1);

    if (c->line == NULL) {
        /* at most the whole text: one allocation, not a doubling series */
        BUF_MUST(buf_reserve(&c->pre, strlen(p)));
        add_parts(&c->pre, p, s);
        return;
    }
    add_parts(&t, p, s);
    flush_prelude(c);
    /* the line's maximum holds the quoted whole script */
    BUF_MUST(buf_reserve(c->line, sh_quoted_max(buf_str(&t))));
    add_escaped(c->line, buf_str(&t), t.len);
    buf_release(&t);
}

/* The runtime's part of the prelude, and its script (host_runtime.sh). */
static void add_runtime(struct compose *c, const struct script_spec *s)
{
    struct buf *b = &c->pre;
    const struct runtime *rt = s->runtime;
    bool image = rt->kind == RUNTIME_IMAGE;
    char *name = xasprintf("oneoff-%.*s-%s", SCRIPT_RUN_ID_MAX,
                           s->run_id ? s->run_id : "", s->host ? s->host : "");

    assign(b, "oneoff_runtime", runtime_name(rt->kind));
    assign(b, "oneoff_engine", runtime_engine(rt));
    assign(b, "oneoff_container", image ? rt->image_of : rt->container);
    assign(b, "oneoff_network_of", image ? rt->network_of : NULL);
    assign(b, "oneoff_ctr_name", image ? name : NULL);
    free(name);
    add_script_body(c, oneoff_host_runtime, s);
}

/* The most script_compose() can write for s. */
static size_t compose_max(const struct script_spec *s)
{
    size_t nfiles = s->env_files ? s->env_files->n : 0;
    size_t nenv = s->env ? s->env->n : 0;
    size_t max =
        strlen(oneoff_host_script) + strlen(oneoff_host_runtime) +
        strlen(oneoff_host_job) + assign_max(s->job_run) + assign_max(s->hist) +
        assign_max(s->host) + 20 * assign_max(NULL) +
        4 * (16 + SCRIPT_RUN_ID_MAX + strlen(s->host ? s->host : "")) +
        assign_max(s->runtime ? s->runtime->container : NULL) +
        assign_max(s->runtime ? s->runtime->image_of : NULL) +
        assign_max(s->runtime ? s->runtime->network_of : NULL) +
        assign_max(s->nonce) + assign_max(s->run_id) + assign_max(s->label) +
        assign_max(s->app_dir) + assign_max(s->release) +
        assign_max(s->revision_file) + assign_max(s->task_file) +
        assign_max(s->lock) + assign_max(s->lock_holder) +
        assign_max(s->once_sha256) + assign_max(s->command);

    max += assign_max(s->note) + assign_max(s->start_head) +
           assign_max(s->end_prefix);
    for (size_t i = 0; i < nfiles; i++)
        max += assign_max(s->env_files->v[i]);
    for (size_t i = 0; i < nenv; i++)
        max += 2 * assign_max(NULL) + assign_max(s->env->val[i]) +
               strlen(s->env->key[i]);
    return max;
}

static void compose(struct compose *c, const struct script_spec *s)
{
    struct buf *b = &c->pre;
    size_t nfiles = s->env_files ? s->env_files->n : 0;
    size_t nenv = s->env ? s->env->n : 0;

    assign(b, "oneoff_mode",
           s->mode == SCRIPT_RUN            ? "run"
           : s->mode == SCRIPT_HISTORY      ? "history"
           : s->mode == SCRIPT_HISTORY_NOTE ? "note"
                                            : "check");
    if (s->mode == SCRIPT_HISTORY_NOTE)
        assign(b, "oneoff_note", s->note);
    assign_cut(b, "oneoff_nonce", s->nonce, SCRIPT_NONCE_LEN);
    assign_cut(b, "oneoff_run_id", s->run_id, SCRIPT_RUN_ID_MAX);
    assign(b, "oneoff_label", s->label);
    assign(b, "oneoff_app_dir", s->app_dir);
    assign(b, "oneoff_release", s->release ? s->release : "current");
    assign(b, "oneoff_revision_file",
           s->revision_file ? s->revision_file : "REVISION");
    assign_num(b, "oneoff_env_files", (long)nfiles);
    for (size_t i = 0; i < nfiles; i++)
        assign_nth(b, "oneoff_env_file_", i + 1, s->env_files->v[i]);
    assign_num(b, "oneoff_env", (long)nenv);
    for (size_t i = 0; i < nenv; i++) {
        assign_nth(b, "oneoff_env_name_", i + 1, s->env->key[i]);
        assign_nth(b, "oneoff_env_value_", i + 1, s->env->val[i]);
    }
    assign(b, "oneoff_task_file", s->task_file);
    assign(b, "oneoff_lock", s->lock);
    assign_cut(b, "oneoff_lock_holder", s->lock_holder, SCRIPT_HOLDER_MAX);
    assign_num(b, "oneoff_lock_wait", s->lock_wait_s > 0 ? s->lock_wait_s : 0);
    assign(b, "oneoff_check_locks", s->check_locks ? "1" : "");
    assign_cut(b, "oneoff_once", s->once_sha256, 64);
    assign(b, "oneoff_pty", s->pty ? "1" : "");
    assign(b, "oneoff_stdin", s->input ? "1" : "");
    assign(b, "oneoff_cmd", s->command);
    if (s->mode == SCRIPT_RUN) {
        assign(b, "oneoff_hs", s->start_head);
        assign(b, "oneoff_he", s->end_prefix);
    }
    if (s->runtime && s->runtime->kind != RUNTIME_PLAIN)
        add_runtime(c, s);
    if (s->job) {
        assign(b, "oneoff_job", s->job);
        assign(b, "oneoff_job_run", s->job_run);
        assign(b, "oneoff_host", s->host);
        assign(b, "oneoff_job_meta", s->hist);
        add_script_body(c, oneoff_host_job, s);
    }
    add_script_body(c, oneoff_host_script, s);
}

char *script_compose(const struct script_spec *s)
{
    struct compose c = {BUF_INIT(compose_max(s)), NULL};

    compose(&c, s);
    return buf_detach(&c.pre);
}

/* The start of every command line, up to the script's opening quote. */
static void line_head(struct buf *b, const char *become)
{
    BUF_MUST(buf_adds(b, "exec "));
    if (become) {
        BUF_MUST(buf_adds(b, "sudo -n -u "));
        BUF_MUST(sh_quote(b, become));
        BUF_MUST(buf_adds(b, " -- "));
    }
    BUF_MUST(buf_adds(b, "/bin/sh -c "));
}

/* The task's arguments, each quoted after a space. */
static void add_args(struct buf *b, const struct strlist *args)
{
    for (size_t i = 0; args && i < args->n; i++) {
        BUF_MUST(buf_addc(b, ' '));
        BUF_MUST(sh_quote(b, args->v[i]));
    }
}

/* After the script's closing quote. */
static void line_tail(struct buf *b, const struct strlist *args)
{
    BUF_MUST(buf_adds(b, " oneoff"));
    add_args(b, args);
}

/* The bound of a command line: its fixed words, become, args, and the
 * script of at most script_max bytes, each byte quoted as 4 at worst. */
static size_t line_max(size_t script_max, const char *become,
                       const struct strlist *args)
{
    size_t max = 64 + 4 * script_max + 2;

    if (become)
        max += 32 + sh_quoted_max(become);
    for (size_t i = 0; args && i < args->n; i++)
        max += 1 + sh_quoted_max(args->v[i]);
    return max;
}

char *script_compose_line(const struct script_spec *s, const char *become,
                          const struct strlist *args)
{
    struct buf line = BUF_INIT(line_max(compose_max(s), become, args));
    struct compose c = {BUF_INIT(compose_max(s)), &line};

    /* the usual size: a prelude's values rarely hold quotes */
    BUF_MUST(buf_reserve(&line, compose_max(s) + compose_max(s) / 8));
    line_head(&line, become);
    BUF_MUST(buf_addc(&line, '\''));
    compose(&c, s);
    flush_prelude(&c);
    BUF_MUST(buf_addc(&line, '\''));
    line_tail(&line, args);
    buf_release(&c.pre);
    return buf_detach(&line);
}

/* What the host's /bin/sh runs first when the script comes on its stdin.
 * dash and busybox sh source /dev/stdin: they read a pipe a block at a
 * time and stop where the script's one compound command ends. bash would
 * read such a file to its end (the client's later lines) or a byte at a
 * time: bash 5.2 and later take the script's exact length with `read -N`
 * (in the C locale: bytes, not characters; it reads a pipe in blocks), an
 * older bash (its `read -N` reads a byte at a time) and a shell that
 * cannot open its stdin again through /dev/stdin (become: sudo's user may
 * not open the login user's pipe; a socket, which cannot be reopened; no
 * /proc) have `head -c` read it, one process more. */
static const char boot_fmt[] =
    "case ${BASH_VERSION-} in"
    " '') if [ -p /dev/stdin ] && [ -r /dev/stdin ]; then . /dev/stdin;"
    " else eval \"$(head -c %zu)\"; fi ;;"
    " [1-4].* | 5.[01].*) eval \"$(head -c %zu)\" ;;"
    " *) oneoff_l=${LC_ALL-} oneoff_ls=${LC_ALL+1}; LC_ALL=C;"
    " IFS= read -r -N %zu oneoff_s;"
    " if [ -n \"$oneoff_ls\" ]; then LC_ALL=$oneoff_l; else unset LC_ALL; fi;"
    " unset oneoff_l oneoff_ls; eval \"$oneoff_s\" ;;"
    " esac";

/* After the arguments of a line without become (see line_around()). */
static const char boot_tail[] =
    "; if [ \"$0\" = sh ] && [ /proc/$$/exe -ef /bin/sh ]; then eval"
    " \"$oneoff_b\"; else exec /bin/sh -c \"$oneoff_b\" oneoff \"$@\"; fi";

/* The line that runs boot (the script's reader, or what --dry-run shows
 * in its place). sshd runs it with the login shell, as `SHELL -c LINE`,
 * so $0 is the shell's name: a login shell that is /bin/sh itself (named
 * sh: a bash that is /bin/sh is then in its POSIX mode, as /bin/sh) runs
 * boot where it is, and any other execs /bin/sh for it, as does sudo
 * with become. */
static char *line_around(const char *boot, const char *become,
                         const struct strlist *args)
{
    struct buf b =
        BUF_INIT(line_max(strlen(boot), NULL, args) + sizeof(boot_tail));

    if (become)
        return script_command_line(boot, become, args);
    BUF_MUST(buf_adds(&b, "oneoff_b="));
    BUF_MUST(sh_quote(&b, boot));
    BUF_MUST(buf_adds(&b, "; set --"));
    add_args(&b, args);
    BUF_MUST(buf_adds(&b, boot_tail));
    return buf_detach(&b);
}

/* The boot line for a script of len bytes. */
static char *boot_line(size_t len, const char *become,
                       const struct strlist *args)
{
    char *boot = xasprintf(boot_fmt, len, len, len);
    char *line = line_around(boot, become, args);

    free(boot);
    return line;
}

char *script_boot_line_shown(const char *become, const struct strlist *args)
{
    return line_around("<reads the script from stdin>", become, args);
}

size_t script_boot_line_max(const char *become, const struct strlist *args)
{
    char *line = boot_line(SIZE_MAX, become, args);
    size_t n = strlen(line);

    free(line);
    return n;
}

char *script_compose_boot(const struct script_spec *s, const char *become,
                          const struct strlist *args, char **input)
{
    struct compose c = {BUF_INIT(compose_max(s) + 16), NULL};
    char *line;

    BUF_MUST(buf_adds(&c.pre, "{\n"));
    compose(&c, s);
    BUF_MUST(buf_adds(&c.pre, "\nexit\n}\n"));
    line = boot_line(c.pre.len, become, args);
    *input = buf_detach(&c.pre);
    return line;
}

char *script_command_line(const char *script, const char *become,
                          const struct strlist *args)
{
    struct buf b = BUF_INIT(line_max(strlen(script), become, args));

    line_head(&b, become);
    BUF_MUST(sh_quote(&b, script));
    line_tail(&b, args);
    return buf_detach(&b);
}

char *script_copy_line(const char *app_dir, const char *become,
                       const char *run_id)
{
    /* app_dir as the host script enters it: relative to the login
     * directory, never through CDPATH; one process (cat) */
    static const char copy[] =
        "umask 077 && case $1 in /*) ;; *) set -- \"./$1\" \"$2\" ;; esac &&"
        " cd -P -- \"$1\" && d=shared/.oneoff/consoles &&"
        " { [ -d \"$d\" ] || mkdir -p -- \"$d\"; } &&"
        " exec cat >\"$d/$2.cast\"";
    struct strlist args = {0};
    char *line;

    strlist_push(&args, app_dir);
    strlist_push(&args, run_id);
    line = script_command_line(copy, become, &args);
    strlist_clear(&args);
    return line;
}

int script_nonce_new(char out[SCRIPT_NONCE_LEN + 1], char *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[SCRIPT_NONCE_LEN / 2];
    size_t got = 0;

    out[0] = '\0';
    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return errf(err, "cannot read random bytes: %s", strerror(errno));
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[SCRIPT_NONCE_LEN] = '\0';
    return 0;
}
