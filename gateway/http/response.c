/*
 * response.c: whole responses, with their length always said (h2o_send_inline
 * leaves it out, which costs an HTTP/1.1 client its keep-alive connection).
 */
#include "http/response.h"

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"

const char *response_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : "Error";
    }
}

void response_error(h2o_req_t *req, int http_status, int grpc_code, const char *message, size_t message_len,
                    const char *details, size_t details_len, int error_field)
{
    char first[1024];
    arena_t a;
    arena_init_with(&a, first, sizeof(first));
    buf_t b;
    buf_init(&b, &a, 512);
    status_render_json(&b, grpc_code, message, message_len, details, details_len, error_field);
    req->res.status = http_status;
    req->res.reason = response_reason(http_status);
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json"), 1);
    /* h2o_send_inline leaves the length out, which costs HTTP/1.1 clients
     * their keep-alive connection on every error: say it */
    static const char too_large[] = "{\"code\":13,\"message\":\"error too large to render\",\"details\":[]}";
    req->res.content_length = b.oom ? sizeof(too_large) - 1 : b.len;
    if (b.oom)
        h2o_send_inline(req, too_large, sizeof(too_large) - 1);
    else
        h2o_send_inline(req, b.data, b.len); /* copies into the pool */
    arena_free(&a);
}

void response_json(h2o_req_t *req, int status, const char *body, size_t len, int no_store)
{
    req->res.status = status;
    req->res.reason = response_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (no_store)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    req->res.content_length = len;
    h2o_send_inline(req, body, len); /* copies into the pool */
}
