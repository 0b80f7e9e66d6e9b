/*
 * pb_to_json_test: wire bytes -> proto3 JSON, against exact expected text.
 *
 * Inputs come from protoc --encode (an encoder that is not ours) wherever
 * text format can say it; orderings, duplicates and damage that no encoder
 * produces are built by hand. Every successful output is also parsed by
 * yajl, so hostile inputs must yield valid JSON or an error.
 */
#include "transcode/pb_to_json.h"
#include "transcode/profile.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static schema_t *schema;
static arena_t arena;
static buf_t out;
static status_t st;
static transcode_options_t opts;

/* ---- helpers ---- */

typedef struct bytes {
    uint8_t *p;
    size_t len;
} bytes_t;

/* protoc --encode of a text-format message; exits when protoc fails, since
 * every later check would be meaningless. */
static bytes_t encode(const char *type, const char *text)
{
    char tmpl[] = "/tmp/pb_to_json_test.XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror("temp file");
        exit(2);
    }
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "protoc --encode=agtest.%s -I%s/tests/proto -I%s/proto -I/usr/include %s/tests/proto/transcode_test.proto"
             " < %s",
             type, AG_SOURCE_DIR, AG_SOURCE_DIR, AG_SOURCE_DIR, tmpl);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        perror("popen");
        exit(2);
    }
    bytes_t b = {NULL, 0};
    size_t cap = 0;
    for (;;) {
        if (b.len == cap) {
            cap = cap ? cap * 2 : 256;
            b.p = realloc(b.p, cap);
        }
        size_t n = fread(b.p + b.len, 1, cap - b.len, f);
        if (n == 0)
            break;
        b.len += n;
    }
    int rc = pclose(f);
    unlink(tmpl);
    if (rc != 0) {
        fprintf(stderr, "protoc --encode=agtest.%s failed on: %s\n", type, text);
        exit(2);
    }
    return b;
}

static const schema_message_t *msg(const char *type)
{
    char name[128];
    snprintf(name, sizeof(name), "agtest.%s", type);
    const schema_message_t *m = schema_find_message(schema, name, strlen(name));
    if (m == NULL) {
        fprintf(stderr, "no message %s\n", name);
        exit(2);
    }
    return m;
}

static int json_valid(const char *s)
{
    char err[128];
    yajl_val v = yajl_tree_parse(s, err, sizeof(err));
    if (v == NULL)
        return 0;
    yajl_tree_free(v);
    return 1;
}

/* Converts and returns the text (NUL-terminated, in the arena), or NULL on
 * error with st filled. */
static const char *convert_with(const schema_message_t *m, const uint8_t *p, size_t len,
                                const transcode_options_t *o)
{
    arena_reset(&arena);
    buf_init(&out, &arena, 64);
    buf_puts_lit(&out, "x"); /* output is appended: a prefix must survive */
    memset(&st, 0, sizeof(st));
    int rc = transcode_pb_to_json(schema, m, p, len, o, &out, &st);
    if (rc != 0) {
        if (out.len != 1) {
            test_failed_++;
            fprintf(stderr, "error left output behind\n");
        }
        return NULL;
    }
    buf_putc(&out, '\0');
    return out.oom ? NULL : out.data + 1;
}

static const char *convert(const char *type, const uint8_t *p, size_t len)
{
    return convert_with(msg(type), p, len, &opts);
}

static const char *text_to_json_with(const char *type, const char *text, const transcode_options_t *o)
{
    bytes_t b = encode(type, text);
    const char *j = convert_with(msg(type), b.p ? b.p : (const uint8_t *)"", b.len, o);
    free(b.p);
    return j;
}

static const char *text_to_json(const char *type, const char *text)
{
    return text_to_json_with(type, text, &opts);
}

/* On failure the status message says why, where CHECK_STREQ can only say "(null)". */
#define EXPECT_JSON(expr, json)                                                  \
    do {                                                                         \
        const char *j_ = (expr);                                                 \
        if (j_ == NULL)                                                          \
            fprintf(stderr, "%s:%d: error: %s\n", __FILE__, __LINE__, st.message); \
        CHECK_STREQ(j_, json);                                                   \
    } while (0)
#define EXPECT(type, text, json) EXPECT_JSON(text_to_json(type, text), json)
#define EXPECT_RAW(type, raw, json) EXPECT_JSON(convert(type, (const uint8_t *)(raw), sizeof(raw) - 1), json)

/* An error with this code whose message contains `needle`. */
static void expect_error(const char *j, int code, const char *needle)
{
    CHECK(j == NULL);
    CHECK_INTEQ(st.code, code);
    if (strstr(st.message, needle) == NULL) {
        test_failed_++;
        fprintf(stderr, "error message \"%s\" lacks \"%s\"\n", st.message, needle);
    } else {
        test_passed_++;
    }
}

/* ---- scalars ---- */

