/*
 * openapi_test: the generated document on the generator's own contract
 * (tests/openapi/ protos over the messages of tests/proto: every field kind, two
 * JSON profiles, a stream, a custom method, a template OpenAPI cannot tell
 * apart) and on the V11 contract. The JSON is read back with yajl's tree
 * parser and the YAML with libyaml, so neither check trusts the writer:
 * both spellings must hold the same tree.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <yajl/yajl_tree.h>
#include <yaml.h>

#include "schema/schema.h"
#include "server/openapi.h"
#include "test.h"
#include "transcode/binding.h"
#include "transcode/profile.h"

typedef struct loaded {
    schema_t *schema;
    binding_table_t *bindings;
    route_info_t *routes;
    openapi_doc_t doc;
    yajl_val root;
} loaded_t;

/* The route infos the server would resolve with a default config: the
 * .proto's profile (proto3 when none) and success status. */
static int load(loaded_t *l, const char *path)
{
    char err[512];
    memset(l, 0, sizeof(*l));
    l->schema = schema_load_file(path, err, sizeof(err));
    if (l->schema == NULL) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    l->bindings = binding_table_build(l->schema, err, sizeof(err));
    if (l->bindings == NULL) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    size_t n = binding_count(l->bindings);
    l->routes = calloc(n ? n : 1, sizeof(*l->routes));
    for (size_t i = 0; i < n; i++) {
        const binding_t *b = binding_at(l->bindings, i);
        const json_profile_t *p = json_profile_find(b->method->json_profile ? b->method->json_profile : "proto3");
        transcode_options_default(&l->routes[i].opt);
        json_profile_apply(p, &l->routes[i].opt);
        l->routes[i].error_field = p->error_field;
        l->routes[i].success_status = b->method->success_status ? b->method->success_status : 200;
    }
    if (openapi_build(l->schema, l->bindings, l->routes, &l->doc) != 0) {
        fprintf(stderr, "%s: openapi_build failed\n", path);
        return -1;
    }
    l->root = yajl_tree_parse(l->doc.json, err, sizeof(err));
    if (l->root == NULL) {
        fprintf(stderr, "%s: the JSON does not parse: %s\n", path, err);
        return -1;
    }
    return 0;
}

static void unload(loaded_t *l)
{
    yajl_tree_free(l->root);
    openapi_doc_free(&l->doc);
    free(l->routes);
    binding_table_free(l->bindings);
    schema_free(l->schema);
}

/* at(root, "paths", "/v1/x", "get", NULL): the value, or NULL. */
static yajl_val at(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    const char *key;
    while (v && (key = va_arg(ap, const char *)) != NULL) {
        if (YAJL_IS_OBJECT(v)) {
            yajl_val next = NULL;
            for (size_t i = 0; i < v->u.object.len; i++)
                if (strcmp(v->u.object.keys[i], key) == 0)
                    next = v->u.object.values[i];
            v = next;
        } else if (YAJL_IS_ARRAY(v)) {
            char *end;
            unsigned long i = strtoul(key, &end, 10);
            v = (*end == '\0' && i < v->u.array.len) ? v->u.array.values[i] : NULL;
        } else {
            v = NULL;
        }
    }
    va_end(ap);
    return v;
}

static const char *text(yajl_val v) { return YAJL_IS_STRING(v) ? v->u.string : NULL; }

#define TEXT(...) text(at(__VA_ARGS__, NULL))
#define HAS(...) (at(__VA_ARGS__, NULL) != NULL)

/* The parameter of op named name, or NULL. */
static yajl_val param(yajl_val op, const char *name)
{
    yajl_val ps = at(op, "parameters", NULL);
    for (size_t i = 0; ps && YAJL_IS_ARRAY(ps) && i < ps->u.array.len; i++)
        if (text(at(ps->u.array.values[i], "name", NULL)) && strcmp(text(at(ps->u.array.values[i], "name", NULL)),
                                                                    name) == 0)
            return ps->u.array.values[i];
    return NULL;
}

