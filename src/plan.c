/*
 * plan.c - host selection and per-host script composition.
 *
 * Selection order: --limit patterns, node sets or globs (a positive one
 * that matches no host is an error, since a typo there must not widen or
 * empty a production run),
 * then --role, then the task's run_on. `run_on: primary` must find exactly
 * one primary among the selected hosts (of the task's role when it names
 * one): zero or several is an error naming the candidates, so that a
 * migration can never run on two hosts because of a selection mistake.
 * The hosts run_on leaves out stay in the plan as check-only hosts (see
 * plan.h), unless --release pins the release.
 *
 * Every host's command line must fit one argument of the host's login
 * shell (SCRIPT_COMMAND_LINE_MAX): a plan that would not is refused here,
 * before anything connects, rather than failing on the hosts.
 */
#include "oneoff/plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/history.h"
#include "oneoff/nodeset.h"
#include "oneoff/text.h"

/* One --limit item: "!" excludes; "@ROLE" is every host of a role (an
 * inventory group), anything else a pattern of node sets and globs. */
struct limit {
    bool exclude;
    const char *role; /* "@ROLE": ROLE, else NULL */
    struct nodeset_match m;
};

static bool limit_hit(const struct limit *l, const struct host *h)
{
    return l->role ? host_has_role(h, l->role)
                   : nodeset_match_test(&l->m, h->name);
}

static bool limit_match(const struct limit *l, size_t n, const struct host *h)
{
    bool have_pos = false, in = false;

    for (size_t i = 0; i < n; i++) {
        if (l[i].exclude)
            continue;
        have_pos = true;
        if (limit_hit(&l[i], h))
            in = true;
    }
    if (have_pos && !in)
        return false;
    for (size_t i = 0; i < n; i++)
        if (l[i].exclude && limit_hit(&l[i], h))
            return false;
    return true;
}

static void limits_release(struct limit *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        nodeset_match_release(&l[i].m);
    free(l);
}

static int limit_init(struct limit *l, const struct inventory *inv,
                      const char *item, char *err)
{
    const char *g = item;
    char msg[ERR_MAX], q[ERR_MAX / 2];
    bool hit = false;

    l->exclude = *g == '!';
    g += l->exclude;
    if (*g == '\0')
        return errf(err, "empty pattern in --limit");
    if (*g == '@') {
        l->role = g + 1;
        if (!name_valid(l->role))
            return errf(err,
                        "--limit '%s': '@' takes a role (group) name, "
                        "alone in its item ('@web,!web2')",
                        text_escape_msg(item, q, sizeof(q)));
    } else if (strchr(g, '[') && strchr(g, ':')) {
        return errf(err,
                    "--limit '%s': write ranges with '-' (web[1-3]); "
                    "Ansible's [0:2] slices a group, which --limit does not "
                    "do",
                    text_escape_msg(item, q, sizeof(q)));
    } else if (nodeset_match_init(&l->m, g, msg)) {
        return errf(err, "--limit: %s", text_escape_msg(msg, q, sizeof(q)));
    }
    for (size_t j = 0; j < inv->nhosts && !hit; j++)
        hit = limit_hit(l, &inv->hosts[j]);
    if (!hit && l->role)
        return errf(err, "--limit '%s': no host of stage '%s' has role '%s'",
                    text_escape_msg(item, q, sizeof(q)), inv->stage, l->role);
    if (!hit)
        return errf(err, "--limit '%s' matches no host of stage '%s'",
                    text_escape_msg(item, q, sizeof(q)), inv->stage);
    return 0;
}

/* Compiles every --limit item and checks each matches some host. */
static int check_limits(const struct inventory *inv,
                        const struct strlist *limits, struct limit **out,
                        char *err)
{
    struct limit *l = xcalloc(limits->n ? limits->n : 1, sizeof(*l));

    *out = NULL;
    for (size_t i = 0; i < limits->n; i++) {
        if (limit_init(&l[i], inv, limits->v[i], err)) {
            limits_release(l, i + 1);
            return -1;
        }
    }
    *out = l;
    return 0;
}

static bool roles_match(const struct strlist *roles, const struct host *h)
{
    if (roles->n == 0)
        return true;
    for (size_t i = 0; i < roles->n; i++)
        if (host_has_role(h, roles->v[i]))
            return true;
    return false;
}