static void test_scalars(void)
{
    EXPECT("Scalars",
           "f_double: 1.5 f_float: 0.25 f_int64: -5 f_uint64: 18446744073709551615 f_int32: -7"
           " f_fixed64: 12 f_fixed32: 4294967295 f_bool: true f_string: \"h\\303\\251\\\"\\\\\\n/\\001\\t\""
           " f_bytes: \"\\000\\377\" f_uint32: 4000000000 f_enum: GREEN f_sfixed32: -2147483648"
           " f_sfixed64: -9223372036854775808 f_sint32: -2147483648 f_sint64: -9223372036854775808"
           " f_opt_int32: 0 custom_named: \"x\"",
           "{\"fDouble\":1.5,\"fFloat\":0.25,\"fInt64\":\"-5\",\"fUint64\":\"18446744073709551615\",\"fInt32\":-7,"
           "\"fFixed64\":\"12\",\"fFixed32\":4294967295,\"fBool\":true,\"fString\":\"h\xc3\xa9\\\"\\\\\\n/\\u0001\\t\","
           "\"fBytes\":\"AP8=\",\"fUint32\":4000000000,\"fEnum\":\"GREEN\",\"fSfixed32\":-2147483648,"
           "\"fSfixed64\":\"-9223372036854775808\",\"fSint32\":-2147483648,\"fSint64\":\"-9223372036854775808\","
           "\"fOptInt32\":0,\"renamed\":\"x\"}");
    EXPECT("Scalars",
           "f_int64: 9223372036854775807 f_int32: 2147483647 f_sint32: 2147483647 f_sint64: 9223372036854775807"
           " f_sfixed64: 9223372036854775807 f_fixed64: 18446744073709551615 f_uint32: 4294967295",
           "{\"fInt64\":\"9223372036854775807\",\"fInt32\":2147483647,\"fFixed64\":\"18446744073709551615\","
           "\"fUint32\":4294967295,\"fSfixed64\":\"9223372036854775807\",\"fSint32\":2147483647,"
           "\"fSint64\":\"9223372036854775807\"}");
    EXPECT("Scalars", "f_int32: -1 f_sint32: -1 f_sint64: -1 f_int64: -1",
           "{\"fInt64\":\"-1\",\"fInt32\":-1,\"fSint32\":-1,\"fSint64\":\"-1\"}");
    EXPECT("Scalars", "f_double: inf f_float: -inf", "{\"fDouble\":\"Infinity\",\"fFloat\":\"-Infinity\"}");
    EXPECT("Scalars", "f_double: nan f_float: nan", "{\"fDouble\":\"NaN\",\"fFloat\":\"NaN\"}");
    EXPECT("Scalars", "f_double: -0", "{\"fDouble\":-0}"); /* -0.0 is not the default: bits differ */
    EXPECT("Scalars", "f_float: 0.1 f_double: 0.1", "{\"fDouble\":0.1,\"fFloat\":0.1}");
    EXPECT("Scalars", "f_string: \"\\037\\177\\r\\b\\f\"", "{\"fString\":\"\\u001f\x7f\\r\\b\\f\"}");
    EXPECT("Scalars", "f_string: \"\\342\\200\\250\"", "{\"fString\":\"\xe2\x80\xa8\"}"); /* U+2028 as is */
    EXPECT("Scalars", "f_bytes: \"abcd\"", "{\"fBytes\":\"YWJjZA==\"}");
    EXPECT("Scalars", "f_enum: BLUE", "{\"fEnum\":\"BLUE\"}");
    EXPECT("Scalars", "f_enum: 7", "{\"fEnum\":7}"); /* open enum: unknown number survives */

    /* an int32 with bits above 32 keeps the low 32, as protobuf's parser does */
    EXPECT_RAW("Scalars", "\x28\xff\xff\xff\xff\x1f", "{\"fInt32\":-1}");
    /* bool: any nonzero varint is true */
    EXPECT_RAW("Scalars", "\x40\x02", "{\"fBool\":true}");
    /* a zero on the wire is still a default without presence */
    EXPECT_RAW("Scalars", "\x28\x00\x40\x00\x4a\x00", "{}");
    /* last occurrence of a singular scalar wins */
    EXPECT_RAW("Scalars", "\x28\x01\x28\x02\x4a\x01\x61\x4a\x01\x62", "{\"fInt32\":2,\"fString\":\"b\"}");
    /* the 10-byte maximum varint */
    EXPECT_RAW("Scalars", "\x20\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "{\"fUint64\":\"18446744073709551615\"}");
}

static void test_defaults_and_options(void)
{
    EXPECT("Scalars", "", "{}");
    EXPECT("Scalars", "f_opt_int32: 0", "{\"fOptInt32\":0}");

    transcode_options_t o = opts;
    o.emit_defaults = 1;
    CHECK_STREQ(text_to_json_with("Scalars", "", &o),
                "{\"fDouble\":0,\"fFloat\":0,\"fInt64\":\"0\",\"fUint64\":\"0\",\"fInt32\":0,\"fFixed64\":\"0\","
                "\"fFixed32\":0,\"fBool\":false,\"fString\":\"\",\"fBytes\":\"\",\"fUint32\":0,"
                "\"fEnum\":\"COLOR_UNSPECIFIED\",\"fSfixed32\":0,\"fSfixed64\":\"0\",\"fSint32\":0,\"fSint64\":\"0\","
                "\"renamed\":\"\"}");
    CHECK_STREQ(text_to_json_with("Repeated", "", &o),
                "{\"rInt32\":[],\"rUnpacked\":[],\"rString\":[],\"rBytes\":[],\"rDouble\":[],\"rEnum\":[],"
                "\"rNested\":[],\"rSint64\":[],\"rFixed32\":[],\"rBool\":[]}");
    CHECK_STREQ(text_to_json_with("Maps", "", &o),
                "{\"strInt\":{},\"intStr\":{},\"boolMsg\":{},\"strEnum\":{},\"i64Bytes\":{},\"u32Double\":{}}");
    /* oneof members and messages have presence: absent, they never print */
    CHECK_STREQ(text_to_json_with("Oneofs", "", &o), "{\"other\":0}");
    CHECK_STREQ(text_to_json_with("Nested", "", &o), "{\"id\":0,\"name\":\"\"}");
    CHECK_STREQ(text_to_json_with("Nested", "child {}", &o), "{\"id\":0,\"name\":\"\",\"child\":{\"id\":0,\"name\":\"\"}}");
    CHECK_STREQ(text_to_json_with("WellKnown", "", &o), "{\"rTs\":[],\"rWInt32\":[],\"nullValue\":null}");

    o = opts;
    o.use_proto_names = 1;
    CHECK_STREQ(text_to_json_with("Scalars", "f_int32: 1 custom_named: \"x\" f_opt_int32: 2", &o),
                "{\"f_int32\":1,\"f_opt_int32\":2,\"custom_named\":\"x\"}");
    o = opts;
    o.enums_as_ints = 1;
    CHECK_STREQ(text_to_json_with("Scalars", "f_enum: BLUE", &o), "{\"fEnum\":-3}");
    CHECK_STREQ(text_to_json_with("Repeated", "r_enum: [RED, GREEN]", &o), "{\"rEnum\":[1,2]}");
    /* NullValue stays null even as ints */
    CHECK_STREQ(text_to_json_with("Oneofs", "null_choice: NULL_VALUE", &o), "{\"nullChoice\":null}");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Strings built from pieces that exercise escaping at every offset of the
 * eight-byte fast path, against a byte-at-a-time reference. */
static void test_string_escaping(void)
{
    static const char *const pieces[] = {"a", "bcdefgh", "\"", "\\", "\n", "\x01", "\x1f", " ", "\xc3\xa9",
                                         "\x7f", "/", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\t"};
    int bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t pb[512];
        char text[400], expect[2048];
        size_t tl = 0, el = 0;
        int n = (int)(rng() % 40);
        for (int k = 0; k < n; k++) {
            const char *piece = pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = strlen(piece);
            memcpy(text + tl, piece, pl);
            tl += pl;
        }
        el += (size_t)sprintf(expect + el, "{\"fString\":\"");
        for (size_t i = 0; i < tl; i++) {
            unsigned char ch = (unsigned char)text[i];
            if (ch == '"' || ch == '\\')
                el += (size_t)sprintf(expect + el, "\\%c", ch);
            else if (ch == '\n')
                el += (size_t)sprintf(expect + el, "\\n");
            else if (ch == '\t')
                el += (size_t)sprintf(expect + el, "\\t");
            else if (ch < 0x20)
                el += (size_t)sprintf(expect + el, "\\u%04x", ch);
            else
                expect[el++] = (char)ch;
        }
        strcpy(expect + el, "\"}");
        if (tl == 0)
            strcpy(expect, "{}");
        pb[0] = 0x4a;
        pb[1] = (uint8_t)(tl | 0x80);
        pb[2] = (uint8_t)(tl >> 7);
        memcpy(pb + 3, text, tl);
        const char *j = convert("Scalars", pb, tl + 3);
        if (j == NULL || strcmp(j, expect) != 0) {
            if (bad++ == 0)
                fprintf(stderr, "escaping: got %s\n  expected %s\n", j ? j : st.message, expect);
        }
        /* 0xff is never UTF-8, wherever it lands */
        if (tl > 0) {
            pb[3 + rng() % tl] = 0xff;
            if (convert("Scalars", pb, tl + 3) != NULL || strstr(st.message, "UTF-8") == NULL)
                bad++;
        }
    }
    CHECK_INTEQ(bad, 0);
}

/* ---- repeated, maps, oneofs, nesting ---- */

static void test_repeated(void)
{
    EXPECT("Repeated",
           "r_int32: [1, -2, 3] r_unpacked: [4, 5] r_string: [\"a\", \"\"] r_bytes: \"\\001\""
           " r_double: [0.5, -1] r_enum: [RED, BLUE, 9] r_nested { id: 1 } r_nested {} r_sint64: [-1, 1]"
           " r_fixed32: [7] r_bool: [true, false]",
           "{\"rInt32\":[1,-2,3],\"rUnpacked\":[4,5],\"rString\":[\"a\",\"\"],\"rBytes\":[\"AQ==\"],"
           "\"rDouble\":[0.5,-1],\"rEnum\":[\"RED\",\"BLUE\",9],\"rNested\":[{\"id\":1},{}],\"rSint64\":[\"-1\",\"1\"],"
           "\"rFixed32\":[7],\"rBool\":[true,false]}");
    /* packed and unpacked mix freely, in wire order, whatever the declaration says */
    EXPECT_RAW("Repeated", "\x08\x01\x0a\x02\x02\x03\x08\x04\x12\x02\x05\x06\x10\x07",
               "{\"rInt32\":[1,2,3,4],\"rUnpacked\":[5,6,7]}");
    EXPECT_RAW("Repeated", "\x4d\x01\x00\x00\x00\x4a\x04\x02\x00\x00\x00", "{\"rFixed32\":[1,2]}");
    EXPECT_RAW("Repeated", "\x29\x00\x00\x00\x00\x00\x00\xf0\x3f", "{\"rDouble\":[1]}");
    /* an empty packed run is an empty list: omitted by default */
    EXPECT_RAW("Repeated", "\x0a\x00", "{}");
    transcode_options_t o = opts;
    o.emit_defaults = 1;
    CHECK_STREQ(convert_with(msg("Repeated"), (const uint8_t *)"\x0a\x00\x1a\x00", 4, &o),
                "{\"rInt32\":[],\"rUnpacked\":[],\"rString\":[\"\"],\"rBytes\":[],\"rDouble\":[],\"rEnum\":[],"
                "\"rNested\":[],\"rSint64\":[],\"rFixed32\":[],\"rBool\":[]}");
    /* packed runs must hold whole elements */
    expect_error(convert("Repeated", (const uint8_t *)"\x4a\x03\x01\x00\x00", 5), GRPC_INTERNAL,
                 "field \"rFixed32\": invalid wire data");
    expect_error(convert("Repeated", (const uint8_t *)"\x0a\x01\x80", 3), GRPC_INTERNAL, "rInt32");
}

static void test_maps(void)
{
    EXPECT("Maps",
           "str_int { key: \"a\" value: 1 } str_int { key: \"b\" value: 0 }"
           " int_str { key: -1 value: \"neg\" } int_str { key: 0 value: \"zero\" }"
           " bool_msg { key: true value { id: 2 } } bool_msg { key: false value {} }"
           " str_enum { key: \"c\" value: BLUE } str_enum { key: \"\\\"q\" value: COLOR_UNSPECIFIED }"
           " i64_bytes { key: -9223372036854775808 value: \"\\001\\002\" }"
           " u32_double { key: 4294967295 value: 2.5 }",
           "{\"strInt\":{\"a\":1,\"b\":0},\"intStr\":{\"-1\":\"neg\",\"0\":\"zero\"},"
           "\"boolMsg\":{\"true\":{\"id\":2},\"false\":{}},\"strEnum\":{\"c\":\"BLUE\",\"\\\"q\":\"COLOR_UNSPECIFIED\"},"
           "\"i64Bytes\":{\"-9223372036854775808\":\"AQI=\"},\"u32Double\":{\"4294967295\":2.5}}");
    /* entries missing key or value hold defaults */
    EXPECT_RAW("Maps", "\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00",
               "{\"strInt\":{\"\":0},\"intStr\":{\"0\":\"\"},\"boolMsg\":{\"false\":{}},"
               "\"strEnum\":{\"\":\"COLOR_UNSPECIFIED\"},\"i64Bytes\":{\"0\":\"\"},\"u32Double\":{\"0\":0}}");
    /* duplicate keys: the last value wins, in the first one's place */
    EXPECT_RAW("Maps",
               "\x0a\x05\x0a\x01\x61\x10\x01"
               "\x0a\x05\x0a\x01\x62\x10\x03"
               "\x0a\x05\x0a\x01\x61\x10\x02",
               "{\"strInt\":{\"a\":2,\"b\":3}}");
    /* value before key, unknown field inside the entry, a value split in two */
    EXPECT_RAW("Maps", "\x1a\x0d\x12\x02\x08\x01\x28\x09\x08\x01\x12\x03\x12\x01\x7a",
               "{\"boolMsg\":{\"true\":{\"id\":1,\"name\":\"z\"}}}");
    /* bool keys: any nonzero is true, so 1 and 2 are the same key */
    EXPECT_RAW("Maps", "\x1a\x02\x08\x01\x1a\x06\x08\x02\x12\x02\x08\x05", "{\"boolMsg\":{\"true\":{\"id\":5}}}");

    /* a big map with duplicates takes the hashed path */
    uint8_t big[40 * 7];
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < 20; k++) {
            uint8_t e[] = {0x0a, 0x05, 0x0a, 0x01, (uint8_t)('A' + k), 0x10, (uint8_t)(pass * 20 + k)};
            memcpy(big + n, e, sizeof(e));
            n += sizeof(e);
        }
    char expect[512] = "{\"strInt\":{";
    for (int k = 0; k < 20; k++)
        snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect), "%s\"%c\":%d", k ? "," : "", 'A' + k,
                 20 + k);
    strcat(expect, "}}");
    CHECK_STREQ(convert("Maps", big, n), expect);

    /* invalid UTF-8 in a string key */
    expect_error(convert("Maps", (const uint8_t *)"\x0a\x03\x0a\x01\xff", 5), GRPC_INTERNAL, "strInt");
}

