/*
 * history.c - history.jsonl lines (jansson) and runs merged across hosts.
 *
 * The client composes every start line whole, so the host never escapes
 * JSON in sh; it only completes the end line from a prefix and a few
 * numbers and words of its own. Parsing is strict about types and lenient
 * about unknown fields (a newer oneoff may add some): a line that is not
 * what this version can use is a problem to report, never a reason to stop
 * reading.
 */
#include "oneoff/history.h"
#include "oneoff/json_text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"

static const char *const outcome_names[] = {
    [HIST_UNKNOWN] = "unknown", [HIST_SUCCEEDED] = "succeeded",
    [HIST_FAILED] = "failed",   [HIST_SIGNALLED] = "signalled",
    [HIST_TIMEOUT] = "timeout", [HIST_INTERRUPTED] = "interrupted",
    [HIST_LOST] = "lost",       [HIST_CANCELLED] = "cancelled",
};

#define NOUTCOMES (sizeof(outcome_names) / sizeof(outcome_names[0]))

const char *history_outcome_name(enum history_outcome o)
{
    return (size_t)o < NOUTCOMES ? outcome_names[o] : "unknown";
}

bool history_outcome_parse(const char *s, enum history_outcome *out)
{
    for (size_t i = 0; i < NOUTCOMES; i++)
        if (strcmp(s, outcome_names[i]) == 0) {
            *out = (enum history_outcome)i;
            return true;
        }
    return false;
}

/* ---- composing ----------------------------------------------------------- */

/* ---- parsing ------------------------------------------------------------- */

void history_line_release(struct history_line *l)
{
    char **strs[] = {
        &l->run,           &l->host,   &l->at,      &l->kind,    &l->stage,
        &l->task,          &l->sha256, &l->command, &l->release, &l->revision,
        &l->operator_name, &l->email,  &l->reason,  &l->signal,  &l->to_stage};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    strlist_clear(&l->args);
    strlist_clear(&l->overrides);
}

/* Field name of o: a string (copied into *out), or null when nullable. */
static int get_str(json_t *o, const char *name, bool nullable, char **out,
                   char *err)
{
    json_t *v = json_object_get(o, name);

    if (v && json_is_string(v)) {
        *out = xstrndup(json_string_value(v), json_string_length(v));
        return 0;
    }
    if (nullable && (v == NULL || json_is_null(v)))
        return 0;
    return errf(err, "field '%s' %s", name,
                v ? "is not a string" : "is missing");
}

static int get_list(json_t *o, const char *name, struct strlist *out, char *err)
{
    json_t *v = json_object_get(o, name), *e;
    size_t i;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return errf(err, "field '%s' is not a list", name);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return errf(err, "field '%s' holds a non-string", name);
        strlist_push(out, json_string_value(e));
    }
    return 0;
}

static int parse_start(json_t *o, struct history_line *l, char *err)
{
    if (get_str(o, "kind", true, &l->kind, err) ||
        get_str(o, "stage", false, &l->stage, err) ||
        get_str(o, "task", true, &l->task, err) ||
        get_str(o, "sha256", false, &l->sha256, err) ||
        get_str(o, "command", true, &l->command, err) ||
        get_list(o, "args", &l->args, err) ||
        get_str(o, "release", true, &l->release, err) ||
        get_str(o, "revision", true, &l->revision, err) ||
        get_str(o, "operator", true, &l->operator_name, err) ||
        get_str(o, "email", true, &l->email, err) ||
        get_str(o, "reason", true, &l->reason, err) ||
        get_list(o, "overrides", &l->overrides, err))
        return -1;
    return 0;
}

static int parse_gate_skipped(json_t *o, struct history_line *l, char *err)
{
    if (get_str(o, "stage", false, &l->stage, err) ||
        get_str(o, "to_stage", false, &l->to_stage, err) ||
        get_str(o, "task", true, &l->task, err) ||
        get_str(o, "sha256", false, &l->sha256, err) ||
        get_str(o, "operator", true, &l->operator_name, err) ||
        get_str(o, "email", true, &l->email, err) ||
        get_str(o, "reason", true, &l->reason, err))
        return -1;
    return 0;
}

static int parse_end(json_t *o, struct history_line *l, char *err)
{
    json_t *v;
    char *outcome = NULL;
    int rc = 0;

    if (get_str(o, "outcome", false, &outcome, err) ||
        get_str(o, "signal", true, &l->signal, err))
        rc = -1;
    else if (!history_outcome_parse(outcome, &l->outcome) ||
             l->outcome == HIST_UNKNOWN)
        rc = errf(err, "unknown outcome");
    free(outcome);
    if (rc)
        return rc;
    v = json_object_get(o, "exit");
    if (v && json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= 255)
        l->exit_code = (int)json_integer_value(v);
    else if (v && !json_is_null(v))
        return errf(err, "field 'exit' is not an exit status");
    v = json_object_get(o, "duration_ms");
    if (v && json_is_integer(v) && json_integer_value(v) >= 0)
        l->duration_ms = json_integer_value(v);
    return 0;
}

