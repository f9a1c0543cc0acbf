/*
 * record.c - per-host logs, the JSON run record (its text: record_json.c)
 *
 * Every write here can fail (a full disk, an I/O error, a FIFO whose
 * reader went away), and a record that silently misses part of a run is
 * worse than none: each failure is kept in the record (record_lost()) and
 * handed to the caller once per file, to show (record.h says how).
 */
#define _GNU_SOURCE
#include "oneoff/record.h"
#include "record_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "oneoff/buf.h"
#include "oneoff/text.h"

#define LOG_BATCH_MAX (64u << 20)
#define QUOTE_MAX 512 /* a path quoted in a message */

void record_new_id(char *buf, size_t n)
{
    char ts[32];
    unsigned char rnd[3] = {0, 0, 0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    int64_t now = clock_wall_ms();
    time_t t = (time_t)(now / 1000);
    struct tm tm;

    if (fd >= 0) {
        if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        close(fd);
    }
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, n, "%s-%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2]);
}

void record_operator(char *buf, size_t n)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res)
        snprintf(buf, n, "%s", pw.pw_name);
    else
        snprintf(buf, n, "uid %ld", (long)getuid());
}

static int mkdir_p(const char *path, char *err)
{
    char *p = xstrdup(path);
    char q[QUOTE_MAX];
    int rc = 0;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = errf(err, "cannot create '%s': %s",
                      text_escape_msg(p, q, sizeof(q)), strerror(errno));
            break;
        }
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = errf(err, "cannot create '%s': %s",
                  text_escape_msg(p, q, sizeof(q)), strerror(errno));
    free(p);
    return rc;
}

/* The descriptor a path names when it is one of ours (/dev/stdout,
 * /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N), else -1.
 * Resolving those links instead would give "pipe:[123]", or a terminal, or
 * a file whose replacement would cut the rest of our stdout off. */
static int fd_path(const char *p)
{
    char self[64];
    const char *num = NULL;
    char *end;
    long v;

    if (strcmp(p, "/dev/stdout") == 0)
        return STDOUT_FILENO;
    if (strcmp(p, "/dev/stderr") == 0)
        return STDERR_FILENO;
    snprintf(self, sizeof(self), "/proc/%ld/fd/", (long)getpid());
    if (strncmp(p, "/dev/fd/", 8) == 0)
        num = p + 8;
    else if (strncmp(p, "/proc/self/fd/", 14) == 0)
        num = p + 14;
    else if (strncmp(p, self, strlen(self)) == 0)
        num = p + strlen(self);
    if (num == NULL || *num < '0' || *num > '9')
        return -1;
    errno = 0;
    v = strtol(num, &end, 10);
    if (*end || errno || v > INT_MAX)
        return -1;
    return (int)v;
}

/* A symlink's target, relative to the folder of the link. */
static char *link_target(const char *link, const char *target)
{
    const char *slash = strrchr(link, '/');

    if (target[0] == '/' || slash == NULL)
        return xstrdup(target);
    return xasprintf("%.*s/%s", (int)(slash - link), link, target);
}

static int report_fd_check(struct record *r, const char *report, int fd,
                           char *err)
{
    char q[QUOTE_MAX];
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
        return errf(err, "--report '%s': descriptor %d is not open for writing",
                    text_escape_msg(report, q, sizeof(q)), fd);
    r->report_kind = REPORT_FD;
    r->report_fd = fd;
    return 0;
}

/* Finds what --report names (record.h lists the cases), following
 * symlinks one by one so that a dangling one still names its target. */