static void test_oneofs_and_nesting(void)
{
    EXPECT("Oneofs", "num: 0", "{\"num\":0}");
    EXPECT("Oneofs", "text: \"\" other: 3", "{\"text\":\"\",\"other\":3}");
    EXPECT("Oneofs", "msg {}", "{\"msg\":{}}");
    EXPECT("Oneofs", "null_choice: NULL_VALUE", "{\"nullChoice\":null}");
    /* the last member on the wire is the one set */
    EXPECT_RAW("Oneofs", "\x08\x05\x12\x01\x78", "{\"text\":\"x\"}");
    EXPECT_RAW("Oneofs", "\x12\x01\x78\x08\x05", "{\"num\":5}");
    /* a message member cleared by another member does not merge back */
    EXPECT_RAW("Oneofs", "\x1a\x02\x08\x01\x08\x05\x1a\x02\x08\x00\x1a\x03\x12\x01\x7a",
               "{\"msg\":{\"name\":\"z\"}}");

    EXPECT("Nested", "id: 1 name: \"n\" child { id: 2 child { name: \"deep\" } }",
           "{\"id\":1,\"name\":\"n\",\"child\":{\"id\":2,\"child\":{\"name\":\"deep\"}}}");
    /* declaration order whatever the wire order */
    EXPECT_RAW("Nested", "\x1a\x02\x08\x03\x12\x01\x61\x08\x05", "{\"id\":5,\"name\":\"a\",\"child\":{\"id\":3}}");
    /* a singular message split over occurrences merges */
    EXPECT_RAW("Nested", "\x1a\x02\x08\x01\x08\x07\x1a\x03\x12\x01\x7a",
               "{\"id\":7,\"child\":{\"id\":1,\"name\":\"z\"}}");
    EXPECT("Everything",
           "scalars { f_int32: 1 } repeated { r_string: \"s\" } maps { str_int { key: \"k\" value: 2 } }"
           " oneofs { num: 3 } wkt { dur { seconds: 4 } } nested { id: 5 }",
           "{\"scalars\":{\"fInt32\":1},\"repeated\":{\"rString\":[\"s\"]},\"maps\":{\"strInt\":{\"k\":2}},"
           "\"oneofs\":{\"num\":3},\"wkt\":{\"dur\":\"4s\"},\"nested\":{\"id\":5}}");
}

