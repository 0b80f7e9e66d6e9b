/*
 * grpc_web_frame_test: content-type modes, the trailer lines and
 * grpc-message's percent-encoding, the request-body scan, and base64 both
 * ways: RFC 4648's vectors, input split at every place (inside quads, and
 * between units with padding inside the stream), every kind of bad input,
 * and encode/decode round trips over random pieces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/grpc_web_frame.h"
#include "test.h"

static grpc_web_frame_mode_t mode_of(const char *ct)
{
    return grpc_web_frame_content_type(ct, strlen(ct));
}

static void test_content_types(void)
{
    CHECK_INTEQ(mode_of("application/grpc-web"), GRPC_WEB_FRAME_BINARY);
    CHECK_INTEQ(mode_of("application/grpc-web+proto"), GRPC_WEB_FRAME_BINARY);
    CHECK_INTEQ(mode_of("application/grpc-web-text"), GRPC_WEB_FRAME_TEXT);
    CHECK_INTEQ(mode_of("application/grpc-web-text+proto"), GRPC_WEB_FRAME_TEXT);
    CHECK_INTEQ(mode_of("Application/GRPC-Web-Text+Proto"), GRPC_WEB_FRAME_TEXT);
    CHECK_INTEQ(mode_of("application/grpc-web+proto; charset=utf-8"), GRPC_WEB_FRAME_BINARY);
    CHECK_INTEQ(mode_of("application/grpc-web;x=1"), GRPC_WEB_FRAME_BINARY);
    CHECK_INTEQ(mode_of("application/grpc-web+json"), GRPC_WEB_FRAME_UNSUPPORTED);
    CHECK_INTEQ(mode_of("application/grpc-web-text+thrift"), GRPC_WEB_FRAME_UNSUPPORTED);
    CHECK_INTEQ(mode_of("application/grpc-web+"), GRPC_WEB_FRAME_UNSUPPORTED);
    CHECK_INTEQ(mode_of("application/grpc-web+protobuf"), GRPC_WEB_FRAME_UNSUPPORTED);
    CHECK_INTEQ(mode_of("application/grpc-webx"), GRPC_WEB_FRAME_NOT_WEB);
    CHECK_INTEQ(mode_of("application/grpc-web-textual"), GRPC_WEB_FRAME_NOT_WEB);
    CHECK_INTEQ(mode_of("application/grpc"), GRPC_WEB_FRAME_NOT_WEB);
    CHECK_INTEQ(mode_of("application/grpc+proto"), GRPC_WEB_FRAME_NOT_WEB);
    CHECK_INTEQ(mode_of("application/json"), GRPC_WEB_FRAME_NOT_WEB);
    CHECK_INTEQ(mode_of(""), GRPC_WEB_FRAME_NOT_WEB);
    /* the length is the value's, not the string's */
    CHECK_INTEQ(grpc_web_frame_content_type("application/grpc-web-text", 20), GRPC_WEB_FRAME_BINARY);
    CHECK_INTEQ(grpc_web_frame_content_type("application/grpc-web", 19), GRPC_WEB_FRAME_NOT_WEB);
}

static void test_trailer_lines(void)
{
    uint8_t p[5];
    CHECK(grpc_web_frame_prefix(p, GRPC_WEB_FRAME_TRAILERS, 0x01020304) == p + 5);
    CHECK(memcmp(p, "\x80\x01\x02\x03\x04", 5) == 0);

    char line[64];
    size_t n = grpc_web_frame_header_line_len(11, 1);
    char *end = grpc_web_frame_header_line(line, "grpc-status", 11, "0", 1);
    CHECK_INTEQ(end - line, n);
    CHECK(memcmp(line, "grpc-status: 0\r\n", n) == 0);

    const char msg[] = "50% off\r\n\xc3\xa9~\x7f";
    size_t len = sizeof(msg) - 1;
    char enc[64];
    size_t elen = grpc_web_frame_percent_len(msg, len);
    end = grpc_web_frame_percent_encode(enc, msg, len);
    CHECK_INTEQ(end - enc, elen);
    *end = '\0';
    CHECK_STREQ(enc, "50%25 off%0D%0A%C3%A9~%7F");
    CHECK_INTEQ(grpc_web_frame_percent_len("plain text", 10), 10);
}

