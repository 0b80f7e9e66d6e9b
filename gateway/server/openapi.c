/*
 * openapi.c: descriptor set + bindings + route profiles -> one jdoc tree,
 * written once as YAML and once as JSON, then served from memory.
 *
 * A message's JSON form depends on the knobs of the route that prints it
 * (its "flavour": names, enums, int64, Decimal, Timestamp, nulls). Each
 * (message, flavour) is one component, built on first use; when every route
 * shares one flavour (the usual case) components carry the bare message
 * name, otherwise the flavour's tag too ("aurigraph.v11.Transaction-v11").
 * Path and query parameters are text, so their schemas are the text forms
 * binding.c reads, whatever the flavour.
 */
#include "server/openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jdoc.h"
#include "core/status.h"
#include "http/response.h"
#include "server/worker.h"
#include "transcode/profile.h"

#define OPENAPI_VERSION "3.1.0"
#define OPENAPI_MAX_FLAVOURS 64  /* one per combination of the six knobs */
#define OPENAPI_MAX_QUERY_DEPTH 8 /* "a.b.c" query parameters: how deep into nested messages */
#define OPENAPI_MAX_ONEOF_PAIRS 64 /* beyond this a oneof is stated in words only */

/* The knobs that change a message's JSON form. */
typedef struct flavour {
    uint8_t bits;
    char tag[16];
} flavour_t;

enum {
    FL_PROTO_NAMES = 1, FL_ENUM_INTS = 2, FL_INT64_NUMBER = 4, FL_DECIMAL_NUMBER = 8, FL_EMIT_NULL = 16,
    FL_LOCAL_TIME = 32,
};

typedef struct gen {
    jdoc_t *d;
    const schema_t *schema;
    jdoc_node_t *schemas;   /* components.schemas */
    jdoc_node_t *responses; /* components.responses */
    flavour_t flavours[OPENAPI_MAX_FLAVOURS];
    size_t nflavours;
    const flavour_t *fl;    /* the flavour being written */
} gen_t;

static uint8_t flavour_bits(const transcode_options_t *o)
{
    return (uint8_t)((o->use_proto_names ? FL_PROTO_NAMES : 0) | (o->enums_as_ints ? FL_ENUM_INTS : 0) |
                     (o->int64_as_number ? FL_INT64_NUMBER : 0) | (o->decimal_as_number ? FL_DECIMAL_NUMBER : 0) |
                     (o->emit_null ? FL_EMIT_NULL : 0) | (o->timestamp_local ? FL_LOCAL_TIME : 0));
}

/* Named after a built-in profile when its knobs are exactly that profile's. */
static const flavour_t *flavour_for(gen_t *g, const transcode_options_t *o)
{
    uint8_t bits = flavour_bits(o);
    for (size_t i = 0; i < g->nflavours; i++)
        if (g->flavours[i].bits == bits)
            return &g->flavours[i];
    flavour_t *f = &g->flavours[g->nflavours++];
    f->bits = bits;
    snprintf(f->tag, sizeof(f->tag), "json%02x", bits);
    static const char *const names[] = {"proto3", "v11"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const json_profile_t *p = json_profile_find(names[i]);
        if (p && flavour_bits(&p->knobs) == bits)
            snprintf(f->tag, sizeof(f->tag), "%s", p->name);
    }
    return f;
}

/* ---- small builders ----------------------------------------------------- */

static jdoc_node_t *str(gen_t *g, const char *s) { return jdoc_string(g->d, s); }

static void set_str(gen_t *g, jdoc_node_t *obj, const char *key, const char *v)
{
    if (v)
        jdoc_set(g->d, obj, key, str(g, v));
}

/* {"type": t} or, when it may be null, {"type": [t, "null"]} */
static jdoc_node_t *typed(gen_t *g, const char *type, int nullable)
{
    jdoc_node_t *s = jdoc_object(g->d);
    if (nullable) {
        jdoc_node_t *a = jdoc_set(g->d, s, "type", jdoc_array(g->d));
        jdoc_push(g->d, a, str(g, type));
        jdoc_push(g->d, a, str(g, "null"));
    } else {
        set_str(g, s, "type", type);
    }
    return s;
}

static jdoc_node_t *ref_to(gen_t *g, const char *section, const char *name)
{
    char target[640];
    snprintf(target, sizeof(target), "#/components/%s/%.520s", section, name);
    jdoc_node_t *r = jdoc_object(g->d);
    set_str(g, r, "$ref", target);
    return r;
}

/* A $ref that may be null: {"anyOf": [ref, {"type": "null"}]} */
static jdoc_node_t *maybe_null(gen_t *g, jdoc_node_t *s, int nullable)
{
    if (!nullable)
        return s;
    jdoc_node_t *o = jdoc_object(g->d);
    jdoc_node_t *any = jdoc_set(g->d, o, "anyOf", jdoc_array(g->d));
    jdoc_push(g->d, any, s);
    jdoc_push(g->d, any, typed(g, "null", 0));
    return o;
}

/* ---- JSON bodies: a message's form under the current flavour ------------ */

static jdoc_node_t *message_schema(gen_t *g, const schema_message_t *m, int nullable);

static void component_name(gen_t *g, const char *full_name, char *out, size_t len)
{
    if (g->nflavours > 1)
        snprintf(out, len, "%s-%s", full_name, g->fl->tag);
    else
        snprintf(out, len, "%s", full_name);
}

static jdoc_node_t *enum_schema(gen_t *g, const schema_enum_t *e, int nullable)
{
    if (e->is_null_value)
        return typed(g, "null", 0);
    char name[512];
    component_name(g, e->full_name, name, sizeof(name));
    if (jdoc_get(g->schemas, name) == NULL) {
        int ints = g->fl->bits & FL_ENUM_INTS;
        jdoc_node_t *s = jdoc_set(g->d, g->schemas, name, typed(g, ints ? "integer" : "string", 0));
        if (ints)
            set_str(g, s, "format", "int32");
        set_str(g, s, "description", e->comment);
        jdoc_node_t *vals = jdoc_set(g->d, s, "enum", jdoc_array(g->d));
        for (uint32_t i = 0; i < e->nvalues; i++) {
            if (ints) {
                /* aliases print as the first name's number once */
                if (schema_enum_by_number(e, e->values[i].number) == &e->values[i])
                    jdoc_push(g->d, vals, jdoc_int(g->d, e->values[i].number));
            } else {
                jdoc_push(g->d, vals, str(g, e->values[i].name));
            }
        }
    }
    return maybe_null(g, ref_to(g, "schemas", name), nullable);
}

