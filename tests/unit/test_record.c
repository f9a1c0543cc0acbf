/*
 * test_record.c - host logs and the run record: the log line format, lost
 * writes reported once and remembered, run.json never left truncated, and
 * what --report may name (files through symlinks, FIFOs, descriptors) and
 * may not (directories, sockets).
 *
 * Write failures are real ones: /dev/full (ENOSPC) and RLIMIT_FSIZE
 * (EFBIG); nothing is mocked.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "oneoff/record.h"

/* A fresh temporary folder for one test (removed with rm -rf). */
static char *tmpdir(void)
{
    char tmpl[] = "/tmp/oneoff-test-rec.XXXXXX";

    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void rmtree(char *dir)
{
    char *cmd = xasprintf("rm -rf -- '%s'", dir);

    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;

    assert_int_equal(file_read(path, 1u << 24, &data, &len), 0);
    return data;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Line k of data, after its 24-byte timestamp, is want. */
static void expect_line(const char *data, int k, const char *want)
{
    size_t off = 0, len;

    for (int i = 0; i < k; i++)
        off += strcspn(data + off, "\n") + 1;
    len = strcspn(data + off, "\n");
    assert_true(len > 24);
    assert_int_equal(len - 24, strlen(want));
    assert_memory_equal(data + off + 24, want, strlen(want));
}

static void run_init(struct record_run *run)
{
    memset(run, 0, sizeof(*run));
    run->run_id = "20261121T091234Z-abcdef";
    run->operator_name = "tester";
    run->stage = "test";
    run->task = "hello";
    run->command = "echo hello";
    run->started_ms = clock_wall_ms();
    run->exit_code = -1;
}

/* "<ISO time> out | <raw bytes>", "err", "set"; "~" for a fragment;
 * notes one "#" line per line. */
static void test_log_format(void **state)
{
    char *dir = tmpdir(), err[ERR_MAX], *data;
    struct record r;
    struct record_log log;
    struct line lines[] = {{"first", 5, true},
                           {"raw \033 bytes", 11, true},
                           {"no newline", 10, false}};

    (void)state;
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    record_log_init(&log);
    assert_int_equal(record_log_open(&r, &log, "web1", err), 0);
    assert_int_equal(record_log_lines(&log, LINE_OUT, lines, 3, err), 0);
    assert_int_equal(record_log_lines(&log, LINE_ERR, lines, 1, err), 0);
    assert_int_equal(record_log_lines(&log, LINE_SETUP, lines + 1, 1, err), 0);
    assert_int_equal(record_log_note(&log, err, "two\nlines"), 0);
    assert_int_equal(record_log_close(&log, err), 0);
    assert_false(record_lost(&r));
    data = slurp(log.path);
    /* "<ISO time> out | first": the time is 24 bytes */
    assert_int_equal(data[4], '-');
    assert_int_equal(data[23], 'Z');
    expect_line(data, 0, " out | first");
    expect_line(data, 1, " out | raw \033 bytes");
    expect_line(data, 2, " out ~ no newline");
    expect_line(data, 3, " err | first");
    expect_line(data, 4, " set | raw \033 bytes");
    expect_line(data, 5, " # two");
    expect_line(data, 6, " # lines");
    assert_int_equal(count_of(data, "\n"), 7);
    free(data);
    record_log_release(&log);
    record_release(&r);
    rmtree(dir);
}

/* A full disk: the first failure is returned once, naming the file and the
 * error; later writes return 0 and are counted; the record knows. */
static void test_log_full_disk_reported_once(void **state)
{
    struct record r;
    struct record_log log;
    struct line l = {"x", 1, true};
    char *dir = tmpdir(), err[ERR_MAX];

    (void)state;
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    record_log_init(&log);
    log.rec = &r;
    log.path = xstrdup("/dev/full");
    log.fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(log.fd >= 0);
    assert_false(record_lost(&r));
    err[0] = '\0';
    assert_int_equal(record_log_lines(&log, LINE_OUT, &l, 1, err), -1);
    assert_non_null(strstr(err, "'/dev/full'"));
    assert_non_null(strstr(err, strerror(ENOSPC)));
    assert_true(record_lost(&r));
    err[0] = '\0';
    assert_int_equal(record_log_lines(&log, LINE_OUT, &l, 1, err), 0);
    assert_int_equal(record_log_note(&log, err, "end"), 0);
    assert_string_equal(err, "");
    assert_true(log.failed);
    assert_true(log.lost_bytes > 2);
    assert_int_equal(record_log_close(&log, err), 0);
    assert_int_equal(log.fd, -1);
    record_log_release(&log);
    record_release(&r);
    rmtree(dir);
}

/* A write that stops part-way (EFBIG past RLIMIT_FSIZE): the log keeps a
 * clean prefix, and closing it notes how much is missing once the disk
 * takes writes again. */
static void test_log_failure_noted_at_close(void **state)
{
    struct record r;
    struct record_log log;
    struct rlimit old, lim;
    struct line l = {"0123456789", 10, true};
    struct line lines[50];
    char *dir = tmpdir(), err[ERR_MAX], *data;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);

    (void)state;
    for (size_t i = 0; i < 50; i++)
        lines[i] = l;
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    record_log_init(&log);
    assert_int_equal(record_log_open(&r, &log, "h1", err), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_int_equal(record_log_lines(&log, LINE_OUT, lines, 50, err), -1);
    assert_non_null(strstr(err, "h1.log"));
    assert_non_null(strstr(err, "the log is incomplete"));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(record_log_close(&log, err), 0);
    signal(SIGXFSZ, old_xfsz);
    data = slurp(log.path);
    /* 100 bytes of lines, a newline ending the cut one, then the note */
    assert_int_equal(data[100], '\n');
    assert_non_null(strstr(data + 101, " # the log is incomplete: "));
    assert_non_null(strstr(data + 101, " bytes from here on were not "
                                       "written"));
    free(data);
    assert_true(record_lost(&r));
    record_log_release(&log);
    record_release(&r);
    rmtree(dir);
}

/* Format 2: "format", the gate once decided, each host's output tails
 * (valid UTF-8 whatever the bytes, with counts and the truncated flag). */
static void test_json_format_2(void **state)
{
    struct record r;
    struct record_run run;
    struct record_host h;
    struct record_gate g = {
        "task-drift", "tasks/x.yml differs", 4, false, true, 3};
    char *dir = tmpdir(), err[ERR_MAX], *data;

    (void)state;
    run_init(&run);
    memset(&h, 0, sizeof(h));
    h.name = "web1";
    h.status = "refused";
    h.exit_code = -1;
    h.out.text = "ok\n\xff";
    h.out.len = 4;
    h.out.total = 70000;
    h.out.truncated = true;
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    assert_int_equal(record_write(&r, &run, &h, 1, err), 0);
    data = slurp(r.json_path);
    assert_non_null(strstr(data, "\"format\": 2,"));
    assert_non_null(strstr(data, "\"gate\": null"));
    assert_non_null(strstr(data, "\"tail\": \"ok\\n\xef\xbf\xbd\""));
    assert_non_null(strstr(data, "\"bytes\": 70000"));
    assert_non_null(strstr(data, "\"truncated\": true"));
    assert_non_null(strstr(data, "\"tail\": \"\",\n"));
    free(data);
    run.gate = &g;
    assert_int_equal(record_write(&r, &run, &h, 1, err), 0);
    data = slurp(r.json_path);
    assert_non_null(strstr(data, "\"verdict\": \"task-drift\""));
    assert_non_null(strstr(data, "\"reason\": \"tasks/x.yml differs\""));
    assert_non_null(strstr(data, "\"releases_agree\": true"));
    assert_non_null(strstr(data, "\"hosts_judged\": 3"));
    free(data);
    record_release(&r);
    rmtree(dir);
}

/* run.json is written a host at a time: the text is the one jansson gives
 * for the whole document (loaded and dumped again, it comes back byte for
 * byte), for no host, one, and several with text that must be escaped. */
static void test_json_hosts_whole(void **state)
{
    struct record r;
    struct record_run run;
    struct record_host h[3];
    char *dir = tmpdir(), err[ERR_MAX];

    (void)state;
    run_init(&run);
    memset(h, 0, sizeof(h));
    for (int i = 0; i < 3; i++) {
        h[i].name = i == 1 ? "we\"b\n2" : "web";
        h[i].status = "ok";
        h[i].exit_code = i;
        h[i].port = 22;
        h[i].error = i == 2 ? "line one\nline \"two\"\t" : NULL;
        h[i].out.text = "a\nb\n  c\n";
        h[i].out.len = 8;
        h[i].out.total = 8;
    }
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    for (size_t n = 0; n <= 3; n++) {
        char *data, *again;
        json_error_t je;
        json_t *doc;

        assert_int_equal(record_write(&r, &run, h, n, err), 0);
        data = slurp(r.json_path);
        doc = json_loads(data, 0, &je);
        assert_non_null(doc);
        assert_int_equal(json_array_size(json_object_get(doc, "hosts")), n);
        again = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        assert_non_null(again);
        assert_int_equal(strlen(data), strlen(again) + 1);
        assert_memory_equal(data, again, strlen(again));
        assert_string_equal(data + strlen(again), "\n");
        free(again);
        json_decref(doc);
        free(data);
    }
    record_release(&r);
    rmtree(dir);
}

/* run.json: a failed write leaves the previous version and no temporary
 * file; the failure is returned once; a later good write clears it. */
static void test_json_failure_keeps_previous(void **state)
{
    struct record r;
    struct record_run run;
    struct rlimit old, lim;
    struct strlist args = {0};
    char *dir = tmpdir(), err[ERR_MAX], *before, *after, *cmd;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);

    (void)state;
    run_init(&run);
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    before = slurp(r.json_path);
    /* a bigger record that no longer fits under the file size limit */
    for (int i = 0; i < 100; i++)
        strlist_push(&args, "an argument to make the record grow");
    run.args = &args;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = strlen(before) + 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), -1);
    assert_non_null(strstr(err, "run.json"));
    assert_true(record_lost(&r));
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0); /* once */
    assert_true(record_lost(&r));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_xfsz);
    after = slurp(r.json_path);
    assert_string_equal(before, after);
    cmd = xasprintf("test -z \"$(ls '%s/run1' | grep -v '^run.json$')\"", dir);
    assert_int_equal(system(cmd), 0); /* no temporary file left */
    free(cmd);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    assert_false(record_lost(&r));
    free(before);
    free(after);
    strlist_clear(&args);
    record_release(&r);
    rmtree(dir);
}

