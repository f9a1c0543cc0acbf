/*
 * history.h - app_dir/shared/.oneoff/history.jsonl on the hosts: the
 * format of its lines, and runs merged from the lines of many hosts.
 *
 * Every function here is pure: no I/O, no threads. The host script appends
 * the lines (src/host_script.sh); this module composes the start line the
 * client sends it, parses what hosts report, and answers the questions the
 * gates ask ("did this task content succeed on every host it ran on?").
 * The format is documented in the README ("History on the hosts").
 *
 * One line is one JSON object, either a start line (written on the host
 * after "go", before the task), an end line (after the task ended) or a
 * gate-skipped line (this stage's promotion gate was skipped by a run on
 * the stage after it: a mark, not a run of this stage). A
 * run's state on a host is its start line and its end line, or "unknown"
 * when the end line is missing (the client or the host died, or the run is
 * still going). Lines that do not parse are never fatal: they are counted
 * and described in struct history's problems, and skipped.
 *
 * Ownership: struct history owns everything it holds; history_release()
 * frees it. Pointers returned by lookups point into it.
 */
#ifndef ONEOFF_HISTORY_H
#define ONEOFF_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oneoff/util.h"

/* The file, relative to app_dir. */
#define HISTORY_FILE "shared/.oneoff/history.jsonl"
/* A line with its newline is shorter than this: the host writes it in one
 * write(2); longer values are cut with "..." (U+2026) by the composer. */
#define HISTORY_LINE_MAX 4000
/* The part of a start line composed after the preflight (release,
 * revision, time) is shorter than this; the rest, composed before, is
 * shorter than HISTORY_LINE_MAX minus this. */
#define HISTORY_TAIL_MAX 1000
#define HISTORY_FORMAT 1

/* How a run ended on one host. HIST_UNKNOWN: started, never ended. */
enum history_outcome {
    HIST_UNKNOWN,
    HIST_SUCCEEDED,
    HIST_FAILED,
    HIST_SIGNALLED,
    HIST_TIMEOUT,
    HIST_INTERRUPTED,
    HIST_LOST,
    HIST_CANCELLED,
};

/* "unknown", "succeeded", ...: the words of the "outcome" field. */
const char *history_outcome_name(enum history_outcome o);
/* The outcome for a word; false when it is none of them. */
bool history_outcome_parse(const char *s, enum history_outcome *out);

/* What a start line says (also the input of history_start_line()). */
struct history_start {
    const char *run;  /* run id */
    const char *kind; /* "run", "console", "detached", "promote" */
    const char *host;
    const char *stage;
    const char *task;   /* NULL for `exec` */
    const char *sha256; /* task file digest, or the command's digest */
    const char *command;
    const struct strlist *args; /* already masked (history_mask_args()) */
    const char *release;
    const char *revision; /* NULL or "": null */
    const char *operator_name;
    const char *email;  /* NULL: null */
    const char *reason; /* NULL: null */
    const struct strlist *overrides;
    int64_t at_ms; /* wall clock, ms since the epoch */
};

/* The start line for s: one JSON object without a newline, shorter than
 * HISTORY_LINE_MAX (the longest values are cut first): the head and the
 * tail below, joined. Caller frees. */
char *history_start_line(const struct history_start *s);
/* The start line in two parts, so that a host gets the head with its
 * command line and only the short tail after "go": the head is every
 * member but release, revision and at, without the closing brace (shorter
 * than HISTORY_LINE_MAX - HISTORY_TAIL_MAX); the tail is
 *   ,"release":"ID","revision":"REV","at":"TIME"}
 * (shorter than HISTORY_TAIL_MAX; revision null when NULL or ""). Each
 * cuts its own longest values, and writes a single quote as \u0027 (each
 * travels to the host in a shell's single-quoted word). Caller frees. */
char *history_start_head(const struct history_start *s);
char *history_start_tail(const char *release, const char *revision,
                         int64_t at_ms);
/* The opening of the end line the host completes:
 *   {"v":1,"event":"end","run":"ID","host":"NAME"
 * (the host appends "at", "outcome", "exit", "signal", "duration_ms" and
 * the closing brace). Caller frees. */
char *history_end_prefix(const char *run, const char *host);

/* What a gate-skipped line says: run (on to_stage) skipped the promotion
 * gate that reads this stage's history, with reason. */
struct history_gate_skip {
    const char *run;      /* the id of the run on to_stage */
    const char *stage;    /* this stage (the target's promote_from) */
    const char *to_stage; /* the stage the run is on */
    const char *task;
    const char *sha256;
    const char *operator_name;
    const char *email; /* NULL: null */
    const char *reason;
    const char *host; /* the host of this stage the line is written on */
    int64_t at_ms;
};

/* The gate-skipped line for s, as history_start_line(). Caller frees. */
char *history_gate_skip_line(const struct history_gate_skip *s);

/* Copies args into out (cleared first), with the value of every KEY=VALUE
 * argument whose KEY (after any leading '-') is in secret_keys replaced by
 * "***". secret_keys may be NULL. */
void history_mask_args(const struct strlist *args,
                       const struct strlist *secret_keys, struct strlist *out);