/* An integer kind: int32-sized ones are JSON numbers always; 64-bit ones are
 * strings unless the flavour prints them as numbers. text: a parameter. */
static jdoc_node_t *integer_schema(gen_t *g, int type, int nullable, int text)
{
    int wide = type == SCHEMA_INT64 || type == SCHEMA_SINT64 || type == SCHEMA_SFIXED64 || type == SCHEMA_UINT64 ||
               type == SCHEMA_FIXED64;
    int is_unsigned = type == SCHEMA_UINT64 || type == SCHEMA_FIXED64 || type == SCHEMA_UINT32 ||
                      type == SCHEMA_FIXED32;
    if (wide && !text && !(g->fl->bits & FL_INT64_NUMBER)) {
        jdoc_node_t *s = typed(g, "string", nullable);
        set_str(g, s, "format", is_unsigned ? "uint64" : "int64");
        set_str(g, s, "pattern", is_unsigned ? "^[0-9]+$" : "^-?[0-9]+$");
        return s;
    }
    jdoc_node_t *s = typed(g, "integer", nullable);
    if (is_unsigned) {
        set_str(g, s, "format", wide ? "uint64" : "uint32");
        jdoc_set(g->d, s, "minimum", jdoc_int(g->d, 0));
        if (!wide)
            jdoc_set(g->d, s, "maximum", jdoc_int(g->d, 4294967295LL));
    } else {
        set_str(g, s, "format", wide ? "int64" : "int32");
    }
    return s;
}

static jdoc_node_t *scalar_schema(gen_t *g, int type, int nullable, int text)
{
    switch (type) {
    case SCHEMA_DOUBLE:
    case SCHEMA_FLOAT: {
        jdoc_node_t *s = typed(g, "number", nullable);
        set_str(g, s, "format", type == SCHEMA_DOUBLE ? "double" : "float");
        return s;
    }
    case SCHEMA_BOOL: return typed(g, "boolean", nullable);
    case SCHEMA_STRING: return typed(g, "string", nullable);
    case SCHEMA_BYTES: {
        jdoc_node_t *s = typed(g, "string", nullable);
        set_str(g, s, "contentEncoding", "base64");
        return s;
    }
    default: return integer_schema(g, type, nullable, text);
    }
}

static const char *const LOCAL_DATE_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?$";

/* Well-known types print as their own JSON, not an object of fields. NULL
 * for an ordinary message (and Decimal where it is one). text: the form a
 * parameter takes, NULL where a parameter cannot be one. */
static jdoc_node_t *wkt_schema(gen_t *g, const schema_message_t *m, int nullable, int text)
{
    const schema_field_t *v = m->nfields ? &m->fields[0] : NULL;
    jdoc_node_t *s;
    switch (m->wkt) {
    case WKT_TIMESTAMP:
        s = typed(g, "string", nullable);
        if ((g->fl->bits & FL_LOCAL_TIME) && !text) {
            set_str(g, s, "pattern", LOCAL_DATE_TIME);
            set_str(g, s, "description", "Java's LocalDateTime: UTC, no offset, no trailing zeros "
                                         "(read: that or RFC 3339)");
        } else {
            set_str(g, s, "format", "date-time");
        }
        return s;
    case WKT_DURATION:
        s = typed(g, "string", nullable);
        set_str(g, s, "pattern", "^-?[0-9]+(\\.[0-9]{1,9})?s$");
        return s;
    case WKT_FIELD_MASK:
        s = typed(g, "string", nullable);
        set_str(g, s, "description", "field paths, comma-separated, in lowerCamelCase");
        return s;
    case WKT_DECIMAL:
        if (!(g->fl->bits & FL_DECIMAL_NUMBER))
            return NULL;
        s = typed(g, "number", nullable);
        set_str(g, s, "description", "a decimal number, all its digits kept");
        return s;
    case WKT_STRUCT: return text ? NULL : typed(g, "object", nullable);
    case WKT_LIST_VALUE: return text ? NULL : typed(g, "array", nullable);
    case WKT_VALUE:
        if (text)
            return NULL;
        s = jdoc_object(g->d); /* any JSON value, null included */
        set_str(g, s, "description", "any JSON value");
        return s;
    case WKT_ANY:
        if (text)
            return NULL;
        s = typed(g, "object", nullable);
        jdoc_push(g->d, jdoc_set(g->d, s, "required", jdoc_array(g->d)), str(g, "@type"));
        set_str(g, jdoc_child(g->d, jdoc_child(g->d, s, "properties"), "@type"), "type", "string");
        set_str(g, s, "description", "a message of any type, named by \"@type\", with its fields");
        return s;
    case WKT_EMPTY: return text ? NULL : typed(g, "object", nullable);
    case WKT_NONE: return NULL;
    default: /* the wrappers: their value alone */
        if (v == NULL)
            return NULL;
        return scalar_schema(g, v->type, nullable, text);
    }
}

/* One element of f (a value of a repeated field, a map's value). */
static jdoc_node_t *element_schema(gen_t *g, const schema_field_t *f, int nullable)
{
    if (f->type == SCHEMA_MESSAGE || f->type == SCHEMA_GROUP)
        return message_schema(g, f->message, nullable);
    if (f->type == SCHEMA_ENUM)
        return enum_schema(g, f->enumeration, nullable);
    return scalar_schema(g, f->type, nullable, 0);
}