static int array_has(yajl_val a, const char *s)
{
    for (size_t i = 0; a && YAJL_IS_ARRAY(a) && i < a->u.array.len; i++)
        if (text(a->u.array.values[i]) && strcmp(text(a->u.array.values[i]), s) == 0)
            return 1;
    return 0;
}

static int array_has_prefix(yajl_val a, const char *s)
{
    for (size_t i = 0; a && YAJL_IS_ARRAY(a) && i < a->u.array.len; i++)
        if (text(a->u.array.values[i]) && strncmp(text(a->u.array.values[i]), s, strlen(s)) == 0)
            return 1;
    return 0;
}

/* "type": ["integer", "null"] */
static int nullable_of(yajl_val s, const char *type)
{
    yajl_val t = at(s, "type", NULL);
    return t && YAJL_IS_ARRAY(t) && t->u.array.len == 2 && array_has(t, type) && array_has(t, "null");
}

static size_t count_operations(yajl_val paths, int own)
{
    size_t n = 0;
    for (size_t i = 0; paths && i < paths->u.object.len; i++) {
        int is_own = strncmp(paths->u.object.keys[i], "/q/", 3) == 0;
        if (is_own == own)
            n += paths->u.object.values[i]->u.object.len;
    }
    return n;
}

/* ---- YAML == JSON -------------------------------------------------------- */

/* Whether a plain YAML scalar could be read as other than a string. */
static int looks_typed(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return s[0] == '\0' || (s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+' || s[0] == '.';
}

static int same(yaml_document_t *doc, yaml_node_t *y, yajl_val j, char *where, size_t wlen)
{
    if (y == NULL || j == NULL)
        return 0;
    switch (y->type) {
    case YAML_MAPPING_NODE: {
        if (!YAJL_IS_OBJECT(j))
            return 0;
        size_t n = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
        if (n != j->u.object.len)
            return 0;
        for (size_t i = 0; i < n; i++) {
            yaml_node_pair_t *p = &y->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE ||
                strcmp((const char *)k->data.scalar.value, j->u.object.keys[i]) != 0 ||
                (k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && looks_typed((const char *)k->data.scalar.value))) {
                snprintf(where, wlen, "key %s", j->u.object.keys[i]);
                return 0;
            }
            if (!same(doc, yaml_document_get_node(doc, p->value), j->u.object.values[i], where, wlen)) {
                if (where[0] == '\0')
                    snprintf(where, wlen, "under %s", j->u.object.keys[i]);
                return 0;
            }
        }
        return 1;
    }
    case YAML_SEQUENCE_NODE: {
        if (!YAJL_IS_ARRAY(j))
            return 0;
        size_t n = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
        if (n != j->u.array.len)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!same(doc, yaml_document_get_node(doc, y->data.sequence.items.start[i]), j->u.array.values[i], where,
                       wlen))
                return 0;
        return 1;
    }
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)y->data.scalar.value;
        int plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (YAJL_IS_STRING(j))
            return strcmp(v, j->u.string) == 0 && !(plain && looks_typed(v));
        if (!plain)
            return 0;
        if (YAJL_IS_NULL(j))
            return strcmp(v, "null") == 0;
        if (YAJL_IS_TRUE(j))
            return strcmp(v, "true") == 0;
        if (YAJL_IS_FALSE(j))
            return strcmp(v, "false") == 0;
        if (YAJL_IS_NUMBER(j))
            return strcmp(v, YAJL_GET_NUMBER(j)) == 0;
        return 0;
    }
    default: return 0;
    }
}

static void check_yaml_equals_json(const loaded_t *l)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)l->doc.yaml, l->doc.yaml_len);
    int loaded = yaml_parser_load(&parser, &doc);
    CHECK(loaded);
    if (loaded) {
        char where[300] = "";
        int eq = same(&doc, yaml_document_get_root_node(&doc), l->root, where, sizeof(where));
        if (!eq)
            fprintf(stderr, "YAML and JSON differ: %s\n", where);
        CHECK(eq);
        yaml_document_delete(&doc);
    } else {
        fprintf(stderr, "YAML does not parse: %s at line %zu\n", parser.problem ? parser.problem : "?",
                parser.problem_mark.line + 1);
    }
    yaml_parser_delete(&parser);
}

