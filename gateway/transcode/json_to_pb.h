/*
 * json_to_pb: proto3 JSON text -> protobuf wire bytes, in one streaming
 * pass over the text (a SAX parser drives an encoder; no object tree).
 *
 * Nested messages are written in place: one byte is reserved for each
 * length and the payload is shifted only in the rare case it outgrows 127
 * bytes. All scratch memory comes from out's arena.
 */
#ifndef AG_JSON_TO_PB_H
#define AG_JSON_TO_PB_H

#include <stddef.h>
#include "core/buf.h"
#include "core/status.h"
#include "schema/schema.h"
#include "transcode/options.h"

/* JSON text of message msg -> its wire bytes, appended to out. Returns 0, or
 * -1 with st set (INVALID_ARGUMENT naming the field and the problem).
 * report, when not NULL, gets what was let pass (ignored unknown keys). */
int transcode_json_to_pb(const schema_t *schema, const schema_message_t *msg, const char *json, size_t len,
                         const transcode_options_t *opt, buf_t *out, status_t *st, transcode_report_t *report);

/* JSON text of one field's value (google.api.HttpRule body: "field") -> the
 * field's wire bytes, tag included. */
int transcode_json_field_to_pb(const schema_t *schema, const schema_field_t *field, const char *json, size_t len,
                               const transcode_options_t *opt, buf_t *out, status_t *st, transcode_report_t *report);

/* A value given as text outside JSON (a path variable, a query parameter)
 * -> the field's wire bytes, tag included: numbers, "true"/"false", enum
 * names or numbers, base64, and the string forms of well-known types. A
 * repeated field gets one element per call. */
int transcode_text_to_pb(const schema_t *schema, const schema_field_t *field, const char *text, size_t len,
                         const transcode_options_t *opt, buf_t *out, status_t *st);

#endif
