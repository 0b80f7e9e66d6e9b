/*
 * http1_h2o.c: the framing check on h2o's HTTP/1.1 requests (see
 * http1_h2o.h).
 *
 * h2o keeps no header it takes for framing (Content-Length,
 * Transfer-Encoding, Host) in req->headers, so the check reads the head
 * again from the connection's input buffer: h2o 2.2's lib/http1.c consumes
 * a request's bytes only once its response is sent, and decodes a chunked
 * body after the head, so while a handler runs the buffer starts with the
 * head intact. The request line parsed again must be the request's own;
 * if it is not (an h2o that keeps its buffer otherwise), nothing is
 * refused, and tests/attack_http1_test.sh, which runs the attacks on
 * --http1 h2o, fails.
 */
#include "front/http1_h2o.h"

#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "front/http1.h"

typedef struct http1_h2o_handler {
    h2o_handler_t super;
    int error_field;
} http1_h2o_handler_t;

static void refuse(h2o_req_t *req, int status, const char *reason, int code, const char *why, int error_field)
{
    char first[512];
    arena_t a;
    arena_init_with(&a, first, sizeof(first));
    buf_t b;
    buf_init(&b, &a, 256);
    status_render_json(&b, code, why, strlen(why), NULL, 0, error_field);
    req->http1_is_persistent = 0; /* the bytes after the head mean nothing we can trust */
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    req->res.content_length = b.len; /* h2o_send_inline leaves it out */
    h2o_send_inline(req, b.data, b.len); /* copies the body */
    arena_free(&a);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return -1;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL) /* the io_uring front end: its own parser checked */
        return -1;
    const char *method, *path, *why = NULL;
    size_t method_len, path_len;
    http1_event_t ev = http1_check_raw_head(sock->input->bytes, sock->input->size, req->version & 0xff, &method,
                                            &method_len, &path, &path_len, &why);
    if (ev == HTTP1_REQUEST || ev == HTTP1_NEED_MORE)
        return -1;
    if (!h2o_memis(method, method_len, req->input.method.base, req->input.method.len) ||
        !h2o_memis(path, path_len, req->input.path.base, req->input.path.len))
        return -1; /* not this request's head */
    int error_field = ((http1_h2o_handler_t *)self)->error_field;
    if (ev == HTTP1_NOT_IMPLEMENTED)
        refuse(req, 501, "Not Implemented", GRPC_UNIMPLEMENTED, why, error_field);
    else
        refuse(req, 400, "Bad Request", GRPC_INVALID_ARGUMENT, why, error_field);
    return 0;
}

void http1_h2o_register(h2o_pathconf_t *path, int error_field)
{
    http1_h2o_handler_t *h = (http1_h2o_handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->error_field = error_field;
}
