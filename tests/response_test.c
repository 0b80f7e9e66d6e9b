/*
 * response_test: http/response as a client sees it. A real h2o context on
 * 127.0.0.1 (a port the kernel picks) whose handler answers with the
 * module's calls, and a plain socket client on the same thread that sends
 * HTTP/1.1 requests and reads the bytes that come back: status line,
 * headers, Content-Length and body, and that keep-alive survives an error.
 */
#include "http/response.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/status.h"

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

/* /error/v11, /error/proto3, /error/details, /json, /json-no-store */
static int handle(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    const char *p = req->path.base;
    size_t n = req->path.len;
    if (n == 10 && memcmp(p, "/error/v11", 10) == 0)
        response_error(req, 404, GRPC_NOT_FOUND, H2O_STRLIT("Transaction not found"), NULL, 0, 1);
    else if (n == 13 && memcmp(p, "/error/proto3", 13) == 0)
        response_error(req, 400, GRPC_INVALID_ARGUMENT, H2O_STRLIT("field \"amount\": bad \"x\"\n"), NULL, 0, 0);
    else if (n == 14 && memcmp(p, "/error/details", 14) == 0)
        response_error(req, 503, GRPC_UNAVAILABLE, H2O_STRLIT("down"), H2O_STRLIT("[{\"a\":1}]"), 0);
    else if (n == 5 && memcmp(p, "/json", 5) == 0)
        response_json(req, 202, H2O_STRLIT("{\"ok\":true}"), 0);
    else
        response_json(req, 200, H2O_STRLIT("[]"), 1);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&accept_ctx, sock);
}

/* Sends req on fd and runs the loop until a whole response (headers and
 * Content-Length bytes of body) has come back; NUL-terminated in buf. */
static const char *exchange(int fd, const char *req, char *buf, size_t cap)
{
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        return NULL;
    size_t have = 0;
    for (int round = 0; round < 2000; round++) {
        h2o_evloop_run(ctx.loop, 5);
        ssize_t r = read(fd, buf + have, cap - 1 - have);
        if (r > 0)
            have += (size_t)r;
        buf[have] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "content-length: ");
        if (end && cl && cl < end && have >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
            return buf;
        if (r == 0)
            break;
    }
    return NULL;
}

static const char *body_of(const char *resp)
{
    const char *end = resp ? strstr(resp, "\r\n\r\n") : NULL;
    return end ? end + 4 : "";
}

static int has_header(const char *resp, const char *line)
{
    const char *end = resp ? strstr(resp, "\r\n\r\n") : NULL;
    const char *at = resp ? strcasestr(resp, line) : NULL;
    return at != NULL && at < end;
}

int main(void)
{
    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_handler_t *h = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*h));
    h->on_req = handle;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("listen");
        return 2;
    }
    h2o_socket_t *listener = h2o_evloop_socket_create(ctx.loop, lfd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        return 2;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    static char buf[8192];

    /* the V11 shape: "error" first, the same text as "message" */
    const char *r = exchange(fd, "GET /error/v11 HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf));
    CHECK(r != NULL && strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK(has_header(r, "\r\ncontent-type: application/json\r\n"));
    CHECK(has_header(r, "\r\ncontent-length: 89\r\n"));
    CHECK_STREQ(body_of(r), "{\"error\":\"Transaction not found\",\"code\":5,\"message\":\"Transaction not found\","
                            "\"details\":[]}");
    CHECK(!has_header(r, "connection: close")); /* an error keeps the connection */

    /* the proto3 shape, the message escaped, on the same connection */
    r = exchange(fd, "GET /error/proto3 HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf));
    CHECK(r != NULL && strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    CHECK_STREQ(body_of(r), "{\"code\":3,\"message\":\"field \\\"amount\\\": bad \\\"x\\\"\\n\",\"details\":[]}");

    r = exchange(fd, "GET /error/details HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf));
    CHECK(r != NULL && strncmp(r, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    CHECK_STREQ(body_of(r), "{\"code\":14,\"message\":\"down\",\"details\":[{\"a\":1}]}");

    r = exchange(fd, "GET /json HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf));
    CHECK(r != NULL && strncmp(r, "HTTP/1.1 202 Accepted\r\n", 23) == 0);
    CHECK(has_header(r, "\r\ncontent-length: 11\r\n"));
    CHECK(!has_header(r, "cache-control"));
    CHECK_STREQ(body_of(r), "{\"ok\":true}");

    r = exchange(fd, "GET /json-no-store HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf));
    CHECK(r != NULL && strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(has_header(r, "\r\ncache-control: no-store\r\n"));
    CHECK_STREQ(body_of(r), "[]");

    /* every status the gateway answers has its own phrase */
    static const struct { int status; const char *reason; } phrases[] = {
        {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {400, "Bad Request"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {413, "Payload Too Large"}, {415, "Unsupported Media Type"},
        {429, "Too Many Requests"}, {499, "Client Closed Request"}, {501, "Not Implemented"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
        CHECK_STREQ(response_reason(phrases[i].status), phrases[i].reason);

    close(fd);
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    h2o_evloop_run(ctx.loop, 0);
    return test_summary();
}
