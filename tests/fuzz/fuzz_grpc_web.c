/*
 * fuzz_grpc_web: what a gRPC-Web client controls in a request, through
 * http/grpc_web_frame: the base64 of a -text body, the gRPC framing of
 * the bytes it decodes to, and the content-type.
 *
 * Input: byte 0 seeds where the text is cut into pieces; the rest is the
 * body. It must decode (or be refused) the same in pieces as whole, never
 * write past grpc_web_frame_decoded_max, and what it decodes to must scan
 * as frames that add up exactly, and encode and decode back to itself in
 * any pieces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/grpc_web_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next_cut(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    (void)grpc_web_frame_content_type(text, len);

    size_t max = grpc_web_frame_decoded_max(len);
    uint8_t *whole = malloc(max + 1), *pieces = malloc(max + 1);
    grpc_web_frame_decoder_t d;
    grpc_web_frame_decoder_init(&d);
    long n = grpc_web_frame_decode(&d, text, len, whole);
    int complete = n >= 0 && grpc_web_frame_decode_complete(&d);
    if (n > (long)max)
        abort();

    grpc_web_frame_decoder_t d2;
    grpc_web_frame_decoder_init(&d2);
    size_t at = 0, got = 0;
    long bad = 0;
    while (at < len && bad == 0) {
        size_t k = 1 + next_cut(&seed) % 9;
        if (k > len - at)
            k = len - at;
        long m = grpc_web_frame_decode(&d2, text + at, k, pieces + got);
        if (m < 0)
            bad = -1;
        else if ((size_t)m > grpc_web_frame_decoded_max(k))
            abort();
        else
            got += (size_t)m;
        at += k;
    }
    if ((n < 0) != (bad < 0))
        abort(); /* refused one way and not the other */
    if (n >= 0) {
        if ((size_t)n != got || memcmp(whole, pieces, got) != 0 || complete != grpc_web_frame_decode_complete(&d2))
            abort();
    }

    if (complete) {
        grpc_web_frame_scan_t s;
        grpc_web_frame_scan_result_t r = grpc_web_frame_scan(whole, (size_t)n, UINT32_MAX, &s);
        if (r == GRPC_WEB_FRAME_SCAN_OK && s.compressed > s.messages)
            abort();
        if (r == GRPC_WEB_FRAME_SCAN_OK) {
            /* the frames cover the bytes exactly: every length prefix adds up */
            size_t off = 0, count = 0;
            while (off + 5 <= (size_t)n) {
                uint32_t l = (uint32_t)whole[off + 1] << 24 | (uint32_t)whole[off + 2] << 16 |
                             (uint32_t)whole[off + 3] << 8 | whole[off + 4];
                off += 5 + (size_t)l;
                count++;
            }
            if (off != (size_t)n || count != s.messages)
                abort();
        }
        /* and back: encoded in pieces, decoded whole, it is itself */
        char *enc = malloc(grpc_web_frame_encoded_len((size_t)n) + GRPC_WEB_FRAME_ENCODE_END_MAX);
        grpc_web_frame_encoder_t e;
        grpc_web_frame_encoder_init(&e);
        char *p = enc;
        for (size_t i = 0; i < (size_t)n;) {
            size_t k = 1 + next_cut(&seed) % 5;
            if (k > (size_t)n - i)
                k = (size_t)n - i;
            p = grpc_web_frame_encode(&e, whole + i, k, p);
            i += k;
        }
        p = grpc_web_frame_encode_end(&e, p);
        if ((size_t)(p - enc) != grpc_web_frame_encoded_len((size_t)n))
            abort();
        grpc_web_frame_decoder_t d3;
        grpc_web_frame_decoder_init(&d3);
        long back = grpc_web_frame_decode(&d3, enc, (size_t)(p - enc), pieces);
        if (back != n || !grpc_web_frame_decode_complete(&d3) || memcmp(pieces, whole, (size_t)n) != 0)
            abort();
        free(enc);
    }
    /* the raw bytes as a binary body */
    grpc_web_frame_scan_t raw;
    (void)grpc_web_frame_scan((const uint8_t *)text, len, 1u << 20, &raw);
    free(whole);
    free(pieces);
    return 0;
}
