/*
 * pb_to_json.c: protobuf wire bytes -> proto3 JSON text, compact, as
 * protobuf's JsonFormat prints it.
 *
 * A message is handled in two steps. The scan walks its bytes once, checks
 * the wire format, and threads every occurrence of a known field onto a
 * per-field chain (scratch from the output's arena: the request path never
 * mallocs). The emit step then walks the fields in declaration order, so the
 * JSON comes out in the same order whatever order the upstream encoder
 * chose, and repeated elements keep their wire order. Nested messages are
 * scanned when their turn comes, so each nesting level is read once (a
 * singular message split over several occurrences is the one exception: it
 * is concatenated, since that is how protobuf merges it).
 *
 * Upstream bytes are untrusted: every length is checked against the end of
 * its enclosing message before anything is read, and recursion is bounded by
 * max_depth.
 */
#include "transcode/pb_to_json.h"

#include <math.h>
#include <string.h>

#include "transcode/scalar.h"

#define NONE UINT32_MAX
#define REC_SCALAR UINT32_MAX /* rec_t.len of a VARINT/I64/I32 value */

/* One occurrence of a known field. 16 bytes: the scan of a large message
 * writes one per occurrence, so it is worth keeping small. */
typedef struct rec {
    uint64_t v;    /* the value, or the offset of a LEN payload from scan.base */
    uint32_t len;  /* payload length, or REC_SCALAR */
    uint32_t next; /* the field's next occurrence, in wire order */
} rec_t;

typedef struct scan {
    const uint8_t *base;
    rec_t *recs;
    uint32_t nrecs, cap;
    uint32_t *head; /* per field index: first and last occurrence, or NONE */
    uint32_t *tail;
} scan_t;

/* A decoded value: v for VARINT/I64/I32 (I32 in the low half), p/len for LEN. */
typedef struct val {
    const uint8_t *p;
    size_t len;
    uint64_t v;
} val_t;

typedef struct ctx {
    const schema_t *schema;
    const transcode_options_t *opt;
    buf_t *out;
    status_t *st;
    size_t limit;                /* out->len may not pass this */
    uint32_t max_depth;
    const schema_field_t *field; /* the field being printed, for error messages */
} ctx_t;

/* Stands in for the bytes of an absent or empty message: a real pointer, so
 * no NULL ever reaches pointer arithmetic or memcpy. */
static const uint8_t empty_bytes[1];

static const val_t zero_val = {empty_bytes, 0, 0};

/* ---- errors ---- */

static const char *field_name(const ctx_t *c, const schema_field_t *f)
{
    return c->opt->use_proto_names ? f->name : f->json_name;
}

static int fail(ctx_t *c, const schema_field_t *f, int code, const char *what)
{
    if (f != NULL)
        status_set(c->st, code, "field \"%s\": %s", field_name(c, f), what);
    else
        status_set(c->st, code, "%s", what);
    return -1;
}

static int fail_wire(ctx_t *c, const schema_field_t *f)
{
    return fail(c, f ? f : c->field, GRPC_INTERNAL, "invalid wire data");
}

static int fail_limit(ctx_t *c)
{
    if (c->out->oom)
        return fail(c, NULL, GRPC_RESOURCE_EXHAUSTED, "out of memory while printing JSON");
    return fail(c, NULL, GRPC_RESOURCE_EXHAUSTED, "JSON output exceeds max_output");
}

/* Checked once per field and per element rather than per append: one
 * element's output is bounded by its input, so the overshoot is too. */
static inline int over_limit(const ctx_t *c)
{
    return c->out->len > c->limit || c->out->oom;
}

static int oom(ctx_t *c)
{
    c->out->oom = 1;
    return fail_limit(c);
}

/* ---- wire reading ---- */

static int read_varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p == end)
            return -1;
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            *pp = p;
            return 0;
        }
    }
    return -1; /* an 11th byte: no varint is that long */
}

static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) {
        *v = *p;
        *pp = p + 1;
        return 0;
    }
    if (end - p >= 10) {
        /* unrolled, no bounds checks: each step folds in 7 bits and
         * removes the continuation bit the previous byte carried */
        uint64_t x = *p++, b;
#define VARINT_STEP(shift)                           \
        b = *p++;                                    \
        x += (b << (shift)) - ((uint64_t)0x80 << ((shift) - 7)); \
        if (b < 0x80)                                \
            goto done;
        VARINT_STEP(7) VARINT_STEP(14) VARINT_STEP(21) VARINT_STEP(28) VARINT_STEP(35)
        VARINT_STEP(42) VARINT_STEP(49) VARINT_STEP(56) VARINT_STEP(63)
#undef VARINT_STEP
        return -1;
    done:
        *v = x;
        *pp = p;
        return 0;
    }
    return read_varint_slow(pp, end, v);
}

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline int read_field(ctx_t *c, const uint8_t **pp, const uint8_t *end, uint32_t *number,
                             uint32_t *wire, val_t *val, uint32_t depth);

/* Groups are proto2-only, so no field of ours is one, but a well-formed
 * upstream may still carry one as an unknown field: skip it to its end tag. */
static __attribute__((noinline)) int skip_group(ctx_t *c, const uint8_t **pp, const uint8_t *end, uint32_t number,
                                                uint32_t depth)
{
    if (depth >= c->max_depth)
        return -1;
    while (*pp < end) {
        uint32_t n, w;
        val_t ignored;
        if (read_field(c, pp, end, &n, &w, &ignored, depth + 1) != 0)
            return -1;
        if (w == WIRE_EGROUP)
            return n == number ? 0 : -1;
    }
    return -1;
}