static int report_resolve(struct record *r, const char *report, char *err)
{
    char q[QUOTE_MAX];
    char *cur;
    struct stat st;
    int rc = 0;

    r->report_kind = REPORT_NONE;
    r->report_fd = -1;
    if (report == NULL)
        return 0;
    if (strcmp(report, "-") == 0)
        return report_fd_check(r, report, STDOUT_FILENO, err);
    cur = xstrdup(report);
    for (int hops = 0;; hops++) {
        char target[PATH_MAX];
        ssize_t k;
        int fd = fd_path(cur);
        if (fd >= 0) {
            free(cur);
            return report_fd_check(r, report, fd, err);
        }
        if (lstat(cur, &st) != 0) {
            if (errno != ENOENT)
                goto fail_errno;
            r->report_kind = REPORT_FILE; /* created by the first write */
            r->report_path = cur;
            return 0;
        }
        if (!S_ISLNK(st.st_mode))
            break;
        k = readlink(cur, target, sizeof(target) - 1);
        if (k < 0)
            goto fail_errno;
        if (hops == 40) {
            errno = ELOOP;
            goto fail_errno;
        }
        target[k] = '\0';
        {
            char *next = link_target(cur, target);
            free(cur);
            cur = next;
        }
    }
    text_escape_msg(report, q, sizeof(q));
    if (S_ISREG(st.st_mode)) {
        r->report_kind = REPORT_FILE;
    } else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
        if (access(cur, W_OK) != 0)
            goto fail_errno;
        r->report_kind = REPORT_DEVICE;
    } else if (S_ISDIR(st.st_mode)) {
        rc = errf(err, "--report '%s' is a directory", q);
    } else if (S_ISBLK(st.st_mode)) {
        rc = errf(err,
                  "--report '%s' is a block device; not writing a report "
                  "over it",
                  q);
    } else {
        rc = errf(err,
                  "--report '%s' is a socket or another special file "
                  "(--report - writes to stdout)",
                  q);
    }
    if (rc == 0)
        r->report_path = cur;
    else
        free(cur);
    return rc;
fail_errno:
    rc = errf(err, "--report '%s': %s", text_escape_msg(report, q, sizeof(q)),
              strerror(errno));
    free(cur);
    return rc;
}

static void record_init(struct record *r)
{
    memset(r, 0, sizeof(*r));
    r->report_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->json_lost, false);
    atomic_init(&r->report_lost, false);
    atomic_init(&r->log_lost, false);
}

int record_open(struct record *r, const char *log_root, const char *run_id,
                const char *report, char *err)
{
    record_init(r);
    if (report_resolve(r, report, err))
        goto fail;
    r->report = report ? xstrdup(report) : NULL;
    r->dir = xasprintf("%s/%s", log_root, run_id);
    if (mkdir_p(r->dir, err))
        goto fail;
    r->json_path = xasprintf("%s/run.json", r->dir);
    return 0;
fail:
    record_release(r);
    return -1;
}

void record_release(struct record *r)
{
    free(r->dir);
    free(r->json_path);
    free(r->report);
    free(r->report_path);
    record_json_cache_release(&r->json_cache);
    pthread_mutex_destroy(&r->lock);
    memset(r, 0, sizeof(*r));
    r->report_fd = -1;
}

bool record_lost(const struct record *r)
{
    return atomic_load(&r->json_lost) || atomic_load(&r->report_lost) ||
           atomic_load(&r->log_lost);
}

bool record_report_is_stdout(const char *report)
{
    struct record r;
    char err[ERR_MAX];
    bool yes;

    if (report == NULL)
        return false;
    record_init(&r);
    yes = report_resolve(&r, report, err) == 0 && r.report_kind == REPORT_FD &&
          r.report_fd == STDOUT_FILENO;
    record_release(&r);
    return yes;
}

/* ---- host logs ---- */

void record_log_init(struct record_log *log)
{
    memset(log, 0, sizeof(*log));
    log->fd = -1;
    buf_init(&log->scratch, LOG_BATCH_MAX);
}

int record_log_open(struct record *r, struct record_log *log, const char *host,
                    char *err)
{
    char q[QUOTE_MAX];

    record_log_release(log);
    log->rec = r;
    log->path = xasprintf("%s/%s.log", r->dir, host);
    log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log->fd < 0)
        return errf(err, "cannot create '%s': %s",
                    text_escape_msg(log->path, q, sizeof(q)), strerror(errno));
    return 0;
}

static int log_failed(struct record_log *log, int e, char *err)
{
    char q[QUOTE_MAX];

    log->failed = true;
    log->error = e;
    if (log->rec)
        atomic_store(&log->rec->log_lost, true);
    return errf(err, "cannot write '%s': %s; the log is incomplete",
                text_escape_msg(log->path, q, sizeof(q)), strerror(e));
}

/* Appends p[0..n) to the log, or counts it as lost once the log failed. */
static int log_write(struct record_log *log, const char *p, size_t n, char *err)
{
    size_t done = 0;

    if (log->fd < 0)
        return 0;
    if (log->failed) {
        log->lost_bytes += n;
        return 0;
    }
    while (done < n) {
        ssize_t w = write(log->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log->lost_bytes += n - done;
            log->mid_line = done > 0 && p[done - 1] != '\n';
            return log_failed(log, w < 0 ? errno : EIO, err);
        }
        done += (size_t)w;
    }
    return 0;
}

