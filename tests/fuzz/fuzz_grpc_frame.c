/*
 * fuzz_grpc_frame: gRPC's framing (grpc/frame.h) as a client's DATA frames
 * bring it: any bytes, cut into pieces anywhere (the 5-byte prefix split
 * across pieces too), followed as the pass-through follows them and read
 * into whole messages as the local services get them.
 *
 * Input: byte 0 sets the limit (its low 4 bits: 2^n bytes, 15 = no limit)
 * and whether compression is allowed (bit 4); byte 1 seeds the cuts; the
 * rest is the stream. Never a crash or a leak, and the two readings agree:
 * when reading gives whole messages, following accepts the stream with the
 * same count, and the messages framed again are the stream byte for byte;
 * when following accepts it, reading does too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rebuilt {
    uint8_t *b;
    size_t len, cap;
    uint64_t n;
} rebuilt_t;

static int on_message(void *ctx, uint8_t flags, const uint8_t *m, size_t len)
{
    rebuilt_t *r = ctx;
    if (r->len + 5 + len > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + 5 + len)
            cap *= 2;
        r->b = realloc(r->b, cap);
        if (r->b == NULL)
            abort();
        r->cap = cap;
    }
    grpc_frame_prefix(r->b + r->len, flags, (uint32_t)len);
    if (len)
        memcpy(r->b + r->len + 5, m, len);
    r->len += 5 + len;
    r->n++;
    return 0;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_grpc_frame: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned shift = data[0] & 15;
    uint32_t max = shift == 15 ? UINT32_MAX : 1u << shift;
    int compressed = (data[0] >> 4) & 1;
    uint32_t seed = data[1] * 2654435761u + 1;
    const uint8_t *s = data + 2;
    size_t n = size - 2;

    grpc_frame_reader_t f = {0}, r = {0};
    grpc_frame_reader_init(&f, max, compressed);
    grpc_frame_reader_init(&r, max, compressed);
    rebuilt_t out = {0};
    grpc_frame_result_t fr = GRPC_FRAME_OK, rr = GRPC_FRAME_OK;
    size_t off = 0;
    while (off < n || off == 0) {
        seed = seed * 1103515245u + 12345u;
        size_t k = n - off;
        if (k > 1)
            k = 1 + (seed >> 16) % (k < 9 ? k : (seed & 1 ? 9 : k));
        int end = off + k == n;
        if (fr == GRPC_FRAME_OK)
            fr = grpc_frame_follow(&f, s + off, k, end);
        if (rr == GRPC_FRAME_OK)
            rr = grpc_frame_read(&r, s + off, k, end, on_message, &out);
        off += k;
        if (n == 0)
            break;
    }
    if (rr == GRPC_FRAME_OK) {
        if (fr != GRPC_FRAME_OK)
            fail("read accepted what follow refused");
        if (f.messages != out.n || r.messages != out.n)
            fail("message counts differ");
        if (out.len != n || (n && memcmp(out.b, s, n) != 0))
            fail("the messages framed again are not the stream");
        if (!grpc_frame_at_boundary(&f) || !grpc_frame_at_boundary(&r))
            fail("not at a boundary after the end");
    } else if (fr == GRPC_FRAME_OK) {
        fail("follow accepted what read refused");
    }
    if (rr == GRPC_FRAME_TOO_LARGE && r.refused_len <= max)
        fail("refused a length within the limit");
    free(out.b);
    grpc_frame_reader_dispose(&r);
    return 0;
}
