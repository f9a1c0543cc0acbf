/*
 * digest.c - SHA-256 as hex: the task file here and its copy in a release
 * are compared by it.
 */
#include "oneoff/digest.h"

#include <openssl/evp.h>
#include <stdio.h>

void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return;
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