/* ---- well-known types ---- */

static void test_wkt(void)
{
    EXPECT("WellKnown", "ts { seconds: 63108020 nanos: 21000000 }", "{\"ts\":\"1972-01-01T10:00:20.021Z\"}");
    EXPECT("WellKnown", "ts {}", "{\"ts\":\"1970-01-01T00:00:00Z\"}");
    EXPECT("WellKnown", "dur { seconds: 1 nanos: 123000000 }", "{\"dur\":\"1.123s\"}");
    EXPECT("WellKnown", "dur { seconds: -2 }", "{\"dur\":\"-2s\"}");
    EXPECT("WellKnown", "mask { paths: \"foo_bar\" paths: \"baz.qux_quux\" }", "{\"mask\":\"fooBar,baz.quxQuux\"}");
    EXPECT("WellKnown", "mask {}", "{\"mask\":\"\"}");
    EXPECT("WellKnown",
           "st { fields { key: \"a\" value { number_value: 1.5 } }"
           " fields { key: \"b\" value { list_value { values { string_value: \"x\" } values { bool_value: true }"
           " values { null_value: NULL_VALUE } } } } fields { key: \"c\" value { struct_value {} } } }",
           "{\"st\":{\"a\":1.5,\"b\":[\"x\",true,null],\"c\":{}}}");
    EXPECT("WellKnown", "st {}", "{\"st\":{}}");
    EXPECT("WellKnown", "val { string_value: \"s\" }", "{\"val\":\"s\"}");
    EXPECT("WellKnown", "val { null_value: NULL_VALUE }", "{\"val\":null}");
    EXPECT("WellKnown", "val { number_value: 0 }", "{\"val\":0}");
    EXPECT("WellKnown", "val { struct_value { fields { key: \"k\" value { bool_value: false } } } }",
           "{\"val\":{\"k\":false}}");
    EXPECT("WellKnown", "list { values { number_value: 2 } values { list_value {} } }", "{\"list\":[2,[]]}");
    EXPECT("WellKnown", "list {}", "{\"list\":[]}");
    EXPECT("WellKnown", "empty {}", "{\"empty\":{}}");
    EXPECT("WellKnown", "any { [type.googleapis.com/agtest.Nested] { id: 1 name: \"n\" } }",
           "{\"any\":{\"@type\":\"type.googleapis.com/agtest.Nested\",\"id\":1,\"name\":\"n\"}}");
    EXPECT("WellKnown", "any { [type.googleapis.com/google.protobuf.Duration] { seconds: 2 } }",
           "{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"2s\"}}");
    EXPECT("WellKnown", "any { [type.googleapis.com/google.protobuf.Empty] {} }",
           "{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Empty\"}}");
    EXPECT("WellKnown", "any { [type.googleapis.com/agtest.Nested] {} }",
           "{\"any\":{\"@type\":\"type.googleapis.com/agtest.Nested\"}}");
    EXPECT("WellKnown",
           "any { [type.googleapis.com/google.protobuf.Any] { [type.googleapis.com/google.protobuf.Int32Value]"
           " { value: 3 } } }",
           "{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Any\",\"value\":"
           "{\"@type\":\"type.googleapis.com/google.protobuf.Int32Value\",\"value\":3}}}");
    EXPECT("WellKnown", "any {}", "{\"any\":{}}");
    EXPECT("WellKnown",
           "w_double { value: 0 } w_float { value: 1.5 } w_int64 { value: -1 } w_uint64 { value: 1 }"
           " w_int32 { value: -2 } w_uint32 { value: 3 } w_bool {} w_string { value: \"s\" } w_bytes { value: \"\\001\" }",
           "{\"wDouble\":0,\"wFloat\":1.5,\"wInt64\":\"-1\",\"wUint64\":\"1\",\"wInt32\":-2,\"wUint32\":3,"
           "\"wBool\":false,\"wString\":\"s\",\"wBytes\":\"AQ==\"}");
    EXPECT("WellKnown", "r_ts {} r_ts { seconds: 1 nanos: 1 } r_w_int32 { value: 1 } r_w_int32 {}",
           "{\"rTs\":[\"1970-01-01T00:00:00Z\",\"1970-01-01T00:00:01.000000001Z\"],\"rWInt32\":[1,0]}");
    EXPECT("WellKnown", "null_value: NULL_VALUE", "{}");

    /* errors */
    expect_error(text_to_json("WellKnown", "ts { seconds: 253402300800 }"), GRPC_INTERNAL,
                 "field \"ts\": timestamp out of range");
    expect_error(text_to_json("WellKnown", "ts { nanos: -1 }"), GRPC_INTERNAL, "timestamp out of range");
    expect_error(text_to_json("WellKnown", "dur { seconds: 315576000001 }"), GRPC_INTERNAL, "duration out of range");
    expect_error(text_to_json("WellKnown", "any { type_url: \"type.googleapis.com/no.Such\" value: \"\" }"),
                 GRPC_INTERNAL, "type.googleapis.com/no.Such");
    expect_error(text_to_json("WellKnown", "any { value: \"\\010\\001\" }"), GRPC_INTERNAL, "no type_url");
    expect_error(text_to_json("WellKnown", "val {}"), GRPC_INTERNAL, "no kind");
    expect_error(text_to_json("WellKnown", "val { number_value: nan }"), GRPC_INTERNAL, "NaN");
    expect_error(text_to_json("WellKnown", "list { values { number_value: inf } }"), GRPC_INTERNAL, "NaN");
    expect_error(text_to_json("WellKnown", "mask { paths: \"a,b\" }"), GRPC_INTERNAL, "mask");
    expect_error(text_to_json("WellKnown", "mask { paths: \"fooBar\" }"), GRPC_INTERNAL, "mask");
    /* the Any's payload is checked like any other message */
    expect_error(text_to_json("WellKnown", "any { type_url: \"type.googleapis.com/agtest.Nested\" value: \"\\010\" }"),
                 GRPC_INTERNAL, "invalid wire data");
}