static void names_of(const struct host **v, size_t n, char *out, size_t sz)
{
    size_t off = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && off < sz; i++)
        off += (size_t)snprintf(out + off, sz - off, "%s%s", i ? ", " : "",
                                v[i]->name);
}

/* Keeps, in place, the hosts the task's run_on asks for. */
static int apply_run_on(const struct inventory *inv, const struct task *t,
                        const struct host **sel, size_t *n, char *err)
{
    char names[ERR_MAX / 2];
    size_t k = 0, cand = 0;
    const struct host *prim[2] = {NULL, NULL};

    if (t == NULL || t->run_on == RUN_ON_ALL)
        return 0;
    if (t->run_on == RUN_ON_ONE) {
        *n = *n > 0 ? 1 : 0;
        return 0;
    }
    if (t->run_on == RUN_ON_ROLE) {
        for (size_t i = 0; i < *n; i++)
            if (host_has_role(sel[i], t->role))
                sel[k++] = sel[i];
        if (k == 0) {
            names_of(sel, *n, names, sizeof(names));
            return errf(err,
                        "task '%s' runs on role '%s', but no selected host "
                        "of stage '%s' has it (selected: %s)",
                        t->name, t->role, inv->stage, names);
        }
        *n = k;
        return 0;
    }
    /* RUN_ON_PRIMARY */
    for (size_t i = 0; i < *n; i++) {
        if (t->role && !host_has_role(sel[i], t->role))
            continue;
        cand++;
        if (sel[i]->primary && k < 2)
            prim[k++] = sel[i];
        else if (sel[i]->primary)
            k++;
    }
    if (k == 1) {
        sel[0] = prim[0];
        *n = 1;
        return 0;
    }
    if (k == 0 && t->role) {
        size_t m = 0;
        for (size_t i = 0; i < *n; i++)
            if (host_has_role(sel[i], t->role))
                sel[m++] = sel[i];
        *n = m;
    }
    names_of(sel, *n, names, sizeof(names));
    if (k == 0)
        return errf(err,
                    "task '%s' runs on the primary host%s%s%s, but none of "
                    "the %zu candidate host(s) is marked 'primary: true' "
                    "(candidates: %s)",
                    t->name, t->role ? " of role '" : "",
                    t->role ? t->role : "", t->role ? "'" : "", cand, names);
    return errf(err,
                "task '%s' runs on the primary host, but %zu selected hosts "
                "are primary (%s, %s%s); narrow it with --role or a 'role' "
                "in the task",
                t->name, k, prim[0]->name, prim[1]->name, k > 2 ? ", ..." : "");
}

/* The stage selection: --limit, then --role, before run_on. */
static int select_stage(const struct inventory *inv, const struct plan_opts *o,
                        const struct host ***selp, size_t *nsel, char *err)
{
    const struct host **sel;
    struct limit *lm = NULL;
    size_t n = 0;

    *selp = NULL;
    *nsel = 0;
    if (check_limits(inv, &o->limits, &lm, err))
        return -1;
    for (size_t i = 0; i < o->roles.n; i++) {
        bool known = false;
        for (size_t j = 0; j < inv->nhosts && !known; j++)
            known = host_has_role(&inv->hosts[j], o->roles.v[i]);
        if (!known) {
            limits_release(lm, o->limits.n);
            return errf(err, "--role '%s': no host of stage '%s' has it",
                        o->roles.v[i], inv->stage);
        }
    }
    sel = xcalloc(inv->nhosts, sizeof(*sel));
    for (size_t i = 0; i < inv->nhosts; i++) {
        const struct host *h = &inv->hosts[i];
        if (limit_match(lm, o->limits.n, h) && roles_match(&o->roles, h))
            sel[n++] = h;
    }
    limits_release(lm, o->limits.n);
    if (n == 0) {
        free(sel);
        return errf(err, "no host of stage '%s' matches the selection",
                    inv->stage);
    }
    *selp = sel;
    *nsel = n;
    return 0;
}

int plan_select(const struct inventory *inv, const struct task *t,
                const struct plan_opts *o, const struct host ***selp,
                size_t *nsel, char *err)
{
    if (select_stage(inv, o, selp, nsel, err))
        return -1;
    if (apply_run_on(inv, t, *selp, nsel, err)) {
        free(*selp);
        *selp = NULL;
        *nsel = 0;
        return -1;
    }
    return 0;
}

