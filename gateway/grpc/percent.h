/*
 * percent: grpc-message's percent-encoding (gRPC's PROTOCOL-HTTP2: every
 * byte outside 0x20..0x7E, and '%' itself, as %XX), both ways. The
 * upstream client decodes the status message it receives; the gRPC
 * listener encodes the one it sends.
 */
#ifndef AG_GRPC_PERCENT_H
#define AG_GRPC_PERCENT_H

#include <stddef.h>
#include <stdint.h>

/* Decodes n bytes at in into out (room for n); the decoded length. A '%'
 * not followed by two hex digits stays as it is, as gRPC asks. */
size_t grpc_percent_decode(char *out, const uint8_t *in, size_t n);
/* The length of in once encoded. */
size_t grpc_percent_encoded_len(const char *in, size_t n);
/* Encodes into out (room for grpc_percent_encoded_len); the length. */
size_t grpc_percent_encode(char *out, const char *in, size_t n);

#endif
