/*
 * schema: the protobuf descriptors the gateway serves, loaded once from a
 * FileDescriptorSet into compact read-only tables.
 *
 * Everything the transcoders need per field is precomputed here (wire type,
 * encoded tag, JSON name, resolved message/enum type, well-known-type kind),
 * so the request path never touches descriptor.proto structures. Lookups a
 * request does (field by JSON or proto name, field by number, enum value by
 * name, message by full name for Any) are O(1) hash or direct-index probes.
 * A loaded schema is immutable and shared by all workers without locks.
 *
 * Comments: a set built with protoc --include_source_info carries the
 * .proto's comments; each element's (leading, else trailing), with the one
 * space after "//" and the trailing newline taken off, is its `comment`
 * (the API documentation reads them). NULL without source info.
 */
#ifndef AG_SCHEMA_H
#define AG_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* descriptor.proto's FieldDescriptorProto.Type numbers. */
typedef enum schema_type {
    SCHEMA_DOUBLE = 1, SCHEMA_FLOAT = 2, SCHEMA_INT64 = 3, SCHEMA_UINT64 = 4,
    SCHEMA_INT32 = 5, SCHEMA_FIXED64 = 6, SCHEMA_FIXED32 = 7, SCHEMA_BOOL = 8,
    SCHEMA_STRING = 9, SCHEMA_GROUP = 10, SCHEMA_MESSAGE = 11, SCHEMA_BYTES = 12,
    SCHEMA_UINT32 = 13, SCHEMA_ENUM = 14, SCHEMA_SFIXED32 = 15, SCHEMA_SFIXED64 = 16,
    SCHEMA_SINT32 = 17, SCHEMA_SINT64 = 18,
} schema_type_t;

typedef enum schema_wire {
    WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_SGROUP = 3, WIRE_EGROUP = 4, WIRE_I32 = 5,
} schema_wire_t;

/* Messages whose JSON form is not an object of their fields. */
typedef enum schema_wkt {
    WKT_NONE = 0,
    WKT_ANY, WKT_TIMESTAMP, WKT_DURATION, WKT_FIELD_MASK, WKT_EMPTY,
    WKT_STRUCT, WKT_VALUE, WKT_LIST_VALUE,
    WKT_DOUBLE_VALUE, WKT_FLOAT_VALUE, WKT_INT64_VALUE, WKT_UINT64_VALUE,
    WKT_INT32_VALUE, WKT_UINT32_VALUE, WKT_BOOL_VALUE, WKT_STRING_VALUE, WKT_BYTES_VALUE,
    /* google.type.Decimal: an object of its one field under proto3 JSON; a
     * JSON number when the route's options say decimal_as_number */
    WKT_DECIMAL,
} schema_wkt_t;

typedef struct schema_message schema_message_t;
typedef struct schema_enum schema_enum_t;

typedef struct schema_field {
    const char *name;       /* as declared: "tx_hash" */
    const char *json_name;  /* "txHash" (json_name option honoured) */
    /* The output key, quoted and escaped with its colon, `"txHash":`, and
     * the same for the declared name: printing a key is one copy. */
    const char *json_key;
    const char *proto_key;
    uint16_t json_key_len, proto_key_len;
    uint16_t name_len, json_name_len;
    uint32_t number;
    uint16_t index;         /* position in the message's fields[] */
    int16_t oneof_index;    /* real oneofs only; -1 when none (proto3 optional is not one) */
    uint8_t type;           /* schema_type_t */
    uint8_t wire_type;      /* schema_wire_t of one element */
    uint8_t repeated;
    uint8_t packed;         /* repeated scalar written packed on output */
    uint8_t is_map;         /* repeated map-entry message */
    uint8_t has_presence;   /* message, oneof member or proto3 optional */
    uint8_t tag_len;
    uint8_t tag[5];         /* encoded key for wire_type (LEN for packed repeated: see packed_tag) */
    uint8_t packed_tag[5];  /* key with wire type LEN, for packed encoding */
    const schema_message_t *message; /* MESSAGE/GROUP */
    const schema_enum_t *enumeration; /* ENUM */
    const char *comment;    /* the .proto's comment (leading, else trailing), or NULL */
} schema_field_t;