static void test_scan(void)
{
    grpc_web_frame_scan_t s;
    CHECK_INTEQ(grpc_web_frame_scan(NULL, 0, 100, &s), GRPC_WEB_FRAME_SCAN_OK);
    CHECK_INTEQ(s.messages, 0);
    const uint8_t two[] = {0, 0, 0, 0, 2, 'h', 'i', 1, 0, 0, 0, 0};
    CHECK_INTEQ(grpc_web_frame_scan(two, sizeof(two), 100, &s), GRPC_WEB_FRAME_SCAN_OK);
    CHECK_INTEQ(s.messages, 2);
    CHECK_INTEQ(s.compressed, 1);
    for (size_t cut = 1; cut < sizeof(two); cut++) {
        if (cut == 7)
            continue; /* a whole first message */
        CHECK_INTEQ(grpc_web_frame_scan(two, cut, 100, &s), GRPC_WEB_FRAME_SCAN_TRUNCATED);
    }
    CHECK_INTEQ(grpc_web_frame_scan(two, 7, 100, &s), GRPC_WEB_FRAME_SCAN_OK);
    CHECK_INTEQ(grpc_web_frame_scan(two, sizeof(two), 1, &s), GRPC_WEB_FRAME_SCAN_TOO_LARGE);
    CHECK_INTEQ(s.bad_len, 2);
    const uint8_t trailer[] = {0x80, 0, 0, 0, 0};
    CHECK_INTEQ(grpc_web_frame_scan(trailer, 5, 100, &s), GRPC_WEB_FRAME_SCAN_BAD_FLAGS);
    const uint8_t flag2[] = {2, 0, 0, 0, 0};
    CHECK_INTEQ(grpc_web_frame_scan(flag2, 5, 100, &s), GRPC_WEB_FRAME_SCAN_BAD_FLAGS);
    const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
    CHECK_INTEQ(grpc_web_frame_scan(huge, 5, UINT32_MAX, &s), GRPC_WEB_FRAME_SCAN_TRUNCATED);
}

/* Decodes text in pieces at the cuts (sorted offsets); -1 on a refusal. */
static long decode_pieces(const char *text, const size_t *cuts, size_t ncuts, uint8_t *out, int *complete)
{
    grpc_web_frame_decoder_t d;
    grpc_web_frame_decoder_init(&d);
    size_t len = strlen(text), at = 0, total = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        long n = grpc_web_frame_decode(&d, text + at, to - at, out + total);
        if (n < 0)
            return -1;
        if ((size_t)n > grpc_web_frame_decoded_max(to - at))
            return -2;
        total += (size_t)n;
        at = to;
    }
    *complete = grpc_web_frame_decode_complete(&d);
    return (long)total;
}

static int decodes_to(const char *text, const char *want)
{
    uint8_t out[256];
    int complete = 0;
    long n = decode_pieces(text, NULL, 0, out, &complete);
    return n == (long)strlen(want) && complete && memcmp(out, want, (size_t)n) == 0;
}

static int refused(const char *text)
{
    uint8_t out[256];
    int complete = 0;
    long n = decode_pieces(text, NULL, 0, out, &complete);
    return n == -1 || !complete;
}

static void test_decode(void)
{
    static const char *const rfc[][2] = {{"", ""},         {"Zg==", "f"},         {"Zm8=", "fo"},
                                         {"Zm9v", "foo"},  {"Zm9vYg==", "foob"},  {"Zm9vYmE=", "fooba"},
                                         {"Zm9vYmFy", "foobar"}};
    for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++)
        CHECK(decodes_to(rfc[i][0], rfc[i][1]));
    /* each unit on its own, padding inside the stream, split everywhere */
    const char *units = "YWI=Y2RlZg==Zw==aGlqaw==";
    const char *want = "abcdefghijk";
    CHECK(decodes_to(units, want));
    size_t len = strlen(units);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};
            uint8_t out[64];
            int complete = 0;
            long n = decode_pieces(units, cuts, 2, out, &complete);
            if (n != (long)strlen(want) || !complete || memcmp(out, want, (size_t)n) != 0) {
                CHECK(!"a split decode differs");
                fprintf(stderr, "  cuts %zu %zu: n %ld\n", a, b, n);
                return;
            }
        }
    }
    CHECK(1);
    /* one character at a time */
    size_t each[64];
    for (size_t i = 0; i < len; i++)
        each[i] = i;
    uint8_t out[64];
    int complete = 0;
    CHECK_INTEQ(decode_pieces(units, each, len, out, &complete), 11);
    CHECK(complete && memcmp(out, want, 11) == 0);
    /* an unfinished quad is not complete, and finishes with the next piece */
    grpc_web_frame_decoder_t d;
    grpc_web_frame_decoder_init(&d);
    CHECK_INTEQ(grpc_web_frame_decode(&d, "Zm9vY", 5, out), 3);
    CHECK(!grpc_web_frame_decode_complete(&d));
    CHECK_INTEQ(grpc_web_frame_decode(&d, "g=", 2, out), 0);
    CHECK(!grpc_web_frame_decode_complete(&d));
    CHECK_INTEQ(grpc_web_frame_decode(&d, "=", 1, out), 1);
    CHECK(grpc_web_frame_decode_complete(&d) && out[0] == 'b');
}

