/*
 * grpc_frame_test: gRPC's framing read from pieces cut anywhere
 * (grpc/frame.h): following (the pass-through's check) and reading whole
 * messages (the local services'), the limits, the flags, the end inside a
 * message; every cut of a stream gives the same messages.
 */
#include "grpc/frame.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct got {
    int n;
    uint8_t flags[16];
    size_t len[16];
    char text[16][32];
    int stop_at; /* return non-zero from the handler at this message (1-based) */
} got_t;

static int on_msg(void *ctx, uint8_t flags, const uint8_t *m, size_t len)
{
    got_t *g = ctx;
    if (g->n < 16) {
        g->flags[g->n] = flags;
        g->len[g->n] = len;
        snprintf(g->text[g->n], sizeof(g->text[0]), "%.*s", (int)(len < 31 ? len : 31), (const char *)m);
    }
    g->n++;
    return g->stop_at != 0 && g->n == g->stop_at;
}

static size_t frame(uint8_t *out, uint8_t flags, const char *msg)
{
    size_t n = strlen(msg);
    grpc_frame_prefix(out, flags, (uint32_t)n);
    memcpy(out + 5, msg, n);
    return 5 + n;
}

static void test_follow(void)
{
    uint8_t s[128];
    size_t n = frame(s, 0, "hello");
    n += frame(s + n, 0, "");
    n += frame(s + n, 0, "world!");
    /* every split point in two, and byte by byte */
    for (size_t cut = 0; cut <= n; cut++) {
        grpc_frame_reader_t r = {0};
        grpc_frame_reader_init(&r, 100, 0);
        CHECK_INTEQ(grpc_frame_follow(&r, s, cut, 0), GRPC_FRAME_OK);
        CHECK_INTEQ(grpc_frame_follow(&r, s + cut, n - cut, 1), GRPC_FRAME_OK);
        CHECK_INTEQ(r.messages, 3);
        CHECK(grpc_frame_at_boundary(&r));
    }
    grpc_frame_reader_t r = {0};
    grpc_frame_reader_init(&r, 100, 0);
    for (size_t i = 0; i < n; i++)
        CHECK_INTEQ(grpc_frame_follow(&r, s + i, 1, 0), GRPC_FRAME_OK);
    CHECK_INTEQ(grpc_frame_follow(&r, NULL, 0, 1), GRPC_FRAME_OK);
    CHECK_INTEQ(r.messages, 3);

    /* the limit: refused on the prefix alone, before any payload */
    grpc_frame_reader_init(&r, 5, 0);
    n = frame(s, 0, "123456");
    CHECK_INTEQ(grpc_frame_follow(&r, s, 4, 0), GRPC_FRAME_OK);
    CHECK_INTEQ(grpc_frame_follow(&r, s + 4, 1, 0), GRPC_FRAME_TOO_LARGE);
    CHECK_INTEQ(r.refused_len, 6);
    CHECK_INTEQ(r.hlen, 4); /* left where it was: the bytes can be refused whole */
    n = frame(s, 0, "12345");
    grpc_frame_reader_init(&r, 5, 0);
    CHECK_INTEQ(grpc_frame_follow(&r, s, n, 1), GRPC_FRAME_OK); /* exactly the limit */

    /* flags: 1 only with an encoding, others never */
    n = frame(s, 1, "zz");
    grpc_frame_reader_init(&r, 100, 0);
    CHECK_INTEQ(grpc_frame_follow(&r, s, n, 1), GRPC_FRAME_COMPRESSED_NO_ENCODING);
    CHECK_INTEQ(r.messages, 0);
    grpc_frame_reader_init(&r, 100, 1);
    CHECK_INTEQ(grpc_frame_follow(&r, s, n, 1), GRPC_FRAME_OK);
    n = frame(s, 0x80, "zz");
    grpc_frame_reader_init(&r, 100, 1);
    CHECK_INTEQ(grpc_frame_follow(&r, s, n, 1), GRPC_FRAME_BAD_FLAGS);

    /* the end inside a prefix or a payload */
    n = frame(s, 0, "abc");
    for (size_t cut = 1; cut < n; cut++) {
        grpc_frame_reader_init(&r, 100, 0);
        CHECK_INTEQ(grpc_frame_follow(&r, s, cut, 1), GRPC_FRAME_TRUNCATED);
    }
    /* a length near 4 GiB with the limit there: followed without a buffer */
    grpc_frame_reader_init(&r, UINT32_MAX, 0);
    grpc_frame_prefix(s, 0, 0xfffffff0u);
    CHECK_INTEQ(grpc_frame_follow(&r, s, 5, 0), GRPC_FRAME_OK);
    CHECK_INTEQ(r.left, 0xfffffff0u);
}