int history_parse_line(const char *line, size_t len, struct history_line *out,
                       char *err)
{
    json_error_t je;
    json_t *o, *v;
    char *event = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->exit_code = -1;
    out->duration_ms = -1;
    o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL)
        return errf(err, "not JSON (column %d)", je.column);
    if (!json_is_object(o)) {
        errf(err, "not a JSON object");
        goto out;
    }
    v = json_object_get(o, "v");
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        errf(err, "no format version");
        goto out;
    }
    if (json_integer_value(v) > HISTORY_FORMAT) {
        errf(err, "format %lld is newer than this oneoff's",
             (long long)json_integer_value(v));
        goto out;
    }
    if (get_str(o, "event", false, &event, err) ||
        get_str(o, "run", false, &out->run, err) ||
        get_str(o, "host", false, &out->host, err) ||
        get_str(o, "at", false, &out->at, err))
        goto out;
    if (strcmp(event, "start") == 0) {
        out->event = HIST_EVENT_START;
        rc = parse_start(o, out, err);
    } else if (strcmp(event, "end") == 0) {
        out->event = HIST_EVENT_END;
        rc = parse_end(o, out, err);
    } else if (strcmp(event, "gate-skipped") == 0) {
        out->event = HIST_EVENT_GATE_SKIPPED;
        rc = parse_gate_skipped(o, out, err);
    } else {
        errf(err, "unknown event");
    }
    if (rc == 0 && out->run[0] == '\0')
        rc = errf(err, "empty run id");
out:
    free(event);
    json_decref(o);
    return rc;
}

/* ---- merging ------------------------------------------------------------- */

void history_init(struct history *h)
{
    memset(h, 0, sizeof(*h));
}

static void run_release(struct history_run *r)
{
    char **strs[] = {&r->run,           &r->kind,    &r->stage,   &r->task,
                     &r->sha256,        &r->command, &r->release, &r->revision,
                     &r->operator_name, &r->email,   &r->reason,  &r->at,
                     &r->skipped_for};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    strlist_clear(&r->args);
    strlist_clear(&r->overrides);
    strlist_clear(&r->skipped_on);
    for (size_t i = 0; i < r->nhosts; i++) {
        struct history_host *hh = &r->hosts[i];
        free(hh->host);
        free(hh->started_at);
        free(hh->ended_at);
        free(hh->signal);
        free(hh->release);
        free(hh->revision);
    }
    free(r->hosts);
}

void history_release(struct history *h)
{
    for (size_t i = 0; i < h->n; i++)
        run_release(&h->runs[i]);
    free(h->runs);
    for (size_t i = 0; i < h->nproblems; i++) {
        free(h->problems[i].host);
        free(h->problems[i].what);
    }
    free(h->problems);
    history_init(h);
}

void history_add_problem(struct history *h, const char *host, size_t line,
                         const char *what)
{
    struct history_problem *p;

    xgrow((void **)&h->problems, &h->problems_alloc, h->nproblems + 1,
          sizeof(*h->problems));
    p = &h->problems[h->nproblems++];
    p->host = xstrdup(host ? host : "");
    p->line = line;
    p->what = xstrdup(what);
}

static struct history_run *run_get(struct history *h, const char *id)
{
    struct history_run *r;

    for (size_t i = h->n; i > 0; i--) /* lines of one run come together */
        if (strcmp(h->runs[i - 1].run, id) == 0)
            return &h->runs[i - 1];
    xgrow((void **)&h->runs, &h->alloc, h->n + 1, sizeof(*h->runs));
    r = &h->runs[h->n++];
    memset(r, 0, sizeof(*r));
    r->run = xstrdup(id);
    return r;
}

static struct history_host *host_get(struct history_run *r, const char *host)
{
    struct history_host *hh;

    for (size_t i = 0; i < r->nhosts; i++)
        if (strcmp(r->hosts[i].host, host) == 0)
            return &r->hosts[i];
    xgrow((void **)&r->hosts, &r->hosts_alloc, r->nhosts + 1,
          sizeof(*r->hosts));
    hh = &r->hosts[r->nhosts++];
    memset(hh, 0, sizeof(*hh));
    hh->host = xstrdup(host);
    hh->exit_code = -1;
    hh->duration_ms = -1;
    return hh;
}

static char *take(char **p)
{
    char *s = *p;

    *p = NULL;
    return s;
}

/* *dst = the value of *src (taken), freeing what *dst held. */
static void put(char **dst, char **src)
{
    free(*dst);
    *dst = take(src);
}