/* A map's keys are JSON object keys: text, of the key field's kind. */
static const char *map_key_pattern(const schema_field_t *key)
{
    switch (key->type) {
    case SCHEMA_STRING: return NULL;
    case SCHEMA_BOOL: return "^(true|false)$";
    case SCHEMA_UINT32: case SCHEMA_UINT64: case SCHEMA_FIXED32: case SCHEMA_FIXED64: return "^[0-9]+$";
    default: return "^-?[0-9]+$";
    }
}

/* The value of field f as its message prints it. may_be_null: an absent
 * field with presence prints null (the flavour's emit_null), never a oneof
 * member. */
static jdoc_node_t *field_schema(gen_t *g, const schema_field_t *f, int may_be_null)
{
    jdoc_node_t *s;
    if (f->is_map && f->message && f->message->nfields == 2) {
        s = typed(g, "object", 0);
        const char *pattern = map_key_pattern(&f->message->fields[0]);
        if (pattern)
            set_str(g, jdoc_child(g->d, s, "propertyNames"), "pattern", pattern);
        jdoc_set(g->d, s, "additionalProperties", element_schema(g, &f->message->fields[1], 0));
    } else if (f->repeated) {
        s = typed(g, "array", 0);
        jdoc_set(g->d, s, "items", element_schema(g, f, 0));
    } else {
        int nullable = may_be_null && (g->fl->bits & FL_EMIT_NULL) && f->has_presence && f->oneof_index < 0;
        s = element_schema(g, f, nullable);
    }
    return s;
}

static const char *json_key(gen_t *g, const schema_field_t *f)
{
    return (g->fl->bits & FL_PROTO_NAMES) ? f->name : f->json_name;
}

/* Field f's schema with its comment (and its oneof) as the description. */
static jdoc_node_t *property_schema(gen_t *g, const schema_message_t *m, const schema_field_t *f)
{
    jdoc_node_t *s = field_schema(g, f, 1);
    char note[512];
    const char *desc = f->comment;
    if (f->oneof_index >= 0) {
        snprintf(note, sizeof(note), "%s%sOne of oneof \"%s\": at most one of its fields is set.",
                 f->comment ? f->comment : "", f->comment ? "\n\n" : "", m->oneof_names[f->oneof_index]);
        desc = note;
    }
    /* every schema here is a fresh object (a $ref too: 3.1 lets a
     * description stand beside it), so this clobbers nothing shared; what
     * the form itself says (LocalDateTime) follows the field's comment */
    const char *own = jdoc_text(jdoc_get(s, "description"));
    if (desc && own) {
        char both[1024];
        snprintf(both, sizeof(both), "%s\n\n%s", desc, own);
        set_str(g, s, "description", both);
    } else {
        set_str(g, s, "description", desc);
    }
    return s;
}

/* "No two members of one oneof": not (anyOf (required [a, b]) ...). */
static void oneof_constraint(gen_t *g, const schema_message_t *m, jdoc_node_t *s)
{
    size_t pairs = 0;
    for (uint32_t i = 0; i < m->nfields; i++)
        for (uint32_t j = i + 1; j < m->nfields; j++)
            if (m->fields[i].oneof_index >= 0 && m->fields[i].oneof_index == m->fields[j].oneof_index)
                pairs++;
    if (pairs == 0 || pairs > OPENAPI_MAX_ONEOF_PAIRS)
        return;
    jdoc_node_t *any = jdoc_set(g->d, jdoc_child(g->d, s, "not"), "anyOf", jdoc_array(g->d));
    for (uint32_t i = 0; i < m->nfields; i++) {
        for (uint32_t j = i + 1; j < m->nfields; j++) {
            if (m->fields[i].oneof_index < 0 || m->fields[i].oneof_index != m->fields[j].oneof_index)
                continue;
            jdoc_node_t *req = jdoc_set(g->d, jdoc_push(g->d, any, jdoc_object(g->d)), "required", jdoc_array(g->d));
            jdoc_push(g->d, req, str(g, json_key(g, &m->fields[i])));
            jdoc_push(g->d, req, str(g, json_key(g, &m->fields[j])));
        }
    }
}

static jdoc_node_t *message_schema(gen_t *g, const schema_message_t *m, int nullable)
{
    jdoc_node_t *w = wkt_schema(g, m, nullable, 0);
    if (w)
        return w;
    char name[512];
    component_name(g, m->full_name, name, sizeof(name));
    if (jdoc_get(g->schemas, name) == NULL) {
        /* set before its fields, so a message that holds itself refers back */
        jdoc_node_t *s = jdoc_set(g->d, g->schemas, name, typed(g, "object", 0));
        set_str(g, s, "description", m->comment);
        jdoc_node_t *props = jdoc_set(g->d, s, "properties", jdoc_object(g->d));
        for (uint32_t i = 0; i < m->nfields; i++) {
            const schema_field_t *f = &m->fields[i];
            if (f->type == SCHEMA_GROUP)
                continue; /* proto2 groups have no JSON form here */
            jdoc_set(g->d, props, json_key(g, f), property_schema(g, m, f));
        }
        oneof_constraint(g, m, s);
    }
    return maybe_null(g, ref_to(g, "schemas", name), nullable);
}

/* ---- parameters --------------------------------------------------------- */

/* The text form binding.c reads for field f (repeated: one per occurrence),
 * or NULL where a parameter cannot set it (maps, messages). */
static jdoc_node_t *param_schema(gen_t *g, const schema_field_t *f)
{
    jdoc_node_t *one;
    if (f->is_map)
        return NULL;
    if (f->type == SCHEMA_MESSAGE || f->type == SCHEMA_GROUP)
        one = f->message->wkt != WKT_NONE ? wkt_schema(g, f->message, 0, 1) : NULL;
    else if (f->type == SCHEMA_ENUM)
        one = f->enumeration->is_null_value ? NULL : enum_schema(g, f->enumeration, 0);
    else
        one = scalar_schema(g, f->type, 0, 1);
    if (one == NULL || !f->repeated)
        return one;
    jdoc_node_t *s = typed(g, "array", 0);
    jdoc_set(g->d, s, "items", one);
    return s;
}

