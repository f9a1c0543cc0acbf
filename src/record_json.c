/*
 * record_json.c - run.json's text (jansson), rendered host by host.
 *
 * run.json is rewritten many times in a run (record.h), each time whole,
 * yet between two rewrites few hosts change. Each host's JSON is kept with
 * a copy of the fields it was made from; the next rewrite renders anew
 * only the hosts whose fields differ, and joins the kept texts into the
 * run's object. The text is byte for byte what jansson makes of the whole
 * record at once (JSON_INDENT(2), members in order): a host's object is
 * dumped on its own and indented for its place in the "hosts" array;
 * jansson writes no raw newline inside a string, so every newline of it
 * starts a line to indent.
 *
 * An output tail is compared by its byte counts and a hash of its bytes
 * (a tail only changes when bytes arrive, which its total counts; the
 * hash covers a host started over).
 */
#define _GNU_SOURCE
#include "record_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/json_text.h"
#include "oneoff/text.h"

/* The most a run.json can be: far above any run's. */
#define RECORD_JSON_MAX ((size_t)1 << 34)

struct record_json_host {
    bool valid;
    struct record_host key; /* strings owned; no output text */
    uint64_t out_hash, err_hash;
    char *text; /* the host's object, indented for the array */
    size_t len;
};

static json_t *jtime(int64_t ms)
{
    char ts[40];

    if (ms == 0)
        return json_null();
    time_format_iso(ms, ts, sizeof(ts));
    return json_string(ts);
}

static json_t *output_json(const struct record_output *o)
{
    json_t *j = json_object();
    struct buf b;

    /* text_utf8() makes at most 3 bytes of each byte */
    buf_init(&b, 3 * o->len + 1);
    BUF_MUST(text_utf8(&b, o->text ? o->text : "", o->text ? o->len : 0));
    json_object_set_new(j, "tail", json_stringn(buf_str(&b), b.len));
    buf_release(&b);
    json_object_set_new(j, "bytes", json_integer((json_int_t)o->total));
    json_object_set_new(j, "truncated", json_boolean(o->truncated));
    return j;
}

static json_t *gate_json(const struct record_gate *g)
{
    json_t *j;

    if (g == NULL)
        return json_null();
    j = json_object();
    json_object_set_new(j, "verdict", json_text(g->verdict));
    json_object_set_new(j, "reason",
                        g->reason && *g->reason ? json_text(g->reason)
                                                : json_null());
    json_object_set_new(j, "exit_code", json_integer(g->exit_code));
    json_object_set_new(j, "allow_drift", json_boolean(g->allow_drift));
    json_object_set_new(j, "releases_agree", json_boolean(g->releases_agree));
    json_object_set_new(j, "hosts_judged",
                        json_integer((json_int_t)g->hosts_judged));
    return j;
}

static json_t *host_json(const struct record_host *h)
{
    json_t *out;
    json_t *o = json_object();

    json_object_set_new(o, "name", json_text(h->name));
    json_object_set_new(o, "address", json_text(h->address));
    json_object_set_new(o, "port",
                        h->port ? json_integer(h->port) : json_null());
    json_object_set_new(o, "user", json_text(h->user));
    json_object_set_new(o, "status", json_text(h->status));
    json_object_set_new(o, "exit_code",
                        h->exit_code >= 0 ? json_integer(h->exit_code)
                                          : json_null());
    json_object_set_new(o, "signal", json_text(h->signal));
    json_object_set_new(o, "release", json_text(h->release));
    json_object_set_new(o, "revision", json_text(h->revision));
    json_object_set_new(o, "task_in_release", json_text(h->task_in_release));
    json_object_set_new(o, "checked_only", json_boolean(h->checked_only));
    json_object_set_new(o, "started_at", jtime(h->started_ms));
    json_object_set_new(o, "connected_at", jtime(h->connected_ms));
    json_object_set_new(o, "finished_at", jtime(h->finished_ms));
    json_object_set_new(o, "duration_ms",
                        h->finished_ms && h->started_ms
                            ? json_integer(h->finished_ms - h->started_ms)
                            : json_null());
    json_object_set_new(o, "log", json_text(h->log_path));
    json_object_set_new(o, "error", json_text(h->error));
    out = json_object();
    json_object_set_new(out, "stdout", output_json(&h->out));
    json_object_set_new(out, "stderr", output_json(&h->err));
    json_object_set_new(o, "output", out);
    return o;
}