static void test_decode_bad(void)
{
    CHECK(refused("Zg="));         /* ends inside a quad */
    CHECK(refused("Zg"));          /* unpadded */
    CHECK(refused("Z"));
    CHECK(refused("Z==="));        /* '=' second */
    CHECK(refused("===="));
    CHECK(refused("=Zm9"));
    CHECK(refused("Zm=v"));        /* data after '=' in a quad */
    CHECK(refused("Zh=="));        /* pad bits not zero ("Zg==" is the one reading) */
    CHECK(refused("Zm9="));        /* pad bits not zero ("Zm8=") */
    CHECK(refused("Zm9v\n"));      /* whitespace */
    CHECK(refused("Zm 9v"));
    CHECK(refused("Zm9v\r\nZm9v"));
    CHECK(refused("Zm-v"));        /* the URL-safe alphabet */
    CHECK(refused("Zm_v"));
    CHECK(refused("Zm9v=")); /* padding after a whole quad */
    CHECK(refused("Zm9v\xc3\xa9"));
    CHECK(refused("Zm.v"));
    uint8_t out[16];
    grpc_web_frame_decoder_t d;
    grpc_web_frame_decoder_init(&d);
    CHECK_INTEQ(grpc_web_frame_decode(&d, "Zm9v\0Zm9v", 9, out), -1); /* a NUL */
    CHECK_INTEQ(grpc_web_frame_decode(&d, "Zm9v", 4, out), -1);       /* spent */
    CHECK(!grpc_web_frame_decode_complete(&d));
}

static char *encode_whole(const uint8_t *in, size_t len, char *out)
{
    grpc_web_frame_encoder_t e;
    grpc_web_frame_encoder_init(&e);
    char *end = grpc_web_frame_encode(&e, in, len, out);
    return grpc_web_frame_encode_end(&e, end);
}

static void test_encode(void)
{
    static const char *const rfc[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
        char out[32];
        size_t len = strlen(rfc[i][0]);
        char *end = encode_whole((const uint8_t *)rfc[i][0], len, out);
        CHECK_INTEQ(end - out, grpc_web_frame_encoded_len(len));
        *end = '\0';
        CHECK_STREQ(out, rfc[i][1]);
    }
    /* random data in random pieces: the same text as whole, and back */
    srand(12);
    int mismatches = 0;
    for (int round = 0; round < 2000; round++) {
        uint8_t data[200];
        size_t len = (size_t)rand() % sizeof(data);
        for (size_t i = 0; i < len; i++)
            data[i] = (uint8_t)rand();
        char whole[300], pieces[300];
        char *wend = encode_whole(data, len, whole);
        grpc_web_frame_encoder_t e;
        grpc_web_frame_encoder_init(&e);
        char *p = pieces;
        for (size_t at = 0; at < len;) {
            size_t k = 1 + (size_t)rand() % 7;
            if (k > len - at)
                k = len - at;
            char *next = grpc_web_frame_encode(&e, data + at, k, p);
            if ((size_t)(next - p) > grpc_web_frame_encoded_max(k))
                mismatches++;
            p = next;
            at += k;
        }
        p = grpc_web_frame_encode_end(&e, p);
        if (p - pieces != wend - whole || memcmp(pieces, whole, (size_t)(wend - whole)) != 0)
            mismatches++;
        grpc_web_frame_decoder_t d;
        grpc_web_frame_decoder_init(&d);
        uint8_t back[200];
        long n = grpc_web_frame_decode(&d, whole, (size_t)(wend - whole), back);
        if (n != (long)len || !grpc_web_frame_decode_complete(&d) || memcmp(back, data, len) != 0)
            mismatches++;
    }
    CHECK_INTEQ(mismatches, 0);
}

int main(void)
{
    test_content_types();
    test_trailer_lines();
    test_scan();
    test_decode();
    test_decode_bad();
    test_encode();
    return test_summary();
}
