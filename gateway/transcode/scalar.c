/*
 * scalar.c: the proto3 JSON spellings of single values, as Google's protobuf
 * (C++ json/internal parser.cc, unparser.cc, io/strtod.cc) writes and reads
 * them, with the JSON number grammar enforced strictly on input.
 *
 * Integers never go through double: the number's digits and exponent are
 * reduced exactly, so "9223372036854775807" and "1.8446744073709551615e19"
 * are both exact, and an exponent of any size costs O(1) (it saturates).
 * Doubles print the way protobuf's SimpleDtoa does (%.15g, else %.17g) so
 * that our output is byte-identical to protobuf's, not merely equivalent.
 */
#include "transcode/scalar.h"
#include "core/decimal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64 ------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Both alphabets ('+' and '-' are 62, '/' and '_' are 63); -1 elsewhere,
 * so OR-ing four lookups leaves the sign bit set when any one was junk. */
static const int8_t b64_value[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, 62, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Sign-extended to 32 bits: any junk character sets the top bit. */
static inline uint32_t b64_lookup(char c)
{
    return (uint32_t)(int32_t)b64_value[(uint8_t)c];
}

void scalar_base64_encode(buf_t *out, const uint8_t *src, size_t len)
{
    size_t groups = len / 3 + (len % 3 != 0);
    if (groups > (SIZE_MAX >> 2) || buf_reserve(out, groups * 4) != 0) {
        out->oom = 1;
        return;
    }
    char *p = out->data + out->len;
    const uint8_t *end3 = src + (len - len % 3);
    for (; src < end3; src += 3, p += 4) {
        uint32_t v = (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8 | src[2];
        p[0] = b64_alphabet[v >> 18];
        p[1] = b64_alphabet[(v >> 12) & 63];
        p[2] = b64_alphabet[(v >> 6) & 63];
        p[3] = b64_alphabet[v & 63];
    }
    switch (len % 3) {
    case 1:
        p[0] = b64_alphabet[src[0] >> 2];
        p[1] = b64_alphabet[(src[0] & 3) << 4];
        p[2] = '=';
        p[3] = '=';
        p += 4;
        break;
    case 2:
        p[0] = b64_alphabet[src[0] >> 2];
        p[1] = b64_alphabet[((src[0] & 3) << 4) | (src[1] >> 4)];
        p[2] = b64_alphabet[(src[1] & 15) << 2];
        p[3] = '=';
        p += 4;
        break;
    }
    out->len = (size_t)(p - out->data);
}

/*
 * Same acceptance as protobuf's DecodeBase64InPlace: whole quads, where only
 * the last may end in "=" or "=="; an unpadded tail of 2 or 3 characters;
 * either alphabet (even mixed); leftover low bits are ignored.
 */
long scalar_base64_decode(uint8_t *dst, const char *src, size_t len)
{
    uint8_t *out = dst;
    const char *p = src, *end = src + len, *end4 = src + (len & ~(size_t)3);

    for (; p < end4; p += 4, out += 3) {
        uint32_t v = b64_lookup(p[0]) << 18 | b64_lookup(p[1]) << 12 |
                     b64_lookup(p[2]) << 6 | b64_lookup(p[3]);
        if (v & 0x80000000u) {
            /* junk, or the padding of the final quad */
            if (end - p == 4 && p[3] == '=')
                end -= (p[2] == '=') ? 2 : 1;
            break;
        }
        out[0] = (uint8_t)(v >> 16);
        out[1] = (uint8_t)(v >> 8);
        out[2] = (uint8_t)v;
    }

    if (p < end) {
        uint32_t v;
        switch (end - p) {
        case 2:
            v = b64_lookup(p[0]) << 18 | b64_lookup(p[1]) << 12;
            out[0] = (uint8_t)(v >> 16);
            out += 1;
            break;
        case 3:
            v = b64_lookup(p[0]) << 18 | b64_lookup(p[1]) << 12 | b64_lookup(p[2]) << 6;
            out[0] = (uint8_t)(v >> 16);
            out[1] = (uint8_t)(v >> 8);
            out += 2;
            break;
        default: /* one character left, or junk in a middle quad */
            return -1;
        }
        if (v & 0x80000000u)
            return -1;
    }
    return (long)(out - dst);
}

/* ---- JSON number grammar ------------------------------------------------ */

/* The pieces of  -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  */
typedef struct {
    bool neg;
    const char *ip; /* integer digits */
    size_t ilen;
    const char *fp; /* fraction digits */
    size_t flen;
    int64_t exp; /* saturated at +-EXP_CAP */
} jnum_t;

#define EXP_CAP ((int64_t)1 << 60)

static inline bool is_digit(char c) { return (unsigned)(c - '0') < 10; }

static int jnum_scan(const char *s, size_t len, jnum_t *n)
{
    size_t i = 0;
    n->neg = false;
    if (i < len && s[i] == '-') {
        n->neg = true;
        i++;
    }
    n->ip = s + i;
    if (i >= len || !is_digit(s[i]))
        return -1;
    if (s[i] == '0') {
        i++;
        if (i < len && is_digit(s[i])) /* leading zero */
            return -1;
    } else {
        while (i < len && is_digit(s[i]))
            i++;
    }
    n->ilen = (size_t)(s + i - n->ip);

    n->fp = s + i;
    n->flen = 0;
    if (i < len && s[i] == '.') {
        i++;
        n->fp = s + i;
        while (i < len && is_digit(s[i]))
            i++;
        n->flen = (size_t)(s + i - n->fp);
        if (n->flen == 0)
            return -1;
    }

    n->exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || !is_digit(s[i]))
            return -1;
        int64_t e = 0;
        for (; i < len && is_digit(s[i]); i++) {
            if (e < EXP_CAP / 10)
                e = e * 10 + (s[i] - '0');
            else
                e = EXP_CAP;
        }
        if (e > EXP_CAP)
            e = EXP_CAP;
        n->exp = eneg ? -e : e;
    }
    return i == len ? 0 : -1;
}

