/*
 * console.h - the operator's side of a console: the local terminal.
 *
 * A console is a run of one task on one host with a pseudo-terminal
 * (cmd_console.c, runner.h): the runner does the preflight and the gate as
 * for any run, then, in the host's worker thread, hands the channel's I/O
 * over to this module between console_begin() and console_end():
 *   - the terminal is in raw mode, so every key (Ctrl-C, Ctrl-Z, Ctrl-\,
 *     Ctrl-D) is a byte for the remote terminal, and nothing local
 *     interprets it; its modes are restored by console_end(), and by an
 *     atexit() handler if oneoff exits from anywhere else;
 *   - what the host prints goes to the terminal unchanged, and to the
 *     transcript (cast.h); the operator's typing is recorded only as the
 *     remote terminal echoes it;
 *   - "~." typed after a newline (or first) disconnects, "~~" sends one
 *     "~", as in OpenSSH;
 *   - a window resize (SIGWINCH) is passed on (tchan_resize()) within the
 *     pump's 100 ms tick, and recorded;
 *   - keystrokes wake the pump at once (console_wake_fd()): one round trip
 *     per echo, no tick.
 * Then console_copy() sends the transcript to the host over the same
 * connection (tchan_again()).
 *
 * Threads: console_init() and console_release() in the main thread; the
 * rest in the one worker thread that pumps the console's channel.
 */
#ifndef ONEOFF_CONSOLE_H
#define ONEOFF_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/cast.h"
#include "oneoff/transport.h"
#include "oneoff/util.h"

#define CONSOLE_COPY_TIMEOUT_MS 30000

struct console {
    int in, out; /* the operator's terminal */
    unsigned cols, rows;
    char term[64];
    /* the session */
    struct tchan *chan; /* borrowed between begin and end */
    struct cast cast;
    bool casting, raw;
    char keys[4096]; /* typed, not yet sent */
    size_t nkeys;
    bool bol, tilde;  /* for "~." */
    bool disconnect;  /* "~." was typed */
    bool interrupted; /* oneoff got SIGTERM or SIGHUP */
    /* console_copy() */
    int copy_fd;
    char copy_buf[65536];
    size_t copy_len, copy_off;
    bool copy_eof, copy_eof_sent;
    int64_t copy_deadline;
    char copy_err[256];
    /* how it ended */
    bool ran; /* the session started */
    struct transport_result res;
};

/* Refuses (-1) when stdin is not a terminal; reads its size and TERM. */
int console_init(struct console *c, char *err);
void console_release(struct console *c);

/* The session starts on chan: transcript at cast_path, raw mode. On
 * failure nothing is changed. */
int console_begin(struct console *c, struct tchan *chan, const char *cast_path,
                  char *err);
/* The sink's hooks while the session runs. interrupted: oneoff got
 * SIGTERM or SIGHUP (CONTROL_CLOSE follows). */
void console_output(struct console *c, const char *p, size_t n);
enum transport_control console_control(struct console *c, bool interrupted);
size_t console_feed(struct console *c, const char **p);
void console_fed(struct console *c, size_t k);
int console_wake_fd(const struct console *c);
/* The session ended as res says: the terminal is restored, the transcript
 * closed (err: it is incomplete). */
int console_end(struct console *c, const struct transport_result *res,
                char *err);

/* Runs command (script_copy_line()) on chan's connection with the
 * transcript as its stdin; -1 with err when the copy failed. */
int console_copy(struct console *c, struct tchan *chan, const char *cast_path,
                 const char *command, char *err);

/* The process exit code for how the session ended: the remote exit code,
 * 128 + the signal's number, EXIT_INTERRUPTED after "~." or a signal to
 * oneoff, EXIT_UNREACHABLE when the connection was lost. */
int console_exit_code(const struct console *c);

#endif