static jdoc_node_t *parameter(gen_t *g, jdoc_node_t *params, const char *name, const char *in,
                              const schema_field_t *f, jdoc_node_t *schema)
{
    jdoc_node_t *p = jdoc_push(g->d, params, jdoc_object(g->d));
    set_str(g, p, "name", name);
    set_str(g, p, "in", in);
    set_str(g, p, "description", f ? f->comment : NULL);
    if (strcmp(in, "path") == 0)
        jdoc_set(g->d, p, "required", jdoc_bool(g->d, 1));
    jdoc_set(g->d, p, "schema", schema);
    return p;
}

typedef struct bound_path {
    const schema_field_t *chain[OPENAPI_MAX_QUERY_DEPTH];
    int depth;
} bound_path_t;

/* Resolves a template variable's "a.b" through the input message. */
static int resolve_chain(const schema_message_t *m, const char *path, size_t len, bound_path_t *out)
{
    out->depth = 0;
    size_t i = 0;
    while (i <= len && m && out->depth < OPENAPI_MAX_QUERY_DEPTH) {
        size_t j = i;
        while (j < len && path[j] != '.')
            j++;
        const schema_field_t *f = schema_field_by_name(m, path + i, j - i);
        if (f == NULL)
            return -1;
        out->chain[out->depth++] = f;
        if (j >= len)
            return 0;
        m = f->type == SCHEMA_MESSAGE ? f->message : NULL;
        i = j + 1;
    }
    return -1;
}

typedef struct query_walk {
    gen_t *g;
    jdoc_node_t *params;
    const binding_t *b;
    const bound_path_t *bound;
    size_t nbound;
    const schema_field_t *chain[OPENAPI_MAX_QUERY_DEPTH];
    const schema_message_t *stack[OPENAPI_MAX_QUERY_DEPTH];
} query_walk_t;

static int is_bound(const query_walk_t *q, int depth)
{
    for (size_t i = 0; i < q->nbound; i++) {
        if (q->bound[i].depth != depth)
            continue;
        int same = 1;
        for (int k = 0; k < depth && same; k++)
            same = q->bound[i].chain[k] == q->chain[k];
        if (same)
            return 1;
    }
    return 0;
}

/* Every field the query may set: what neither the path nor the body binds,
 * nested messages as "a.b" (each message once on the way down, so a
 * message that holds itself ends). */
static void query_params(query_walk_t *q, const schema_message_t *m, int depth)
{
    gen_t *g = q->g;
    q->stack[depth] = m;
    for (uint32_t i = 0; i < m->nfields; i++) {
        const schema_field_t *f = &m->fields[i];
        q->chain[depth] = f;
        if (depth == 0 && q->b->body == BINDING_BODY_FIELD && f == q->b->body_field)
            continue;
        if (is_bound(q, depth + 1))
            continue;
        if (f->type == SCHEMA_MESSAGE && !f->repeated && f->message->wkt == WKT_NONE) {
            int seen = 0;
            for (int k = 0; k <= depth; k++)
                seen |= q->stack[k] == f->message;
            if (!seen && depth + 1 < OPENAPI_MAX_QUERY_DEPTH)
                query_params(q, f->message, depth + 1);
            continue;
        }
        jdoc_node_t *schema = param_schema(g, f);
        if (schema == NULL)
            continue;
        char name[512];
        size_t at = 0;
        for (int k = 0; k <= depth && at < sizeof(name); k++)
            at += (size_t)snprintf(name + at, sizeof(name) - at, "%s%s", k ? "." : "", json_key(g, q->chain[k]));
        if (at >= sizeof(name))
            continue;
        parameter(g, q->params, name, "query", f, schema);
    }
}

/* ---- operations --------------------------------------------------------- */

typedef struct template_var {
    char path[256];
    char pattern[256]; /* "" for a plain {x} */
} template_var_t;

/* A template's {name=shelves/STAR} -> OpenAPI's {name}, the variables'
 * field paths and patterns into vars (at most nvars). Returns the variable
 * count, or -1 when the template does not fit. */

static int openapi_path(const char *tmpl, char *out, size_t len, template_var_t *vars, int nvars)
{
    size_t o = 0;
    int n = 0;
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            if (o + 1 >= len)
                return -1;
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (end == NULL || n == nvars)
            return -1;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *name_end = eq ? eq : end;
        int wrote = snprintf(vars[n].path, sizeof(vars[n].path), "%.*s", (int)(name_end - p - 1), p + 1);
        int pw = snprintf(vars[n].pattern, sizeof(vars[n].pattern), "%.*s", eq ? (int)(end - eq - 1) : 0,
                          eq ? eq + 1 : "");
        if (wrote < 0 || (size_t)wrote >= sizeof(vars[n].path) || pw < 0 || (size_t)pw >= sizeof(vars[n].pattern))
            return -1;
        if (strcmp(vars[n].pattern, "*") == 0)
            vars[n].pattern[0] = '\0';
        int w = snprintf(out + o, len - o, "{%s}", vars[n].path);
        if (w < 0 || (size_t)w >= len - o)
            return -1;
        o += (size_t)w;
        n++;
        p = end + 1;
    }
    out[o] = '\0';
    return n;
}

/* "/a/{x}/b" and "/a/{y}/b" are one path to OpenAPI. */
static void path_shape(const char *path, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = path; *p && o + 3 < len; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end == NULL)
                break;
            out[o++] = '{';
            out[o++] = '}';
            p = end;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static const char *const http_methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

static const char *openapi_method(const char *method, char *lower, size_t len)
{
    size_t n = strlen(method);
    if (n + 1 > len)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
    for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
        if (strcmp(lower, http_methods[i]) == 0)
            return http_methods[i];
    return NULL;
}

