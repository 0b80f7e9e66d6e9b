#include "server/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const listener_kind_info_t listener_kinds[LISTENER_NKINDS] = {
    [LISTENER_REST] = {.name = "rest", .per_worker = 1, .drains = 1, .uring = 1},
    [LISTENER_ADMIN] = {.name = "admin"},
    [LISTENER_GRPC] = {.name = "grpc", .per_worker = 1, .drains = 1},
};

/* A listening socket for host:port; *port is updated when it was 0.
 * reuseport: shared with the other workers and with a successor process;
 * the admin listener is not, so two gateways never split its calls. */
int listener_open(const char *host, uint16_t *port, int reuseport, char *err, size_t errlen)
{
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)*port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen %s:%u: %s", host, (unsigned)*port, gai_strerror(rc));
        errno = EINVAL;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        snprintf(err, errlen, "listen %s:%u: %s", host, (unsigned)*port, strerror(e));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        errno = e; /* EADDRINUSE tells a busy port from a bad address */
        return -1;
    }
    freeaddrinfo(res);
    if (*port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