static void test_read(void)
{
    uint8_t s[256];
    size_t n = frame(s, 0, "one");
    n += frame(s + n, 0, "");
    n += frame(s + n, 1, "three");
    /* every cut, including inside the prefixes: the same three messages */
    for (size_t cut = 0; cut <= n; cut++) {
        grpc_frame_reader_t r = {0};
        got_t g = {0};
        grpc_frame_reader_init(&r, 100, 1);
        CHECK_INTEQ(grpc_frame_read(&r, s, cut, 0, on_msg, &g), GRPC_FRAME_OK);
        CHECK_INTEQ(grpc_frame_read(&r, s + cut, n - cut, 1, on_msg, &g), GRPC_FRAME_OK);
        CHECK_INTEQ(g.n, 3);
        CHECK_STREQ(g.text[0], "one");
        CHECK_INTEQ(g.len[1], 0);
        CHECK_STREQ(g.text[2], "three");
        CHECK_INTEQ(g.flags[2], 1);
        CHECK_INTEQ(r.messages, 3);
        CHECK(grpc_frame_at_boundary(&r));
        grpc_frame_reader_dispose(&r);
    }
    /* byte by byte */
    grpc_frame_reader_t r = {0};
    got_t g = {0};
    grpc_frame_reader_init(&r, 100, 1);
    for (size_t i = 0; i < n; i++)
        CHECK_INTEQ(grpc_frame_read(&r, s + i, 1, 0, on_msg, &g), GRPC_FRAME_OK);
    CHECK_INTEQ(g.n, 3);
    CHECK_STREQ(g.text[2], "three");
    /* a reused reader keeps its buffer and starts clean */
    grpc_frame_reader_init(&r, 4, 0);
    g = (got_t){0};
    CHECK_INTEQ(grpc_frame_read(&r, s, 3, 0, on_msg, &g), GRPC_FRAME_OK);
    CHECK(!grpc_frame_at_boundary(&r));
    CHECK_INTEQ(grpc_frame_read(&r, s + 3, 5, 1, on_msg, &g), GRPC_FRAME_OK);
    CHECK_INTEQ(g.n, 1);

    /* limits and flags, in place and buffered */
    size_t big = frame(s, 0, "12345");
    for (size_t cut = 0; cut <= 5; cut++) {
        grpc_frame_reader_init(&r, 4, 0);
        g = (got_t){0};
        grpc_frame_result_t a = grpc_frame_read(&r, s, cut, 0, on_msg, &g);
        grpc_frame_result_t b = a == GRPC_FRAME_OK ? grpc_frame_read(&r, s + cut, big - cut, 1, on_msg, &g) : a;
        CHECK_INTEQ(b, GRPC_FRAME_TOO_LARGE);
        CHECK_INTEQ(r.refused_len, 5);
        CHECK_INTEQ(g.n, 0);
    }
    size_t z = frame(s, 1, "zz");
    grpc_frame_reader_init(&r, 100, 0);
    g = (got_t){0};
    CHECK_INTEQ(grpc_frame_read(&r, s, z, 1, on_msg, &g), GRPC_FRAME_COMPRESSED_NO_ENCODING);
    grpc_frame_reader_init(&r, 100, 0);
    CHECK_INTEQ(grpc_frame_read(&r, s, 2, 0, on_msg, &g), GRPC_FRAME_OK); /* checked once the prefix is whole */
    CHECK_INTEQ(grpc_frame_read(&r, s + 2, z - 2, 1, on_msg, &g), GRPC_FRAME_COMPRESSED_NO_ENCODING);
    CHECK_INTEQ(g.n, 0);

    /* the end inside a message */
    n = frame(s, 0, "abc");
    grpc_frame_reader_init(&r, 100, 0);
    g = (got_t){0};
    CHECK_INTEQ(grpc_frame_read(&r, s, n - 1, 1, on_msg, &g), GRPC_FRAME_TRUNCATED);
    CHECK_INTEQ(g.n, 0);
    CHECK(grpc_frame_at_boundary(&r)); /* what it held is dropped */

    /* the handler stops the reading */
    n = frame(s, 0, "a");
    n += frame(s + n, 0, "b");
    n += frame(s + n, 0, "c");
    grpc_frame_reader_init(&r, 100, 0);
    g = (got_t){.stop_at = 2};
    CHECK_INTEQ(grpc_frame_read(&r, s, n, 1, on_msg, &g), GRPC_FRAME_STOPPED);
    CHECK_INTEQ(g.n, 2);
    grpc_frame_reader_dispose(&r);
}

int main(void)
{
    test_follow();
    test_read();
    return test_summary();
}
