/*
 * binding.c: rules -> routes at load; path + query + body -> one message
 * per request.
 *
 * Field paths of path variables and query parameters ("a.b.c") are resolved
 * segment by segment through the schema's hash tables on each request: it
 * costs one probe per segment, and keeps the route module free of protobuf.
 * A nested path is encoded as its own chain of one-field messages; protobuf
 * merges repeated occurrences of a message field, so `a.b=1&a.c=2` and a
 * body's `a` combine the way the client meant.
 */
#include "transcode/binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transcode/json_to_pb.h"
#include "transcode/pb_to_json.h"
#include "transcode/wire.h"

#define BINDING_MAX_PATH_DEPTH 16

struct binding_table {
    route_table_t *routes;
    binding_t *bindings;
    size_t n;
};

/* Resolves "a.b.c" in m: every segment but the last must be a singular
 * message field. Returns the depth, or -1 with why set. */
static int resolve_path(const schema_message_t *m, const char *path, size_t len,
                        const schema_field_t **chain, const char **why)
{
    int depth = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && path[j] != '.')
            j++;
        if (m == NULL) {
            *why = "is not a message field";
            return -1;
        }
        if (depth == BINDING_MAX_PATH_DEPTH) {
            *why = "is nested too deeply";
            return -1;
        }
        const schema_field_t *f = schema_field_by_name(m, path + i, j - i);
        if (f == NULL) {
            *why = "names no field";
            return -1;
        }
        chain[depth++] = f;
        if (j == len)
            break;
        if (f->repeated || f->type != SCHEMA_MESSAGE || f->message->wkt != WKT_NONE) {
            *why = "goes through a field that is not a singular message";
            return -1;
        }
        m = f->message;
        i = j + 1;
    }
    return depth;
}

/* Template variables, for checking their field paths at load. */
static int check_template_vars(const schema_method_t *mt, const schema_http_rule_t *r, char *err, size_t errlen)
{
    for (const char *p = strchr(r->path, '{'); p; p = strchr(p + 1, '{')) {
        const char *start = p + 1;
        size_t len = strcspn(start, "=}");
        const schema_field_t *chain[BINDING_MAX_PATH_DEPTH];
        const char *why = NULL;
        int depth = resolve_path(mt->input, start, len, chain, &why);
        if (depth < 0) {
            snprintf(err, errlen, "%s: path variable \"%.*s\" %s in %s", mt->full_name, (int)len, start, why,
                     mt->input->full_name);
            return -1;
        }
        const schema_field_t *leaf = chain[depth - 1];
        if (leaf->repeated || (leaf->type == SCHEMA_MESSAGE && leaf->message->wkt == WKT_NONE)) {
            snprintf(err, errlen, "%s: path variable \"%.*s\" must be a singular scalar field", mt->full_name,
                     (int)len, start);
            return -1;
        }
    }
    return 0;
}

static int bind_rule(const schema_method_t *mt, const schema_http_rule_t *r, binding_t *b, char *err, size_t errlen)
{
    b->method = mt;
    b->rule = r;
    if (r->body == NULL) {
        b->body = BINDING_BODY_NONE;
    } else if (strcmp(r->body, "*") == 0) {
        b->body = BINDING_BODY_ALL;
    } else {
        b->body = BINDING_BODY_FIELD;
        b->body_field = schema_field_by_name(mt->input, r->body, strlen(r->body));
        if (b->body_field == NULL) {
            snprintf(err, errlen, "%s: body \"%s\" names no field of %s", mt->full_name, r->body,
                     mt->input->full_name);
            return -1;
        }
    }
    if (r->response_body) {
        b->response_field = schema_field_by_name(mt->output, r->response_body, strlen(r->response_body));
        if (b->response_field == NULL) {
            snprintf(err, errlen, "%s: response_body \"%s\" names no field of %s", mt->full_name,
                     r->response_body, mt->output->full_name);
            return -1;
        }
    }
    if (mt->client_streaming) {
        snprintf(err, errlen, "%s: client-streaming methods cannot be bound to HTTP rules", mt->full_name);
        return -1;
    }
    return check_template_vars(mt, r, err, errlen);
}