/* The script spec of ph in mode (label allocated: caller frees it). */
static void spec_of(const struct plan *p, const struct plan_host *ph,
                    enum script_mode mode, struct script_spec *spec,
                    char **label)
{
    const struct task *t = p->task;
    const struct host *h = ph->host;

    *label = t->adhoc ? xasprintf("command on host '%s' of stage '%s'", h->name,
                                  p->inv->stage)
                      : xasprintf("task '%s' on host '%s' of stage '%s'",
                                  t->name, h->name, p->inv->stage);
    memset(spec, 0, sizeof(*spec));
    spec->mode = mode;
    spec->label = *label;
    spec->app_dir = h->set.app_dir;
    spec->release = ph->release;
    spec->revision_file = h->set.revision_file;
    spec->env_files = &h->set.env_file;
    spec->env = &ph->env;
    spec->task_file = t->adhoc ? NULL : ph->task_file;
    spec->lock = t->lock && !ph->check_only ? t->name : NULL;
    spec->lock_wait_s = p->wait_lock_s;
    spec->check_locks =
        mode == SCRIPT_CHECK && p->check_locks && !ph->check_only;
    spec->once_sha256 = mode == SCRIPT_RUN && t->once ? t->sha256 : NULL;
    spec->pty = mode == SCRIPT_RUN && t->pty;
    spec->input = mode == SCRIPT_RUN && p->input;
    spec->command = t->command;
    spec->runtime = &ph->rt;
    spec->host = h->name;
    spec->job = p->job;
    spec->job_run = p->job_run;
    spec->hist = p->hist;
}

/* The script on the host's stdin when the caller takes an input and no
 * terminal would rewrite it; otherwise all of it in the line. */
static char *compose_line(const struct script_spec *spec, const char *become,
                          const struct strlist *args, char **input)
{
    if (input == NULL || spec->pty) {
        if (input)
            *input = NULL;
        return script_compose_line(spec, become, args);
    }
    return script_compose_boot(spec, become, args, input);
}

char *plan_command(const struct plan *p, const struct plan_host *ph,
                   enum script_mode mode, const char *nonce, const char *run_id,
                   const char *lock_holder, const struct plan_history *hist,
                   char **input)
{
    struct script_spec spec;
    char *label, *line;

    if (ph->check_only)
        mode = SCRIPT_CHECK;
    spec_of(p, ph, mode, &spec, &label);
    spec.nonce = nonce;
    spec.run_id = run_id;
    spec.lock_holder = lock_holder;
    if (hist) {
        spec.start_head = hist->start_head;
        spec.end_prefix = hist->end_prefix;
    }
    line = compose_line(&spec, ph->become, mode == SCRIPT_RUN ? &p->args : NULL,
                        input);
    free(label);
    return line;
}

char *plan_dry_run_script(const struct plan *p, const struct plan_host *ph)
{
    struct script_spec spec;
    char *label, *script;

    spec_of(p, ph, ph->check_only ? SCRIPT_CHECK : SCRIPT_RUN, &spec, &label);
    spec.nonce = "<nonce>";
    spec.run_id = "<run id>";
    spec.lock_holder = "run <run id> by <operator> since <time> on <host>";
    script = script_compose(&spec);
    free(label);
    return script;
}

char *plan_note_command(const struct plan *p, const struct plan_host *ph,
                        const char *nonce, const char *note, char **input)
{
    struct script_spec spec;
    char *label, *line;

    spec_of(p, ph, SCRIPT_HISTORY_NOTE, &spec, &label);
    spec.nonce = nonce;
    spec.note = note;
    line = compose_line(&spec, ph->become, NULL, input);
    free(label);
    return line;
}

static char *filled(char c, size_t n)
{
    char *s = xmalloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* The longest command line ph can be sent. The script comes on the host's
 * stdin and the line holds only its length, but for a console's task (on
 * a terminal): then both modes are composed, with a nonce, run id and
 * holder line as long as plan_command() lets them be. */