/* The error bodies, one per shape: V11's carries "error" too. */
static const char *error_schema(gen_t *g, int error_field)
{
    const char *name = error_field ? "V11Error" : "Error";
    if (jdoc_get(g->schemas, name))
        return name;
    jdoc_node_t *s = jdoc_set(g->d, g->schemas, name, typed(g, "object", 0));
    set_str(g, s, "description",
            error_field ? "The gateway's and the services' errors on routes of the v11 JSON profile: the "
                          "contract's error body with \"error\" (the message, as the original platform's clients "
                          "read it) first."
                        : "The gateway's and the services' errors: the contract's error body (google.rpc.Status "
                          "in JSON).");
    jdoc_node_t *req = jdoc_set(g->d, s, "required", jdoc_array(g->d));
    jdoc_node_t *props = jdoc_set(g->d, s, "properties", jdoc_object(g->d));
    if (error_field) {
        jdoc_push(g->d, req, str(g, "error"));
        set_str(g, jdoc_set(g->d, props, "error", typed(g, "string", 0)), "description", "the same as message");
    }
    jdoc_push(g->d, req, str(g, "code"));
    jdoc_push(g->d, req, str(g, "message"));
    jdoc_push(g->d, req, str(g, "details"));
    jdoc_node_t *code = jdoc_set(g->d, props, "code", typed(g, "integer", 0));
    set_str(g, code, "format", "int32");
    jdoc_set(g->d, code, "minimum", jdoc_int(g->d, 0));
    jdoc_set(g->d, code, "maximum", jdoc_int(g->d, GRPC_CODE_MAX));
    char names[600];
    size_t at = (size_t)snprintf(names, sizeof(names), "the gRPC status code:");
    for (int c = 0; c <= GRPC_CODE_MAX && at < sizeof(names); c++)
        at += (size_t)snprintf(names + at, sizeof(names) - at, "%s %d %s", c ? "," : "", c, status_grpc_name(c));
    set_str(g, code, "description", names);
    set_str(g, jdoc_set(g->d, props, "message", typed(g, "string", 0)), "description",
            "what went wrong and where (a field's name, for bad input)");
    jdoc_node_t *details = jdoc_set(g->d, props, "details", typed(g, "array", 0));
    set_str(g, details, "description", "the service's google.rpc.Status details (grpc-status-details-bin), "
                                       "each an Any in JSON");
    jdoc_node_t *item = jdoc_set(g->d, details, "items", typed(g, "object", 0));
    jdoc_push(g->d, jdoc_set(g->d, item, "required", jdoc_array(g->d)), str(g, "@type"));
    set_str(g, jdoc_child(g->d, jdoc_child(g->d, item, "properties"), "@type"), "type", "string");
    return name;
}

/* "INVALID_ARGUMENT, FAILED_PRECONDITION" (the codes mapped to http), or
 * with other set, every code mapped to none of the listed statuses. */
static void codes_for(int http, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (int c = 1; c <= GRPC_CODE_MAX && at < len; c++)
        if (status_http_from_grpc(c) == http)
            at += (size_t)snprintf(out + at, len - at, "%s%s", at ? ", " : "", status_grpc_name(c));
}

static const int listed_statuses[] = {400, 404, 413, 415, 503, 504};

/* components.responses: the error response of one shape for http (0: any
 * other); its name into name. */
static void error_response(gen_t *g, int http, int error_field, char *name, size_t len)
{
    const char *base;
    switch (http) {
    case 400: base = "BadRequest"; break;
    case 404: base = "NotFound"; break;
    case 413: base = "PayloadTooLarge"; break;
    case 415: base = "UnsupportedMediaType"; break;
    case 503: base = "Unavailable"; break;
    case 504: base = "GatewayTimeout"; break;
    default: base = "OtherError"; break;
    }
    snprintf(name, len, "%s%s", base, error_field ? "V11" : "");
    if (jdoc_get(g->responses, name))
        return;
    char codes[300], desc[1200];
    codes_for(http, codes, sizeof(codes));
    switch (http) {
    case 400:
        snprintf(desc, sizeof(desc), "Bad JSON, or a body, path or query value the route cannot read (the "
                                     "message names the field); or the service's %s", codes);
        break;
    case 404: snprintf(desc, sizeof(desc), "The service's %s", codes); break;
    case 413: snprintf(desc, sizeof(desc), "The body is over the gateway's max_body"); break;
    case 415: snprintf(desc, sizeof(desc), "A body whose Content-Type is not application/json (or +json)"); break;
    case 503:
        snprintf(desc, sizeof(desc), "The upstream is down or unreachable; or the service's %s", codes);
        break;
    case 504: snprintf(desc, sizeof(desc), "The deadline passed; or the service's %s", codes); break;
    default: {
        size_t at = (size_t)snprintf(desc, sizeof(desc), "Any other gRPC status of the service, as HTTP:");
        int seen[600] = {0};
        for (int c = 1; c <= GRPC_CODE_MAX && at < sizeof(desc); c++) {
            int h = status_http_from_grpc(c);
            int listed = 0;
            for (size_t k = 0; k < sizeof(listed_statuses) / sizeof(listed_statuses[0]); k++)
                listed |= listed_statuses[k] == h;
            if (listed || h >= 600 || seen[h]++)
                continue;
            codes_for(h, codes, sizeof(codes));
            at += (size_t)snprintf(desc + at, sizeof(desc) - at, " %d %s (%s);", h, response_reason(h), codes);
        }
        if (at < sizeof(desc) && desc[at - 1] == ';')
            desc[at - 1] = '\0';
    }
    }
    jdoc_node_t *r = jdoc_set(g->d, g->responses, name, jdoc_object(g->d));
    set_str(g, r, "description", desc);
    jdoc_set(g->d, jdoc_child(g->d, jdoc_child(g->d, r, "content"), "application/json"), "schema",
             ref_to(g, "schemas", error_schema(g, error_field)));
}