/* Reads one tag and its value. A whole group is skipped and reported as
 * WIRE_SGROUP; a lone end-group tag is returned for skip_group to match. */
static inline int read_field(ctx_t *c, const uint8_t **pp, const uint8_t *end, uint32_t *number,
                             uint32_t *wire, val_t *val, uint32_t depth)
{
    uint64_t key, n;
    if (read_varint(pp, end, &key) != 0 || key > UINT32_MAX || (key >> 3) == 0)
        return -1;
    *number = (uint32_t)(key >> 3);
    *wire = (uint32_t)(key & 7);
    switch (*wire) {
    case WIRE_VARINT:
        return read_varint(pp, end, &val->v);
    case WIRE_I64:
        if (end - *pp < 8)
            return -1;
        val->v = load_le64(*pp);
        *pp += 8;
        return 0;
    case WIRE_I32:
        if (end - *pp < 4)
            return -1;
        val->v = load_le32(*pp);
        *pp += 4;
        return 0;
    case WIRE_LEN:
        if (read_varint(pp, end, &n) != 0 || n > (uint64_t)(end - *pp))
            return -1;
        val->p = *pp;
        val->len = (size_t)n;
        *pp += n;
        return 0;
    case WIRE_SGROUP:
        return skip_group(c, pp, end, *number, depth);
    case WIRE_EGROUP:
        return 0;
    default:
        return -1; /* wire types 6 and 7 do not exist */
    }
}

/* A packed run of a repeated scalar is legal wherever the field is repeated,
 * whichever encoding its declaration asks for. */
static inline int wire_ok(const schema_field_t *f, uint32_t wire)
{
    return wire == f->wire_type ||
           (wire == WIRE_LEN && f->repeated && f->wire_type != WIRE_LEN && f->wire_type != WIRE_SGROUP);
}

/* ---- scan ---- */

static int scan_message(ctx_t *c, const schema_message_t *m, const uint8_t *p, size_t len, scan_t *s,
                        uint32_t depth)
{
    arena_t *a = c->out->arena;
    uint32_t nf = m->nfields;
    size_t nidx = (size_t)nf * 2 + m->noneofs;
    uint32_t *idx = arena_alloc_aligned(a, (nidx ? nidx : 1) * sizeof(uint32_t), sizeof(uint32_t));
    if (idx == NULL)
        return oom(c);
    memset(idx, 0xff, nidx * sizeof(uint32_t));
    s->base = p;
    s->head = idx;
    s->tail = idx + nf;
    uint32_t *oneof_last = idx + 2 * (size_t)nf;
    /* Usually each field occurs once; every occurrence takes >= 2 bytes. */
    s->cap = nf + 4;
    if (s->cap > len / 2 + 1)
        s->cap = (uint32_t)(len / 2 + 1);
    s->nrecs = 0;
    s->recs = arena_alloc_aligned(a, s->cap * sizeof(rec_t), sizeof(uint64_t));
    if (s->recs == NULL)
        return oom(c);

    const uint8_t *end = p + len;
    while (p < end) {
        uint32_t number, wire;
        val_t v;
        if (read_field(c, &p, end, &number, &wire, &v, depth) != 0)
            return fail_wire(c, NULL);
        if (wire == WIRE_SGROUP)
            continue;
        if (wire == WIRE_EGROUP)
            return fail_wire(c, NULL);
        const schema_field_t *f = schema_field_by_number(m, number);
        if (f == NULL)
            continue;
        if (!wire_ok(f, wire))
            continue; /* protobuf keeps a mismatched wire type as an unknown field */

        rec_t r;
        if (wire == WIRE_LEN) {
            r.v = (uint64_t)(v.p - s->base);
            r.len = (uint32_t)v.len;
        } else {
            r.v = v.v;
            r.len = REC_SCALAR;
        }
        r.next = NONE;
        uint32_t i = f->index;
        if (f->oneof_index >= 0) {
            /* a oneof member clears whichever member came before it */
            uint32_t prev = oneof_last[f->oneof_index];
            if (prev != i) {
                if (prev != NONE)
                    s->head[prev] = s->tail[prev] = NONE;
                oneof_last[f->oneof_index] = i;
            }
        }
        if (!f->repeated && f->type != SCHEMA_MESSAGE && s->tail[i] != NONE) {
            s->recs[s->tail[i]] = r; /* last one wins: reuse its slot */
            continue;
        }
        if (s->nrecs == s->cap) {
            uint32_t ncap = s->cap * 2;
            rec_t *n = arena_realloc(a, s->recs, s->cap * sizeof(rec_t), ncap * sizeof(rec_t));
            if (n == NULL)
                return oom(c);
            s->recs = n;
            s->cap = ncap;
        }
        uint32_t ri = s->nrecs++;
        s->recs[ri] = r;
        if (s->tail[i] == NONE)
            s->head[i] = ri;
        else
            s->recs[s->tail[i]].next = ri;
        s->tail[i] = ri;
    }
    return 0;
}

static inline val_t rec_val(const scan_t *s, const rec_t *r)
{
    val_t v;
    if (r->len == REC_SCALAR) {
        v.p = empty_bytes;
        v.len = 0;
        v.v = r->v;
    } else {
        v.p = s->base + r->v;
        v.len = r->len;
        v.v = 0;
    }
    return v;
}

/* The last occurrence of a field, or NULL; f may be NULL (not in schema). */
static const rec_t *last_of(const scan_t *s, const schema_field_t *f)
{
    return (f != NULL && s->tail[f->index] != NONE) ? &s->recs[s->tail[f->index]] : NULL;
}

/* ---- output primitives ---- */