/* run.json's members before "hosts", and "hosts": [] last. */
static json_t *run_json(const struct record_run *run, bool logs_lost)
{
    json_t *root = json_object(), *args = json_array();

    json_object_set_new(root, "format", json_integer(RECORD_FORMAT));
    json_object_set_new(root, "run_id", json_text(run->run_id));
    json_object_set_new(root, "operator", json_text(run->operator_name));
    json_object_set_new(root, "email", json_text(run->email));
    json_object_set_new(root, "reason", json_text(run->reason));
    {
        json_t *ov = json_array();
        for (size_t i = 0; run->overrides && i < run->overrides->n; i++)
            json_array_append_new(ov, json_text(run->overrides->v[i]));
        json_object_set_new(root, "overrides", ov);
    }
    json_object_set_new(root, "stage", json_text(run->stage));
    json_object_set_new(root, "task", json_text(run->task));
    json_object_set_new(root, "task_file", json_text(run->task_file));
    json_object_set_new(root, "task_sha256",
                        run->task_sha256 && *run->task_sha256
                            ? json_text(run->task_sha256)
                            : json_null());
    json_object_set_new(root, "command", json_text(run->command));
    for (size_t i = 0; run->args && i < run->args->n; i++)
        json_array_append_new(args, json_text(run->args->v[i]));
    json_object_set_new(root, "args", args);
    json_object_set_new(root, "started_at", jtime(run->started_ms));
    json_object_set_new(root, "finished_at", jtime(run->finished_ms));
    json_object_set_new(root, "allow_drift", json_boolean(run->allow_drift));
    json_object_set_new(root, "refused", json_text(run->refused));
    json_object_set_new(root, "timeout_ms",
                        run->timeout_ms ? json_integer(run->timeout_ms)
                                        : json_null());
    json_object_set_new(root, "exit_code",
                        run->exit_code >= 0 ? json_integer(run->exit_code)
                                            : json_null());
    json_object_set_new(root, "logs_incomplete", json_boolean(logs_lost));
    json_object_set_new(root, "gate", gate_json(run->gate));
    json_object_set_new(root, "hosts", json_array());
    return root;
}

/* ---- the cache ---- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t i = 0; p && i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_output(const struct record_output *a, uint64_t a_hash,
                        const struct record_output *b)
{
    return a->len == b->len && a->total == b->total &&
           a->truncated == b->truncated &&
           (a->text == NULL) == (b->text == NULL) &&
           a_hash == hash_bytes(b->text, b->len);
}

static bool same_host(const struct record_json_host *c,
                      const struct record_host *h)
{
    const struct record_host *k = &c->key;

    return c->valid && k->port == h->port && k->exit_code == h->exit_code &&
           k->started_ms == h->started_ms &&
           k->connected_ms == h->connected_ms &&
           k->finished_ms == h->finished_ms &&
           k->checked_only == h->checked_only && same_str(k->name, h->name) &&
           same_str(k->address, h->address) && same_str(k->user, h->user) &&
           same_str(k->status, h->status) && same_str(k->signal, h->signal) &&
           same_str(k->log_path, h->log_path) && same_str(k->error, h->error) &&
           same_str(k->release, h->release) &&
           same_str(k->revision, h->revision) &&
           same_str(k->task_in_release, h->task_in_release) &&
           same_output(&k->out, c->out_hash, &h->out) &&
           same_output(&k->err, c->err_hash, &h->err);
}

static void host_forget(struct record_json_host *c)
{
    struct record_host *k = &c->key;
    char *owned[] = {(char *)k->name,     (char *)k->address,
                     (char *)k->user,     (char *)k->status,
                     (char *)k->signal,   (char *)k->log_path,
                     (char *)k->error,    (char *)k->release,
                     (char *)k->revision, (char *)k->task_in_release};

    for (size_t i = 0; i < sizeof(owned) / sizeof(*owned); i++)
        free(owned[i]);
    free(c->text);
    memset(c, 0, sizeof(*c));
}

static void host_keep(struct record_json_host *c, const struct record_host *h)
{
    struct record_host *k = &c->key;

    *k = *h;
    k->name = dup_or_null(h->name);
    k->address = dup_or_null(h->address);
    k->user = dup_or_null(h->user);
    k->status = dup_or_null(h->status);
    k->signal = dup_or_null(h->signal);
    k->log_path = dup_or_null(h->log_path);
    k->error = dup_or_null(h->error);
    k->release = dup_or_null(h->release);
    k->revision = dup_or_null(h->revision);
    k->task_in_release = dup_or_null(h->task_in_release);
    k->out.text = h->out.text ? "" : NULL; /* only whether there was one */
    k->err.text = h->err.text ? "" : NULL;
    c->out_hash = hash_bytes(h->out.text, h->out.len);
    c->err_hash = hash_bytes(h->err.text, h->err.len);
    c->valid = true;
}

