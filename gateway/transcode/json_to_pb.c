/*
 * json_to_pb.c: yajl's callbacks drive a stack of frames, one per open JSON
 * container, and every JSON value is encoded the moment it is seen.
 *
 * What a value means is decided by a "slot": the field it belongs to and
 * whether it is that field's singular value, one element of it (repeated,
 * map value: always written, null refused), a packed element (no tag), or
 * the body of a message with no tag at all (the root, a google.protobuf.Any
 * payload of a well-known type). Well-known types map onto their ordinary
 * fields: a Struct is its `fields` map, a ListValue its `values` array, a
 * Value picks its member from the JSON token it meets.
 *
 * Lengths of nested messages are patched when their frame ends (see
 * open_len/close_len), which is what lets the encoder write each value once.
 */
#include "transcode/json_to_pb.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "transcode/scalar.h"
#include "transcode/wire.h"
#include "transcode/yajl_arena.h"

typedef enum frame_kind {
    FRAME_ROOT,
    FRAME_MESSAGE,   /* a JSON object of message fields */
    FRAME_ARRAY,     /* elements of a repeated field */
    FRAME_MAP,       /* entries of a map field */
    FRAME_ANY_WKT,   /* {"@type": ..., "value": <special JSON>} */
    FRAME_SKIP,      /* an ignored unknown field's value */
} frame_kind_t;

typedef struct frame {
    uint8_t kind;
    uint8_t packed;
    uint8_t any_payload;     /* MESSAGE inside an Any: "@type" is not a field */
    uint8_t closes;          /* open lengths to close when the frame ends */
    const schema_message_t *msg;   /* MESSAGE; ANY_WKT: the payload type */
    const schema_field_t *field;   /* ARRAY/MAP: the repeated field; MESSAGE: field being read */
    uint64_t *seen;          /* MESSAGE: one bit per field, for duplicate keys */
    uint16_t *oneof_set;     /* MESSAGE: field index + 1 per oneof */
    size_t count;            /* ARRAY/MAP elements; SKIP nesting */
    size_t rewind;           /* packed ARRAY: where its tag starts */
    int expect;              /* MESSAGE/MAP/ANY_WKT: 1 after a key, until its value */
    struct key_set *keys;    /* MAP: encoded keys seen, for duplicates */
    int skip_value;          /* MESSAGE/ANY_WKT: next value is ignored ("@type", unknown key) */
} frame_t;

typedef enum slot_mode {
    SLOT_SINGULAR, /* a field's value as written under its key */
    SLOT_ELEMENT,  /* one element of a repeated field, or a map value */
    SLOT_PACKED,   /* one element of a packed repeated field */
    SLOT_BODY,     /* a message body without tag */
} slot_mode_t;

typedef struct slot {
    slot_mode_t mode;
    const schema_field_t *field; /* not BODY */
    const schema_message_t *msg; /* BODY */
} slot_t;

typedef enum event {
    EV_NULL, EV_BOOL, EV_NUMBER, EV_STRING, EV_START_MAP, EV_START_ARRAY,
} event_t;

typedef struct token {
    event_t ev;
    const char *text; /* NUMBER, STRING */
    size_t len;
    int boolean;
} token_t;

typedef struct encoder {
    const schema_t *schema;
    const transcode_options_t *opt;
    buf_t *out;
    arena_t *arena;
    status_t *st;
    const char *json;       /* the whole input, for Any's "@type" look-ahead */
    size_t json_len;
    yajl_handle yajl;
    frame_t *frames;
    uint32_t depth;         /* frames in use */
    uint32_t max_frames, frames_cap;
    size_t *opens;          /* out offsets where open length bytes sit */
    uint32_t nopens, max_opens, opens_cap;
    const schema_field_t *root_field;
    const schema_message_t *root_msg;
    int failed;
    int skipped;            /* the last value was dropped (unknown enum name, ignored) */
    transcode_report_t *report; /* NULL: nobody counts */
} encoder_t;

/* Encoded map keys of one JSON object: comparing wire bytes makes "1" and
 * "1e0" the same int key, as they are. */
typedef struct key_set {
    uint32_t mask, n;
    struct key_slot {
        const char *bytes;
        uint32_t len, hash;
    } *slots;
} key_set_t;

/* ---- errors ---------------------------------------------------------- */

/* Renders where we are as a field path: `transactions[2].amount`. Only
 * ever run on the error path. */
static void describe_path(encoder_t *e, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = '\0';
    for (uint32_t i = 0; i < e->depth && n < cap; i++) {
        const frame_t *f = &e->frames[i];
        int w = 0;
        if (f->kind == FRAME_MESSAGE && f->field && f->expect)
            w = snprintf(dst + n, cap - n, "%s%s", n ? "." : "", f->field->json_name);
        else if (f->kind == FRAME_MESSAGE && f->field && i + 1 < e->depth)
            w = snprintf(dst + n, cap - n, "%s%s", n ? "." : "", f->field->json_name);
        else if (f->kind == FRAME_ARRAY)
            w = snprintf(dst + n, cap - n, "[%zu]", f->count);
        else if (f->kind == FRAME_MAP && f->expect)
            w = snprintf(dst + n, cap - n, "[...]");
        else if (f->kind == FRAME_ROOT && e->root_field)
            w = snprintf(dst + n, cap - n, "%s", e->root_field->json_name);
        if (w > 0)
            n += (size_t)w;
    }
    if (n >= cap)
        dst[cap - 1] = '\0';
}

