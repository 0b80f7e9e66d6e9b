/*
 * frame.c: gRPC's length-prefixed messages, followed or cut out of a byte
 * stream (frame.h).
 */
#include "grpc/frame.h"

#include <stdlib.h>
#include <string.h>

void grpc_frame_reader_init(grpc_frame_reader_t *r, uint32_t max, int allow_compressed)
{
    uint8_t *buf = r->buf;
    size_t cap = r->bufcap;
    *r = (grpc_frame_reader_t){.max = max, .allow_compressed = (uint8_t)(allow_compressed != 0)};
    /* a reused reader keeps its buffer */
    r->buf = buf;
    r->bufcap = cap;
}

void grpc_frame_reader_dispose(grpc_frame_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
    r->buflen = r->bufcap = 0;
}

static grpc_frame_result_t check_flags(const grpc_frame_reader_t *r, uint8_t b)
{
    if (b == 0)
        return GRPC_FRAME_OK;
    if (b == GRPC_FRAME_COMPRESSED)
        return r->allow_compressed ? GRPC_FRAME_OK : GRPC_FRAME_COMPRESSED_NO_ENCODING;
    return GRPC_FRAME_BAD_FLAGS;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

grpc_frame_result_t grpc_frame_follow(grpc_frame_reader_t *r, const uint8_t *p, size_t n, int end)
{
    uint8_t hlen = r->hlen, flags = r->flags, inm = r->in_message;
    uint32_t len = r->len, left = r->left;
    uint64_t msgs = r->messages;
    grpc_frame_result_t rc;
    size_t i = 0;
    while (i < n) {
        if (inm) {
            size_t k = n - i < left ? n - i : left;
            left -= (uint32_t)k;
            i += k;
            inm = left != 0;
            continue;
        }
        if (hlen == 0 && n - i >= GRPC_FRAME_PREFIX) {
            /* a whole prefix in this piece: the common case */
            if ((rc = check_flags(r, p[i])) != GRPC_FRAME_OK)
                return rc;
            flags = p[i];
            len = be32(p + i + 1);
            if (len > r->max) {
                r->refused_len = len;
                return GRPC_FRAME_TOO_LARGE;
            }
            i += GRPC_FRAME_PREFIX;
            msgs++;
            left = len;
            inm = len != 0;
            continue;
        }
        uint8_t b = p[i++];
        if (hlen == 0) {
            if ((rc = check_flags(r, b)) != GRPC_FRAME_OK)
                return rc;
            flags = b;
            len = 0;
            hlen = 1;
            continue;
        }
        len = len << 8 | b;
        if (++hlen == GRPC_FRAME_PREFIX) {
            if (len > r->max) {
                r->refused_len = len;
                return GRPC_FRAME_TOO_LARGE;
            }
            hlen = 0;
            msgs++;
            left = len;
            inm = len != 0;
        }
    }
    if (end && (hlen != 0 || inm))
        return GRPC_FRAME_TRUNCATED;
    r->hlen = hlen;
    r->flags = flags;
    r->in_message = inm;
    r->len = len;
    r->left = left;
    r->messages = msgs;
    return GRPC_FRAME_OK;
}

static int keep(grpc_frame_reader_t *r, const uint8_t *p, size_t n)
{
    if (r->buflen + n > r->bufcap) {
        size_t cap = r->bufcap ? r->bufcap : 256;
        while (cap < r->buflen + n)
            cap *= 2;
        uint8_t *b = realloc(r->buf, cap);
        if (b == NULL)
            return -1;
        r->buf = b;
        r->bufcap = cap;
    }
    memcpy(r->buf + r->buflen, p, n);
    r->buflen += n;
    return 0;
}

/* The prefix at q is complete: checks it; its length in *len. */
static grpc_frame_result_t check_prefix(grpc_frame_reader_t *r, const uint8_t *q, uint32_t *len)
{
    grpc_frame_result_t rc = check_flags(r, q[0]);
    if (rc != GRPC_FRAME_OK)
        return rc;
    *len = be32(q + 1);
    if (*len > r->max) {
        r->refused_len = *len;
        return GRPC_FRAME_TOO_LARGE;
    }
    r->messages++;
    return GRPC_FRAME_OK;
}

grpc_frame_result_t grpc_frame_read(grpc_frame_reader_t *r, const uint8_t *p, size_t n, int end,
                                    grpc_frame_message_cb on_message, void *ctx)
{
    grpc_frame_result_t rc = GRPC_FRAME_OK;
    size_t i = 0;
    uint32_t len;
    while (i < n) {
        if (r->buflen == 0 && n - i >= GRPC_FRAME_PREFIX) {
            /* the common case: whole messages in place, no copy */
            if ((rc = check_prefix(r, p + i, &len)) != GRPC_FRAME_OK)
                goto out;
            if (n - i - GRPC_FRAME_PREFIX >= len) {
                if (on_message(ctx, p[i], p + i + GRPC_FRAME_PREFIX, len) != 0) {
                    rc = GRPC_FRAME_STOPPED;
                    goto out;
                }
                i += GRPC_FRAME_PREFIX + (size_t)len;
                continue;
            }
            r->messages--; /* counted again when the buffered prefix completes */
        }
        /* a message split across pieces: keep its bytes until it is whole */
        size_t need;
        if (r->buflen < GRPC_FRAME_PREFIX) {
            need = GRPC_FRAME_PREFIX - r->buflen;
        } else {
            need = GRPC_FRAME_PREFIX + (size_t)be32(r->buf + 1) - r->buflen;
        }
        size_t k = n - i < need ? n - i : need;
        int had_prefix = r->buflen >= GRPC_FRAME_PREFIX;
        if (keep(r, p + i, k) != 0) {
            rc = GRPC_FRAME_NOMEM;
            goto out;
        }
        i += k;
        if (!had_prefix && r->buflen == GRPC_FRAME_PREFIX) {
            if ((rc = check_prefix(r, r->buf, &len)) != GRPC_FRAME_OK)
                goto out;
        }
        if (r->buflen >= GRPC_FRAME_PREFIX && r->buflen == GRPC_FRAME_PREFIX + (size_t)be32(r->buf + 1)) {
            r->buflen = 0;
            if (on_message(ctx, r->buf[0], r->buf + GRPC_FRAME_PREFIX, be32(r->buf + 1)) != 0) {
                rc = GRPC_FRAME_STOPPED;
                goto out;
            }
        }
    }
    if (end && r->buflen != 0)
        rc = GRPC_FRAME_TRUNCATED;
out:
    if (rc != GRPC_FRAME_OK)
        r->buflen = 0;
    r->hlen = r->buflen < GRPC_FRAME_PREFIX ? (uint8_t)r->buflen : 0;
    r->in_message = r->buflen >= GRPC_FRAME_PREFIX;
    return rc;
}

const char *grpc_frame_strerror(grpc_frame_result_t r)
{
    switch (r) {
    case GRPC_FRAME_OK:
        return "ok";
    case GRPC_FRAME_TOO_LARGE:
        return "message larger than the limit";
    case GRPC_FRAME_COMPRESSED_NO_ENCODING:
        return "compressed message without grpc-encoding";
    case GRPC_FRAME_BAD_FLAGS:
        return "invalid gRPC message flags";
    case GRPC_FRAME_TRUNCATED:
        return "stream ended inside a message";
    case GRPC_FRAME_NOMEM:
        return "out of memory keeping a message";
    case GRPC_FRAME_STOPPED:
        return "stopped";
    }
    return "?";
}