/* Renders host h into c: its object, each line indented by 4 spaces (the
 * array's place in the root). Returns -1 when jansson cannot. */
static int host_render(struct record_json_host *c, const struct record_host *h)
{
    json_t *j = host_json(h);
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t lines = 1, len;
    char *o, *p;

    json_decref(j);
    host_forget(c);
    if (t == NULL)
        return -1;
    for (p = t; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    len = strlen(t);
    c->text = o = xmalloc(len + 4 * lines + 1);
    memcpy(o, "    ", 4);
    o += 4;
    for (p = t; *p; p++) {
        *o++ = *p;
        if (*p == '\n') {
            memcpy(o, "    ", 4);
            o += 4;
        }
    }
    *o = '\0';
    c->len = (size_t)(o - c->text);
    free(t);
    host_keep(c, h);
    return 0;
}

void record_json_cache_release(struct record_json_cache *cache)
{
    for (size_t i = 0; i < cache->n; i++)
        host_forget(&cache->v[i]);
    free(cache->v);
    cache->v = NULL;
    cache->n = 0;
}

char *record_json(struct record_json_cache *cache, const struct record_run *run,
                  const struct record_host *hosts, size_t n, bool logs_lost,
                  size_t *len)
{
    json_t *root = run_json(run, logs_lost);
    char *head = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t hlen;
    struct buf b = BUF_INIT(RECORD_JSON_MAX);

    json_decref(root);
    if (head == NULL)
        return NULL;
    hlen = strlen(head);
    /* it ends with the empty hosts array: `"hosts": []\n}` */
    if (n == 0 || hlen < 4 || strcmp(head + hlen - 4, "[]\n}") != 0) {
        BUF_MUST(buf_add(&b, head, hlen)); /* within RECORD_JSON_MAX */
        goto done;
    }
    if (cache->n != n) {
        record_json_cache_release(cache);
        cache->v = xcalloc(n, sizeof(*cache->v));
        cache->n = n;
    }
    BUF_MUST(buf_add(&b, head, hlen - 4));
    BUF_MUST(buf_adds(&b, "[\n"));
    for (size_t i = 0; i < n; i++) {
        struct record_json_host *c = &cache->v[i];
        if (!same_host(c, &hosts[i]) && host_render(c, &hosts[i])) {
            free(head);
            buf_release(&b);
            return NULL;
        }
        BUF_MUST(buf_add(&b, c->text, c->len));
        BUF_MUST(buf_adds(&b, i + 1 < n ? ",\n" : "\n"));
    }
    BUF_MUST(buf_adds(&b, "  ]\n}"));
done:
    /* JSON files end with a newline like any text file */
    BUF_MUST(buf_addc(&b, '\n'));
    free(head);
    *len = b.len;
    return buf_detach(&b);
}