static void merge_start(struct history_run *r, struct history_line *l)
{
    struct history_host *hh = host_get(r, l->host);

    if (hh->started_at == NULL) {
        hh->started_at = xstrdup(l->at);
        hh->release = l->release ? xstrdup(l->release) : NULL;
        hh->revision = l->revision ? xstrdup(l->revision) : NULL;
    }
    if (r->at == NULL || strcmp(l->at, r->at) < 0) {
        free(r->at);
        r->at = xstrdup(l->at);
    }
    if (r->has_start)
        return;
    r->has_start = true; /* over what a gate-skipped line set */
    r->kind = take(&l->kind);
    put(&r->stage, &l->stage);
    put(&r->task, &l->task);
    put(&r->sha256, &l->sha256);
    r->command = take(&l->command);
    r->release = take(&l->release);
    r->revision = take(&l->revision);
    put(&r->operator_name, &l->operator_name);
    put(&r->email, &l->email);
    put(&r->reason, &l->reason);
    r->args = l->args;
    memset(&l->args, 0, sizeof(l->args));
    r->overrides = l->overrides;
    memset(&l->overrides, 0, sizeof(l->overrides));
}

static void merge_end(struct history_run *r, struct history_line *l)
{
    struct history_host *hh = host_get(r, l->host);

    if (hh->ended_at)
        return; /* the first end line counts */
    hh->ended_at = take(&l->at);
    hh->outcome = l->outcome;
    hh->exit_code = l->exit_code;
    hh->signal = take(&l->signal);
    hh->duration_ms = l->duration_ms;
}

/* A gate-skipped line: a mark on the run; its fields only where no start
 * line gave them. */
static void merge_gate_skipped(struct history_run *r, struct history_line *l)
{
    strlist_push(&r->skipped_on, l->host);
    if (r->skipped_for)
        return;
    r->skipped_for = take(&l->to_stage);
    if (r->has_start)
        return;
    r->stage = take(&l->stage);
    r->task = take(&l->task);
    r->sha256 = take(&l->sha256);
    r->operator_name = take(&l->operator_name);
    r->email = take(&l->email);
    r->reason = take(&l->reason);
    if (r->at == NULL)
        r->at = take(&l->at);
}

void history_add_text(struct history *h, const char *host, const char *text,
                      size_t len)
{
    size_t off = 0, lineno = 0;

    while (off < len) {
        const char *p = text + off;
        const char *nl = memchr(p, '\n', len - off);
        size_t n = nl ? (size_t)(nl - p) : len - off;
        struct history_line l;
        char err[ERR_MAX], what[ERR_MAX + 64];

        off += n + (nl != NULL);
        lineno++;
        if (n == 0)
            continue;
        if (history_parse_line(p, n, &l, err) == 0) {
            struct history_run *r = run_get(h, l.run);
            if (l.event == HIST_EVENT_START)
                merge_start(r, &l);
            else if (l.event == HIST_EVENT_GATE_SKIPPED)
                merge_gate_skipped(r, &l);
            else
                merge_end(r, &l);
        } else {
            snprintf(what, sizeof(what), "%s%s",
                     nl ? "" : "truncated last line: ", err);
            history_add_problem(h, host, lineno, what);
            h->bad_lines++;
        }
        history_line_release(&l);
    }
}

static int run_cmp(const void *a, const void *b)
{
    const struct history_run *x = a, *y = b;
    int c = strcmp(y->run, x->run);

    if (c == 0 && x->at && y->at)
        c = strcmp(y->at, x->at);
    return c;
}

void history_sort(struct history *h)
{
    if (h->n > 1)
        qsort(h->runs, h->n, sizeof(*h->runs), run_cmp);
}

const struct history_run *history_find(const struct history *h,
                                       const char *run_id)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->runs[i].run, run_id) == 0)
            return &h->runs[i];
    return NULL;
}

enum history_outcome history_run_outcome(const struct history_run *r)
{
    bool unknown = false;

    for (size_t i = 0; i < r->nhosts; i++) {
        if (r->hosts[i].ended_at == NULL)
            unknown = true;
        else if (r->hosts[i].outcome != HIST_SUCCEEDED)
            return r->hosts[i].outcome;
    }
    if (unknown || r->nhosts == 0)
        return HIST_UNKNOWN;
    return HIST_SUCCEEDED;
}

static const char *const verdict_names[] = {
    [HISTORY_NEVER] = "never run",
    [HISTORY_SUCCEEDED] = "succeeded",
    [HISTORY_UNKNOWN] = "started, never ended",
    [HISTORY_FAILED] = "failed",
    [HISTORY_OTHER_REVISION] = "succeeded on another revision",
};

