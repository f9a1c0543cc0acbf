/*
 * record.c - per-host logs and the JSON run record (jansson).
 */
#define _GNU_SOURCE
#include "oneoff/record.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"

#define LOG_BATCH_MAX (64u << 20)

void record_new_id(char *buf, size_t n)
{
    char ts[32];
    unsigned char rnd[3] = {0, 0, 0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    int64_t now = clock_wall_ms();
    time_t t = (time_t)(now / 1000);
    struct tm tm;

    if (fd >= 0) {
        if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        close(fd);
    }
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, n, "%s-%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2]);
}

static int mkdir_p(const char *path, char *err)
{
    char *p = xstrdup(path);
    int rc = 0;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = errf(err, "cannot create '%s': %s", p, strerror(errno));
            break;
        }
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = errf(err, "cannot create '%s': %s", p, strerror(errno));
    free(p);
    return rc;
}

int record_open(struct record *r, const char *log_root, const char *run_id,
                const char *report, char *err)
{
    memset(r, 0, sizeof(*r));
    r->dir = xasprintf("%s/%s", log_root, run_id);
    if (mkdir_p(r->dir, err)) {
        free(r->dir);
        r->dir = NULL;
        return -1;
    }
    r->json_path = xasprintf("%s/run.json", r->dir);
    r->report = report ? xstrdup(report) : NULL;
    return 0;
}

void record_release(struct record *r)
{
    free(r->dir);
    free(r->json_path);
    free(r->report);
    memset(r, 0, sizeof(*r));
}

