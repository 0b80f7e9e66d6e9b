/*
 * json_to_pb_test: the request encoder's own behaviour, above all against
 * hostile input: every bad body must give INVALID_ARGUMENT with a message
 * that says what and where, and nothing may crash. Byte-level agreement
 * with protoc is tested in roundtrip_test.sh.
 */
#include "transcode/json_to_pb.h"
#include "transcode/profile.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static schema_t *schema;
static transcode_options_t opt;

typedef struct result {
    int rc;
    int code;
    char message[256];
    char hex[1024];
    size_t len;
} result_t;

static result_t encode_with(const char *type, const char *json, size_t len, const transcode_options_t *o)
{
    result_t r = {0};
    const schema_message_t *m = schema_find_message(schema, type, strlen(type));
    if (m == NULL) {
        snprintf(r.message, sizeof(r.message), "no type %s", type);
        r.rc = -2;
        return r;
    }
    arena_t a;
    arena_init(&a);
    a.limit = 256u << 20;
    buf_t out;
    buf_init(&out, &a, 64);
    status_t st = {0};
    r.rc = transcode_json_to_pb(schema, m, json, len, o, &out, &st, NULL);
    r.code = st.code;
    memcpy(r.message, st.message, sizeof(r.message));
    r.len = out.len;
    for (size_t i = 0; i < out.len && i * 2 + 2 < sizeof(r.hex); i++)
        snprintf(r.hex + i * 2, 3, "%02x", (unsigned char)out.data[i]);
    arena_free(&a);
    return r;
}

static result_t encode(const char *type, const char *json)
{
    return encode_with(type, json, strlen(json), &opt);
}

#define EXPECT_BYTES(type, json, hexbytes)                                                   \
    do {                                                                                     \
        result_t r_ = encode(type, json);                                                    \
        CHECK_INTEQ(r_.rc, 0);                                                               \
        if (r_.rc != 0)                                                                      \
            fprintf(stderr, "  %s: %s\n", json, r_.message);                                 \
        CHECK_STREQ(r_.hex, hexbytes);                                                       \
    } while (0)

#define EXPECT_ERROR(type, json, fragment)                                                   \
    do {                                                                                     \
        result_t r_ = encode(type, json);                                                    \
        CHECK_INTEQ(r_.rc, -1);                                                              \
        CHECK_INTEQ(r_.code, GRPC_INVALID_ARGUMENT);                                         \
        if (strstr(r_.message, fragment) == NULL) {                                          \
            test_failed_++;                                                                  \
            fprintf(stderr, "%s:%d: error for %s\n  got:      %s\n  expected: ...%s...\n", \
                    __FILE__, __LINE__, json, r_.message, fragment);                         \
        } else {                                                                             \
            test_passed_++;                                                                  \
        }                                                                                    \
    } while (0)

static void test_basics(void)
{
    EXPECT_BYTES("agtest.Nested", "{\"id\":1,\"name\":\"a\"}", "08011201" "61");
    EXPECT_BYTES("agtest.Nested", "{}", "");
    EXPECT_BYTES("agtest.Nested", " { \"id\" : 0 , \"name\" : \"\" } ", ""); /* defaults are not written */
    EXPECT_BYTES("agtest.Nested", "{\"id\":null,\"child\":null}", "");
    EXPECT_BYTES("agtest.Nested", "{\"child\":{}}", "1a00");
    EXPECT_BYTES("agtest.Nested", "{\"child\":{\"child\":{\"id\":2}}}", "1a041a020802");
    /* int32 negatives are ten-byte varints, as protobuf writes them */
    EXPECT_BYTES("agtest.Nested", "{\"id\":-1}", "08ffffffffffffffffff01");
    EXPECT_BYTES("agtest.Nested", "{\"id\":\"7\"}", "0807");
    EXPECT_BYTES("agtest.Nested", "{\"id\":1e2}", "0864");
    /* proto3 optional: present even at zero */
    EXPECT_BYTES("agtest.Scalars", "{\"fOptInt32\":0}", "9801" "00");
    EXPECT_BYTES("agtest.Scalars", "{\"f_opt_int32\":0}", "980100");
    EXPECT_ERROR("agtest.Scalars", "{\"renamed\":\"x\",\"custom_named\":null}", "duplicate field");
}