/* One host's part of a run. */
struct history_host {
    char *host;
    char *started_at; /* "at" of the start line */
    char *ended_at;   /* NULL: no end line */
    enum history_outcome outcome;
    int exit_code;            /* -1: none */
    char *signal;             /* NULL: none */
    int64_t duration_ms;      /* -1: unknown */
    char *release, *revision; /* as its start line says */
};

/* One run, merged from the lines of every host that has it. Run-level
 * fields come from the first start line read. A run known only from
 * gate-skipped lines (has_start false, skipped_for set) is a mark: its
 * task, sha256, stage, operator, email, reason and at come from the first
 * such line, and no lookup ever counts it as a run. */
struct history_run {
    char *run;
    char *kind, *stage, *task, *sha256, *command;
    struct strlist args;
    char *release, *revision; /* revision NULL: none */
    char *operator_name, *email, *reason;
    struct strlist overrides;
    char *at; /* earliest start "at" */
    struct history_host *hosts;
    size_t nhosts, hosts_alloc;
    bool has_start; /* false: only end or gate-skipped lines were read */
    /* gate-skipped lines: the stage whose run skipped this stage's gate
     * (NULL: none), and the hosts that have the line */
    char *skipped_for;
    struct strlist skipped_on;
};

/* A host whose history could not be read or had bad lines. */
struct history_problem {
    char *host;
    size_t line; /* 1-based; 0: the whole file (unreadable) */
    char *what;
};

struct history {
    struct history_run *runs;
    size_t n, alloc;
    struct history_problem *problems;
    size_t nproblems, problems_alloc;
    size_t bad_lines; /* lines skipped, over every host */
};

/* One line, parsed. */
enum history_event {
    HIST_EVENT_START,
    HIST_EVENT_END,
    HIST_EVENT_GATE_SKIPPED,
};
struct history_line {
    enum history_event event;
    char *run, *host, *at;
    /* start */
    char *kind, *stage, *task, *sha256, *command;
    struct strlist args;
    char *release, *revision, *operator_name, *email, *reason;
    struct strlist overrides;
    /* gate-skipped (with stage, task, sha256, operator, email, reason) */
    char *to_stage;
    /* end */
    enum history_outcome outcome;
    int exit_code;
    char *signal;
    int64_t duration_ms;
};

/* Parses one line (without its newline; len bytes, need not be
 * NUL-terminated). Returns 0, or -1 with err saying what is wrong (not
 * JSON, not an object, a missing or mistyped field, an unknown event or
 * outcome, a future format). history_line_release() frees out, also after
 * a failure. */
int history_parse_line(const char *line, size_t len, struct history_line *out,
                       char *err);
void history_line_release(struct history_line *l);

void history_init(struct history *h);
void history_release(struct history *h);

/* Adds the lines of one host's history file (text, len bytes) to h.
 * Lines that do not parse are skipped and noted as problems of host (a
 * truncated last line too); a line names its host itself, but host names
 * the source in problems. Empty lines are ignored. */
void history_add_text(struct history *h, const char *host, const char *text,
                      size_t len);
/* Notes that host's history could not be read at all (what: why). */
void history_add_problem(struct history *h, const char *host, size_t line,
                         const char *what);
/* Orders h's runs newest first (by run id, which sorts by age, then by
 * start time). */
void history_sort(struct history *h);

/* The run with this id, or NULL. */
const struct history_run *history_find(const struct history *h,
                                       const char *run_id);

/* The run's outcome over its hosts: HIST_SUCCEEDED when it succeeded on
 * every host it ran on, HIST_UNKNOWN when some host never ended (and none
 * failed), else the first other outcome in host order. */
enum history_outcome history_run_outcome(const struct history_run *r);

/* What the history says of a task content on a stage. */
enum history_verdict {
    HISTORY_NEVER,          /* no run of it */
    HISTORY_SUCCEEDED,      /* a run succeeded on every host it ran on */
    HISTORY_UNKNOWN,        /* a run started and never ended somewhere */
    HISTORY_FAILED,         /* runs exist, none succeeded, all ended */
    HISTORY_OTHER_REVISION, /* it succeeded, but on another revision */
};

struct history_query {
    const char *sha256;   /* required */
    const char *stage;    /* NULL: any stage */
    const char *revision; /* NULL: any revision */
};

/* Looks for q in h's runs; *run (may be NULL) gets the run that decided:
 * the newest of the verdict's kind. Precedence: SUCCEEDED, UNKNOWN,
 * FAILED, OTHER_REVISION, NEVER (a success on q's revision is enough; a
 * run that never ended matters only when none succeeded). */
enum history_verdict history_lookup(const struct history *h,
                                    const struct history_query *q,
                                    const struct history_run **run);
const char *history_verdict_name(enum history_verdict v);

/* The run as a JSON object (for `history --json` and `show --json`);
 * caller frees. */
char *history_run_json(const struct history_run *r);
/* {"runs":[runs[0..n) as history_run_json()],"problems":[{"host","line",
 * "what"}...]} (line 0: the host's file as a whole); caller frees. */
char *history_json(const struct history *h,
                   const struct history_run *const *runs, size_t n);

#endif
