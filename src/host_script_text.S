/*
 * host_script_text.S - src/host_script.sh, src/host_runtime.sh and
 * src/host_job.sh, embedded at build time as the NUL-terminated strings
 * oneoff_host_script, oneoff_host_runtime and oneoff_host_job (see
 * host_script.c). The Makefile first drops the scripts' comment lines,
 * indentation and blank lines into the build directory (same names
 * there), assembles this with -Wa,-I of that directory, and rebuilds it
 * when a script changes.
 */
    .section .rodata
    .globl oneoff_host_script
    .type oneoff_host_script, @object
oneoff_host_script:
    .incbin "host_script.sh"
    .byte 0
    .size oneoff_host_script, . - oneoff_host_script
    .globl oneoff_host_runtime
    .type oneoff_host_runtime, @object
oneoff_host_runtime:
    .incbin "host_runtime.sh"
    .byte 0
    .size oneoff_host_runtime, . - oneoff_host_runtime
    .globl oneoff_host_job
    .type oneoff_host_job, @object
oneoff_host_job:
    .incbin "host_job.sh"
    .byte 0
    .size oneoff_host_job, . - oneoff_host_job
    .section .note.GNU-stack, "", @progbits