/* quoted: the proto3 JSON spelling of 64-bit integers, which JavaScript
 * numbers cannot hold exactly. */
static inline void put_int(buf_t *out, int64_t v, int quoted)
{
    if (buf_reserve(out, SCALAR_INT_MAX_TEXT) == 0)
        out->len += scalar_write_int(out->data + out->len, v, quoted);
}

static inline void put_uint(buf_t *out, uint64_t v, int quoted)
{
    if (buf_reserve(out, SCALAR_INT_MAX_TEXT) == 0)
        out->len += scalar_write_uint(out->data + out->len, v, quoted);
}

/* Per byte: 0 when it stands for itself, else the letter after the
 * backslash ('u' for \u00XX). Only what RFC 8259 requires is escaped:
 * '/' and non-ASCII pass through, as protobuf prints them. */
static const char json_escape[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
};

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any of eight bytes is a control character, '"' or '\\' (exact as
 * a yes/no, which is all the caller asks). */
static inline uint64_t needs_escape8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    return ((x - ONES * 0x20) & ~x & HIGHS) | ((q - ONES) & ~q & HIGHS) | ((b - ONES) & ~b & HIGHS);
}

/* A JSON string literal; 0, or -1 when validate_utf8 is set and the bytes
 * are not UTF-8 (the caller reports it: it knows the field). Most strings
 * need no escaping, so they go eight bytes at a time into room reserved up
 * front; an escape re-reserves for its longer spelling. */
static int put_string(buf_t *out, const uint8_t *s, size_t len, int validate_utf8)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(out, len + 2) != 0)
        return 0; /* oom is latched; the caller's limit check reports it */
    char *d = out->data + out->len;
    uint64_t high = 0;
    size_t i = 0;
    *d++ = '"';
    for (;;) {
        while (len - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (needs_escape8(x))
                break;
            high |= x;
            memcpy(d, &x, 8);
            d += 8;
            i += 8;
        }
        if (len >= 8 && len - i < 8 && i < len) {
            /* the last eight bytes, overlapping ones already checked, so the
             * tail need not go byte by byte */
            uint64_t x;
            memcpy(&x, s + len - 8, 8);
            if (!needs_escape8(x)) {
                high |= x;
                memcpy(d, s + i, len - i);
                d += len - i;
                break;
            }
        }
        size_t stop = len - i >= 8 ? i + 8 : len;
        for (; i < stop; i++) {
            uint8_t ch = s[i];
            char e = json_escape[ch];
            high |= ch;
            if (e == 0) {
                *d++ = (char)ch;
                continue;
            }
            out->len = (size_t)(d - out->data);
            if (buf_reserve(out, 6 + (len - i - 1) + 1) != 0)
                return 0;
            d = out->data + out->len;
            *d++ = '\\';
            *d++ = e;
            if (e == 'u') {
                *d++ = '0';
                *d++ = '0';
                *d++ = hex[ch >> 4];
                *d++ = hex[ch & 15];
            }
        }
        if (i == len)
            break;
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    /* ASCII (the common case) is UTF-8 by definition: validate only text
     * that has a high byte. */
    if (validate_utf8 && (high & HIGHS) && !scalar_utf8_valid((const char *)s, len))
        return -1;
    return 0;
}

static void put_key(ctx_t *c, const schema_field_t *f, int *first)
{
    const char *key = c->opt->use_proto_names ? f->proto_key : f->json_key;
    size_t len = c->opt->use_proto_names ? f->proto_key_len : f->json_key_len;
    if (buf_reserve(c->out, len + 1) == 0) {
        char *o = c->out->data + c->out->len;
        if (!*first)
            *o++ = ',';
        memcpy(o, key, len);
        c->out->len = (size_t)(o + len - c->out->data);
    }
    *first = 0;
    c->field = f;
}

static void put_enum(ctx_t *c, const schema_field_t *f, int32_t v)
{
    const schema_enum_t *e = f->enumeration;
    if (e != NULL && e->is_null_value) {
        buf_puts_lit(c->out, "null");
        return;
    }
    if (e != NULL && !c->opt->enums_as_ints) {
        const schema_enum_value_t *ev = schema_enum_by_number(e, v);
        if (ev != NULL) {
            put_string(c->out, (const uint8_t *)ev->name, strlen(ev->name), 0);
            return;
        }
    }
    put_int(c->out, v, 0); /* unknown values survive as numbers */
}

