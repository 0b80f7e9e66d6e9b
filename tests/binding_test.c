/*
 * binding_test: the route table as the gateway builds it from the project's
 * own descriptor set (every route of the API contract, precedence, 404 vs
 * 405), and request assembly from path, query and body.
 */
#include "transcode/binding.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static schema_t *v11, *testschema;
static binding_table_t *v11_routes, *test_routes;
static transcode_options_t opt;

typedef struct {
    const char *method, *path, *rpc;
} spec_route_t;

/* Every V11 route of the original platform, as proto/README.md lists them (no additional bindings). */
static const spec_route_t spec_routes[] = {
    {"POST", "/api/v11/transactions", "TransactionService.SubmitTransaction"},
    {"POST", "/api/v11/transactions:batch", "TransactionService.BatchSubmitTransactions"},
    {"GET", "/api/v11/transactions/pending", "TransactionService.ListPendingTransactions"},
    {"GET", "/api/v11/transactions/stats", "TransactionService.GetTransactionStats"},
    {"GET", "/api/v11/transactions/user/u-1", "TransactionService.ListUserTransactions"},
    {"GET", "/api/v11/transactions/0xabc", "TransactionService.GetTransaction"},
    {"POST", "/api/v11/transactions/0xabc/confirm", "TransactionService.ConfirmTransaction"},
    {"POST", "/api/v11/transactions/0xabc/finalize", "TransactionService.FinalizeTransaction"},
    {"GET", "/api/v11/transactions:events", "TransactionService.StreamTransactionEvents"},
    {"GET", "/api/v11/consensus/status", "ConsensusService.GetConsensusStatus"},
    {"GET", "/api/v11/consensus/nodes", "ConsensusService.ListNodes"},
    {"POST", "/api/v11/consensus/propose", "ConsensusService.ProposeBlock"},
    {"GET", "/api/v11/consensus/metrics", "ConsensusService.GetConsensusMetrics"},
    {"GET", "/api/v11/crypto/status", "QuantumCryptoService.GetStatus"},
    {"GET", "/api/v11/crypto/algorithms", "QuantumCryptoService.ListAlgorithms"},
    {"POST", "/api/v11/crypto/keystore/generate", "QuantumCryptoService.GenerateKey"},
    {"POST", "/api/v11/crypto/sign", "QuantumCryptoService.Sign"},
    {"POST", "/api/v11/crypto/verify", "QuantumCryptoService.Verify"},
    {"GET", "/api/v11/crypto/security/quantum-status", "QuantumCryptoService.GetQuantumSecurityStatus"},
    {"POST", "/api/v11/crypto/encrypt", "QuantumCryptoService.Encrypt"},
    {"POST", "/api/v11/crypto/decrypt", "QuantumCryptoService.Decrypt"},
    {"POST", "/api/v11/crypto/performance", "QuantumCryptoService.RunPerformanceTest"},
    {"GET", "/api/v11/crypto/metrics", "QuantumCryptoService.GetMetrics"},
    {"GET", "/api/v11/ai/models", "AIOptimizationService.ListModels"},
    {"GET", "/api/v11/ai/models/m-7", "AIOptimizationService.GetModel"},
    {"POST", "/api/v11/ai/models/m-7/retrain", "AIOptimizationService.RetrainModel"},
    {"GET", "/api/v11/ai/models/m-7/metrics", "AIOptimizationService.GetModelMetrics"},
    {"GET", "/api/v11/ai/status", "AIOptimizationService.GetStatus"},
    {"GET", "/api/v11/ai/metrics", "AIOptimizationService.GetMetrics"},
    {"GET", "/api/v11/ai/predictions", "AIOptimizationService.GetPredictions"},
    {"GET", "/api/v11/ai/consensus/predictions", "AIOptimizationService.GetConsensusPredictions"},
    {"POST", "/api/v11/ai/optimize", "AIOptimizationService.Optimize"},
    {"GET", "/api/v11/ai/performance", "AIOptimizationService.GetPerformance"},
    {"GET", "/api/v11/ai/confidence", "AIOptimizationService.GetConfidence"},
    {"GET", "/api/v11/ai/optimization-metrics", "AIOptimizationService.GetOptimizationMetrics"},
    {"GET", "/api/v11/bridge/stats", "CrossChainBridgeService.GetBridgeStats"},
    {"GET", "/api/v11/bridge/supported-chains", "CrossChainBridgeService.ListSupportedChains"},
    {"POST", "/api/v11/bridge/transfer", "CrossChainBridgeService.InitiateTransfer"},
    {"POST", "/api/v11/bridge/validate", "CrossChainBridgeService.ValidateBridgeTransaction"},
    {"GET", "/api/v11/bridge/status", "CrossChainBridgeService.GetBridgeStatus"},
    {"GET", "/api/v11/bridge/chains", "CrossChainBridgeService.ListChains"},
};