int record_log_lines(struct record_log *log, enum line_stream s,
                     const struct line *lines, size_t n, char *err)
{
    static const char *const names[LINE_STREAMS] = {"out", "err", "set"};
    struct buf *b = &log->scratch;
    char ts[40], head[64];
    size_t hl;
    int rc = 0;

    if (log->fd < 0 || n == 0)
        return 0;
    /* Lines of one batch arrived together: one timestamp for all. */
    time_format_iso(clock_wall_ms(), ts, sizeof(ts));
    snprintf(head, sizeof(head), "%s %s | ", ts,
             (unsigned)s < LINE_STREAMS ? names[s] : "???");
    hl = strlen(head);
    buf_reset(b);
    for (size_t i = 0; i < n && rc == 0; i++) {
        head[hl - 2] = lines[i].eol ? '|' : '~';
        if (b->len && b->len + hl + lines[i].n + 1 > b->max) {
            rc = log_write(log, b->data, b->len, err);
            buf_reset(b);
        }
        if (buf_reserve(b, hl + lines[i].n + 1) == 0) {
            buf_add_reserved(b, head, hl);
            buf_add_reserved(b, lines[i].p, lines[i].n);
            buf_add_reserved(b, "\n", 1);
        } else if (rc == 0) {
            /* one line longer than the whole batch: written as it is */
            rc = log_write(log, head, hl, err);
            if (rc == 0)
                rc = log_write(log, lines[i].p, lines[i].n, err);
            if (rc == 0)
                rc = log_write(log, "\n", 1, err);
        }
    }
    if (rc == 0)
        rc = log_write(log, buf_str(b), b->len, err);
    buf_reset(b);
    if (b->alloc > (1u << 20))
        buf_release(b); /* keep memory only for ordinary batches */
    return rc;
}

