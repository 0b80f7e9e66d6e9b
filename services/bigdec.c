/*
 * bigdec.c: java.math.BigDecimal's value model and text form (bigdec.h).
 * Digit strings and schoolbook arithmetic: the numbers are a client's
 * amounts, tens of digits, so nothing faster is needed.
 */
#include "bigdec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc.h"

/* digits[0..n) without leading zeros, as a new string ("0" when none) */
static char *strip_zeros(const char *d, size_t n, int *nonzero)
{
    size_t i = 0;
    char *out;

    while (i < n && d[i] == '0')
        i++;
    *nonzero = i < n;
    if (i == n)
        return xstrdup("0");
    out = xmalloc(n - i + 1);
    memcpy(out, d + i, n - i);
    out[n - i] = '\0';
    return out;
}

int bigdec_parse(struct bigdec *out, const char *s, size_t max_len)
{
    size_t n = strlen(s), i = 0, ndig = 0, frac = 0;
    int neg = 0, seen_point = 0, nonzero;
    int64_t exp = 0, scale;
    char *buf;

    if (n == 0 || n > max_len)
        return -1;
    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    buf = xmalloc(n + 1);
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            buf[ndig++] = s[i];
            frac += seen_point;
        } else if (s[i] == '.' && !seen_point) {
            seen_point = 1;
        } else {
            break;
        }
    }
    if (ndig == 0)
        goto bad;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        size_t edig = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, edig++) {
            exp = exp * 10 + (s[i] - '0');
            if (exp > INT32_MAX + (int64_t)frac) /* far out of range: stop before it overflows */
                goto bad;
        }
        if (edig == 0)
            goto bad;
        if (eneg)
            exp = -exp;
    }
    if (i != n)
        goto bad;
    scale = (int64_t)frac - exp;
    if (scale > INT32_MAX || scale < INT32_MIN)
        goto bad;
    out->digits = strip_zeros(buf, ndig, &nonzero);
    out->sign = nonzero ? (neg ? -1 : 1) : 0;
    out->scale = (int32_t)scale;
    free(buf);
    return 0;
bad:
    free(buf);
    return -1;
}

void bigdec_from_i64(struct bigdec *out, int64_t v)
{
    char tmp[32];
    /* the magnitude of INT64_MIN does not fit an int64: go through uint64 */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)m);
    out->digits = xstrdup(tmp);
    out->sign = v < 0 ? -1 : v > 0;
    out->scale = 0;
}

int bigdec_mul(struct bigdec *out, const struct bigdec *a, const struct bigdec *b)
{
    int64_t scale = (int64_t)a->scale + b->scale;
    size_t na = strlen(a->digits), nb = strlen(b->digits), n = na + nb;
    unsigned *acc;
    char *d;
    int nonzero;

    if (scale > INT32_MAX || scale < INT32_MIN)
        return -1;
    acc = xcalloc(n, sizeof(*acc));
    /* acc[k] collects the products of digit pairs landing on position k
     * (from the right); a carry pass per row keeps each cell small */
    for (size_t i = 0; i < na; i++) {
        unsigned da = (unsigned)(a->digits[na - 1 - i] - '0'), carry = 0;
        for (size_t j = 0; j < nb; j++) {
            unsigned cur = acc[i + j] + da * (unsigned)(b->digits[nb - 1 - j] - '0') + carry;
            acc[i + j] = cur % 10;
            carry = cur / 10;
        }
        for (size_t k = i + nb; carry; k++) {
            unsigned cur = acc[k] + carry;
            acc[k] = cur % 10;
            carry = cur / 10;
        }
    }
    d = xmalloc(n + 1);
    for (size_t k = 0; k < n; k++)
        d[k] = (char)('0' + acc[n - 1 - k]);
    free(acc);
    out->digits = strip_zeros(d, n, &nonzero);
    free(d);
    out->sign = nonzero ? a->sign * b->sign : 0;
    out->scale = (int32_t)scale;
    return 0;
}

int bigdec_to_numeric(struct bigdec *out, const struct bigdec *a, int precision, int scale)
{
    size_t len = strlen(a->digits);
    char *d;
    int nonzero;

    if (a->sign == 0) {
        out->digits = xstrdup("0");
        out->sign = 0;
        out->scale = scale;
        return 0;
    }
    if (a->scale > scale) {
        /* drop k digits, rounding half away from zero on the first dropped */
        int64_t k = (int64_t)a->scale - scale;
        size_t keep = k >= (int64_t)len ? 0 : len - (size_t)k;
        int up = k > (int64_t)len ? 0 : a->digits[keep] >= '5';
        d = xmalloc(keep + 2);
        d[0] = '0';
        memcpy(d + 1, a->digits, keep);
        d[keep + 1] = '\0';
        for (size_t i = keep; up && i > 0; i--) { /* d[1..keep] is the kept part */
            if (d[i] == '9') {
                d[i] = '0';
            } else {
                d[i]++;
                up = 0;
            }
        }
        if (up)
            d[0] = '1';
        out->digits = strip_zeros(d, keep + 1, &nonzero);
        free(d);
    } else {
        /* fewer fraction digits: append zeros, once it is known to fit */
        int64_t adjusted = (int64_t)len - 1 - a->scale;
        size_t zeros;
        if (adjusted >= precision - scale)
            return -1;
        zeros = (size_t)((int64_t)scale - a->scale);
        d = xmalloc(len + zeros + 1);
        memcpy(d, a->digits, len);
        memset(d + len, '0', zeros);
        d[len + zeros] = '\0';
        out->digits = d;
        nonzero = 1;
    }
    if (nonzero && strlen(out->digits) > (size_t)precision) {
        free(out->digits);
        out->digits = NULL;
        return -1;
    }
    out->sign = nonzero ? a->sign : 0;
    out->scale = scale;
    return 0;
}

char *bigdec_string(const struct bigdec *a)
{
    size_t len = strlen(a->digits);
    int64_t adjusted = -(int64_t)a->scale + (int64_t)len - 1;
    const char *sign = a->sign < 0 ? "-" : "";
    char *out;

    if (a->scale == 0) {
        out = xmalloc(len + 2);
        sprintf(out, "%s%s", sign, a->digits);
    } else if (a->scale > 0 && adjusted >= -6) {
        /* plain: the point inside the digits, or "0." and at most 6 zeros before them */
        size_t sc = (size_t)a->scale, pos = 0, sl = strlen(sign);
        out = xmalloc(sl + len + sc + 3);
        memcpy(out, sign, sl);
        pos = sl;
        if (len > sc) {
            memcpy(out + pos, a->digits, len - sc);
            pos += len - sc;
            out[pos++] = '.';
            memcpy(out + pos, a->digits + (len - sc), sc);
            pos += sc;
        } else {
            out[pos++] = '0';
            out[pos++] = '.';
            memset(out + pos, '0', sc - len);
            pos += sc - len;
            memcpy(out + pos, a->digits, len);
            pos += len;
        }
        out[pos] = '\0';
    } else {
        /* exponent notation: d.ddddE+n / d.ddddE-n */
        out = xmalloc(len + 32);
        sprintf(out, "%s%c%s%sE%s%lld", sign, a->digits[0], len > 1 ? "." : "", a->digits + 1,
                adjusted >= 0 ? "+" : "", (long long)adjusted);
    }
    return out;
}

void bigdec_free(struct bigdec *a)
{
    free(a->digits);
    a->digits = NULL;
}
