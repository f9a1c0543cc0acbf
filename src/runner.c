/*
 * runner.c - runs a plan on its hosts.
 *
 * Theory of operation
 *
 * Threads. min(--parallel, hosts) worker threads pull the next host from a
 * shared index. A worker owns its host from start to end: it opens the
 * host's log, asks the transport to connect, authenticate and run, and is
 * called back, on its own thread, with every chunk received. One host per
 * thread keeps every libssh session on one thread (libssh sessions are not
 * to be shared) and lets the blocking set-up calls (DNS, key exchange,
 * agent) block only their own host. The main thread only waits, watches
 * for Ctrl-C and prints the summary.
 *
 * Lines. Chunks are split into lines here, once, and each batch of whole
 * lines goes to the output (escaped, prefixed, one write) and to the host's
 * log (raw, timestamped, one write). A partial line waits for its newline;
 * one longer than LINE_MAX is split into fragments rather than dropped;
 * the last output without a newline is flushed when the host ends.
 *
 * Deadlines and Ctrl-C. The transport polls control() at least every
 * 100 ms. The command deadline (task timeout or --timeout) starts when the
 * command starts. The first SIGINT/SIGTERM asks every running host to stop
 * its remote work (TERM to the task's process group plus EOF for the
 * remote watchdog) and wait for it to end; hosts not started yet are not
 * started. The second asks every host to close at once; if workers are
 * still stuck in a blocking connect 3 s later, the record is written and
 * the process exits: the remote watchdogs stop the tasks when the
 * connections drop.
 *
 * Records. State changes are made under the runner lock; run.json is
 * rewritten from the hosts' state at most every 250 ms while running, and
 * once at the end. Host logs are written as lines arrive.
 */
#define _GNU_SOURCE
#include "oneoff/runner.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "oneoff/exit_codes.h"
#include "oneoff/record.h"

#define LINE_MAX_BYTES (64u << 10)
#define BATCH_LINES 512
#define RECORD_EVERY_MS 250
#define STACK_SIZE (512u << 10)
#define ABANDON_AFTER_MS 3000

static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
    (void)sig;
    if (interrupts < 100)
        interrupts++;
}

enum host_state {
    HS_PENDING,
    HS_CONNECTING,
    HS_RUNNING,
    HS_OK,
    HS_FAILED,
    HS_UNREACHABLE,
    HS_AUTH,
    HS_HOST_KEY,
    HS_TIMEOUT,
    HS_INTERRUPTED,
};

static const char *const state_names[] = {
    "pending", "connecting", "running",  "ok",          "failed",
    "unreachable", "auth",   "host-key", "timeout", "interrupted"};

struct runner;

struct host_run {
    struct runner *r;
    const struct plan_host *ph;
    enum host_state state;
    int exit_code;
    char signal[32];
    int64_t started_ms, connected_ms, finished_ms; /* wall */
    int64_t deadline_mono;                         /* 0: none */
    bool timed_out, interrupted;
    char error[ERR_MAX];
    char *log_path;
    int log_fd;
    struct buf partial[2];
    struct output_host oh;
};

struct runner {
    const struct plan *plan;
    const struct runner_opts *opts;
    struct host_run *hosts;
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t next, done;
    struct output out;
    struct record rec;
    struct record_run run;
    char run_id[64];
    char operator_name[64];
    int64_t last_write;
};

struct batch {
    struct line v[BATCH_LINES];
    size_t n;
};

static void batch_flush(struct host_run *h, int s, struct batch *b)
{
    if (b->n == 0)
        return;
    output_lines(&h->r->out, &h->oh, s, b->v, b->n);
    record_log_lines(h->log_fd, s, b->v, b->n);
    b->n = 0;
}

static void batch_add(struct host_run *h, int s, struct batch *b,
                      const char *p, size_t n, bool eol)
{
    if (b->n == BATCH_LINES)
        batch_flush(h, s, b);
    b->v[b->n].p = p;
    b->v[b->n].n = n;
    b->v[b->n].eol = eol;
    b->n++;
}