static size_t longest_line(const struct plan *p, const struct plan_host *ph)
{
    char *nonce, *id, *holder, *head, *end;
    struct plan_history hist;
    size_t most = 0;

    if (ph->check_only || !p->task->pty)
        return script_boot_line_max(ph->become,
                                    ph->check_only ? NULL : &p->args);
    nonce = filled('f', SCRIPT_NONCE_LEN);
    id = filled('x', SCRIPT_RUN_ID_MAX);
    holder = filled('x', SCRIPT_HOLDER_MAX);
    /* the head at its longest (it holds no single quote: no byte of it
     * grows when quoted) */
    head = filled('x', HISTORY_LINE_MAX - HISTORY_TAIL_MAX - 1);
    end = history_end_prefix(id, ph->host->name);
    hist = (struct plan_history){.start_head = head, .end_prefix = end};
    for (int m = 0; m < 2; m++) {
        char *input = NULL;
        char *line = plan_command(p, ph, m ? SCRIPT_CHECK : SCRIPT_RUN, nonce,
                                  id, holder, &hist, &input);
        if (strlen(line) > most)
            most = strlen(line);
        free(line);
        free(input);
    }
    free(nonce);
    free(id);
    free(holder);
    free(head);
    free(end);
    return most;
}

static size_t args_bytes(const struct strlist *args)
{
    size_t n = 0;

    for (size_t i = 0; i < args->n; i++)
        n += strlen(args->v[i]);
    return n;
}

static size_t env_bytes(const struct kvlist *env)
{
    size_t n = 0;

    for (size_t i = 0; i < env->n; i++)
        n += strlen(env->key[i]) + strlen(env->val[i]);
    return n;
}

/* What a host can take: the literal env must leave the script's own
 * variables alone, and the command line must fit one argument. */
static int check_host(const struct plan *p, const struct plan_host *ph,
                      char *err)
{
    size_t len;

    for (size_t i = 0; i < ph->env.n; i++)
        if (strncmp(ph->env.key[i], "oneoff_", 7) == 0)
            return errf(err,
                        "env '%s' for host '%s': names starting with "
                        "'oneoff_' are reserved for oneoff's host script",
                        ph->env.key[i], ph->host->name);
    len = longest_line(p, ph);
    if (len <= SCRIPT_COMMAND_LINE_MAX)
        return 0;
    return errf(err,
                "the command line for host '%s' would be %zu bytes, more "
                "than the %d a host accepts as one argument (the command "
                "is %zu bytes, its arguments %zu, the literal env %zu); "
                "put the command in a script in the release and run that",
                ph->host->name, len, SCRIPT_COMMAND_LINE_MAX,
                strlen(p->task->command), args_bytes(&p->args),
                env_bytes(&ph->env));
}

static void compose_host(struct plan *p, struct plan_host *ph,
                         const struct host *h, const struct plan_opts *o)
{
    const struct task *t = p->task;

    ph->host = h;
    ph->release = o->release
                      ? xasprintf("releases/%s", o->release)
                      : xstrdup(h->set.release ? h->set.release : "current");
    ph->task_file = xasprintf("tasks/%s.yml", t->name);
    kvlist_merge(&ph->env, &h->set.env);
    kvlist_merge(&ph->env, &t->env);
    kvlist_merge(&ph->env, &o->env);
    ph->become = t->become ? t->become : h->set.become;
    runtime_copy(&ph->rt, &h->set.rt);
    runtime_merge(&ph->rt, &t->rt);
}

/* A container runtime: whole, in the image's own release, and with an env
 * an engine's env file can carry. */
static int check_runtime(const struct plan_host *ph, const char *release,
                         char *err)
{
    char where[300];

    snprintf(where, sizeof(where), "host '%s'", ph->host->name);
    if (runtime_check(&ph->rt, where, err))
        return -1;
    if (ph->rt.kind == RUNTIME_PLAIN)
        return 0;
    if (release)
        return errf(err,
                    "--release: host '%s' runs the task in a container "
                    "('runtime: %s'), whose image is its release",
                    ph->host->name, runtime_name(ph->rt.kind));
    for (size_t i = 0; i < ph->env.n; i++)
        if (strchr(ph->env.val[i], '\n'))
            return errf(err,
                        "env '%s' for host '%s' holds a newline, which a "
                        "container's env file cannot carry",
                        ph->env.key[i], ph->host->name);
    return 0;
}

static bool selected(const struct host *const *v, size_t n,
                     const struct host *h)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == h)
            return true;
    return false;
}

