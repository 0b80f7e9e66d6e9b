/*
 * pb_to_json: protobuf wire bytes of a message -> proto3 JSON text, in one
 * pass per nesting level, appended to a growable buffer.
 *
 * Fields print in declaration order whatever order they arrive in; unknown
 * fields are skipped; malformed wire data is an error, never a crash.
 */
#ifndef AG_PB_TO_JSON_H
#define AG_PB_TO_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/status.h"
#include "schema/schema.h"
#include "transcode/options.h"

/* Returns 0, or -1 with st set (code INTERNAL/DATA_LOSS for bad upstream
 * bytes, RESOURCE_EXHAUSTED for limits). Scratch memory comes from out's arena. */
int transcode_pb_to_json(const schema_t *schema, const schema_message_t *msg, const uint8_t *pb, size_t len,
                         const transcode_options_t *opt, buf_t *out, status_t *st);

/* The same for one field of msg (google.api.HttpRule response_body). */
int transcode_pb_field_to_json(const schema_t *schema, const schema_message_t *msg, const schema_field_t *field,
                               const uint8_t *pb, size_t len, const transcode_options_t *opt, buf_t *out,
                               status_t *st);

#endif
