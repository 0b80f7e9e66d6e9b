/*
 * frame: gRPC's message framing (a flags byte, a 4-byte big-endian length,
 * then the message) read from a byte stream that arrives in pieces split
 * anywhere, the 5-byte prefix included, as HTTP/2 DATA frames deliver it.
 *
 * Two ways to read, one state:
 *   grpc_frame_follow   checks the framing of bytes that are passed on as
 *                       they are (a pass-through): nothing is buffered, only
 *                       the position in the current message is kept.
 *   grpc_frame_read     cuts the stream into whole messages and hands each
 *                       one over; the bytes of a message still incomplete
 *                       are kept (at most the limit plus the prefix).
 *
 * Limits: a message longer than `max` is refused as soon as its prefix is
 * complete, before any of it is buffered. The flags byte must be 0, or 1
 * (compressed) when the stream's grpc-encoding allows it.
 */
#ifndef AG_GRPC_FRAME_H
#define AG_GRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define GRPC_FRAME_PREFIX 5
#define GRPC_FRAME_COMPRESSED 1u

typedef enum grpc_frame_result {
    GRPC_FRAME_OK = 0,
    GRPC_FRAME_TOO_LARGE,     /* a length over the limit: RESOURCE_EXHAUSTED */
    GRPC_FRAME_COMPRESSED_NO_ENCODING, /* flag 1 without grpc-encoding: INTERNAL, says gRPC */
    GRPC_FRAME_BAD_FLAGS,     /* a flags byte other than 0 and 1: INTERNAL */
    GRPC_FRAME_TRUNCATED,     /* the stream ended inside a message: INTERNAL */
    GRPC_FRAME_NOMEM,         /* grpc_frame_read could not keep a message: RESOURCE_EXHAUSTED */
    GRPC_FRAME_STOPPED,       /* grpc_frame_read: the message handler asked to stop */
} grpc_frame_result_t;

typedef struct grpc_frame_reader {
    uint32_t max;          /* longest message accepted */
    uint8_t allow_compressed; /* the stream's grpc-encoding names a compression */
    /* position, between calls */
    uint8_t hlen;          /* prefix bytes read so far (0: at a message boundary unless left) */
    uint8_t flags;         /* the current message's flags */
    uint8_t in_message;    /* the prefix is complete, payload bytes are due */
    uint32_t len;          /* the current message's length (being read while hlen < 5) */
    uint32_t left;         /* payload bytes of the current message still to come */
    uint64_t messages;     /* prefixes completed so far */
    uint32_t refused_len;  /* the length GRPC_FRAME_TOO_LARGE refused */
    /* grpc_frame_read only: the incomplete message */
    uint8_t *buf;
    size_t buflen, bufcap;
} grpc_frame_reader_t;

void grpc_frame_reader_init(grpc_frame_reader_t *r, uint32_t max, int allow_compressed);
/* Frees what grpc_frame_read kept. */
void grpc_frame_reader_dispose(grpc_frame_reader_t *r);

/* Follows n bytes at p; end: the stream ends after them. On an error the
 * reader is left where it was, so the bytes can be refused whole. */
grpc_frame_result_t grpc_frame_follow(grpc_frame_reader_t *r, const uint8_t *p, size_t n, int end);

/* Each whole message in order: on_message(ctx, flags, message, len), the
 * message valid during the call; a non-zero return stops the reading
 * (GRPC_FRAME_STOPPED; what followed is dropped). end as above. */
typedef int (*grpc_frame_message_cb)(void *ctx, uint8_t flags, const uint8_t *msg, size_t len);
grpc_frame_result_t grpc_frame_read(grpc_frame_reader_t *r, const uint8_t *p, size_t n, int end,
                                    grpc_frame_message_cb on_message, void *ctx);

/* Whether the reader is between messages (no prefix or payload pending). */
static inline int grpc_frame_at_boundary(const grpc_frame_reader_t *r)
{
    return r->hlen == 0 && !r->in_message;
}

/* The 5-byte prefix of a message of len bytes. */
static inline void grpc_frame_prefix(uint8_t out[GRPC_FRAME_PREFIX], uint8_t flags, uint32_t len)
{
    out[0] = flags;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

/* What a result means, for a grpc-message. */
const char *grpc_frame_strerror(grpc_frame_result_t r);

#endif