/* Digit k of the integer digits followed by the fraction digits. */
static inline int jnum_digit(const jnum_t *n, size_t k)
{
    return (k < n->ilen ? n->ip[k] : n->fp[k - n->ilen]) - '0';
}

enum { INT_OK, INT_SYNTAX, INT_FRACTION, INT_OVERFLOW };

/* The magnitude of an integral JSON number, exactly, without doubles. */
static int jnum_integral(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    /* fast path: the usual "-?[1-9][0-9]{0,17}" or "0", which cannot
     * overflow; anything else takes the general scanner below */
    size_t i = len && s[0] == '-';
    if (len - i >= 1 && len - i <= 18 && (s[i] != '0' || len - i == 1)) {
        uint64_t v = 0;
        size_t k = i;
        for (; k < len; k++) {
            unsigned d = (unsigned)(unsigned char)s[k] - '0';
            if (d > 9)
                break;
            v = v * 10 + d;
        }
        if (k == len) {
            *neg = i == 1;
            *mag = v;
            return INT_OK;
        }
    }

    jnum_t n;
    if (jnum_scan(s, len, &n) != 0)
        return INT_SYNTAX;
    *neg = n.neg;
    *mag = 0;

    size_t nd = n.ilen + n.flen, first = 0, last = nd;
    while (first < nd && jnum_digit(&n, first) == 0)
        first++;
    if (first == nd)
        return INT_OK; /* zero, whatever the exponent */
    while (jnum_digit(&n, last - 1) == 0)
        last--;
    last--; /* index of the last non-zero digit */

    /* Digit k (integer digits, then fraction digits) stands for
     * 10^(ilen - 1 - k + exp). Lengths are far below 2^60 and the exponent
     * saturates there, so this arithmetic cannot overflow. */
    int64_t top = (int64_t)n.ilen - 1 - (int64_t)first + n.exp;
    int64_t low = (int64_t)n.ilen - 1 - (int64_t)last + n.exp;
    if (low < 0)
        return INT_FRACTION;
    if (top >= 20) /* 10^20 > UINT64_MAX */
        return INT_OVERFLOW;

    uint64_t v = 0;
    for (size_t k = first; k <= last; k++) {
        unsigned d = (unsigned)jnum_digit(&n, k);
        if (v > (UINT64_MAX - d) / 10)
            return INT_OVERFLOW;
        v = v * 10 + d;
    }
    for (int64_t z = 0; z < low; z++) {
        if (v > UINT64_MAX / 10)
            return INT_OVERFLOW;
        v *= 10;
    }
    *mag = v;
    return INT_OK;
}