static int fail(encoder_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(encoder_t *e, int code, const char *fmt, ...)
{
    if (e->failed)
        return 0;
    e->failed = 1;
    char what[160], where[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    describe_path(e, where, sizeof(where));
    if (where[0])
        status_set(e->st, code, "field \"%s\": %s", where, what);
    else
        status_set(e->st, code, "%s", what);
    return 0; /* yajl: stop parsing */
}

#define FAIL(e, ...) fail((e), GRPC_INVALID_ARGUMENT, __VA_ARGS__)

static const char *token_name(const token_t *t)
{
    switch (t->ev) {
    case EV_NULL: return "null";
    case EV_BOOL: return "a boolean";
    case EV_NUMBER: return "a number";
    case EV_STRING: return "a string";
    case EV_START_MAP: return "an object";
    case EV_START_ARRAY: return "an array";
    }
    return "a value";
}

/* ---- lengths --------------------------------------------------------- */

static int open_len(encoder_t *e)
{
    if (e->nopens == e->opens_cap) {
        if (e->nopens == e->max_opens)
            return fail(e, GRPC_INVALID_ARGUMENT, "nesting deeper than %u", (unsigned)e->opt->max_depth);
        uint32_t cap = e->opens_cap * 2 < e->max_opens ? e->opens_cap * 2 : e->max_opens;
        size_t *grown = arena_realloc(e->arena, e->opens, e->opens_cap * sizeof(size_t), cap * sizeof(size_t));
        if (grown == NULL)
            return fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        e->opens = grown;
        e->opens_cap = cap;
    }
    buf_putc(e->out, 0);
    e->opens[e->nopens++] = e->out->len;
    return 1;
}

static void close_len(encoder_t *e)
{
    buf_t *b = e->out;
    size_t start = e->opens[--e->nopens];
    if (b->oom)
        return;
    size_t len = b->len - start;
    if (len < 0x80) {
        b->data[start - 1] = (char)len;
        return;
    }
    unsigned extra = wire_varint_size(len) - 1;
    if (buf_reserve(b, extra) != 0)
        return;
    memmove(b->data + start + extra, b->data + start, len);
    uint8_t *p = (uint8_t *)b->data + start - 1;
    uint64_t v = len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
    b->len += extra;
}

static void close_n(encoder_t *e, unsigned n)
{
    while (n--)
        close_len(e);
}

static inline void put_tag(encoder_t *e, const schema_field_t *f)
{
    buf_append(e->out, f->tag, f->tag_len);
}

/* ---- frames ---------------------------------------------------------- */

static frame_t *push(encoder_t *e, frame_kind_t kind)
{
    if (e->depth >= e->max_frames) {
        fail(e, GRPC_INVALID_ARGUMENT, "nesting deeper than %u", (unsigned)e->opt->max_depth);
        return NULL;
    }
    if (e->depth == e->frames_cap) {
        /* frames grow with the body's real depth, not the permitted one */
        uint32_t cap = e->frames_cap * 2 < e->max_frames ? e->frames_cap * 2 : e->max_frames;
        frame_t *grown = arena_realloc(e->arena, e->frames, e->frames_cap * sizeof(frame_t), cap * sizeof(frame_t));
        if (grown == NULL) {
            fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return NULL;
        }
        e->frames = grown;
        e->frames_cap = cap;
    }
    frame_t *f = &e->frames[e->depth++];
    memset(f, 0, sizeof(*f));
    f->kind = (uint8_t)kind;
    return f;
}

static frame_t *push_message(encoder_t *e, const schema_message_t *m, unsigned closes)
{
    frame_t *f = push(e, FRAME_MESSAGE);
    if (f == NULL)
        return NULL;
    f->msg = m;
    f->closes = (uint8_t)closes;
    size_t words = (m->nfields + 63) / 64;
    f->seen = arena_alloc(e->arena, (words + 1) * sizeof(uint64_t) + m->noneofs * sizeof(uint16_t));
    if (f->seen == NULL) {
        fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    memset(f->seen, 0, (words + 1) * sizeof(uint64_t) + m->noneofs * sizeof(uint16_t));
    f->oneof_set = m->noneofs ? (uint16_t *)(f->seen + words + 1) : NULL;
    return f;
}

static int value_done(encoder_t *e);

static int encode_value(encoder_t *e, slot_t s, const token_t *t);

/* The message body of m, no tag: objects push a frame, the scalar forms of
 * well-known types are written at once. `closes` lengths end with it. */
static int begin_body(encoder_t *e, const schema_message_t *m, const token_t *t, unsigned closes);

static const schema_field_t *field_no(encoder_t *e, const schema_message_t *m, uint32_t number)
{
    const schema_field_t *f = schema_field_by_number(m, number);
    if (f == NULL)
        fail(e, GRPC_INTERNAL, "descriptor of %s lacks field %u", m->full_name, number);
    return f;
}

/* ---- scalars ---------------------------------------------------------- */

static int parse_enum(encoder_t *e, const schema_field_t *f, const token_t *t, int32_t *out, int *skip)
{
    *skip = 0;
    if (t->ev == EV_STRING) {
        const schema_enum_value_t *v = schema_enum_by_name(f->enumeration, t->text, t->len);
        if (v == NULL) {
            /* proto3's ignoring drops an unknown enum name with the unknown
             * keys; Jackson ignores keys but refuses a name its enum lacks */
            if (e->opt->ignore_unknown_fields && !e->opt->strict_enums) {
                *skip = 1;
                return 1;
            }
            return FAIL(e, "unknown value \"%.*s\" for enum %s", (int)(t->len > 64 ? 64 : t->len), t->text,
                        f->enumeration->full_name);
        }
        *out = v->number;
        return 1;
    }
    if (t->ev == EV_NUMBER) {
        int64_t v;
        const char *why = NULL;
        if (scalar_parse_int64(t->text, t->len, INT32_MIN, INT32_MAX, &v, &why) != 0)
            return FAIL(e, "enum value %s", why ? why : "invalid");
        *out = (int32_t)v;
        return 1;
    }
    return FAIL(e, "expected an enum name or number, got %s", token_name(t));
}

/* Writes one scalar. Singular proto3 fields at their default are left out,
 * as protobuf's own serializer does. */
/* Jackson's scalar coercions (its defaults, ALLOW_COERCION_OF_SCALARS and
 * ACCEPT_FLOAT_AS_INT): a number or boolean where a string goes is its
 * text, "true"/"false" where a boolean goes is that boolean, and a number
 * with a fraction where an integer goes is its integer part (1.9 -> 1,
 * -1.9 -> -1, as Java's cast; one with an exponent is left to the integer
 * parser, which takes 1.5e1 and refuses 1.55e1). t itself when nothing
 * applies. */
static const token_t *coerce_scalar(const schema_field_t *f, const token_t *t, token_t *out)
{
    switch (f->type) {
    case SCHEMA_STRING:
        if (t->ev == EV_NUMBER) {
            *out = (token_t){.ev = EV_STRING, .text = t->text, .len = t->len};
            return out;
        }
        if (t->ev == EV_BOOL) {
            *out = (token_t){.ev = EV_STRING, .text = t->boolean ? "true" : "false", .len = t->boolean ? 4 : 5};
            return out;
        }
        return t;
    case SCHEMA_BOOL:
        if (t->ev == EV_STRING && ((t->len == 4 && memcmp(t->text, "true", 4) == 0) ||
                                   (t->len == 5 && memcmp(t->text, "false", 5) == 0))) {
            *out = (token_t){.ev = EV_BOOL, .boolean = t->len == 4};
            return out;
        }
        return t;
    case SCHEMA_INT32: case SCHEMA_INT64: case SCHEMA_UINT32: case SCHEMA_UINT64: case SCHEMA_SINT32:
    case SCHEMA_SINT64: case SCHEMA_FIXED32: case SCHEMA_FIXED64: case SCHEMA_SFIXED32: case SCHEMA_SFIXED64: {
        if (t->ev != EV_NUMBER)
            return t;
        const char *dot = memchr(t->text, '.', t->len);
        if (dot == NULL)
            return t;
        if (memchr(t->text, 'e', t->len) || memchr(t->text, 'E', t->len))
            return t;
        *out = (token_t){.ev = EV_NUMBER, .text = t->text, .len = (size_t)(dot - t->text)};
        return out;
    }
    default:
        return t;
    }
}

static int encode_scalar(encoder_t *e, const schema_field_t *f, slot_mode_t mode, const token_t *t)
{
    buf_t *o = e->out;
    int omit_default = mode == SLOT_SINGULAR && !f->has_presence;
    int tagged = mode != SLOT_PACKED;
    const char *why = NULL;

    if (t->ev == EV_NULL) {
        if (f->type == SCHEMA_ENUM && f->enumeration->is_null_value) {
            if (!omit_default) {
                if (tagged)
                    put_tag(e, f);
                buf_putc(o, 0);
            }
            return 1;
        }
        if (mode == SLOT_SINGULAR)
            return 1; /* null is the default */
        return FAIL(e, "null is not a valid element");
    }
    token_t coerced;
    if (e->opt->coerce_scalars)
        t = coerce_scalar(f, t, &coerced);

    switch (f->type) {
    case SCHEMA_STRING:
        if (t->ev != EV_STRING)
            return FAIL(e, "expected a string, got %s", token_name(t));
        if (t->len > e->opt->max_string)
            return FAIL(e, "string longer than %zu bytes", e->opt->max_string);
        if (omit_default && t->len == 0)
            return 1;
        if (tagged)
            put_tag(e, f);
        wire_put_varint(o, t->len);
        buf_append(o, t->text, t->len);
        return 1;
    case SCHEMA_BYTES: {
        if (t->ev != EV_STRING)
            return FAIL(e, "expected a base64 string, got %s", token_name(t));
        if (t->len / 4 * 3 > e->opt->max_string)
            return FAIL(e, "bytes longer than %zu", e->opt->max_string);
        uint8_t *tmp = arena_alloc_aligned(e->arena, t->len / 4 * 3 + 4, 1);
        if (tmp == NULL)
            return fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        long n = scalar_base64_decode(tmp, t->text, t->len);
        if (n < 0)
            return FAIL(e, "invalid base64");
        if (omit_default && n == 0)
            return 1;
        if (tagged)
            put_tag(e, f);
        wire_put_varint(o, (uint64_t)n);
        buf_append(o, tmp, (size_t)n);
        return 1;
    }
    case SCHEMA_BOOL:
        if (t->ev != EV_BOOL)
            return FAIL(e, "expected true or false, got %s", token_name(t));
        if (omit_default && !t->boolean)
            return 1;
        if (tagged)
            put_tag(e, f);
        buf_putc(o, t->boolean ? 1 : 0);
        return 1;
    case SCHEMA_ENUM: {
        int32_t v = 0;
        int skip;
        if (!parse_enum(e, f, t, &v, &skip))
            return 0;
        e->skipped = skip;
        if (skip || (omit_default && v == 0))
            return 1;
        if (tagged)
            put_tag(e, f);
        wire_put_varint(o, (uint64_t)(int64_t)v);
        return 1;
    }
    case SCHEMA_DOUBLE:
    case SCHEMA_FLOAT: {
        if (t->ev != EV_NUMBER && t->ev != EV_STRING)
            return FAIL(e, "expected a number, got %s", token_name(t));
        double d;
        if (scalar_parse_double(t->text, t->len, f->type == SCHEMA_FLOAT, &d, &why) != 0)
            return FAIL(e, "%s", why ? why : "invalid number");
        if (omit_default && d == 0 && !signbit(d))
            return 1;
        if (tagged)
            put_tag(e, f);
        if (f->type == SCHEMA_FLOAT) {
            float fl = (float)d;
            uint32_t bits;
            memcpy(&bits, &fl, 4);
            wire_put_fixed32(o, bits);
        } else {
            uint64_t bits;
            memcpy(&bits, &d, 8);
            wire_put_fixed64(o, bits);
        }
        return 1;
    }
    default:
        break;
    }

    /* integers */
    if (t->ev != EV_NUMBER && t->ev != EV_STRING)
        return FAIL(e, "expected an integer, got %s", token_name(t));
    int64_t sv = 0;
    uint64_t uv = 0;
    int rc;
    switch (f->type) {
    case SCHEMA_INT32: case SCHEMA_SINT32: case SCHEMA_SFIXED32:
        rc = scalar_parse_int64(t->text, t->len, INT32_MIN, INT32_MAX, &sv, &why);
        uv = (uint64_t)sv;
        break;
    case SCHEMA_INT64: case SCHEMA_SINT64: case SCHEMA_SFIXED64:
        rc = scalar_parse_int64(t->text, t->len, INT64_MIN, INT64_MAX, &sv, &why);
        uv = (uint64_t)sv;
        break;
    case SCHEMA_UINT32: case SCHEMA_FIXED32:
        rc = scalar_parse_uint64(t->text, t->len, UINT32_MAX, &uv, &why);
        break;
    default: /* UINT64, FIXED64 */
        rc = scalar_parse_uint64(t->text, t->len, UINT64_MAX, &uv, &why);
        break;
    }
    if (rc != 0)
        return FAIL(e, "%s", why ? why : "invalid integer");
    if (omit_default && uv == 0)
        return 1;
    if (tagged)
        put_tag(e, f);
    switch (f->type) {
    case SCHEMA_SINT32: wire_put_varint(o, wire_zigzag32((int32_t)sv)); break;
    case SCHEMA_SINT64: wire_put_varint(o, wire_zigzag64(sv)); break;
    case SCHEMA_SFIXED32: case SCHEMA_FIXED32: wire_put_fixed32(o, (uint32_t)uv); break;
    case SCHEMA_SFIXED64: case SCHEMA_FIXED64: wire_put_fixed64(o, uv); break;
    default: wire_put_varint(o, uv); break; /* int32 negatives: 10 bytes, as protobuf */
    }
    return 1;
}

/* ---- well-known types --------------------------------------------------- */

static int put_seconds_nanos(encoder_t *e, const schema_message_t *m, int64_t seconds, int32_t nanos)
{
    const schema_field_t *fs = field_no(e, m, 1), *fn = field_no(e, m, 2);
    if (!fs || !fn)
        return 0;
    if (seconds) {
        put_tag(e, fs);
        wire_put_varint(e->out, (uint64_t)seconds);
    }
    if (nanos) {
        put_tag(e, fn);
        wire_put_varint(e->out, (uint64_t)(int64_t)nanos);
    }
    return 1;
}

static int encode_field_mask(encoder_t *e, const schema_message_t *m, const char *s, size_t len)
{
    const schema_field_t *paths = field_no(e, m, 1);
    if (!paths)
        return 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        char *snake = arena_alloc_aligned(e->arena, (j - i) * 2 + 1, 1);
        if (snake == NULL)
            return fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        for (size_t k = i; k < j; k++)
            if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9') ||
                  s[k] == '.'))
                return FAIL(e, "\"%.*s\" is not a field mask path", (int)((j - i) > 64 ? 64 : (j - i)), s + i);
        size_t n = scalar_camel_to_snake(snake, s + i, j - i);
        /* only paths that print back the same are field paths; "a_b" or
         * "a,,b" would change meaning on the way back */
        buf_t back;
        buf_init(&back, e->arena, (j - i) + 1);
        if (j == i || scalar_snake_to_camel(&back, snake, n) != 0 || back.len != j - i ||
            memcmp(back.data, s + i, j - i) != 0)
            return FAIL(e, "\"%.*s\" is not a field mask path", (int)((j - i) > 64 ? 64 : (j - i)), s + i);
        put_tag(e, paths);
        wire_put_varint(e->out, n);
        buf_append(e->out, snake, n);
        i = j + 1;
    }
    if (len > 0 && s[len - 1] == ',')
        return FAIL(e, "a field mask may not end with ','");
    return 1;
}

