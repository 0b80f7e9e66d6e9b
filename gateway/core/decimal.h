/*
 * decimal: unsigned integers as decimal text, without printf. The hot paths
 * print integers on every request (JSON int64s, Content-Length, grpc-timeout,
 * access log fields); printf's format parsing was most of their cost.
 */
#ifndef AG_DECIMAL_H
#define AG_DECIMAL_H

#include <stdint.h>
#include <string.h>

/* The most a uint64 takes: 18446744073709551615 */
#define DECIMAL_U64_MAX_TEXT 20

/* "00" "01" ... "99" */
extern const char decimal_pairs[201];

/* Exactly four digits, leading zeros kept (v < 10000). */
static inline void decimal_put4(char *p, uint32_t v)
{
    uint32_t hi = v / 100, lo = v - hi * 100;
    memcpy(p, decimal_pairs + 2 * hi, 2);
    memcpy(p + 2, decimal_pairs + 2 * lo, 2);
}

/* Writes v's digits ending just before `end`; returns where they start.
 * Big values split into independent 4-digit chunks first: fewer dependent
 * divisions than a pair-at-a-time loop (the int32-array hot path). */
static inline char *decimal_u32_backwards(char *end, uint32_t v)
{
    char *p = end;
    if (v >= 100000000) {
        uint32_t top = v / 100000000, rest = v - top * 100000000;
        uint32_t a = rest / 10000;
        decimal_put4(p - 4, rest - a * 10000);
        decimal_put4(p - 8, a);
        p -= 8;
        v = top; /* 1..42 */
    } else if (v >= 10000) {
        uint32_t a = v / 10000;
        decimal_put4(p - 4, v - a * 10000);
        p -= 4;
        v = a;
    }
    if (v >= 100) {
        uint32_t hi = v / 100;
        p -= 2;
        memcpy(p, decimal_pairs + 2 * (v - hi * 100), 2);
        v = hi;
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, decimal_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

/* The same for 64 bits: the 32-bit divisions take over as soon as they can. */
static inline char *decimal_u64_backwards(char *end, uint64_t v)
{
    char *p = end;
    while (v > UINT32_MAX) {
        uint32_t r = (uint32_t)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, decimal_pairs + 2 * r, 2);
    }
    return decimal_u32_backwards(p, (uint32_t)v);
}

/* Decimal digits of v: log2 from the leading-zero count, times
 * log10(2) ~ 1233/4096, corrected by one comparison. */
static inline unsigned decimal_u32_width(uint32_t v)
{
    static const uint32_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
    v |= 1; /* 0 has one digit, like 1 */
    unsigned t = ((32u - (unsigned)__builtin_clz(v)) * 1233u) >> 12;
    return t + 1 - (v < pow10[t]);
}

/* Writes v's digits at o (DECIMAL_U64_MAX_TEXT bytes of room); returns the end. */
static inline char *decimal_write_u64(char *o, uint64_t v)
{
    if (v <= UINT32_MAX) {
        o += decimal_u32_width((uint32_t)v);
        decimal_u32_backwards(o, (uint32_t)v);
        return o;
    }
    char tmp[DECIMAL_U64_MAX_TEXT];
    char *p = decimal_u64_backwards(tmp + sizeof(tmp), v);
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(o, p, n);
    return o + n;
}

#endif
