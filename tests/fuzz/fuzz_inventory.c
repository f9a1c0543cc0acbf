/*
 * fuzz_inventory.c - libFuzzer target for inventory_parse().
 *
 * hosts/<stage>.yml is untrusted input (it arrives with a checkout), so the
 * parser must reject any bytes with an error message and never crash, leak
 * or hang. A successful parse is released to catch leaks and double frees.
 */
#include <stddef.h>
#include <stdint.h>

#include "oneoff/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct inventory inv;
    char err[ERR_MAX];

    if (inventory_parse(&inv, "hosts/fuzz.yml", NULL, (const char *)data, size,
                        err) == 0)
        inventory_release(&inv);
    return 0;
}