/* Decodes the JSON string body s[0..n) (escapes included) into dst, which
 * has room for n bytes. -1 on a malformed or surrogate escape. */
static long json_unescape(char *dst, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            dst[o++] = s[i];
            continue;
        }
        if (++i >= n)
            return -1;
        switch (s[i]) {
        case '"': case '\\': case '/': dst[o++] = s[i]; break;
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            if (n - i < 5)
                return -1;
            for (int k = 1; k <= 4; k++) {
                char c = s[i + k];
                cp = cp << 4 | (unsigned)(c >= '0' && c <= '9' ? c - '0' : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ? (c | 0x20) - 'a' + 10 : 99);
                if (cp > 0xffff)
                    return -1;
            }
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdfff)
                return -1; /* no type name needs one */
            if (cp < 0x80) {
                dst[o++] = (char)cp;
            } else if (cp < 0x800) {
                dst[o++] = (char)(0xc0 | cp >> 6);
                dst[o++] = (char)(0x80 | (cp & 0x3f));
            } else {
                dst[o++] = (char)(0xe0 | cp >> 12);
                dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                dst[o++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            return -1;
        }
    }
    return (long)o;
}

/* Finds the top-level "@type" of the object that starts at json[pos] (just
 * past its '{'), without parsing it: an Any's payload type must be known
 * before its other members can be encoded, and they may come first.
 * Returns 1 with the raw (still escaped) value, 0 when the object has no
 * "@type", -1 when its "@type" is not a string. Malformed JSON is left for
 * the parser to report. */
