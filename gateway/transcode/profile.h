/*
 * profile: named sets of JSON mapping knobs, so that a route says "v11" and
 * gets everything the original V11 platform's clients expect.
 *
 *   proto3  the strict proto3 JSON mapping (protobuf's JsonFormat): int64 as
 *           strings, defaults omitted, unknown fields rejected; errors are
 *           {"code","message","details"}.
 *   v11     what a Quarkus/Jackson resource prints and reads with Quarkus'
 *           defaults: every field printed (absent messages as null), int64
 *           and google.type.Decimal as JSON numbers, Timestamp as
 *           LocalDateTime, unknown fields ignored, Jackson's scalar coercions
 *           on input (12 for a string is "12"); errors carry "error" too.
 *
 * A profile sets only the mapping knobs; the limits of transcode_options_t
 * stay the config's.
 */
#ifndef AG_PROFILE_H
#define AG_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "transcode/options.h"

typedef struct json_profile {
    const char *name;
    transcode_options_t knobs; /* only the mapping flags are read */
    uint8_t error_field;       /* error bodies also carry "error": the message */
} json_profile_t;

/* The built-in profile of that name, or NULL. */
const json_profile_t *json_profile_find(const char *name);
/* "proto3, v11": the names, for messages. */
const char *json_profile_names(void);
/* Copies p's mapping flags into o, leaving o's limits. */
void json_profile_apply(const json_profile_t *p, transcode_options_t *o);

#endif
