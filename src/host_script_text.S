/*
 * host_script_text.S - src/host_script.sh, embedded at build time as the
 * NUL-terminated string oneoff_host_script (see host_script.c). The
 * Makefile first drops the script's comment lines, indentation and blank
 * lines into the build directory (host_script.sh there), assembles this
 * with -Wa,-I of that directory, and rebuilds it when the script changes.
 */
    .section .rodata
    .globl oneoff_host_script
    .type oneoff_host_script, @object
oneoff_host_script:
    .incbin "host_script.sh"
    .byte 0
    .size oneoff_host_script, . - oneoff_host_script
    .section .note.GNU-stack, "", @progbits