static int any_type_lookahead(const char *s, size_t n, size_t pos, const char **type, size_t *type_len)
{
    int depth = 0;
    int want_key = 1;
    for (size_t i = pos; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t start = ++i;
            while (i < n && s[i] != '"')
                i += (s[i] == '\\') ? 2 : 1;
            if (i >= n)
                return 0;
            if (depth == 0 && want_key) {
                char key[16];
                long kl = (i - start) < 16 ? json_unescape(key, s + start, i - start) : -1;
                want_key = 0;
                if (kl != 5 || memcmp(key, "@type", 5) != 0)
                    continue;
                size_t k = i + 1;
                while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r' || s[k] == ':'))
                    k++;
                if (k >= n || s[k] != '"')
                    return -1;
                size_t vs = ++k;
                while (k < n && s[k] != '"')
                    k += (s[k] == '\\') ? 2 : 1;
                if (k >= n)
                    return 0;
                *type = s + vs;
                *type_len = k - vs;
                return 1;
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth-- == 0)
                return 0;
        } else if (c == ',' && depth == 0) {
            want_key = 1;
        }
    }
    return 0;
}

static int begin_any(encoder_t *e, const schema_message_t *any, unsigned closes)
{
    const char *raw = NULL;
    size_t raw_len = 0;
    size_t pos = yajl_get_bytes_consumed(e->yajl);
    int found = any_type_lookahead(e->json, e->json_len, pos, &raw, &raw_len);
    if (found <= 0) {
        /* {} is the empty Any; anything else needs its type */
        size_t k = pos;
        while (k < e->json_len && (e->json[k] == ' ' || e->json[k] == '\n' || e->json[k] == '\t' || e->json[k] == '\r'))
            k++;
        if (found == 0 && k < e->json_len && e->json[k] == '}')
            return push_message(e, any, closes) != NULL;
        return FAIL(e, found < 0 ? "\"@type\" must be a string" : "Any without \"@type\"");
    }
    char *type = arena_alloc_aligned(e->arena, raw_len + 1, 1);
    if (type == NULL)
        return fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory");
    long tl = json_unescape(type, raw, raw_len);
    if (tl < 0)
        return FAIL(e, "Any: malformed \"@type\"");
    size_t type_len = (size_t)tl;
    const char *slash = memrchr(type, '/', type_len);
    if (slash == NULL)
        return FAIL(e, "Any: \"@type\" \"%.*s\" is not a type URL (no '/')", (int)(type_len > 100 ? 100 : type_len), type);
    const char *name = slash + 1;
    size_t name_len = type_len - (size_t)(name - type);
    const schema_message_t *payload = schema_find_message(e->schema, name, name_len);
    if (payload == NULL)
        return FAIL(e, "Any: unknown type \"%.*s\"", (int)(type_len > 100 ? 100 : type_len), type);
    const schema_field_t *type_url = field_no(e, any, 1), *value = field_no(e, any, 2);
    if (!type_url || !value)
        return 0;
    put_tag(e, type_url);
    wire_put_varint(e->out, type_len);
    buf_append(e->out, type, type_len);
    size_t rewind = e->out->len;
    put_tag(e, value);
    if (!open_len(e))
        return 0;
    frame_t *f;
    /* well-known types other than Empty keep their own JSON under "value" */
    if (payload->wkt != WKT_NONE && payload->wkt != WKT_EMPTY &&
        (payload->wkt != WKT_DECIMAL || e->opt->decimal_as_number)) {
        f = push(e, FRAME_ANY_WKT);
        if (f) {
            f->msg = payload;
            f->closes = (uint8_t)(closes + 1);
        }
    } else {
        f = push_message(e, payload, closes + 1);
    }
    if (f) {
        f->any_payload = 1;
        f->rewind = rewind;
    }
    return f != NULL;
}

/* google.protobuf.Value: the member is chosen by the JSON token. */
static int begin_value(encoder_t *e, const schema_message_t *m, const token_t *t, unsigned closes)
{
    const schema_field_t *f;
    switch (t->ev) {
    case EV_NULL:
        if (!(f = field_no(e, m, 1)))
            return 0;
        put_tag(e, f);
        buf_putc(e->out, 0);
        break;
    case EV_NUMBER: {
        double d;
        const char *why = NULL;
        if (!(f = field_no(e, m, 2)))
            return 0;
        if (scalar_parse_double(t->text, t->len, 0, &d, &why) != 0)
            return FAIL(e, "%s", why ? why : "invalid number");
        uint64_t bits;
        memcpy(&bits, &d, 8);
        put_tag(e, f);
        wire_put_fixed64(e->out, bits);
        break;
    }
    case EV_STRING:
        if (!(f = field_no(e, m, 3)))
            return 0;
        return encode_scalar(e, f, SLOT_ELEMENT, t) && (close_n(e, closes), value_done(e));
    case EV_BOOL:
        if (!(f = field_no(e, m, 4)))
            return 0;
        put_tag(e, f);
        buf_putc(e->out, t->boolean ? 1 : 0);
        break;
    case EV_START_MAP:
    case EV_START_ARRAY:
        if (!(f = field_no(e, m, t->ev == EV_START_MAP ? 5 : 6)))
            return 0;
        put_tag(e, f);
        if (!open_len(e))
            return 0;
        return begin_body(e, f->message, t, closes + 1);
    }
    close_n(e, closes);
    return value_done(e);
}

