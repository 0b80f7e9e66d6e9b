/*
 * response: the one module that sends a whole response: JSON bodies and
 * the error JSON of the API contract (core/status.h) with its status line,
 * Content-Type and Content-Length, for every handler (api, health, metrics,
 * admin). Bodies are copied into the request's pool, so the caller's
 * buffer may go as soon as the call returns.
 */
#ifndef AG_RESPONSE_H
#define AG_RESPONSE_H

#include <stddef.h>
#include <h2o.h>

/* "OK", "Accepted", "Not Found", ...: the reason phrase of a status. */
const char *response_reason(int status);
/* status with body as application/json; no_store adds Cache-Control: no-store. */
void response_json(h2o_req_t *req, int status, const char *body, size_t len, int no_store);
/* The error JSON: {"code","message","details"}, with "error" first when
 * error_field (the V11 shape). details is a JSON array text, or NULL for []. */
void response_error(h2o_req_t *req, int http_status, int grpc_code, const char *message, size_t message_len,
                    const char *details, size_t details_len, int error_field);

#endif
