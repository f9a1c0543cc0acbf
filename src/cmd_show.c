/*
 * cmd_show.c - `oneoff show RUN-ID [-s STAGE]`: one run, with its result on
 * each host (from the stage's history) and, where this machine's log
 * folder still has them, its host logs.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oneoff/commands.h"
#include "oneoff/history.h"
#include "oneoff/text.h"

#define LOG_SHOW_MAX (64u << 20)

/* A run id names a folder under log/: letters, digits and '-' only. */
static bool id_valid(const char *s)
{
    if (*s == '\0' || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= 'a' && *s <= 'z') || *s == '-'))
            return false;
    return true;
}

static void print_list(const char *label, const struct strlist *l)
{
    char q[512];

    if (l->n == 0)
        return;
    printf("  %-10s", label);
    for (size_t i = 0; i < l->n; i++)
        printf(" %s", text_escape_msg(l->v[i], q, sizeof(q)));
    printf("\n");
}

static void print_field(const char *label, const char *v)
{
    char q[2048];

    if (v && *v)
        printf("  %-10s %s\n", label, text_escape_msg(v, q, sizeof(q)));
}

/* A run of a later stage that skipped this stage's promotion gate. */
static void print_gate_skipped(const struct history_run *r)
{
    char q[4][256];

    printf("run %s on stage '%s' skipped the promotion gate of stage '%s' "
           "for task '%s'\n",
           text_escape_msg(r->run, q[0], sizeof(q[0])),
           text_escape_msg(r->skipped_for, q[1], sizeof(q[1])),
           text_escape_msg(r->stage ? r->stage : "-", q[2], sizeof(q[2])),
           text_escape_msg(r->task ? r->task : "-", q[3], sizeof(q[3])));
    print_field("operator", r->operator_name);
    print_field("email", r->email);
    print_field("at", r->at);
    print_field("reason", r->reason);
    print_field("sha256", r->sha256);
    print_list("recorded", &r->skipped_on);
}

static void print_run(const struct history_run *r)
{
    char q[4][256], dur[32];

    if (!r->has_start && r->skipped_for) {
        print_gate_skipped(r);
        return;
    }
    printf("run %s: %s '%s' on stage '%s'\n",
           text_escape_msg(r->run, q[0], sizeof(q[0])),
           r->task ? "task" : "command",
           text_escape_msg(r->task ? r->task : "exec", q[1], sizeof(q[1])),
           text_escape_msg(r->stage ? r->stage : "-", q[2], sizeof(q[2])));
    print_field("operator", r->operator_name);
    print_field("email", r->email);
    print_field("started", r->at);
    print_field("release", r->release);
    print_field("revision", r->revision);
    print_field("reason", r->reason);
    print_field("command", r->command);
    print_field("sha256", r->sha256);
    print_list("args", &r->args);
    print_list("overrides", &r->overrides);
    printf("\n%-16s  %-20s  %-4s  %-8s  %s\n", "HOST", "OUTCOME", "EXIT",
           "DURATION", "ENDED");
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct history_host *h = &r->hosts[i];
        char ex[40] = "-";
        if (h->signal)
            snprintf(ex, sizeof(ex), "SIG%s",
                     text_escape_msg(h->signal, q[3], 16));
        else if (h->exit_code >= 0)
            snprintf(ex, sizeof(ex), "%d", h->exit_code);
        snprintf(dur, sizeof(dur), "-");
        if (h->duration_ms >= 0)
            duration_format(h->duration_ms, dur, sizeof(dur));
        printf("%-16s  %-20s  %-4s  %-8s  %s\n",
               text_escape_msg(h->host, q[0], sizeof(q[0])),
               h->ended_at ? history_outcome_name(h->outcome)
                           : "started, never ended",
               ex, dur,
               h->ended_at ? text_escape_msg(h->ended_at, q[1], sizeof(q[1]))
                           : "-");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The host logs of log/ID, escaped as any remote text. Returns how many
 * were shown. */
static size_t print_logs(const char *dir)
{
    struct strlist names = {0};
    struct dirent *e;
    DIR *d = opendir(dir);
    size_t shown = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0)
            strlist_push(&names, e->d_name);
    }
    closedir(d);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(*names.v), cmp_str);
    for (size_t i = 0; i < names.n; i++) {
        char *path = xasprintf("%s/%s", dir, names.v[i]);
        char *data = NULL;
        size_t len = 0;
        struct buf b = BUF_INIT(4 * (size_t)LOG_SHOW_MAX + 1);
        if (file_read(path, LOG_SHOW_MAX, &data, &len) == 0) {
            /* text_escape() makes at most 4 bytes of each byte */
            BUF_MUST(text_escape(&b, data, len));
            printf("\n--- %s ---\n%s", path, buf_str(&b));
            if (len && data[len - 1] != '\n')
                printf("\n");
            shown++;
        }
        buf_release(&b);
        free(data);
        free(path);
    }
    strlist_clear(&names);
    return shown;
}

static int show_run(struct options *o)
{
    struct history h;
    const struct history_run *r = NULL;
    const char *id;
    char *logs, q[128];
    int unreadable = 0, rc = EXIT_OK;
    size_t shown;

    if (o->positional.n != 1)
        return command_usage_error(&cmd_show, "give one run id");
    id = o->positional.v[0];
    if (!id_valid(id))
        return command_usage_error(&cmd_show, "not a run id");
    text_escape_msg(id, q, sizeof(q)); /* letters, digits, '-': as it is */
    history_init(&h);
    if (o->stage) {
        rc = command_history_read(o, &h, &unreadable);
        if (rc) {
            history_release(&h);
            return rc;
        }
        r = history_find(&h, id);
    }
    if (o->json) {
        char *js = history_json(&h, r ? &r : NULL, r ? 1 : 0);
        printf("%s\n", js);
        free(js);
    } else if (r) {
        print_run(r);
    }
    logs = o->log_dir ? xasprintf("%s/%s", o->log_dir, id)
                      : xasprintf("%s/log/%s", o->dir, id);
    shown = o->json ? 0 : print_logs(logs);
    if (o->stage)
        command_history_problems(&h);
    if (r == NULL && shown == 0 && !o->json) {
        fprintf(stderr, "oneoff: run '%s' not found%s%s%s%s\n", q,
                o->stage ? " in the history of stage '" : "",
                o->stage ? o->stage : "", o->stage ? "'" : "",
                " nor in the local logs");
        rc = EXIT_USAGE;
    } else if (r == NULL && o->stage && !o->json) {
        fprintf(stderr,
                "oneoff: run '%s' is not in the history of stage "
                "'%s' (the local logs are shown)\n",
                q, o->stage);
    }
    if (rc == EXIT_OK && unreadable)
        rc = EXIT_UNREACHABLE;
    free(logs);
    history_release(&h);
    return rc;
}

const struct command cmd_show = {
    .name = "show",
    .usage = "RUN-ID [-s STAGE] [--json] [OPTIONS]",
    .summary = "one run: its result on each host, and its local logs",
    .help = "Prints run RUN-ID: with -s STAGE, who ran it, when, why, on "
            "which release,\nand how it ended on each host, from the "
            "stage's history; then the host\nlogs this machine still keeps "
            "in log/RUN-ID/ (or --log-dir).",
    .opts = OPT_STAGE | OPT_SSH | OPT_JSON | OPT_SELECT,
    .run = show_run,
};