/* Emits the partial line of stream s on its own (it lives in a buffer that
 * is about to change, so the batch is flushed around it). */
static void partial_emit(struct host_run *h, int s, struct batch *b, bool eol)
{
    struct buf *part = &h->partial[s];

    batch_flush(h, s, b);
    batch_add(h, s, b, buf_str(part), part->len, eol);
    batch_flush(h, s, b);
    buf_reset(part);
}

static void partial_append(struct host_run *h, int s, struct batch *b,
                           const char *p, size_t n)
{
    struct buf *part = &h->partial[s];

    while (n > 0) {
        size_t take;
        if (part->len == LINE_MAX_BYTES)
            partial_emit(h, s, b, false);
        take = LINE_MAX_BYTES - part->len;
        if (take > n)
            take = n;
        buf_add(part, p, take);
        p += take;
        n -= take;
    }
}

static void sink_data(void *ctx, enum transport_stream st, const char *p,
                      size_t n)
{
    struct host_run *h = ctx;
    int s = st == STREAM_ERR;
    struct batch b;
    size_t off = 0;

    b.n = 0;
    while (off < n) {
        const char *nl = memchr(p + off, '\n', n - off);
        size_t seg;
        if (nl == NULL) {
            partial_append(h, s, &b, p + off, n - off);
            break;
        }
        seg = (size_t)(nl - (p + off));
        if (h->partial[s].len == 0 && seg <= LINE_MAX_BYTES) {
            batch_add(h, s, &b, p + off, seg, true);
        } else {
            batch_flush(h, s, &b);
            partial_append(h, s, &b, p + off, seg);
            partial_emit(h, s, &b, true);
        }
        off += seg + 1;
    }
    batch_flush(h, s, &b);
}

static void record_touch(struct runner *r, bool force);

static void set_state(struct host_run *h, enum host_state st)
{
    pthread_mutex_lock(&h->r->lock);
    h->state = st;
    if (st == HS_RUNNING)
        h->connected_ms = clock_wall_ms();
    pthread_mutex_unlock(&h->r->lock);
    record_touch(h->r, false);
}

static void sink_started(void *ctx)
{
    struct host_run *h = ctx;
    int64_t t = h->r->opts->timeout_ms;

    if (t > 0)
        h->deadline_mono = clock_mono_ms() + t;
    set_state(h, HS_RUNNING);
}

static enum transport_control sink_control(void *ctx)
{
    struct host_run *h = ctx;
    int n = interrupts;

    if (n >= 2) {
        h->interrupted = true;
        return CONTROL_CLOSE;
    }
    if (n == 1) {
        h->interrupted = true;
        return CONTROL_STOP;
    }
    if (h->deadline_mono && clock_mono_ms() >= h->deadline_mono) {
        h->timed_out = true;
        return CONTROL_STOP;
    }
    return CONTROL_CONTINUE;
}

static void fill_record_host(const struct host_run *h, struct record_host *rh)
{
    const struct host *host = h->ph->host;

    memset(rh, 0, sizeof(*rh));
    rh->name = host->name;
    rh->address = host->address ? host->address : host->name;
    rh->port = host->set.port;
    rh->user = host->set.user;
    rh->status = state_names[h->state];
    rh->exit_code = h->exit_code;
    rh->signal = h->signal[0] ? h->signal : NULL;
    rh->started_ms = h->started_ms;
    rh->connected_ms = h->connected_ms;
    rh->finished_ms = h->finished_ms;
    rh->log_path = h->log_path;
    rh->error = h->error[0] ? h->error : NULL;
}