struct schema_message {
    const char *full_name;  /* "aurigraph.v11.Transaction" (no leading dot) */
    const schema_field_t *fields; /* declaration order */
    uint32_t nfields;
    uint32_t noneofs;
    const char *const *oneof_names;
    uint8_t wkt;            /* schema_wkt_t */
    uint8_t map_entry;
    /* internal lookup tables */
    uint32_t name_mask;
    const uint16_t *name_slots;    /* field index + 1, by JSON and proto name */
    uint32_t number_direct;        /* numbers below this index number_slots directly */
    const uint16_t *number_slots;  /* field index + 1; else sorted search */
    const uint16_t *by_number;     /* field indexes sorted by number */
    const char *comment;           /* as schema_field_t's */
};

typedef struct schema_enum_value {
    const char *name;
    int32_t number;
} schema_enum_value_t;

struct schema_enum {
    const char *full_name;
    const schema_enum_value_t *values; /* declaration order */
    uint32_t nvalues;
    uint8_t is_null_value;  /* google.protobuf.NullValue: JSON null */
    uint32_t name_mask;
    const uint16_t *name_slots;
    const uint16_t *by_number;         /* indexes sorted by number, first declared wins */
    const char *comment;
};

/* One google.api.HttpRule (or additional binding) of a method. */
typedef struct schema_http_rule {
    const char *method;        /* "GET", ..., or a custom verb */
    const char *path;          /* the path template */
    const char *body;          /* NULL: no body; "*": whole message; else a field name */
    const char *response_body; /* NULL or a field name */
} schema_http_rule_t;

typedef struct schema_method {
    const char *name;          /* "SubmitTransaction" */
    const char *full_name;     /* "aurigraph.v11.TransactionService.SubmitTransaction" */
    const char *grpc_path;     /* "/aurigraph.v11.TransactionService/SubmitTransaction" */
    const schema_message_t *input;
    const schema_message_t *output;
    uint8_t client_streaming;
    uint8_t server_streaming;
    const schema_http_rule_t *http_rules; /* the rule first, then additional bindings */
    uint32_t nhttp_rules;
    int success_status;        /* (aurigraph.api.success_status); 0 when not set */
    const char *json_profile;  /* its file's (aurigraph.api.json_profile), or NULL */
    const char *comment;
} schema_method_t;

typedef struct schema_service {
    const char *full_name;
    const schema_method_t *methods;
    uint32_t nmethods;
    const char *comment;
} schema_service_t;

typedef struct schema schema_t;

/* Loads a serialized FileDescriptorSet. NULL with a message in err on failure. */
schema_t *schema_load(const void *data, size_t len, char *err, size_t errlen);
schema_t *schema_load_file(const char *path, char *err, size_t errlen);
void schema_free(schema_t *s);

const schema_message_t *schema_find_message(const schema_t *s, const char *full_name, size_t len);
const schema_enum_t *schema_find_enum(const schema_t *s, const char *full_name, size_t len);
size_t schema_service_count(const schema_t *s);
const schema_service_t *schema_service_at(const schema_t *s, size_t i);
const schema_method_t *schema_find_method(const schema_t *s, const char *full_name);

/* By JSON name or declared name. */
const schema_field_t *schema_field_by_name(const schema_message_t *m, const char *name, size_t len);
const schema_field_t *schema_field_by_number(const schema_message_t *m, uint32_t number);
const schema_enum_value_t *schema_enum_by_name(const schema_enum_t *e, const char *name, size_t len);
const schema_enum_value_t *schema_enum_by_number(const schema_enum_t *e, int32_t number);

static inline uint32_t schema_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a: short keys, good spread, no setup */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

#endif