static const char *int_range_why(int64_t min, int64_t max)
{
    if (min == INT32_MIN && max == INT32_MAX)
        return "out of range for int32";
    if (min == INT64_MIN && max == INT64_MAX)
        return "out of range for int64";
    if (min == 0 && max == UINT32_MAX)
        return "out of range for uint32";
    return "value out of range";
}

static const char *uint_range_why(uint64_t max)
{
    if (max == UINT32_MAX)
        return "out of range for uint32";
    if (max == UINT64_MAX)
        return "out of range for uint64";
    if (max == INT32_MAX)
        return "out of range for int32";
    if (max == INT64_MAX)
        return "out of range for int64";
    return "value out of range";
}

static const char *int_syntax_why(int rc)
{
    return rc == INT_FRACTION ? "not an integer" : "invalid number";
}

int scalar_parse_int64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out,
                       const char **why)
{
    bool neg;
    uint64_t mag;
    int rc = jnum_integral(s, len, &neg, &mag);
    if (rc == INT_SYNTAX || rc == INT_FRACTION) {
        *why = int_syntax_why(rc);
        return -1;
    }
    int64_t v;
    if (rc == INT_OVERFLOW)
        goto range;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            goto range;
        /* -(mag - 1) - 1 never overflows, INT64_MIN included */
        v = mag ? -(int64_t)(mag - 1) - 1 : 0;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            goto range;
        v = (int64_t)mag;
    }
    if (v < min || v > max)
        goto range;
    *out = v;
    return 0;
range:
    *why = int_range_why(min, max);
    return -1;
}

int scalar_parse_uint64(const char *s, size_t len, uint64_t max, uint64_t *out, const char **why)
{
    bool neg;
    uint64_t mag;
    int rc = jnum_integral(s, len, &neg, &mag);
    if (rc == INT_SYNTAX || rc == INT_FRACTION) {
        *why = int_syntax_why(rc);
        return -1;
    }
    if (rc == INT_OVERFLOW || (neg && mag != 0) || mag > max) {
        *why = uint_range_why(max);
        return -1;
    }
    *out = mag;
    return 0;
}

/* ---- doubles ------------------------------------------------------------ */

/* Beyond this many significant digits only "is anything non-zero left"
 * matters for correct rounding: a double's halfway points need at most 767
 * significant digits, so 780 digits plus a sticky '1' round the same. */
#define DBL_KEEP_DIGITS 780
#define SHORT_NUMBER 128

/* Writes the number as NUL-terminated text strtod rounds identically. */
static void jnum_canonical(const jnum_t *n, char *dst)
{
    char *p = dst;
    if (n->neg)
        *p++ = '-';
    size_t nd = n->ilen + n->flen, first = 0;
    while (first < nd && jnum_digit(n, first) == 0)
        first++;
    if (first == nd) {
        *p++ = '0';
        *p = '\0';
        return;
    }
    /* value = 0.d[first] d[first+1] ... x 10^(ilen - first + exp) */
    *p++ = '0';
    *p++ = '.';
    size_t k = first, kept = 0;
    for (; k < nd && kept < DBL_KEEP_DIGITS; k++, kept++)
        *p++ = (char)('0' + jnum_digit(n, k));
    for (; k < nd; k++) {
        if (jnum_digit(n, k) != 0) {
            *p++ = '1';
            break;
        }
    }
    int64_t e = (int64_t)n->ilen - (int64_t)first + n->exp;
    if (e > 100000)
        e = 100000; /* far past overflow either way */
    if (e < -100000)
        e = -100000; /* far past underflow either way */
    snprintf(p, 16, "e%ld", (long)e);
}