static route_result_t match(const binding_table_t *t, const char *method, const char *path, arena_t *a,
                            route_match_t *m)
{
    return route_match(binding_routes(t), method, strlen(method), path, strlen(path), a, m);
}

static void test_spec_routes(void)
{
    arena_t a;
    arena_init(&a);
    CHECK_INTEQ(binding_count(v11_routes), sizeof(spec_routes) / sizeof(spec_routes[0]));
    for (size_t i = 0; i < sizeof(spec_routes) / sizeof(spec_routes[0]); i++) {
        route_match_t m;
        route_result_t r = match(v11_routes, spec_routes[i].method, spec_routes[i].path, &a, &m);
        CHECK_INTEQ(r, ROUTE_FOUND);
        if (r != ROUTE_FOUND) {
            fprintf(stderr, "  %s %s\n", spec_routes[i].method, spec_routes[i].path);
            continue;
        }
        const binding_t *b = m.target;
        char want[160];
        snprintf(want, sizeof(want), "aurigraph.v11.%s", spec_routes[i].rpc);
        CHECK_STREQ(b->method->full_name, want);
        arena_reset(&a);
    }
    /* literal segments never reach GetTransaction */
    route_match_t m;
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v11/transactions/pending", &a, &m), ROUTE_FOUND);
    CHECK_STREQ(((const binding_t *)m.target)->method->name, "ListPendingTransactions");
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v11/transactions/0x%41b", &a, &m), ROUTE_FOUND);
    CHECK_INTEQ(m.nvars, 1);
    CHECK(m.nvars == 1 && m.vars[0].value_len == 4 && memcmp(m.vars[0].value, "0xAb", 4) == 0);
    /* 404 vs 405 */
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v11/nothing", &a, &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v12/transactions", &a, &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(v11_routes, "DELETE", "/api/v11/transactions", &a, &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "POST");
    /* the batch extension is POST .../transactions:batch: .../transactions/batch
     * is {tx_hash} (GET answers "Transaction not found", POST 405), as in the original */
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v11/transactions/batch", &a, &m), ROUTE_FOUND);
    CHECK_STREQ(((const binding_t *)m.target)->method->name, "GetTransaction");
    CHECK_INTEQ(match(v11_routes, "POST", "/api/v11/transactions/batch", &a, &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v11/transactions/events", &a, &m), ROUTE_FOUND);
    CHECK_STREQ(((const binding_t *)m.target)->method->name, "GetTransaction");
    CHECK_INTEQ(match(v11_routes, "POST", "/api/v11/transactions/pending", &a, &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_INTEQ(match(v11_routes, "GET", "/api/v11/transactions/%zz", &a, &m), ROUTE_BAD_PATH);
    arena_free(&a);
}

/* Assembles a request through the route table, decodes it with
 * protoc-independent expectations written as hex. */
static int request_hex(const binding_table_t *t, const schema_t *s, const char *method, const char *target,
                       const char *body, char *hex, size_t hexcap, char *errmsg, size_t errcap)
{
    arena_t a;
    arena_init(&a);
    route_match_t m;
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    route_result_t r = route_match(binding_routes(t), method, strlen(method), target, plen, &a, &m);
    if (r != ROUTE_FOUND) {
        snprintf(errmsg, errcap, "route result %d", (int)r);
        arena_free(&a);
        return -2;
    }
    buf_t out;
    buf_init(&out, &a, 64);
    status_t st = {0};
    int rc = binding_request_to_pb(s, m.target, m.vars, m.nvars, q ? q + 1 : NULL, q ? strlen(q + 1) : 0, body,
                                   body ? strlen(body) : 0, &opt, &out, &st, NULL);
    hex[0] = '\0';
    for (size_t i = 0; rc == 0 && i < out.len && i * 2 + 2 < hexcap; i++)
        snprintf(hex + i * 2, 3, "%02x", (unsigned char)out.data[i]);
    snprintf(errmsg, errcap, "%s", rc ? st.message : "");
    arena_free(&a);
    return rc;
}

#define EXPECT_REQUEST(t, s, method, target, body, want_hex)                                        \
    do {                                                                                          \
        char hex_[512], err_[256];                                                                \
        int rc_ = request_hex(t, s, method, target, body, hex_, sizeof(hex_), err_, sizeof(err_)); \
        CHECK_INTEQ(rc_, 0);                                                                      \
        if (rc_ != 0)                                                                             \
            fprintf(stderr, "  %s %s: %s\n", method, target, err_);                               \
        CHECK_STREQ(hex_, want_hex);                                                              \
    } while (0)

#define EXPECT_REQUEST_ERROR(t, s, method, target, body, fragment)                                \
    do {                                                                                          \
        char hex_[512], err_[256];                                                                \
        int rc_ = request_hex(t, s, method, target, body, hex_, sizeof(hex_), err_, sizeof(err_)); \
        CHECK_INTEQ(rc_, -1);                                                                     \
        if (strstr(err_, fragment) == NULL) {                                                     \
            test_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: got \"%s\", expected ...%s...\n", __FILE__, __LINE__, err_,   \
                    fragment);                                                                    \
        } else {                                                                                  \
            test_passed_++;                                                                       \
        }                                                                                         \
    } while (0)

static void test_v11_requests(void)
{
    /* path variable: GetTransactionRequest.tx_hash = 1 */
    EXPECT_REQUEST(v11_routes, v11, "GET", "/api/v11/transactions/0xab", NULL, "0a043078" "6162");
    /* path + query: StreamTransactionEventsRequest {user_id=1, status=2, transaction_type=3 (enum)} */
    EXPECT_REQUEST(v11_routes, v11, "GET", "/api/v11/transactions:events?userId=u1&status=PENDING&transactionType=TRANSFER",
                   NULL, "0a027531" "120750454e44494e47" "1801");
    /* the query's JSON and proto names, into wrappers: ConfirmTransactionRequest {tx_hash=1,
     * block_number=2 (Int64Value), block_hash=3 (StringValue)} */
    EXPECT_REQUEST(v11_routes, v11, "POST", "/api/v11/transactions/h/confirm?blockNumber=7&block_hash=b%20c", NULL,
                   "0a0168" "1202" "0807" "1a05" "0a03622063");
    /* body "*": SubmitTransactionRequest (StringValue fields); a stray query is ignored, not an error */
    EXPECT_REQUEST(v11_routes, v11, "POST", "/api/v11/transactions?cachebust=1", "{\"userId\":\"u\",\"data\":\"1.5\"}",
                   "0a03" "0a0175" "4205" "0a03312e35");
    /* empty body with body "*": the empty message */
    EXPECT_REQUEST(v11_routes, v11, "POST", "/api/v11/consensus/propose", "", "");
    EXPECT_REQUEST_ERROR(v11_routes, v11, "GET", "/api/v11/transactions:events?transactionType=x", NULL,
                         "query parameter \"transactionType\"");
    EXPECT_REQUEST_ERROR(v11_routes, v11, "GET", "/api/v11/transactions/user/u1?nope=1", NULL,
                         "query parameter \"nope\" names no field");
    EXPECT_REQUEST_ERROR(v11_routes, v11, "GET", "/api/v11/transactions:events?userId=%zz", NULL,
                         "bad percent-encoding");
    EXPECT_REQUEST_ERROR(v11_routes, v11, "POST", "/api/v11/transactions", "{\"userId\":5}",
                         "field \"userId\": expected a string, got a number");
    EXPECT_REQUEST_ERROR(v11_routes, v11, "POST", "/api/v11/transactions", "{\"userId\":\"u\"",
                         "invalid JSON");
    /* a percent escape can spell any byte; a string field takes only UTF-8 */
    EXPECT_REQUEST_ERROR(v11_routes, v11, "GET", "/api/v11/transactions/0x%C3%28", NULL,
                         "path variable \"tx_hash\": field \"txHash\": invalid UTF-8");
    EXPECT_REQUEST(v11_routes, v11, "GET", "/api/v11/transactions/%C3%A9", NULL, "0a02c3a9");
}

static void test_rule_forms(void)
{
    /* {name=shelves/STAR/things/STAR}: a multi-segment variable keeps the slashes and %2F */
    EXPECT_REQUEST(test_routes, testschema, "GET", "/v1/things/shelves/s1/things/t%2F1", NULL,
                   "0a17" "7368656c7665732f73312f7468696e67732f74253246" "31");
    /* nested query paths, repeated, enum by name and number, bool */
    EXPECT_REQUEST(test_routes, testschema, "GET",
                   "/v1/things/shelves/a/things/b?nested.name=x&tags=p&tags=q&color=RED&verbose=true&pageSize=5",
                   NULL,
                   "0a12" "7368656c7665732f612f7468696e67732f62" /* name */
                   "1203" "120178"                                 /* nested {name: "x"} */
                   "220170" "220171" "2801" "3001" "1805");
    EXPECT_REQUEST(test_routes, testschema, "GET", "/v1/things/shelves/a/things/b?color=2", NULL,
                   "0a12" "7368656c7665732f612f7468696e67732f62" "2802");
    /* the query cannot override the path */
    EXPECT_REQUEST(test_routes, testschema, "GET", "/v1/things/shelves/a/things/b?name=other", NULL,
                   "0a12" "7368656c7665732f612f7468696e67732f62");
    EXPECT_REQUEST_ERROR(test_routes, testschema, "GET", "/v1/things/shelves/a/things/b?verbose=yes", NULL,
                         "expected true or false");
    EXPECT_REQUEST_ERROR(test_routes, testschema, "GET", "/v1/things/shelves/a/things/b?color=PURPLE", NULL,
                         "unknown value \"PURPLE\"");
    EXPECT_REQUEST_ERROR(test_routes, testschema, "GET", "/v1/things/shelves/a/things/b?nested=1", NULL,
                         "query parameter \"nested\"");
    /* additional binding: nested path variable, a verb, body "body_part" */
    EXPECT_REQUEST(test_routes, testschema, "POST", "/v1/things/42:annotate?pageSize=3", "{\"id\":9}",
                   "3a020809" "1202082a" "1803");
    EXPECT_REQUEST_ERROR(test_routes, testschema, "POST", "/v1/things/x:annotate", "{}",
                         "path variable \"nested.id\"");
    /* body "*" with a path variable: the path wins over the body */
    EXPECT_REQUEST(test_routes, testschema, "PUT", "/v1/things/n1", "{\"name\":\"body\",\"pageSize\":\"4\"}",
                   "0a04626f6479" "1804" "0a026e31");
}

static void test_response_body(void)
{
    arena_t a;
    arena_init(&a);
    route_match_t m;
    CHECK_INTEQ(match(test_routes, "POST", "/v1/things/1:annotate", &a, &m), ROUTE_FOUND);
    const binding_t *b = m.target;
    CHECK(b->response_field != NULL && strcmp(b->response_field->name, "child") == 0);
    /* Nested {id: 1, child {id: 2, name: "c"}} -> only the child prints */
    static const uint8_t pb[] = {0x08, 0x01, 0x1a, 0x05, 0x08, 0x02, 0x12, 0x01, 'c'};
    buf_t out;
    buf_init(&out, &a, 64);
    status_t st;
    CHECK_INTEQ(binding_response_to_json(testschema, b, pb, sizeof(pb), &opt, &out, &st), 0);
    buf_putc(&out, '\0');
    CHECK_STREQ(out.data, "{\"id\":2,\"name\":\"c\"}");
    arena_free(&a);
}

static void test_bad_rules(void)
{
    /* a conflicting descriptor set is refused at load with both routes named */
    char err[256];
    route_table_t *t = route_table_new();
    CHECK_INTEQ(route_add(t, "GET", "/api/v11/transactions/{tx_hash}", NULL, err, sizeof(err)), 0);
    CHECK_INTEQ(route_add(t, "GET", "/api/v11/transactions/{other}", NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "conflicts") != NULL);
    route_table_free(t);
}

int main(void)
{
    char err[256];
    transcode_options_default(&opt);
    v11 = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    testschema = schema_load_file(AG_TEST_DESCRIPTORS, err, sizeof(err));
    if (!v11 || !testschema) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    v11_routes = binding_table_build(v11, err, sizeof(err));
    if (v11_routes == NULL)
        fprintf(stderr, "v11: %s\n", err);
    test_routes = binding_table_build(testschema, err, sizeof(err));
    if (test_routes == NULL)
        fprintf(stderr, "test: %s\n", err);
    CHECK(v11_routes != NULL && test_routes != NULL);
    if (v11_routes && test_routes) {
        test_spec_routes();
        test_v11_requests();
        test_rule_forms();
        test_response_body();
    }
    test_bad_rules();
    binding_table_free(v11_routes);
    binding_table_free(test_routes);
    schema_free(v11);
    schema_free(testschema);
    return test_summary();
}
