/*
 * options: the knobs of the proto3 JSON mapping and the limits that keep
 * hostile input bounded. One struct, read-only on the request path.
 */
#ifndef AG_TRANSCODE_OPTIONS_H
#define AG_TRANSCODE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct transcode_options {
    uint8_t emit_defaults;         /* print fields without presence even when default */
    uint8_t ignore_unknown_fields; /* unknown JSON keys / query params: skip, not 400 */
    uint8_t use_proto_names;       /* print "tx_hash" instead of "txHash" */
    uint8_t enums_as_ints;         /* print enum numbers instead of names */
    /* The knobs a JSON profile (transcode/profile.h) adds beyond proto3's. */
    uint8_t int64_as_number;       /* int64 kinds as JSON numbers (Java's long), not strings */
    uint8_t decimal_as_number;     /* google.type.Decimal as a JSON number of its digits, both ways */
    uint8_t emit_null;             /* absent message fields (and proto3 optional) print null */
    uint8_t timestamp_local;       /* Timestamp as Java's LocalDateTime: UTC, no offset, no trailing zeros */
    uint8_t coerce_scalars;        /* input: Jackson's coercions (12 -> "12", "true" -> true, 1.9 -> 1) */
    uint8_t java_doubles;          /* double as Java's Double.toString prints it (2.0, 1.9E-4) */
    uint8_t strict_enums;          /* input: an unknown enum name is an error even when unknown keys are ignored */
    uint32_t max_depth;            /* nesting of objects/arrays/messages */
    size_t max_body;               /* bytes of request JSON */
    size_t max_string;             /* bytes of one decoded string or bytes value */
    size_t max_repeated;           /* elements of one repeated field or map */
    size_t max_output;             /* bytes of one transcoded message */
} transcode_options_t;

/* What a request's transcoding let pass without failing (the caller's,
 * optional): clients sending fields the contract lacks is drift worth
 * counting even where it is not an error. */
typedef struct transcode_report {
    uint32_t unknown_fields; /* JSON keys and query parameters ignored */
} transcode_report_t;

#define TRANSCODE_DEFAULT_MAX_DEPTH 64
#define TRANSCODE_DEFAULT_MAX_BODY (4u << 20)
#define TRANSCODE_DEFAULT_MAX_STRING (1u << 20)
#define TRANSCODE_DEFAULT_MAX_REPEATED 100000
#define TRANSCODE_DEFAULT_MAX_OUTPUT (16u << 20)

static inline void transcode_options_default(transcode_options_t *o)
{
    *o = (transcode_options_t){
        .max_depth = TRANSCODE_DEFAULT_MAX_DEPTH,
        .max_body = TRANSCODE_DEFAULT_MAX_BODY,
        .max_string = TRANSCODE_DEFAULT_MAX_STRING,
        .max_repeated = TRANSCODE_DEFAULT_MAX_REPEATED,
        .max_output = TRANSCODE_DEFAULT_MAX_OUTPUT,
    };
}

#endif
