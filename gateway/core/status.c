/*
 * status.c: the gRPC -> HTTP table follows the mapping the established
 * REST-to-gRPC gateways use (grpc-gateway, Envoy's transcoder), as the API
 * contract requires.
 */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    int http;
} grpc_codes[GRPC_CODE_MAX + 1] = {
    [GRPC_OK] = {"OK", 200},
    [GRPC_CANCELLED] = {"CANCELLED", 499},
    [GRPC_UNKNOWN] = {"UNKNOWN", 500},
    [GRPC_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", 400},
    [GRPC_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", 504},
    [GRPC_NOT_FOUND] = {"NOT_FOUND", 404},
    [GRPC_ALREADY_EXISTS] = {"ALREADY_EXISTS", 409},
    [GRPC_PERMISSION_DENIED] = {"PERMISSION_DENIED", 403},
    [GRPC_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", 429},
    [GRPC_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", 400},
    [GRPC_ABORTED] = {"ABORTED", 409},
    [GRPC_OUT_OF_RANGE] = {"OUT_OF_RANGE", 400},
    [GRPC_UNIMPLEMENTED] = {"UNIMPLEMENTED", 501},
    [GRPC_INTERNAL] = {"INTERNAL", 500},
    [GRPC_UNAVAILABLE] = {"UNAVAILABLE", 503},
    [GRPC_DATA_LOSS] = {"DATA_LOSS", 500},
    [GRPC_UNAUTHENTICATED] = {"UNAUTHENTICATED", 401},
};

int status_http_from_grpc(int code)
{
    return (code >= 0 && code <= GRPC_CODE_MAX) ? grpc_codes[code].http : 500;
}

const char *status_grpc_name(int code)
{
    return (code >= 0 && code <= GRPC_CODE_MAX) ? grpc_codes[code].name : "UNKNOWN";
}

void status_set(status_t *st, int code, const char *fmt, ...)
{
    st->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(st->message, sizeof(st->message), fmt, ap);
    va_end(ap);
    if (n < (int)sizeof(st->message))
        return;
    /* cut short: never leave half a UTF-8 sequence at the end */
    size_t len = sizeof(st->message) - 1, lead = len;
    while (lead > 0 && ((unsigned char)st->message[lead - 1] & 0xc0) == 0x80 && len - lead < 3)
        lead--;
    if (lead > 0 && (unsigned char)st->message[lead - 1] >= 0xc0) {
        unsigned char c = (unsigned char)st->message[lead - 1];
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (len - (lead - 1) < need)
            st->message[lead - 1] = '\0';
    }
}

void status_json_quote(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_puts_lit(out, "\\\""); break;
        case '\\': buf_puts_lit(out, "\\\\"); break;
        case '\n': buf_puts_lit(out, "\\n"); break;
        case '\r': buf_puts_lit(out, "\\r"); break;
        case '\t': buf_puts_lit(out, "\\t"); break;
        case '\b': buf_puts_lit(out, "\\b"); break;
        case '\f': buf_puts_lit(out, "\\f"); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(out, e, 6);
        }
        }
    }
    buf_append(out, s + run, len - run);
    buf_putc(out, '"');
}

void status_render_json(buf_t *out, int code, const char *message, size_t message_len, const char *details_json,
                        size_t details_len, int error_field)
{
    if (error_field) {
        buf_puts_lit(out, "{\"error\":");
        status_json_quote(out, message, message_len);
        buf_printf(out, ",\"code\":%d,\"message\":", code);
    } else {
        buf_printf(out, "{\"code\":%d,\"message\":", code);
    }
    status_json_quote(out, message, message_len);
    buf_puts_lit(out, ",\"details\":");
    if (details_json && details_len)
        buf_append(out, details_json, details_len);
    else
        buf_puts_lit(out, "[]");
    buf_putc(out, '}');
}