static void undescribed(gen_t *g, jdoc_node_t *root, const binding_t *b, const char *why)
{
    char line[700];
    snprintf(line, sizeof(line), "%s %s (%s): %s", b->rule->method, b->rule->path, b->method->full_name, why);
    jdoc_node_t *list = jdoc_get(root, "x-aurigraph-undescribed");
    if (list == NULL)
        list = jdoc_set(g->d, root, "x-aurigraph-undescribed", jdoc_array(g->d));
    jdoc_push(g->d, list, str(g, line));
}

/* The tag of a service: its short name, or the full one where two
 * packages have a service of the same name. */
static const char *service_tag(const schema_t *s, const schema_service_t *sv)
{
    const char *dot = strrchr(sv->full_name, '.');
    const char *shortn = dot ? dot + 1 : sv->full_name;
    for (size_t i = 0; i < schema_service_count(s); i++) {
        const schema_service_t *o = schema_service_at(s, i);
        const char *od = strrchr(o->full_name, '.');
        if (o != sv && strcmp(od ? od + 1 : o->full_name, shortn) == 0)
            return sv->full_name;
    }
    return shortn;
}

static const schema_service_t *service_of(const schema_t *s, const schema_method_t *m)
{
    for (size_t i = 0; i < schema_service_count(s); i++) {
        const schema_service_t *sv = schema_service_at(s, i);
        if (m >= sv->methods && m < sv->methods + sv->nmethods)
            return sv;
    }
    return NULL;
}

static void operation(gen_t *g, jdoc_node_t *root, jdoc_node_t *paths, jdoc_node_t *shapes, const binding_t *b,
                      const route_info_t *ri)
{
    char lower[32], path[1024], shape[1024];
    template_var_t vars[8];
    const char *method = openapi_method(b->rule->method, lower, sizeof(lower));
    if (method == NULL) {
        undescribed(g, root, b, "a custom HTTP method, which OpenAPI cannot state");
        return;
    }
    int nvars = openapi_path(b->rule->path, path, sizeof(path), vars, 8);
    if (nvars < 0) {
        undescribed(g, root, b, "a template too long, or with over 8 variables");
        return;
    }
    /* the first spelling of a shape is the one described */
    path_shape(path, shape, sizeof(shape));
    const char *first = jdoc_text(jdoc_get(shapes, shape));
    if (first == NULL)
        jdoc_set(g->d, shapes, shape, str(g, path));
    if (first != NULL && strcmp(first, path) != 0) {
        undescribed(g, root, b, "OpenAPI cannot tell its template from another route's");
        return;
    }
    jdoc_node_t *item = jdoc_child(g->d, paths, path);
    if (jdoc_get(item, method)) {
        undescribed(g, root, b, "OpenAPI cannot tell its template from another route's");
        return;
    }
    jdoc_node_t *op = jdoc_set(g->d, item, method, jdoc_object(g->d));
    const schema_method_t *mt = b->method;
    const schema_service_t *sv = service_of(g->schema, mt);
    if (sv)
        jdoc_push(g->d, jdoc_set(g->d, op, "tags", jdoc_array(g->d)), str(g, service_tag(g->schema, sv)));
    set_str(g, op, "summary", mt->name);
    set_str(g, op, "description", mt->comment);
    char opid[600];
    size_t rule_index = (size_t)(b->rule - mt->http_rules);
    if (rule_index)
        snprintf(opid, sizeof(opid), "%s_%zu", mt->full_name, rule_index);
    else
        snprintf(opid, sizeof(opid), "%s", mt->full_name);
    set_str(g, op, "operationId", opid);
    set_str(g, op, "x-grpc-method", mt->grpc_path);

    g->fl = flavour_for(g, &ri->opt);
    jdoc_node_t *params = jdoc_array(g->d);
    bound_path_t bound[8];
    size_t nbound = 0;
    for (int i = 0; i < nvars; i++) {
        /* binding.c checked the field path at load; one deeper than this
         * walks is still a parameter, as text */
        const schema_field_t *leaf = NULL;
        if (resolve_chain(mt->input, vars[i].path, strlen(vars[i].path), &bound[nbound]) == 0) {
            leaf = bound[nbound].chain[bound[nbound].depth - 1];
            nbound++;
        }
        jdoc_node_t *schema = leaf ? param_schema(g, leaf) : NULL;
        if (schema == NULL)
            schema = typed(g, "string", 0);
        jdoc_node_t *p = parameter(g, params, vars[i].path, "path", leaf, schema);
        if (vars[i].pattern[0]) {
            const char *c = leaf ? leaf->comment : NULL;
            char d[700];
            snprintf(d, sizeof(d), "%s%sMatches the path segments %s (each '/' of the value sent as it is).",
                     c ? c : "", c ? "\n\n" : "", vars[i].pattern);
            set_str(g, p, "description", d);
        }
    }
    if (b->body != BINDING_BODY_ALL) {
        query_walk_t q = {.g = g, .params = params, .b = b, .bound = bound, .nbound = nbound};
        query_params(&q, mt->input, 0);
    }
    if (jdoc_size(params))
        jdoc_set(g->d, op, "parameters", params);

    if (b->body != BINDING_BODY_NONE) {
        jdoc_node_t *rb = jdoc_set(g->d, op, "requestBody", jdoc_object(g->d));
        jdoc_node_t *schema =
            b->body == BINDING_BODY_ALL ? message_schema(g, mt->input, 0) : field_schema(g, b->body_field, 0);
        if (b->body == BINDING_BODY_FIELD)
            set_str(g, rb, "description", b->body_field->comment);
        jdoc_set(g->d, jdoc_child(g->d, jdoc_child(g->d, rb, "content"), "application/json"), "schema", schema);
    }

    jdoc_node_t *responses = jdoc_set(g->d, op, "responses", jdoc_object(g->d));
    char status[8];
    snprintf(status, sizeof(status), "%d", ri->success_status);
    jdoc_node_t *ok = jdoc_set(g->d, responses, status, jdoc_object(g->d));
    jdoc_node_t *schema = b->response_field ? field_schema(g, b->response_field, 0) : message_schema(g, mt->output, 0);
    if (mt->server_streaming) {
        set_str(g, ok, "description", "A stream: newline-delimited JSON, one message per line, until the "
                                      "service ends it");
        jdoc_set(g->d, jdoc_child(g->d, jdoc_child(g->d, ok, "content"), "application/x-ndjson"), "schema", schema);
    } else {
        set_str(g, ok, "description", response_reason(ri->success_status));
        jdoc_set(g->d, jdoc_child(g->d, jdoc_child(g->d, ok, "content"), "application/json"), "schema", schema);
    }
    char name[64];
    for (size_t k = 0; k < sizeof(listed_statuses) / sizeof(listed_statuses[0]); k++) {
        int http = listed_statuses[k];
        if ((http == 413 || http == 415) && b->body == BINDING_BODY_NONE)
            continue;
        snprintf(status, sizeof(status), "%d", http);
        error_response(g, http, ri->error_field, name, sizeof(name));
        jdoc_set(g->d, responses, status, ref_to(g, "responses", name));
    }
    error_response(g, 0, ri->error_field, name, sizeof(name));
    jdoc_set(g->d, responses, "default", ref_to(g, "responses", name));
}

