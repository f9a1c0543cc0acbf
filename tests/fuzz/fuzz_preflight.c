/*
 * fuzz_preflight.c - libFuzzer target for preflight_parse().
 *
 * A host's report is untrusted input: whatever its login shell, env file
 * or processes print reaches the parser. The first byte of the input sets
 * how the rest is cut into pieces; the parser must give the same answer
 * fed whole or piece by piece (same result, report, noise and end of the
 * report), never crash, leak or hang, and keep its memory bounded; a
 * report it calls ready has a release (a path or an image id) and a
 * revision.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/preflight.h"

#define NONCE "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int feed(struct preflight *pf, const char *p, size_t n, size_t step,
                struct buf *noise, size_t *used)
{
    char err[ERR_MAX];
    size_t off = 0;
    int rc = 0;

    memset(pf, 0, sizeof(*pf));
    *used = 0;
    while (off < n && rc == 0) {
        size_t k = n - off < step ? n - off : step;
        rc = preflight_parse(pf, NONCE, p + off, k, noise, err);
        *used = off + (rc == 1 ? pf->used : k);
        off += k;
    }
    return rc;
}

/* A release as a run's report may give it: an absolute path, or a
 * container runtime's image id (hex, 12 to 64 digits, maybe after
 * "sha256:"). */
static int release_ok(const char *r)
{
    size_t n;

    if (r[0] == '/')
        return 1;
    if (strncmp(r, "sha256:", 7) == 0)
        r += 7;
    n = strlen(r);
    return n >= 12 && n <= 64 && strspn(r, "0123456789abcdef") == n;
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct preflight whole, cut;
    struct buf n1 = BUF_INIT(1u << 20), n2 = BUF_INIT(1u << 20);
    size_t step, u1, u2;
    int r1, r2;

    if (size < 1)
        return 0;
    step = 1 + data[0] % 97;
    r1 = feed(&whole, (const char *)data + 1, size - 1, size, &n1, &u1);
    r2 = feed(&cut, (const char *)data + 1, size - 1, step, &n2, &u2);
    if (r1 != r2)
        abort();
    if (r1 == 1) {
        if (u1 != u2 || n1.len != n2.len ||
            memcmp(buf_str(&n1), buf_str(&n2), n1.len) != 0 ||
            !same(whole.release, cut.release) ||
            !same(whole.revision, cut.revision) || whole.task != cut.task ||
            strcmp(whole.task_sha256, cut.task_sha256) != 0 ||
            whole.lock_held != cut.lock_held ||
            !same(whole.lock_holder, cut.lock_holder) ||
            whole.nheld != cut.nheld)
            abort();
        if (whole.release == NULL || !release_ok(whole.release) ||
            whole.revision == NULL)
            abort();
        (void)preflight_release_id(&whole);
        (void)task_state_name(preflight_task_state(&whole, "00"));
    }
    preflight_release(&whole);
    preflight_release(&cut);
    buf_release(&n1);
    buf_release(&n2);
    return 0;
}
