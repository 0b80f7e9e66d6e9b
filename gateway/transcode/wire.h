/*
 * wire: protobuf wire-format primitives, inline because they are the inner
 * loop of both transcoders. Writers append to a buf_t; readers never read
 * past `end` and return NULL on malformed input.
 */
#ifndef AG_WIRE_H
#define AG_WIRE_H

#include <stdint.h>
#include <string.h>
#include "core/buf.h"

static inline void wire_put_varint(buf_t *b, uint64_t v)
{
    if (buf_reserve(b, 10) != 0)
        return;
    uint8_t *p = (uint8_t *)b->data + b->len, *start = p;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len += (size_t)(p - start);
}

static inline unsigned wire_varint_size(uint64_t v)
{
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline void wire_put_fixed32(buf_t *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, le, 4);
}

static inline void wire_put_fixed64(buf_t *b, uint64_t v)
{
    wire_put_fixed32(b, (uint32_t)v);
    wire_put_fixed32(b, (uint32_t)(v >> 32));
}

static inline uint64_t wire_zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline uint32_t wire_zigzag32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }
static inline int64_t wire_unzigzag64(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }
static inline int32_t wire_unzigzag32(uint32_t v) { return (int32_t)(v >> 1) ^ -(int32_t)(v & 1); }

static inline const uint8_t *wire_get_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
        uint8_t byte = *p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (byte < 0x80) {
            *out = v;
            return p;
        }
    }
    return NULL;
}

#endif