static inline int64_t unzigzag32(uint32_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline int64_t unzigzag64(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static void put_scalar(ctx_t *c, const schema_field_t *f, uint64_t v)
{
    buf_t *out = c->out;
    switch (f->type) {
    case SCHEMA_INT32: /* negatives arrive as 10-byte varints: keep the low 32 bits */
    case SCHEMA_SFIXED32:
        put_int(out, (int32_t)(uint32_t)v, 0);
        break;
    case SCHEMA_SINT32:
        put_int(out, unzigzag32((uint32_t)v), 0);
        break;
    case SCHEMA_UINT32:
    case SCHEMA_FIXED32:
        put_uint(out, (uint32_t)v, 0);
        break;
    case SCHEMA_INT64:
    case SCHEMA_SFIXED64:
        put_int(out, (int64_t)v, !c->opt->int64_as_number);
        break;
    case SCHEMA_SINT64:
        put_int(out, unzigzag64(v), !c->opt->int64_as_number);
        break;
    case SCHEMA_UINT64:
    case SCHEMA_FIXED64:
        put_uint(out, v, !c->opt->int64_as_number);
        break;
    case SCHEMA_BOOL:
        if (v)
            buf_puts_lit(out, "true");
        else
            buf_puts_lit(out, "false");
        break;
    case SCHEMA_ENUM:
        put_enum(c, f, (int32_t)(uint32_t)v);
        break;
    case SCHEMA_FLOAT: {
        uint32_t bits = (uint32_t)v;
        float x;
        memcpy(&x, &bits, sizeof(x));
        scalar_format_float(out, x);
        break;
    }
    case SCHEMA_DOUBLE: {
        double x;
        memcpy(&x, &v, sizeof(x));
        if (c->opt->java_doubles)
            scalar_format_java_double(out, x);
        else
            scalar_format_double(out, x);
        break;
    }
    default:
        buf_puts_lit(out, "null"); /* not reached: LEN types go elsewhere */
        break;
    }
}

/* Whether a singular field without presence holds its default, which proto3
 * does not distinguish from absent. Floats compare by bits, so -0.0 prints. */
static int is_default(const schema_field_t *f, val_t v)
{
    switch (f->type) {
    case SCHEMA_STRING:
    case SCHEMA_BYTES:
        return v.len == 0;
    case SCHEMA_INT32:
    case SCHEMA_UINT32:
    case SCHEMA_SINT32:
    case SCHEMA_ENUM:
        return (uint32_t)v.v == 0;
    default:
        return v.v == 0;
    }
}

/* ---- emit ---- */

static int emit_message(ctx_t *c, const schema_message_t *m, const uint8_t *p, size_t len, uint32_t depth);
static int emit_fields(ctx_t *c, const schema_message_t *m, const scan_t *s, int first, uint32_t depth);

/* One value of f (an element, for repeated f). */
static int emit_value(ctx_t *c, const schema_field_t *f, val_t v, uint32_t depth)
{
    switch (f->type) {
    case SCHEMA_MESSAGE:
        return emit_message(c, f->message, v.p, v.len, depth + 1);
    case SCHEMA_STRING:
        if (put_string(c->out, v.p, v.len, 1) != 0)
            return fail(c, f, GRPC_INTERNAL, "invalid UTF-8 in string");
        return 0;
    case SCHEMA_BYTES:
        buf_putc(c->out, '"');
        scalar_base64_encode(c->out, v.p, v.len);
        buf_putc(c->out, '"');
        return 0;
    default:
        put_scalar(c, f, v.v);
        return 0;
    }
}

/* A singular message: several occurrences merge, which for wire bytes is
 * concatenation. */
static int emit_singular_message(ctx_t *c, const schema_field_t *f, const scan_t *s, uint32_t h, uint32_t depth)
{
    const rec_t *r = &s->recs[h];
    if (r->next == NONE)
        return emit_message(c, f->message, s->base + r->v, r->len, depth + 1);
    size_t total = 0;
    for (uint32_t i = h; i != NONE; i = s->recs[i].next)
        total += s->recs[i].len;
    uint8_t *joined = arena_alloc_aligned(c->out->arena, total ? total : 1, 1);
    if (joined == NULL)
        return oom(c);
    size_t at = 0;
    for (uint32_t i = h; i != NONE; i = s->recs[i].next) {
        memcpy(joined + at, s->base + s->recs[i].v, s->recs[i].len);
        at += s->recs[i].len;
    }
    return emit_message(c, f->message, joined, total, depth + 1);
}

/* Elements of a packed run; every element must be whole. Output is
 * written straight into the buffer, one reserve per element, and the size
 * limit checked once per run. */
static int emit_packed(ctx_t *c, const schema_field_t *f, const uint8_t *p, size_t len, int *first)
{
    const uint8_t *end = p + len;
    size_t step = f->wire_type == WIRE_I64 ? 8 : f->wire_type == WIRE_I32 ? 4 : 0;
    if (step && len % step)
        return fail_wire(c, f);
    buf_t *out = c->out;
    int quoted = !c->opt->int64_as_number;
    int fast = f->type == SCHEMA_INT32 || f->type == SCHEMA_INT64 || f->type == SCHEMA_UINT32 ||
               f->type == SCHEMA_UINT64 || f->type == SCHEMA_SINT32 || f->type == SCHEMA_SINT64;
    while (p < end) {
        uint64_t v;
        if (step == 8) {
            v = load_le64(p);
            p += 8;
        } else if (step == 4) {
            v = load_le32(p);
            p += 4;
        } else if (read_varint(&p, end, &v) != 0) {
            return fail_wire(c, f);
        }
        if (fast) {
            if (buf_reserve(out, SCALAR_INT_MAX_TEXT + 1) != 0)
                return oom(c);
            char *o = out->data + out->len;
            if (!*first)
                *o++ = ',';
            switch (f->type) {
            case SCHEMA_INT32: o += scalar_write_int(o, (int32_t)(uint32_t)v, 0); break;
            case SCHEMA_SINT32: o += scalar_write_int(o, unzigzag32((uint32_t)v), 0); break;
            case SCHEMA_UINT32: o += scalar_write_uint(o, (uint32_t)v, 0); break;
            case SCHEMA_INT64: o += scalar_write_int(o, (int64_t)v, quoted); break;
            case SCHEMA_SINT64: o += scalar_write_int(o, unzigzag64(v), quoted); break;
            default: o += scalar_write_uint(o, v, quoted); break;
            }
            out->len = (size_t)(o - out->data);
        } else {
            if (!*first)
                buf_putc(out, ',');
            put_scalar(c, f, v);
        }
        *first = 0;
    }
    return over_limit(c) ? fail_limit(c) : 0;
}

static int emit_list(ctx_t *c, const schema_field_t *f, const scan_t *s, uint32_t h, uint32_t depth)
{
    int first = 1;
    buf_putc(c->out, '[');
    for (uint32_t i = h; i != NONE; i = s->recs[i].next) {
        const rec_t *r = &s->recs[i];
        if (f->wire_type != WIRE_LEN && r->len != REC_SCALAR) {
            if (emit_packed(c, f, s->base + r->v, r->len, &first) != 0)
                return -1;
            continue;
        }
        if (!first)
            buf_putc(c->out, ',');
        first = 0;
        c->field = f;
        if (emit_value(c, f, rec_val(s, r), depth) != 0)
            return -1;
        if (over_limit(c))
            return fail_limit(c);
    }
    buf_putc(c->out, ']');
    return 0;
}

/* Whether a present repeated field has no elements after all: only a
 * packed run can be empty (an empty string is still an element). */
static int list_is_empty(const schema_field_t *f, const scan_t *s, uint32_t h)
{
    if (f->wire_type == WIRE_LEN)
        return 0;
    for (uint32_t i = h; i != NONE; i = s->recs[i].next)
        if (s->recs[i].len != 0)
            return 0;
    return 1;
}

typedef struct entry {
    uint64_t key;      /* normalized: sign-extended, unzigzagged, 0/1 for bool */
    const uint8_t *kp; /* string keys */
    size_t klen;
    val_t val;
    uint8_t has_val;
    uint8_t dead;      /* overwritten by a later entry with the same key */
} entry_t;

static int key_is_string(const schema_field_t *kf)
{
    return kf->wire_type == WIRE_LEN;
}

static int parse_entry(ctx_t *c, const schema_field_t *mapf, const schema_field_t *kf, const schema_field_t *vf,
                       const uint8_t *p, size_t len, entry_t *e, uint32_t depth)
{
    const uint8_t *end = p + len;
    *e = (entry_t){.kp = empty_bytes, .val = zero_val};
    while (p < end) {
        uint32_t number, wire;
        val_t v;
        if (read_field(c, &p, end, &number, &wire, &v, depth) != 0 || wire == WIRE_EGROUP)
            return fail_wire(c, mapf);
        if (number == kf->number) {
            if (wire != kf->wire_type)
                return fail_wire(c, mapf);
            if (key_is_string(kf)) {
                e->kp = v.p;
                e->klen = v.len;
            } else {
                e->key = v.v;
            }
        } else if (number == vf->number) {
            if (wire != vf->wire_type)
                return fail_wire(c, mapf);
            if (vf->type == SCHEMA_MESSAGE && e->has_val) {
                /* a split message value merges, as for any singular message */
                uint8_t *joined = arena_alloc_aligned(c->out->arena, e->val.len + v.len + 1, 1);
                if (joined == NULL)
                    return oom(c);
                memcpy(joined, e->val.p, e->val.len);
                memcpy(joined + e->val.len, v.p, v.len);
                v.p = joined;
                v.len += e->val.len;
            }
            e->val = v;
            e->has_val = 1;
        }
    }
    switch (kf->type) {
    case SCHEMA_INT32:
    case SCHEMA_SFIXED32:
        e->key = (uint64_t)(int64_t)(int32_t)(uint32_t)e->key;
        break;
    case SCHEMA_SINT32:
        e->key = (uint64_t)unzigzag32((uint32_t)e->key);
        break;
    case SCHEMA_UINT32:
    case SCHEMA_FIXED32:
        e->key = (uint32_t)e->key;
        break;
    case SCHEMA_SINT64:
        e->key = (uint64_t)unzigzag64(e->key);
        break;
    case SCHEMA_BOOL:
        e->key = e->key != 0;
        break;
    default:
        break;
    }
    return 0;
}

static int same_key(const entry_t *a, const entry_t *b, int str)
{
    return str ? a->klen == b->klen && memcmp(a->kp, b->kp, a->klen) == 0 : a->key == b->key;
}

static uint32_t key_hash(const entry_t *e, int str)
{
    if (str)
        return schema_hash((const char *)e->kp, e->klen);
    return (uint32_t)((e->key * 0x9e3779b97f4a7c15ull) >> 32);
}

/* Later duplicates overwrite the value of the first, which keeps its place
 * (protobuf's semantics; JSON must not repeat a key). Small maps compare
 * pairwise; bigger ones hash, so a hostile map stays linear. */
static int dedup_entries(ctx_t *c, entry_t *e, uint32_t n, int str)
{
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = 0; j < i; j++)
                if (!e[j].dead && same_key(&e[j], &e[i], str)) {
                    e[j].val = e[i].val;
                    e[j].has_val = e[i].has_val;
                    e[i].dead = 1;
                    break;
                }
        return 0;
    }
    size_t size = 32;
    while (size < 2 * (size_t)n)
        size *= 2;
    uint32_t *slots = arena_alloc_aligned(c->out->arena, size * sizeof(uint32_t), sizeof(uint32_t));
    if (slots == NULL)
        return oom(c);
    memset(slots, 0xff, size * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        size_t h = key_hash(&e[i], str) & (size - 1);
        for (;; h = (h + 1) & (size - 1)) {
            if (slots[h] == NONE) {
                slots[h] = i;
                break;
            }
            entry_t *o = &e[slots[h]];
            if (same_key(o, &e[i], str)) {
                o->val = e[i].val;
                o->has_val = e[i].has_val;
                e[i].dead = 1;
                break;
            }
        }
    }
    return 0;
}

