/*
 * util.c: helpers the service modules share: replies, allocation that
 * aborts on exhaustion (a reference service has no useful way to go on),
 * clocks and Timestamps, a small PRNG, exact decimal arithmetic for money
 * strings, and a string-keyed hash index.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svc.h"

void reply_ok(struct reply *r, const ProtobufCMessage *msg)
{
    r->code = GRPC_STATUS_OK;
    r->message[0] = '\0';
    r->body = pb_pack(msg);
    r->has_body = 1;
}

void reply_error(struct reply *r, grpc_status_code code, const char *fmt, ...)
{
    va_list ap;

    r->code = code;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
}

grpc_slice pb_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);

    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    return s;
}

static void oom(void)
{
    fputs("aurigraph-services: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t now_realtime_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t now_monotonic_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

void timestamp_set(Google__Protobuf__Timestamp *ts, int64_t realtime_ns)
{
    google__protobuf__timestamp__init(ts);
    ts->seconds = realtime_ns / 1000000000;
    ts->nanos = (int32_t)(realtime_ns % 1000000000);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void hex_encode(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

double rng_unit(void)
{
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

void uuid_v4(char out[37])
{
    unsigned char b[16];
    char hex[33];
    uint64_t x = rng_next(), y = rng_next();

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(x >> (8 * i));
        b[8 + i] = (unsigned char)(y >> (8 * i));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    hex_encode(hex, b, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

int64_t now_epoch_ms(void)
{
    return now_realtime_ns() / 1000000;
}

/* Java's Instant.now() on Linux has microsecond resolution, and
 * Instant.toString() (DateTimeFormatter.ISO_INSTANT) prints the fraction in
 * groups of three digits, as few as the value needs. */
void instant_format(char out[INSTANT_LEN], int64_t realtime_ns)
{
    int64_t sec = realtime_ns / 1000000000, ns = realtime_ns % 1000000000;
    if (ns < 0)
        sec--, ns += 1000000000;
    long us = (long)(ns / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    char date[32];

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    if (us == 0)
        snprintf(out, INSTANT_LEN, "%sZ", date);
    else if (us % 1000 == 0)
        snprintf(out, INSTANT_LEN, "%s.%03ldZ", date, us / 1000);
    else
        snprintf(out, INSTANT_LEN, "%s.%06ldZ", date, us);
}

/* --- decimals ------------------------------------------------------------ */

int dec_valid(const char *s)
{
    size_t n = strlen(s), i = 0, int_digits = 0, frac_digits = 0;

    if (n == 0 || n > DEC_MAX_LEN)
        return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, int_digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, frac_digits++;
        /* "1." and ".5" are what a float printer might emit, not money */
        if (frac_digits == 0)
            return 0;
    }
    return i == n && int_digits > 0;
}

int dec_is_zero(const char *s)
{
    for (; *s; s++)
        if (*s != '0' && *s != '.')
            return 0;
    return 1;
}

/* Split a valid decimal into its digits (no point) and fraction length. */
static char *dec_digits(const char *s, size_t *frac)
{
    const char *dot = strchr(s, '.');
    size_t n = strlen(s);
    char *d = xmalloc(n + 1);

    if (dot) {
        size_t ip = (size_t)(dot - s);
        memcpy(d, s, ip);
        memcpy(d + ip, dot + 1, n - ip - 1);
        d[n - 1] = '\0';
        *frac = n - ip - 1;
    } else {
        memcpy(d, s, n + 1);
        *frac = 0;
    }
    return d;
}

/* Digits with `frac` fractional places -> "123.45", no redundant zeros;
 * keep_scale keeps every fractional place ("123.450"), as BigDecimal does. */
static char *dec_canon_scale(const char *digits, size_t frac, int keep_scale)
{
    size_t n = strlen(digits), lead = 0;
    size_t int_len = n > frac ? n - frac : 0;
    char *out = xmalloc(n + frac + 3), *p = out;

    while (lead + 1 < int_len && digits[lead] == '0')
        lead++;
    if (int_len == 0) {
        *p++ = '0';
    } else {
        memcpy(p, digits + lead, int_len - lead);
        p += int_len - lead;
    }
    /* fraction, left-padded with zeros when the digits are shorter */
    char *f = xmalloc(frac + 1);
    for (size_t i = 0; i < frac; i++) {
        size_t from_end = frac - i; /* 1-based position from the right */
        f[i] = from_end <= n ? digits[n - from_end] : '0';
    }
    size_t flen = frac;
    while (!keep_scale && flen > 0 && f[flen - 1] == '0')
        flen--;
    if (flen) {
        *p++ = '.';
        memcpy(p, f, flen);
        p += flen;
    }
    *p = '\0';
    free(f);
    return out;
}