int plan_build(struct plan *p, const struct inventory *inv,
               const struct task *t, const struct plan_opts *o, char *err)
{
    const struct host **stage = NULL, **run = NULL;
    size_t nstage = 0, n = 0, k = 0;
    bool checks;

    memset(p, 0, sizeof(*p));
    if (t->args == TASK_ARGS_NONE && o->args.n > 0)
        return errf(err,
                    "task '%s' takes no arguments ('args: none'), but %zu "
                    "were given after '--'",
                    t->name, o->args.n);
    if (o->release && !name_valid(o->release))
        return errf(err, "'%s' is not a valid release id", o->release);
    if (select_stage(inv, o, &stage, &nstage, err))
        return -1;
    run = xcalloc(nstage, sizeof(*run));
    memcpy(run, stage, nstage * sizeof(*run));
    n = nstage;
    if (apply_run_on(inv, t, run, &n, err)) {
        free(run);
        free(stage);
        return -1;
    }
    /* --release pins the release: the stage's `current` does not matter */
    checks = o->release == NULL && !t->adhoc;
    p->inv = inv;
    p->task = t;
    p->confirm = inv->confirm || t->confirm;
    p->wait_lock_s = (long)((o->wait_lock_ms + 999) / 1000);
    p->input = o->input;
    strlist_copy(&p->args, &o->args);
    history_mask_args(&p->args, &t->secret_args, &p->shown_args);
    p->hosts = xcalloc(nstage, sizeof(*p->hosts));
    p->nrun = n;
    for (size_t i = 0; i < nstage; i++) {
        bool runs = selected(run, n, stage[i]);
        if (!runs && !checks)
            continue;
        compose_host(p, &p->hosts[k], stage[i], o);
        p->hosts[k++].check_only = !runs;
    }
    p->nhosts = k;
    free(run);
    free(stage);
    for (size_t i = 0; i < k; i++) {
        if (check_runtime(&p->hosts[i], o->release, err) ||
            check_host(p, &p->hosts[i], err)) {
            plan_release(p);
            return -1;
        }
    }
    return 0;
}

const char *plan_kind(const struct plan *p)
{
    return p->task->pty ? "console" : "run";
}

void plan_release(struct plan *p)
{
    for (size_t i = 0; i < p->nhosts; i++) {
        struct plan_host *ph = &p->hosts[i];
        free(ph->release);
        free(ph->task_file);
        kvlist_clear(&ph->env);
        runtime_release(&ph->rt);
    }
    free(p->hosts);
    strlist_clear(&p->args);
    strlist_clear(&p->shown_args);
    memset(p, 0, sizeof(*p));
}

static int count_of(const char *s, size_t total, size_t *out)
{
    char *end = NULL;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    v = strtoul(s, &end, 10);
    if (end == s || v == 0 || v > 1000000)
        return -1;
    if (*end == '%' && end[1] == '\0') {
        if (v > 100)
            return -1;
        *out = (total * v + 99) / 100;
        if (*out == 0)
            *out = 1;
        return 0;
    }
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

int rollout_parse(const char *batch, const char *max_fail, size_t nhosts,
                  struct rollout *out, char *err)
{
    struct strlist items = {0};
    const char *p = batch;

    memset(out, 0, sizeof(*out));
    out->max_fail = SIZE_MAX;
    if (max_fail && count_of(max_fail, nhosts, &out->max_fail))
        return errf(err,
                    "max_fail '%s': expected a number of hosts (N) or "
                    "a percentage (N%%), at least 1",
                    max_fail);
    while (batch && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        strlist_push_owned(&items, xstrndup(p, n));
        p = c ? c + 1 : p + n;
    }
    out->sizes = xcalloc(items.n ? items.n : 1, sizeof(*out->sizes));
    for (size_t i = 0; i < items.n; i++) {
        if (count_of(items.v[i], nhosts, &out->sizes[i])) {
            int rc = errf(err,
                          "batch '%s': '%s' is not a number of hosts "
                          "(N) or a percentage (N%%), at least 1",
                          batch, items.v[i]);
            strlist_clear(&items);
            rollout_release(out);
            return rc;
        }
    }
    out->nsizes = items.n;
    strlist_clear(&items);
    return 0;
}

void rollout_release(struct rollout *r)
{
    free(r->sizes);
    memset(r, 0, sizeof(*r));
}

void plan_opts_release(struct plan_opts *o)
{
    strlist_clear(&o->limits);
    strlist_clear(&o->roles);
    strlist_clear(&o->args);
    kvlist_clear(&o->env);
}