static void put_map_key(ctx_t *c, const schema_field_t *kf, const entry_t *e)
{
    switch (kf->type) {
    case SCHEMA_BOOL:
        if (e->key)
            buf_puts_lit(c->out, "\"true\"");
        else
            buf_puts_lit(c->out, "\"false\"");
        break;
    case SCHEMA_INT32:
    case SCHEMA_SFIXED32:
    case SCHEMA_SINT32:
    case SCHEMA_INT64:
    case SCHEMA_SFIXED64:
    case SCHEMA_SINT64:
        put_int(c->out, (int64_t)e->key, 1);
        break;
    default:
        put_uint(c->out, e->key, 1);
        break;
    }
}

static int emit_map(ctx_t *c, const schema_field_t *f, const scan_t *s, uint32_t h, uint32_t depth)
{
    const schema_message_t *em = f->message;
    const schema_field_t *kf = schema_field_by_number(em, 1), *vf = schema_field_by_number(em, 2);
    if (kf == NULL || vf == NULL)
        return fail(c, f, GRPC_INTERNAL, "map entry without key or value in the schema");
    int str = key_is_string(kf);
    uint32_t n = 0;
    for (uint32_t i = h; i != NONE; i = s->recs[i].next)
        n++;
    entry_t *e = arena_alloc_aligned(c->out->arena, n * sizeof(entry_t), sizeof(uint64_t));
    if (e == NULL)
        return oom(c);
    uint32_t k = 0;
    for (uint32_t i = h; i != NONE; i = s->recs[i].next, k++)
        if (parse_entry(c, f, kf, vf, s->base + s->recs[i].v, s->recs[i].len, &e[k], depth) != 0)
            return -1;
    if (n > 1 && dedup_entries(c, e, n, str) != 0)
        return -1;

    int first = 1;
    buf_putc(c->out, '{');
    for (uint32_t i = 0; i < n; i++) {
        if (e[i].dead)
            continue;
        if (!first)
            buf_putc(c->out, ',');
        first = 0;
        if (str) {
            if (put_string(c->out, e[i].kp, e[i].klen, kf->type == SCHEMA_STRING) != 0)
                return fail(c, f, GRPC_INTERNAL, "invalid UTF-8 in map key");
        } else {
            put_map_key(c, kf, &e[i]);
        }
        buf_putc(c->out, ':');
        c->field = f;
        /* an entry without a value holds the value type's default */
        if (emit_value(c, vf, e[i].has_val ? e[i].val : zero_val, depth) != 0)
            return -1;
        if (over_limit(c))
            return fail_limit(c);
    }
    buf_putc(c->out, '}');
    return 0;
}