static void test_long_nested_length(void)
{
    /* a nested message over 127 bytes needs its length shifted in place */
    char json[512];
    char name[301];
    memset(name, 'n', 300);
    name[300] = '\0';
    snprintf(json, sizeof(json), "{\"child\":{\"name\":\"%s\"},\"id\":3}", name);
    result_t r = encode("agtest.Nested", json);
    CHECK_INTEQ(r.rc, 0);
    /* 1a af02 (303) 12 ac02 (300) ... 0803 */
    CHECK(strncmp(r.hex, "1aaf0212ac02", 12) == 0);
    CHECK_INTEQ(r.len, 3 + 3 + 300 + 2);
    CHECK(strcmp(r.hex + (r.len - 2) * 2, "0803") == 0);
}

static void test_hostile(void)
{
    EXPECT_ERROR("agtest.Nested", "", "empty body");
    EXPECT_ERROR("agtest.Nested", " \n ", "empty body");
    EXPECT_ERROR("agtest.Nested", "{", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1}}", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1} x", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "{'id':1}", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1,}", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "/* c */ {}", "invalid JSON");
    EXPECT_ERROR("agtest.Nested", "[]", "expected an object, got an array");
    EXPECT_ERROR("agtest.Nested", "null", "expected an object, got null");
    EXPECT_ERROR("agtest.Nested", "{\"id\":\"x\"}", "field \"id\"");
    EXPECT_ERROR("agtest.Nested", "{\"id\":true}", "expected an integer, got a boolean");
    EXPECT_ERROR("agtest.Nested", "{\"id\":2147483648}", "field \"id\"");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1.5}", "field \"id\"");
    EXPECT_ERROR("agtest.Nested", "{\"name\":5}", "field \"name\": expected a string, got a number");
    EXPECT_ERROR("agtest.Nested", "{\"child\":5}", "field \"child\": expected an object, got a number");
    EXPECT_ERROR("agtest.Nested", "{\"child\":[]}", "expected an object, got an array");
    EXPECT_ERROR("agtest.Nested", "{\"nope\":1}", "unknown field \"nope\" in agtest.Nested");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1,\"id\":2}", "field \"id\": duplicate field");
    EXPECT_ERROR("agtest.Nested", "{\"id\":1,\"child\":{\"name\":\"a\",\"name\":\"b\"}}", "field \"child.name\": duplicate");
    EXPECT_ERROR("agtest.Scalars", "{\"fUint32\":-1}", "field \"fUint32\"");
    EXPECT_ERROR("agtest.Scalars", "{\"fInt64\":\"9223372036854775808\"}", "field \"fInt64\"");
    EXPECT_ERROR("agtest.Scalars", "{\"fUint64\":\"18446744073709551616\"}", "field \"fUint64\"");
    EXPECT_ERROR("agtest.Scalars", "{\"fFloat\":1e39}", "field \"fFloat\"");
    EXPECT_ERROR("agtest.Scalars", "{\"fDouble\":\"abc\"}", "field \"fDouble\"");
    EXPECT_ERROR("agtest.Scalars", "{\"fBytes\":\"!!!!\"}", "field \"fBytes\": invalid base64");
    EXPECT_ERROR("agtest.Scalars", "{\"fBytes\":\"QQ=\"}", "invalid base64");
    EXPECT_ERROR("agtest.Scalars", "{\"fEnum\":\"PURPLE\"}", "unknown value \"PURPLE\" for enum agtest.Color");
    EXPECT_ERROR("agtest.Scalars", "{\"fEnum\":true}", "expected an enum name or number");
    EXPECT_ERROR("agtest.Scalars", "{\"fBool\":\"true\"}", "expected true or false");
    EXPECT_ERROR("agtest.Repeated", "{\"rInt32\":[1,null]}", "field \"rInt32[1]\": null is not a valid element");
    EXPECT_ERROR("agtest.Repeated", "{\"rInt32\":5}", "expected an array");
    EXPECT_ERROR("agtest.Repeated", "{\"rNested\":[{\"id\":1},{\"id\":\"z\"}]}", "field \"rNested[1].id\"");
    EXPECT_ERROR("agtest.Maps", "{\"intStr\":{\"x\":\"a\"}}", "intStr");
    EXPECT_ERROR("agtest.Maps", "{\"boolMsg\":{\"yes\":{}}}", "is not a boolean");
    EXPECT_ERROR("agtest.Maps", "{\"strInt\":{\"a\":null}}", "null is not a valid element");
    EXPECT_ERROR("agtest.Oneofs", "{\"num\":1,\"text\":\"x\"}", "oneof \"choice\" already has field \"num\" set");
    EXPECT_ERROR("agtest.WellKnown", "{\"ts\":\"yesterday\"}", "field \"ts\"");
    EXPECT_ERROR("agtest.WellKnown", "{\"ts\":5}", "expected a RFC 3339 string");
    EXPECT_ERROR("agtest.WellKnown", "{\"dur\":\"5\"}", "field \"dur\"");
    EXPECT_ERROR("agtest.WellKnown", "{\"any\":{\"id\":1}}", "Any without \"@type\"");
    EXPECT_ERROR("agtest.WellKnown", "{\"any\":{\"@type\":\"type.googleapis.com/no.Such\"}}", "unknown type");
    EXPECT_ERROR("agtest.WellKnown", "{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"x\":1}}",
                 "unexpected key \"x\"");
    EXPECT_ERROR("agtest.WellKnown", "{\"wInt32\":null,\"wBool\":1}", "expected true or false");
    EXPECT_ERROR("agtest.WellKnown", "{\"st\":[1]}", "expected an object, got an array");
    EXPECT_ERROR("agtest.WellKnown", "{\"list\":{}}", "expected an array, got an object");
}