/* Struct is its `fields` map, ListValue its `values` array. */
static int push_field_frame(encoder_t *e, frame_kind_t kind, const schema_field_t *field, unsigned closes)
{
    frame_t *f = field ? push(e, kind) : NULL;
    if (f == NULL)
        return 0;
    f->field = field;
    f->closes = (uint8_t)closes;
    return 1;
}

/* google.type.Decimal from a JSON number (its text kept: 12.50 stays
 * 12.50) or a numeric string, as Jackson reads a BigDecimal. */
static int encode_decimal(encoder_t *e, const schema_message_t *m, const token_t *t)
{
    const schema_field_t *v = field_no(e, m, 1);
    if (v == NULL)
        return 0;
    if (t->ev != EV_NUMBER && t->ev != EV_STRING)
        return FAIL(e, "expected a decimal number, got %s", token_name(t));
    put_tag(e, v);
    if (!open_len(e))
        return 0;
    if (scalar_decimal_to_json(e->out, t->text, t->len) != 0)
        return FAIL(e, "\"%.*s\" is not a decimal number", (int)(t->len > 64 ? 64 : t->len), t->text);
    close_len(e);
    return 1;
}

/* A Timestamp string; Java's LocalDateTime text (no offset) reads as UTC
 * where the route prints it that way. */
static int parse_timestamp(encoder_t *e, const token_t *t, int64_t *secs, int32_t *nanos, const char **why)
{
    if (scalar_parse_timestamp(t->text, t->len, secs, nanos, why) == 0)
        return 0;
    char utc[48];
    if (!e->opt->timestamp_local || t->len == 0 || t->len >= sizeof(utc) - 1 || t->text[t->len - 1] == 'Z')
        return -1;
    memcpy(utc, t->text, t->len);
    utc[t->len] = 'Z';
    return scalar_parse_timestamp(utc, t->len + 1, secs, nanos, why);
}

static int begin_body(encoder_t *e, const schema_message_t *m, const token_t *t, unsigned closes)
{
    const char *why = NULL;
    /* under proto3 a Decimal is an ordinary message */
    schema_wkt_t wkt = m->wkt == WKT_DECIMAL && !e->opt->decimal_as_number ? WKT_NONE : (schema_wkt_t)m->wkt;
    switch (wkt) {
    case WKT_DECIMAL:
        if (!encode_decimal(e, m, t))
            return 0;
        break;
    case WKT_NONE:
    case WKT_EMPTY:
        if (t->ev != EV_START_MAP)
            return FAIL(e, "expected an object, got %s", token_name(t));
        return push_message(e, m, closes) != NULL;
    case WKT_ANY:
        if (t->ev != EV_START_MAP)
            return FAIL(e, "expected an object with \"@type\", got %s", token_name(t));
        return begin_any(e, m, closes);
    case WKT_STRUCT:
        if (t->ev != EV_START_MAP)
            return FAIL(e, "expected an object, got %s", token_name(t));
        return push_field_frame(e, FRAME_MAP, field_no(e, m, 1), closes);
    case WKT_LIST_VALUE:
        if (t->ev != EV_START_ARRAY)
            return FAIL(e, "expected an array, got %s", token_name(t));
        return push_field_frame(e, FRAME_ARRAY, field_no(e, m, 1), closes);
    case WKT_VALUE:
        return begin_value(e, m, t, closes);
    case WKT_TIMESTAMP:
    case WKT_DURATION: {
        if (t->ev != EV_STRING)
            return FAIL(e, "expected a %s string, got %s", m->wkt == WKT_TIMESTAMP ? "RFC 3339" : "duration",
                        token_name(t));
        int64_t secs;
        int32_t nanos;
        int rc = m->wkt == WKT_TIMESTAMP ? parse_timestamp(e, t, &secs, &nanos, &why)
                                         : scalar_parse_duration(t->text, t->len, &secs, &nanos, &why);
        if (rc != 0)
            return FAIL(e, "%s", why ? why : "invalid value");
        if (!put_seconds_nanos(e, m, secs, nanos))
            return 0;
        break;
    }
    case WKT_FIELD_MASK:
        if (t->ev != EV_STRING)
            return FAIL(e, "expected a field mask string, got %s", token_name(t));
        if (!encode_field_mask(e, m, t->text, t->len))
            return 0;
        break;
    default: { /* wrappers: the bare value of their field 1 */
        const schema_field_t *v = field_no(e, m, 1);
        if (v == NULL)
            return 0;
        if (t->ev == EV_NULL)
            return FAIL(e, "null is not a valid %s", m->full_name);
        if (!encode_scalar(e, v, SLOT_SINGULAR, t))
            return 0;
        break;
    }
    }
    close_n(e, closes);
    return value_done(e);
}

/* ---- slots ------------------------------------------------------------- */

static int encode_value(encoder_t *e, slot_t s, const token_t *t)
{
    if (s.mode == SLOT_BODY)
        return begin_body(e, s.msg, t, 0);
    const schema_field_t *f = s.field;

    if (f->repeated && s.mode == SLOT_SINGULAR) {
        if (t->ev == EV_NULL)
            return value_done(e);
        if (f->is_map) {
            if (t->ev != EV_START_MAP)
                return FAIL(e, "expected an object, got %s", token_name(t));
            frame_t *fr = push(e, FRAME_MAP);
            if (fr)
                fr->field = f;
            return fr != NULL;
        }
        if (t->ev != EV_START_ARRAY)
            return FAIL(e, "expected an array, got %s", token_name(t));
        size_t rewind = e->out->len;
        if (f->packed) {
            buf_append(e->out, f->packed_tag, f->tag_len);
            if (!open_len(e))
                return 0;
        }
        frame_t *fr = push(e, FRAME_ARRAY);
        if (fr) {
            fr->field = f;
            fr->packed = f->packed;
            fr->closes = f->packed;
            fr->rewind = rewind;
        }
        return fr != NULL;
    }

    if (f->type == SCHEMA_MESSAGE) {
        if (t->ev == EV_NULL && f->message->wkt != WKT_VALUE) {
            if (s.mode == SLOT_SINGULAR)
                return value_done(e);
            return FAIL(e, "null is not a valid element");
        }
        put_tag(e, f);
        if (!open_len(e))
            return 0;
        return begin_body(e, f->message, t, 1);
    }
    if (f->type == SCHEMA_GROUP)
        return FAIL(e, "groups are not supported");
    if (!encode_scalar(e, f, s.mode, t))
        return 0;
    return value_done(e);
}

