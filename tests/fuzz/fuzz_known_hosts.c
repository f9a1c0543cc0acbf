/*
 * fuzz_known_hosts.c - libFuzzer target for known_hosts.h.
 *
 * A known_hosts file is the operator's, but a certificate comes from the
 * network (the server sends it). The first byte of the input chooses:
 * even, the rest is a known_hosts file, parsed and checked for a few names
 * with a fixed key; odd, the rest is a certificate blob, parsed, its
 * signature verified and its host checks made, and then checked against a
 * known_hosts file that trusts its CA. Nothing may crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/known_hosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* an ed25519 public key blob (32 zero bytes) */
static const unsigned char key[] = {
    0,   0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1',
    '9', 0, 0, 0,  32,  0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0, 0, 0,  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0, 0, 0,  0,   0,   0,   0,   0,   0,   0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"web1", "[web1]:2222", "", "a.b.c"};
    struct known_hosts kh;
    struct kh_verdict v;
    struct kh_cert c;
    char err[ERR_MAX];

    if (size == 0)
        return 0;
    memset(&kh, 0, sizeof(kh));
    if (data[0] % 2 == 0) {
        known_hosts_parse(&kh, "fuzz", (const char *)data + 1, size - 1);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            known_hosts_check(&kh, names[i], "web1", key, sizeof(key), NULL, 0,
                              1767225600, &v);
            (void)known_hosts_has_ca(&kh, names[i]);
        }
        known_hosts_release(&kh);
        return 0;
    }
    if (kh_cert_parse(&c, data + 1, size - 1, err) == 0) {
        (void)kh_cert_check_host(&c, "web1", 1767225600, err);
        kh_cert_release(&c);
    }
    known_hosts_parse(&kh, "fuzz",
                      "@cert-authority * ssh-ed25519 "
                      "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                      "AAAAAAAAAAAA\n",
                      strlen("@cert-authority * ssh-ed25519 "
                             "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAA"
                             "AAAAAAAAAAAAAAAAAAA\n"));
    known_hosts_check(&kh, "web1", "web1", key, sizeof(key), data + 1, size - 1,
                      1767225600, &v);
    known_hosts_release(&kh);
    return 0;
}
