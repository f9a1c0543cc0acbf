/*
 * json_text.h - text from hosts and files as JSON strings. Whatever bytes
 * a host, a file name or an operator gives, the string is valid UTF-8
 * (text_utf8(): invalid bytes become U+FFFD), so jansson never refuses it
 * and the record, the events and the history lines never lose a field.
 */
#ifndef ONEOFF_JSON_TEXT_H
#define ONEOFF_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* p[0..n) as a JSON string; json null for a NULL p (or when out of
 * memory). A new reference. */
json_t *json_textn(const char *p, size_t n);
/* The same for a NUL-terminated s. */
json_t *json_text(const char *s);

struct strlist;
/* s as a JSON string, or null when s is NULL or empty. */
json_t *json_text_or_null(const char *s);
/* l as an array of JSON strings (an empty array when l is NULL). */
json_t *json_text_list(const struct strlist *l);

#endif