int scalar_parse_double(const char *s, size_t len, int is_float, double *out, const char **why)
{
    double v;
    if (len == 3 && memcmp(s, "NaN", 3) == 0) {
        *out = NAN;
        return 0;
    }
    if (len == 8 && memcmp(s, "Infinity", 8) == 0) {
        *out = INFINITY;
        return 0;
    }
    if (len == 9 && memcmp(s, "-Infinity", 9) == 0) {
        *out = -INFINITY;
        return 0;
    }

    jnum_t n;
    if (jnum_scan(s, len, &n) != 0) {
        *why = "invalid number";
        return -1;
    }
    char text[DBL_KEEP_DIGITS + 32];
    if (len < SHORT_NUMBER) {
        memcpy(text, s, len);
        text[len] = '\0';
    } else {
        jnum_canonical(&n, text);
    }
    v = strtod(text, NULL);
    if (isinf(v)) {
        *why = is_float ? "out of range for float" : "out of range for double";
        return -1;
    }
    if (is_float) {
        /* In range when it rounds to a finite float: below FLT_MAX plus half
         * an ulp (at exactly half it rounds to even, which is infinity). */
        if (fabs(v) >= 0x1.ffffffp+127) {
            *why = "out of range for float";
            return -1;
        }
        if (v > FLT_MAX)
            v = FLT_MAX;
        else if (v < -FLT_MAX)
            v = -FLT_MAX;
    }
    *out = v;
    return 0;
}

/* ---- integer and float printing ----------------------------------------- */

size_t scalar_write_int(char *dst, int64_t v, int quoted)
{
    char *o = dst;
    if (quoted)
        *o++ = '"';
    if (v < 0)
        *o++ = '-';
    /* 0 - (uint64_t)v is the magnitude for every v, INT64_MIN included */
    o = decimal_write_u64(o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (quoted)
        *o++ = '"';
    return (size_t)(o - dst);
}

size_t scalar_write_uint(char *dst, uint64_t v, int quoted)
{
    char *o = dst;
    if (quoted)
        *o++ = '"';
    o = decimal_write_u64(o, v);
    if (quoted)
        *o++ = '"';
    return (size_t)(o - dst);
}

void scalar_format_uint64(buf_t *out, uint64_t v)
{
    if (buf_reserve(out, SCALAR_INT_MAX_TEXT) == 0)
        out->len += scalar_write_uint(out->data + out->len, v, 0);
}

void scalar_format_int64(buf_t *out, int64_t v)
{
    if (buf_reserve(out, SCALAR_INT_MAX_TEXT) == 0)
        out->len += scalar_write_int(out->data + out->len, v, 0);
}

static bool format_special(buf_t *out, double v)
{
    if (isnan(v))
        buf_puts_lit(out, "\"NaN\"");
    else if (v == INFINITY)
        buf_puts_lit(out, "\"Infinity\"");
    else if (v == -INFINITY)
        buf_puts_lit(out, "\"-Infinity\"");
    else
        return false;
    return true;
}

/* protobuf's SimpleDtoa: DBL_DIG digits when they round-trip, else 17. */
void scalar_format_double(buf_t *out, double v)
{
    if (format_special(out, v))
        return;
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.*g", DBL_DIG, v);
    if (strtod(tmp, NULL) != v)
        n = snprintf(tmp, sizeof(tmp), "%.*g", DBL_DIG + 2, v);
    if (n > 0)
        buf_append(out, tmp, (size_t)n);
}

/* The shortest decimal digits of v that read back as v, and its decimal
 * exponent (v = 0.d1d2d3... x 10^exp10 with d1 != 0): DBL_DIG digits
 * round-trip whenever a shorter form does, so trying 15, 16, 17 finds it. */
static size_t shortest_digits(double v, char digits[20], int *exp10)
{
    char tmp[40];
    for (int prec = DBL_DIG; prec <= DBL_DIG + 2; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v || prec == DBL_DIG + 2)
            break;
    }
    /* tmp is [-]d.ddddde[+-]xx */
    const char *p = tmp + (tmp[0] == '-');
    size_t n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *exp10 = atoi(p + 1) + 1;
    return n;
}

