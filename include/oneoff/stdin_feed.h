/*
 * stdin_feed.h - oneoff's standard input for the task of a run: read once,
 * by a thread of its own, into one bounded ring, and offered to every host
 * that runs the task (the same bytes to each) in the frames the host
 * script's watchdog reads (host_script.sh, Input): "<length>\n" and that
 * many bytes, and "0\n" after the last.
 *
 * Memory. The ring holds at most FEED_RING bytes whatever the size of the
 * input and the number of hosts; each host has its own read offset into it.
 * The reader waits while the slowest host that may still read is a full
 * ring behind: a slow host slows the input for all (backpressure), never
 * the memory. A host that has not started yet holds the ring from its
 * start, so every host that may run must run at once (the caller checks
 * that no batch or --parallel limit holds one back); a host that ended, or
 * will never start, holds nothing.
 *
 * Threads. feed_take() and feed_took() for host i are called by the thread
 * pumping host i's channel; feed_host_start() and feed_host_done() by any
 * thread; everything is under the feed's lock. The bytes feed_take() points
 * at stay put until feed_took() says they were sent.
 */
#ifndef ONEOFF_STDIN_FEED_H
#define ONEOFF_STDIN_FEED_H

#include <stdbool.h>
#include <stddef.h>

#include "oneoff/util.h"

#define FEED_RING (4u << 20)      /* the memory bound of a run's input */
#define FEED_FRAME_MAX (1u << 20) /* one frame: one dd on the host */

struct feed;

/* A feed of fd's bytes for nhosts hosts; nothing is read before
 * feed_start(). */
int feed_new(struct feed **out, int fd, size_t nhosts, char *err);
/* Starts the reader thread. */
int feed_start(struct feed *f, char *err);
/* Host i was told to go: its frames may be taken from now on. */
void feed_host_start(struct feed *f, size_t i);
/* Host i ended or will not start: it no longer holds the ring. */
void feed_host_done(struct feed *f, size_t i);
/* The bytes to send host i next (*p points at them), 0 when none yet. */
size_t feed_take(struct feed *f, size_t i, const char **p);
/* k of the bytes feed_take() offered were sent. */
void feed_took(struct feed *f, size_t i, size_t k);
/* Readable when host i may have new bytes to take (feed_take() empties
 * it). */
int feed_wake_fd(const struct feed *f, size_t i);
/* Why the input ended early ("" when it ended with EOF). */
const char *feed_error(const struct feed *f);
/* Stops the reader and frees everything. NULL is fine. */
void feed_free(struct feed *f);

#endif
