/*
 * paced_latency: latency percentiles at a fixed, unsaturating request rate.
 *
 *   paced_latency HOST PORT PATH [--rate R] [--connections C] [--seconds S]
 *                 [--poisson] [--body FILE]
 *
 * Open loop: request k is due at t0 + k/R (or at Poisson arrivals with
 * --poisson), whatever happened to the ones before, and goes out on an idle
 * keep-alive connection of the C (HTTP/1.1, GET, or POST of FILE as JSON).
 * Its latency counts from when it was due, not from when it was sent, so a
 * backlog shows (no coordinated omission). Unlike h2load --rps, which sends
 * one request per connection on each tick of one timer (bursts of C), the
 * requests here are spread evenly over time: the load a gateway sees from
 * many independent clients.
 *
 * Prints sent/answered/non-2xx/errors, the rate achieved, and the latency
 * p50, p90, p99, p99.9 and max in milliseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

typedef struct conn {
    int fd;
    int busy;
    double due;        /* of the request in flight */
    char in[65536];
    size_t in_len;
} conn_t;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const char *host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "paced_latency: %s is not an IPv4 address\n", host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(2);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Length of one whole response at the start of buf (headers + Content-Length
 * body), 0 while incomplete, -1 when it is not one we can read. */
static long response_length(const char *buf, size_t len, int *status)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return len > 60000 ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    size_t head = (size_t)(end - buf) + 4;
    long body = -1;
    for (const char *p = buf; p < end; p++) {
        if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            body = strtol(p + 15, NULL, 10);
    }
    if (body < 0)
        return -1;
    return head + (size_t)body <= len ? (long)(head + (size_t)body) : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: paced_latency HOST PORT PATH [--rate R] [--connections C] [--seconds S] "
                        "[--poisson] [--body FILE]\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = (int)parse_long(argv[2], "port");
    long rate = 1000, nconn = 64, seconds = 5;
    int poisson = 0;
    char *body = NULL;
    size_t body_len = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = parse_long(argv[++i], "rate");
        else if (!strcmp(argv[i], "--connections") && i + 1 < argc)
            nconn = parse_long(argv[++i], "connections");
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = parse_long(argv[++i], "seconds");
        else if (!strcmp(argv[i], "--poisson"))
            poisson = 1;
        else if (!strcmp(argv[i], "--body") && i + 1 < argc) {
            FILE *f = fopen(argv[++i], "rb");
            if (f == NULL) {
                perror(argv[i]);
                return 2;
            }
            body = xmalloc(1 << 20);
            body_len = fread(body, 1, 1 << 20, f);
            fclose(f);
        } else {
            fprintf(stderr, "paced_latency: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (rate <= 0 || nconn <= 0 || seconds <= 0)
        return 2;

    char req[2048 + (1 << 20)];
    int req_len;
    if (body)
        req_len = snprintf(req, 2048,
                           "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                           path, host, port, body_len);
    else
        req_len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, host, port);
    if (body) {
        memcpy(req + req_len, body, body_len);
        req_len += (int)body_len;
    }

    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)nconn, sizeof(*conns));
    for (long i = 0; i < nconn; i++) {
        conns[i].fd = connect_to(host, port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }

    size_t total = (size_t)(rate * seconds), sent = 0, done = 0, non2xx = 0, errors = 0;
    double *lat = xmalloc(total * sizeof(double));
    double *due = xmalloc(total * sizeof(double));
    /* every arrival time up front: open loop, whatever the answers do */
    unsigned seed = 12345;
    double t = 0;
    for (size_t k = 0; k < total; k++) {
        if (poisson) {
            seed = seed * 1103515245u + 12345u;
            double u = ((seed >> 8) + 1.0) / 16777217.0;
            t += -log(u) / (double)rate;
        } else {
            t = (double)k / (double)rate;
        }
        due[k] = t;
    }
    double t0 = mono_s() + 0.05, stop_at = t0 + due[total - 1] + 10;
    size_t next_idle = 0;
    while (done + errors < total && mono_s() < stop_at) {
        double now = mono_s() - t0;
        /* send everything due on idle connections; the rest waits its turn */
        while (sent < total && due[sent] <= now) {
            conn_t *c = NULL;
            for (long i = 0; i < nconn && c == NULL; i++) {
                conn_t *x = &conns[(next_idle + (size_t)i) % (size_t)nconn];
                if (!x->busy)
                    c = x;
            }
            if (c == NULL)
                break;
            next_idle = (size_t)(c - conns) + 1;
            c->busy = 1;
            c->due = due[sent++];
            if (write(c->fd, req, (size_t)req_len) != req_len) {
                errors++;
                c->busy = 0;
            }
        }
        /* sleep until the next request is due, to the microsecond: a
         * millisecond timeout would send late and count that as latency */
        double wait_s = 0.01;
        if (sent < total) {
            double s = due[sent] - (mono_s() - t0);
            wait_s = s <= 0 ? 0 : s < 0.01 ? s : 0.01;
        }
        struct timespec ts = {0, (long)(wait_s * 1e9)};
        struct epoll_event evs[64];
        int n = epoll_pwait2(ep, evs, 64, &ts, NULL);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
            if (r <= 0) {
                fprintf(stderr, "paced_latency: connection closed\n");
                errors++;
                return 1;
            }
            c->in_len += (size_t)r;
            int status = 0;
            long whole = response_length(c->in, c->in_len, &status);
            if (whole < 0) {
                fprintf(stderr, "paced_latency: unreadable response\n");
                return 1;
            }
            if (whole == 0)
                continue;
            lat[done++] = (mono_s() - t0 - c->due) * 1000;
            non2xx += status < 200 || status > 299;
            memmove(c->in, c->in + whole, c->in_len - (size_t)whole);
            c->in_len -= (size_t)whole;
            c->busy = 0;
        }
    }
    double elapsed = mono_s() - t0;
    qsort(lat, done, sizeof(double), cmp_d);
#define PCT(q) (done ? lat[(size_t)fmin((double)done - 1, floor((q) * (double)done))] : 0)
    printf("sent %zu answered %zu non2xx %zu errors %zu rate %.0f/s connections %ld %s\n", sent, done, non2xx, errors,
           (double)done / elapsed, nconn, poisson ? "poisson" : "even");
    printf("latency ms: p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n", PCT(0.50), PCT(0.90), PCT(0.99),
           PCT(0.999), done ? lat[done - 1] : 0);
    return done == total && errors == 0 ? 0 : 1;
}