/* A real API message, from the v11 descriptor set. */
static void test_v11(void)
{
    char err[256];
    schema_t *v11 = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    CHECK(v11 != NULL);
    if (v11 == NULL)
        return;
    const schema_message_t *tx = schema_find_message(v11, "aurigraph.v11.Transaction", 25);
    CHECK(tx != NULL);
    if (tx != NULL) {
        /* created_at (13) before tx_hash (2) and status (7, a string) on the wire;
         * block_number (10) an Int64Value */
        static const uint8_t pb[] = {0x6a, 0x06, 0x08, 0x80, 0xc2, 0xaf, 0xf0, 0x05, 0x12, 0x02, 'a', 'b',
                                     0x3a, 0x09, 'C', 'O', 'N', 'F', 'I', 'R', 'M', 'E', 'D',
                                     0x52, 0x02, 0x08, 0x0a, 0x58, 0x03};
        arena_reset(&arena);
        buf_init(&out, &arena, 0);
        CHECK_INTEQ(transcode_pb_to_json(v11, tx, pb, sizeof(pb), &opts, &out, &st), 0);
        buf_putc(&out, '\0');
        CHECK_STREQ(out.data, "{\"txHash\":\"ab\",\"status\":\"CONFIRMED\",\"blockNumber\":\"10\","
                              "\"confirmationCount\":3,\"createdAt\":\"2020-01-01T00:00:00Z\"}");
        /* created_at's seconds cut short inside it */
        static const uint8_t bad[] = {0x6a, 0x06, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80};
        arena_reset(&arena);
        buf_init(&out, &arena, 0);
        CHECK_INTEQ(transcode_pb_to_json(v11, tx, bad, sizeof(bad), &opts, &out, &st), -1);
        CHECK(strstr(st.message, "createdAt") != NULL);
    }
    schema_free(v11);
}

