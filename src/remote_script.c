/*
 * remote_script.c - composes the POSIX sh script a host runs.
 *
 * The script is plain text meant to be read by an operator in --dry-run, so
 * it is built line by line with every interpolated value single-quoted.
 * See remote_script.h for what it does and why the watchdog exists.
 */
#include "oneoff/remote_script.h"

#include <string.h>

#define SCRIPT_MAX (16u << 20)

void sh_quote(struct buf *b, const char *s)
{
    buf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_adds(b, "'\\''");
        else
            buf_addc(b, *s);
    }
    buf_addc(b, '\'');
}

static void line_q(struct buf *b, const char *before, const char *value,
                   const char *after)
{
    buf_adds(b, before);
    sh_quote(b, value);
    buf_adds(b, after);
}

static void add_env_files(struct buf *b, const struct strlist *files)
{
    if (files == NULL || files->n == 0)
        return;
    for (size_t i = 0; i < files->n; i++) {
        line_q(b, "[ -r ", files->v[i], " ] ||");
        line_q(b, " oneoff_fail 'env_file is not readable:' ", files->v[i],
               "\n");
    }
    buf_adds(b, "set -a\n");
    for (size_t i = 0; i < files->n; i++) {
        /* "." searches PATH for a name without a slash: anchor it. */
        buf_adds(b, files->v[i][0] == '/' ? ". " : ". ./");
        sh_quote(b, files->v[i]);
        buf_addc(b, '\n');
    }
    buf_adds(b, "set +a\n");
}

/* The batch-mode runner: the task in its own session, a watchdog on the
 * channel's stdin, signals forwarded, and the task's fate re-raised. */
static const char batch_tail[] =
    "exec 3<&0 </dev/null\n"
    "if command -v setsid >/dev/null 2>&1; then\n"
    "    setsid /bin/sh -c \"$oneoff_cmd\" oneoff \"$@\" &\n"
    "else\n"
    "    /bin/sh -c \"$oneoff_cmd\" oneoff \"$@\" &\n"
    "fi\n"
    "oneoff_pid=$!\n"
    "oneoff_kill() { kill -s \"$1\" -- \"-$oneoff_pid\" 2>/dev/null ||"
    " kill -s \"$1\" \"$oneoff_pid\" 2>/dev/null; }\n"
    "trap 'oneoff_kill TERM' INT TERM HUP\n"
    "{ while read -r oneoff_x; do :; done <&3; oneoff_kill TERM; sleep 5;"
    " oneoff_kill KILL; } >/dev/null 2>&1 9>&- &\n"
    "oneoff_dog=$!\n"
    "exec 3<&-\n"
    "while :; do\n"
    "    wait \"$oneoff_pid\"; oneoff_rc=$?\n"
    "    kill -0 \"$oneoff_pid\" 2>/dev/null || break\n"
    "done\n"
    "trap - INT TERM HUP\n"
    "kill \"$oneoff_dog\" 2>/dev/null\n"
    "if [ \"$oneoff_rc\" -gt 128 ] && [ \"$oneoff_rc\" -lt 160 ]; then\n"
    "    oneoff_sig=$(kill -l \"$oneoff_rc\" 2>/dev/null) &&"
    " kill -s \"$oneoff_sig\" $$\n"
    "fi\n"
    "exit \"$oneoff_rc\"\n";

/* Takes the task's lock on fd 9, which the task inherits: the lock lives
 * exactly as long as the task's processes. The watchdog closes fd 9 so it
 * never holds the lock itself. In the preflight, the lock is only tested
 * (or waited for) and released again. */
enum lock_mode {
    LOCK_TEST, /* preflight: test (or wait), report, release */
    LOCK_KEEP, /* handshake: take (or wait), report, keep until the end */
    LOCK_TAKE, /* plain run: take or exit SCRIPT_LOCK_HELD */
};

/* Takes the task's lock on fd 9, which the task inherits: the lock lives
 * exactly as long as the task's processes. The watchdog closes fd 9 so it
 * never holds the lock itself. */
