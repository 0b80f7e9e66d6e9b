/*
 * schema.c: FileDescriptorSet -> read-only tables.
 *
 * Two passes over the decoded set: the first names every message and enum
 * (so forward and cross-file references resolve), the second fills fields,
 * methods and HTTP rules. All tables live in one arena owned by the schema.
 */
#include "schema/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/status.h"
#include "google/api/http.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

#define HTTP_RULE_EXTENSION 72295728u /* google.api.http on MethodOptions */
/* proto/aurigraph/api/options.proto */
#define JSON_PROFILE_EXTENSION 51101u   /* string, on FileOptions */
#define SUCCESS_STATUS_EXTENSION 51102u /* int32, on MethodOptions */

typedef Google__Protobuf__FileDescriptorProto file_proto_t;
typedef Google__Protobuf__DescriptorProto message_proto_t;
typedef Google__Protobuf__EnumDescriptorProto enum_proto_t;
typedef Google__Protobuf__FieldDescriptorProto field_proto_t;

typedef struct named {
    const char *name;
    void *ptr;
} named_t;

typedef struct name_table {
    named_t *slots;
    uint32_t mask;
} name_table_t;

struct schema {
    arena_t arena;
    name_table_t messages;
    name_table_t enums;
    schema_service_t *services;
    size_t nservices;
};

typedef struct loader {
    schema_t *s;
    char *err;
    size_t errlen;
    /* pending message protos, in the order pass one met them */
    const message_proto_t **mprotos;
    schema_message_t **msgs;
    const file_proto_t **mfiles;
    size_t nmsgs, capmsgs;
} loader_t;

