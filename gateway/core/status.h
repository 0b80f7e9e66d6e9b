/*
 * status: gRPC status codes, their HTTP mapping (the one table the whole
 * gateway uses), and the error body of the API contract:
 *     {"code": <grpc code>, "message": "...", "details": []}
 * which the V11 routes print with the original platform's "error" first:
 *     {"error": "...", "code": ..., "message": "...", "details": []}
 */
#ifndef AG_STATUS_H
#define AG_STATUS_H

#include <stddef.h>
#include "core/buf.h"

typedef enum grpc_code {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_ABORTED = 10,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_DATA_LOSS = 15,
    GRPC_UNAUTHENTICATED = 16,
} grpc_code_t;

#define GRPC_CODE_MAX 16

/* HTTP status for a gRPC code; codes outside 0..16 map to 500. */
int status_http_from_grpc(int code);
/* "INVALID_ARGUMENT" etc.; "UNKNOWN" for codes out of range. */
const char *status_grpc_name(int code);

/*
 * An error raised while handling a request: the code, and a message that
 * names what and where (`field "amount": expected string`).
 */
typedef struct status {
    int code;
    char message[256];
} status_t;

void status_set(status_t *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends a JSON string literal (quotes included), escaping as RFC 8259 asks. */
void status_json_quote(buf_t *out, const char *s, size_t len);
/* Appends the contract's error body; details_json is a JSON array text or
 * NULL for []; error_field adds "error" (the V11 shape). */
void status_render_json(buf_t *out, int code, const char *message, size_t message_len, const char *details_json,
                        size_t details_len, int error_field);

#endif
