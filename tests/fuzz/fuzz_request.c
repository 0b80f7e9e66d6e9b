/*
 * fuzz_request: a REST request as the gateway reads it, on the real V11
 * contract: the method and the path go through the router (the path parser
 * faces the network: segments, percent escapes, verbs, the query), then the
 * path variables, the query string and the body are bound into the request
 * message, as api.c does before an upstream call.
 *
 * Input: byte 0 picks the method (and, with its top bit, a second table of
 * templates the V11 contract does not use: `**`, multi-segment variables,
 * custom verbs); then the path up to the first '\n' (its query after '?');
 * the rest is the body. Any input must give a route and
 * message bytes or an error, never a crash or a leak; a route found once
 * must be found again the same way. The body is read in the JSON profile
 * the route's .proto names (as the gateway does by default), and a message
 * it binds must print back as JSON in that profile.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "route/route.h"
#include "schema/schema.h"
#include "transcode/binding.h"
#include "transcode/options.h"
#include "transcode/pb_to_json.h"
#include "transcode/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static schema_t *schema;
static binding_table_t *bindings;
static route_table_t *shapes;

static void load(void)
{
    char err[256];
    const char *path = getenv("AG_V11_DESCRIPTORS");
    if ((schema = schema_load_file(path ? path : AG_V11_DESCRIPTORS, err, sizeof(err))) == NULL ||
        (bindings = binding_table_build(schema, err, sizeof(err))) == NULL) {
        fprintf(stderr, "fuzz_request: %s\n", err);
        abort();
    }
    static const char *const templates[][2] = {
        {"GET", "/v1/{name=shelves/*/books/*}"}, {"GET", "/v1/{path=**}:download"}, {"POST", "/v1/a/b:run"},
        {"POST", "/v1/a/{b}:run"},              {"GET", "/v1/x/{y}/z"},           {"DELETE", "/v1/x/*/{z=**}"},
        {"GET", "/v1/literal/{v}"},              {"PUT", "/v1/literal/fixed"},
    };
    shapes = route_table_new();
    for (size_t i = 0; shapes != NULL && i < sizeof(templates) / sizeof(templates[0]); i++)
        if (route_add(shapes, templates[i][0], templates[i][1], (void *)templates[i][1], err, sizeof(err)) != 0) {
            fprintf(stderr, "fuzz_request: %s %s: %s\n", templates[i][0], templates[i][1], err);
            abort();
        }
    if (shapes == NULL)
        abort();
}

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "get", "POS"};
    if (bindings == NULL)
        load();
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    const char *in = (const char *)data + 1, *end = in + size - 1;
    const char *nl = memchr(in, '\n', (size_t)(end - in));
    const char *target_end = nl ? nl : end;
    const char *body = nl ? nl + 1 : end;
    const char *q = memchr(in, '?', (size_t)(target_end - in));
    size_t path_len = (size_t)((q ? q : target_end) - in);

    transcode_options_t opt;
    transcode_options_default(&opt);
    opt.max_body = 1 << 20;
    arena_t arena;
    arena_init(&arena);
    arena.limit = 64u << 20;
    route_match_t m;
    if (data[0] & 0x80) {
        route_result_t rr = route_match(shapes, method, strlen(method), in, path_len, &arena, &m);
        if (rr == ROUTE_FOUND)
            for (size_t i = 0; i < m.nvars; i++)
                expect(m.vars[i].value_len <= path_len, "a variable is no longer than the path");
        arena_free(&arena);
        return 0;
    }
    route_result_t rr = route_match(binding_routes(bindings), method, strlen(method), in, path_len, &arena, &m);
    if (rr == ROUTE_FOUND) {
        expect(m.target != NULL && m.tmpl != NULL, "a found route has a target");
        for (size_t i = 0; i < m.nvars; i++)
            expect(m.vars[i].field_path != NULL && (m.vars[i].value != NULL || m.vars[i].value_len == 0),
                   "variables are set");
        route_match_t again;
        expect(route_match(binding_routes(bindings), method, strlen(method), in, path_len, &arena, &again) ==
                       ROUTE_FOUND &&
                   again.target == m.target && again.nvars == m.nvars,
               "the same request routes the same way");

        const binding_t *b = m.target;
        const json_profile_t *profile = json_profile_find(b->method->json_profile ? b->method->json_profile : "proto3");
        expect(profile != NULL, "the .proto names a known profile");
        json_profile_apply(profile, &opt);
        buf_t pb;
        buf_init(&pb, &arena, 256);
        status_t st;
        transcode_report_t report = {0};
        const char *query = q ? q + 1 : NULL;
        size_t query_len = q ? (size_t)(target_end - q - 1) : 0;
        if (binding_request_to_pb(schema, b, m.vars, m.nvars, query, query_len, body, (size_t)(end - body), &opt, &pb,
                                  &st, &report) != 0) {
            expect(st.code != 0 && st.message[0] != '\0', "a refusal says why");
        } else {
            expect(opt.ignore_unknown_fields || report.unknown_fields == 0, "unknown keys pass only when ignored");
            buf_t js;
            buf_init(&js, &arena, 256);
            opt.max_depth *= 4; /* as fuzz_common's way back: a Struct level is two message levels */
            expect(transcode_pb_to_json(schema, b->method->input, (const uint8_t *)pb.data, pb.len, &opt, &js, &st) == 0,
                   "a bound message prints back");
        }
    } else if (rr == ROUTE_METHOD_NOT_ALLOWED) {
        expect(m.allow != NULL && m.allow[0] != '\0', "a 405 lists the allowed methods");
    }
    arena_free(&arena);
    return 0;
}