/* The whole value of field f as found by a scan: array, object or scalar. */
static int emit_field(ctx_t *c, const schema_field_t *f, const scan_t *s, uint32_t depth)
{
    uint32_t h = s->head[f->index];
    if (f->repeated)
        return f->is_map ? emit_map(c, f, s, h, depth) : emit_list(c, f, s, h, depth);
    if (f->type == SCHEMA_MESSAGE)
        return emit_singular_message(c, f, s, h, depth);
    return emit_value(c, f, rec_val(s, &s->recs[h]), depth);
}

/* The JSON of a field that is absent, when defaults are asked for. */
static int emit_default(ctx_t *c, const schema_field_t *f, uint32_t depth)
{
    if (f->repeated) {
        if (f->is_map)
            buf_puts_lit(c->out, "{}");
        else
            buf_puts_lit(c->out, "[]");
        return 0;
    }
    return emit_value(c, f, zero_val, depth);
}

static int emit_fields(ctx_t *c, const schema_message_t *m, const scan_t *s, int first, uint32_t depth)
{
    int emit_defaults = c->opt->emit_defaults;
    for (uint32_t i = 0; i < m->nfields; i++) {
        const schema_field_t *f = &m->fields[i];
        uint32_t h = s->head[i];
        if (h == NONE) {
            /* absent fields with presence print only as null (emit_null, and
             * never a oneof's other members); the rest are defaults */
            if (f->has_presence) {
                if (!c->opt->emit_null || f->oneof_index >= 0)
                    continue;
                put_key(c, f, &first);
                buf_puts_lit(c->out, "null");
                continue;
            }
            if (!emit_defaults || f->type == SCHEMA_GROUP)
                continue;
            put_key(c, f, &first);
            if (emit_default(c, f, depth) != 0)
                return -1;
        } else {
            if (!emit_defaults && !f->has_presence) {
                if (f->repeated ? list_is_empty(f, s, h) : is_default(f, rec_val(s, &s->recs[h])))
                    continue;
            }
            put_key(c, f, &first);
            if (emit_field(c, f, s, depth) != 0)
                return -1;
        }
        if (over_limit(c))
            return fail_limit(c);
    }
    return 0;
}

/* ---- well-known types ---- */