binding_table_t *binding_table_build(const schema_t *schema, char *err, size_t errlen)
{
    binding_table_t *t = calloc(1, sizeof(*t));
    size_t n = 0;
    for (size_t i = 0; i < schema_service_count(schema); i++) {
        const schema_service_t *sv = schema_service_at(schema, i);
        for (uint32_t m = 0; m < sv->nmethods; m++)
            n += sv->methods[m].nhttp_rules;
    }
    if (t == NULL || (t->bindings = calloc(n ? n : 1, sizeof(binding_t))) == NULL ||
        (t->routes = route_table_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        binding_table_free(t);
        return NULL;
    }
    for (size_t i = 0; i < schema_service_count(schema); i++) {
        const schema_service_t *sv = schema_service_at(schema, i);
        for (uint32_t m = 0; m < sv->nmethods; m++) {
            const schema_method_t *mt = &sv->methods[m];
            for (uint32_t r = 0; r < mt->nhttp_rules; r++) {
                binding_t *b = &t->bindings[t->n];
                char why[256];
                if (bind_rule(mt, &mt->http_rules[r], b, err, errlen) != 0) {
                    binding_table_free(t);
                    return NULL;
                }
                if (route_add(t->routes, b->rule->method, b->rule->path, b, why, sizeof(why)) != 0) {
                    snprintf(err, errlen, "%s: %s", mt->full_name, why);
                    binding_table_free(t);
                    return NULL;
                }
                t->n++;
            }
        }
    }
    return t;
}

void binding_table_free(binding_table_t *t)
{
    if (t == NULL)
        return;
    route_table_free(t->routes);
    free(t->bindings);
    free(t);
}

const route_table_t *binding_routes(const binding_table_t *t) { return t->routes; }
size_t binding_count(const binding_table_t *t) { return t->n; }
const binding_t *binding_at(const binding_table_t *t, size_t i) { return i < t->n ? &t->bindings[i] : NULL; }

/* ---- per request ----------------------------------------------------- */

/* Encodes text into the leaf of chain, wrapped in the chain's messages. */
static int encode_path_value(const schema_t *schema, const schema_field_t *const *chain, int depth, const char *text,
                             size_t len, const transcode_options_t *opt, buf_t *out, status_t *st)
{
    if (depth == 1)
        return transcode_text_to_pb(schema, chain[0], text, len, opt, out, st);
    buf_t leaf;
    buf_init(&leaf, out->arena, 64);
    if (transcode_text_to_pb(schema, chain[depth - 1], text, len, opt, &leaf, st) != 0)
        return -1;
    /* wrap from the inside out; each level knows its payload length */
    for (int i = depth - 2; i >= 0; i--) {
        buf_t wrapped;
        buf_init(&wrapped, out->arena, leaf.len + 16);
        buf_append(&wrapped, chain[i]->tag, chain[i]->tag_len);
        wire_put_varint(&wrapped, leaf.len);
        buf_append(&wrapped, leaf.data, leaf.len);
        leaf = wrapped;
    }
    if (leaf.oom) {
        status_set(st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    buf_append(out, leaf.data, leaf.len);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* x-www-form-urlencoded decoding: '+' is a space. -1 on a bad escape. */
static long query_decode(char *dst, const char *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[n++] = c == '+' ? ' ' : c;
        }
    }
    return (long)n;
}

static int same_path(const schema_field_t *const *a, int na, const schema_field_t *const *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

int binding_request_to_pb(const schema_t *schema, const binding_t *b, const route_var_t *vars, size_t nvars,
                          const char *query, size_t query_len, const char *body, size_t body_len,
                          const transcode_options_t *opt, buf_t *out, status_t *st, transcode_report_t *report)
{
    const schema_message_t *in = b->method->input;

    /* body first, so that path variables written after it win */
    size_t ws = 0;
    while (ws < body_len && (body[ws] == ' ' || body[ws] == '\n' || body[ws] == '\r' || body[ws] == '\t'))
        ws++;
    if (ws < body_len) {
        int rc = 0;
        if (b->body == BINDING_BODY_ALL)
            rc = transcode_json_to_pb(schema, in, body, body_len, opt, out, st, report);
        else if (b->body == BINDING_BODY_FIELD)
            rc = transcode_json_field_to_pb(schema, b->body_field, body, body_len, opt, out, st, report);
        if (rc != 0)
            return -1;
    } /* an empty or blank body is the empty message, as no body is */

    const schema_field_t *var_chains[8][BINDING_MAX_PATH_DEPTH];
    int var_depth[8];
    size_t nresolved = 0;
    for (size_t i = 0; i < nvars; i++) {
        const schema_field_t *chain[BINDING_MAX_PATH_DEPTH];
        const char *why = NULL;
        const char *fp = vars[i].field_path;
        int depth = resolve_path(in, fp, strlen(fp), chain, &why);
        if (depth < 0) {
            status_set(st, GRPC_INTERNAL, "path variable \"%s\" %s", fp, why);
            return -1;
        }
        if (encode_path_value(schema, chain, depth, vars[i].value, vars[i].value_len, opt, out, st) != 0) {
            char inner[sizeof(st->message)];
            memcpy(inner, st->message, sizeof(inner));
            status_set(st, GRPC_INVALID_ARGUMENT, "path variable \"%s\": %.200s", fp, inner);
            return -1;
        }
        if (nresolved < 8) {
            memcpy(var_chains[nresolved], chain, sizeof(chain[0]) * (size_t)depth);
            var_depth[nresolved++] = depth;
        }
    }

    if (b->body == BINDING_BODY_ALL || query == NULL)
        return 0; /* body "*" binds every field: nothing is left for the query */
    size_t i = 0;
    while (i < query_len) {
        size_t end = i;
        while (end < query_len && query[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && query[eq] != '=')
            eq++;
        const char *k = query + i, *v = eq < end ? query + eq + 1 : query + end;
        size_t klen = eq - i, vlen = eq < end ? end - eq - 1 : 0;
        i = end + 1;
        if (klen == 0)
            continue;
        char *key = arena_alloc_aligned(out->arena, klen + 1, 1), *val = arena_alloc_aligned(out->arena, vlen + 1, 1);
        if (key == NULL || val == NULL) {
            status_set(st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return -1;
        }
        long kl = query_decode(key, k, klen), vl = query_decode(val, v, vlen);
        if (kl < 0 || vl < 0) {
            status_set(st, GRPC_INVALID_ARGUMENT, "query parameter \"%.*s\": bad percent-encoding",
                       (int)(klen > 64 ? 64 : klen), k);
            return -1;
        }
        const schema_field_t *chain[BINDING_MAX_PATH_DEPTH];
        const char *why = NULL;
        int depth = resolve_path(in, key, (size_t)kl, chain, &why);
        if (depth < 0) {
            if (opt->ignore_unknown_fields) {
                if (report)
                    report->unknown_fields++;
                continue;
            }
            status_set(st, GRPC_INVALID_ARGUMENT, "query parameter \"%.*s\" %s in %s", (int)(kl > 64 ? 64 : kl),
                       key, why, in->full_name);
            return -1;
        }
        if (b->body == BINDING_BODY_FIELD && chain[0] == b->body_field)
            continue; /* bound by the body */
        int bound = 0;
        for (size_t r = 0; r < nresolved && !bound; r++)
            bound = same_path(chain, depth, var_chains[r], var_depth[r]);
        if (bound)
            continue; /* bound by the path */
        if (encode_path_value(schema, chain, depth, val, (size_t)vl, opt, out, st) != 0) {
            char inner[sizeof(st->message)];
            memcpy(inner, st->message, sizeof(inner));
            status_set(st, GRPC_INVALID_ARGUMENT, "query parameter \"%.*s\": %.200s", (int)(kl > 64 ? 64 : kl), key,
                       inner);
            return -1;
        }
    }
    return 0;
}

int binding_response_to_json(const schema_t *schema, const binding_t *b, const uint8_t *pb, size_t len,
                             const transcode_options_t *opt, buf_t *out, status_t *st)
{
    if (b->response_field)
        return transcode_pb_field_to_json(schema, b->method->output, b->response_field, pb, len, opt, out, st);
    return transcode_pb_to_json(schema, b->method->output, pb, len, opt, out, st);
}
