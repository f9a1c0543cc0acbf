/*
 * digest.h - the SHA-256 of some bytes, as lowercase hex (libcrypto).
 */
#ifndef ONEOFF_DIGEST_H
#define ONEOFF_DIGEST_H

#include <stddef.h>

/* Writes the 64 hex digits and a NUL into out; "" when libcrypto fails. */
void sha256_hex(const char *data, size_t len, char out[65]);

#endif