const char *history_verdict_name(enum history_verdict v)
{
    return (size_t)v < sizeof(verdict_names) / sizeof(verdict_names[0])
               ? verdict_names[v]
               : "unknown";
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

enum history_verdict history_lookup(const struct history *h,
                                    const struct history_query *q,
                                    const struct history_run **run)
{
    const struct history_run *found[HISTORY_OTHER_REVISION + 1] = {NULL};
    enum history_verdict order[] = {HISTORY_SUCCEEDED, HISTORY_UNKNOWN,
                                    HISTORY_FAILED, HISTORY_OTHER_REVISION};

    if (run)
        *run = NULL;
    for (size_t i = 0; i < h->n; i++) {
        const struct history_run *r = &h->runs[i];
        enum history_outcome o;
        enum history_verdict v;

        if (!r->has_start || !same(r->sha256, q->sha256) ||
            (q->stage && !same(r->stage, q->stage)))
            continue;
        o = history_run_outcome(r);
        if (o == HIST_SUCCEEDED)
            v = q->revision && !same(r->revision, q->revision)
                    ? HISTORY_OTHER_REVISION
                    : HISTORY_SUCCEEDED;
        else
            v = o == HIST_UNKNOWN ? HISTORY_UNKNOWN : HISTORY_FAILED;
        /* the newest of each kind: runs are sorted newest first, but a
         * caller may not have sorted them */
        if (found[v] == NULL || strcmp(r->run, found[v]->run) > 0)
            found[v] = r;
    }
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        if (found[order[k]]) {
            if (run)
                *run = found[order[k]];
            return order[k];
        }
    return HISTORY_NEVER;
}

/* ---- JSON out ------------------------------------------------------------ */

static json_t *run_json(const struct history_run *r)
{
    json_t *o = json_object(), *hosts = json_array();

    json_object_set_new(o, "run", json_text(r->run));
    json_object_set_new(o, "kind", json_text(r->kind));
    json_object_set_new(o, "stage", json_text(r->stage));
    json_object_set_new(o, "task", json_text(r->task));
    json_object_set_new(o, "sha256", json_text(r->sha256));
    json_object_set_new(o, "command", json_text(r->command));
    json_object_set_new(o, "args", json_text_list(&r->args));
    json_object_set_new(o, "release", json_text(r->release));
    json_object_set_new(o, "revision", json_text(r->revision));
    json_object_set_new(o, "operator", json_text(r->operator_name));
    json_object_set_new(o, "email", json_text(r->email));
    json_object_set_new(o, "reason", json_text(r->reason));
    json_object_set_new(o, "overrides", json_text_list(&r->overrides));
    json_object_set_new(o, "at", json_text(r->at));
    json_object_set_new(
        o, "outcome",
        json_string(history_outcome_name(history_run_outcome(r))));
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct history_host *hh = &r->hosts[i];
        json_t *jh = json_object();
        json_object_set_new(jh, "host", json_text(hh->host));
        json_object_set_new(jh, "started_at", json_text(hh->started_at));
        json_object_set_new(jh, "ended_at", json_text(hh->ended_at));
        json_object_set_new(jh, "outcome",
                            json_string(history_outcome_name(
                                hh->ended_at ? hh->outcome : HIST_UNKNOWN)));
        json_object_set_new(jh, "exit",
                            hh->exit_code >= 0 ? json_integer(hh->exit_code)
                                               : json_null());
        json_object_set_new(jh, "signal", json_text(hh->signal));
        json_object_set_new(jh, "duration_ms",
                            hh->duration_ms >= 0 ? json_integer(hh->duration_ms)
                                                 : json_null());
        json_object_set_new(jh, "release", json_text(hh->release));
        json_object_set_new(jh, "revision", json_text(hh->revision));
        json_array_append_new(hosts, jh);
    }
    json_object_set_new(o, "hosts", hosts);
    json_object_set_new(o, "gate_skipped_for", json_text(r->skipped_for));
    json_object_set_new(o, "gate_skipped_on", json_text_list(&r->skipped_on));
    return o;
}

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

    json_decref(o);
    if (s == NULL) { /* only out of memory */
        die_msg("cannot encode the history");
        abort();
    }
    return s;
}

char *history_run_json(const struct history_run *r)
{
    return dump(run_json(r));
}

char *history_json(const struct history *h,
                   const struct history_run *const *runs, size_t n)
{
    json_t *o = json_object(), *a = json_array(), *pr = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, run_json(runs[i]));
    for (size_t i = 0; i < h->nproblems; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "host", json_text(h->problems[i].host));
        json_object_set_new(p, "line",
                            json_integer((json_int_t)h->problems[i].line));
        json_object_set_new(p, "what", json_text(h->problems[i].what));
        json_array_append_new(pr, p);
    }
    json_object_set_new(o, "runs", a);
    json_object_set_new(o, "problems", pr);
    return dump(o);
}