/* A lost host log is in the record itself: "logs_incomplete". */
static void test_json_says_logs_incomplete(void **state)
{
    struct record r;
    struct record_log log;
    struct record_run run;
    struct line l = {"x", 1, true};
    char *dir = tmpdir(), err[ERR_MAX], *data;

    (void)state;
    run_init(&run);
    assert_int_equal(record_open(&r, dir, "run1", NULL, err), 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    data = slurp(r.json_path);
    assert_non_null(strstr(data, "\"logs_incomplete\": false"));
    free(data);
    record_log_init(&log);
    log.rec = &r;
    log.path = xstrdup("/dev/full");
    log.fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_int_equal(record_log_lines(&log, LINE_OUT, &l, 1, err), -1);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    data = slurp(r.json_path);
    assert_non_null(strstr(data, "\"logs_incomplete\": true"));
    free(data);
    record_log_release(&log);
    record_release(&r);
    rmtree(dir);
}

/* --report through a symlink: the symlink stays, its target gets the
 * record; a dangling symlink's target is created. */
static void test_report_symlink_stays(void **state)
{
    struct record r;
    struct record_run run;
    struct stat st;
    char *dir = tmpdir(), err[ERR_MAX], *link, *target, *dangling, *t2;
    char *json, *rep;

    (void)state;
    run_init(&run);
    link = xasprintf("%s/report-link", dir);
    target = xasprintf("%s/real-report.json", dir);
    put(target, "old\n");
    assert_int_equal(symlink("real-report.json", link), 0);
    assert_int_equal(record_open(&r, dir, "run1", link, err), 0);
    assert_int_equal(r.report_kind, REPORT_FILE);
    run.finished_ms = clock_wall_ms();
    run.exit_code = 0;
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    json = slurp(r.json_path);
    rep = slurp(target);
    assert_string_equal(json, rep);
    free(json);
    free(rep);
    record_release(&r);

    dangling = xasprintf("%s/dangling", dir);
    t2 = xasprintf("%s/new-report.json", dir);
    assert_int_equal(symlink(t2, dangling), 0);
    assert_int_equal(record_open(&r, dir, "run2", dangling, err), 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    assert_int_equal(lstat(dangling, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(t2, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    record_release(&r);
    free(link);
    free(target);
    free(dangling);
    free(t2);
    rmtree(dir);
}

/* A FIFO (through a symlink): written once, at the end, not on every
 * rewrite; the symlink and the FIFO stay. */
static void test_report_fifo_once_at_end(void **state)
{
    struct record r;
    struct record_run run;
    struct stat st;
    char *dir = tmpdir(), err[ERR_MAX], *fifo, *link, got[65536];
    ssize_t n;
    int rfd;

    (void)state;
    run_init(&run);
    fifo = xasprintf("%s/fifo", dir);
    link = xasprintf("%s/link", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(fifo, link), 0);
    assert_int_equal(record_open(&r, dir, "run1", link, err), 0);
    assert_int_equal(r.report_kind, REPORT_DEVICE);
    /* while running: nothing is written (no reader needed) */
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    /* no reader at the end: said, not a hang */
    run.finished_ms = clock_wall_ms();
    run.exit_code = 0;
    assert_int_equal(record_write(&r, &run, NULL, 0, err), -1);
    assert_non_null(strstr(err, "no process reads"));
    assert_true(record_lost(&r));
    record_release(&r);

    run.finished_ms = 0;
    assert_int_equal(record_open(&r, dir, "run2", link, err), 0);
    /* a reader (this process), as `cat FIFO` would be */
    rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(rfd >= 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    assert_int_equal(read(rfd, got, sizeof(got)), 0); /* nothing yet */
    run.finished_ms = clock_wall_ms();
    run.exit_code = 1;
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0); /* once */
    assert_false(record_lost(&r));
    record_release(&r);
    n = read(rfd, got, sizeof(got) - 1);
    assert_true(n > 0);
    got[n] = '\0';
    close(rfd);
    assert_non_null(strstr(got, "\"exit_code\": 1"));
    assert_int_equal(count_of(got, "\"run_id\""), 1); /* written once */
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    free(fifo);
    free(link);
    rmtree(dir);
}

/* /dev/fd/N (and a symlink to it): written through descriptor N, once, at
 * the end. "-" and /dev/stdout are stdout. */
static void test_report_descriptor(void **state)
{
    struct record r;
    struct record_run run;
    char *dir = tmpdir(), err[ERR_MAX], *path, *link, got[65536];
    int p[2];
    ssize_t n;

    (void)state;
    run_init(&run);
    assert_int_equal(pipe(p), 0);
    path = xasprintf("/dev/fd/%d", p[1]);
    link = xasprintf("%s/to-fd", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(record_open(&r, dir, "run1", link, err), 0);
    assert_int_equal(r.report_kind, REPORT_FD);
    assert_int_equal(r.report_fd, p[1]);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    run.finished_ms = clock_wall_ms();
    run.exit_code = 0;
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    assert_int_equal(record_write(&r, &run, NULL, 0, err), 0);
    record_release(&r);
    close(p[1]);
    n = read(p[0], got, sizeof(got) - 1);
    assert_true(n > 0);
    got[n] = '\0';
    /* one record, whole */
    assert_int_equal(count_of(got, "\"run_id\""), 1); /* written once */
    assert_int_equal(got[n - 1], '\n');
    close(p[0]);

    assert_true(record_report_is_stdout("-"));
    assert_true(record_report_is_stdout("/dev/stdout"));
    assert_true(record_report_is_stdout("/proc/self/fd/1"));
    assert_false(record_report_is_stdout("/dev/stderr"));
    assert_false(record_report_is_stdout(link));
    assert_false(record_report_is_stdout(NULL));
    free(path);
    free(link);
    rmtree(dir);
}

/* What cannot take a report is refused by record_open(), before anything
 * connects: a directory, a socket, a descriptor that is not open. */
static void test_report_refused(void **state)
{
    struct record r;
    struct sockaddr_un sa;
    char *dir = tmpdir(), err[ERR_MAX], *sock;
    int s;

    (void)state;
    assert_int_equal(record_open(&r, dir, "run1", dir, err), -1);
    assert_non_null(strstr(err, "is a directory"));
    sock = xasprintf("%s/sock", dir);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(record_open(&r, dir, "run1", sock, err), -1);
    assert_non_null(strstr(err, "socket"));
    close(s);
    assert_int_equal(record_open(&r, dir, "run1", "/dev/fd/987", err), -1);
    assert_non_null(strstr(err, "not open for writing"));
    /* nothing was created */
    free(sock);
    sock = xasprintf("%s/run1", dir);
    assert_int_equal(access(sock, F_OK), -1);
    free(sock);
    rmtree(dir);
}

/* A run refused before it started: the report says why, with no host. */
static void test_write_refused(void **state)
{
    struct record_run run;
    char *dir = tmpdir(), err[ERR_MAX], *path;
    json_t *j;
    json_error_t je;

    (void)state;
    run_init(&run);
    path = xasprintf("%s/report.json", dir);
    assert_int_equal(record_write_refused(path, &run, "not confirmed", 4, err),
                     0);
    j = json_load_file(path, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "refused")),
                        "not confirmed");
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 4);
    assert_int_equal(json_array_size(json_object_get(j, "hosts")), 0);
    assert_non_null(json_string_value(json_object_get(j, "finished_at")));
    json_decref(j);
    free(path);
    path = xasprintf("%s/no/such/dir/report.json", dir);
    assert_int_equal(record_write_refused(path, &run, "x", 4, err), -1);
    assert_non_null(strstr(err, "no/such/dir/report.json"));
    free(path);
    rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_format),
        cmocka_unit_test(test_log_full_disk_reported_once),
        cmocka_unit_test(test_log_failure_noted_at_close),
        cmocka_unit_test(test_json_failure_keeps_previous),
        cmocka_unit_test(test_json_says_logs_incomplete),
        cmocka_unit_test(test_report_symlink_stays),
        cmocka_unit_test(test_report_fifo_once_at_end),
        cmocka_unit_test(test_report_descriptor),
        cmocka_unit_test(test_report_refused),
        cmocka_unit_test(test_write_refused),
        cmocka_unit_test(test_json_format_2),
        cmocka_unit_test(test_json_hosts_whole),
    };

    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
