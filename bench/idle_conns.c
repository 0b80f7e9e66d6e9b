/*
 * idle_conns: opens N keep-alive HTTP/1.1 connections to a gateway, sends
 * one GET on each so every connection is a real, served one, then holds
 * them idle and prints the gateway's resident memory (VmRSS) read from
 * /proc/PID/status. For the "RSS with 10,000 idle connections" target.
 *
 *   idle_conns --port P --pid GATEWAY_PID [--host 127.0.0.1] [--conns 10000]
 *              [--path /q/health/live] [--hold-ms 2000]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = "/q/health/live";
    int port = 0, pid = 0, conns = 10000, hold_ms = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pid"))
            pid = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host"))
            host = argv[i + 1];
        else if (!strcmp(argv[i], "--conns"))
            conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--path"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--hold-ms"))
            hold_ms = atoi(argv[i + 1]);
    }
    if (port <= 0 || pid <= 0 || conns <= 0) {
        fprintf(stderr, "usage: idle_conns --port P --pid GATEWAY_PID [--conns N] [--host H] [--path P]\n");
        return 2;
    }
    struct rlimit rl = {(rlim_t)conns + 64, (rlim_t)conns + 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "idle_conns: cannot raise the fd limit to %d: %s\n", conns + 64, strerror(errno));
        return 1;
    }
    long before = rss_kib(pid);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int *fds = calloc((size_t)conns, sizeof(int));
    char req[256];
    int rl_len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
    int open_ok = 0, served = 0;
    char buf[4096];
    for (int i = 0; i < conns; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            fprintf(stderr, "idle_conns: connection %d: %s\n", i, strerror(errno));
            break;
        }
        open_ok++;
        /* one request each, answered before the next: the server has
         * accepted and served it, and now keeps it alive */
        if (write(fds[i], req, (size_t)rl_len) == rl_len) {
            struct pollfd p = {fds[i], POLLIN, 0};
            if (poll(&p, 1, 5000) == 1 && read(fds[i], buf, sizeof(buf)) > 0)
                served++;
        }
    }
    struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    long during = rss_kib(pid);
    printf("connections open: %d, served: %d\n", open_ok, served);
    printf("gateway RSS before: %.1f MiB, with the connections idle: %.1f MiB (+%.1f KiB per connection)\n",
           before / 1024.0, during / 1024.0, open_ok ? (double)(during - before) / open_ok : 0.0);
    for (int i = 0; i < open_ok; i++)
        close(fds[i]);
    free(fds);
    return open_ok == conns && served == conns ? 0 : 1;
}
