/*
 * events.c - the --json event stream (see events.h): jansson objects,
 * dumped compact, one line each.
 */
#include "oneoff/events.h"
#include "oneoff/json_text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"
#include "oneoff/util.h"

void events_init(struct events *e, int fd, const char *const *names, size_t n)
{
    memset(e, 0, sizeof(*e));
    pthread_mutex_init(&e->lock, NULL);
    e->fd = fd;
    e->names = names;
    e->n = n;
}

void events_release(struct events *e)
{
    pthread_mutex_destroy(&e->lock);
    e->fd = -1;
}

/* A new event object: "event" and "time" first. */
static json_t *event_new(const char *name)
{
    json_t *o = json_object();
    char ts[40];

    time_format_iso(clock_wall_ms(), ts, sizeof(ts));
    json_object_set_new(o, "event", json_string(name));
    json_object_set_new(o, "time", json_string(ts));
    return o;
}

/* Writes o as one line and frees it. */
static void emit(struct events *e, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len;

    json_decref(o);
    if (text == NULL)
        return;
    len = strlen(text);
    text = xrealloc(text, len + 2);
    memcpy(text + len, "\n", 2);
    pthread_mutex_lock(&e->lock);
    if (!e->failed && write_all(e->fd, text, len + 1) != 0)
        e->failed = true;
    pthread_mutex_unlock(&e->lock);
    free(text);
}

static const char *host_name(const struct events *e, size_t i)
{
    return i < e->n ? e->names[i] : "?";
}

void events_run_start(struct events *e, const struct record_run *run,
                      const char *mode)
{
    json_t *o, *hosts;

    if (e->fd < 0)
        return;
    o = event_new("run_start");
    hosts = json_array();
    json_object_set_new(o, "format", json_integer(RECORD_FORMAT));
    json_object_set_new(o, "run_id", json_text(run->run_id));
    json_object_set_new(o, "mode", json_string(mode));
    json_object_set_new(o, "stage", json_text(run->stage));
    json_object_set_new(o, "task", json_text(run->task));
    for (size_t i = 0; i < e->n; i++)
        json_array_append_new(hosts, json_text(e->names[i]));
    json_object_set_new(o, "hosts", hosts);
    emit(e, o);
}

void events_host_state(struct events *e, size_t i, const struct host_state *s)
{
    json_t *o;

    if (e->fd < 0)
        return;
    o = event_new("host_state");
    json_object_set_new(o, "host", json_text(host_name(e, i)));
    json_object_set_new(o, "phase", json_string(host_phase_name(s->phase)));
    json_object_set_new(o, "status", json_string(host_state_status(s)));
    emit(e, o);
    if (s->phase != PHASE_DONE)
        return;
    o = event_new("host_end");
    json_object_set_new(o, "host", json_text(host_name(e, i)));
    json_object_set_new(o, "status", json_string(host_state_status(s)));
    json_object_set_new(o, "exit_code",
                        s->exit_code >= 0 ? json_integer(s->exit_code)
                                          : json_null());
    json_object_set_new(o, "signal",
                        s->signal[0] ? json_text(s->signal) : json_null());
    json_object_set_new(o, "error",
                        s->error && s->error[0] ? json_text(s->error)
                                                : json_null());
    json_object_set_new(o, "duration_ms",
                        s->finished_ms && s->started_ms
                            ? json_integer(s->finished_ms - s->started_ms)
                            : json_null());
    emit(e, o);
}

void events_lines(struct events *e, size_t i, enum line_stream st,
                  const struct line *v, size_t n)
{
    static const char *const names[LINE_STREAMS] = {"stdout", "stderr",
                                                    "setup"};

    if (e->fd < 0)
        return;
    for (size_t k = 0; k < n; k++) {
        json_t *o = event_new("output");
        json_object_set_new(o, "host", json_text(host_name(e, i)));
        json_object_set_new(
            o, "stream",
            json_string((unsigned)st < LINE_STREAMS ? names[st] : "stderr"));
        json_object_set_new(o, "text", json_textn(v[k].p, v[k].n));
        json_object_set_new(o, "eol", json_boolean(v[k].eol));
        emit(e, o);
    }
}

void events_gate(struct events *e, const struct record_gate *g)
{
    json_t *o;

    if (e->fd < 0)
        return;
    o = event_new("gate");
    json_object_set_new(o, "verdict", json_text(g->verdict));
    json_object_set_new(o, "reason",
                        g->reason && *g->reason ? json_text(g->reason)
                                                : json_null());
    json_object_set_new(o, "exit_code", json_integer(g->exit_code));
    emit(e, o);
}

void events_run_end(struct events *e, const char *run_id, int exit_code,
                    const char *record_path)
{
    json_t *o;

    if (e->fd < 0)
        return;
    o = event_new("run_end");
    json_object_set_new(o, "run_id", json_text(run_id));
    json_object_set_new(o, "exit_code", json_integer(exit_code));
    json_object_set_new(o, "record", json_text(record_path));
    emit(e, o);
}
