/* schema_test: loading the project's own descriptor sets into tables. */
#include "schema/schema.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static const schema_field_t *field(const schema_message_t *m, const char *name)
{
    return schema_field_by_name(m, name, strlen(name));
}

static void test_v11(void)
{
    char err[256] = "";
    schema_t *s = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    CHECK(s != NULL);
    if (s == NULL) {
        fprintf(stderr, "load: %s\n", err);
        return;
    }
    CHECK_INTEQ(schema_service_count(s), 5);
    /* HTTP rules per service (one line each, so each service's routes are
     * counted where they are owned) */
    static const struct {
        const char *name;
        size_t rules;
    } want[] = {
        {"aurigraph.v11.TransactionService", 9},
        {"aurigraph.v11.ConsensusService", 4},
        {"aurigraph.v11.QuantumCryptoService", 10}, /* CryptoApiResource */
        {"aurigraph.v11.AIOptimizationService", 12},  /* AIApiResource 10 + AIModelMetricsApiResource 2 */
        {"aurigraph.v11.CrossChainBridgeService", 6}, /* BridgeApiResource 4 + status + chains */
    };
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        size_t nrules = 0, found = 0;
        for (size_t i = 0; i < schema_service_count(s); i++) {
            const schema_service_t *sv = schema_service_at(s, i);
            if (strcmp(sv->full_name, want[w].name) != 0)
                continue;
            found = 1;
            for (uint32_t m = 0; m < sv->nmethods; m++)
                nrules += sv->methods[m].nhttp_rules;
        }
        CHECK(found);
        CHECK_INTEQ(nrules, want[w].rules);
    }

    const schema_method_t *submit = schema_find_method(s, "aurigraph.v11.TransactionService.SubmitTransaction");
    CHECK(submit != NULL);
    if (submit) {
        CHECK_STREQ(submit->grpc_path, "/aurigraph.v11.TransactionService/SubmitTransaction");
        CHECK_INTEQ(submit->nhttp_rules, 1);
        CHECK_STREQ(submit->http_rules[0].method, "POST");
        CHECK_STREQ(submit->http_rules[0].path, "/api/v11/transactions");
        CHECK_STREQ(submit->http_rules[0].body, "*");
        const schema_message_t *req = submit->input;
        const schema_field_t *f = field(req, "userId"), *g = field(req, "user_id");
        CHECK(f != NULL && f == g);
        CHECK(field(req, "transactionType") != NULL && field(req, "transactionType")->enumeration != NULL);
        CHECK(field(req, "nope") == NULL);
    }
    const schema_method_t *events = schema_find_method(s, "aurigraph.v11.TransactionService.StreamTransactionEvents");
    CHECK(events != NULL && events->server_streaming && !events->client_streaming);

    const schema_message_t *tx = schema_find_message(s, "aurigraph.v11.Transaction", 25);
    CHECK(tx != NULL);
    if (tx) {
        const schema_field_t *c = field(tx, "createdAt");
        CHECK(c != NULL && c->message != NULL && c->message->wkt == WKT_TIMESTAMP);
        for (uint32_t i = 0; i < tx->nfields; i++)
            CHECK(schema_field_by_number(tx, tx->fields[i].number) == &tx->fields[i]);
        CHECK(schema_field_by_number(tx, 9999) == NULL);
    }
    const schema_enum_t *tt = schema_find_enum(s, "aurigraph.v11.TransactionType", 29);
    CHECK(tt != NULL);
    if (tt) {
        const schema_enum_value_t *v = schema_enum_by_name(tt, "SMART_CONTRACT", 14);
        CHECK(v != NULL && schema_enum_by_number(tt, v->number) == v);
        CHECK(schema_enum_by_name(tt, "SMART", 5) == NULL);
    }
    schema_free(s);
}

static void test_testproto(void)
{
    char err[256] = "";
    schema_t *s = schema_load_file(AG_TEST_DESCRIPTORS, err, sizeof(err));
    CHECK(s != NULL);
    if (s == NULL) {
        fprintf(stderr, "load: %s\n", err);
        return;
    }
    const schema_message_t *sc = schema_find_message(s, "agtest.Scalars", 14);
    CHECK(sc != NULL);
    if (sc) {
        CHECK(field(sc, "renamed") != NULL && field(sc, "renamed") == field(sc, "custom_named"));
        CHECK(field(sc, "customNamed") == NULL);
        const schema_field_t *opt = field(sc, "fOptInt32");
        CHECK(opt != NULL && opt->has_presence && opt->oneof_index == -1);
        CHECK(field(sc, "fInt32") != NULL && !field(sc, "fInt32")->has_presence);
        CHECK(sc->noneofs == 0);
    }
    const schema_message_t *rp = schema_find_message(s, "agtest.Repeated", 15);
    CHECK(rp != NULL);
    if (rp) {
        CHECK(field(rp, "rInt32")->packed == 1);
        CHECK(field(rp, "rUnpacked")->packed == 0);
        CHECK(field(rp, "rString")->packed == 0);
    }
    const schema_message_t *mp = schema_find_message(s, "agtest.Maps", 11);
    CHECK(mp != NULL && field(mp, "strInt")->is_map && field(mp, "strInt")->message->map_entry);
    const schema_message_t *oo = schema_find_message(s, "agtest.Oneofs", 13);
    CHECK(oo != NULL && oo->noneofs == 1 && field(oo, "num")->oneof_index == 0 && field(oo, "other")->oneof_index == -1);
    CHECK(field(oo, "nullChoice")->enumeration->is_null_value);
    const schema_message_t *wk = schema_find_message(s, "agtest.WellKnown", 16);
    CHECK(wk != NULL && field(wk, "any")->message->wkt == WKT_ANY && field(wk, "wBytes")->message->wkt == WKT_BYTES_VALUE);
    const schema_enum_t *color = schema_find_enum(s, "agtest.Color", 12);
    CHECK(color != NULL && schema_enum_by_number(color, -3) != NULL && strcmp(schema_enum_by_number(color, -3)->name, "BLUE") == 0);
    const schema_method_t *get = schema_find_method(s, "agtest.TestService.GetThing");
    CHECK(get != NULL && get->nhttp_rules == 2);
    if (get && get->nhttp_rules == 2) {
        CHECK_STREQ(get->http_rules[1].body, "body_part");
        CHECK_STREQ(get->http_rules[1].response_body, "child");
        CHECK_STREQ(get->http_rules[1].path, "/v1/things/{nested.id}:annotate");
    }
    schema_free(s);
}

static void test_garbage(void)
{
    char err[256];
    unsigned char junk[64];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    CHECK(schema_load(junk, sizeof(junk), err, sizeof(err)) == NULL);
    CHECK(strlen(err) > 0);
    CHECK(schema_load_file("/nonexistent/x.pb", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent/x.pb") != NULL);
}

int main(void)
{
    test_v11();
    test_testproto();
    test_garbage();
    return test_summary();
}
