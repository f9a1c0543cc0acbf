/*
 * exit_codes.h - the process exit codes (README and --help list them).
 * Where several apply, the first of 130, 4, 3, 1 wins.
 */
#ifndef ONEOFF_EXIT_CODES_H
#define ONEOFF_EXIT_CODES_H

enum exit_code {
    EXIT_OK = 0,
    EXIT_TASK_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_REFUSED = 4,
    EXIT_INTERRUPTED = 130
};

#endif