static void test_invalid_utf8(void)
{
    const char bad[] = "{\"name\":\"\xc3\x28\"}";
    result_t r = encode_with("agtest.Nested", bad, sizeof(bad) - 1, &opt);
    CHECK_INTEQ(r.rc, -1);
    CHECK(strstr(r.message, "field \"name\": invalid UTF-8 in a string") != NULL);
    EXPECT_ERROR("agtest.Nested", "{\"name\":\"x\\ud800\"}", "lone UTF-16 surrogate");
    EXPECT_ERROR("agtest.Nested", "{\"name\":\"\\udc00\"}", "invalid UTF-8");
    EXPECT_BYTES("agtest.Nested", "{\"name\":\"?\\\\ud800\"}", "12073f5c7564383030");
    const char overlong[] = "{\"name\":\"\xc0\xaf\"}";
    r = encode_with("agtest.Nested", overlong, sizeof(overlong) - 1, &opt);
    CHECK_INTEQ(r.rc, -1);
    const char nul[] = "{\"name\":\"a\0b\"}";
    r = encode_with("agtest.Nested", nul, sizeof(nul) - 1, &opt);
    CHECK_INTEQ(r.rc, -1);
}

static char *deep_json(size_t depth, const char *open, const char *leaf, const char *close)
{
    size_t ol = strlen(open), cl = strlen(close), ll = strlen(leaf);
    char *p = malloc(depth * (ol + cl) + ll + 1), *o = p;
    for (size_t i = 0; i < depth; i++, o += ol)
        memcpy(o, open, ol);
    memcpy(o, leaf, ll);
    o += ll;
    for (size_t i = 0; i < depth; i++, o += cl)
        memcpy(o, close, cl);
    *o = '\0';
    return p;
}

