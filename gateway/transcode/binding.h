/*
 * binding: the google.api.http rules of a schema, joined to the router.
 *
 * A binding is one HttpRule (or additional binding) of one method, with its
 * body and response_body fields resolved. binding_table_build() turns every
 * rule of a schema into a route whose target is its binding, reporting bad
 * field paths and conflicting routes at load. binding_request_to_pb() then
 * assembles the request message from the three places HTTP puts it: path
 * variables, the query string and the JSON body.
 */
#ifndef AG_BINDING_H
#define AG_BINDING_H

#include <stddef.h>
#include "core/buf.h"
#include "core/status.h"
#include "route/route.h"
#include "schema/schema.h"
#include "transcode/options.h"

typedef enum binding_body {
    BINDING_BODY_NONE,  /* no body: every unbound field comes from the query */
    BINDING_BODY_ALL,   /* body "*": the whole request message */
    BINDING_BODY_FIELD, /* body "field": one field of the request */
} binding_body_t;

typedef struct binding {
    const schema_method_t *method;
    const schema_http_rule_t *rule;
    binding_body_t body;
    const schema_field_t *body_field;     /* BINDING_BODY_FIELD */
    const schema_field_t *response_field; /* response_body, or NULL for the whole message */
} binding_t;

typedef struct binding_table binding_table_t;

/* NULL with a reason in err (which rule, what is wrong). */
binding_table_t *binding_table_build(const schema_t *schema, char *err, size_t errlen);
void binding_table_free(binding_table_t *t);
const route_table_t *binding_routes(const binding_table_t *t);
size_t binding_count(const binding_table_t *t);
const binding_t *binding_at(const binding_table_t *t, size_t i);

/* Path variables (from route_match), query string (without '?') and body ->
 * the request message's wire bytes. Path variables win over the body, and
 * the query cannot set what the path or the body binds. report (or NULL)
 * counts the unknown keys and parameters that the options let pass. */
int binding_request_to_pb(const schema_t *schema, const binding_t *b, const route_var_t *vars, size_t nvars,
                          const char *query, size_t query_len, const char *body, size_t body_len,
                          const transcode_options_t *opt, buf_t *out, status_t *st, transcode_report_t *report);

/* Response message bytes -> JSON, honouring response_body. */
int binding_response_to_json(const schema_t *schema, const binding_t *b, const uint8_t *pb, size_t len,
                             const transcode_options_t *opt, buf_t *out, status_t *st);

#endif