static int emit_any(ctx_t *c, const schema_message_t *m, const scan_t *s, uint32_t depth)
{
    const rec_t *tr = last_of(s, schema_field_by_number(m, 1));
    const rec_t *vr = last_of(s, schema_field_by_number(m, 2));
    size_t ulen = (tr && tr->len != REC_SCALAR) ? tr->len : 0;
    size_t vlen = (vr && vr->len != REC_SCALAR) ? vr->len : 0;
    if (ulen == 0) {
        if (vlen != 0)
            return fail(c, c->field, GRPC_INTERNAL, "Any has a value but no type_url");
        buf_puts_lit(c->out, "{}");
        return 0;
    }
    const char *url = (const char *)s->base + tr->v;
    const char *slash = memrchr(url, '/', ulen);
    if (slash == NULL)
        return fail(c, c->field, GRPC_INTERNAL, "Any type_url has no '/'");
    const char *name = slash + 1;
    size_t nlen = ulen - (size_t)(name - url);
    const schema_message_t *t = nlen ? schema_find_message(c->schema, name, nlen) : NULL;
    if (t == NULL) {
        int ul = ulen > 200 ? 200 : (int)ulen;
        if (c->field)
            status_set(c->st, GRPC_INTERNAL, "field \"%s\": unknown type in Any: \"%.*s\"",
                       field_name(c, c->field), ul, url);
        else
            status_set(c->st, GRPC_INTERNAL, "unknown type in Any: \"%.*s\"", ul, url);
        return -1;
    }
    if (depth + 1 > c->max_depth)
        return fail(c, c->field, GRPC_RESOURCE_EXHAUSTED, "nesting deeper than max_depth");
    const uint8_t *vp = vlen ? s->base + vr->v : empty_bytes;

    buf_puts_lit(c->out, "{\"@type\":");
    if (put_string(c->out, (const uint8_t *)url, ulen, 1) != 0)
        return fail(c, c->field, GRPC_INTERNAL, "invalid UTF-8 in Any type_url");
    /* Empty has no JSON form of its own: it is an object with no fields */
    if (t->wkt != WKT_NONE && t->wkt != WKT_EMPTY && (t->wkt != WKT_DECIMAL || c->opt->decimal_as_number)) {
        buf_puts_lit(c->out, ",\"value\":");
        if (emit_message(c, t, vp, vlen, depth + 1) != 0)
            return -1;
    } else {
        scan_t inner;
        if (scan_message(c, t, vp, vlen, &inner, depth + 1) != 0 || emit_fields(c, t, &inner, 0, depth + 1) != 0)
            return -1;
    }
    buf_putc(c->out, '}');
    return 0;
}

static int emit_field_mask(ctx_t *c, const schema_message_t *m, const scan_t *s)
{
    const schema_field_t *f = schema_field_by_number(m, 1);
    buf_putc(c->out, '"');
    if (f != NULL && f->type == SCHEMA_STRING) {
        int first = 1;
        for (uint32_t i = s->head[f->index]; i != NONE; i = s->recs[i].next) {
            const char *path = (const char *)s->base + s->recs[i].v;
            size_t len = s->recs[i].len;
            if (len == 0)
                return fail(c, c->field, GRPC_INTERNAL, "FieldMask path is empty");
            /* only identifier characters: anything else has no camelCase
             * spelling, and would need escaping besides */
            for (size_t k = 0; k < len; k++) {
                char ch = path[k];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '_' || ch == '.'))
                    return fail(c, c->field, GRPC_INTERNAL, "FieldMask path is not a field path");
            }
            if (!first)
                buf_putc(c->out, ',');
            first = 0;
            if (scalar_snake_to_camel(c->out, path, len) != 0)
                return fail(c, c->field, GRPC_INTERNAL, "FieldMask path has no JSON spelling");
        }
    }
    buf_putc(c->out, '"');
    return 0;
}

static int emit_value_wkt(ctx_t *c, const schema_message_t *m, const scan_t *s, uint32_t depth)
{
    /* the scan kept only the last member of the kind oneof */
    for (uint32_t i = 0; i < m->nfields; i++) {
        const schema_field_t *f = &m->fields[i];
        uint32_t h = s->head[i];
        if (h == NONE || f->repeated)
            continue;
        if (f->type == SCHEMA_DOUBLE) {
            double x;
            memcpy(&x, &s->recs[s->tail[i]].v, sizeof(x));
            if (!isfinite(x))
                return fail(c, c->field, GRPC_INTERNAL, "google.protobuf.Value number is NaN or infinite");
        }
        return emit_field(c, f, s, depth);
    }
    return fail(c, c->field, GRPC_INTERNAL, "google.protobuf.Value has no kind set");
}

/* RFC 3339 "...T12:34:56.120Z" just written -> Java's LocalDateTime text as
 * Jackson writes it (ISO_LOCAL_DATE_TIME): no offset, and the fraction
 * without trailing zeros, "...T12:34:56.12". */
static void local_date_time(buf_t *out)
{
    if (out->oom || out->len == 0)
        return;
    char *p = (char *)out->data;
    size_t n = out->len - 1; /* drop the 'Z' */
    size_t dot = n;
    while (dot > 0 && p[dot - 1] != '.' && p[dot - 1] != ':')
        dot--;
    if (dot > 0 && p[dot - 1] == '.') {
        while (n > dot && p[n - 1] == '0')
            n--;
        if (n == dot)
            n--; /* no digits left: no '.' either */
    }
    out->len = n;
}

/* google.type.Decimal under decimal_as_number: its digits as a JSON number,
 * as the service wrote them (BigDecimal's "12.50" stays 12.50; its "+1.5"
 * is 1.5). A value that is no decimal is the service's bug: an error, not
 * a guess. An empty one is zero, the message's default. */
static int emit_decimal(ctx_t *c, const schema_message_t *m, const scan_t *s)
{
    const rec_t *r = last_of(s, schema_field_by_number(m, 1));
    if (r == NULL || r->len == REC_SCALAR || r->len == 0) {
        buf_putc(c->out, '0');
        return 0;
    }
    if (scalar_decimal_to_json(c->out, (const char *)s->base + r->v, r->len) != 0)
        return fail(c, c->field, GRPC_INTERNAL, "google.type.Decimal value is not a decimal number");
    return 0;
}

