/*
 * slow_proxy ADDR PORT TO_ADDR TO_PORT DELAY_MS - a TCP relay that is slow to
 * answer: it accepts on ADDR:PORT, waits DELAY_MS, then connects to
 * TO_ADDR:TO_PORT and relays bytes both ways. To an SSH client it is a host
 * that takes DELAY_MS to send its banner (a slow network or a loaded
 * server): the client is stuck "connecting" for that long.
 *
 * One process, no threads, no children (so that stopping it by its pid stops
 * everything). Prints "listening" once bound and "accepted" per connection.
 * Only loopback addresses (127.0.0.0/8) are accepted. Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXP 64

struct pair {
    int c, u;          /* client side, upstream side (-1: not yet) */
    long long due;     /* when to connect upstream */
    int c_eof, u_eof;  /* read side closed */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse(const char *a, const char *p, struct sockaddr_in *sa)
{
    char *end;
    long port = strtol(p, &end, 10);

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, a, &sa->sin_addr) != 1 || *end || port < 1 ||
        port > 65535)
        return -1;
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return -1;
    sa->sin_port = htons((unsigned short)port);
    return 0;
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void drop(struct pair *p)
{
    if (p->c >= 0)
        close(p->c);
    if (p->u >= 0)
        close(p->u);
    p->c = p->u = -1;
}

/* Moves what is readable on from to to; returns -1 on EOF or error. */
static int relay(int from, int to)
{
    char buf[65536];
    ssize_t r = read(from, buf, sizeof(buf));

    if (r < 0 && errno == EINTR)
        return 0;
    if (r <= 0)
        return -1;
    return write_all(to, buf, (size_t)r);
}

int main(int argc, char **argv)
{
    struct sockaddr_in la, ta;
    struct pair pr[MAXP];
    int one = 1, ls;
    long delay;

    if (argc != 6 || parse(argv[1], argv[2], &la) ||
        parse(argv[3], argv[4], &ta) || (delay = atol(argv[5])) < 0) {
        fprintf(stderr, "usage: slow_proxy ADDR PORT TO_ADDR TO_PORT "
                        "DELAY_MS (loopback addresses only)\n");
        return 2;
    }
    for (int i = 0; i < MAXP; i++)
        pr[i].c = pr[i].u = -1;
    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) {
        perror("slow_proxy: socket");
        return 1;
    }
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *)&la, sizeof(la)) != 0 ||
        listen(ls, 64) != 0) {
        perror("slow_proxy: bind/listen");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        struct pollfd fds[1 + 2 * MAXP];
        int who[1 + 2 * MAXP];
        nfds_t n = 0;
        long long now = now_ms(), wait = -1;

        fds[n].fd = ls;
        fds[n].events = POLLIN;
        who[n++] = -1;
        for (int i = 0; i < MAXP; i++) {
            struct pair *p = &pr[i];
            if (p->c < 0)
                continue;
            if (p->u < 0) { /* waiting to connect upstream */
                long long left = p->due - now;
                if (left < 0)
                    left = 0;
                if (wait < 0 || left < wait)
                    wait = left;
                continue;
            }
            if (!p->c_eof) {
                fds[n].fd = p->c;
                fds[n].events = POLLIN;
                who[n++] = 2 * i;
            }
            if (!p->u_eof) {
                fds[n].fd = p->u;
                fds[n].events = POLLIN;
                who[n++] = 2 * i + 1;
            }
        }
        if (poll(fds, n, (int)wait) < 0) {
            if (errno == EINTR)
                continue;
            perror("slow_proxy: poll");
            return 1;
        }
        now = now_ms();
        for (int i = 0; i < MAXP; i++) { /* connections whose delay is over */
            struct pair *p = &pr[i];
            if (p->c < 0 || p->u >= 0 || p->due > now)
                continue;
            p->u = socket(AF_INET, SOCK_STREAM, 0);
            if (p->u < 0 ||
                connect(p->u, (struct sockaddr *)&ta, sizeof(ta)) != 0)
                drop(p);
        }
        for (nfds_t k = 1; k < n; k++) {
            struct pair *p = &pr[who[k] / 2];
            int up = who[k] % 2;
            if (!fds[k].revents || p->c < 0)
                continue;
            if (relay(up ? p->u : p->c, up ? p->c : p->u) != 0) {
                if (up)
                    p->u_eof = 1;
                else
                    p->c_eof = 1;
                shutdown(up ? p->c : p->u, SHUT_WR);
                if (p->c_eof && p->u_eof)
                    drop(p);
            }
        }
        if (fds[0].revents & POLLIN) {
            int c = accept(ls, NULL, NULL);
            int slot = -1;
            if (c < 0)
                continue;
            for (int i = 0; i < MAXP && slot < 0; i++)
                if (pr[i].c < 0)
                    slot = i;
            if (slot < 0) {
                close(c);
                continue;
            }
            pr[slot].c = c;
            pr[slot].u = -1;
            pr[slot].c_eof = pr[slot].u_eof = 0;
            pr[slot].due = now_ms() + delay;
            printf("accepted\n");
            fflush(stdout);
        }
    }
}