static void test_limits(void)
{
    /* 10,000-deep in every container shape */
    char *j = deep_json(10000, "{\"next\":", "{}", "}");
    result_t r = encode("agtest.Deep", j);
    CHECK_INTEQ(r.rc, -1);
    CHECK(strstr(r.message, "nesting deeper than 64") != NULL);
    free(j);
    j = deep_json(10000, "[", "1", "]");
    r = encode("google.protobuf.ListValue", j);
    CHECK(r.rc == -1 && strstr(r.message, "nesting deeper than") != NULL);
    free(j);
    j = deep_json(10000, "{\"a\":", "1", "}");
    r = encode("google.protobuf.Struct", j);
    CHECK(r.rc == -1 && strstr(r.message, "nesting deeper than") != NULL);
    free(j);
    j = deep_json(10000, "{\"nope\":", "1", "}");
    transcode_options_t lenient = opt;
    lenient.ignore_unknown_fields = 1;
    r = encode_with("agtest.Nested", j, strlen(j), &lenient); /* skipped values count too */
    CHECK(r.rc == -1 && strstr(r.message, "nesting deeper than") != NULL);
    free(j);
    /* just within the limit */
    j = deep_json(63, "{\"next\":", "{\"value\":1}", "}");
    r = encode("agtest.Deep", j);
    CHECK_INTEQ(r.rc, 0);
    free(j);

    transcode_options_t small = opt;
    small.max_string = 16;
    small.max_repeated = 3;
    small.max_body = 64;
    r = encode_with("agtest.Nested", "{\"name\":\"01234567890123456\"}", 29, &small);
    CHECK(r.rc == -1 && strstr(r.message, "string longer than 16") != NULL);
    r = encode_with("agtest.Repeated", "{\"rInt32\":[1,2,3,4]}", 20, &small);
    CHECK(r.rc == -1 && strstr(r.message, "more than 3 elements") != NULL);
    r = encode_with("agtest.Maps", "{\"strInt\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4}}", 36, &small);
    CHECK(r.rc == -1 && strstr(r.message, "more than 3") != NULL);
    char big[100];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[99] = '}';
    r = encode_with("agtest.Nested", big, sizeof(big), &small);
    CHECK(r.rc == -1 && strstr(r.message, "body larger than 64 bytes") != NULL);

    /* a huge string: allowed by default up to max_string, refused beyond */
    size_t n = TRANSCODE_DEFAULT_MAX_STRING + 10;
    char *huge = malloc(n + 32);
    int k = snprintf(huge, 32, "{\"name\":\"");
    memset(huge + k, 'x', n);
    memcpy(huge + k + n, "\"}", 3);
    r = encode_with("agtest.Nested", huge, strlen(huge), &opt);
    CHECK(r.rc == -1 && strstr(r.message, "string longer than") != NULL);
    free(huge);
}

static void test_ignore_unknown(void)
{
    transcode_options_t lenient = opt;
    lenient.ignore_unknown_fields = 1;
    const char *j = "{\"zz\":{\"a\":[1,{\"b\":2}]},\"id\":4,\"fEnum\":1,\"yy\":null}";
    result_t r = encode_with("agtest.Nested", j, strlen(j), &lenient);
    CHECK_INTEQ(r.rc, 0);
    CHECK_STREQ(r.hex, "0804");
    j = "{\"fEnum\":\"PURPLE\",\"fInt32\":2}";
    r = encode_with("agtest.Scalars", j, strlen(j), &lenient);
    CHECK_INTEQ(r.rc, 0);
    CHECK_STREQ(r.hex, "2802");
}

/* The v11 profile reads what Jackson reads: decimals as numbers (their
 * digits kept) or strings, LocalDateTime without an offset, unknown keys
 * skipped and counted. */