/* ---- the generator's contract -------------------------------------------- */

static void test_docs_contract(void)
{
    loaded_t l;
    if (load(&l, AG_DOCS_TEST_DESCRIPTORS) != 0) {
        CHECK(0);
        return;
    }
    yajl_val r = l.root, paths = at(r, "paths", NULL);
    CHECK_STREQ(TEXT(r, "openapi"), "3.1.0");
    check_yaml_equals_json(&l);
    CHECK(strncmp(l.doc.yaml, "openapi: \"3.1.0\"\ninfo:\n", 23) == 0);

    /* every route: an operation, or named as one OpenAPI cannot state */
    yajl_val undesc = at(r, "x-aurigraph-undescribed", NULL);
    CHECK(undesc && YAJL_IS_ARRAY(undesc));
    CHECK_INTEQ(count_operations(paths, 0) + (undesc ? undesc->u.array.len : 0), binding_count(l.bindings));
    CHECK(array_has_prefix(undesc, "LIST /v1/custom (agtest.docs.DocService.ListCustom): a custom HTTP method"));
    CHECK(array_has_prefix(undesc, "PATCH /v1/things/{page_size} (agtest.docs.DocService.DeleteOther): OpenAPI "
                                   "cannot tell"));
    CHECK(HAS(paths, "/q/health", "get") && HAS(paths, "/q/health/live", "get") && HAS(paths, "/q/health/ready", "get")
          && HAS(paths, "/q/health/started", "get") && HAS(paths, "/q/metrics", "get"));

    /* two profiles print agtest's messages: one component per form */
    yajl_val schemas = at(r, "components", "schemas", NULL);
    CHECK(HAS(schemas, "agtest.Nested-proto3") && HAS(schemas, "agtest.Nested-v11") && !HAS(schemas, "agtest.Nested"));

    /* one path, three methods; a multi-segment variable says what it matches */
    yajl_val things = at(paths, "/v1/things/{name}", NULL);
    CHECK(HAS(things, "get") && HAS(things, "put") && HAS(things, "delete"));
    yajl_val get = at(things, "get", NULL);
    CHECK_STREQ(TEXT(get, "operationId"), "agtest.TestService.GetThing");
    CHECK_STREQ(TEXT(get, "x-grpc-method"), "/agtest.TestService/GetThing");
    CHECK_STREQ(TEXT(get, "tags", "0"), "TestService");
    yajl_val name = param(get, "name");
    CHECK_STREQ(TEXT(name, "in"), "path");
    CHECK(at(name, "required", NULL) && YAJL_IS_TRUE(at(name, "required", NULL)));
    CHECK(TEXT(name, "description") && strstr(TEXT(name, "description"), "shelves/*/things/*") != NULL);
    /* the query: what the path does not bind, nested as a.b, text forms */
    CHECK_STREQ(TEXT(param(get, "pageSize"), "in"), "query");
    CHECK_STREQ(TEXT(param(get, "pageSize"), "schema", "type"), "integer"); /* text: digits, whatever the profile */
    CHECK_STREQ(TEXT(param(get, "pageSize"), "schema", "format"), "int64");
    CHECK_STREQ(TEXT(param(get, "tags"), "schema", "type"), "array");
    CHECK_STREQ(TEXT(param(get, "tags"), "schema", "items", "type"), "string");
    CHECK_STREQ(TEXT(param(get, "color"), "schema", "$ref"), "#/components/schemas/agtest.Color-proto3");
    CHECK_STREQ(TEXT(param(get, "verbose"), "schema", "type"), "boolean");
    CHECK(param(get, "nested.id") && param(get, "nested.name") && param(get, "bodyPart.id"));
    CHECK(param(get, "nested.child.id") == NULL); /* Nested holds itself: once down */
    CHECK(param(get, "nested") == NULL && param(get, "bodyPart") == NULL);
    CHECK(!HAS(get, "requestBody"));
    CHECK(HAS(get, "responses", "200") && HAS(get, "responses", "400") && HAS(get, "responses", "404") &&
          HAS(get, "responses", "503") && HAS(get, "responses", "504") && HAS(get, "responses", "default"));
    CHECK(!HAS(get, "responses", "413") && !HAS(get, "responses", "415")); /* no body */
    CHECK_STREQ(TEXT(get, "responses", "400", "$ref"), "#/components/responses/BadRequest");
    /* body "*": nothing for the query */
    yajl_val put = at(things, "put", NULL);
    CHECK(!HAS(put, "parameters", "1") && param(put, "name") != NULL);
    CHECK_STREQ(TEXT(put, "requestBody", "content", "application/json", "schema", "$ref"),
                "#/components/schemas/agtest.GetThingRequest-proto3");
    CHECK(HAS(put, "responses", "413") && HAS(put, "responses", "415"));

    /* body: a field; response_body: a field; a dotted path variable */
    yajl_val ann = at(paths, "/v1/things/{nested.id}:annotate", "post", NULL);
    CHECK_STREQ(TEXT(ann, "operationId"), "agtest.TestService.GetThing_1");
    CHECK_STREQ(TEXT(param(ann, "nested.id"), "schema", "type"), "integer");
    CHECK_STREQ(TEXT(param(ann, "nested.id"), "schema", "format"), "int32");
    CHECK(param(ann, "bodyPart.id") == NULL && param(ann, "name") != NULL && param(ann, "nested.name") != NULL);
    CHECK_STREQ(TEXT(ann, "requestBody", "content", "application/json", "schema", "$ref"),
                "#/components/schemas/agtest.Nested-proto3");
    CHECK_STREQ(TEXT(ann, "responses", "200", "content", "application/json", "schema", "$ref"),
                "#/components/schemas/agtest.Nested-proto3");

    /* success status, stream */
    yajl_val create = at(paths, "/v1/profiled", "post", NULL);
    CHECK(HAS(create, "responses", "201") && !HAS(create, "responses", "200"));
    CHECK_STREQ(TEXT(create, "description"), "Creates a profiled thing: 201.");
    CHECK(HAS(paths, "/v1/nested:stream", "get", "responses", "200", "content", "application/x-ndjson", "schema"));

    /* proto3's forms */
    yajl_val sc = at(schemas, "agtest.Scalars-proto3", "properties", NULL);
    CHECK_STREQ(TEXT(sc, "fInt64", "type"), "string");
    CHECK_STREQ(TEXT(sc, "fInt64", "format"), "int64");
    CHECK_STREQ(TEXT(sc, "fUint64", "pattern"), "^[0-9]+$");
    CHECK_STREQ(TEXT(sc, "fSint64", "type"), "string");
    CHECK_STREQ(TEXT(sc, "fInt32", "type"), "integer");
    CHECK_STREQ(TEXT(sc, "fUint32", "type"), "integer");
    CHECK(at(sc, "fUint32", "maximum", NULL) && YAJL_GET_INTEGER(at(sc, "fUint32", "maximum", NULL)) == 4294967295LL);
    CHECK_STREQ(TEXT(sc, "fDouble", "type"), "number");
    CHECK_STREQ(TEXT(sc, "fBytes", "contentEncoding"), "base64");
    CHECK_STREQ(TEXT(sc, "fEnum", "$ref"), "#/components/schemas/agtest.Color-proto3");
    CHECK_STREQ(TEXT(sc, "fOptInt32", "type"), "integer"); /* no nulls under proto3 */
    CHECK(HAS(sc, "renamed") && !HAS(sc, "customNamed"));   /* json_name */
    yajl_val color = at(schemas, "agtest.Color-proto3", NULL);
    CHECK_STREQ(TEXT(color, "type"), "string");
    CHECK(array_has(at(color, "enum", NULL), "BLUE") && array_has(at(color, "enum", NULL), "COLOR_UNSPECIFIED"));
    yajl_val rep = at(schemas, "agtest.Repeated-proto3", "properties", NULL);
    CHECK_STREQ(TEXT(rep, "rInt32", "type"), "array");
    CHECK_STREQ(TEXT(rep, "rInt32", "items", "type"), "integer");
    CHECK_STREQ(TEXT(rep, "rInt32", "description"), "packed (proto3 default)"); /* a trailing comment */
    CHECK_STREQ(TEXT(rep, "rNested", "items", "$ref"), "#/components/schemas/agtest.Nested-proto3");
    CHECK_STREQ(TEXT(rep, "rSint64", "items", "type"), "string");
    yajl_val maps = at(schemas, "agtest.Maps-proto3", "properties", NULL);
    CHECK_STREQ(TEXT(maps, "strInt", "type"), "object");
    CHECK_STREQ(TEXT(maps, "strInt", "additionalProperties", "type"), "integer");
    CHECK(!HAS(maps, "strInt", "propertyNames"));
    CHECK_STREQ(TEXT(maps, "intStr", "propertyNames", "pattern"), "^-?[0-9]+$");
    CHECK_STREQ(TEXT(maps, "boolMsg", "propertyNames", "pattern"), "^(true|false)$");
    CHECK_STREQ(TEXT(maps, "boolMsg", "additionalProperties", "$ref"), "#/components/schemas/agtest.Nested-proto3");
    CHECK_STREQ(TEXT(maps, "i64Bytes", "additionalProperties", "contentEncoding"), "base64");
    yajl_val oneofs = at(schemas, "agtest.Oneofs-proto3", NULL);
    CHECK(TEXT(oneofs, "properties", "num", "description") &&
          strstr(TEXT(oneofs, "properties", "num", "description"), "oneof \"choice\"") != NULL);
    CHECK_STREQ(TEXT(oneofs, "properties", "nullChoice", "type"), "null");
    yajl_val pairs = at(oneofs, "not", "anyOf", NULL);
    CHECK(pairs && YAJL_IS_ARRAY(pairs) && pairs->u.array.len == 6); /* 4 members: 6 pairs, "other" in none */
    CHECK_STREQ(TEXT(pairs, "0", "required", "0"), "num");
    CHECK_STREQ(TEXT(pairs, "0", "required", "1"), "text");
    yajl_val wk = at(schemas, "agtest.WellKnown-proto3", "properties", NULL);
    CHECK_STREQ(TEXT(wk, "ts", "format"), "date-time");
    CHECK_STREQ(TEXT(wk, "dur", "pattern"), "^-?[0-9]+(\\.[0-9]{1,9})?s$");
    CHECK_STREQ(TEXT(wk, "mask", "type"), "string");
    CHECK_STREQ(TEXT(wk, "st", "type"), "object");
    CHECK(HAS(wk, "val") && !HAS(wk, "val", "type")); /* any JSON */
    CHECK_STREQ(TEXT(wk, "list", "type"), "array");
    CHECK_STREQ(TEXT(wk, "empty", "type"), "object");
    CHECK_STREQ(TEXT(wk, "any", "required", "0"), "@type");
    CHECK_STREQ(TEXT(wk, "wInt64", "type"), "string"); /* the wrapper's value, proto3's int64 */
    CHECK_STREQ(TEXT(wk, "wInt32", "type"), "integer");
    CHECK_STREQ(TEXT(wk, "wBool", "type"), "boolean");
    CHECK_STREQ(TEXT(wk, "rTs", "items", "format"), "date-time");
    CHECK_STREQ(TEXT(wk, "nullValue", "type"), "null");
    yajl_val p3 = at(schemas, "agtest.Profiled-proto3", "properties", NULL);
    CHECK_STREQ(TEXT(p3, "amount", "$ref"), "#/components/schemas/google.type.Decimal-proto3"); /* a message */
    CHECK_STREQ(TEXT(schemas, "google.type.Decimal-proto3", "properties", "value", "type"), "string");
    CHECK_STREQ(TEXT(p3, "id", "type"), "string");

    /* v11's forms of the same message */
    yajl_val pv = at(schemas, "agtest.Profiled-v11", "properties", NULL);
    CHECK_STREQ(TEXT(pv, "id", "type"), "integer");
    CHECK_STREQ(TEXT(pv, "id", "format"), "int64");
    CHECK_STREQ(TEXT(pv, "count", "type"), "integer");
    CHECK_STREQ(TEXT(pv, "ids", "items", "type"), "integer");
    CHECK(nullable_of(at(pv, "amount", NULL), "number")); /* Decimal: a number, null when absent */
    CHECK(nullable_of(at(pv, "createdAt", NULL), "string"));
    CHECK(TEXT(pv, "createdAt", "pattern") && !HAS(pv, "createdAt", "format")); /* LocalDateTime */
    CHECK(nullable_of(at(pv, "blockNumber", NULL), "integer"));
    CHECK(nullable_of(at(pv, "maybe", NULL), "integer")); /* proto3 optional */
    CHECK_STREQ(TEXT(pv, "child", "anyOf", "0", "$ref"), "#/components/schemas/agtest.Nested-v11");
    CHECK_STREQ(TEXT(pv, "child", "anyOf", "1", "type"), "null");
    CHECK_STREQ(TEXT(pv, "a", "type"), "integer"); /* a oneof member prints only when set */
    CHECK_STREQ(TEXT(pv, "valid", "type"), "boolean");
    CHECK_STREQ(TEXT(pv, "items", "type"), "array");
    CHECK_STREQ(TEXT(pv, "color", "$ref"), "#/components/schemas/agtest.Color-v11");
    yajl_val v11op = at(paths, "/v11/profiled/{id}", "get", NULL);
    CHECK_STREQ(TEXT(v11op, "responses", "404", "$ref"), "#/components/responses/NotFoundV11");
    CHECK_STREQ(TEXT(r, "components", "responses", "NotFoundV11", "content", "application/json", "schema", "$ref"),
                "#/components/schemas/V11Error");
    CHECK(array_has(at(schemas, "V11Error", "required", NULL), "error"));
    CHECK(!array_has(at(schemas, "Error", "required", NULL), "error") &&
          array_has(at(schemas, "Error", "required", NULL), "details"));

    /* comments: a service's, a method's */
    yajl_val tags = at(r, "tags", NULL);
    int found = 0;
    for (size_t i = 0; tags && i < tags->u.array.len; i++)
        if (strcmp(text(at(tags->u.array.values[i], "name", NULL)), "DocService") == 0)
            found = strcmp(text(at(tags->u.array.values[i], "description", NULL)),
                           "DocService: the leading comment of a service.") == 0;
    CHECK(found);
    CHECK_STREQ(TEXT(paths, "/v1/everything/{name}", "get", "description"), "Everything at once.");
    unload(&l);
}