void scalar_format_java_double(buf_t *out, double v)
{
    if (format_special(out, v))
        return;
    char tmp[48], *o = tmp;
    if (signbit(v))
        *o++ = '-';
    double a = fabs(v);
    if (a == 0) {
        memcpy(o, "0.0", 3);
        buf_append(out, tmp, (size_t)(o - tmp) + 3);
        return;
    }
    char d[20];
    int e;
    size_t n = shortest_digits(a, d, &e);
    if (a >= 1e-3 && a < 1e7) {
        if (e <= 0) { /* 0.00ddd */
            *o++ = '0';
            *o++ = '.';
            for (int k = 0; k < -e; k++)
                *o++ = '0';
            memcpy(o, d, n);
            o += n;
        } else { /* ddd.ddd, at least one digit after the point */
            for (int k = 0; k < e; k++)
                *o++ = (size_t)k < n ? d[k] : '0';
            *o++ = '.';
            if ((size_t)e < n) {
                memcpy(o, d + e, n - (size_t)e);
                o += n - (size_t)e;
            } else {
                *o++ = '0';
            }
        }
    } else { /* d.dddE[-]x */
        *o++ = d[0];
        *o++ = '.';
        if (n > 1) {
            memcpy(o, d + 1, n - 1);
            o += n - 1;
        } else {
            *o++ = '0';
        }
        o += snprintf(o, sizeof(tmp) - (size_t)(o - tmp), "E%d", e - 1);
    }
    buf_append(out, tmp, (size_t)(o - tmp));
}

/* protobuf's SimpleFtoa: FLT_DIG digits when they round-trip, else 9. */
void scalar_format_float(buf_t *out, float v)
{
    if (format_special(out, (double)v))
        return;
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.*g", FLT_DIG, (double)v);
    if (strtof(tmp, NULL) != v)
        n = snprintf(tmp, sizeof(tmp), "%.*g", FLT_DIG + 3, (double)v);
    if (n > 0)
        buf_append(out, tmp, (size_t)n);
}

/* ---- Timestamp / Duration ----------------------------------------------- */

#define TS_MIN_SECONDS INT64_C(-62135596800)  /* 0001-01-01T00:00:00Z */
#define TS_MAX_SECONDS INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */
#define DUR_MAX_SECONDS INT64_C(315576000000) /* 10000 Julian years */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Exactly n digits at s; -1 when any is not a digit. */
static int fixed_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ".d{1,9}" at s[*i] into nanos (0 when absent); -1 when malformed. */
static int parse_nanos(const char *s, size_t len, size_t *i, int32_t *nanos)
{
    *nanos = 0;
    if (*i >= len || s[*i] != '.')
        return 0;
    size_t j = *i + 1, start = j;
    int32_t v = 0;
    while (j < len && is_digit(s[j])) {
        if (j - start >= 9)
            return -1;
        v = v * 10 + (s[j] - '0');
        j++;
    }
    size_t nd = j - start;
    if (nd == 0)
        return -1;
    for (; nd < 9; nd++)
        v *= 10;
    *nanos = v;
    *i = j;
    return 0;
}

