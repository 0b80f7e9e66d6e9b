/*
 * openapi: the OpenAPI 3.1 description of the REST API, generated once at
 * start from the descriptor set, its HTTP bindings and each route's JSON
 * profile, and served by GET /q/openapi (YAML; ?format=json or Accept:
 * application/json for JSON).
 *
 * The schemas say what the gateway really prints and reads for each route:
 * the profile's knobs (int64 as string or number, Decimal as a number,
 * Timestamp as RFC 3339 or LocalDateTime, enums as names or numbers, proto
 * or JSON names, null for absent messages) pick each message's JSON form,
 * and a message printed two ways gets one component per form. Errors are
 * the contract's error body in the route's shape. Routes OpenAPI cannot
 * state (a custom HTTP method, two templates it cannot tell apart) are
 * listed under the document's x-aurigraph-undescribed, never dropped
 * silently.
 */
#ifndef AG_OPENAPI_H
#define AG_OPENAPI_H

#include <stddef.h>
#include <h2o.h>

#include "schema/schema.h"
#include "state/shared.h"
#include "transcode/binding.h"

typedef struct openapi_doc {
    char *yaml;
    size_t yaml_len;
    char *json;
    size_t json_len;
    char etag[24];    /* "\"<16 hex>\"": both forms' (they are one document) */
} openapi_doc_t;

/* routes: one per binding, as shared_t's. 0, or -1 (out of memory). */
int openapi_build(const schema_t *schema, const binding_table_t *bindings, const route_info_t *routes,
                  openapi_doc_t *out);
void openapi_doc_free(openapi_doc_t *doc);

/* 1 when req was /q/openapi and has been answered (shared_t's openapi). */
int openapi_handle(h2o_req_t *req);

#endif
