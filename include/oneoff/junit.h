/*
 * junit.h - `--report-junit FILE`: the run as JUnit XML, for CI systems
 * that show test results. One <testsuite> for the run (its name says the
 * task and the stage; properties hold run_id, stage, task, exit_code and,
 * for a refused run, why), one <testcase> per host (name: the host,
 * classname: STAGE.TASK, time: its duration in seconds):
 *   - ok, ready:                 passed;
 *   - skipped, refused:          <skipped message="why"/>;
 *   - anything else:             <failure message="exit 3" type="failed">
 *                                with the tail of its stderr; the host's
 *                                error, if any, follows the exit status.
 * The tail of stdout goes to <system-out>. Text is valid UTF-8, XML-escaped,
 * with control characters (other than TAB, LF, CR) removed. Nothing here
 * prints.
 */
#ifndef ONEOFF_JUNIT_H
#define ONEOFF_JUNIT_H

#include <stddef.h>

#include "oneoff/record.h"

/* The document, malloc'ed. */
char *junit_format(const struct record_run *run,
                   const struct record_host *hosts, size_t n);
/* Writes it to path, atomically (record_file_replace()). Returns 0, or -1
 * with err. */
int junit_write(const char *path, const struct record_run *run,
                const struct record_host *hosts, size_t n, char *err);

#endif
