/*
 * runner.h - runs a plan on its hosts: bounded parallelism, deadlines,
 * Ctrl-C, live output, logs and the run record.
 */
#ifndef ONEOFF_RUNNER_H
#define ONEOFF_RUNNER_H

#include <stdint.h>

#include "oneoff/output.h"
#include "oneoff/plan.h"
#include "oneoff/transport.h"

struct runner_opts {
    unsigned parallel;
    int64_t timeout_ms;        /* 0: none */
    enum out_mode output;
    const char *log_root;      /* "log" under the project folder */
    const char *report;        /* NULL or --report FILE */
    struct ssh_transport *ssh; /* NULL when every host is local */
    const char *command_text;  /* the task's command, for the record */
};

/* Runs p; returns the process exit code (0, 1, 3, 130; 2 when the run could
 * not start, with err set). */
int runner_run(const struct plan *p, const struct runner_opts *o, char *err);

#endif