/* ---- the gateway's own endpoints ---------------------------------------- */

static jdoc_node_t *up_down(gen_t *g)
{
    jdoc_node_t *s = typed(g, "string", 0);
    jdoc_node_t *e = jdoc_set(g->d, s, "enum", jdoc_array(g->d));
    jdoc_push(g->d, e, str(g, "UP"));
    jdoc_push(g->d, e, str(g, "DOWN"));
    return s;
}

static void gateway_paths(gen_t *g, jdoc_node_t *paths)
{
    jdoc_node_t *hs = jdoc_set(g->d, g->schemas, "gateway.HealthResponse", typed(g, "object", 0));
    set_str(g, hs, "description", "SmallRye Health's shape: UP when every check is");
    jdoc_node_t *req = jdoc_set(g->d, hs, "required", jdoc_array(g->d));
    jdoc_push(g->d, req, str(g, "status"));
    jdoc_push(g->d, req, str(g, "checks"));
    jdoc_node_t *props = jdoc_set(g->d, hs, "properties", jdoc_object(g->d));
    jdoc_set(g->d, props, "status", up_down(g));
    jdoc_node_t *check = jdoc_set(g->d, jdoc_set(g->d, props, "checks", typed(g, "array", 0)), "items",
                                  typed(g, "object", 0));
    jdoc_node_t *cp = jdoc_set(g->d, check, "properties", jdoc_object(g->d));
    jdoc_set(g->d, cp, "name", typed(g, "string", 0));
    jdoc_set(g->d, cp, "status", up_down(g));
    jdoc_set(g->d, cp, "data", typed(g, "object", 0));

    static const struct {
        const char *path, *id, *what;
    } probes[] = {
        {"/q/health", "gateway.health", "All of the checks below"},
        {"/q/health/live", "gateway.health.live", "Liveness: the process and its event loops"},
        {"/q/health/ready", "gateway.health.ready",
         "Readiness: not draining, and every upstream cluster passing grpc.health.v1.Health/Check"},
        {"/q/health/started", "gateway.health.started", "Startup: every worker serving"},
    };
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        jdoc_node_t *op = jdoc_set(g->d, jdoc_child(g->d, paths, probes[i].path), "get", jdoc_object(g->d));
        jdoc_push(g->d, jdoc_set(g->d, op, "tags", jdoc_array(g->d)), str(g, "gateway"));
        set_str(g, op, "summary", probes[i].what);
        set_str(g, op, "operationId", probes[i].id);
        jdoc_node_t *rs = jdoc_set(g->d, op, "responses", jdoc_object(g->d));
        static const char *const codes[] = {"200", "503"};
        for (size_t k = 0; k < 2; k++) {
            jdoc_node_t *r = jdoc_set(g->d, rs, codes[k], jdoc_object(g->d));
            set_str(g, r, "description", k ? "DOWN" : "UP");
            jdoc_set(g->d, jdoc_child(g->d, jdoc_child(g->d, r, "content"), "application/json"), "schema",
                     ref_to(g, "schemas", "gateway.HealthResponse"));
        }
    }
    jdoc_node_t *op = jdoc_set(g->d, jdoc_child(g->d, paths, "/q/metrics"), "get", jdoc_object(g->d));
    jdoc_push(g->d, jdoc_set(g->d, op, "tags", jdoc_array(g->d)), str(g, "gateway"));
    set_str(g, op, "summary", "Prometheus metrics");
    set_str(g, op, "description", "The Prometheus text format 0.0.4, or OpenMetrics 1.0 when Accept asks for "
                                  "application/openmetrics-text");
    set_str(g, op, "operationId", "gateway.metrics");
    jdoc_node_t *r = jdoc_set(g->d, jdoc_set(g->d, op, "responses", jdoc_object(g->d)), "200", jdoc_object(g->d));
    set_str(g, r, "description", "OK");
    jdoc_node_t *content = jdoc_child(g->d, r, "content");
    jdoc_set(g->d, jdoc_child(g->d, content, "text/plain; version=0.0.4"), "schema", typed(g, "string", 0));
    jdoc_set(g->d, jdoc_child(g->d, content, "application/openmetrics-text; version=1.0.0"), "schema",
             typed(g, "string", 0));
}

/* ---- the document -------------------------------------------------------- */

static uint64_t fnv1a64(const char *s, size_t len, uint64_t h)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static char *copy_out(const buf_t *b, size_t *len)
{
    char *p = malloc(b->len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, b->data, b->len);
    p[b->len] = '\0';
    *len = b->len;
    return p;
}