static void record_touch(struct runner *r, bool force)
{
    struct record_host *rows;
    char err[ERR_MAX];
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&r->lock);
    if (!force && now - r->last_write < RECORD_EVERY_MS) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    r->last_write = now;
    rows = xcalloc(r->n, sizeof(*rows));
    for (size_t i = 0; i < r->n; i++)
        fill_record_host(&r->hosts[i], &rows[i]);
    if (record_write(&r->rec, &r->run, rows, r->n, err))
        output_note(&r->out, "%s", err);
    pthread_mutex_unlock(&r->lock);
    free(rows);
}

/* Maps how the transport ended to the host's final state. */
static void conclude(struct host_run *h, const struct transport_result *res)
{
    enum host_state st;

    h->exit_code = res->exit_code;
    snprintf(h->signal, sizeof(h->signal), "%s", res->signal);
    switch (res->outcome) {
    case OUTCOME_EXITED:
        st = res->exit_code == 0 ? HS_OK : HS_FAILED;
        break;
    case OUTCOME_SIGNALED:
        st = HS_FAILED;
        break;
    case OUTCOME_UNREACHABLE:
        st = HS_UNREACHABLE;
        break;
    case OUTCOME_AUTH:
        st = HS_AUTH;
        break;
    case OUTCOME_HOST_KEY:
        st = HS_HOST_KEY;
        break;
    default:
        st = HS_FAILED;
        break;
    }
    if (res->error[0])
        snprintf(h->error, sizeof(h->error), "%s", res->error);
    /* A task we stopped is reported for why we stopped it, whatever status
     * it died with. */
    if (h->timed_out && (st == HS_OK || st == HS_FAILED)) {
        st = HS_TIMEOUT;
        char d[32];
        duration_format(h->r->opts->timeout_ms, d, sizeof(d));
        snprintf(h->error, sizeof(h->error), "stopped after the %s timeout",
                 d);
    } else if (h->interrupted && st != HS_OK) {
        st = HS_INTERRUPTED;
        if (!h->error[0] || res->outcome == OUTCOME_CLOSED ||
            res->outcome == OUTCOME_SIGNALED)
            snprintf(h->error, sizeof(h->error), "interrupted");
    }
    pthread_mutex_lock(&h->r->lock);
    h->state = st;
    h->finished_ms = clock_wall_ms();
    pthread_mutex_unlock(&h->r->lock);
}

static void run_host(struct runner *r, struct host_run *h)
{
    const struct host *host = h->ph->host;
    struct transport_result res;
    struct transport_sink sink = {h, sink_started, sink_data, sink_control};
    char err[ERR_MAX];

    pthread_mutex_lock(&r->lock);
    h->started_ms = clock_wall_ms();
    h->state = HS_CONNECTING;
    pthread_mutex_unlock(&r->lock);
    h->log_fd = record_host_log_open(&r->rec, host->name, &h->log_path, err);
    memset(&res, 0, sizeof(res));
    res.exit_code = -1;
    if (h->log_fd < 0) {
        /* Without a log, output could be lost: do not start. */
        res.outcome = OUTCOME_ERROR;
        snprintf(res.error, sizeof(res.error), "%s", err);
    } else if (interrupts) {
        res.outcome = OUTCOME_CLOSED;
        h->interrupted = true;
        snprintf(res.error, sizeof(res.error), "not started: interrupted");
    } else {
        record_log_note(h->log_fd, "run %s: %s '%s' on host '%s'",
                        r->run_id, strcmp(r->plan->task->name, "exec")
                                       ? "task" : "command",
                        r->plan->task->name, host->name);
        if (host->set.transport == TRANSPORT_LOCAL) {
            local_transport_run(h->ph->command_line, &sink, &res);
        } else {
            struct ssh_target tg = {host->name, host->address, host->set.port,
                                    host->set.user, host->set.identity};
            ssh_transport_run(r->opts->ssh, &tg, h->ph->command_line, &sink,
                              &res);
        }
    }
    for (int s = 0; s < 2; s++) {
        struct batch b;
        b.n = 0;
        if (h->partial[s].len)
            partial_emit(h, s, &b, false);
    }
    conclude(h, &res);
    {
        char how[64] = "";
        if (h->signal[0])
            snprintf(how, sizeof(how), ", signal %s", h->signal);
        else if (h->exit_code >= 0)
            snprintf(how, sizeof(how), ", exit %d", h->exit_code);
        record_log_note(h->log_fd, "%s%s%s%s", state_names[h->state], how,
                        h->error[0] ? ": " : "", h->error);
    }
    output_host_done(&r->out, &h->oh);
    if (h->log_fd >= 0)
        close(h->log_fd);
    h->log_fd = -1;
    record_touch(r, false);
    pthread_mutex_lock(&r->lock);
    r->done++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void *worker(void *arg)
{
    struct runner *r = arg;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&r->lock);
        if (r->next >= r->n) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        i = r->next++;
        pthread_mutex_unlock(&r->lock);
        run_host(r, &r->hosts[i]);
    }
}