static char *dec_canon(const char *digits, size_t frac)
{
    return dec_canon_scale(digits, frac, 0);
}

char *dec_mul_u64(const char *dec, uint64_t n)
{
    char nbuf[24];
    size_t frac, la, lb;
    char *a = dec_digits(dec, &frac);

    snprintf(nbuf, sizeof(nbuf), "%llu", (unsigned long long)n);
    la = strlen(a);
    lb = strlen(nbuf);

    /* schoolbook multiplication, little-endian accumulators */
    unsigned *acc = xcalloc(la + lb, sizeof(*acc));
    for (size_t i = 0; i < la; i++)
        for (size_t j = 0; j < lb; j++)
            acc[i + j] += (unsigned)(a[la - 1 - i] - '0') * (unsigned)(nbuf[lb - 1 - j] - '0');
    char *digits = xmalloc(la + lb + 1);
    unsigned carry = 0;
    for (size_t k = 0; k < la + lb; k++) {
        unsigned v = acc[k] + carry;
        digits[la + lb - 1 - k] = (char)('0' + v % 10);
        carry = v / 10;
    }
    digits[la + lb] = '\0';

    char *out = dec_canon(digits, frac);
    free(digits);
    free(acc);
    free(a);
    return out;
}

static char *dec_sum(const char *a, const char *b, int keep_scale)
{
    size_t fa, fb;
    char *da = dec_digits(a, &fa), *db = dec_digits(b, &fb);
    size_t frac = fa > fb ? fa : fb;
    /* scale both to `frac` places (sa/sb implicit trailing zeros), then add
     * right-aligned */
    size_t na = strlen(da), nb = strlen(db), sa = frac - fa, sb = frac - fb;
    size_t n = (na + sa > nb + sb ? na + sa : nb + sb) + 1;
    char *sum = xmalloc(n + 1);
    int carry = 0;

    for (size_t k = 0; k < n; k++) {
        int x = k >= sa && k - sa < na ? da[na - 1 - (k - sa)] - '0' : 0;
        int y = k >= sb && k - sb < nb ? db[nb - 1 - (k - sb)] - '0' : 0;
        int v = x + y + carry;
        sum[n - 1 - k] = (char)('0' + v % 10);
        carry = v / 10;
    }
    sum[n] = '\0';

    char *out = dec_canon_scale(sum, frac, keep_scale);
    free(sum);
    free(da);
    free(db);
    return out;
}

char *dec_add(const char *a, const char *b)
{
    return dec_sum(a, b, 0);
}

char *dec_add_scale(const char *a, const char *b)
{
    return dec_sum(a, b, 1);
}

/* --- strmap -------------------------------------------------------------- */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static size_t strmap_slot(const struct strmap *m, const char *key)
{
    size_t i = (size_t)str_hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = strmap_slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

void strmap_put(struct strmap *m, const char *key, void *val)
{
    if ((m->len + 1) * 10 > m->cap * 7) {
        struct strmap bigger = {0};
        bigger.cap = m->cap ? m->cap * 2 : 64;
        bigger.keys = xcalloc(bigger.cap, sizeof(*bigger.keys));
        bigger.vals = xcalloc(bigger.cap, sizeof(*bigger.vals));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = strmap_slot(&bigger, m->keys[i]);
                bigger.keys[j] = m->keys[i];
                bigger.vals[j] = m->vals[i];
                bigger.len++;
            }
        strmap_free(m);
        *m = bigger;
    }
    size_t i = strmap_slot(m, key);
    if (!m->keys[i])
        m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
}

void strmap_free(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

int field_present(const char *s)
{
    return s && s[0] != '\0';
}

int field_too_long(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) > max;
}
