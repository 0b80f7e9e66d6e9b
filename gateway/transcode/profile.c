/*
 * profile.c: the built-in JSON profiles. Quarkus' Jackson defaults, which
 * v11 follows: FAIL_ON_UNKNOWN_PROPERTIES off, nulls included
 * (JsonInclude.ALWAYS), java.time written as ISO text, not timestamps,
 * scalar coercions on (ALLOW_COERCION_OF_SCALARS, ACCEPT_FLOAT_AS_INT);
 * Jackson writes long and BigDecimal as numbers.
 */
#include "transcode/profile.h"

#include <string.h>

static const json_profile_t profiles[] = {
    {.name = "proto3"},
    {.name = "v11",
     .knobs = {.emit_defaults = 1, .ignore_unknown_fields = 1, .int64_as_number = 1, .decimal_as_number = 1,
               .emit_null = 1, .timestamp_local = 1, .coerce_scalars = 1,
               .strict_enums = 1, .java_doubles = 1},
     .error_field = 1},
};

const json_profile_t *json_profile_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

const char *json_profile_names(void) { return "proto3, v11"; }

void json_profile_apply(const json_profile_t *p, transcode_options_t *o)
{
    const transcode_options_t *k = &p->knobs;
    o->emit_defaults = k->emit_defaults;
    o->ignore_unknown_fields = k->ignore_unknown_fields;
    o->use_proto_names = k->use_proto_names;
    o->enums_as_ints = k->enums_as_ints;
    o->int64_as_number = k->int64_as_number;
    o->decimal_as_number = k->decimal_as_number;
    o->emit_null = k->emit_null;
    o->timestamp_local = k->timestamp_local;
    o->coerce_scalars = k->coerce_scalars;
    o->strict_enums = k->strict_enums;
    o->java_doubles = k->java_doubles;
}
