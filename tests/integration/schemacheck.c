/*
 * schemacheck SCHEMA [--def NAME] [--lines] FILE... - validates JSON
 * documents against a JSON Schema, for the integration tests (no schema
 * package is assumed; jansson is a build dependency of oneoff anyway).
 *
 * Only the subset docs/run.schema.json uses is understood: type (a name
 * or a list), properties, required, additionalProperties (false or a
 * schema), items, enum, const, minimum, maximum, pattern (POSIX extended
 * regular expressions, enough for the patterns used), anyOf, oneOf and
 * "$ref": "#/$defs/NAME". Annotations ($schema, $id, title, description,
 * $comment, $defs) are skipped; any other keyword is an error, so that a
 * schema never passes by being misunderstood.
 *
 * --def NAME validates against $defs/NAME instead of the root; --lines
 * reads each non-empty line of each FILE as one document (the --json
 * stream). Files are loaded strictly (valid UTF-8, no duplicate keys).
 * Exits 0 when every document is valid, 1 with one message per error
 * (FILE:LINE: /json/pointer: what) otherwise, 2 on a usage error.
 */
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *root_schema;
static int errors;

static void complain(const char *where, const char *path, const char *what)
{
    if (errors++ < 20)
        fprintf(stderr, "%s: %s: %s\n", where, *path ? path : "/", what);
}

static json_t *resolve(json_t *schema)
{
    json_t *ref = json_object_get(schema, "$ref");
    const char *r;

    if (!ref)
        return schema;
    r = json_string_value(ref);
    if (r == NULL || strncmp(r, "#/$defs/", 8) != 0) {
        fprintf(stderr, "schemacheck: unsupported $ref\n");
        exit(2);
    }
    schema = json_object_get(json_object_get(root_schema, "$defs"), r + 8);
    if (!schema) {
        fprintf(stderr, "schemacheck: no $defs/%s\n", r + 8);
        exit(2);
    }
    return schema;
}

static bool type_is(json_t *v, const char *t)
{
    if (strcmp(t, "object") == 0)
        return json_is_object(v);
    if (strcmp(t, "array") == 0)
        return json_is_array(v);
    if (strcmp(t, "string") == 0)
        return json_is_string(v);
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(t, "null") == 0)
        return json_is_null(v);
    fprintf(stderr, "schemacheck: unknown type '%s'\n", t);
    exit(2);
}

static bool check(json_t *schema, json_t *v, const char *where,
                  const char *path);

/* Valid against s, without a word (for anyOf and oneOf). */
static bool quietly(json_t *s, json_t *v)
{
    int saved = errors;
    bool ok;

    errors = 1000; /* nothing is printed past 20 */
    ok = check(s, v, "", "");
    errors = saved;
    return ok;
}

