/*
 * nodeset_range.c - Ansible's host ranges: "www[01:50].example.com",
 * "www[01:50:2].example.com", "db-[a:f].example.com".
 *
 * Read as Ansible reads them: the first bracket, then (in each name it
 * made) the next; BEGIN may be left out (0); a BEGIN written with a
 * leading zero pads every number to its width, and END must then be as
 * wide; single letters range over a-z then A-Z.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/nodeset.h"

/* Expands Ansible's ranges "[BEG:END]" and "[BEG:END:STEP]" (numbers,
 * zero padding when BEG is written with a leading zero, or single
 * letters), the first bracket of text, then the rest. */
static int expand(const char *whole, const char *text, struct strlist *out,
                  char *err)
{
    const char *open = strchr(text, '['), *close;
    char beg[32] = "", end[32] = "", step[32] = "1", *part[3];
    size_t nparts = 0, width = 0;
    long long b, e, st;
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    if (open == NULL) {
        if (out->n >= NODESET_MAX)
            return errf(err, "host range '%s' makes more than %d names", whole,
                        NODESET_MAX);
        strlist_push(out, text);
        return 0;
    }
    close = strchr(open, ']');
    part[0] = beg;
    part[1] = end;
    part[2] = step;
    for (const char *p = open + 1; close && p < close; p++) {
        if (*p == ':') {
            if (++nparts > 2)
                break;
            part[nparts][0] = '\0';
        } else {
            size_t n = strlen(part[nparts]);
            if (n + 1 >= sizeof(beg))
                break;
            part[nparts][n] = *p;
            part[nparts][n + 1] = '\0';
        }
    }
    if (close == NULL || nparts < 1 || nparts > 2 || *end == '\0')
        return errf(err,
                    "host range in '%s' must be [BEGIN:END] or "
                    "[BEGIN:END:STEP]",
                    whole);
    if (*beg == '\0')
        beg[0] = '0';
    st = strtoll(step, NULL, 10);
    if (strspn(step, "0123456789") != strlen(step) || st < 1)
        return errf(err,
                    "host range in '%s': step '%s' is not a positive "
                    "number",
                    whole, step);
    if (beg[0] == '0' && beg[1]) {
        width = strlen(beg);
        if (width != strlen(end))
            return errf(err,
                        "host range in '%s': '%s' and '%s' must have as "
                        "many digits",
                        whole, beg, end);
    }
    if (!beg[1] && !end[1] && isalpha((unsigned char)beg[0]) &&
        isalpha((unsigned char)end[0])) {
        b = strchr(letters, beg[0]) - letters;
        e = strchr(letters, end[0]) - letters;
    } else if (strspn(beg, "0123456789") == strlen(beg) &&
               strspn(end, "0123456789") == strlen(end) && strlen(beg) < 16 &&
               strlen(end) < 16) {
        b = strtoll(beg, NULL, 10);
        e = strtoll(end, NULL, 10);
    } else {
        return errf(err,
                    "host range in '%s': '%s:%s' is neither numbers nor "
                    "letters",
                    whole, beg, end);
    }
    if (b > e)
        return errf(err, "host range in '%s': '%s:%s' goes down", whole, beg,
                    end);
    for (long long i = b; i <= e; i += st) {
        char *name;
        int rc;
        if (isalpha((unsigned char)beg[0]))
            name = xasprintf("%.*s%c%s", (int)(open - text), text, letters[i],
                             close + 1);
        else
            name = xasprintf("%.*s%0*lld%s", (int)(open - text), text,
                             (int)width, i, close + 1);
        rc = expand(whole, name, out, err);
        free(name);
        if (rc)
            return -1;
    }
    return 0;
}

int nodeset_expand_ansible(const char *text, struct strlist *out, char *err)
{
    size_t n = out->n;

    if (expand(text, text, out, err) == 0)
        return 0;
    while (out->n > n)
        free(out->v[--out->n]);
    return -1;
}