static int emit_wkt(ctx_t *c, const schema_message_t *m, const scan_t *s, uint32_t depth)
{
    const schema_field_t *f1 = schema_field_by_number(m, 1);
    const rec_t *r;
    switch (m->wkt) {
    case WKT_TIMESTAMP:
    case WKT_DURATION: {
        r = last_of(s, f1);
        int64_t seconds = r ? (int64_t)r->v : 0;
        r = last_of(s, schema_field_by_number(m, 2));
        int32_t nanos = r ? (int32_t)(uint32_t)r->v : 0;
        buf_putc(c->out, '"');
        int rc = m->wkt == WKT_TIMESTAMP ? scalar_format_timestamp(c->out, seconds, nanos)
                                         : scalar_format_duration(c->out, seconds, nanos);
        if (rc != 0)
            return fail(c, c->field, GRPC_INTERNAL,
                        m->wkt == WKT_TIMESTAMP ? "timestamp out of range" : "duration out of range");
        if (m->wkt == WKT_TIMESTAMP && c->opt->timestamp_local)
            local_date_time(c->out);
        buf_putc(c->out, '"');
        return 0;
    }
    case WKT_DECIMAL:
        return emit_decimal(c, m, s);
    case WKT_FIELD_MASK:
        return emit_field_mask(c, m, s);
    case WKT_STRUCT:
        if (f1 == NULL || !f1->is_map || s->head[f1->index] == NONE) {
            buf_puts_lit(c->out, "{}");
            return 0;
        }
        return emit_map(c, f1, s, s->head[f1->index], depth);
    case WKT_LIST_VALUE:
        if (f1 == NULL || !f1->repeated || s->head[f1->index] == NONE) {
            buf_puts_lit(c->out, "[]");
            return 0;
        }
        return emit_list(c, f1, s, s->head[f1->index], depth);
    case WKT_VALUE:
        return emit_value_wkt(c, m, s, depth);
    case WKT_ANY:
        return emit_any(c, m, s, depth);
    default: /* the wrappers: the bare value, default included */
        if (f1 == NULL || f1->repeated)
            return fail(c, c->field, GRPC_INTERNAL, "wrapper type without a value field");
        r = last_of(s, f1);
        if (r == NULL)
            return emit_value(c, f1, zero_val, depth);
        if (f1->type == SCHEMA_MESSAGE)
            return emit_singular_message(c, f1, s, s->head[f1->index], depth);
        return emit_value(c, f1, rec_val(s, r), depth);
    }
}

static int emit_message(ctx_t *c, const schema_message_t *m, const uint8_t *p, size_t len, uint32_t depth)
{
    if (depth > c->max_depth)
        return fail(c, c->field, GRPC_RESOURCE_EXHAUSTED, "nesting deeper than max_depth");
    scan_t s;
    if (scan_message(c, m, p, len, &s, depth) != 0)
        return -1;
    if (m->wkt != WKT_NONE && m->wkt != WKT_EMPTY && (m->wkt != WKT_DECIMAL || c->opt->decimal_as_number))
        return emit_wkt(c, m, &s, depth);
    buf_putc(c->out, '{');
    if (emit_fields(c, m, &s, 1, depth) != 0)
        return -1;
    buf_putc(c->out, '}');
    return 0;
}

/* ---- entry points ---- */

static int start(ctx_t *c, const schema_t *schema, const transcode_options_t *opt, buf_t *out, status_t *st,
                 size_t len)
{
    c->schema = schema;
    c->opt = opt;
    c->out = out;
    c->st = st;
    c->field = NULL;
    c->max_depth = opt->max_depth ? opt->max_depth : TRANSCODE_DEFAULT_MAX_DEPTH;
    size_t max_output = opt->max_output ? opt->max_output : TRANSCODE_DEFAULT_MAX_OUTPUT;
    c->limit = out->len + max_output < out->len ? SIZE_MAX : out->len + max_output;
    /* rec_t keeps offsets and lengths in 32 bits */
    if (len >= UINT32_MAX)
        return fail(c, NULL, GRPC_RESOURCE_EXHAUSTED, "protobuf message too large");
    return 0;
}

static int finish(ctx_t *c, int rc, size_t start_len)
{
    if (rc == 0 && over_limit(c))
        rc = fail_limit(c);
    if (rc != 0)
        c->out->len = start_len;
    return rc;
}

int transcode_pb_to_json(const schema_t *schema, const schema_message_t *msg, const uint8_t *pb, size_t len,
                         const transcode_options_t *opt, buf_t *out, status_t *st)
{
    ctx_t c;
    size_t start_len = out->len;
    if (start(&c, schema, opt, out, st, len) != 0)
        return -1;
    return finish(&c, emit_message(&c, msg, len ? pb : empty_bytes, len, 1), start_len);
}

int transcode_pb_field_to_json(const schema_t *schema, const schema_message_t *msg, const schema_field_t *field,
                               const uint8_t *pb, size_t len, const transcode_options_t *opt, buf_t *out,
                               status_t *st)
{
    ctx_t c;
    size_t start_len = out->len;
    if (start(&c, schema, opt, out, st, len) != 0)
        return -1;
    if (field == NULL || field->index >= msg->nfields || &msg->fields[field->index] != field)
        return fail(&c, NULL, GRPC_INTERNAL, "response field is not a field of the response message");
    if (c.max_depth < 1)
        return fail(&c, NULL, GRPC_RESOURCE_EXHAUSTED, "nesting deeper than max_depth");
    scan_t s;
    int rc = scan_message(&c, msg, len ? pb : empty_bytes, len, &s, 1);
    if (rc == 0) {
        c.field = field;
        if (s.head[field->index] != NONE)
            rc = emit_field(&c, field, &s, 1);
        else if (field->type == SCHEMA_MESSAGE && !field->repeated && field->message->wkt == WKT_VALUE)
            buf_puts_lit(out, "null"); /* an unset Value has no JSON of its own */
        else
            rc = emit_default(&c, field, 1);
    }
    return finish(&c, rc, start_len);
}