/* ---- response_body ---- */

static const char *field_json(const char *type, const char *field, const uint8_t *p, size_t len)
{
    const schema_message_t *m = msg(type);
    const schema_field_t *f = schema_field_by_name(m, field, strlen(field));
    if (f == NULL)
        return "(no such field)";
    arena_reset(&arena);
    buf_init(&out, &arena, 0);
    if (transcode_pb_field_to_json(schema, m, f, p, len, &opts, &out, &st) != 0)
        return NULL;
    buf_putc(&out, '\0');
    return out.data;
}

/* ---- the v11 profile's knobs ---- */

static void test_profile_v11(void)
{
    transcode_options_t v11 = opts;
    json_profile_apply(json_profile_find("v11"), &v11);
    EXPECT_JSON(text_to_json_with("Profiled",
                                  "id: 7 amount {value: \"12.50\"} created_at {seconds: 1700000000 nanos: 120000000}"
                                  " count: 3 ids: [1, -2]",
                                  &v11),
                "{\"id\":7,\"amount\":12.50,\"fee\":null,\"createdAt\":\"2023-11-14T22:13:20.12\","
                "\"blockNumber\":null,\"valid\":false,\"name\":\"\",\"items\":[],\"count\":3,\"ids\":[1,-2],"
                "\"child\":null,\"maybe\":null,\"color\":\"COLOR_UNSPECIFIED\"}");
    /* set members: the oneof's one, wrappers and optional as bare values, a
     * whole second of LocalDateTime has no fraction at all */
    EXPECT_JSON(text_to_json_with("Profiled",
                                  "b: \"x\" block_number {value: 9007199254740993} maybe: 0 valid: true"
                                  " created_at {seconds: 1700000000} fee {value: \"-1E+3\"} child {id: 2}"
                                  " items {name: \"i\"}",
                                  &v11),
                "{\"id\":0,\"amount\":null,\"fee\":-1E+3,\"createdAt\":\"2023-11-14T22:13:20\","
                "\"blockNumber\":9007199254740993,\"valid\":true,\"name\":\"\","
                "\"items\":[{\"id\":0,\"name\":\"i\",\"child\":null}],\"b\":\"x\",\"count\":0,\"ids\":[],"
                "\"child\":{\"id\":2,\"name\":\"\",\"child\":null},\"maybe\":0,\"color\":\"COLOR_UNSPECIFIED\"}");
    /* BigDecimal's other spellings print as JSON numbers; an empty Decimal
     * is zero; one that is no decimal is the upstream's error */
    transcode_options_t quiet = v11;
    quiet.emit_defaults = 0;
    quiet.emit_null = 0;
    EXPECT_JSON(text_to_json_with("Profiled", "amount {value: \".5\"} fee {}", &quiet),
                "{\"amount\":0.5,\"fee\":0}");
    EXPECT_JSON(text_to_json_with("Profiled", "amount {value: \"+00.50e-3\"}", &quiet), "{\"amount\":0.50e-3}");
    expect_error(text_to_json_with("Profiled", "amount {value: \"12,5\"}", &quiet), GRPC_INTERNAL,
                 "field \"amount\": google.type.Decimal value is not a decimal number");
    EXPECT_JSON(text_to_json_with("Profiled", "created_at {seconds: 1700000000 nanos: 1000}", &quiet),
                "{\"createdAt\":\"2023-11-14T22:13:20.000001\"}");
    /* proto3 keeps its own mapping of the same bytes */
    EXPECT("Profiled", "id: 7 amount {value: \"12.50\"} created_at {seconds: 1700000000 nanos: 120000000}",
           "{\"id\":\"7\",\"amount\":{\"value\":\"12.50\"},\"createdAt\":\"2023-11-14T22:13:20.120Z\"}");
}

static void test_field(void)
{
    bytes_t b = encode("Nested", "id: 5 child { id: 2 name: \"c\" }");
    CHECK_STREQ(field_json("Nested", "child", b.p, b.len), "{\"id\":2,\"name\":\"c\"}");
    CHECK_STREQ(field_json("Nested", "id", b.p, b.len), "5");
    CHECK_STREQ(field_json("Nested", "name", b.p, b.len), "\"\"");
    free(b.p);
    CHECK_STREQ(field_json("Nested", "child", (const uint8_t *)"", 0), "{}");
    b = encode("Repeated", "r_int32: [1, 2] r_nested { id: 1 }");
    CHECK_STREQ(field_json("Repeated", "rInt32", b.p, b.len), "[1,2]");
    CHECK_STREQ(field_json("Repeated", "r_nested", b.p, b.len), "[{\"id\":1}]");
    CHECK_STREQ(field_json("Repeated", "rString", b.p, b.len), "[]");
    free(b.p);
    b = encode("Maps", "str_int { key: \"a\" value: 1 }");
    CHECK_STREQ(field_json("Maps", "strInt", b.p, b.len), "{\"a\":1}");
    CHECK_STREQ(field_json("Maps", "intStr", b.p, b.len), "{}");
    free(b.p);
    b = encode("WellKnown", "ts { seconds: 1 }");
    CHECK_STREQ(field_json("WellKnown", "ts", b.p, b.len), "\"1970-01-01T00:00:01Z\"");
    CHECK_STREQ(field_json("WellKnown", "val", b.p, b.len), "null");
    free(b.p);
    /* a field of another message is refused */
    const schema_message_t *m = msg("Nested");
    const schema_field_t *foreign = schema_field_by_name(msg("Deep"), "value", 5);
    arena_reset(&arena);
    buf_init(&out, &arena, 0);
    CHECK_INTEQ(transcode_pb_field_to_json(schema, m, foreign, (const uint8_t *)"", 0, &opts, &out, &st), -1);
}