/* ---- the V11 contract ---------------------------------------------------- */

static void test_v11_contract(void)
{
    loaded_t l;
    if (load(&l, AG_V11_DESCRIPTORS) != 0) {
        CHECK(0);
        return;
    }
    check_yaml_equals_json(&l);
    yajl_val r = l.root, paths = at(r, "paths", NULL), schemas = at(r, "components", "schemas", NULL);
    CHECK(!HAS(r, "x-aurigraph-undescribed"));
    CHECK_INTEQ(count_operations(paths, 0), binding_count(l.bindings));
    /* each binding at its path, with its method, success status and gRPC method */
    for (size_t i = 0; i < binding_count(l.bindings); i++) {
        const binding_t *b = binding_at(l.bindings, i);
        char path[512], method[16], status[8];
        size_t o = 0;
        for (const char *p = b->rule->path; *p && o + 1 < sizeof(path); p++) {
            if (*p == '=') { /* {x=...} -> {x} */
                while (*p && *p != '}')
                    p++;
                if (!*p)
                    break;
            }
            path[o++] = *p;
        }
        path[o] = '\0';
        for (o = 0; b->rule->method[o] && o + 1 < sizeof(method); o++)
            method[o] = (char)(b->rule->method[o] | 0x20);
        method[o] = '\0';
        snprintf(status, sizeof(status), "%d", l.routes[i].success_status);
        yajl_val op = at(paths, path, method, NULL);
        if (op == NULL)
            fprintf(stderr, "no operation for %s %s\n", method, path);
        CHECK(op != NULL);
        CHECK(HAS(op, "responses", status));
        CHECK_STREQ(TEXT(op, "x-grpc-method"), b->method->grpc_path);
        CHECK_STREQ(TEXT(op, "responses", "default", "$ref"), "#/components/responses/OtherErrorV11");
    }
    /* untagged names: one profile for every route */
    CHECK(HAS(schemas, "aurigraph.v11.Transaction"));
    yajl_val submit = at(paths, "/api/v11/transactions", "post", NULL);
    CHECK(HAS(submit, "responses", "202") && !HAS(submit, "responses", "200"));
    CHECK_STREQ(TEXT(submit, "requestBody", "content", "application/json", "schema", "$ref"),
                "#/components/schemas/aurigraph.v11.SubmitTransactionRequest");
    CHECK(TEXT(submit, "description") &&
          strncmp(TEXT(submit, "description"), "TransactionResource.submitTransaction: 202", 42) == 0);
    yajl_val tx = at(schemas, "aurigraph.v11.Transaction", "properties", NULL);
    CHECK_STREQ(TEXT(tx, "id", "type"), "integer");
    CHECK(nullable_of(at(tx, "amount", NULL), "number"));
    CHECK(nullable_of(at(tx, "blockNumber", NULL), "integer"));
    CHECK(TEXT(tx, "createdAt", "pattern") != NULL);
    CHECK_STREQ(TEXT(tx, "status", "type"), "string");
    CHECK(nullable_of(at(tx, "toAddress", NULL), "string")); /* StringValue */
    CHECK_STREQ(TEXT(tx, "blockNumber", "description"), "null until confirmed with a blockNumber");
    /* a field's comment, then what its type's form says */
    CHECK(TEXT(tx, "createdAt", "description") &&
          strncmp(TEXT(tx, "createdAt", "description"), "LocalDateTime\n\nJava's LocalDateTime", 35) == 0);
    /* response_body: the bare array */
    yajl_val pending = at(paths, "/api/v11/transactions/pending", "get", "responses", "200", "content",
                          "application/json", "schema", NULL);
    CHECK_STREQ(TEXT(pending, "type"), "array");
    CHECK_STREQ(TEXT(pending, "items", "$ref"), "#/components/schemas/aurigraph.v11.Transaction");
    /* POST without a body: the query carries the rest */
    yajl_val confirm = at(paths, "/api/v11/transactions/{tx_hash}/confirm", "post", NULL);
    CHECK(param(confirm, "tx_hash") && param(confirm, "blockNumber") && param(confirm, "blockHash"));
    CHECK_STREQ(TEXT(param(confirm, "blockNumber"), "in"), "query");
    CHECK(!HAS(confirm, "requestBody"));
    CHECK(HAS(paths, "/api/v11/transactions:events", "get", "responses", "200", "content", "application/x-ndjson"));
    CHECK(HAS(paths, "/q/health/ready", "get", "responses", "503"));
    CHECK(HAS(paths, "/q/metrics", "get", "responses", "200", "content", "text/plain; version=0.0.4"));
    fprintf(stderr, "V11: %zu routes, YAML %zu bytes, JSON %zu bytes, %zu schemas\n", binding_count(l.bindings),
            l.doc.yaml_len, l.doc.json_len, schemas ? schemas->u.object.len : 0);
    unload(&l);
}

/* The build passes --include_source_info: the schema keeps the comments. */
static void test_comments_loaded(void)
{
    char err[256];
    schema_t *s = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    CHECK(s != NULL);
    if (s == NULL)
        return;
    const schema_method_t *m = schema_find_method(s, "aurigraph.v11.TransactionService.GetTransactionStats");
    CHECK(m && m->comment && strncmp(m->comment, "TransactionResource.getTransactionStats", 39) == 0);
    const schema_message_t *tx = schema_find_message(s, "aurigraph.v11.Transaction", 25);
    CHECK(tx != NULL && tx->comment != NULL);
    schema_free(s);
}

int main(void)
{
    test_docs_contract();
    test_v11_contract();
    test_comments_loaded();
    return test_summary();
}
