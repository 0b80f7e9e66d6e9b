/*
 * grpc_web_frame: the bytes gRPC-Web has and gRPC over HTTP/2 has not
 * (grpc/grpc doc/PROTOCOL-WEB.md), with no socket, request or call:
 *
 *   - which gRPC-Web a content-type asks for (binary, or base64 "-text");
 *   - the 5-byte frame prefix, and the trailer frame (flag 0x80) whose
 *     payload is HTTP/1 header lines ("grpc-status: 0\r\n...");
 *   - grpc-message's percent-encoding (gRPC's: bytes outside 0x20..0x7e
 *     and '%' itself);
 *   - a scan of a request body's gRPC framing (whole messages, their flags);
 *   - base64 both ways, streaming: the decoder takes its input in pieces
 *     split anywhere (inside a quad too) and accepts padding inside the
 *     stream, since a -text body may be each message encoded on its own;
 *     it is strict otherwise (the standard alphabet only, no whitespace,
 *     '=' only where padding goes, zero pad bits, whole quads at the end).
 *     The encoder carries the 0..2 bytes a piece leaves over to the next,
 *     so a frame's prefix and message encode as one unit without a copy.
 *
 * Writers take memory the caller has sized with the matching _len/_max
 * function and return the end of what they wrote.
 */
#ifndef AG_GRPC_WEB_FRAME_H
#define AG_GRPC_WEB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define GRPC_WEB_FRAME_COMPRESSED 0x01u /* the message is compressed (grpc-encoding) */
#define GRPC_WEB_FRAME_TRAILERS 0x80u   /* the trailer frame */

/* What a request's content-type asks for. */
typedef enum grpc_web_frame_mode {
    GRPC_WEB_FRAME_NOT_WEB = 0,    /* not gRPC-Web at all */
    GRPC_WEB_FRAME_BINARY,         /* application/grpc-web, application/grpc-web+proto */
    GRPC_WEB_FRAME_TEXT,           /* application/grpc-web-text, application/grpc-web-text+proto */
    GRPC_WEB_FRAME_UNSUPPORTED,    /* gRPC-Web with another message format (+json, ...) */
} grpc_web_frame_mode_t;

/* The mode of a content-type value; parameters after ';' are ignored and
 * the media type is matched without regard to case. */
grpc_web_frame_mode_t grpc_web_frame_content_type(const char *value, size_t len);

/* The 5-byte prefix of a frame: flags, then the length big-endian. */
static inline uint8_t *grpc_web_frame_prefix(uint8_t *out, uint8_t flags, uint32_t len)
{
    out[0] = flags;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    return out + 5;
}

/* A trailer frame's payload: one "name: value\r\n" per trailer. */
static inline size_t grpc_web_frame_header_line_len(size_t name_len, size_t value_len)
{
    return name_len + value_len + 4;
}
char *grpc_web_frame_header_line(char *out, const char *name, size_t name_len, const char *value, size_t value_len);

/* grpc-message as it goes on the wire. */
size_t grpc_web_frame_percent_len(const char *s, size_t len);
char *grpc_web_frame_percent_encode(char *out, const char *s, size_t len);

/* A request body's framing, all of it at once (h2o hands over whole bodies). */
typedef enum grpc_web_frame_scan_result {
    GRPC_WEB_FRAME_SCAN_OK = 0,
    GRPC_WEB_FRAME_SCAN_TRUNCATED,    /* ends inside a prefix or a message */
    GRPC_WEB_FRAME_SCAN_BAD_FLAGS,    /* flags other than 0 and COMPRESSED (a trailer frame included) */
    GRPC_WEB_FRAME_SCAN_TOO_LARGE,    /* a message over max_message */
} grpc_web_frame_scan_result_t;

typedef struct grpc_web_frame_scan {
    size_t messages;    /* whole messages seen */
    size_t compressed;  /* of which flagged COMPRESSED */
    uint32_t bad_len;   /* TOO_LARGE: the length the prefix claimed */
} grpc_web_frame_scan_t;

grpc_web_frame_scan_result_t grpc_web_frame_scan(const uint8_t *p, size_t n, uint32_t max_message,
                                                 grpc_web_frame_scan_t *out);

/* ---- base64 ---------------------------------------------------------------- */

typedef struct grpc_web_frame_decoder {
    uint32_t acc;   /* the sextets of the quad in progress */
    uint8_t chars;  /* characters of it seen, 0..3 */
    uint8_t pads;   /* of which '=' */
} grpc_web_frame_decoder_t;

static inline void grpc_web_frame_decoder_init(grpc_web_frame_decoder_t *d)
{
    *d = (grpc_web_frame_decoder_t){0};
}
/* Most bytes one decode of len characters writes (a quad left over from
 * the piece before included). */
static inline size_t grpc_web_frame_decoded_max(size_t len)
{
    return (len + 3) / 4 * 3;
}
/* Decodes the next len characters into out; the bytes written, or -1 at
 * the first character that breaks the rules (the decoder is then spent). */
long grpc_web_frame_decode(grpc_web_frame_decoder_t *d, const char *in, size_t len, uint8_t *out);
/* 1 when the input so far ends on a whole quad (nothing is left over). */
static inline int grpc_web_frame_decode_complete(const grpc_web_frame_decoder_t *d)
{
    return d->chars == 0;
}

typedef struct grpc_web_frame_encoder {
    uint8_t carry[2]; /* bytes that did not make a group of three */
    uint8_t ncarry;
} grpc_web_frame_encoder_t;

static inline void grpc_web_frame_encoder_init(grpc_web_frame_encoder_t *e)
{
    *e = (grpc_web_frame_encoder_t){{0, 0}, 0};
}
/* Room one encode of len bytes may need, and the end's (padding) at most. */
static inline size_t grpc_web_frame_encoded_max(size_t len)
{
    return (len + 2) / 3 * 4;
}
#define GRPC_WEB_FRAME_ENCODE_END_MAX 4
/* Encodes len bytes; what does not make three is carried to the next call. */
char *grpc_web_frame_encode(grpc_web_frame_encoder_t *e, const uint8_t *in, size_t len, char *out);
/* The carried bytes with their padding; the encoder starts afresh after. */
char *grpc_web_frame_encode_end(grpc_web_frame_encoder_t *e, char *out);
/* The exact length of one whole unit of len bytes, padding included. */
static inline size_t grpc_web_frame_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

#endif