static bool check(json_t *schema, json_t *v, const char *where,
                  const char *path)
{
    const char *key;
    json_t *kw;
    bool ok = true;
    char sub[4096], msg[512];

    schema = resolve(schema);
    json_object_foreach(schema, key, kw)
    {
        if (!strcmp(key, "$schema") || !strcmp(key, "$id") ||
            !strcmp(key, "title") || !strcmp(key, "description") ||
            !strcmp(key, "$comment") || !strcmp(key, "$defs")) {
            continue;
        } else if (!strcmp(key, "type")) {
            bool any = false;
            if (json_is_string(kw))
                any = type_is(v, json_string_value(kw));
            for (size_t i = 0; json_is_array(kw) && i < json_array_size(kw);
                 i++)
                any |= type_is(v, json_string_value(json_array_get(kw, i)));
            if (!any) {
                char *t = json_dumps(kw, JSON_COMPACT | JSON_ENCODE_ANY);
                snprintf(msg, sizeof(msg), "not of type %s", t);
                free(t);
                complain(where, path, msg);
                ok = false;
            }
        } else if (!strcmp(key, "enum")) {
            bool any = false;
            for (size_t i = 0; i < json_array_size(kw); i++)
                any |= json_equal(v, json_array_get(kw, i));
            if (!any) {
                complain(where, path, "not one of the enum's values");
                ok = false;
            }
        } else if (!strcmp(key, "const")) {
            if (!json_equal(v, kw)) {
                complain(where, path, "not the const value");
                ok = false;
            }
        } else if (!strcmp(key, "minimum") || !strcmp(key, "maximum")) {
            double x = json_number_value(v), lim = json_number_value(kw);
            if (json_is_number(v) &&
                (key[1] == 'i' ? x < lim : x > lim)) {
                snprintf(msg, sizeof(msg), "%g is beyond the %s %g", x, key,
                         lim);
                complain(where, path, msg);
                ok = false;
            }
        } else if (!strcmp(key, "pattern")) {
            regex_t re;
            if (regcomp(&re, json_string_value(kw), REG_EXTENDED | REG_NOSUB)) {
                fprintf(stderr, "schemacheck: bad pattern\n");
                exit(2);
            }
            if (json_is_string(v) &&
                regexec(&re, json_string_value(v), 0, NULL, 0) != 0) {
                snprintf(msg, sizeof(msg), "'%.200s' does not match %s",
                         json_string_value(v), json_string_value(kw));
                complain(where, path, msg);
                ok = false;
            }
            regfree(&re);
        } else if (!strcmp(key, "required")) {
            for (size_t i = 0; json_is_object(v) && i < json_array_size(kw);
                 i++) {
                const char *k = json_string_value(json_array_get(kw, i));
                if (!json_object_get(v, k)) {
                    snprintf(msg, sizeof(msg), "no \"%s\"", k);
                    complain(where, path, msg);
                    ok = false;
                }
            }
        } else if (!strcmp(key, "properties")) {
            const char *k;
            json_t *pv;
            json_object_foreach(v, k, pv)
            {
                json_t *ps = json_object_get(kw, k);
                snprintf(sub, sizeof(sub), "%s/%s", path, k);
                if (ps)
                    ok &= check(ps, pv, where, sub);
            }
        } else if (!strcmp(key, "additionalProperties")) {
            const char *k;
            json_t *pv, *props = json_object_get(schema, "properties");
            json_object_foreach(v, k, pv)
            {
                if (json_object_get(props, k))
                    continue;
                snprintf(sub, sizeof(sub), "%s/%s", path, k);
                if (json_is_false(kw)) {
                    complain(where, sub, "not allowed here");
                    ok = false;
                } else if (json_is_object(kw)) {
                    ok &= check(kw, pv, where, sub);
                }
            }
        } else if (!strcmp(key, "items")) {
            for (size_t i = 0; json_is_array(v) && i < json_array_size(v);
                 i++) {
                snprintf(sub, sizeof(sub), "%s/%zu", path, i);
                ok &= check(kw, json_array_get(v, i), where, sub);
            }
        } else if (!strcmp(key, "anyOf") || !strcmp(key, "oneOf")) {
            size_t good = 0;
            for (size_t i = 0; i < json_array_size(kw); i++)
                good += quietly(json_array_get(kw, i), v);
            if (good == 0 || (key[0] == 'o' && good > 1)) {
                snprintf(msg, sizeof(msg), "valid against %zu of %s", good,
                         key);
                complain(where, path, msg);
                ok = false;
            }
        } else if (!strcmp(key, "$ref")) {
            continue; /* resolved above */
        } else {
            fprintf(stderr, "schemacheck: unsupported keyword '%s'\n", key);
            exit(2);
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    json_error_t je;
    json_t *schema;
    const char *def = NULL;
    bool lines = false;
    int i = 2;

    if (argc < 3) {
        fprintf(stderr, "usage: schemacheck SCHEMA [--def NAME] [--lines] "
                        "FILE...\n");
        return 2;
    }
    root_schema = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &je);
    if (!root_schema) {
        fprintf(stderr, "%s:%d: %s\n", argv[1], je.line, je.text);
        return 2;
    }
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--lines"))
            lines = true;
        else if (!strcmp(argv[i], "--def") && i + 1 < argc)
            def = argv[++i];
        else
            return 2;
    }
    schema = root_schema;
    if (def) {
        schema = json_object_get(json_object_get(root_schema, "$defs"), def);
        if (!schema) {
            fprintf(stderr, "schemacheck: no $defs/%s\n", def);
            return 2;
        }
    }
    for (; i < argc; i++) {
        char where[4200];
        if (!lines) {
            json_t *doc = json_load_file(argv[i], JSON_REJECT_DUPLICATES, &je);
            snprintf(where, sizeof(where), "%s", argv[i]);
            if (!doc) {
                fprintf(stderr, "%s:%d: %s\n", argv[i], je.line, je.text);
                errors++;
                continue;
            }
            check(schema, doc, where, "");
            json_decref(doc);
        } else {
            FILE *f = fopen(argv[i], "r");
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            int no = 0;
            if (!f) {
                perror(argv[i]);
                errors++;
                continue;
            }
            while ((len = getline(&line, &cap, f)) >= 0) {
                json_t *doc;
                no++;
                if (len <= 1)
                    continue;
                snprintf(where, sizeof(where), "%s:%d", argv[i], no);
                doc = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES,
                                 &je);
                if (!doc) {
                    fprintf(stderr, "%s: %s\n", where, je.text);
                    errors++;
                    continue;
                }
                check(schema, doc, where, "");
                json_decref(doc);
            }
            free(line);
            fclose(f);
        }
    }
    return errors ? 1 : 0;
}