static int fail(loader_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(loader_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, l->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint32_t table_size_for(size_t n)
{
    uint32_t size = 8;
    while (size < n * 2 + 1)
        size *= 2;
    return size;
}

static int name_table_init(arena_t *a, name_table_t *t, size_t n)
{
    uint32_t size = table_size_for(n);
    t->slots = arena_alloc(a, size * sizeof(named_t));
    if (t->slots == NULL)
        return -1;
    memset(t->slots, 0, size * sizeof(named_t));
    t->mask = size - 1;
    return 0;
}

static void *name_table_get(const name_table_t *t, const char *name, size_t len)
{
    if (t->slots == NULL)
        return NULL;
    for (uint32_t i = schema_hash(name, len) & t->mask;; i = (i + 1) & t->mask) {
        const named_t *n = &t->slots[i];
        if (n->name == NULL)
            return NULL;
        if (strncmp(n->name, name, len) == 0 && n->name[len] == '\0')
            return n->ptr;
    }
}

static int name_table_put(name_table_t *t, const char *name, void *ptr)
{
    size_t len = strlen(name);
    for (uint32_t i = schema_hash(name, len) & t->mask;; i = (i + 1) & t->mask) {
        named_t *n = &t->slots[i];
        if (n->name == NULL) {
            n->name = name;
            n->ptr = ptr;
            return 0;
        }
        if (strcmp(n->name, name) == 0)
            return -1;
    }
}

static char *join_name(arena_t *a, const char *scope, const char *name)
{
    size_t sl = scope ? strlen(scope) : 0, nl = strlen(name);
    char *p = arena_alloc_aligned(a, sl + nl + 2, 1);
    if (p == NULL)
        return NULL;
    if (sl) {
        memcpy(p, scope, sl);
        p[sl++] = '.';
    }
    memcpy(p + sl, name, nl + 1);
    return p;
}

/* protoc's own rule: drop '_' and upper-case the letter after it. */
static char *lower_camel(arena_t *a, const char *name)
{
    char *out = arena_alloc_aligned(a, strlen(name) + 1, 1), *o = out;
    if (out == NULL)
        return NULL;
    int upper = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '_') {
            upper = 1;
        } else if (upper) {
            *o++ = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
            upper = 0;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static const struct {
    const char *name;
    schema_wkt_t wkt;
} wkt_names[] = {
    {"google.protobuf.Any", WKT_ANY},
    {"google.protobuf.Timestamp", WKT_TIMESTAMP},
    {"google.protobuf.Duration", WKT_DURATION},
    {"google.protobuf.FieldMask", WKT_FIELD_MASK},
    {"google.protobuf.Empty", WKT_EMPTY},
    {"google.protobuf.Struct", WKT_STRUCT},
    {"google.protobuf.Value", WKT_VALUE},
    {"google.protobuf.ListValue", WKT_LIST_VALUE},
    {"google.protobuf.DoubleValue", WKT_DOUBLE_VALUE},
    {"google.protobuf.FloatValue", WKT_FLOAT_VALUE},
    {"google.protobuf.Int64Value", WKT_INT64_VALUE},
    {"google.protobuf.UInt64Value", WKT_UINT64_VALUE},
    {"google.protobuf.Int32Value", WKT_INT32_VALUE},
    {"google.protobuf.UInt32Value", WKT_UINT32_VALUE},
    {"google.protobuf.BoolValue", WKT_BOOL_VALUE},
    {"google.protobuf.StringValue", WKT_STRING_VALUE},
    {"google.protobuf.BytesValue", WKT_BYTES_VALUE},
};

static schema_wkt_t wkt_of(const char *full_name)
{
    if (strcmp(full_name, "google.type.Decimal") == 0)
        return WKT_DECIMAL;
    if (strncmp(full_name, "google.protobuf.", 16) != 0)
        return WKT_NONE;
    for (size_t i = 0; i < sizeof(wkt_names) / sizeof(wkt_names[0]); i++)
        if (strcmp(full_name, wkt_names[i].name) == 0)
            return wkt_names[i].wkt;
    return WKT_NONE;
}

/* Pass one: a schema_message_t per message (nested included) and every enum. */
static int declare_enum(loader_t *l, const char *scope, const enum_proto_t *ep)
{
    arena_t *a = &l->s->arena;
    schema_enum_t *e = arena_alloc(a, sizeof(*e));
    if (e == NULL)
        return fail(l, "out of memory");
    memset(e, 0, sizeof(*e));
    e->full_name = join_name(a, scope, ep->name);
    e->is_null_value = strcmp(e->full_name, "google.protobuf.NullValue") == 0;
    e->nvalues = (uint32_t)ep->n_value;
    if (ep->n_value == 0 || ep->n_value > 65000)
        return fail(l, "enum %s: %zu values", e->full_name, ep->n_value);
    schema_enum_value_t *vals = arena_alloc(a, ep->n_value * sizeof(*vals));
    uint32_t size = table_size_for(ep->n_value);
    uint16_t *slots = arena_alloc(a, size * sizeof(uint16_t));
    uint16_t *by_number = arena_alloc(a, ep->n_value * sizeof(uint16_t));
    if (!vals || !slots || !by_number)
        return fail(l, "out of memory");
    memset(slots, 0, size * sizeof(uint16_t));
    for (size_t i = 0; i < ep->n_value; i++) {
        vals[i].name = arena_strndup(a, ep->value[i]->name, strlen(ep->value[i]->name));
        vals[i].number = ep->value[i]->number;
        size_t nl = strlen(vals[i].name);
        uint32_t h = schema_hash(vals[i].name, nl) & (size - 1);
        while (slots[h])
            h = (h + 1) & (size - 1);
        slots[h] = (uint16_t)(i + 1);
        /* insertion sort by number, stable so the first alias wins */
        size_t j = i;
        while (j > 0 && vals[by_number[j - 1]].number > vals[i].number) {
            by_number[j] = by_number[j - 1];
            j--;
        }
        by_number[j] = (uint16_t)i;
    }
    e->values = vals;
    e->name_slots = slots;
    e->name_mask = size - 1;
    e->by_number = by_number;
    if (name_table_put(&l->s->enums, e->full_name, e) != 0)
        return fail(l, "enum %s defined twice", e->full_name);
    return 0;
}

static int declare_message(loader_t *l, const file_proto_t *fp, const char *scope, const message_proto_t *mp)
{
    arena_t *a = &l->s->arena;
    schema_message_t *m = arena_alloc(a, sizeof(*m));
    if (m == NULL)
        return fail(l, "out of memory");
    memset(m, 0, sizeof(*m));
    m->full_name = join_name(a, scope, mp->name);
    m->wkt = wkt_of(m->full_name);
    m->map_entry = mp->options && mp->options->has_map_entry && mp->options->map_entry;
    if (name_table_put(&l->s->messages, m->full_name, m) != 0)
        return fail(l, "message %s defined twice", m->full_name);
    if (l->nmsgs == l->capmsgs) {
        size_t cap = l->capmsgs ? l->capmsgs * 2 : 64;
        const message_proto_t **mp2 = realloc(l->mprotos, cap * sizeof(*mp2));
        if (mp2)
            l->mprotos = mp2;
        schema_message_t **m2 = realloc(l->msgs, cap * sizeof(*m2));
        if (m2)
            l->msgs = m2;
        const file_proto_t **f2 = realloc(l->mfiles, cap * sizeof(*f2));
        if (f2)
            l->mfiles = f2;
        if (!mp2 || !m2 || !f2)
            return fail(l, "out of memory");
        l->capmsgs = cap;
    }
    l->mprotos[l->nmsgs] = mp;
    l->msgs[l->nmsgs] = m;
    l->mfiles[l->nmsgs] = fp;
    l->nmsgs++;
    for (size_t i = 0; i < mp->n_nested_type; i++)
        if (declare_message(l, fp, m->full_name, mp->nested_type[i]) != 0)
            return -1;
    for (size_t i = 0; i < mp->n_enum_type; i++)
        if (declare_enum(l, m->full_name, mp->enum_type[i]) != 0)
            return -1;
    return 0;
}

static size_t count_messages(const message_proto_t *mp, size_t *nenums)
{
    size_t n = 1;
    *nenums += mp->n_enum_type;
    for (size_t i = 0; i < mp->n_nested_type; i++)
        n += count_messages(mp->nested_type[i], nenums);
    return n;
}

static uint8_t wire_type_of(int type)
{
    switch (type) {
    case SCHEMA_DOUBLE: case SCHEMA_FIXED64: case SCHEMA_SFIXED64: return WIRE_I64;
    case SCHEMA_FLOAT: case SCHEMA_FIXED32: case SCHEMA_SFIXED32: return WIRE_I32;
    case SCHEMA_STRING: case SCHEMA_BYTES: case SCHEMA_MESSAGE: return WIRE_LEN;
    case SCHEMA_GROUP: return WIRE_SGROUP;
    default: return WIRE_VARINT;
    }
}

static uint8_t encode_key(uint8_t *out, uint32_t number, uint32_t wire)
{
    uint32_t v = (number << 3) | wire;
    uint8_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static const char *resolve_type_name(const char *type_name)
{
    /* protoc writes fully qualified names with a leading dot */
    return type_name[0] == '.' ? type_name + 1 : type_name;
}

/* `"name":`, escaped as JSON wants, in the schema's arena. */
static const char *quoted_key(arena_t *a, const char *name, uint16_t *len)
{
    buf_t b;
    buf_init(&b, a, strlen(name) + 4);
    status_json_quote(&b, name, strlen(name));
    buf_putc(&b, ':');
    *len = (uint16_t)b.len;
    return b.oom || b.len > 65535 ? NULL : b.data;
}

/* Pass two: fields and lookup tables of one message. */
static int define_message(loader_t *l, const file_proto_t *fp, const message_proto_t *mp, schema_message_t *m)
{
    arena_t *a = &l->s->arena;
    int proto3 = fp->syntax && strcmp(fp->syntax, "proto3") == 0;
    size_t n = mp->n_field;
    if (n > 65000)
        return fail(l, "message %s: too many fields", m->full_name);
    schema_field_t *fields = arena_alloc(a, (n ? n : 1) * sizeof(*fields));
    uint16_t *by_number = arena_alloc(a, (n ? n : 1) * sizeof(uint16_t));
    uint32_t size = table_size_for(n * 2);
    uint16_t *slots = arena_alloc(a, size * sizeof(uint16_t));
    if (!fields || !by_number || !slots)
        return fail(l, "out of memory");
    memset(fields, 0, (n ? n : 1) * sizeof(*fields));
    memset(slots, 0, size * sizeof(uint16_t));

    /* Synthetic oneofs (proto3 optional) are not oneofs to JSON. */
    int16_t *oneof_map = NULL;
    uint32_t noneofs = 0;
    if (mp->n_oneof_decl) {
        oneof_map = arena_alloc(a, mp->n_oneof_decl * sizeof(int16_t));
        const char **names = arena_alloc(a, mp->n_oneof_decl * sizeof(char *));
        if (!oneof_map || !names)
            return fail(l, "out of memory");
        for (size_t i = 0; i < mp->n_oneof_decl; i++)
            oneof_map[i] = -1;
        for (size_t i = 0; i < n; i++) {
            const field_proto_t *f = mp->field[i];
            if (f->has_oneof_index && !(f->has_proto3_optional && f->proto3_optional) &&
                f->oneof_index >= 0 && (size_t)f->oneof_index < mp->n_oneof_decl &&
                oneof_map[f->oneof_index] < 0) {
                oneof_map[f->oneof_index] = (int16_t)noneofs;
                names[noneofs++] = mp->oneof_decl[f->oneof_index]->name;
            }
        }
        m->oneof_names = names;
    }
    m->noneofs = noneofs;

    uint32_t max_number = 0;
    for (size_t i = 0; i < n; i++) {
        const field_proto_t *f = mp->field[i];
        schema_field_t *sf = &fields[i];
        int type = (int)f->type;
        sf->name = f->name;
        sf->json_name = (f->json_name && f->json_name[0]) ? f->json_name : lower_camel(a, f->name);
        sf->json_key = quoted_key(a, sf->json_name, &sf->json_key_len);
        sf->proto_key = quoted_key(a, sf->name, &sf->proto_key_len);
        sf->name_len = (uint16_t)strlen(sf->name);
        sf->json_name_len = (uint16_t)strlen(sf->json_name);
        if (!sf->json_key || !sf->proto_key || strlen(sf->name) > 60000 || strlen(sf->json_name) > 60000)
            return fail(l, "%s.%s: field name too long", m->full_name, f->name);
        sf->number = (uint32_t)f->number;
        sf->index = (uint16_t)i;
        sf->type = (uint8_t)type;
        if (f->number <= 0 || f->number > 536870911)
            return fail(l, "%s.%s: bad field number %d", m->full_name, f->name, f->number);
        if (type < SCHEMA_DOUBLE || type > SCHEMA_SINT64)
            return fail(l, "%s.%s: unknown type %d", m->full_name, f->name, (int)f->type);
        sf->wire_type = wire_type_of(type);
        sf->repeated = f->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
        sf->oneof_index = (f->has_oneof_index && oneof_map && f->oneof_index >= 0 &&
                           (size_t)f->oneof_index < mp->n_oneof_decl)
                              ? oneof_map[f->oneof_index]
                              : -1;
        sf->has_presence = !sf->repeated && (type == SCHEMA_MESSAGE || type == SCHEMA_GROUP ||
                                             f->has_oneof_index || !proto3);
        int scalar = sf->wire_type != WIRE_LEN && sf->wire_type != WIRE_SGROUP;
        if (sf->repeated && scalar) {
            if (f->options && f->options->has_packed)
                sf->packed = f->options->packed;
            else
                sf->packed = proto3;
        }
        if (type == SCHEMA_MESSAGE || type == SCHEMA_GROUP) {
            if (!f->type_name)
                return fail(l, "%s.%s: message field without a type", m->full_name, f->name);
            const char *tn = resolve_type_name(f->type_name);
            sf->message = name_table_get(&l->s->messages, tn, strlen(tn));
            if (sf->message == NULL)
                return fail(l, "%s.%s: unknown message type %s", m->full_name, f->name, f->type_name);
            sf->is_map = sf->repeated && sf->message->map_entry;
        } else if (type == SCHEMA_ENUM) {
            if (!f->type_name)
                return fail(l, "%s.%s: enum field without a type", m->full_name, f->name);
            const char *tn = resolve_type_name(f->type_name);
            sf->enumeration = name_table_get(&l->s->enums, tn, strlen(tn));
            if (sf->enumeration == NULL)
                return fail(l, "%s.%s: unknown enum type %s", m->full_name, f->name, f->type_name);
        }
        sf->tag_len = encode_key(sf->tag, sf->number, sf->wire_type);
        encode_key(sf->packed_tag, sf->number, WIRE_LEN);
        if (sf->number > max_number)
            max_number = sf->number;

        /* both names go in one table; a clash between two fields is a schema error */
        const char *names[2] = {sf->json_name, sf->name};
        for (int k = 0; k < 2; k++) {
            if (k == 1 && strcmp(names[0], names[1]) == 0)
                break;
            size_t nl = strlen(names[k]);
            uint32_t h = schema_hash(names[k], nl) & (size - 1);
            for (; slots[h]; h = (h + 1) & (size - 1)) {
                const schema_field_t *o = &fields[slots[h] - 1];
                if (o != sf && (strcmp(o->json_name, names[k]) == 0 || strcmp(o->name, names[k]) == 0))
                    return fail(l, "%s: JSON name \"%s\" used by two fields", m->full_name, names[k]);
            }
            slots[h] = (uint16_t)(i + 1);
        }
        size_t j = i;
        while (j > 0 && fields[by_number[j - 1]].number > sf->number) {
            by_number[j] = by_number[j - 1];
            j--;
        }
        by_number[j] = (uint16_t)i;
        if (j > 0 && fields[by_number[j - 1]].number == sf->number)
            return fail(l, "%s: field number %u used twice", m->full_name, sf->number);
    }
    /* Dense numbering (the usual case) gets a direct index. */
    if (max_number < 256 || max_number < 4 * n) {
        uint16_t *direct = arena_alloc(a, (max_number + 1) * sizeof(uint16_t));
        if (direct == NULL)
            return fail(l, "out of memory");
        memset(direct, 0, (max_number + 1) * sizeof(uint16_t));
        for (size_t i = 0; i < n; i++)
            direct[fields[i].number] = (uint16_t)(i + 1);
        m->number_slots = direct;
        m->number_direct = max_number + 1;
    }
    m->fields = fields;
    m->nfields = (uint32_t)n;
    m->name_slots = slots;
    m->name_mask = size - 1;
    m->by_number = by_number;
    return 0;
}

static int decode_http_rule(loader_t *l, const schema_method_t *mt, const Google__Api__HttpRule *r,
                            schema_http_rule_t *out)
{
    arena_t *a = &l->s->arena;
    const char *method = NULL, *path = NULL;
    switch (r->pattern_case) {
    case GOOGLE__API__HTTP_RULE__PATTERN_GET: method = "GET"; path = r->get; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_PUT: method = "PUT"; path = r->put; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_POST: method = "POST"; path = r->post; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_DELETE: method = "DELETE"; path = r->delete_; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_PATCH: method = "PATCH"; path = r->patch; break;
    case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
        if (r->custom) {
            method = r->custom->kind;
            path = r->custom->path;
        }
        break;
    default: break;
    }
    if (method == NULL || path == NULL || method[0] == '\0' || path[0] == '\0')
        return fail(l, "%s: google.api.http rule without a method and path", mt->full_name);
    out->method = arena_strndup(a, method, strlen(method));
    out->path = arena_strndup(a, path, strlen(path));
    out->body = (r->body && r->body[0]) ? arena_strndup(a, r->body, strlen(r->body)) : NULL;
    out->response_body =
        (r->response_body && r->response_body[0]) ? arena_strndup(a, r->response_body, strlen(r->response_body)) : NULL;
    if (!out->method || !out->path)
        return fail(l, "out of memory");
    return 0;
}

/* protobuf-c keeps an unknown field's bytes as they were on the wire: a
 * varint's bytes, or a length prefix and then the payload. */
static int unknown_varint(const ProtobufCMessageUnknownField *u, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < u->len && i < 10; i++) {
        *v |= (uint64_t)(u->data[i] & 0x7f) << (7 * i);
        if (!(u->data[i] & 0x80))
            return 0;
    }
    return -1;
}

/* The file's (aurigraph.api.json_profile), or NULL. */
static const char *file_json_profile(loader_t *l, const file_proto_t *fp)
{
    if (fp->options == NULL)
        return NULL;
    const ProtobufCMessage *opts = &fp->options->base;
    const char *found = NULL;
    for (unsigned i = 0; i < opts->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &opts->unknown_fields[i];
        if (u->tag != JSON_PROFILE_EXTENSION || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            continue;
        uint64_t n = 0;
        size_t skip = 0;
        while (skip < u->len && (u->data[skip] & 0x80))
            skip++;
        skip++;
        if (unknown_varint(u, &n) != 0 || skip > u->len || n != u->len - skip)
            return NULL;
        found = arena_strndup(&l->s->arena, (const char *)u->data + skip, (size_t)n);
    }
    return found;
}

static int define_method(loader_t *l, const char *service, const Google__Protobuf__MethodDescriptorProto *mp,
                         schema_method_t *mt)
{
    arena_t *a = &l->s->arena;
    mt->name = arena_strndup(a, mp->name, strlen(mp->name));
    mt->full_name = join_name(a, service, mp->name);
    size_t gl = strlen(service) + strlen(mp->name) + 3;
    char *gp = arena_alloc_aligned(a, gl, 1);
    if (!mt->name || !mt->full_name || !gp)
        return fail(l, "out of memory");
    snprintf(gp, gl, "/%s/%s", service, mp->name);
    mt->grpc_path = gp;
    const char *in = resolve_type_name(mp->input_type), *outn = resolve_type_name(mp->output_type);
    mt->input = name_table_get(&l->s->messages, in, strlen(in));
    mt->output = name_table_get(&l->s->messages, outn, strlen(outn));
    if (!mt->input || !mt->output)
        return fail(l, "%s: unknown input or output type", mt->full_name);
    mt->client_streaming = mp->has_client_streaming && mp->client_streaming;
    mt->server_streaming = mp->has_server_streaming && mp->server_streaming;
    if (mp->options == NULL)
        return 0;
    /* protobuf-c keeps extensions as unknown fields: HttpRule is one of them. */
    const ProtobufCMessage *opts = &mp->options->base;
    for (unsigned i = 0; i < opts->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &opts->unknown_fields[i];
        if (u->tag == SUCCESS_STATUS_EXTENSION && u->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT) {
            uint64_t v = 0;
            if (unknown_varint(u, &v) != 0 || v < 200 || v > 299)
                return fail(l, "%s: (aurigraph.api.success_status) must be 200..299", mt->full_name);
            mt->success_status = (int)v;
            continue;
        }
        if (u->tag != HTTP_RULE_EXTENSION || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            continue;
        /* protobuf-c keeps the length prefix in the unknown field's data */
        size_t skip = 0;
        while (skip < u->len && (u->data[skip] & 0x80))
            skip++;
        skip++;
        Google__Api__HttpRule *rule =
            skip <= u->len ? google__api__http_rule__unpack(NULL, u->len - skip, u->data + skip) : NULL;
        if (rule == NULL)
            return fail(l, "%s: malformed google.api.http option", mt->full_name);
        size_t nr = 1 + rule->n_additional_bindings;
        schema_http_rule_t *rules = arena_alloc(a, nr * sizeof(*rules));
        int rc = rules ? decode_http_rule(l, mt, rule, &rules[0]) : fail(l, "out of memory");
        for (size_t k = 0; rc == 0 && k < rule->n_additional_bindings; k++) {
            if (rule->additional_bindings[k]->n_additional_bindings)
                rc = fail(l, "%s: additional_bindings may not nest", mt->full_name);
            else
                rc = decode_http_rule(l, mt, rule->additional_bindings[k], &rules[k + 1]);
        }
        google__api__http_rule__free_unpacked(rule, NULL);
        if (rc != 0)
            return -1;
        mt->http_rules = rules;
        mt->nhttp_rules = (uint32_t)nr;
    }
    return 0;
}

/* ---- comments (a set built with --include_source_info) ---------------- */

/* descriptor.proto's field numbers, as SourceCodeInfo paths spell them */
enum {
    PATH_FILE_MESSAGE = 4, PATH_FILE_ENUM = 5, PATH_FILE_SERVICE = 6,
    PATH_MESSAGE_FIELD = 2, PATH_MESSAGE_NESTED = 3, PATH_MESSAGE_ENUM = 4,
    PATH_SERVICE_METHOD = 2,
};

/* protoc keeps the space after "//" and the newline of every line: " a\n b\n"
 * -> "a\nb". NULL when nothing but blanks is left. */
static const char *clean_comment(arena_t *a, const char *text)
{
    size_t n = strlen(text);
    char *out = arena_alloc_aligned(a, n + 1, 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (const char *p = text; *p;) {
        if (*p == ' ')
            p++;
        while (*p && *p != '\n')
            out[o++] = *p++;
        if (*p == '\n') {
            out[o++] = '\n';
            p++;
        }
    }
    while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' ' || out[o - 1] == '\t' || out[o - 1] == '\r'))
        o--;
    out[o] = '\0';
    return o ? out : NULL;
}

/* "scope.name" into buf; 0 when it fits. */
static int scoped(char *buf, size_t len, const char *scope, const char *name)
{
    int n = scope ? snprintf(buf, len, "%s.%s", scope, name) : snprintf(buf, len, "%s", name);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* The element a location's path names, in file fp whose services start at
 * svcs, gets text. Paths this does not know (options, extensions, enum
 * values) are left alone. */
static void attach_comment(loader_t *l, const file_proto_t *fp, schema_service_t *svcs, const int32_t *path,
                           size_t n, const char *text)
{
    const char *pkg = (fp->package && fp->package[0]) ? fp->package : NULL;
    if (n < 2 || path[1] < 0)
        return;
    size_t i = (size_t)path[1];
    char name[1024], inner[1024];
    if (path[0] == PATH_FILE_SERVICE && i < fp->n_service) {
        schema_service_t *sv = &svcs[i];
        if (n == 2)
            sv->comment = text;
        else if (n == 4 && path[2] == PATH_SERVICE_METHOD && path[3] >= 0 && (uint32_t)path[3] < sv->nmethods)
            ((schema_method_t *)sv->methods)[path[3]].comment = text;
        return;
    }
    if (path[0] == PATH_FILE_ENUM && i < fp->n_enum_type && n == 2) {
        schema_enum_t *e = NULL;
        if (scoped(name, sizeof(name), pkg, fp->enum_type[i]->name) == 0)
            e = name_table_get(&l->s->enums, name, strlen(name));
        if (e)
            e->comment = text;
        return;
    }
    if (path[0] != PATH_FILE_MESSAGE || i >= fp->n_message_type)
        return;
    const message_proto_t *mp = fp->message_type[i];
    if (scoped(name, sizeof(name), pkg, mp->name) != 0)
        return;
    size_t at = 2;
    while (at + 1 < n && path[at] == PATH_MESSAGE_NESTED) {
        if (path[at + 1] < 0 || (size_t)path[at + 1] >= mp->n_nested_type)
            return;
        mp = mp->nested_type[path[at + 1]];
        memcpy(inner, name, sizeof(inner));
        if (scoped(name, sizeof(name), inner, mp->name) != 0)
            return;
        at += 2;
    }
    schema_message_t *m = name_table_get(&l->s->messages, name, strlen(name));
    if (m == NULL)
        return;
    if (at == n) {
        m->comment = text;
    } else if (at + 2 == n && path[at + 1] >= 0) {
        size_t k = (size_t)path[at + 1];
        if (path[at] == PATH_MESSAGE_FIELD && k < m->nfields) {
            ((schema_field_t *)m->fields)[k].comment = text;
        } else if (path[at] == PATH_MESSAGE_ENUM && k < mp->n_enum_type &&
                   scoped(inner, sizeof(inner), name, mp->enum_type[k]->name) == 0) {
            schema_enum_t *e = name_table_get(&l->s->enums, inner, strlen(inner));
            if (e)
                e->comment = text;
        }
    }
}

static void attach_comments(loader_t *l, const Google__Protobuf__FileDescriptorSet *set)
{
    size_t first_service = 0;
    for (size_t f = 0; f < set->n_file; f++) {
        const file_proto_t *fp = set->file[f];
        const Google__Protobuf__SourceCodeInfo *info = fp->source_code_info;
        for (size_t k = 0; info && k < info->n_location; k++) {
            const Google__Protobuf__SourceCodeInfo__Location *loc = info->location[k];
            const char *raw = loc->leading_comments && loc->leading_comments[0] ? loc->leading_comments
                                                                                  : loc->trailing_comments;
            const char *text = raw ? clean_comment(&l->s->arena, raw) : NULL;
            if (text)
                attach_comment(l, fp, &l->s->services[first_service], loc->path, loc->n_path, text);
        }
        first_service += fp->n_service;
    }
}

static int load_set(loader_t *l, const Google__Protobuf__FileDescriptorSet *set)
{
    arena_t *a = &l->s->arena;
    size_t nmsg = 0, nenum = 0, nsvc = 0;
    for (size_t f = 0; f < set->n_file; f++) {
        const file_proto_t *fp = set->file[f];
        nenum += fp->n_enum_type;
        nsvc += fp->n_service;
        for (size_t i = 0; i < fp->n_message_type; i++)
            nmsg += count_messages(fp->message_type[i], &nenum);
    }
    if (name_table_init(a, &l->s->messages, nmsg) != 0 || name_table_init(a, &l->s->enums, nenum) != 0)
        return fail(l, "out of memory");
    for (size_t f = 0; f < set->n_file; f++) {
        const file_proto_t *fp = set->file[f];
        const char *pkg = (fp->package && fp->package[0]) ? fp->package : NULL;
        for (size_t i = 0; i < fp->n_message_type; i++)
            if (declare_message(l, fp, pkg, fp->message_type[i]) != 0)
                return -1;
        for (size_t i = 0; i < fp->n_enum_type; i++)
            if (declare_enum(l, pkg, fp->enum_type[i]) != 0)
                return -1;
    }
    for (size_t i = 0; i < l->nmsgs; i++)
        if (define_message(l, l->mfiles[i], l->mprotos[i], l->msgs[i]) != 0)
            return -1;

    schema_service_t *svcs = arena_alloc(a, (nsvc ? nsvc : 1) * sizeof(*svcs));
    if (svcs == NULL)
        return fail(l, "out of memory");
    size_t k = 0;
    for (size_t f = 0; f < set->n_file; f++) {
        const file_proto_t *fp = set->file[f];
        const char *pkg = (fp->package && fp->package[0]) ? fp->package : NULL;
        for (size_t i = 0; i < fp->n_service; i++, k++) {
            const Google__Protobuf__ServiceDescriptorProto *sp = fp->service[i];
            schema_service_t *sv = &svcs[k];
            sv->full_name = join_name(a, pkg, sp->name);
            schema_method_t *methods = arena_alloc(a, (sp->n_method ? sp->n_method : 1) * sizeof(*methods));
            if (!sv->full_name || !methods)
                return fail(l, "out of memory");
            memset(methods, 0, (sp->n_method ? sp->n_method : 1) * sizeof(*methods));
            const char *profile = file_json_profile(l, fp);
            for (size_t m = 0; m < sp->n_method; m++) {
                if (define_method(l, sv->full_name, sp->method[m], &methods[m]) != 0)
                    return -1;
                methods[m].json_profile = profile;
            }
            sv->methods = methods;
            sv->nmethods = (uint32_t)sp->n_method;
        }
    }
    l->s->services = svcs;
    l->s->nservices = nsvc;
    attach_comments(l, set);
    return 0;
}

/* The decoded set's strings are referenced by the tables, so copy them into
 * the arena through protobuf-c's allocator hook: one lifetime for all. */
static void *pbc_arena_alloc(void *data, size_t size) { return arena_alloc((arena_t *)data, size); }
static void pbc_arena_free(void *data, void *ptr) { (void)data; (void)ptr; }

schema_t *schema_load(const void *data, size_t len, char *err, size_t errlen)
{
    schema_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    arena_init(&s->arena);
    ProtobufCAllocator alloc = {pbc_arena_alloc, pbc_arena_free, &s->arena};
    Google__Protobuf__FileDescriptorSet *set = google__protobuf__file_descriptor_set__unpack(&alloc, len, data);
    if (set == NULL) {
        snprintf(err, errlen, "not a serialized FileDescriptorSet (%zu bytes)", len);
        schema_free(s);
        return NULL;
    }
    loader_t l = {.s = s, .err = err, .errlen = errlen};
    int rc = load_set(&l, set);
    free(l.mprotos);
    free(l.msgs);
    free(l.mfiles);
    if (rc != 0) {
        schema_free(s);
        return NULL;
    }
    return s;
}

schema_t *schema_load_file(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *data = file_read_path(path, &len, err, errlen);
    if (data == NULL)
        return NULL;
    char inner[200];
    schema_t *s = schema_load(data, len, inner, sizeof(inner));
    free(data);
    if (s == NULL)
        snprintf(err, errlen, "%s: %s", path, inner);
    return s;
}

void schema_free(schema_t *s)
{
    if (s == NULL)
        return;
    arena_free(&s->arena);
    free(s);
}

const schema_message_t *schema_find_message(const schema_t *s, const char *full_name, size_t len)
{
    return name_table_get(&s->messages, full_name, len);
}

const schema_enum_t *schema_find_enum(const schema_t *s, const char *full_name, size_t len)
{
    return name_table_get(&s->enums, full_name, len);
}

size_t schema_service_count(const schema_t *s) { return s->nservices; }
const schema_service_t *schema_service_at(const schema_t *s, size_t i)
{
    return i < s->nservices ? &s->services[i] : NULL;
}

const schema_method_t *schema_find_method(const schema_t *s, const char *full_name)
{
    for (size_t i = 0; i < s->nservices; i++)
        for (uint32_t m = 0; m < s->services[i].nmethods; m++)
            if (strcmp(s->services[i].methods[m].full_name, full_name) == 0)
                return &s->services[i].methods[m];
    return NULL;
}

const schema_field_t *schema_field_by_name(const schema_message_t *m, const char *name, size_t len)
{
    for (uint32_t h = schema_hash(name, len) & m->name_mask;; h = (h + 1) & m->name_mask) {
        uint16_t slot = m->name_slots[h];
        if (slot == 0)
            return NULL;
        const schema_field_t *f = &m->fields[slot - 1];
        if ((f->json_name_len == len && memcmp(f->json_name, name, len) == 0) ||
            (f->name_len == len && memcmp(f->name, name, len) == 0))
            return f;
    }
}

const schema_field_t *schema_field_by_number(const schema_message_t *m, uint32_t number)
{
    if (number < m->number_direct) {
        uint16_t slot = m->number_slots[number];
        return slot ? &m->fields[slot - 1] : NULL;
    }
    if (m->number_slots)
        return NULL; /* the direct table covers every declared number */
    uint32_t lo = 0, hi = m->nfields;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        const schema_field_t *f = &m->fields[m->by_number[mid]];
        if (f->number == number)
            return f;
        if (f->number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const schema_enum_value_t *schema_enum_by_name(const schema_enum_t *e, const char *name, size_t len)
{
    for (uint32_t h = schema_hash(name, len) & e->name_mask;; h = (h + 1) & e->name_mask) {
        uint16_t slot = e->name_slots[h];
        if (slot == 0)
            return NULL;
        const schema_enum_value_t *v = &e->values[slot - 1];
        if (strncmp(v->name, name, len) == 0 && v->name[len] == '\0')
            return v;
    }
}

const schema_enum_value_t *schema_enum_by_number(const schema_enum_t *e, int32_t number)
{
    uint32_t lo = 0, hi = e->nvalues;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        const schema_enum_value_t *v = &e->values[e->by_number[mid]];
        if (v->number == number) {
            /* first declared alias */
            while (mid > 0 && e->values[e->by_number[mid - 1]].number == number)
                mid--;
            return &e->values[e->by_number[mid]];
        }
        if (v->number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
