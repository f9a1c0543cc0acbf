/*
 * silent_listener ADDR PORT - listens on ADDR:PORT (IPv4), accepts every
 * connection and never sends a byte: a host whose TCP port is open but
 * which never speaks SSH. Accepted sockets are kept open (and drained) so
 * the peer sees neither data nor EOF. Runs until killed.
 * Prints "listening" once bound and "accepted" per connection. Only
 * loopback addresses (127.0.0.0/8) are accepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 256

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct pollfd p[MAXC + 1];
    int n = 1, one = 1, ls;
    char *end;
    long port;

    if (argc != 3) {
        fprintf(stderr, "usage: silent_listener ADDR PORT\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    port = strtol(argv[2], &end, 10);
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || *end ||
        port < 1 || port > 65535) {
        fprintf(stderr, "silent_listener: bad address or port\n");
        return 2;
    }
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "silent_listener: loopback addresses only\n");
        return 2;
    }
    sa.sin_port = htons((unsigned short)port);
    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) {
        perror("silent_listener: socket");
        return 1;
    }
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(ls, 64) != 0) {
        perror("silent_listener: bind/listen");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    p[0].fd = ls;
    p[0].events = POLLIN;
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("silent_listener: poll");
            return 1;
        }
        for (int i = n - 1; i >= 1; i--) {
            if (p[i].revents) {
                char buf[4096];
                ssize_t r = read(p[i].fd, buf, sizeof(buf));
                if (r <= 0) { /* peer went away: forget it */
                    close(p[i].fd);
                    p[i] = p[--n];
                }
            }
        }
        if (p[0].revents & POLLIN) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) {
                printf("accepted\n");
                fflush(stdout);
                if (n <= MAXC) {
                    p[n].fd = c;
                    p[n].events = POLLIN;
                    p[n].revents = 0;
                    n++;
                } else {
                    close(c);
                }
            }
        }
    }
}
