/*
 * job.h - detached runs (`run --detach`) and the commands that follow
 * them (status, logs, cancel: cmd_job.c). The host's side is
 * src/host_job.sh.
 */
#ifndef ONEOFF_JOB_H
#define ONEOFF_JOB_H

#include <stdbool.h>

#include "oneoff/plan.h"

struct job_detach {
    char run_id[64]; /* the run's id, made here: printed to follow it */
    char *hist;      /* the client's members of the history start line */
};

/* Makes p a detached run: every host must be plain (no container
 * runtime); fills d (the run id to give the runner) and sets p->job and
 * p->hist, which borrow from d until job_detach_done(). */
int job_detach_prepare(struct plan *p, bool allow_drift, struct job_detach *d,
                       char *err);
/* After the run (rc: its exit code): on success prints the run id and how
 * to follow it, to stderr; frees what d holds. */
void job_detach_done(const struct plan *p, struct job_detach *d, int rc);

#endif