static void add_lock(struct buf *b, const struct script_spec *s,
                     enum lock_mode mode)
{
    buf_adds(b, "oneoff_lockdir=\"$oneoff_app\"/" LOCK_DIR "\n");
    buf_adds(b, "mkdir -p -- \"$oneoff_lockdir\" 2>/dev/null ||"
                " oneoff_fail 'cannot create' \"$oneoff_lockdir\"\n");
    line_q(b, "oneoff_lock=\"$oneoff_lockdir\"/", s->lock, ".lock\n");
    buf_adds(b, "exec 9>>\"$oneoff_lock\" ||"
                " oneoff_fail 'cannot open lock' \"$oneoff_lock\"\n");
    buf_adds(b, "command -v flock >/dev/null 2>&1 ||"
                " oneoff_fail 'flock (util-linux) is not installed'\n");
    if (mode == LOCK_KEEP)
        buf_adds(b, "oneoff_locked=\n");
    if (s->lock_wait_s > 0)
        buf_addf(b, "if flock -w %ld 9; then\n", s->lock_wait_s);
    else
        buf_adds(b, "if flock -n 9; then\n");
    if (mode == LOCK_TEST) {
        buf_adds(b,
                 "    echo lock=free\n    exec 9>&-\n"
                 "else\n"
                 "    oneoff_h=\n    IFS= read -r oneoff_h <\"$oneoff_lock\"\n"
                 "    printf 'lock=held %s\\n' \"$oneoff_h\"\n"
                 "fi\n");
        return;
    }
    line_q(b, "    printf '%s\\n' ", s->lock_holder ? s->lock_holder : "oneoff",
           " >\"$oneoff_lock\"\n");
    if (mode == LOCK_KEEP) {
        buf_adds(b,
                 "    echo lock=free\n"
                 "else\n"
                 "    oneoff_locked=1\n"
                 "    oneoff_h=\n    IFS= read -r oneoff_h <\"$oneoff_lock\"\n"
                 "    printf 'lock=held %s\\n' \"$oneoff_h\"\n"
                 "fi\n");
        return;
    }
    buf_adds(b, "else\n"
                "    oneoff_h=\n    IFS= read -r oneoff_h <\"$oneoff_lock\"\n"
                "    printf 'oneoff: lock %s is held by %s\\n' \"$oneoff_lock\""
                " \"$oneoff_h\" >&2\n");
    buf_addf(b, "    exit %d\nfi\n", SCRIPT_LOCK_HELD);
}

/* app_dir, env files, release: the set-up the run and the preflight share.
 * Leaves $oneoff_app holding the resolved app_dir. */
static void add_setup(struct buf *b, const struct script_spec *s)
{
    if (s->label) {
        /* a comment: keep it on one line whatever the label holds */
        buf_adds(b, "# oneoff: ");
        for (const char *c = s->label; *c; c++)
            buf_addc(b, (*c >= 0x20 && *c < 0x7f) ? *c : '?');
        buf_addc(b, '\n');
    }
    buf_adds(b, "oneoff_fail() { printf 'oneoff: %s\\n' \"$*\" >&2; exit ");
    buf_addf(b, "%d; }\n", SCRIPT_SETUP_FAILED);
    line_q(b, "cd -P -- ", s->app_dir, " 2>/dev/null ||");
    line_q(b, " oneoff_fail 'cannot enter app_dir' ", s->app_dir, "\n");
    /* after cd -P, $PWD is the physical path: no subshell needed */
    buf_adds(b, "oneoff_app=$PWD\n");
    add_env_files(b, s->env_files);
    line_q(b, "cd -P -- ", s->release, " 2>/dev/null ||");
    line_q(b, " oneoff_fail 'cannot enter release' ", s->release, "\n");
}