/* The value that the top frame expects next. 0 when it expects a key. */
static int current_slot(encoder_t *e, slot_t *s)
{
    frame_t *f = &e->frames[e->depth - 1];
    switch ((frame_kind_t)f->kind) {
    case FRAME_ROOT:
        if (f->count)
            return FAIL(e, "more than one JSON value");
        if (e->root_field)
            *s = (slot_t){.mode = SLOT_SINGULAR, .field = e->root_field};
        else
            *s = (slot_t){.mode = SLOT_BODY, .msg = e->root_msg};
        return 1;
    case FRAME_MESSAGE:
        *s = (slot_t){.mode = SLOT_SINGULAR, .field = f->field};
        return 1;
    case FRAME_ARRAY:
        *s = (slot_t){.mode = f->packed ? SLOT_PACKED : SLOT_ELEMENT, .field = f->field};
        return 1;
    case FRAME_MAP:
        *s = (slot_t){.mode = SLOT_ELEMENT, .field = schema_field_by_number(f->field->message, 2)};
        return s->field != NULL || FAIL(e, "map entry without a value field");
    case FRAME_ANY_WKT:
        *s = (slot_t){.mode = SLOT_BODY, .msg = f->msg};
        return 1;
    case FRAME_SKIP:
        break;
    }
    return FAIL(e, "unexpected value");
}

static int value_done(encoder_t *e)
{
    frame_t *f = &e->frames[e->depth - 1];
    switch ((frame_kind_t)f->kind) {
    case FRAME_MAP:
        if (e->skipped) { /* drop the whole entry, key included */
            e->nopens--;
            e->out->len = f->rewind;
            break;
        }
        close_len(e); /* the entry */
        /* fall through */
    case FRAME_ARRAY:
        if (!e->skipped && ++f->count > e->opt->max_repeated)
            return FAIL(e, "more than %zu elements", e->opt->max_repeated);
        break;
    case FRAME_ROOT:
        f->count++;
        break;
    default:
        break;
    }
    f->expect = 0;
    e->skipped = 0;
    if (e->out->oom || e->out->len > e->opt->max_output)
        return fail(e, GRPC_RESOURCE_EXHAUSTED, "message larger than the output limit");
    return 1;
}

/* Numbers in a packed array of varint integers, the bulk of large bodies,
 * skip the general slot dispatch. 0: not handled here. */
static int packed_varint(encoder_t *e, frame_t *top, const token_t *t)
{
    const schema_field_t *f = top->field;
    const char *why = NULL;
    int64_t sv;
    uint64_t uv;
    switch (f->type) {
    case SCHEMA_INT32:
    case SCHEMA_SINT32:
        if (scalar_parse_int64(t->text, t->len, INT32_MIN, INT32_MAX, &sv, &why) != 0)
            return FAIL(e, "%s", why ? why : "invalid integer");
        uv = f->type == SCHEMA_SINT32 ? wire_zigzag32((int32_t)sv) : (uint64_t)sv;
        break;
    case SCHEMA_INT64:
    case SCHEMA_SINT64:
        if (scalar_parse_int64(t->text, t->len, INT64_MIN, INT64_MAX, &sv, &why) != 0)
            return FAIL(e, "%s", why ? why : "invalid integer");
        uv = f->type == SCHEMA_SINT64 ? wire_zigzag64(sv) : (uint64_t)sv;
        break;
    case SCHEMA_UINT32:
    case SCHEMA_UINT64:
        if (scalar_parse_uint64(t->text, t->len, f->type == SCHEMA_UINT32 ? UINT32_MAX : UINT64_MAX, &uv, &why) != 0)
            return FAIL(e, "%s", why ? why : "invalid integer");
        break;
    default:
        return -1;
    }
    wire_put_varint(e->out, uv);
    if (++top->count > e->opt->max_repeated)
        return FAIL(e, "more than %zu elements", e->opt->max_repeated);
    if (e->out->oom || e->out->len > e->opt->max_output)
        return fail(e, GRPC_RESOURCE_EXHAUSTED, "message larger than the output limit");
    return 1;
}

/* A value token: skipped, or encoded into the slot the top frame expects. */
static int on_value(encoder_t *e, const token_t *t)
{
    frame_t *top = &e->frames[e->depth - 1];
    if (top->kind == FRAME_ARRAY && top->packed && t->ev == EV_NUMBER) {
        int rc = packed_varint(e, top, t);
        if (rc >= 0)
            return rc;
    }
    if (top->kind == FRAME_SKIP) {
        if ((t->ev == EV_START_MAP || t->ev == EV_START_ARRAY) && ++top->count + e->depth - 2 > e->opt->max_depth)
            return fail(e, GRPC_INVALID_ARGUMENT, "nesting deeper than %u", (unsigned)e->opt->max_depth);
        return 1;
    }
    if ((top->kind == FRAME_MESSAGE || top->kind == FRAME_ANY_WKT || top->kind == FRAME_MAP) && !top->expect)
        return FAIL(e, "expected a key");
    if (top->skip_value) {
        top->skip_value = 0;
        top->expect = 0;
        if (t->ev == EV_START_MAP || t->ev == EV_START_ARRAY) {
            frame_t *s = push(e, FRAME_SKIP);
            if (s)
                s->count = 1;
            return s != NULL;
        }
        return 1;
    }
    slot_t s = {0};
    if (!current_slot(e, &s))
        return 0;
    return encode_value(e, s, t);
}

/* ---- yajl callbacks ------------------------------------------------------ */

static int cb_null(void *ctx)
{
    token_t t = {.ev = EV_NULL};
    return on_value(ctx, &t);
}

static int cb_boolean(void *ctx, int b)
{
    token_t t = {.ev = EV_BOOL, .boolean = b};
    return on_value(ctx, &t);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    token_t t = {.ev = EV_NUMBER, .text = s, .len = len};
    return on_value(ctx, &t);
}

