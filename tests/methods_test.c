/* methods_test: the gRPC method table every door routes by (state/methods.c). */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "schema/schema.h"
#include "state/methods.h"
#include "test.h"

static void test_lookup(void)
{
    char err[256];
    schema_t *s = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    CHECK(s != NULL);
    config_t c;
    config_defaults(&c);
    method_table_t t;
    CHECK_INTEQ(method_table_init(&t, &c, s, err, sizeof(err)), 0);
    CHECK(t.nrows > 20);
    size_t row = 99999;
    const char *p = "/aurigraph.v11.TransactionService/SubmitTransaction";
    CHECK_INTEQ(method_table_find(&t, p, strlen(p), &row), METHOD_FOUND);
    CHECK(row < t.nrows);
    CHECK(strcmp(t.rows[row].name, "SubmitTransaction") == 0);
    CHECK(t.rows[row].service_len == strlen("aurigraph.v11.TransactionService"));
    CHECK_INTEQ(t.rows[row].cluster, 0);
    CHECK(t.rows[row].timeout_ms == c.clusters[0].timeout_ms);
    p = "/aurigraph.v11.TransactionService/Nope";
    CHECK_INTEQ(method_table_find(&t, p, strlen(p), &row), METHOD_NO_METHOD);
    p = "/no.Such/Method";
    CHECK_INTEQ(method_table_find(&t, p, strlen(p), &row), METHOD_NO_SERVICE);
    const char *bad[] = {"", "/", "x/y", "/svc", "/svc/", "//m", "/a/b/c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INTEQ(method_table_find(&t, bad[i], strlen(bad[i]), &row), METHOD_BAD_PATH);
    method_table_free(&t);
    config_free(&c);
    schema_free(s);
}

/* A service only the config names: any method of it reaches its cluster. */
static void test_config_only_service(void)
{
    char err[256];
    schema_t *s = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    CHECK(s != NULL);
    config_t c;
    config_defaults(&c);
    char *argv[] = {"gateway", "--upstream", "127.0.0.1:1"};
    CHECK_INTEQ(config_parse_args(&c, 3, argv, err, sizeof(err)), 0);
    c.services = calloc(1, sizeof(*c.services));
    c.services[0].service = strdup("aurigraph.test.EchoService");
    c.services[0].cluster = strdup("default");
    c.nservices = 1;
    method_table_t t;
    CHECK_INTEQ(method_table_init(&t, &c, s, err, sizeof(err)), 0);
    size_t row = 0;
    const char *p = "/aurigraph.test.EchoService/Anything";
    CHECK_INTEQ(method_table_find(&t, p, strlen(p), &row), METHOD_FOUND);
    CHECK(t.rows[row].method == NULL);
    CHECK(strcmp(t.rows[row].name, "_other") == 0);
    p = "/aurigraph.test.EchoServic/Anything";
    CHECK_INTEQ(method_table_find(&t, p, strlen(p), &row), METHOD_NO_SERVICE);
    /* an unknown cluster is refused */
    free(c.services[0].cluster);
    c.services[0].cluster = strdup("nowhere");
    method_table_t t2;
    CHECK_INTEQ(method_table_init(&t2, &c, s, err, sizeof(err)), -1);
    CHECK(strstr(err, "aurigraph.test.EchoService") != NULL);
    method_table_free(&t);
    config_free(&c);
    schema_free(s);
}

int main(void)
{
    test_lookup();
    test_config_only_service();
    return test_summary();
}
