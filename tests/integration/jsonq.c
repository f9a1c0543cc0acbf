/*
 * jsonq FILE [PATH...] - a tiny JSON checker/query for the integration tests
 * (jq may be missing; jansson is a build dependency of oneoff anyway).
 *
 * Loads FILE strictly (valid UTF-8, no duplicate keys, one value, nothing
 * after it); exits 1 with a message when it is not valid JSON. For each
 * PATH prints the value found there on its own line:
 *   strings raw (their bytes as decoded), integers and reals as numbers,
 *   true/false/null as words, objects and arrays as compact JSON.
 * A PATH is a list of components separated by '.': an object key, an array
 * index, or, in an array of objects, the value of the element's "name"
 * ("hosts.h2.status"). "#" as a component prints the length of an array or
 * object. A path that does not exist prints "<missing>" and makes the exit
 * status 3 (after printing every path).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *step(json_t *cur, const char *comp)
{
    char *end;
    long idx;

    if (json_is_object(cur))
        return json_object_get(cur, comp);
    if (!json_is_array(cur))
        return NULL;
    idx = strtol(comp, &end, 10);
    if (*comp && *end == '\0')
        return idx >= 0 ? json_array_get(cur, (size_t)idx) : NULL;
    for (size_t i = 0; i < json_array_size(cur); i++) {
        json_t *e = json_array_get(cur, i);
        json_t *name = json_object_get(e, "name");
        if (json_is_string(name) && strcmp(json_string_value(name), comp) == 0)
            return e;
    }
    return NULL;
}

static int print_path(json_t *root, const char *path)
{
    char *copy = strdup(path), *save = NULL, *comp;
    json_t *cur = root;

    if (copy == NULL)
        return -1;
    for (comp = strtok_r(copy, ".", &save); comp && cur;
         comp = strtok_r(NULL, ".", &save)) {
        if (strcmp(comp, "#") == 0) {
            if (json_is_array(cur))
                printf("%zu\n", json_array_size(cur));
            else if (json_is_object(cur))
                printf("%zu\n", json_object_size(cur));
            else
                break;
            free(copy);
            return 0;
        }
        cur = step(cur, comp);
    }
    free(copy);
    if (cur == NULL) {
        printf("<missing>\n");
        return -1;
    }
    if (json_is_string(cur)) {
        fwrite(json_string_value(cur), 1, json_string_length(cur), stdout);
        putchar('\n');
    } else if (json_is_integer(cur)) {
        printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(cur));
    } else if (json_is_real(cur)) {
        printf("%.17g\n", json_real_value(cur));
    } else if (json_is_true(cur)) {
        printf("true\n");
    } else if (json_is_false(cur)) {
        printf("false\n");
    } else if (json_is_null(cur)) {
        printf("null\n");
    } else {
        char *s = json_dumps(cur, JSON_COMPACT | JSON_ENCODE_ANY |
                                      JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "?");
        free(s);
    }
    return 0;
}

int main(int argc, char **argv)
{
    json_error_t e;
    json_t *root;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: jsonq FILE [PATH...]\n");
        return 2;
    }
    root = json_load_file(argv[1], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &e);
    if (root == NULL) {
        fprintf(stderr, "jsonq: %s:%d:%d: %s\n", argv[1], e.line, e.column,
                e.text);
        return 1;
    }
    for (int i = 2; i < argc; i++)
        if (print_path(root, argv[i]))
            rc = 3;
    json_decref(root);
    return rc;
}