static int is_hex4(const char *p, const char *first_set)
{
    if (p[0] != '\\' || (p[1] != 'u' && p[1] != 'U') || (p[2] != 'd' && p[2] != 'D') || !strchr(first_set, p[3]))
        return 0;
    for (int i = 4; i < 6; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')))
            return 0;
    return 1;
}

/* yajl turns a lone high surrogate ("\ud800") into '?', silently. When a
 * decoded string holds a '?', the raw token (which ends where yajl stands)
 * is checked for one; protobuf refuses them, and so do we. */
static int has_lone_surrogate(encoder_t *e)
{
    size_t end = yajl_get_bytes_consumed(e->yajl);
    if (end < 2 || end > e->json_len)
        return 0;
    const char *s = e->json;
    size_t i = end - 1; /* the closing quote */
    while (i > 0) {
        i--;
        if (s[i] != '"')
            continue;
        size_t bs = 0;
        while (i > bs && s[i - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            break; /* the opening quote */
    }
    for (size_t k = i + 1; k + 6 <= end - 1; k++) {
        if (s[k] == '\\' && s[k + 1] == '\\') {
            k++;
            continue;
        }
        if (is_hex4(s + k, "89abAB") && !(k + 12 <= end - 1 && is_hex4(s + k + 6, "cdefCDEF")))
            return 1;
    }
    return 0;
}

/* yajl's own UTF-8 check lets overlong forms through, so strings are
 * checked here (ASCII, the common case, costs one pass 8 bytes at a time). */
static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    if (!scalar_utf8_valid((const char *)s, len))
        return FAIL((encoder_t *)ctx, "invalid UTF-8 in a string");
    if (memchr(s, '?', len) && has_lone_surrogate(ctx))
        return FAIL((encoder_t *)ctx, "lone UTF-16 surrogate in a string");
    token_t t = {.ev = EV_STRING, .text = (const char *)s, .len = len};
    return on_value(ctx, &t);
}

static int cb_start_map(void *ctx)
{
    token_t t = {.ev = EV_START_MAP};
    return on_value(ctx, &t);
}

static int cb_start_array(void *ctx)
{
    token_t t = {.ev = EV_START_ARRAY};
    return on_value(ctx, &t);
}

static int end_container(encoder_t *e)
{
    frame_t *f = &e->frames[e->depth - 1];
    if (f->kind == FRAME_SKIP) {
        if (--f->count > 0)
            return 1;
        e->depth--;
        return value_done(e);
    }
    if ((f->kind == FRAME_ARRAY && f->packed && f->count == 0) ||
        (f->any_payload && e->out->len == e->opens[e->nopens - 1])) {
        /* protobuf writes nothing for an empty packed field or Any payload */
        e->nopens--;
        e->out->len = f->rewind;
        close_n(e, f->closes - 1u);
    } else {
        close_n(e, f->closes);
    }
    e->depth--;
    return value_done(e);
}

static int cb_end_map(void *ctx) { return end_container(ctx); }
static int cb_end_array(void *ctx) { return end_container(ctx); }

static int map_key_message(encoder_t *e, frame_t *f, const char *key, size_t len)
{
    const schema_field_t *field = schema_field_by_name(f->msg, key, len);
    if (field == NULL) {
        if (!scalar_utf8_valid(key, len))
            return FAIL(e, "invalid UTF-8 in a key");
        if (f->any_payload && len == 5 && memcmp(key, "@type", 5) == 0 && f->count++ == 0) {
            f->skip_value = 1;
            return 1;
        }
        if (e->opt->ignore_unknown_fields) {
            f->skip_value = 1;
            if (e->report)
                e->report->unknown_fields++;
            return 1;
        }
        f->field = NULL;
        return FAIL(e, "unknown field \"%.*s\" in %s", (int)(len > 64 ? 64 : len), key, f->msg->full_name);
    }
    f->field = field;
    uint64_t bit = 1ull << (field->index & 63);
    if (f->seen[field->index >> 6] & bit)
        return FAIL(e, "duplicate field");
    f->seen[field->index >> 6] |= bit;
    if (field->oneof_index >= 0) {
        uint16_t *set = &f->oneof_set[field->oneof_index];
        if (*set)
            return FAIL(e, "oneof \"%s\" already has field \"%s\" set",
                        f->msg->oneof_names[field->oneof_index], f->msg->fields[*set - 1].json_name);
        *set = (uint16_t)(field->index + 1);
    }
    return 1;
}

/* Adds the wire bytes of a map key to the frame's set; 0 when already there. */
static int key_set_add(encoder_t *e, frame_t *f, const char *bytes, uint32_t len)
{
    key_set_t *ks = f->keys;
    if (ks == NULL || (ks->n + 1) * 2 > ks->mask + 1) {
        uint32_t size = ks ? (ks->mask + 1) * 2 : 16;
        key_set_t *grown = arena_alloc(e->arena, sizeof(*grown) + size * sizeof(struct key_slot));
        if (grown == NULL)
            return fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory"), -1;
        grown->mask = size - 1;
        grown->n = 0;
        grown->slots = (struct key_slot *)(grown + 1);
        memset(grown->slots, 0, size * sizeof(struct key_slot));
        for (uint32_t i = 0; ks && i <= ks->mask; i++) {
            struct key_slot *o = &ks->slots[i];
            if (o->bytes == NULL)
                continue;
            uint32_t h = o->hash & grown->mask;
            while (grown->slots[h].bytes)
                h = (h + 1) & grown->mask;
            grown->slots[h] = *o;
            grown->n++;
        }
        f->keys = ks = grown;
    }
    uint32_t hash = schema_hash(bytes, len);
    uint32_t h = hash & ks->mask;
    for (; ks->slots[h].bytes; h = (h + 1) & ks->mask) {
        const struct key_slot *o = &ks->slots[h];
        if (o->hash == hash && o->len == len && memcmp(o->bytes, bytes, len) == 0)
            return 0;
    }
    char *copy = arena_memdup(e->arena, bytes, len);
    if (copy == NULL)
        return fail(e, GRPC_RESOURCE_EXHAUSTED, "out of memory"), -1;
    ks->slots[h] = (struct key_slot){copy, len, hash};
    ks->n++;
    return 1;
}

/* A map key is the text of the key field's value: "12", "true", "abc". */
static int map_key_entry(encoder_t *e, frame_t *f, const char *key, size_t len)
{
    const schema_message_t *entry = f->field->message;
    const schema_field_t *kf = schema_field_by_number(entry, 1);
    if (kf == NULL)
        return FAIL(e, "map entry without a key field");
    if (f->count >= e->opt->max_repeated)
        return FAIL(e, "more than %zu entries", e->opt->max_repeated);
    if (len > e->opt->max_string)
        return FAIL(e, "map key longer than %zu bytes", e->opt->max_string);
    f->rewind = e->out->len;
    put_tag(e, f->field);
    if (!open_len(e))
        return 0;
    token_t t = {.ev = EV_STRING, .text = key, .len = len};
    if (kf->type == SCHEMA_BOOL) {
        if (len == 4 && memcmp(key, "true", 4) == 0)
            t = (token_t){.ev = EV_BOOL, .boolean = 1};
        else if (len == 5 && memcmp(key, "false", 5) == 0)
            t = (token_t){.ev = EV_BOOL, .boolean = 0};
        else
            return FAIL(e, "map key \"%.*s\" is not a boolean", (int)(len > 32 ? 32 : len), key);
    }
    size_t key_start = e->out->len;
    if (!encode_scalar(e, kf, SLOT_ELEMENT, &t))
        return 0;
    if (e->out->oom)
        return fail(e, GRPC_RESOURCE_EXHAUSTED, "message larger than the output limit");
    int added = key_set_add(e, f, e->out->data + key_start, (uint32_t)(e->out->len - key_start));
    if (added == 0)
        return FAIL(e, "duplicate map key \"%.*s\"", (int)(len > 64 ? 64 : len), key);
    return added > 0;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
    encoder_t *e = ctx;
    frame_t *f = &e->frames[e->depth - 1];
    const char *key = (const char *)k;
    f->expect = 1;
    /* a key naming a field is valid UTF-8 by construction: only the others
     * (misses, map keys) need the check */
    if (f->kind != FRAME_MESSAGE && !scalar_utf8_valid(key, len))
        return FAIL(e, "invalid UTF-8 in a key");
    switch ((frame_kind_t)f->kind) {
    case FRAME_SKIP:
        return 1;
    case FRAME_MESSAGE:
        return map_key_message(e, f, key, len);
    case FRAME_MAP:
        return map_key_entry(e, f, key, len);
    case FRAME_ANY_WKT:
        if (len == 5 && memcmp(key, "@type", 5) == 0)
            f->skip_value = 1;
        else if (!(len == 5 && memcmp(key, "value", 5) == 0))
            return FAIL(e, "unexpected key \"%.*s\" in an Any of %s", (int)(len > 64 ? 64 : len), key,
                        f->msg->full_name);
        return 1;
    default:
        return FAIL(e, "unexpected key");
    }
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

static int setup(encoder_t *e)
{
    const transcode_options_t *opt = e->opt;
    /* a JSON container may need a frame and up to three open lengths */
    e->max_frames = opt->max_depth + 1; /* the root, then one per container */
    e->max_opens = opt->max_depth * 3 + 4;
    e->frames_cap = e->max_frames < 8 ? e->max_frames : 8;
    e->opens_cap = 16;
    e->frames = arena_alloc(e->arena, e->frames_cap * sizeof(frame_t));
    e->opens = arena_alloc(e->arena, e->opens_cap * sizeof(size_t));
    if (e->frames == NULL || e->opens == NULL) {
        status_set(e->st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    e->depth = 1;
    memset(&e->frames[0], 0, sizeof(frame_t));
    e->frames[0].kind = FRAME_ROOT;
    return 0;
}

static int run(encoder_t *e, const char *json, size_t len)
{
    if (len > e->opt->max_body) {
        status_set(e->st, GRPC_INVALID_ARGUMENT, "body larger than %zu bytes", e->opt->max_body);
        return -1;
    }
    e->json = json;
    e->json_len = len;
    if (setup(e) != 0)
        return -1;
    yajl_alloc_funcs af = yajl_arena_funcs(e->arena);
    e->yajl = yajl_alloc(&callbacks, &af, e);
    if (e->yajl == NULL) {
        status_set(e->st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    yajl_config(e->yajl, yajl_dont_validate_strings, 1);
    size_t ws = 0;
    while (ws < len && (json[ws] == ' ' || json[ws] == '\n' || json[ws] == '\r' || json[ws] == '\t'))
        ws++;
    if (ws == len) {
        status_set(e->st, GRPC_INVALID_ARGUMENT, "empty body where JSON was expected");
        return -1;
    }

    size_t start_len = e->out->len;
    yajl_status ys = yajl_parse(e->yajl, (const unsigned char *)json, len);
    if (ys == yajl_status_ok)
        ys = yajl_complete_parse(e->yajl);
    if (ys != yajl_status_ok && !e->failed) {
        unsigned char *msg = yajl_get_error(e->yajl, 0, (const unsigned char *)json, len);
        size_t at = yajl_get_bytes_consumed(e->yajl);
        const char *m = msg ? (const char *)msg : "parse error";
        /* yajl says "parse error: <what>\n" */
        if (strncmp(m, "parse error: ", 13) == 0)
            m += 13;
        size_t ml = strcspn(m, "\n");
        while (ml > 0 && m[ml - 1] == ' ')
            ml--;
        status_set(e->st, GRPC_INVALID_ARGUMENT, "invalid JSON at byte %zu: %.*s", at, (int)ml, m);
        e->failed = 1;
    }
    if (!e->failed && e->frames[0].count == 0) {
        status_set(e->st, GRPC_INVALID_ARGUMENT, "empty body where JSON was expected");
        e->failed = 1;
    }
    if (!e->failed && e->out->oom) {
        status_set(e->st, GRPC_RESOURCE_EXHAUSTED, "message larger than the output limit");
        e->failed = 1;
    }
    if (e->failed) {
        e->out->len = start_len;
        return -1;
    }
    return 0;
}

int transcode_json_to_pb(const schema_t *schema, const schema_message_t *msg, const char *json, size_t len,
                         const transcode_options_t *opt, buf_t *out, status_t *st, transcode_report_t *report)
{
    encoder_t e = {.schema = schema, .opt = opt, .out = out, .arena = out->arena, .st = st, .root_msg = msg,
                   .report = report};
    return run(&e, json, len);
}

int transcode_json_field_to_pb(const schema_t *schema, const schema_field_t *field, const char *json, size_t len,
                               const transcode_options_t *opt, buf_t *out, status_t *st, transcode_report_t *report)
{
    encoder_t e = {.schema = schema, .opt = opt, .out = out, .arena = out->arena, .st = st, .root_field = field,
                   .report = report};
    return run(&e, json, len);
}

int transcode_text_to_pb(const schema_t *schema, const schema_field_t *field, const char *text, size_t len,
                         const transcode_options_t *opt, buf_t *out, status_t *st)
{
    encoder_t e = {.schema = schema, .opt = opt, .out = out, .arena = out->arena, .st = st, .root_field = field};
    if (setup(&e) != 0)
        return -1;
    size_t start_len = out->len;
    const schema_message_t *wrapper = field->type == SCHEMA_MESSAGE ? field->message : NULL;
    int is_bool = field->type == SCHEMA_BOOL || (wrapper && wrapper->wkt == WKT_BOOL_VALUE);
    token_t t = {.ev = EV_STRING, .text = text, .len = len};
    if (is_bool) {
        if (len == 4 && memcmp(text, "true", 4) == 0)
            t = (token_t){.ev = EV_BOOL, .boolean = 1};
        else if (len == 5 && memcmp(text, "false", 5) == 0)
            t = (token_t){.ev = EV_BOOL, .boolean = 0};
    } else if (field->type == SCHEMA_ENUM && len > 0 && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) {
        t.ev = EV_NUMBER;
    }
    if (field->is_map) {
        FAIL(&e, "a map cannot be set from text");
    } else if (!scalar_utf8_valid(text, len)) {
        /* a path or query escape can spell any byte; a proto3 string must be UTF-8 */
        FAIL(&e, "invalid UTF-8");
    } else {
        slot_t s = {.mode = field->repeated ? SLOT_ELEMENT : SLOT_SINGULAR, .field = field};
        encode_value(&e, s, &t);
    }
    if (!e.failed && e.depth != 1)
        FAIL(&e, "expected a %s", field->type == SCHEMA_MESSAGE ? "message in JSON" : "scalar");
    if (!e.failed && out->oom)
        fail(&e, GRPC_RESOURCE_EXHAUSTED, "message larger than the output limit");
    if (e.failed) {
        out->len = start_len;
        return -1;
    }
    return 0;
}