/* What the preflight reports (see script_preflight()). */
static void add_report(struct buf *b, const struct script_spec *s,
                       enum lock_mode lock)
{
    buf_adds(b, "printf 'release=%s\\n' \"$PWD\"\n");
    line_q(b, "oneoff_rev=", s->revision_file ? s->revision_file : "REVISION",
           "\n");
    buf_adds(b, "oneoff_r=\n[ -r \"$oneoff_rev\" ] &&"
                " IFS= read -r oneoff_r <\"$oneoff_rev\"\n"
                "printf 'revision=%s\\n' \"$oneoff_r\"\n");
    if (s->task_file) {
        line_q(b, "oneoff_tf=", s->task_file, "\n");
        buf_adds(b, "if [ ! -f \"$oneoff_tf\" ]; then echo task_sha256=none\n"
                    "elif command -v sha256sum >/dev/null 2>&1; then\n"
                    "    oneoff_sum=$(sha256sum <\"$oneoff_tf\") &&"
                    " printf 'task_sha256=%s\\n' \"${oneoff_sum%% *}\"\n"
                    "else echo task_sha256=unknown; fi\n");
    }
    if (s->lock)
        add_lock(b, s, lock);
    if (s->check_locks)
        buf_adds(b, "for oneoff_f in \"$oneoff_app\"/" LOCK_DIR "/*.lock; do\n"
                    "    [ -f \"$oneoff_f\" ] || continue\n"
                    "    flock -n \"$oneoff_f\" true 2>/dev/null && continue\n"
                    "    oneoff_n=${oneoff_f##*/}\n"
                    "    oneoff_h=\n    IFS= read -r oneoff_h <\"$oneoff_f\"\n"
                    "    printf 'lock=held %s: %s\\n' \"${oneoff_n%.lock}\""
                    " \"$oneoff_h\"\n"
                    "done\n");
}

char *script_preflight(const struct script_spec *s)
{
    struct buf b = BUF_INIT(SCRIPT_MAX);

    add_setup(&b, s);
    add_report(&b, s, LOCK_TEST);
    buf_adds(&b, "exit 0\n");
    return buf_detach(&b);
}

char *script_compose(const struct script_spec *s)
{
    struct buf b = BUF_INIT(SCRIPT_MAX);

    add_setup(&b, s);
    if (s->handshake) {
        /* report, then wait for the client's word: "go" runs the task in
         * this very shell, so in the release resolved above */
        add_report(&b, s, LOCK_KEEP);
        buf_adds(&b, "echo " SCRIPT_READY "\n"
                     "IFS= read -r oneoff_go || exit 0\n"
                     "[ \"$oneoff_go\" = go ] || exit 0\n");
        if (s->lock)
            buf_addf(&b, "[ -z \"$oneoff_locked\" ] || exit %d\n",
                     SCRIPT_LOCK_HELD);
    }
    for (size_t i = 0; s->env && i < s->env->n; i++) {
        /* names are validated by the parsers: [A-Za-z_][A-Za-z0-9_]* */
        buf_addf(&b, "export %s=", s->env->key[i]);
        sh_quote(&b, s->env->val[i]);
        buf_addc(&b, '\n');
    }
    if (s->lock && !s->handshake)
        add_lock(&b, s, LOCK_TAKE);
    line_q(&b, "oneoff_cmd=", s->command, "\n");
    if (s->interactive)
        buf_adds(&b, "exec /bin/sh -c \"$oneoff_cmd\" oneoff \"$@\"\n");
    else
        buf_adds(&b, batch_tail);
    return buf_detach(&b);
}

char *script_command_line(const char *script, const char *become,
                          const struct strlist *args)
{
    struct buf b = BUF_INIT(SCRIPT_MAX * 2);

    buf_adds(&b, "exec ");
    if (become) {
        buf_adds(&b, "sudo -n -u ");
        sh_quote(&b, become);
        buf_adds(&b, " -- ");
    }
    buf_adds(&b, "/bin/sh -c ");
    sh_quote(&b, script);
    buf_adds(&b, " oneoff");
    for (size_t i = 0; args && i < args->n; i++) {
        buf_addc(&b, ' ');
        sh_quote(&b, args->v[i]);
    }
    return buf_detach(&b);
}
