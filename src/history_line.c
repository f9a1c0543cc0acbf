/*
 * history_line.c - composing history.jsonl lines (jansson): the start
 * line (whole, or in the head that comes with the script and the tail
 * sent after "go"), the end line's opening, the gate-skipped line, and the
 * arguments masked for them. Long values are cut so that a line fits one
 * write(2) on the host (history.h). Reading them is history.c's part.
 */
#include "oneoff/history.h"
#include "oneoff/json_text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"
#include "oneoff/util.h"

/* Cuts the longest string of o (values, and values in arrays) to half its
 * length, at a UTF-8 boundary, ending in "…". Returns false when nothing
 * is long enough to cut. */
static bool cut_longest(json_t *o)
{
    json_t *best = NULL, *v, *e;
    const char *k;
    size_t best_len = 16, i;

    json_object_foreach(o, k, v)
    {
        if (json_is_string(v) && json_string_length(v) > best_len) {
            best = v;
            best_len = json_string_length(v);
        }
        if (json_is_array(v))
            json_array_foreach(v, i, e)
            {
                if (json_is_string(e) && json_string_length(e) > best_len) {
                    best = e;
                    best_len = json_string_length(e);
                }
            }
    }
    if (best == NULL)
        return false;
    {
        const char *s = json_string_value(best);
        size_t n = best_len / 2;
        char *cut;

        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* not inside a character */
        cut = xasprintf("%.*s\xe2\x80\xa6", (int)n, s);
        json_string_set(best, cut);
        free(cut);
    }
    return true;
}

/* o as compact JSON shorter than max bytes (with a newline), its longest
 * values cut as far as it takes. */
static char *dump_within(json_t *o, size_t max)
{
    for (;;) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s == NULL) { /* only out of memory */
            die_msg("cannot encode a history line");
            abort();
        }
        if (strlen(s) + 1 < max || !cut_longest(o))
            return s;
        free(s);
    }
}

static char *dump_fitting(json_t *o)
{
    return dump_within(o, HISTORY_LINE_MAX);
}

/* s with every single quote written \u0027 (JSON puts quotes only inside
 * strings, where the escape means the same): a part that travels in a
 * shell's single-quoted word (a console's command line) then costs no
 * more than its length. Frees s. */
static char *no_single_quotes(char *s)
{
    struct buf b = BUF_INIT(6 * strlen(s) + 1);

    for (const char *p = s; *p; p++)
        BUF_MUST(*p == '\'' ? buf_adds(&b, "\\u0027") : buf_addc(&b, *p));
    free(s);
    return buf_detach(&b);
}

/* o's members without the closing brace (the opening of a line another
 * part completes) and without a single quote, shorter than max. */
static char *dump_opening(json_t *o, size_t max)
{
    for (;;) {
        char *s = no_single_quotes(dump_within(o, max));
        size_t n = strlen(s);

        if (n < max || !cut_longest(o)) {
            s[n ? n - 1 : 0] = '\0';
            return s;
        }
        free(s);
    }
}

char *history_start_head(const struct history_start *s)
{
    json_t *o = json_object();
    char *head;

    json_object_set_new(o, "v", json_integer(HISTORY_FORMAT));
    json_object_set_new(o, "event", json_string("start"));
    json_object_set_new(o, "run", json_text(s->run));
    json_object_set_new(o, "kind", json_text(s->kind ? s->kind : "run"));
    json_object_set_new(o, "host", json_text(s->host));
    json_object_set_new(o, "stage", json_text(s->stage));
    json_object_set_new(o, "task", json_text(s->task));
    json_object_set_new(o, "sha256", json_text(s->sha256));
    json_object_set_new(o, "command", json_text(s->command));
    json_object_set_new(o, "args", json_text_list(s->args));
    json_object_set_new(o, "operator", json_text(s->operator_name));
    json_object_set_new(o, "email", json_text_or_null(s->email));
    json_object_set_new(o, "reason", json_text_or_null(s->reason));
    json_object_set_new(o, "overrides", json_text_list(s->overrides));
    head = dump_opening(o, HISTORY_LINE_MAX - HISTORY_TAIL_MAX);
    json_decref(o);
    return head;
}

char *history_start_tail(const char *release, const char *revision,
                         int64_t at_ms)
{
    json_t *o = json_object();
    char at[40], *s, *tail;

    time_format_iso(at_ms, at, sizeof(at));
    json_object_set_new(o, "release", json_text(release));
    json_object_set_new(o, "revision", json_text_or_null(revision));
    json_object_set_new(o, "at", json_string(at));
    s = dump_opening(o, HISTORY_TAIL_MAX);
    json_decref(o);
    s[0] = ','; /* the members after the head's: the head has some */
    tail = xasprintf("%s}", s);
    free(s);
    return tail;
}

char *history_start_line(const struct history_start *s)
{
    char *head = history_start_head(s);
    char *tail = history_start_tail(s->release, s->revision, s->at_ms);
    char *line = xasprintf("%s%s", head, tail);

    free(head);
    free(tail);
    return line;
}

char *history_end_prefix(const char *run, const char *host)
{
    json_t *o = json_object();
    char *prefix;

    json_object_set_new(o, "v", json_integer(HISTORY_FORMAT));
    json_object_set_new(o, "event", json_string("end"));
    json_object_set_new(o, "run", json_text(run));
    json_object_set_new(o, "host", json_text(host));
    prefix = dump_opening(o, HISTORY_LINE_MAX);
    json_decref(o);
    return prefix;
}

void history_mask_args(const struct strlist *args,
                       const struct strlist *secret_keys, struct strlist *out)
{
    strlist_clear(out);
    for (size_t i = 0; args && i < args->n; i++) {
        const char *a = args->v[i];
        const char *key = a + strspn(a, "-");
        const char *eq = strchr(key, '=');
        bool secret = false;

        for (size_t k = 0; eq && secret_keys && k < secret_keys->n; k++) {
            size_t kl = strlen(secret_keys->v[k]);
            secret = kl == (size_t)(eq - key) &&
                     memcmp(key, secret_keys->v[k], kl) == 0;
            if (secret)
                break;
        }
        if (secret)
            strlist_push_owned(out, xasprintf("%.*s=***", (int)(eq - a), a));
        else
            strlist_push(out, a);
    }
}

char *history_gate_skip_line(const struct history_gate_skip *s)
{
    json_t *o = json_object();
    char at[40], *line;

    time_format_iso(s->at_ms, at, sizeof(at));
    json_object_set_new(o, "v", json_integer(HISTORY_FORMAT));
    json_object_set_new(o, "event", json_string("gate-skipped"));
    json_object_set_new(o, "run", json_text(s->run));
    json_object_set_new(o, "stage", json_text(s->stage));
    json_object_set_new(o, "to_stage", json_text(s->to_stage));
    json_object_set_new(o, "task", json_text(s->task));
    json_object_set_new(o, "sha256", json_text(s->sha256));
    json_object_set_new(o, "operator", json_text(s->operator_name));
    json_object_set_new(o, "email", json_text_or_null(s->email));
    json_object_set_new(o, "reason", json_text_or_null(s->reason));
    json_object_set_new(o, "host", json_text(s->host));
    json_object_set_new(o, "at", json_string(at));
    line = dump_fitting(o);
    json_decref(o);
    return line;
}