/* ---- unknown fields ---- */

static void test_unknown(void)
{
    /* Oneofs' fields 1-3 line up with Nested's; 4 and 5 are unknown there */
    bytes_t b = encode("Oneofs", "num: 7 other: 9");
    CHECK_STREQ(convert("Nested", b.p, b.len), "{\"id\":7}");
    free(b.p);
    b = encode("GetThingRequest", "tags: \"t\" color: RED verbose: true");
    CHECK_STREQ(convert("Nested", b.p, b.len), "{}");
    free(b.p);
    /* every wire type as an unknown field, a group with a nested group included */
    EXPECT_RAW("Nested",
               "\x08\x01"
               "\xa1\x06\x01\x02\x03\x04\x05\x06\x07\x08" /* 100: I64 */
               "\xad\x06\x01\x02\x03\x04"                 /* 101: I32 */
               "\xb2\x06\x02\xff\xfe"                     /* 102: LEN, not UTF-8: unknown, so fine */
               "\xbb\x06\x08\x01\xc3\x06\xc4\x06\xbc\x06" /* 103: group { 1: varint, 104: group {} } */
               "\xc0\x06\x96\x01"                         /* 104: varint */
               "\x12\x01\x6e",
               "{\"id\":1,\"name\":\"n\"}");
    /* a group must end with its own number */
    expect_error(convert("Nested", (const uint8_t *)"\xbb\x06\xc4\x06", 4), GRPC_INTERNAL, "invalid wire data");
    expect_error(convert("Nested", (const uint8_t *)"\xbb\x06\x08\x01", 4), GRPC_INTERNAL, "invalid wire data");
    expect_error(convert("Nested", (const uint8_t *)"\xbc\x06", 2), GRPC_INTERNAL, "invalid wire data");
}

/* ---- hostile input ---- */