/* "TS # line" for each line of msg, into b. */
static int format_note(struct buf *b, const char *msg)
{
    char ts[40];
    const char *p = msg;

    time_format_iso(clock_wall_ms(), ts, sizeof(ts));
    for (;;) {
        size_t len = strcspn(p, "\n");
        if (buf_addf(b, "%s # %.*s\n", ts, (int)len, p))
            return -1;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

int record_log_note(struct record_log *log, char *err, const char *fmt, ...)
{
    struct buf b = BUF_INIT(SIZE_MAX / 2);
    char *msg = NULL;
    va_list ap;
    int rc;

    if (log->fd < 0)
        return 0;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg == NULL)
        return errf(err, "out of memory formatting a log note");
    /* b has no practical bound: the note is what the caller formatted */
    BUF_MUST(format_note(&b, msg));
    rc = log_write(log, buf_str(&b), b.len, err);
    free(msg);
    buf_release(&b);
    return rc;
}

int record_log_close(struct record_log *log, char *err)
{
    int rc = 0;

    if (log->fd < 0)
        return 0;
    if (log->failed) {
        /* the disk may have room again: say where the log stops (if this
         * write fails too, the caller's message and record_lost() said it
         * already) */
        char *msg = xasprintf("the log is incomplete: %llu bytes from here "
                              "on were not written (%s)",
                              (unsigned long long)log->lost_bytes,
                              strerror(log->error));
        struct buf b = BUF_INIT(SIZE_MAX / 2);
        /* b has no practical bound: a newline and a short note */
        if (log->mid_line)
            BUF_MUST(buf_addc(&b, '\n'));
        BUF_MUST(format_note(&b, msg));
        write_all(log->fd, b.data, b.len);
        buf_release(&b);
        free(msg);
    }
    if (close(log->fd) != 0 && !log->failed)
        rc = log_failed(log, errno, err);
    log->fd = -1;
    return rc;
}

void record_log_release(struct record_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    log->fd = -1;
    free(log->path);
    log->path = NULL;
    buf_release(&log->scratch);
}

void record_log_idle(struct record_log *log)
{
    buf_release(&log->scratch);
}

/* ---- run.json and the report ---- */

/* Replaces path with data: a new temporary file beside it, renamed over it
 * only once it is whole, so a failure leaves the previous version. */
static int write_atomic(const char *path, const char *data, size_t len,
                        bool durable, char *err)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    char q[QUOTE_MAX];
    int fd, rc = 0, e;

    text_escape_msg(path, q, sizeof(q));
    unlink(tmp); /* a leftover of a crashed process with our pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = errf(err, "cannot write '%s': %s", q, strerror(errno));
        free(tmp);
        return rc;
    }
    if (write_all(fd, data, len) != 0 || (durable && fsync(fd) != 0)) {
        e = errno;
        close(fd);
        rc = errf(err, "cannot write '%s': %s", q, strerror(e));
    } else if (close(fd) != 0) {
        rc = errf(err, "cannot write '%s': %s", q, strerror(errno));
    } else if (rename(tmp, path) != 0) {
        rc = errf(err, "cannot replace '%s': %s", q, strerror(errno));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int record_file_replace(const char *path, const char *data, size_t len,
                        bool durable, char *err)
{
    return write_atomic(path, data, len, durable, err);
}

/* Writes the record through a device, FIFO or descriptor, once. */
static int write_stream(struct record *r, const char *data, size_t len,
                        char *err)
{
    char q[QUOTE_MAX];
    int fd = r->report_fd, e = 0;

    text_escape_msg(r->report, q, sizeof(q));
    if (r->report_kind == REPORT_DEVICE) {
        /* non-blocking open: a FIFO without a reader fails (ENXIO) instead
         * of hanging the end of the run; the writes block as usual */
        fd = open(r->report_path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 && errno == ENXIO)
            return errf(err,
                        "cannot write the report to '%s': no process "
                        "reads that FIFO",
                        q);
        if (fd < 0)
            return errf(err, "cannot write the report to '%s': %s", q,
                        strerror(errno));
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    if (write_all(fd, data, len) != 0)
        e = errno;
    if (r->report_kind == REPORT_DEVICE && close(fd) != 0 && e == 0)
        e = errno;
    if (e)
        return errf(err, "cannot write the report to '%s': %s", q, strerror(e));
    return 0;
}

/* Keeps the outcome of one file's write; a first failure joins msgs. */
static void outcome(int rc, atomic_bool *lost, bool *reported, const char *e,
                    struct buf *msgs)
{
    atomic_store(lost, rc != 0);
    if (rc == 0 || *reported)
        return;
    *reported = true;
    /* msgs holds two messages of ERR_MAX bytes at most */
    BUF_MUST(buf_addf(msgs, "%s%s", msgs->len ? "; " : "", e));
}

int record_write(struct record *r, const struct record_run *run,
                 const struct record_host *hosts, size_t n, char *err)
{
    struct buf msgs = BUF_INIT(3 * ERR_MAX);
    char e[ERR_MAX];
    bool final = run->finished_ms != 0;
    char *text;
    size_t len;
    int rc;

    pthread_mutex_lock(&r->lock); /* and the cache of the hosts' JSON */
    text = record_json(&r->json_cache, run, hosts, n, atomic_load(&r->log_lost),
                       &len);
    if (text == NULL) {
        pthread_mutex_unlock(&r->lock);
        return errf(err, "cannot encode the run record");
    }
    /* The rename makes every version whole for readers and after a crash
     * of the process; only the final one is also flushed to disk. */
    if (r->json_path) {
        rc = write_atomic(r->json_path, text, len, final, e);
        outcome(rc, &r->json_lost, &r->json_reported, e, &msgs);
    }
    if (r->report_kind == REPORT_FILE) {
        rc = write_atomic(r->report_path, text, len, final, e);
        outcome(rc, &r->report_lost, &r->report_reported, e, &msgs);
    } else if (r->report_kind != REPORT_NONE && final && !r->report_sent) {
        r->report_sent = true;
        rc = write_stream(r, text, len, e);
        outcome(rc, &r->report_lost, &r->report_reported, e, &msgs);
    }
    pthread_mutex_unlock(&r->lock);
    free(text);
    rc = msgs.len ? errf(err, "%s", buf_str(&msgs)) : 0;
    buf_release(&msgs);
    return rc;
}

int record_write_refused(const char *report, const struct record_run *run,
                         const char *why, int exit_code, char *err)
{
    struct record r;
    struct record_run rr = *run;
    int rc;

    record_init(&r);
    if (report_resolve(&r, report, err)) {
        record_release(&r);
        return -1;
    }
    r.report = xstrdup(report);
    rr.refused = why;
    rr.exit_code = exit_code;
    if (rr.finished_ms == 0)
        rr.finished_ms = clock_wall_ms();
    if (rr.started_ms == 0)
        rr.started_ms = rr.finished_ms;
    rc = record_write(&r, &rr, NULL, 0, err);
    record_release(&r);
    return rc;
}
