/*
 * stdin_feed.c - one input, many hosts, bounded memory (see
 * stdin_feed.h).
 *
 * The ring is FEED_RING bytes; `end` counts every byte ever read, a host's
 * `off` every byte it was sent, so end - off is what it still has to get
 * and end - min(off of the hosts that hold the ring) is what the ring
 * holds. The reader writes only past `end`, into space no host reads, and
 * each host reads only below `end`: the lock guards the counters, never a
 * copy of the bytes.
 */
#define _GNU_SOURCE
#include "oneoff/stdin_feed.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define READ_CHUNK (64u << 10)

enum feed_state { HOST_WAITING, HOST_FEEDING, HOST_FINISHED };

struct feed_host {
    enum feed_state state;
    uint64_t off;      /* bytes of the input sent */
    size_t frame_left; /* of the frame being sent */
    char hdr[24];      /* "<length>\n" being sent */
    size_t hdr_len, hdr_off;
    bool end_queued; /* hdr is "0\n" */
    int wake;        /* eventfd */
};

struct feed {
    int fd;
    char *ring;
    uint64_t end;
    bool eof, stop;
    char error[ERR_MAX];
    struct feed_host *h;
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t room;
    pthread_t reader;
    bool started;
};

static void ring_wake_all(struct feed *f)
{
    uint64_t one = 1;

    for (size_t i = 0; i < f->n; i++)
        if (f->h[i].state != HOST_FINISHED &&
            write(f->h[i].wake, &one, sizeof(one)) < 0) {
            /* a full eventfd is already readable */
        }
}

/* Under the lock: the offset of the slowest host that holds the ring, or
 * UINT64_MAX when none does. */
static uint64_t slowest(const struct feed *f)
{
    uint64_t m = UINT64_MAX;

    for (size_t i = 0; i < f->n; i++)
        if (f->h[i].state != HOST_FINISHED && f->h[i].off < m)
            m = f->h[i].off;
    return m;
}

static void *reader(void *arg)
{
    struct feed *f = arg;

    for (;;) {
        uint64_t low;
        size_t room, at;
        ssize_t got;
        struct pollfd pf = {f->fd, POLLIN, 0};

        pthread_mutex_lock(&f->lock);
        while (!f->stop && (low = slowest(f)) != UINT64_MAX &&
               f->end - low >= FEED_RING)
            pthread_cond_wait(&f->room, &f->lock);
        if (f->stop || slowest(f) == UINT64_MAX) {
            /* stopped, or no host left to read it: read no more */
            pthread_mutex_unlock(&f->lock);
            break;
        }
        low = slowest(f);
        at = (size_t)(f->end % FEED_RING);
        room = FEED_RING - (size_t)(f->end - low);
        if (room > FEED_RING - at)
            room = FEED_RING - at;
        if (room > READ_CHUNK)
            room = READ_CHUNK;
        pthread_mutex_unlock(&f->lock);
        if (poll(&pf, 1, 100) == 0)
            continue;
        got = read(f->fd, f->ring + at, room);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        pthread_mutex_lock(&f->lock);
        if (got > 0) {
            f->end += (uint64_t)got;
        } else {
            if (got < 0)
                snprintf(f->error, sizeof(f->error),
                         "cannot read the standard input: %s", strerror(errno));
            f->eof = true;
        }
        ring_wake_all(f);
        pthread_mutex_unlock(&f->lock);
        if (got <= 0)
            break;
    }
    return NULL;
}

int feed_new(struct feed **out, int fd, size_t nhosts, char *err)
{
    struct feed *f = xcalloc(1, sizeof(*f));

    *out = NULL;
    f->fd = fd;
    f->n = nhosts;
    f->h = xcalloc(nhosts ? nhosts : 1, sizeof(*f->h));
    f->ring = xmalloc(FEED_RING);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->room, NULL);
    for (size_t i = 0; i < nhosts; i++)
        f->h[i].wake = -1;
    for (size_t i = 0; i < nhosts; i++) {
        f->h[i].wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (f->h[i].wake < 0) {
            errf(err, "cannot pass the standard input on: %s", strerror(errno));
            feed_free(f);
            return -1;
        }
    }
    *out = f;
    return 0;
}

int feed_start(struct feed *f, char *err)
{
    if (pthread_create(&f->reader, NULL, reader, f) != 0)
        return errf(err, "cannot start the standard input's reader");
    f->started = true;
    return 0;
}

void feed_host_start(struct feed *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    if (f->h[i].state == HOST_WAITING)
        f->h[i].state = HOST_FEEDING;
    pthread_mutex_unlock(&f->lock);
}

void feed_host_done(struct feed *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    f->h[i].state = HOST_FINISHED;
    pthread_cond_signal(&f->room);
    pthread_mutex_unlock(&f->lock);
}

size_t feed_take(struct feed *f, size_t i, const char **p)
{
    struct feed_host *h = &f->h[i];
    uint64_t drain;
    size_t n = 0;

    if (read(h->wake, &drain, sizeof(drain)) < 0) {
        /* nothing new: fine */
    }
    pthread_mutex_lock(&f->lock);
    if (h->state != HOST_FEEDING)
        goto out;
    if (h->hdr_off < h->hdr_len) {
        *p = h->hdr + h->hdr_off;
        n = h->hdr_len - h->hdr_off;
        goto out;
    }
    if (h->frame_left == 0 && h->off < f->end) {
        uint64_t avail = f->end - h->off;
        h->frame_left = avail > FEED_FRAME_MAX ? FEED_FRAME_MAX : avail;
        h->hdr_len =
            (size_t)snprintf(h->hdr, sizeof(h->hdr), "%zu\n", h->frame_left);
        h->hdr_off = 0;
        *p = h->hdr;
        n = h->hdr_len;
        goto out;
    }
    if (h->frame_left) {
        size_t at = (size_t)(h->off % FEED_RING);
        n = h->frame_left;
        if (n > FEED_RING - at)
            n = FEED_RING - at;
        *p = f->ring + at;
        goto out;
    }
    if (f->eof && !h->end_queued) {
        h->end_queued = true;
        h->hdr_len = (size_t)snprintf(h->hdr, sizeof(h->hdr), "0\n");
        h->hdr_off = 0;
        *p = h->hdr;
        n = h->hdr_len;
    }
out:
    pthread_mutex_unlock(&f->lock);
    return n;
}

void feed_took(struct feed *f, size_t i, size_t k)
{
    struct feed_host *h = &f->h[i];

    pthread_mutex_lock(&f->lock);
    if (h->hdr_off < h->hdr_len) {
        h->hdr_off += k;
        if (h->hdr_off >= h->hdr_len && h->end_queued)
            h->state = HOST_FINISHED; /* all sent */
    } else {
        h->frame_left -= k;
        h->off += k;
    }
    pthread_cond_signal(&f->room);
    pthread_mutex_unlock(&f->lock);
}

int feed_wake_fd(const struct feed *f, size_t i)
{
    return f->h[i].wake;
}

const char *feed_error(const struct feed *f)
{
    return f->error;
}

void feed_free(struct feed *f)
{
    if (f == NULL)
        return;
    if (f->started) {
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_cond_signal(&f->room);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->reader, NULL);
    }
    for (size_t i = 0; i < f->n; i++)
        if (f->h[i].wake >= 0)
            close(f->h[i].wake);
    pthread_cond_destroy(&f->room);
    pthread_mutex_destroy(&f->lock);
    free(f->ring);
    free(f->h);
    free(f);
}