/* Room for a socket, an agent socket and a log per running host. */
static void raise_fd_limit(unsigned parallel)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)parallel * 4 + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
                      ? want
                      : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static int exit_code_of(const struct runner *r)
{
    bool intr = false, unreach = false, failed = false;

    for (size_t i = 0; i < r->n; i++) {
        switch (r->hosts[i].state) {
        case HS_INTERRUPTED:
            intr = true;
            break;
        case HS_UNREACHABLE:
        case HS_AUTH:
        case HS_HOST_KEY:
            unreach = true;
            break;
        case HS_OK:
            break;
        default:
            failed = true;
            break;
        }
    }
    if (intr || interrupts)
        return EXIT_INTERRUPTED;
    if (unreach)
        return EXIT_UNREACHABLE;
    return failed ? EXIT_TASK_FAILED : 0;
}

static void summarize(struct runner *r)
{
    struct summary_row *rows = xcalloc(r->n, sizeof(*rows));

    for (size_t i = 0; i < r->n; i++) {
        const struct host_run *h = &r->hosts[i];
        rows[i].host = h->ph->host->name;
        rows[i].status = state_names[h->state];
        if (h->signal[0])
            snprintf(rows[i].exit, sizeof(rows[i].exit), "SIG%s", h->signal);
        else if (h->exit_code >= 0)
            snprintf(rows[i].exit, sizeof(rows[i].exit), "%d", h->exit_code);
        else
            snprintf(rows[i].exit, sizeof(rows[i].exit), "-");
        rows[i].duration_ms = h->finished_ms && h->started_ms
                                  ? h->finished_ms - h->started_ms
                                  : 0;
        rows[i].error = h->error[0] ? h->error : NULL;
    }
    output_summary(&r->out, rows, r->n);
    free(rows);
}

static const char *operator_of(char *buf, size_t n)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res)
        snprintf(buf, n, "%s", pw.pw_name);
    else
        snprintf(buf, n, "uid %ld", (long)getuid());
    return buf;
}

static void install_signals(struct sigaction *old_int,
                            struct sigaction *old_term)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
    signal(SIGPIPE, SIG_IGN);
}

/* Waits for the workers, reporting the first and second Ctrl-C. Returns
 * false when workers had to be abandoned after a second Ctrl-C. */