int record_host_log_open(const struct record *r, const char *host, char **path,
                         char *err)
{
    int fd;

    *path = xasprintf("%s/%s.log", r->dir, host);
    fd = open(*path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        errf(err, "cannot create '%s': %s", *path, strerror(errno));
    return fd;
}

void record_log_lines(int fd, int s, const struct line *lines, size_t n,
                      struct buf *scratch)
{
    struct buf *b = scratch;
    char ts[40], head[64];
    size_t hl;

    if (fd < 0 || n == 0)
        return;
    /* Lines of one batch arrived together: one timestamp for all. */
    time_format_iso(clock_wall_ms(), ts, sizeof(ts));
    snprintf(head, sizeof(head), "%s %s | ", ts, s ? "err" : "out");
    hl = strlen(head);
    {
        size_t need = 0;
        for (size_t i = 0; i < n; i++)
            need += hl + lines[i].n + 1;
        buf_reserve(b, need < LOG_BATCH_MAX ? need : LOG_BATCH_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        if (b->len + lines[i].n + hl + 1 > LOG_BATCH_MAX) {
            write_all(fd, b->data, b->len);
            buf_reset(b);
        }
        head[hl - 2] = lines[i].eol ? '|' : '~';
        if (buf_reserve(b, hl + lines[i].n + 1))
            continue; /* cannot happen: flushed above */
        buf_add_reserved(b, head, hl);
        buf_add_reserved(b, lines[i].p, lines[i].n);
        buf_add_reserved(b, "\n", 1);
    }
    write_all(fd, buf_str(b), b->len);
    buf_reset(b);
    if (b->alloc > (1u << 20))
        buf_release(b); /* keep memory only for ordinary batches */
}

void record_log_note(int fd, const char *fmt, ...)
{
    char msg[ERR_MAX * 2], ts[40];
    va_list ap;
    int n;

    if (fd < 0)
        return;
    time_format_iso(clock_wall_ms(), ts, sizeof(ts));
    n = snprintf(msg, sizeof(msg), "%s # ", ts);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = (int)strlen(msg);
    msg[n++] = '\n';
    write_all(fd, msg, (size_t)n);
}

static json_t *jstr(const char *s)
{
    struct buf b = BUF_INIT(1u << 24);
    json_t *j;

    if (s == NULL)
        return json_null();
    text_utf8(&b, s, strlen(s));
    j = json_stringn(buf_str(&b), b.len);
    buf_release(&b);
    return j ? j : json_null();
}

static json_t *jtime(int64_t ms)
{
    char ts[40];

    if (ms == 0)
        return json_null();
    time_format_iso(ms, ts, sizeof(ts));
    return json_string(ts);
}

static json_t *host_json(const struct record_host *h)
{
    json_t *o = json_object();

    json_object_set_new(o, "name", jstr(h->name));
    json_object_set_new(o, "address", jstr(h->address));
    json_object_set_new(o, "port",
                        h->port ? json_integer(h->port) : json_null());
    json_object_set_new(o, "user", jstr(h->user));
    json_object_set_new(o, "status", jstr(h->status));
    json_object_set_new(o, "exit_code",
                        h->exit_code >= 0 ? json_integer(h->exit_code)
                                          : json_null());
    json_object_set_new(o, "signal", jstr(h->signal));
    json_object_set_new(o, "release", jstr(h->release));
    json_object_set_new(o, "revision", jstr(h->revision));
    json_object_set_new(o, "task_in_release", jstr(h->task_in_release));
    json_object_set_new(o, "started_at", jtime(h->started_ms));
    json_object_set_new(o, "connected_at", jtime(h->connected_ms));
    json_object_set_new(o, "finished_at", jtime(h->finished_ms));
    json_object_set_new(o, "duration_ms",
                        h->finished_ms && h->started_ms
                            ? json_integer(h->finished_ms - h->started_ms)
                            : json_null());
    json_object_set_new(o, "log", jstr(h->log_path));
    json_object_set_new(o, "error", jstr(h->error));
    return o;
}

static int write_atomic(const char *path, const char *data, size_t len,
                        bool durable, char *err)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;

    if (fd < 0) {
        rc = errf(err, "cannot write '%s': %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    write_all(fd, data, len);
    if ((durable && fsync(fd) != 0) || close(fd) != 0) {
        rc = errf(err, "cannot write '%s': %s", tmp, strerror(errno));
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        rc = errf(err, "cannot rename '%s': %s", tmp, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int record_write(const struct record *r, const struct record_run *run,
                 const struct record_host *hosts, size_t n, char *err)
{
    json_t *root = json_object(), *args = json_array(), *arr = json_array();
    char *text;
    bool durable;
    int rc;

    json_object_set_new(root, "run_id", jstr(run->run_id));
    json_object_set_new(root, "operator", jstr(run->operator_name));
    json_object_set_new(root, "stage", jstr(run->stage));
    json_object_set_new(root, "task", jstr(run->task));
    json_object_set_new(root, "task_file", jstr(run->task_file));
    json_object_set_new(root, "task_sha256",
                        run->task_sha256 && *run->task_sha256
                            ? jstr(run->task_sha256)
                            : json_null());
    json_object_set_new(root, "command", jstr(run->command));
    for (size_t i = 0; run->args && i < run->args->n; i++)
        json_array_append_new(args, jstr(run->args->v[i]));
    json_object_set_new(root, "args", args);
    json_object_set_new(root, "started_at", jtime(run->started_ms));
    json_object_set_new(root, "finished_at", jtime(run->finished_ms));
    json_object_set_new(root, "allow_drift", json_boolean(run->allow_drift));
    json_object_set_new(root, "refused", jstr(run->refused));
    json_object_set_new(root, "timeout_ms",
                        run->timeout_ms ? json_integer(run->timeout_ms)
                                        : json_null());
    json_object_set_new(root, "exit_code",
                        run->exit_code >= 0 ? json_integer(run->exit_code)
                                            : json_null());
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, host_json(&hosts[i]));
    json_object_set_new(root, "hosts", arr);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return errf(err, "cannot encode the run record");
    /* The rename makes every version whole for readers and after a crash
     * of the process; only the final one is also flushed to disk. */
    durable = run->finished_ms != 0;
    rc = write_atomic(r->json_path, text, strlen(text), durable, err);
    if (rc == 0 && r->report)
        rc = write_atomic(r->report, text, strlen(text), durable, err);
    free(text);
    return rc;
}