int scalar_parse_timestamp(const char *s, size_t len, int64_t *seconds, int32_t *nanos,
                           const char **why)
{
    /* YYYY-MM-DDTHH:MM:SS is 19 bytes; the zone needs at least one more */
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':') {
        *why = "invalid timestamp: want YYYY-MM-DDTHH:MM:SS[.fraction]Z";
        return -1;
    }
    int year = fixed_digits(s, 4), mon = fixed_digits(s + 5, 2), day = fixed_digits(s + 8, 2);
    int hour = fixed_digits(s + 11, 2), min = fixed_digits(s + 14, 2);
    int sec = fixed_digits(s + 17, 2);
    if (year < 0 || mon < 0 || day < 0 || hour < 0 || min < 0 || sec < 0) {
        *why = "invalid timestamp: want YYYY-MM-DDTHH:MM:SS[.fraction]Z";
        return -1;
    }
    if (year == 0) {
        *why = "bad year in timestamp";
        return -1;
    }
    if (mon < 1 || mon > 12) {
        *why = "bad month in timestamp";
        return -1;
    }
    if (day < 1 || (unsigned)day > days_in_month((unsigned)year, (unsigned)mon)) {
        *why = "bad day in timestamp";
        return -1;
    }
    if (hour > 23 || min > 59 || sec > 59) {
        *why = "bad time of day in timestamp";
        return -1;
    }

    size_t i = 19;
    int32_t ns;
    if (parse_nanos(s, len, &i, &ns) != 0) {
        *why = "timestamp had bad nanoseconds";
        return -1;
    }

    int64_t secs = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 +
                   hour * 3600 + min * 60 + sec;
    if (i == len) {
        *why = "timestamp missing timezone offset";
        return -1;
    }
    if (s[i] == 'Z') {
        if (i + 1 != len) {
            *why = "bad timezone offset";
            return -1;
        }
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        if (len - i != 6 || s[i + 3] != ':' || (oh = fixed_digits(s + i + 1, 2)) < 0 ||
            (om = fixed_digits(s + i + 4, 2)) < 0 || oh > 23 || om > 59) {
            *why = "bad timezone offset";
            return -1;
        }
        int64_t off = (int64_t)oh * 3600 + om * 60;
        secs += s[i] == '-' ? off : -off; /* local time minus offset is UTC */
    } else {
        *why = "bad timezone offset";
        return -1;
    }

    if (secs < TS_MIN_SECONDS || secs > TS_MAX_SECONDS) {
        *why = "timestamp out of range";
        return -1;
    }
    *seconds = secs;
    *nanos = ns;
    return 0;
}

static inline char *put2(char *p, unsigned v)
{
    memcpy(p, decimal_pairs + 2 * v, 2);
    return p + 2;
}

/* ".ddd", ".dddddd" or ".ddddddddd" as protobuf picks them; nothing for 0. */
static char *put_fraction(char *p, uint32_t nanos)
{
    if (nanos == 0)
        return p;
    int digits = 9;
    while (nanos % 1000 == 0) {
        nanos /= 1000;
        digits -= 3;
    }
    *p++ = '.';
    for (int k = digits - 1; k >= 0; k--) {
        p[k] = (char)('0' + nanos % 10);
        nanos /= 10;
    }
    return p + digits;
}

int scalar_format_timestamp(buf_t *out, int64_t seconds, int32_t nanos)
{
    if (seconds < TS_MIN_SECONDS || seconds > TS_MAX_SECONDS || nanos < 0 || nanos > 999999999)
        return -1;
    int64_t days = seconds / 86400, rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);

    char tmp[32], *p = tmp;
    p = put2(p, (unsigned)(y / 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (unsigned)(rem / 3600));
    *p++ = ':';
    p = put2(p, (unsigned)(rem / 60 % 60));
    *p++ = ':';
    p = put2(p, (unsigned)(rem % 60));
    p = put_fraction(p, (uint32_t)nanos);
    *p++ = 'Z';
    buf_append(out, tmp, (size_t)(p - tmp));
    return 0;
}

int scalar_parse_duration(const char *s, size_t len, int64_t *seconds, int32_t *nanos,
                          const char **why)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= len || !is_digit(s[i])) {
        *why = "duration must start with an integer";
        return -1;
    }
    int64_t secs = 0;
    for (; i < len && is_digit(s[i]); i++) {
        if (secs <= DUR_MAX_SECONDS) /* stops growing once out of range */
            secs = secs * 10 + (s[i] - '0');
    }
    int32_t ns;
    if (parse_nanos(s, len, &i, &ns) != 0) {
        *why = "duration had bad nanoseconds";
        return -1;
    }
    if (i + 1 != len || s[i] != 's') {
        *why = "duration must end with a single 's'";
        return -1;
    }
    if (secs > DUR_MAX_SECONDS) {
        *why = "duration out of range";
        return -1;
    }
    *seconds = neg ? -secs : secs;
    *nanos = neg ? -ns : ns;
    return 0;
}