static void test_profile_v11(void)
{
    transcode_options_t v11 = opt;
    json_profile_apply(json_profile_find("v11"), &v11);
    const transcode_options_t saved = opt;
    opt = v11;
    /* amount (2) {value (1): "12.50"} */
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":12.50}", "1207" "0a05" "31322e3530");
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":\"12.50\"}", "12070a0531322e3530");
    /* BigDecimal's own spellings become JSON numbers */
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":\"+1.5\"}", "12050a03312e35");
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":\".5\"}", "12050a03302e35");
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":\"5.\"}", "12030a0135");
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":\"-007e3\"}", "12060a042d376533");
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":null}", "");
    EXPECT_ERROR("agtest.Profiled", "{\"amount\":\"12,5\"}", "\"12,5\" is not a decimal number");
    EXPECT_ERROR("agtest.Profiled", "{\"amount\":\"\"}", "is not a decimal number");
    EXPECT_ERROR("agtest.Profiled", "{\"amount\":\"1e\"}", "is not a decimal number");
    EXPECT_ERROR("agtest.Profiled", "{\"amount\":true}", "expected a decimal number, got");
    EXPECT_ERROR("agtest.Profiled", "{\"amount\":{\"value\":\"1\"}}", "expected a decimal number, got");
    /* created_at (4): LocalDateTime text is UTC; RFC 3339 still works */
    EXPECT_BYTES("agtest.Profiled", "{\"createdAt\":\"2023-11-14T22:13:20.12\"}", "220b0880e2cfaa0610809c9c39");
    EXPECT_BYTES("agtest.Profiled", "{\"createdAt\":\"2023-11-14T22:13:20.120Z\"}", "220b0880e2cfaa0610809c9c39");
    EXPECT_ERROR("agtest.Profiled", "{\"createdAt\":\"2023-11-14\"}", "createdAt");
    /* Jackson's coercions: a number or boolean into a string (name, 7), a
     * fraction into an integer (id, 1), "true" into a boolean (valid, 6) */
    EXPECT_BYTES("agtest.Profiled", "{\"name\":12}", "3a023132");
    EXPECT_BYTES("agtest.Profiled", "{\"name\":-1.50}", "3a052d312e3530");
    EXPECT_BYTES("agtest.Profiled", "{\"name\":true}", "3a0474727565");
    EXPECT_BYTES("agtest.Profiled", "{\"id\":1.9}", "0801");
    EXPECT_BYTES("agtest.Profiled", "{\"id\":-1.9}", "08ffffffffffffffffff01");
    EXPECT_BYTES("agtest.Profiled", "{\"valid\":\"true\"}", "3001");
    EXPECT_BYTES("agtest.Profiled", "{\"valid\":\"false\"}", "");
    EXPECT_ERROR("agtest.Profiled", "{\"valid\":\"yes\"}", "expected true or false");
    EXPECT_BYTES("agtest.Profiled", "{\"id\":1.5e1}", "080f");
    EXPECT_ERROR("agtest.Profiled", "{\"id\":1.55e1}", "not an integer");
    EXPECT_ERROR("agtest.Profiled", "{\"name\":{}}", "expected a string");
    /* an enum name its enum lacks is refused, though unknown keys pass */
    EXPECT_BYTES("agtest.Profiled", "{\"color\":\"GREEN\"}", "7802");
    EXPECT_ERROR("agtest.Profiled", "{\"color\":\"BOGUS\"}", "unknown value \"BOGUS\" for enum agtest.Color");
    /* id (1) as a number or a string, as Jackson reads a long */
    EXPECT_BYTES("agtest.Profiled", "{\"id\":7,\"nonce\":9}", "0807");
    EXPECT_BYTES("agtest.Profiled", "{\"id\":\"7\"}", "0807");

    /* unknown keys: skipped at any depth, each counted once, nested ones too */
    const char *drift = "{\"nonce\":1,\"block_height\":{\"a\":[1,{\"b\":2}]},\"child\":{\"x\":1,\"id\":3}}";
    arena_t a;
    arena_init(&a);
    buf_t out;
    buf_init(&out, &a, 64);
    status_t st = {0};
    transcode_report_t report = {0};
    const schema_message_t *m = schema_find_message(schema, "agtest.Profiled", 15);
    CHECK_INTEQ(transcode_json_to_pb(schema, m, drift, strlen(drift), &v11, &out, &st, &report), 0);
    CHECK_INTEQ(report.unknown_fields, 3);
    CHECK_INTEQ(out.len, 4); /* child (13) {id: 3} */
    arena_free(&a);

    /* proto3 reads a Decimal as the message it is, and rejects the number */
    opt = saved;
    EXPECT_BYTES("agtest.Profiled", "{\"amount\":{\"value\":\"1\"}}", "12030a0131");
    EXPECT_ERROR("agtest.Profiled", "{\"amount\":1}", "expected an object");
    EXPECT_ERROR("agtest.Profiled", "{\"createdAt\":\"2023-11-14T22:13:20.12\"}", "createdAt");
    EXPECT_ERROR("agtest.Profiled", "{\"nonce\":1}", "unknown field \"nonce\"");
    EXPECT_ERROR("agtest.Profiled", "{\"name\":12}", "expected a string, got a number");
    EXPECT_ERROR("agtest.Profiled", "{\"id\":1.9}", "not an integer");
}

static void test_random_bytes(void)
{
    /* bounded: malformed input of every shape must fail cleanly */
    static const char alphabet[] = "{}[]:,\"\\0123456789.eE+-truefalsnl @xyz";
    char buf[128];
    unsigned seed = 12345;
    int errors = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));
        for (size_t k = 0; k < len; k++)
            buf[k] = (i & 1) ? (char)rand_r(&seed) : alphabet[rand_r(&seed) % (int)(sizeof(alphabet) - 1)];
        result_t r = encode_with("agtest.Everything", buf, len, &opt);
        errors += r.rc != 0;
    }
    CHECK(errors > 19000);
}

int main(void)
{
    char err[256];
    schema = schema_load_file(AG_TEST_DESCRIPTORS, err, sizeof(err));
    if (schema == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    transcode_options_default(&opt);
    test_basics();
    test_long_nested_length();
    test_hostile();
    test_invalid_utf8();
    test_limits();
    test_ignore_unknown();
    test_profile_v11();
    test_random_bytes();
    schema_free(schema);
    return test_summary();
}
