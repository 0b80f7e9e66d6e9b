/*
 * fuzz_h2server: arbitrary bytes as a client's HTTP/2 frames into the gRPC
 * listener's server connection (grpc/h2server.h), over a socketpair on an
 * h2o loop: the real transport, only the peer is made up. The client's
 * preface and an empty SETTINGS go first, so the input reaches the frame
 * layer; what follows is the input as it is (HEADERS with HPACK blocks,
 * DATA, RST_STREAM, WINDOW_UPDATE, CONTINUATION, GOAWAY, garbage...).
 *
 * The user behind it answers like the door: by path, a response with
 * headers, the request body echoed back (consumed as it goes on) and
 * trailers (/echo), a trailers-only answer (/only), a reset (/reset), or
 * nothing until the client ends (anything else). Never a crash, a leak,
 * or a stream that does not close exactly once; and the connection is
 * gone once the client's end of the socket is.
 */
#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc/h2server.h"

#include <h2o/socket/evloop.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static h2o_loop_t *loop;
static h2server_ctx_t *ctx;
static int open_streams, conn_closed;

typedef struct app {
    h2server_stream_t *s;
    int echo, closed;
} app_t;

#define H(n, v) ((h2server_header_t){n, sizeof(n) - 1, v, sizeof(v) - 1})

static void *on_request(void *cd, h2server_stream_t *s, const h2server_header_t *h, size_t n, int oversize, int end)
{
    (void)cd;
    app_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        abort();
    a->s = s;
    open_streams++;
    const char *path = "";
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == 5 && memcmp(h[i].name, ":path", 5) == 0)
            path = h[i].value;
    h2server_header_t ct = H("content-type", "application/grpc");
    h2server_header_t only[] = {ct, H("grpc-status", "12")};
    if (oversize || strcmp(path, "/only") == 0) {
        h2server_respond(s, 200, only, 2, 1);
    } else if (strcmp(path, "/reset") == 0) {
        h2server_reset(s, H2SERVER_CANCEL);
    } else if (strcmp(path, "/echo") == 0) {
        a->echo = 1;
        h2server_respond(s, 200, &ct, 1, 0);
        if (end) {
            h2server_header_t t = H("grpc-status", "0");
            h2server_end(s, &t, 1);
        }
    }
    return a;
}

static void on_data(void *sd, const uint8_t *p, size_t n, int end)
{
    app_t *a = sd;
    if (a->closed)
        abort();
    h2server_consume(a->s, n);
    if (a->echo) {
        h2server_send(a->s, p, n);
        (void)h2server_full(a->s);
        if (end) {
            h2server_header_t t = H("grpc-status", "0");
            h2server_end(a->s, &t, 1);
        }
    } else if (end) {
        h2server_header_t t[] = {H("content-type", "application/grpc"), H("grpc-status", "0")};
        h2server_respond(a->s, 200, t, 2, 1);
    }
}

static void on_writable(void *sd)
{
    app_t *a = sd;
    if (a->closed)
        abort();
}

static void on_close(void *sd, uint32_t err)
{
    (void)err;
    app_t *a = sd;
    if (a->closed)
        abort(); /* twice */
    a->closed = 1;
    open_streams--;
    free(a);
}

static void on_conn_close(void *cd)
{
    (void)cd;
    conn_closed++;
}

static const h2server_handlers_t app = {on_request, on_data, on_writable, on_close, on_conn_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (loop == NULL) {
        signal(SIGPIPE, SIG_IGN);
        loop = h2o_evloop_create();
    }
    /* a context per input: its block cache goes back to malloc with it, so
     * what one input leaves cached is not taken for a leak */
    h2server_config_t cfg = {.max_concurrent_streams = 16, .max_header_list = 4096, .stream_window = 4096,
                             .stream_buffer = 8192, .conn_buffer = 32768};
    ctx = h2server_ctx_new(loop, &cfg, &app);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        h2server_ctx_free(ctx);
        return 0;
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    conn_closed = 0;
    h2server_accept(ctx, h2o_evloop_socket_create(loop, sv[1], 0), NULL);

    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    size_t plen = sizeof(preface) - 1, off = 0, total = plen + size;
    uint8_t sink[16384];
    for (int round = 0; round < 10000 && !conn_closed; round++) {
        if (off < total) {
            const uint8_t *p = off < plen ? preface + off : data + (off - plen);
            size_t k = off < plen ? plen - off : total - off;
            ssize_t w = write(sv[0], p, k);
            if (w > 0)
                off += (size_t)w;
        }
        h2o_evloop_run(loop, 0);
        /* a client that reads everything: the server's writes never block */
        ssize_t r;
        int got = 0;
        while ((r = read(sv[0], sink, sizeof(sink))) > 0)
            got = 1;
        if (off == total && !got)
            break; /* nothing more will come of it */
    }
    close(sv[0]);
    for (int round = 0; round < 1000 && !conn_closed; round++)
        h2o_evloop_run(loop, 1);
    if (!conn_closed || open_streams != 0 || h2server_conn_count(ctx) != 0) {
        fprintf(stderr, "fuzz_h2server: connection closed %d, streams open %d\n", conn_closed, open_streams);
        abort();
    }
    h2server_ctx_free(ctx);
    return 0;
}