static bool wait_hosts(struct runner *r)
{
    int seen = 0;
    int64_t abandon_at = 0;

    pthread_mutex_lock(&r->lock);
    while (r->done < r->n) {
        struct timespec ts;
        int n = interrupts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        if (n > seen) {
            pthread_mutex_unlock(&r->lock);
            if (seen == 0)
                output_note(&r->out, "interrupted: stopping the remote tasks "
                                     "(Ctrl-C again to close at once)");
            if (n >= 2 && seen < 2) {
                output_note(&r->out, "closing every connection now");
                abandon_at = clock_mono_ms() + ABANDON_AFTER_MS;
            }
            seen = n;
            pthread_mutex_lock(&r->lock);
        }
        if (abandon_at && clock_mono_ms() >= abandon_at) {
            pthread_mutex_unlock(&r->lock);
            return false;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return true;
}

int runner_run(const struct plan *p, const struct runner_opts *o, char *err)
{
    struct runner r;
    struct sigaction old_int, old_term;
    pthread_t *threads;
    pthread_attr_t attr;
    size_t nthreads, started = 0;
    int width = 1, code;
    bool joined;

    memset(&r, 0, sizeof(r));
    r.plan = p;
    r.opts = o;
    r.n = p->nhosts;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    record_new_id(r.run_id, sizeof(r.run_id));
    if (record_open(&r.rec, o->log_root, r.run_id, o->report, err))
        return EXIT_USAGE;
    r.run.run_id = r.run_id;
    r.run.operator_name = operator_of(r.operator_name,
                                      sizeof(r.operator_name));
    r.run.stage = p->inv->stage;
    r.run.task = p->task->name;
    r.run.task_file = p->task->sha256[0] ? p->task->path : NULL;
    r.run.task_sha256 = p->task->sha256;
    r.run.command = o->command_text ? o->command_text : p->task->command;
    r.run.args = &p->args;
    r.run.started_ms = clock_wall_ms();
    r.run.exit_code = -1;
    for (size_t i = 0; i < p->nhosts; i++)
        if ((int)strlen(p->hosts[i].host->name) > width)
            width = (int)strlen(p->hosts[i].host->name);
    output_init(&r.out, o->output, width);
    r.hosts = xcalloc(r.n, sizeof(*r.hosts));
    for (size_t i = 0; i < r.n; i++) {
        struct host_run *h = &r.hosts[i];
        h->r = &r;
        h->ph = &p->hosts[i];
        h->exit_code = -1;
        h->log_fd = -1;
        buf_init(&h->partial[0], LINE_MAX_BYTES);
        buf_init(&h->partial[1], LINE_MAX_BYTES);
        output_host_init(&r.out, &h->oh, h->ph->host->name, i);
    }
    record_touch(&r, true);
    interrupts = 0;
    install_signals(&old_int, &old_term);
    nthreads = o->parallel < r.n ? o->parallel : r.n;
    raise_fd_limit((unsigned)nthreads);
    threads = xcalloc(nthreads, sizeof(*threads));
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    for (size_t i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i], &attr, worker, &r) != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    if (started == 0)
        worker(&r);
    joined = wait_hosts(&r);
    if (joined)
        for (size_t i = 0; i < started; i++)
            pthread_join(threads[i], NULL);
    pthread_mutex_lock(&r.lock);
    for (size_t i = 0; i < r.n; i++) {
        struct host_run *h = &r.hosts[i];
        if (h->state <= HS_RUNNING) {
            h->state = HS_INTERRUPTED;
            h->finished_ms = clock_wall_ms();
            snprintf(h->error, sizeof(h->error), "abandoned after a second "
                                                 "interrupt");
        }
    }
    pthread_mutex_unlock(&r.lock);
    code = exit_code_of(&r);
    r.run.finished_ms = clock_wall_ms();
    r.run.exit_code = code;
    record_touch(&r, true);
    summarize(&r);
    output_note(&r.out, "logs: %s", r.rec.dir);
    if (!joined) {
        /* Workers may still be inside a blocking connect: leave now. The
         * record is written; remote watchdogs stop the tasks. */
        fflush(stdout);
        _exit(code);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    for (size_t i = 0; i < r.n; i++) {
        buf_release(&r.hosts[i].partial[0]);
        buf_release(&r.hosts[i].partial[1]);
        output_host_release(&r.hosts[i].oh);
        free(r.hosts[i].log_path);
    }
    free(r.hosts);
    free(threads);
    output_release(&r.out);
    record_release(&r.rec);
    pthread_mutex_destroy(&r.lock);
    pthread_cond_destroy(&r.cond);
    return code;
}