int scalar_format_duration(buf_t *out, int64_t seconds, int32_t nanos)
{
    if (seconds < -DUR_MAX_SECONDS || seconds > DUR_MAX_SECONDS || nanos < -999999999 ||
        nanos > 999999999)
        return -1;
    if (seconds != 0 && nanos != 0 && (seconds < 0) != (nanos < 0))
        return -1;

    char tmp[40], *p = tmp;
    if (seconds < 0 || nanos < 0)
        *p++ = '-';
    uint64_t mag = seconds < 0 ? 0 - (uint64_t)seconds : (uint64_t)seconds;
    char digits[20];
    char *d = decimal_u64_backwards(digits + sizeof(digits), mag);
    size_t nd = (size_t)(digits + sizeof(digits) - d);
    memcpy(p, d, nd);
    p += nd;
    p = put_fraction(p, (uint32_t)(nanos < 0 ? -nanos : nanos));
    *p++ = 's';
    buf_append(out, tmp, (size_t)(p - tmp));
    return 0;
}

/* ---- FieldMask paths ---------------------------------------------------- */

size_t scalar_camel_to_snake(char *dst, const char *src, size_t len)
{
    char *p = dst;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c >= 'A' && c <= 'Z') {
            *p++ = '_';
            *p++ = (char)(c - 'A' + 'a');
        } else {
            *p++ = c;
        }
    }
    return (size_t)(p - dst);
}

/* FieldMaskUtil::SnakeCaseToCamelCase: only paths that come back unchanged
 * through camel_to_snake have a JSON spelling. */
int scalar_snake_to_camel(buf_t *out, const char *src, size_t len)
{
    if (buf_reserve(out, len) != 0)
        return -1;
    char *p = out->data + out->len;
    bool under = false;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c >= 'A' && c <= 'Z')
            return -1;
        if (under) {
            if (c < 'a' || c > 'z')
                return -1;
            *p++ = (char)(c - 'a' + 'A');
            under = false;
        } else if (c == '_') {
            under = true;
        } else {
            *p++ = c;
        }
    }
    if (under)
        return -1;
    out->len = (size_t)(p - out->data);
    return 0;
}

/* ---- UTF-8 -------------------------------------------------------------- */

int scalar_utf8_valid(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str, *end = s + len;
    while (s < end) {
        /* ASCII runs eight bytes at a time */
        while (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            s += 8;
        }
        if (s == end)
            break;
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return 0; /* continuation byte, overlong C0/C1, or F5..FF */
        }
        if ((size_t)(end - s) <= need || s[1] < lo || s[1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return 0;
        }
        s += need + 1;
    }
    return 1;
}

/* ---- decimals ---- */

static size_t digits_at(const char *s, size_t len, size_t i)
{
    size_t k = i;
    while (k < len && s[k] >= '0' && s[k] <= '9')
        k++;
    return k - i;
}

int scalar_is_json_number(const char *s, size_t len)
{
    size_t i = 0, n;
    if (i < len && s[i] == '-')
        i++;
    if ((n = digits_at(s, len, i)) == 0 || (s[i] == '0' && n > 1))
        return 0;
    i += n;
    if (i < len && s[i] == '.') {
        if ((n = digits_at(s, len, ++i)) == 0)
            return 0;
        i += n;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if ((n = digits_at(s, len, i)) == 0)
            return 0;
        i += n;
    }
    return i == len;
}

int scalar_decimal_to_json(buf_t *out, const char *s, size_t len)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    size_t int_at = i, int_n = digits_at(s, len, i);
    i += int_n;
    size_t frac_at = i, frac_n = 0;
    if (i < len && s[i] == '.') {
        frac_at = ++i;
        frac_n = digits_at(s, len, i);
        i += frac_n;
    }
    if (int_n + frac_n == 0)
        return -1;
    size_t exp_at = i;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t n = digits_at(s, len, i);
        if (n == 0)
            return -1;
        i += n;
    }
    if (i != len)
        return -1;
    /* leading zeros of the integer part go (JSON allows one), keeping one */
    while (int_n > 1 && s[int_at] == '0') {
        int_at++;
        int_n--;
    }
    if (neg)
        buf_putc(out, '-');
    if (int_n)
        buf_append(out, s + int_at, int_n);
    else
        buf_putc(out, '0');
    if (frac_n) {
        buf_putc(out, '.');
        buf_append(out, s + frac_at, frac_n);
    }
    buf_append(out, s + exp_at, len - exp_at);
    return 0;
}
