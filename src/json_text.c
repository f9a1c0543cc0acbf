/*
 * json_text.c - text as valid-UTF-8 JSON strings (json_text.h): the one
 * place run.json, the --json events and the history lines turn bytes into
 * JSON strings.
 */
#include "oneoff/json_text.h"

#include <string.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"
#include "oneoff/util.h"

json_t *json_textn(const char *p, size_t n)
{
    struct buf b;
    json_t *j;

    if (p == NULL)
        return json_null();
    /* text_utf8() makes at most 3 bytes of each byte */
    buf_init(&b, 3 * n + 1);
    BUF_MUST(text_utf8(&b, p, n));
    j = json_stringn(buf_str(&b), b.len);
    buf_release(&b);
    return j ? j : json_null();
}

json_t *json_text(const char *s)
{
    return s ? json_textn(s, strlen(s)) : json_null();
}

json_t *json_text_or_null(const char *s)
{
    return s && *s ? json_text(s) : json_null();
}

json_t *json_text_list(const struct strlist *l)
{
    json_t *a = json_array();

    for (size_t i = 0; l && i < l->n; i++)
        json_array_append_new(a, json_text(l->v[i]));
    return a;
}