static void test_malformed(void)
{
    expect_error(convert("Nested", (const uint8_t *)"\x08", 1), GRPC_INTERNAL, "invalid wire data");
    expect_error(convert("Nested", (const uint8_t *)"\x08\x80", 2), GRPC_INTERNAL, "invalid wire data");
    expect_error(convert("Nested", (const uint8_t *)"\x12\x05\x61", 3), GRPC_INTERNAL, "invalid wire data");
    expect_error(convert("Nested", (const uint8_t *)"\x12\xff\xff\xff\xff\x0f", 6), GRPC_INTERNAL, "invalid wire");
    /* a known field with the wrong wire type is an unknown field, as protobuf treats it */
    EXPECT_RAW("Nested", "\x0a\x01\x61\x08\x07", "{\"id\":7}");
    expect_error(convert("Nested", (const uint8_t *)"\x0e\x00", 2), GRPC_INTERNAL, "invalid wire data");  /* type 6 */
    expect_error(convert("Nested", (const uint8_t *)"\x0f\x00", 2), GRPC_INTERNAL, "invalid wire data");  /* type 7 */
    expect_error(convert("Nested", (const uint8_t *)"\x00\x00", 2), GRPC_INTERNAL, "invalid wire data");  /* field 0 */
    expect_error(convert("Nested", (const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
                 GRPC_INTERNAL, "invalid wire data"); /* 11-byte varint */
    expect_error(convert("Nested", (const uint8_t *)"\xf8\xff\xff\xff\xff\x01\x00", 7), GRPC_INTERNAL,
                 "invalid wire data"); /* tag beyond 32 bits */
    /* errors inside a nested message name the field they are in */
    expect_error(convert("Nested", (const uint8_t *)"\x1a\x01\x08", 3), GRPC_INTERNAL, "field \"child\"");
    expect_error(convert("Scalars", (const uint8_t *)"\x4a\x02\xc3\x28", 4), GRPC_INTERNAL,
                 "field \"fString\": invalid UTF-8");
    expect_error(convert("Nested", (const uint8_t *)"\x1a\x03\x12\x01\x80", 5), GRPC_INTERNAL, "field \"name\"");
    expect_error(convert("Scalars", (const uint8_t *)"\x4a\x03\xed\xa0\x80", 5), GRPC_INTERNAL, "UTF-8"); /* surrogate */

    /* nesting: max_depth counts messages, the outermost being 1 */
    transcode_options_t o = opts;
    o.max_depth = 10;
    uint8_t deep[512];
    for (int levels = 9; levels <= 11; levels++) {
        /* built inside out: each level wraps the previous in field 1 */
        size_t len = 2, at = sizeof(deep) - 2;
        deep[at] = 0x10, deep[at + 1] = 0x01; /* value: 1 at the bottom */
        for (int i = 1; i < levels; i++) {
            deep[--at] = (uint8_t)len;
            deep[--at] = 0x0a;
            len += 2;
        }
        const char *j = convert_with(msg("Deep"), deep + at, len, &o);
        if (levels <= 10)
            CHECK(j != NULL && strstr(j, "\"value\":1") != NULL);
        else
            expect_error(j, GRPC_RESOURCE_EXHAUSTED, "max_depth");
    }
    /* far past any limit, with the default max_depth */
    static uint8_t very_deep[20000];
    size_t n = 0;
    for (; n + 2 <= sizeof(very_deep); n += 2) {
        very_deep[n] = 0x0a;
        very_deep[n + 1] = 0x80; /* over-long length: each level starts one more */
    }
    CHECK(convert("Deep", very_deep, n) == NULL);
    {
        /* well-formed and 5000 deep: Deep { next { next { ... } } } */
        static uint8_t chain[5000 * 4];
        size_t len = 0, at = sizeof(chain);
        for (int i = 0; i < 5000; i++) {
            uint8_t hdr[4];
            size_t h = 0;
            hdr[h++] = 0x0a;
            size_t l = len;
            do {
                hdr[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
                l >>= 7;
            } while (l);
            at -= h;
            memcpy(chain + at, hdr, h);
            len += h;
        }
        expect_error(convert("Deep", chain + at, len), GRPC_RESOURCE_EXHAUSTED, "max_depth");
    }

    /* output limit */
    o = opts;
    o.max_output = 16;
    bytes_t b = encode("Scalars", "f_string: \"a string longer than sixteen bytes\"");
    expect_error(convert_with(msg("Scalars"), b.p, b.len, &o), GRPC_RESOURCE_EXHAUSTED, "max_output");
    free(b.p);
    b = encode("Repeated", "r_int32: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]");
    expect_error(convert_with(msg("Repeated"), b.p, b.len, &o), GRPC_RESOURCE_EXHAUSTED, "max_output");
    free(b.p);

    /* an arena that runs out */
    arena_t small;
    arena_init(&small);
    small.limit = 300;
    buf_t sb;
    buf_init(&sb, &small, 0);
    b = encode("Repeated", "r_string: [\"0123456789012345678901234567890123456789\","
                           " \"0123456789012345678901234567890123456789\", \"0123456789012345678901234567890123456789\","
                           " \"0123456789012345678901234567890123456789\", \"0123456789012345678901234567890123456789\","
                           " \"0123456789012345678901234567890123456789\", \"0123456789012345678901234567890123456789\"]");
    CHECK_INTEQ(transcode_pb_to_json(schema, msg("Repeated"), b.p, b.len, &opts, &sb, &st), -1);
    CHECK_INTEQ(st.code, GRPC_RESOURCE_EXHAUSTED);
    free(b.p);
    arena_free(&small);
}

/* Runs a hostile input; counts outcomes that are neither a clean error nor valid JSON. */
static int survive(const schema_message_t *m, const uint8_t *p, size_t len)
{
    /* a heap copy of exactly len bytes, so ASan sees any read past the end */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    const char *j = convert_with(m, copy, len, &opts);
    free(copy);
    if (j == NULL)
        return st.code == GRPC_INTERNAL || st.code == GRPC_RESOURCE_EXHAUSTED ? 0 : 1;
    if (!json_valid(j)) {
        fprintf(stderr, "invalid JSON: %s\n", j);
        return 1;
    }
    return 0;
}

static void test_hostile(void)
{
    bytes_t b = encode("Everything",
                       "scalars { f_double: 1.5 f_int64: -5 f_int32: -7 f_string: \"h\\303\\251\" f_bytes: \"\\000\""
                       " f_enum: BLUE f_sint64: -3 f_opt_int32: 0 f_fixed32: 9 f_fixed64: 9 f_float: 2 }"
                       " repeated { r_int32: [1, -2] r_unpacked: [3] r_string: \"x\" r_nested { id: 1 child { id: 2 } }"
                       " r_double: [1, 2] r_bool: true }"
                       " maps { str_int { key: \"a\" value: 1 } bool_msg { key: true value { name: \"v\" } }"
                       " i64_bytes { key: 5 value: \"b\" } }"
                       " oneofs { msg { id: 3 } other: 4 }"
                       " wkt { ts { seconds: 5 nanos: 6 } dur { seconds: 7 } mask { paths: \"a_b\" }"
                       " st { fields { key: \"k\" value { list_value { values { number_value: 1 } } } } }"
                       " any { [type.googleapis.com/agtest.Nested] { id: 8 } } w_int64 { value: 9 }"
                       " r_ts { seconds: 1 } val { bool_value: true } }"
                       " nested { id: 10 name: \"n\" }");
    const schema_message_t *every = msg("Everything");
    CHECK(convert_with(every, b.p, b.len, &opts) != NULL);
    CHECK(json_valid(out.data + 1));

    int bad = 0;
    /* every prefix: some are valid messages, most are not; none may crash */
    for (size_t n = 0; n <= b.len; n++)
        bad += survive(every, b.p, n);
    CHECK_INTEQ(bad, 0);

    /* single-byte damage at every position, a few values each */
    static const uint8_t flips[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x08};
    uint8_t *m = malloc(b.len);
    bad = 0;
    for (size_t i = 0; i < b.len; i++)
        for (size_t k = 0; k < sizeof(flips); k++) {
            memcpy(m, b.p, b.len);
            m[i] = flips[k];
            bad += survive(every, m, b.len);
        }
    CHECK_INTEQ(bad, 0);

    /* random mutations of the valid message */
    bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(m, b.p, b.len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++)
            m[rng() % b.len] = (uint8_t)rng();
        bad += survive(every, m, rng() % (b.len + 1));
    }
    CHECK_INTEQ(bad, 0);
    free(m);
    free(b.p);

    /* random bytes against every test message */
    static const char *const types[] = {"Scalars", "Repeated", "Nested",     "Maps",
                                        "Oneofs",  "WellKnown", "Everything", "Deep"};
    uint8_t rnd[96];
    bad = 0;
    for (int iter = 0; iter < 40000; iter++) {
        size_t len = rng() % sizeof(rnd);
        for (size_t i = 0; i < len; i++) {
            /* biased towards plausible tags and short lengths, so that
             * inputs get past their first few bytes */
            uint32_t r = rng();
            if ((r & 3) == 0)
                rnd[i] = (uint8_t)(((r >> 8) % 21) << 3 | ((r >> 16) % 6));
            else
                rnd[i] = (uint8_t)((r >> 8) % ((r & 4) ? 16 : 256));
        }
        bad += survive(msg(types[iter % 8]), rnd, len);
    }
    CHECK_INTEQ(bad, 0);
}

int main(void)
{
    char err[256] = "";
    schema = schema_load_file(AG_TEST_DESCRIPTORS, err, sizeof(err));
    if (schema == NULL) {
        fprintf(stderr, "load %s: %s\n", AG_TEST_DESCRIPTORS, err);
        return 1;
    }
    arena_init(&arena);
    transcode_options_default(&opts);

    test_scalars();
    test_defaults_and_options();
    test_string_escaping();
    test_repeated();
    test_maps();
    test_oneofs_and_nesting();
    test_wkt();
    test_v11();
    test_profile_v11();
    test_field();
    test_unknown();
    test_malformed();
    test_hostile();

    arena_free(&arena);
    schema_free(schema);
    return test_summary();
}
