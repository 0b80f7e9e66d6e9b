/*
 * route_test: HttpRule template parsing, matching precedence, decoding and
 * the V11 route table from shared/spec/api-v11.md.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "route/route.h"
#include "test.h"

/* Values may live in the arena until the next match, so one arena per test run. */
static arena_t arena;

static route_result_t match(const route_table_t *t, const char *method, const char *path,
                            route_match_t *out)
{
    arena_reset(&arena);
    return route_match(t, method, strlen(method), path, strlen(path), &arena, out);
}

/* The decoded value of field_path, NUL-terminated into a static buffer. */
static const char *var(const route_match_t *m, const char *field_path)
{
    static char buf[4096];
    for (size_t i = 0; i < m->nvars; i++) {
        if (strcmp(m->vars[i].field_path, field_path) == 0) {
            size_t n = m->vars[i].value_len < sizeof(buf) - 1 ? m->vars[i].value_len
                                                                : sizeof(buf) - 1;
            memcpy(buf, m->vars[i].value, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return NULL;
}

static const char *target_of(const route_match_t *m)
{
    return m->target ? (const char *)m->target : "(none)";
}

static void add_ok(route_table_t *t, const char *method, const char *tmpl, const char *target)
{
    char err[256] = "";
    int rc = route_add(t, method, tmpl, (void *)target, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "route_add(%s %s) failed: %s\n", method, tmpl, err);
    CHECK_INTEQ(rc, 0);
}

/* Adds a route that must fail and returns the message. */
static const char *add_err(route_table_t *t, const char *method, const char *tmpl)
{
    static char err[512];
    err[0] = '\0';
    CHECK_INTEQ(route_add(t, method, tmpl, (void *)"x", err, sizeof(err)), -1);
    return err;
}

static void expect_found(const route_table_t *t, const char *method, const char *path,
                         const char *target)
{
    route_match_t m;
    route_result_t r = match(t, method, path, &m);
    if (r != ROUTE_FOUND || strcmp(target_of(&m), target) != 0)
        fprintf(stderr, "  %s %s -> result %d target %s, expected %s\n", method, path, (int)r,
                target_of(&m), target);
    CHECK_INTEQ(r, ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), target);
}

static void test_grammar_forms(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/v1/shelves", "literal");
    add_ok(t, "GET", "/v1/shelves/{shelf}", "field");
    add_ok(t, "GET", "/v1/books/{book.id.value}", "dotted");
    add_ok(t, "GET", "/v1/files/{path=**}", "dstar_var");
    add_ok(t, "GET", "/v1/{name=shelves/*}/books", "multi_var");
    add_ok(t, "GET", "/v1/any/*/leaf", "star");
    add_ok(t, "GET", "/v1/static/**", "dstar");
    add_ok(t, "POST", "/v1/things/{id}:cancel", "verb");
    add_ok(t, "GET", "/v1/things/{id}", "no_verb");
    add_ok(t, "POST", "/v1/things:batchGet", "literal_verb");
    add_ok(t, "GET", "/v1/{name=projects/*/locations/*}/ops/{op=**}:wait", "complex");
    add_ok(t, "GET", "/v1/explicit/{x=*}", "explicit_star");

    route_match_t m;
    CHECK_INTEQ(match(t, "GET", "/v1/shelves", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "literal");
    CHECK_INTEQ(m.nvars, 0);
    CHECK_STREQ(m.tmpl, "/v1/shelves");

    CHECK_INTEQ(match(t, "GET", "/v1/shelves/s1", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "field");
    CHECK_INTEQ(m.nvars, 1);
    CHECK_STREQ(var(&m, "shelf"), "s1");

    CHECK_INTEQ(match(t, "GET", "/v1/books/42", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "dotted");
    CHECK_STREQ(m.vars[0].field_path, "book.id.value");
    CHECK_STREQ(var(&m, "book.id.value"), "42");

    CHECK_INTEQ(match(t, "GET", "/v1/files/a/b/c.txt", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "dstar_var");
    CHECK_STREQ(var(&m, "path"), "a/b/c.txt");
    CHECK_INTEQ(match(t, "GET", "/v1/files", &m), ROUTE_FOUND); /* ** matches nothing */
    CHECK_STREQ(target_of(&m), "dstar_var");
    CHECK_STREQ(var(&m, "path"), "");
    CHECK_INTEQ(match(t, "GET", "/v1/files/x", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "path"), "x");

    CHECK_INTEQ(match(t, "GET", "/v1/shelves/s9/books", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "multi_var");
    CHECK_STREQ(var(&m, "name"), "shelves/s9");
    CHECK_INTEQ(match(t, "GET", "/v1/racks/s9/books", &m), ROUTE_NOT_FOUND);

    CHECK_INTEQ(match(t, "GET", "/v1/any/zzz/leaf", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "star");
    CHECK_INTEQ(m.nvars, 0); /* a bare * matches but captures nothing */
    CHECK_INTEQ(match(t, "GET", "/v1/any/a/b/leaf", &m), ROUTE_NOT_FOUND);

    CHECK_INTEQ(match(t, "GET", "/v1/static/css/site.css", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "dstar");
    CHECK_INTEQ(m.nvars, 0);

    CHECK_INTEQ(match(t, "POST", "/v1/things/abc:cancel", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "verb");
    CHECK_STREQ(var(&m, "id"), "abc");
    CHECK_INTEQ(match(t, "GET", "/v1/things/abc", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "no_verb");
    CHECK_STREQ(var(&m, "id"), "abc");
    /* An unknown verb is not a verb: the ':' stays in the segment. */
    CHECK_INTEQ(match(t, "GET", "/v1/things/abc:frobnicate", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "no_verb");
    CHECK_STREQ(var(&m, "id"), "abc:frobnicate");
    /* Only the last ':' of the last segment starts a verb. */
    CHECK_INTEQ(match(t, "POST", "/v1/things/a:b:cancel", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "verb");
    CHECK_STREQ(var(&m, "id"), "a:b");
    CHECK_INTEQ(match(t, "POST", "/v1/things/a%20b%3Ac:cancel?x=1:y", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "verb");
    CHECK_STREQ(var(&m, "id"), "a b:c"); /* an encoded ':' is data, not a verb */
    CHECK_INTEQ(match(t, "POST", "/v1/things/ab%3Acancel", &m), ROUTE_METHOD_NOT_ALLOWED);
    /* Nothing before the ':' to fill {id}; as a whole, ":cancel" is an id. */
    CHECK_INTEQ(match(t, "POST", "/v1/things/:cancel", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "GET");
    CHECK_INTEQ(match(t, "POST", "/v1/things:batchGet", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "literal_verb");
    CHECK_INTEQ(match(t, "POST", "/v1/things", &m), ROUTE_NOT_FOUND);
    /* The verb route matches the path, so another method is a 405. */
    CHECK_INTEQ(match(t, "GET", "/v1/things/abc:cancel", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "POST");

    CHECK_INTEQ(match(t, "GET", "/v1/projects/p1/locations/eu/ops/a/b:wait", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "complex");
    CHECK_INTEQ(m.nvars, 2);
    CHECK_STREQ(m.vars[0].field_path, "name");
    CHECK_STREQ(var(&m, "name"), "projects/p1/locations/eu");
    CHECK_STREQ(var(&m, "op"), "a/b");
    CHECK_INTEQ(match(t, "GET", "/v1/projects/p1/locations/eu/ops/a/b", &m), ROUTE_NOT_FOUND);

    CHECK_INTEQ(match(t, "GET", "/v1/explicit/e", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "x"), "e");

    route_table_free(t);
}

typedef struct {
    const char *method, *path, *target;
} spec_route_t;

static const spec_route_t spec_routes[] = {
    {"POST", "/api/v11/transactions", "SubmitTransaction"},
    {"POST", "/api/v11/transactions/batch", "BatchSubmitTransactions"},
    {"GET", "/api/v11/transactions/pending", "ListPendingTransactions"},
    {"GET", "/api/v11/transactions/stats", "GetTransactionStats"},
    {"GET", "/api/v11/transactions/user/{user_id}", "ListUserTransactions"},
    {"GET", "/api/v11/transactions/{tx_hash}", "GetTransaction"},
    {"POST", "/api/v11/transactions/{tx_hash}/confirm", "ConfirmTransaction"},
    {"POST", "/api/v11/transactions/{tx_hash}/finalize", "FinalizeTransaction"},
    {"GET", "/api/v11/transactions/events", "StreamTransactionEvents"},
    {"GET", "/api/v11/consensus/status", "GetConsensusStatus"},
    {"GET", "/api/v11/consensus/nodes", "ListNodes"},
    {"POST", "/api/v11/consensus/propose", "ProposeBlock"},
    {"GET", "/api/v11/crypto/status", "GetStatus"},
    {"GET", "/api/v11/crypto/algorithms", "ListAlgorithms"},
    {"POST", "/api/v11/crypto/keystore/generate", "GenerateKey"},
    {"POST", "/api/v11/crypto/sign", "Sign"},
    {"POST", "/api/v11/crypto/verify", "Verify"},
    {"GET", "/api/v11/ai/models", "ListModels"},
    {"GET", "/api/v11/ai/models/{model_id}", "GetModel"},
    {"POST", "/api/v11/ai/optimize", "Optimize"},
    {"GET", "/api/v11/bridge/stats", "GetBridgeStats"},
    {"GET", "/api/v11/bridge/supported-chains", "ListSupportedChains"},
    {"POST", "/api/v11/bridge/transfer", "InitiateTransfer"},
    {"GET", "/api/v11/bridge/transfers/{transfer_id}", "GetTransfer"},
};
#define NSPEC (sizeof(spec_routes) / sizeof(spec_routes[0]))

static route_table_t *spec_table(void)
{
    route_table_t *t = route_table_new();
    for (size_t i = 0; i < NSPEC; i++)
        add_ok(t, spec_routes[i].method, spec_routes[i].path, spec_routes[i].target);
    return t;
}

static void test_spec_routes(void)
{
    CHECK_INTEQ(NSPEC, 24);
    route_table_t *t = spec_table();
    route_match_t m;

    /* Every template without variables matches itself. */
    for (size_t i = 0; i < NSPEC; i++) {
        if (strchr(spec_routes[i].path, '{') == NULL)
            expect_found(t, spec_routes[i].method, spec_routes[i].path, spec_routes[i].target);
    }

    /* The literals next to {tx_hash} never reach GetTransaction. */
    expect_found(t, "GET", "/api/v11/transactions/pending", "ListPendingTransactions");
    expect_found(t, "GET", "/api/v11/transactions/stats", "GetTransactionStats");
    expect_found(t, "GET", "/api/v11/transactions/events", "StreamTransactionEvents");
    expect_found(t, "POST", "/api/v11/transactions/batch", "BatchSubmitTransactions");
    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/batch", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "POST");
    CHECK_INTEQ(match(t, "POST", "/api/v11/transactions/pending", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "GET");

    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/0xabc123", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "GetTransaction");
    CHECK_INTEQ(m.nvars, 1);
    CHECK_STREQ(m.vars[0].field_path, "tx_hash");
    CHECK_STREQ(var(&m, "tx_hash"), "0xabc123");

    CHECK_INTEQ(match(t, "POST", "/api/v11/transactions/0xabc123/confirm", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "ConfirmTransaction");
    CHECK_STREQ(var(&m, "tx_hash"), "0xabc123");
    /* A hash that happens to spell a literal still works below it. */
    CHECK_INTEQ(match(t, "POST", "/api/v11/transactions/pending/confirm", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "ConfirmTransaction");
    CHECK_STREQ(var(&m, "tx_hash"), "pending");
    CHECK_INTEQ(match(t, "POST", "/api/v11/transactions/stats/finalize", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "FinalizeTransaction");
    CHECK_STREQ(var(&m, "tx_hash"), "stats");

    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/user/u-17?limit=5&offset=10", &m),
                ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "ListUserTransactions");
    CHECK_STREQ(var(&m, "user_id"), "u-17");
    /* "user" alone is a tx hash as far as the table can tell. */
    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/user", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "GetTransaction");

    CHECK_INTEQ(match(t, "GET", "/api/v11/ai/models/gpt-x", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "GetModel");
    CHECK_STREQ(var(&m, "model_id"), "gpt-x");
    CHECK_INTEQ(match(t, "GET", "/api/v11/bridge/transfers/t%2042", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "GetTransfer");
    CHECK_STREQ(var(&m, "transfer_id"), "t 42");

    CHECK_INTEQ(match(t, "GET", "/api/v11/bridge/transfers", &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(t, "GET", "/api/v11/nothing", &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(t, "GET", "/api/v12/transactions/pending", &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/a/b", &m), ROUTE_NOT_FOUND);

    /* Trailing slash is an extra empty segment: no match, by design. */
    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/pending/", &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(t, "GET", "/api/v11/transactions/", &m), ROUTE_NOT_FOUND);
    /* An empty segment does not fill a variable. */
    CHECK_INTEQ(match(t, "POST", "/api/v11/transactions//confirm", &m), ROUTE_NOT_FOUND);

    route_table_free(t);
}

static void test_precedence_backtracking(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/a/b/c", "abc");
    add_ok(t, "GET", "/a/{x}/d", "axd");
    add_ok(t, "GET", "/a/{x}/{y}/e", "axye");
    add_ok(t, "GET", "/a/b/{y}/f", "abyf");
    add_ok(t, "GET", "/a/**", "adstar");
    add_ok(t, "GET", "/p/{x}", "px");
    add_ok(t, "GET", "/p/**", "pdstar");
    route_match_t m;

    expect_found(t, "GET", "/a/b/c", "abc");
    expect_found(t, "GET", "/a/b/d", "axd"); /* literal b dead-ends, backtrack to {x} */
    CHECK_INTEQ(match(t, "GET", "/a/b/d", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "x"), "b");
    expect_found(t, "GET", "/a/z/d", "axd");
    expect_found(t, "GET", "/a/b/q/f", "abyf");
    expect_found(t, "GET", "/a/b/q/e", "axye"); /* two levels of backtracking */
    CHECK_INTEQ(match(t, "GET", "/a/b/q/e", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "x"), "b");
    CHECK_STREQ(var(&m, "y"), "q");
    expect_found(t, "GET", "/a/b/c/zzz", "adstar"); /* everything else falls to ** */
    expect_found(t, "GET", "/a", "adstar");
    expect_found(t, "GET", "/p/one", "px");         /* * beats ** */
    expect_found(t, "GET", "/p/one/two", "pdstar");
    expect_found(t, "GET", "/p/", "pdstar");        /* empty segment: not for {x} */
    route_table_free(t);
}

static void test_percent_decoding(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/one/{v}", "one");
    add_ok(t, "GET", "/multi/{v=**}", "multi");
    add_ok(t, "GET", "/pair/{v=x/*}", "pair");
    add_ok(t, "GET", "/lit/pending", "lit");
    add_ok(t, "GET", "/sp%20ace/x", "encoded_literal");
    route_match_t m;

    CHECK_INTEQ(match(t, "GET", "/one/hello%20world", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "v"), "hello world");
    CHECK_INTEQ(match(t, "GET", "/one/a%2Fb", &m), ROUTE_FOUND); /* %2F never splits */
    CHECK_STREQ(target_of(&m), "one");
    CHECK_STREQ(var(&m, "v"), "a/b");
    CHECK_INTEQ(match(t, "GET", "/one/a%2fb", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "v"), "a/b");
    CHECK_INTEQ(match(t, "GET", "/one/caf%C3%A9%E2%82%AC", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "v"), "caf\xc3\xa9\xe2\x82\xac");
    CHECK_INTEQ(match(t, "GET", "/one/plain", &m), ROUTE_FOUND);
    /* Values needing no decoding point into the path. */
    {
        const char *path = "/one/plain";
        arena_reset(&arena);
        CHECK_INTEQ(route_match(t, "GET", 3, path, strlen(path), &arena, &m), ROUTE_FOUND);
        CHECK(m.vars[0].value == path + 5);
        CHECK_INTEQ(m.vars[0].value_len, 5);
    }

    CHECK_INTEQ(match(t, "GET", "/multi/a%2Fb/c%20d/%2f", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "v"), "a%2Fb/c d/%2F");
    CHECK_INTEQ(match(t, "GET", "/pair/x/a%2Fb%41", &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "pair");
    CHECK_STREQ(var(&m, "v"), "x/a%2FbA");

    /* Literals compare decoded, as RFC 3986 makes the spellings equivalent. */
    expect_found(t, "GET", "/lit/pend%69ng", "lit");
    expect_found(t, "GET", "/sp%20ace/x", "encoded_literal");
    expect_found(t, "GET", "/sp%20ace/x", "encoded_literal");
    CHECK_INTEQ(match(t, "GET", "/lit/pe%2Fnding", &m), ROUTE_NOT_FOUND);

    /* Malformed escapes anywhere are a bad request, not a miss. */
    CHECK_INTEQ(match(t, "GET", "/one/%G1", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "/one/%", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "/one/%4", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "/one/ab%", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "/nowhere/%zz", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "/multi/ok/%4/x", &m), ROUTE_BAD_PATH);
    /* ...but the query string is not the path. */
    CHECK_INTEQ(match(t, "GET", "/one/x?q=%zz", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "v"), "x");
    /* Not an origin-form path at all. */
    CHECK_INTEQ(match(t, "GET", "", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "one/x", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "?x", &m), ROUTE_BAD_PATH);
    CHECK_INTEQ(match(t, "GET", "*", &m), ROUTE_BAD_PATH);

    route_table_free(t);
}

static void test_not_found_vs_not_allowed(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/items/{id}", "get");
    add_ok(t, "PUT", "/items/{id}", "put");
    add_ok(t, "DELETE", "/items/{id}", "delete");
    add_ok(t, "POST", "/items/special", "post_special");
    add_ok(t, "PATCH", "/other/{id}", "patch_other");
    add_ok(t, "PURGE", "/cache/{key=**}", "custom");
    route_match_t m;

    CHECK_INTEQ(match(t, "POST", "/items/7", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "DELETE, GET, PUT");
    CHECK(m.target == NULL);
    /* Path first: the literal shadows {id} for every method. */
    expect_found(t, "POST", "/items/special", "post_special");
    CHECK_INTEQ(match(t, "GET", "/items/special", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "POST");
    CHECK(m.target == NULL && m.nvars == 0);
    /* A dead end (no route at all) still backtracks, whatever the method. */
    expect_found(t, "GET", "/items/specia1", "get");
    /* A method no route uses at all is still a 405 on a known path. */
    CHECK_INTEQ(match(t, "OPTIONS", "/items/7", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "DELETE, GET, PUT");
    CHECK_INTEQ(match(t, "get", "/items/7", &m), ROUTE_METHOD_NOT_ALLOWED); /* case matters */
    CHECK_INTEQ(match(t, "GET", "/items", &m), ROUTE_NOT_FOUND);
    CHECK(m.allow == NULL);
    CHECK_INTEQ(match(t, "GET", "/items/7/x", &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(t, "GET", "/other/1", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "PATCH");
    expect_found(t, "PURGE", "/cache/a/b", "custom");
    CHECK_INTEQ(match(t, "GET", "/cache/a/b", &m), ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STREQ(m.allow, "PURGE");
    route_table_free(t);
}

static void test_conflicts(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/v1/{a}", "a");
    CHECK_STREQ(add_err(t, "GET", "/v1/{b}"),
                "route \"GET /v1/{b}\" conflicts with \"GET /v1/{a}\" (same path shape)");
    CHECK_STREQ(add_err(t, "GET", "/v1/*"),
                "route \"GET /v1/*\" conflicts with \"GET /v1/{a}\" (same path shape)");
    CHECK_STREQ(add_err(t, "GET", "/v1/{c=*}"),
                "route \"GET /v1/{c=*}\" conflicts with \"GET /v1/{a}\" (same path shape)");
    add_ok(t, "POST", "/v1/{b}", "other method");
    add_ok(t, "GET", "/v1/{a}:run", "with verb");
    add_ok(t, "GET", "/v1/lit", "literal");
    add_ok(t, "GET", "/v1/{a}/x", "deeper");
    add_ok(t, "GET", "/v1/**", "dstar");
    CHECK(strstr(add_err(t, "GET", "/v1/{rest=**}"), "conflicts with \"GET /v1/**\"") != NULL);
    add_ok(t, "GET", "/v2/{name=shelves/*}", "multi");
    CHECK(strstr(add_err(t, "GET", "/v2/shelves/{id}"), "conflicts with") != NULL);
    CHECK(strstr(add_err(t, "GET", "/v1/{z}:run"), "same path shape") != NULL);
    add_ok(t, "GET", "/v1/l%69t2", "encoded");
    CHECK(strstr(add_err(t, "GET", "/v1/lit2"), "conflicts with \"GET /v1/l%69t2\"") != NULL);

    /* The failed adds changed nothing. */
    route_match_t m;
    expect_found(t, "GET", "/v1/q", "a");
    CHECK_INTEQ(match(t, "GET", "/v1/q", &m), ROUTE_FOUND);
    CHECK_STREQ(var(&m, "a"), "q");
    expect_found(t, "POST", "/v1/q", "other method");
    expect_found(t, "GET", "/v1/q:run", "with verb");
    expect_found(t, "GET", "/v1/lit", "literal");
    expect_found(t, "GET", "/v1/q/x", "deeper");
    expect_found(t, "GET", "/v1/q/y", "dstar");
    expect_found(t, "GET", "/v2/shelves/s", "multi");
    route_table_free(t);
}

static void test_invalid_templates(void)
{
    route_table_t *t = route_table_new();
    CHECK_STREQ(add_err(t, "GET", "/a/{b"),
                "invalid template \"/a/{b\": unterminated variable at offset 3");
    CHECK_STREQ(add_err(t, "GET", ""), "invalid template \"\": must start with '/' at offset 0");
    CHECK_STREQ(add_err(t, "GET", "a/b"),
                "invalid template \"a/b\": must start with '/' at offset 0");
    CHECK_STREQ(add_err(t, "GET", "/"), "invalid template \"/\": empty segment at offset 1");
    CHECK_STREQ(add_err(t, "GET", "/a//b"),
                "invalid template \"/a//b\": empty segment at offset 3");
    CHECK_STREQ(add_err(t, "GET", "/a/"), "invalid template \"/a/\": empty segment at offset 3");
    CHECK_STREQ(add_err(t, "GET", "/a/**/b"),
                "invalid template \"/a/**/b\": '**' must be the last segment at offset 6");
    CHECK(strstr(add_err(t, "GET", "/{x=**}/b"), "'**' must be the last segment") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x={y}}"), "nested variable at offset 6") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{}"), "invalid field path at offset 4") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{1x}"), "invalid field path") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x.}"), "invalid field path") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x..y}"), "invalid field path") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x=}"), "empty segment") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x=a"), "unterminated variable at offset 3") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x}/{x}"), "duplicate variable") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/{x}y"), "unexpected character at offset 6") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/x*"), "unexpected character") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/*x"), "'*' must be a whole segment") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/***"), "'*' must be a whole segment") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/b}"), "unexpected character") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/b c"), "unexpected character") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a:"), "empty verb") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a:b/c"), "unexpected character") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a:b:c"), "unexpected character") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/%zz"), "malformed percent escape at offset 3") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/b%2"), "malformed percent escape") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a/b%2Fc"), "encoded '/' in literal") != NULL);
    CHECK(strstr(add_err(t, "GET", "/a?x=1"), "unexpected character") != NULL);
    CHECK_STREQ(add_err(t, "", "/a"), "invalid method \"\" for template \"/a\"");
    CHECK(strstr(add_err(t, "GE T", "/a"), "invalid method") != NULL);

    char deep[4 * ROUTE_MAX_SEGMENTS + 16] = "";
    for (int i = 0; i <= ROUTE_MAX_SEGMENTS; i++)
        strcat(deep, "/s");
    CHECK(strstr(add_err(t, "GET", deep), "too many segments") != NULL);
    deep[2 * ROUTE_MAX_SEGMENTS] = '\0';
    add_ok(t, "GET", deep, "deepest");

    /* A tiny err buffer truncates instead of overflowing; NULL is tolerated. */
    char small[8];
    CHECK_INTEQ(route_add(t, "GET", "/a/{b", NULL, small, sizeof(small)), -1);
    CHECK_INTEQ(strlen(small), 7);
    CHECK_INTEQ(route_add(t, "GET", "/a/{b", NULL, NULL, 0), -1);
    CHECK_INTEQ(route_add(NULL, "GET", "/a", NULL, NULL, 0), -1);

    /* None of the failures left a route behind. */
    route_match_t m;
    CHECK_INTEQ(match(t, "GET", "/a/b", &m), ROUTE_NOT_FOUND);
    CHECK_INTEQ(match(t, "GET", "/a", &m), ROUTE_NOT_FOUND);
    route_table_free(t);
}

static void test_long_paths(void)
{
    route_table_t *t = spec_table();
    add_ok(t, "GET", "/files/{path=**}", "files");
    add_ok(t, "GET", "/deep/**:stat", "deep_verb");
    route_match_t m;

    size_t nsegs = 10000, len = 0;
    char *path = malloc(nsegs * 4 + 32);
    len += (size_t)sprintf(path, "/files");
    for (size_t i = 0; i < nsegs; i++)
        len += (size_t)sprintf(path + len, "/%zu", i % 10);
    CHECK_INTEQ(match(t, "GET", path, &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "files");
    CHECK_INTEQ(m.vars[0].value_len, len - strlen("/files/"));
    CHECK(m.vars[0].value == path + strlen("/files/")); /* nothing to decode: no copy */

    memcpy(path, "/fileX", 6);
    CHECK_INTEQ(match(t, "GET", path, &m), ROUTE_NOT_FOUND);
    memcpy(path, "/deep/", 6);
    strcpy(path + len, ":stat");
    CHECK_INTEQ(match(t, "GET", path, &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "deep_verb");

    /* 10k empty segments, and one 100 kB segment. */
    memset(path, '/', nsegs);
    path[nsegs] = '\0';
    CHECK_INTEQ(match(t, "GET", path, &m), ROUTE_NOT_FOUND);
    free(path);
    char *big = malloc(100032);
    strcpy(big, "/api/v11/transactions/");
    memset(big + strlen(big), 'h', 100000);
    big[22 + 100000] = '\0';
    CHECK_INTEQ(match(t, "GET", big, &m), ROUTE_FOUND);
    CHECK_STREQ(target_of(&m), "GetTransaction");
    CHECK_INTEQ(m.vars[0].value_len, 100000);
    free(big);
    route_table_free(t);
}

static void test_arena_limit(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/f/{v}", "f");
    arena_t small;
    arena_init(&small);
    small.limit = 64;
    char path[512] = "/f/";
    for (int i = 0; i < 100; i++)
        strcat(path, "%41");
    route_match_t m;
    /* A value too big for the request's arena is refused, never truncated. */
    CHECK_INTEQ(route_match(t, "GET", 3, path, strlen(path), &small, &m), ROUTE_BAD_PATH);
    arena_reset(&small);
    CHECK_INTEQ(route_match(t, "GET", 3, "/f/%41", 6, &small, &m), ROUTE_FOUND);
    CHECK_INTEQ(m.vars[0].value_len, 1);
    arena_free(&small);
    route_table_free(t);
}

static void test_dump(void)
{
    route_table_t *t = route_table_new();
    add_ok(t, "GET", "/v1/{name=shelves/*}/books/{id}:get", "x");
    add_ok(t, "DELETE", "/v1/files/{p=**}", "y");
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    route_table_dump(t, f);
    fclose(f);
    CHECK(strstr(text, "GET     /v1/{name=shelves/*}/books/{id}:get") != NULL);
    CHECK(strstr(text, "shape /v1/shelves/*/books/*:get  vars name=segs[1..2], id=segs[4..4]") !=
          NULL);
    CHECK(strstr(text, "DELETE  /v1/files/{p=**}") != NULL);
    CHECK(strstr(text, "shape /v1/files/**  vars p=segs[2..]") != NULL);
    free(text);
    route_table_free(t);
}

/* xorshift: reproducible without touching the global rand() state. */
static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_hostile_input(void)
{
    route_table_t *t = spec_table();
    add_ok(t, "GET", "/x/{a=**}:v", "xv");
    add_ok(t, "GET", "/x/{a}/{b=y/*}", "xy");
    add_ok(t, "GET", "/**", "catch_all");
    static const char alphabet[] = "/%:?*{}=.aA0Fzx ";
    route_match_t m;
    char buf[256];
    int crashes_would_show_here = 0;

    for (int i = 0; i < 20000; i++) {
        size_t len = rng() % sizeof(buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (i & 1) ? (char)(rng() & 0xff) : alphabet[rng() % (sizeof(alphabet) - 1)];
        if (len > 0 && (i & 2))
            buf[0] = '/';
        arena_reset(&arena);
        route_result_t r = route_match(t, "GET", 3, buf, len, &arena, &m);
        if (r == ROUTE_FOUND) {
            for (size_t v = 0; v < m.nvars; v++) /* every byte must be readable */
                crashes_would_show_here += m.vars[v].value_len ? m.vars[v].value[0] : 0;
        } else if (r != ROUTE_NOT_FOUND && r != ROUTE_BAD_PATH &&
                   r != ROUTE_METHOD_NOT_ALLOWED) {
            crashes_would_show_here = -1;
            break;
        }
    }
    CHECK(crashes_would_show_here != -1);

    /* Random templates: may fail to parse, must never crash. */
    for (int i = 0; i < 20000; i++) {
        size_t len = rng() % 32;
        for (size_t j = 0; j < len; j++)
            buf[j] = alphabet[rng() % (sizeof(alphabet) - 1)];
        buf[len] = '\0';
        if (len > 0)
            buf[0] = '/';
        char err[128];
        (void)route_add(t, (i & 1) ? "POST" : "GET", buf, NULL, err, sizeof(err));
    }
    /* ...and the grown table still routes what it routed. */
    expect_found(t, "GET", "/api/v11/transactions/pending", "ListPendingTransactions");
    route_table_free(t);
}

int main(void)
{
    arena_init(&arena);
    test_grammar_forms();
    test_spec_routes();
    test_precedence_backtracking();
    test_percent_decoding();
    test_not_found_vs_not_allowed();
    test_conflicts();
    test_invalid_templates();
    test_long_paths();
    test_arena_limit();
    test_dump();
    test_hostile_input();
    arena_free(&arena);
    return test_summary();
}