int openapi_build(const schema_t *schema, const binding_table_t *bindings, const route_info_t *routes,
                  openapi_doc_t *out)
{
    memset(out, 0, sizeof(*out));
    jdoc_t d;
    jdoc_init(&d);
    gen_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -1;
    g->d = &d;
    g->schema = schema;
    size_t n = binding_count(bindings);
    for (size_t i = 0; i < n; i++)
        flavour_for(g, &routes[i].opt); /* first, so names know whether they need a tag */

    jdoc_node_t *root = jdoc_object(&d);
    set_str(g, root, "openapi", OPENAPI_VERSION);
    jdoc_node_t *info = jdoc_set(&d, root, "info", jdoc_object(&d));
    set_str(g, info, "title", "aurigraph-gateway");
    set_str(g, info, "version", "1.0.0");
    set_str(g, info, "description",
            "The REST API of the gRPC services behind this gateway, generated at start from its descriptor "
            "set, the google.api.http bindings and each route's JSON profile. Errors have one shape per "
            "profile (Error, V11Error).");
    jdoc_node_t *tags = jdoc_set(&d, root, "tags", jdoc_array(&d));
    jdoc_node_t *paths = jdoc_set(&d, root, "paths", jdoc_object(&d));
    jdoc_node_t *components = jdoc_set(&d, root, "components", jdoc_object(&d));
    g->schemas = jdoc_set(&d, components, "schemas", jdoc_object(&d));
    g->responses = jdoc_set(&d, components, "responses", jdoc_object(&d));
    jdoc_node_t *shapes = jdoc_object(&d); /* path shape -> its first spelling */

    for (size_t s = 0; s < schema_service_count(schema); s++) {
        const schema_service_t *sv = schema_service_at(schema, s);
        int routed = 0;
        for (size_t i = 0; i < n && !routed; i++)
            routed = service_of(schema, binding_at(bindings, i)->method) == sv;
        if (!routed)
            continue;
        jdoc_node_t *t = jdoc_push(&d, tags, jdoc_object(&d));
        set_str(g, t, "name", service_tag(schema, sv));
        set_str(g, t, "description", sv->comment ? sv->comment : sv->full_name);
    }
    jdoc_node_t *gt = jdoc_push(&d, tags, jdoc_object(&d));
    set_str(g, gt, "name", "gateway");
    set_str(g, gt, "description", "The gateway's own endpoints: health probes and metrics");

    for (size_t i = 0; i < n; i++)
        operation(g, root, paths, shapes, binding_at(bindings, i), &routes[i]);
    gateway_paths(g, paths);

    arena_t a;
    arena_init(&a);
    buf_t yaml, json;
    buf_init(&yaml, &a, 1 << 16);
    buf_init(&json, &a, 1 << 16);
    jdoc_write_yaml(root, &yaml);
    jdoc_write_json(root, &json);
    int rc = -1;
    if (!d.oom && !yaml.oom && !json.oom && (out->yaml = copy_out(&yaml, &out->yaml_len)) != NULL &&
        (out->json = copy_out(&json, &out->json_len)) != NULL) {
        snprintf(out->etag, sizeof(out->etag), "\"%016llx\"",
                 (unsigned long long)fnv1a64(json.data, json.len, 14695981039346656037ull));
        rc = 0;
    }
    arena_free(&a);
    jdoc_free(&d);
    free(g);
    if (rc != 0)
        openapi_doc_free(out);
    return rc;
}

void openapi_doc_free(openapi_doc_t *doc)
{
    if (doc == NULL)
        return;
    free(doc->yaml);
    free(doc->json);
    memset(doc, 0, sizeof(*doc));
}

/* ---- GET /q/openapi ------------------------------------------------------ */

static int header_has(const h2o_req_t *req, const h2o_token_t *token, const char *needle)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i >= 0 && memmem(req->headers.entries[i].value.base, req->headers.entries[i].value.len, needle,
                            strlen(needle)) != NULL;
}

/* ?format=json|yaml: 1 json, 0 yaml, -1 absent, -2 anything else */
static int format_param(const h2o_req_t *req)
{
    if (req->query_at == SIZE_MAX)
        return -1;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    int found = -1;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        size_t len = (size_t)(stop - q);
        if (len >= 7 && memcmp(q, "format=", 7) == 0) {
            if (len == 11 && memcmp(q + 7, "json", 4) == 0)
                found = 1;
            else if (len == 11 && memcmp(q + 7, "yaml", 4) == 0)
                found = 0;
            else
                return -2;
        }
        q = stop + 1;
    }
    return found;
}

/* The body stays the server's (it lives as long as the workers), so it is
 * sent without a copy; HEAD gets the length alone, as h2o_send_inline does. */
static void send_static(h2o_req_t *req, const char *body, size_t len)
{
    static h2o_generator_t none = {NULL, NULL};
    req->res.content_length = len;
    h2o_start_response(req, &none);
    h2o_iovec_t iov = h2o_iovec_init(body, len);
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_send(req, &iov, head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

int openapi_handle(h2o_req_t *req)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (len != 10 || memcmp(req->path.base, "/q/openapi", 10) != 0)
        return 0;
    const shared_t *sh = worker_of(req->conn->ctx)->shared;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        response_error(req, 405, GRPC_UNIMPLEMENTED, H2O_STRLIT("/q/openapi answers GET"), NULL, 0,
                       sh->error_field);
        return 1;
    }
    const openapi_doc_t *doc = sh->openapi;
    if (doc == NULL) {
        response_error(req, 503, GRPC_UNAVAILABLE, H2O_STRLIT("the OpenAPI document was not generated"), NULL, 0,
                       sh->error_field);
        return 1;
    }
    int fmt = format_param(req);
    if (fmt == -2) {
        response_error(req, 400, GRPC_INVALID_ARGUMENT, H2O_STRLIT("format must be json or yaml"), NULL, 0,
                       sh->error_field);
        return 1;
    }
    int json = fmt == 1 || (fmt == -1 && header_has(req, H2O_TOKEN_ACCEPT, "application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, doc->etag, strlen(doc->etag));
    if (header_has(req, H2O_TOKEN_IF_NONE_MATCH, doc->etag)) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        send_static(req, "", 0);
        return 1;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    if (json) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
        send_static(req, doc->json, doc->json_len);
    } else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/yaml; charset=utf-8"));
        send_static(req, doc->yaml, doc->yaml_len);
    }
    return 1;
}
