/*
 * fuzz_task.c - libFuzzer target for task_parse().
 *
 * tasks/<name>.yml is untrusted input (it arrives with a checkout), so the
 * parser must reject any bytes with an error message and never crash, leak
 * or hang. A successful parse is released to catch leaks and double frees.
 */
#include <stddef.h>
#include <stdint.h>

#include "oneoff/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct task t;
    char err[ERR_MAX];

    if (task_parse(&t, "fuzz", "tasks/fuzz.yml", (const char *)data, size,
                   err) == 0)
        task_release(&t);
    return 0;
}
