/*
 * jdoc_test: the tree and its two writers, byte for byte: which strings YAML
 * may leave plain, the escapes both spellings share, invalid UTF-8, empty
 * containers, nesting in sequences, and keys set twice.
 */
#include "core/jdoc.h"
#include "test.h"

static jdoc_t d;

static const char *json_of(const jdoc_node_t *n, buf_t *b)
{
    b->len = 0;
    jdoc_write_json(n, b);
    buf_putc(b, '\0');
    return b->data;
}

static const char *yaml_of(const jdoc_node_t *n, buf_t *b)
{
    b->len = 0;
    jdoc_write_yaml(n, b);
    buf_putc(b, '\0');
    return b->data;
}

static void test_plain_or_quoted(buf_t *b)
{
    static const struct {
        const char *in, *yaml;
    } cases[] = {
        {"get", "get\n"},
        {"/api/v11/transactions/{tx_hash}", "/api/v11/transactions/{tx_hash}\n"},
        {"$ref", "$ref\n"},
        {"Some words (and more).", "Some words (and more).\n"},
        {"200", "\"200\"\n"},          /* a number to YAML */
        {"true", "\"true\"\n"},        /* bools and null, 1.1's words too */
        {"No", "\"No\"\n"},
        {"off", "\"off\"\n"},
        {"null", "\"null\"\n"},
        {"y", "\"y\"\n"},
        {"@type", "\"@type\"\n"},      /* an indicator first */
        {"-x", "\"-x\"\n"},
        {"a: b", "\"a: b\"\n"},        /* a key inside */
        {"/v1/x:batch", "\"/v1/x:batch\"\n"},
        {"a #b", "\"a #b\"\n"},        /* a comment inside */
        {"trailing ", "\"trailing \"\n"},
        {"", "\"\"\n"},
        {"two\nlines", "\"two\\nlines\"\n"},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\"\n"}, /* UTF-8 kept, quoted */
        {"text/plain; version=0.0.4", "\"text/plain; version=0.0.4\"\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STREQ(yaml_of(jdoc_string(&d, cases[i].in), b), cases[i].yaml);
}

static void test_escapes(buf_t *b)
{
    /* quote, backslash, controls, DEL, a C1 control, BOM, U+FFFE: the
     * escapes JSON and YAML share */
    jdoc_node_t *s = jdoc_string(&d, "q\"b\\t\tc\x01" "d\x7f" "e\xc2\x85" "f\xef\xbb\xbf" "g\xef\xbf\xbe");
    const char *want = "\"q\\\"b\\\\t\\tc\\u0001d\\u007fe\\u0085f\\ufeffg\\ufffe\"";
    CHECK_STREQ(json_of(s, b), want);
    char yaml_want[128];
    snprintf(yaml_want, sizeof(yaml_want), "%s\n", want);
    CHECK_STREQ(yaml_of(s, b), yaml_want);
    /* invalid UTF-8 (a lone continuation, an overlong, a surrogate, a cut
     * sequence) becomes U+FFFD, one per byte that starts no sequence */
    s = jdoc_string(&d, "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82");
    CHECK_STREQ(json_of(s, b), "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                               "d\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void test_tree(buf_t *b)
{
    jdoc_node_t *root = jdoc_object(&d);
    jdoc_set(&d, root, "openapi", jdoc_string(&d, "3.1.0"));
    jdoc_node_t *paths = jdoc_set(&d, root, "paths", jdoc_object(&d));
    jdoc_node_t *op = jdoc_set(&d, jdoc_child(&d, paths, "/a/{x}"), "get", jdoc_object(&d));
    jdoc_node_t *params = jdoc_set(&d, op, "parameters", jdoc_array(&d));
    jdoc_node_t *p = jdoc_push(&d, params, jdoc_object(&d));
    jdoc_set(&d, p, "name", jdoc_string(&d, "x"));
    jdoc_set(&d, p, "required", jdoc_bool(&d, 1));
    jdoc_node_t *nested = jdoc_push(&d, params, jdoc_array(&d));
    jdoc_push(&d, nested, jdoc_int(&d, -5));
    jdoc_push(&d, nested, jdoc_null(&d));
    jdoc_push(&d, params, jdoc_object(&d)); /* empty: {} */
    jdoc_set(&d, op, "tags", jdoc_array(&d));
    jdoc_set(&d, jdoc_child(&d, op, "responses"), "200", jdoc_string(&d, "first"));
    jdoc_set(&d, jdoc_child(&d, op, "responses"), "200", jdoc_string(&d, "OK")); /* replaced in place */
    jdoc_set(&d, root, "max", jdoc_int(&d, 4294967295LL));
    CHECK(!d.oom);
    CHECK_INTEQ(jdoc_size(params), 3);
    CHECK_INTEQ(jdoc_size(jdoc_get(op, "responses")), 1);
    CHECK_STREQ(jdoc_text(jdoc_get(jdoc_get(op, "responses"), "200")), "OK");
    CHECK(jdoc_text(op) == NULL && jdoc_get(p, "nope") == NULL);
    CHECK_STREQ(json_of(root, b), "{\"openapi\":\"3.1.0\",\"paths\":{\"/a/{x}\":{\"get\":{\"parameters\":[{\"name\":"
                                  "\"x\",\"required\":true},[-5,null],{}],\"tags\":[],\"responses\":{\"200\":\"OK\"}}}},"
                                  "\"max\":4294967295}");
    CHECK_STREQ(yaml_of(root, b), "openapi: \"3.1.0\"\n"
                                  "paths:\n"
                                  "  /a/{x}:\n"
                                  "    get:\n"
                                  "      parameters:\n"
                                  "        - name: x\n"
                                  "          required: true\n"
                                  "        - - -5\n"
                                  "          - null\n"
                                  "        - {}\n"
                                  "      tags: []\n"
                                  "      responses:\n"
                                  "        \"200\": OK\n"
                                  "max: 4294967295\n");
    /* builders take NULL where an earlier step failed, and do nothing */
    CHECK(jdoc_set(&d, NULL, "k", jdoc_null(&d)) == NULL);
    CHECK(jdoc_push(&d, root, jdoc_null(&d)) == NULL); /* not an array */
    CHECK(jdoc_set(&d, params, "k", jdoc_null(&d)) == NULL); /* not an object */
    CHECK(!d.oom);
}

static void test_oom(void)
{
    jdoc_t small;
    jdoc_init(&small);
    small.arena.limit = 512;
    jdoc_node_t *root = jdoc_object(&small);
    for (int i = 0; i < 100; i++)
        jdoc_push(&small, jdoc_set(&small, root, "list", jdoc_array(&small)), jdoc_string(&small, "some text"));
    CHECK(small.oom);
    jdoc_free(&small);
}

int main(void)
{
    jdoc_init(&d);
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 256);
    test_plain_or_quoted(&b);
    test_escapes(&b);
    test_tree(&b);
    test_oom();
    CHECK(!b.oom);
    arena_free(&a);
    jdoc_free(&d);
    return test_summary();
}
