/* scalar_test.c: every proto3 JSON scalar spelling, both ways, plus edges. */
#include "transcode/scalar.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static arena_t arena;

/* A fresh buffer, NUL-terminated by str(). */
static buf_t newbuf(void)
{
    buf_t b;
    buf_init(&b, &arena, 16);
    return b;
}

static const char *str(buf_t *b)
{
    buf_putc(b, '\0');
    b->len--;
    return b->oom ? "(oom)" : b->data;
}

#define LEN(s) (s), strlen(s)

/* ---- base64 ---- */

static void test_base64(void)
{
    static const struct {
        const char *raw, *enc;
    } rfc4648[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        buf_t b = newbuf();
        scalar_base64_encode(&b, (const uint8_t *)rfc4648[i].raw, strlen(rfc4648[i].raw));
        CHECK_STREQ(str(&b), rfc4648[i].enc);

        uint8_t dst[64];
        const char *e = rfc4648[i].enc;
        long n = scalar_base64_decode(dst, e, strlen(e));
        CHECK_INTEQ(n, strlen(rfc4648[i].raw));
        CHECK(n >= 0 && memcmp(dst, rfc4648[i].raw, (size_t)n) == 0);

        /* unpadded */
        size_t ulen = strlen(e);
        while (ulen && e[ulen - 1] == '=')
            ulen--;
        n = scalar_base64_decode(dst, e, ulen);
        CHECK_INTEQ(n, strlen(rfc4648[i].raw));
        CHECK(n >= 0 && memcmp(dst, rfc4648[i].raw, (size_t)n) == 0);
    }

    /* every byte value, every length 0..67, through encode and decode */
    uint8_t all[256], dec[256 * 3 / 4 + 400];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)(255 - i);
    for (size_t len = 0; len <= 67; len++) {
        buf_t b = newbuf();
        scalar_base64_encode(&b, all + (len * 3) % 100, len);
        CHECK_INTEQ(b.len, (len + 2) / 3 * 4);
        long n = scalar_base64_decode(dec, b.data, b.len);
        CHECK_INTEQ(n, len);
        CHECK(n >= 0 && memcmp(dec, all + (len * 3) % 100, len) == 0);
    }
    buf_t b = newbuf();
    scalar_base64_encode(&b, all, 256);
    CHECK_INTEQ(scalar_base64_decode(dec, b.data, b.len), 256);
    CHECK(memcmp(dec, all, 256) == 0);

    /* the two alphabets: 0xfb 0xff 0xbf is "+/+/" or "-_-_" */
    static const uint8_t hi[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
    b = newbuf();
    scalar_base64_encode(&b, hi, sizeof(hi));
    CHECK_STREQ(str(&b), "+/+/+/8=");
    const char *url[] = {"-_-_-_8=", "-_-_-_8", "+/-_+_8", "+/+/+/8"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t d[16];
        CHECK_INTEQ(scalar_base64_decode(d, LEN(url[i])), 5);
        CHECK(memcmp(d, hi, 5) == 0);
    }

    /* non-zero trailing bits are accepted ("Zh" and "Zg" both mean "f") */
    uint8_t d[16];
    CHECK_INTEQ(scalar_base64_decode(d, LEN("Zh==")), 1);
    CHECK(d[0] == 'f');
    CHECK_INTEQ(scalar_base64_decode(d, LEN("Zm9=")), 2);
    CHECK(d[0] == 'f' && d[1] == 'o');

    static const char *bad[] = {
        "Z",         /* 1 mod 4 */
        "Zm9vY",     /* 1 mod 4 */
        "Zg=",       /* partial padding */
        "Z===",      /* too much padding */
        "====",      /* only padding */
        "Zg==Zg==",  /* padding before the end */
        "Zm=v",      /* padding inside */
        "Zm9v!A==",  /* junk */
        "Zm 9v",     /* whitespace */
        "Zm9v\n",    /* newline */
        "Zg==\0",    /* NUL */
        "Zm9vYg=",   /* short padding */
        "Zm9vYg===", /* long padding */
        "Z\xc3\xa9g", /* non-ASCII */
        "=Zg=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        if (i == 10)
            len = 5; /* include the NUL */
        long n = scalar_base64_decode(d, bad[i], len);
        if (n != -1)
            fprintf(stderr, "base64 accepted bad input #%zu\n", i);
        CHECK_INTEQ(n, -1);
    }
}

/* ---- integers ---- */

typedef struct {
    const char *in;
    int ok;
    int64_t v;
} i64_case_t;

static void test_parse_int64(void)
{
    static const i64_case_t cases[] = {
        {"0", 1, 0},
        {"-0", 1, 0},
        {"1", 1, 1},
        {"-5", 1, -5},
        {"123", 1, 123},
        {"9223372036854775807", 1, INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN},
        {"9223372036854775808", 0, 0},
        {"-9223372036854775809", 0, 0},
        {"18446744073709551615", 0, 0},
        {"99999999999999999999999", 0, 0},
        {"1e3", 1, 1000},
        {"1E3", 1, 1000},
        {"1e+3", 1, 1000},
        {"1.0", 1, 1},
        {"1.000000", 1, 1},
        {"-2.5e1", 1, -25},
        {"100e-2", 1, 1},
        {"12345e-2", 0, 0},
        {"0.5e1", 1, 5},
        {"0.0", 1, 0},
        {"0e999999999999999999999", 1, 0},
        {"0.000e-99999", 1, 0},
        {"9.223372036854775807e18", 1, INT64_MAX},
        {"-9.223372036854775808e18", 1, INT64_MIN},
        {"9.223372036854775808e18", 0, 0},
        {"92233720368547758070e-1", 1, INT64_MAX},
        {"1e18", 1, INT64_C(1000000000000000000)},
        {"1e19", 0, 0},
        {"1e999999", 0, 0},
        {"1e99999999999999999999999999", 0, 0},
        {"-1e99999999999999999999999999", 0, 0},
        {"1e-999999", 0, 0},
        {"1e-99999999999999999999999999", 0, 0},
        {"1.5", 0, 0},
        {"-1.5", 0, 0},
        {"1e-1", 0, 0},
        {"0.1", 0, 0},
        {"", 0, 0},
        {"-", 0, 0},
        {"+1", 0, 0},
        {"01", 0, 0},
        {"-01", 0, 0},
        {"00", 0, 0},
        {"0x10", 0, 0},
        {" 1", 0, 0},
        {"1 ", 0, 0},
        {"1.", 0, 0},
        {".5", 0, 0},
        {"1e", 0, 0},
        {"1e+", 0, 0},
        {"1e-", 0, 0},
        {"1.e3", 0, 0},
        {"--1", 0, 0},
        {"1-", 0, 0},
        {"NaN", 0, 0},
        {"Infinity", 0, 0},
        {"abc", 0, 0},
        {"1_000", 0, 0},
        {"true", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 42;
        const char *why = NULL;
        int rc = scalar_parse_int64(LEN(cases[i].in), INT64_MIN, INT64_MAX, &v, &why);
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "int64 '%s': rc %d\n", cases[i].in, rc);
        CHECK_INTEQ(rc, cases[i].ok ? 0 : -1);
        if (cases[i].ok)
            CHECK_INTEQ(v, cases[i].v);
        else
            CHECK(why != NULL && v == 42);
    }

    /* int32 bounds and messages */
    int64_t v;
    const char *why = NULL;
    CHECK_INTEQ(scalar_parse_int64(LEN("2147483647"), INT32_MIN, INT32_MAX, &v, &why), 0);
    CHECK_INTEQ(v, INT32_MAX);
    CHECK_INTEQ(scalar_parse_int64(LEN("-2147483648"), INT32_MIN, INT32_MAX, &v, &why), 0);
    CHECK_INTEQ(v, INT32_MIN);
    CHECK_INTEQ(scalar_parse_int64(LEN("2147483648"), INT32_MIN, INT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for int32");
    why = NULL;
    CHECK_INTEQ(scalar_parse_int64(LEN("-2147483649"), INT32_MIN, INT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for int32");
    CHECK_INTEQ(scalar_parse_int64(LEN("3e9"), INT32_MIN, INT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for int32");
    CHECK_INTEQ(scalar_parse_int64(LEN("9223372036854775808"), INT64_MIN, INT64_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for int64");
    CHECK_INTEQ(scalar_parse_int64(LEN("1e999999"), INT64_MIN, INT64_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for int64");
    CHECK_INTEQ(scalar_parse_int64(LEN("1.5"), INT32_MIN, INT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "not an integer");
    CHECK_INTEQ(scalar_parse_int64(LEN("1e-999999"), INT32_MIN, INT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "not an integer");
    CHECK_INTEQ(scalar_parse_int64(LEN("12a"), INT32_MIN, INT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "invalid number");
    CHECK_INTEQ(scalar_parse_int64(LEN("11"), -10, 10, &v, &why), -1);
    CHECK_STREQ(why, "value out of range");
    CHECK_INTEQ(scalar_parse_int64(LEN("-10"), -10, 10, &v, &why), 0);
    CHECK_INTEQ(v, -10);

    /* a long run of digits that is still integral */
    char big[300];
    memset(big, '0', sizeof(big));
    big[0] = '1';
    memcpy(big + 280, "e-278", 5); /* 10^279 x 10^-278 */
    CHECK_INTEQ(scalar_parse_int64(big, 285, INT64_MIN, INT64_MAX, &v, &why), 0);
    CHECK_INTEQ(v, 10);
    memcpy(big + 280, "e-279", 5);
    CHECK_INTEQ(scalar_parse_int64(big, 285, INT64_MIN, INT64_MAX, &v, &why), 0);
    CHECK_INTEQ(v, 1);
    memcpy(big + 280, "e-281", 5);
    CHECK_INTEQ(scalar_parse_int64(big, 285, INT64_MIN, INT64_MAX, &v, &why), -1);
    CHECK_STREQ(why, "not an integer");

    /* input is not NUL-terminated: only len bytes count */
    CHECK_INTEQ(scalar_parse_int64("12345", 3, INT64_MIN, INT64_MAX, &v, &why), 0);
    CHECK_INTEQ(v, 123);
}

static void test_parse_uint64(void)
{
    static const struct {
        const char *in;
        int ok;
        uint64_t v;
    } cases[] = {
        {"0", 1, 0},
        {"-0", 1, 0},
        {"-0.0e5", 1, 0},
        {"18446744073709551615", 1, UINT64_MAX},
        {"18446744073709551616", 0, 0},
        {"9223372036854775808", 1, UINT64_C(9223372036854775808)},
        {"1.8446744073709551615e19", 1, UINT64_MAX},
        {"1.8446744073709551616e19", 0, 0},
        {"184467440737095516150e-1", 1, UINT64_MAX},
        {"1e19", 1, UINT64_C(10000000000000000000)},
        {"1e20", 0, 0},
        {"99999999999999999999", 0, 0},
        {"-1", 0, 0},
        {"-1e-999", 0, 0},
        {"1e3", 1, 1000},
        {"1.5", 0, 0},
        {"+1", 0, 0},
        {"01", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 42;
        const char *why = NULL;
        int rc = scalar_parse_uint64(LEN(cases[i].in), UINT64_MAX, &v, &why);
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "uint64 '%s': rc %d\n", cases[i].in, rc);
        CHECK_INTEQ(rc, cases[i].ok ? 0 : -1);
        if (cases[i].ok)
            CHECK(v == cases[i].v);
        else
            CHECK(why != NULL && v == 42);
    }
    uint64_t v;
    const char *why = NULL;
    CHECK_INTEQ(scalar_parse_uint64(LEN("4294967295"), UINT32_MAX, &v, &why), 0);
    CHECK(v == UINT32_MAX);
    CHECK_INTEQ(scalar_parse_uint64(LEN("4294967296"), UINT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for uint32");
    CHECK_INTEQ(scalar_parse_uint64(LEN("-1"), UINT32_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for uint32");
    CHECK_INTEQ(scalar_parse_uint64(LEN("18446744073709551616"), UINT64_MAX, &v, &why), -1);
    CHECK_STREQ(why, "out of range for uint64");
    CHECK_INTEQ(scalar_parse_uint64(LEN("0.5"), UINT64_MAX, &v, &why), -1);
    CHECK_STREQ(why, "not an integer");
}

static void test_format_ints(void)
{
    static const struct {
        int64_t v;
        const char *out;
    } s[] = {
        {0, "0"},
        {1, "1"},
        {-1, "-1"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {-100, "-100"},
        {12345, "12345"},
        {INT32_MAX, "2147483647"},
        {INT32_MIN, "-2147483648"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
        {INT64_MIN + 1, "-9223372036854775807"},
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        buf_t b = newbuf();
        scalar_format_int64(&b, s[i].v);
        CHECK_STREQ(str(&b), s[i].out);
    }
    static const struct {
        uint64_t v;
        const char *out;
    } u[] = {
        {0, "0"},
        {7, "7"},
        {42, "42"},
        {1000, "1000"},
        {UINT32_MAX, "4294967295"},
        {UINT64_C(10000000000000000000), "10000000000000000000"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        buf_t b = newbuf();
        scalar_format_uint64(&b, u[i].v);
        CHECK_STREQ(str(&b), u[i].out);
    }
    /* every power of ten and its neighbours against snprintf */
    int bad = 0;
    uint64_t p = 1;
    for (int k = 0; k < 20; k++, p *= 10) {
        for (int64_t dlt = -1; dlt <= 1; dlt++) {
            uint64_t x = p + (uint64_t)dlt;
            char want[32];
            snprintf(want, sizeof(want), "%llu", (unsigned long long)x);
            buf_t b = newbuf();
            scalar_format_uint64(&b, x);
            bad += strcmp(str(&b), want) != 0;
            snprintf(want, sizeof(want), "%lld", (long long)(int64_t)x);
            b = newbuf();
            scalar_format_int64(&b, (int64_t)x);
            bad += strcmp(str(&b), want) != 0;
        }
    }
    CHECK_INTEQ(bad, 0);
    /* appends, does not overwrite */
    buf_t b = newbuf();
    buf_puts_lit(&b, "x=");
    scalar_format_int64(&b, -7);
    CHECK_STREQ(str(&b), "x=-7");
}

/* ---- doubles ---- */

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void test_parse_double(void)
{
    static const struct {
        const char *in;
        int ok;
        double v;
    } cases[] = {
        {"0", 1, 0.0},
        {"-0", 1, -0.0},
        {"1", 1, 1.0},
        {"1.5", 1, 1.5},
        {"-1.5", 1, -1.5},
        {"1e3", 1, 1000.0},
        {"1E-3", 1, 0.001},
        {"2.5e+2", 1, 250.0},
        {"0.1", 1, 0.1},
        {"1.7976931348623157e308", 1, DBL_MAX},
        {"-1.7976931348623157e308", 1, -DBL_MAX},
        {"4.9406564584124654e-324", 1, 4.9406564584124654e-324},
        {"2.2250738585072014e-308", 1, DBL_MIN},
        {"1e-400", 1, 0.0},
        {"9007199254740993", 1, 9007199254740992.0},
        {"1e400", 0, 0},
        {"-1e400", 0, 0},
        {"1.8e308", 0, 0},
        {"1e99999999999999999999", 0, 0},
        {"", 0, 0},
        {"+1", 0, 0},
        {"01", 0, 0},
        {".5", 0, 0},
        {"1.", 0, 0},
        {"1e", 0, 0},
        {"0x1p3", 0, 0},
        {"inf", 0, 0},
        {"-inf", 0, 0},
        {"infinity", 0, 0},
        {"nan", 0, 0},
        {"-NaN", 0, 0},
        {"+Infinity", 0, 0},
        {"Infinity ", 0, 0},
        {" 1", 0, 0},
        {"1 ", 0, 0},
        {"1,5", 0, 0},
        {"1.5f", 0, 0},
        {"--1", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double v = 42;
        const char *why = NULL;
        int rc = scalar_parse_double(LEN(cases[i].in), 0, &v, &why);
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "double '%s': rc %d\n", cases[i].in, rc);
        CHECK_INTEQ(rc, cases[i].ok ? 0 : -1);
        if (cases[i].ok)
            CHECK(memcmp(&v, &cases[i].v, sizeof(v)) == 0);
        else
            CHECK(why != NULL && v == 42);
    }

    double v;
    const char *why = NULL;
    CHECK_INTEQ(scalar_parse_double(LEN("NaN"), 0, &v, &why), 0);
    CHECK(isnan(v));
    CHECK_INTEQ(scalar_parse_double(LEN("Infinity"), 0, &v, &why), 0);
    CHECK(isinf(v) && v > 0);
    CHECK_INTEQ(scalar_parse_double(LEN("-Infinity"), 1, &v, &why), 0);
    CHECK(isinf(v) && v < 0);
    CHECK_INTEQ(scalar_parse_double(LEN("NaN"), 1, &v, &why), 0);
    CHECK(isnan(v));
    CHECK_INTEQ(scalar_parse_double(LEN("1e400"), 0, &v, &why), -1);
    CHECK_STREQ(why, "out of range for double");
    CHECK_INTEQ(scalar_parse_double(LEN("0x10"), 0, &v, &why), -1);
    CHECK_STREQ(why, "invalid number");

    /* float range */
    CHECK_INTEQ(scalar_parse_double(LEN("3.4028234663852886e38"), 1, &v, &why), 0);
    CHECK(v == FLT_MAX);
    CHECK_INTEQ(scalar_parse_double(LEN("-3.4028234663852886e38"), 1, &v, &why), 0);
    CHECK(v == -FLT_MAX);
    /* a little above FLT_MAX still rounds to FLT_MAX */
    CHECK_INTEQ(scalar_parse_double(LEN("3.40282356e38"), 1, &v, &why), 0);
    CHECK((float)v == FLT_MAX);
    /* FLT_MAX + half an ulp rounds to infinity */
    CHECK_INTEQ(scalar_parse_double(LEN("3.4028235677973366e38"), 1, &v, &why), -1);
    CHECK_STREQ(why, "out of range for float");
    why = NULL;
    CHECK_INTEQ(scalar_parse_double(LEN("1e39"), 1, &v, &why), -1);
    CHECK_STREQ(why, "out of range for float");
    CHECK_INTEQ(scalar_parse_double(LEN("-1e39"), 1, &v, &why), -1);
    CHECK_INTEQ(scalar_parse_double(LEN("1e39"), 0, &v, &why), 0);
    CHECK(v == 1e39);
    CHECK_INTEQ(scalar_parse_double(LEN("1e-50"), 1, &v, &why), 0);
    CHECK((float)v == 0.0f);
    CHECK_INTEQ(scalar_parse_double(LEN("1e400"), 1, &v, &why), -1);

    /* not NUL-terminated */
    CHECK_INTEQ(scalar_parse_double("2.5e1", 3, 0, &v, &why), 0);
    CHECK(v == 2.5);

    /* long inputs go through the digit-trimming path and still round right */
    char big[2400];
    size_t n = 0;
    big[n++] = '0';
    big[n++] = '.';
    for (int i = 0; i < 1000; i++)
        big[n++] = '0';
    memcpy(big + n, "1e1001", 6);
    CHECK_INTEQ(scalar_parse_double(big, n + 6, 0, &v, &why), 0);
    CHECK(v == 1.0);
    /* 1 + 2^-53 exactly (a halfway point), then a 1 far out: rounds up */
    const char *half = "1.00000000000000011102230246251565404236316680908203125";
    n = strlen(half);
    memcpy(big, half, n);
    memset(big + n, '0', 1500);
    n += 1500;
    CHECK_INTEQ(scalar_parse_double(big, n, 0, &v, &why), 0);
    CHECK(v == 1.0); /* exactly halfway: ties to even */
    big[n++] = '1';
    CHECK_INTEQ(scalar_parse_double(big, n, 0, &v, &why), 0);
    CHECK(v == 1.0 + DBL_EPSILON); /* a hair above halfway */
    memmove(big + 1, big, n);
    big[0] = '-';
    CHECK_INTEQ(scalar_parse_double(big, n + 1, 0, &v, &why), 0);
    CHECK(v == -(1.0 + DBL_EPSILON));
    big[1] = '+';
    CHECK_INTEQ(scalar_parse_double(big, n + 1, 0, &v, &why), -1);
    /* many integer digits */
    memset(big, '9', 400);
    CHECK_INTEQ(scalar_parse_double(big, 400, 0, &v, &why), -1); /* 1e400 */
    CHECK_INTEQ(scalar_parse_double(big, 300, 0, &v, &why), 0);
    CHECK(v == 1e300);
    memset(big, '0', 300);
    big[0] = '-';
    big[1] = '0';
    big[2] = '.';
    CHECK_INTEQ(scalar_parse_double(big, 300, 0, &v, &why), 0);
    CHECK(v == 0.0 && signbit(v));
}

static void check_fmt_double(double v, const char *want)
{
    buf_t b = newbuf();
    scalar_format_double(&b, v);
    CHECK_STREQ(str(&b), want);
}

static void check_java_double(double v, const char *want)
{
    buf_t b = newbuf();
    scalar_format_java_double(&b, v);
    CHECK_STREQ(str(&b), want);
}

/* What Java's Double.toString prints, written down from the JDK's own
 * output for the same values. */
static void test_format_java_double(void)
{
    check_java_double(2.0, "2.0");
    check_java_double(485.0, "485.0");
    check_java_double(42.3, "42.3");
    check_java_double(0.0, "0.0");
    check_java_double(-0.0, "-0.0");
    check_java_double(-1.5, "-1.5");
    check_java_double(94.53999999999999, "94.53999999999999");
    check_java_double(0.1 + 0.2, "0.30000000000000004");
    check_java_double(160549604.17725205, "1.6054960417725205E8");
    check_java_double(0.00019, "1.9E-4");
    check_java_double(0.001, "0.001");
    check_java_double(0.0012345, "0.0012345");
    check_java_double(9999999.0, "9999999.0");
    check_java_double(1e7, "1.0E7");
    check_java_double(-1e7, "-1.0E7");
    check_java_double(1e-10, "1.0E-10");
    check_java_double(123456789012345680000.0, "1.2345678901234568E20");
    check_java_double(1.7976931348623157e308, "1.7976931348623157E308");
    check_java_double(1234.5, "1234.5");
    check_java_double(100.0, "100.0");
    check_java_double(0.5, "0.5");
}

static void check_fmt_float(float v, const char *want)
{
    buf_t b = newbuf();
    scalar_format_float(&b, v);
    CHECK_STREQ(str(&b), want);
}

static void test_format_double(void)
{
    check_fmt_double(0.0, "0");
    check_fmt_double(-0.0, "-0");
    check_fmt_double(1.0, "1");
    check_fmt_double(-1.5, "-1.5");
    check_fmt_double(0.1, "0.1");
    check_fmt_double(0.1 + 0.2, "0.30000000000000004");
    check_fmt_double(100.0, "100");
    check_fmt_double(123456789012345.0, "123456789012345");
    check_fmt_double(1e15, "1e+15");
    check_fmt_double(1e20, "1e+20");
    check_fmt_double(1e-7, "1e-07");
    check_fmt_double(1.5e300, "1.5e+300");
    check_fmt_double(DBL_MAX, "1.7976931348623157e+308");
    check_fmt_double(-DBL_MAX, "-1.7976931348623157e+308");
    check_fmt_double(DBL_MIN, "2.2250738585072014e-308");
    check_fmt_double(4.9406564584124654e-324, "4.94065645841247e-324");
    check_fmt_double(9007199254740993.0, "9007199254740992");
    check_fmt_double(1.0 + DBL_EPSILON, "1.0000000000000002");
    check_fmt_double(NAN, "\"NaN\"");
    check_fmt_double(INFINITY, "\"Infinity\"");
    check_fmt_double(-INFINITY, "\"-Infinity\"");

    check_fmt_float(0.0f, "0");
    check_fmt_float(-0.0f, "-0");
    check_fmt_float(1.0f, "1");
    check_fmt_float(0.1f, "0.1");
    check_fmt_float(-2.5f, "-2.5");
    check_fmt_float(1e10f, "1e+10");
    check_fmt_float(16777216.0f, "16777216");
    check_fmt_float(16777217.0f, "16777216");
    check_fmt_float(3.14159274f, "3.14159274");
    check_fmt_float(FLT_MAX, "3.40282347e+38");
    check_fmt_float(FLT_MIN, "1.17549435e-38");
    check_fmt_float(1.40129846e-45f, "1.4013e-45"); /* %.6g already round-trips */
    check_fmt_float(NAN, "\"NaN\"");
    check_fmt_float(INFINITY, "\"Infinity\"");
    check_fmt_float(-INFINITY, "\"-Infinity\"");

    /* round trips: format, parse, same bits */
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng();
        double d;
        if (i % 4 == 1) /* exponents near 1.0, where integers and short decimals live */
            bits = (bits & ~(UINT64_C(0x7ff) << 52)) | (rng() % 128 + 960) << 52;
        if (i % 4 == 2) /* subnormals */
            bits = (rng() >> 20) | (bits & UINT64_C(0x8000000000000000));
        if (i % 16 == 3) /* short decimals */
            d = (double)((int64_t)(rng() % 2000001) - 1000000) / 1000.0, memcpy(&bits, &d, 8);
        memcpy(&d, &bits, 8);
        if (isnan(d) || isinf(d))
            continue;
        buf_t b = newbuf();
        scalar_format_double(&b, d);
        double back = 0;
        const char *why = NULL;
        if (scalar_parse_double(b.data, b.len, 0, &back, &why) != 0 ||
            memcmp(&back, &d, 8) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "double round trip: %.17g -> %s\n", d, str(&b));
        }
    }
    CHECK_INTEQ(bad, 0);

    bad = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t bits = (uint32_t)rng();
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f) || isinf(f))
            continue;
        buf_t b = newbuf();
        scalar_format_float(&b, f);
        double back = 0;
        const char *why = NULL;
        float fb = 0;
        if (scalar_parse_double(b.data, b.len, 1, &back, &why) == 0)
            fb = (float)back;
        if (memcmp(&fb, &f, 4) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "float round trip: %.9g -> %s\n", (double)f, str(&b));
        }
    }
    CHECK_INTEQ(bad, 0);

    /* integers up to 2^53 print as plain digits while %.17g does */
    char want[40];
    snprintf(want, sizeof(want), "%.17g", 9007199254740991.0);
    check_fmt_double(9007199254740991.0, want);
}

/* ---- Timestamp ---- */

static void test_timestamp(void)
{
    static const struct {
        const char *in;
        int64_t s;
        int32_t ns;
        const char *out; /* canonical form */
    } good[] = {
        {"1970-01-01T00:00:00Z", 0, 0, "1970-01-01T00:00:00Z"},
        {"1972-01-01T10:00:20.021Z", 63108020, 21000000, "1972-01-01T10:00:20.021Z"},
        {"1969-12-31T23:59:59Z", -1, 0, "1969-12-31T23:59:59Z"},
        {"1969-12-31T23:59:59.999999999Z", -1, 999999999, "1969-12-31T23:59:59.999999999Z"},
        {"1900-01-01T00:00:00Z", INT64_C(-2208988800), 0, "1900-01-01T00:00:00Z"},
        {"0001-01-01T00:00:00Z", INT64_C(-62135596800), 0, "0001-01-01T00:00:00Z"},
        {"9999-12-31T23:59:59.999999999Z", INT64_C(253402300799), 999999999,
         "9999-12-31T23:59:59.999999999Z"},
        {"2000-02-29T12:00:00Z", 951825600, 0, "2000-02-29T12:00:00Z"},
        {"2024-02-29T00:00:00Z", 1709164800, 0, "2024-02-29T00:00:00Z"},
        {"2038-01-19T03:14:08Z", INT64_C(2147483648), 0, "2038-01-19T03:14:08Z"},
        {"2017-01-15T01:30:15.01Z", 1484443815, 10000000, "2017-01-15T01:30:15.010Z"},
        {"2017-01-15T01:30:15.1Z", 1484443815, 100000000, "2017-01-15T01:30:15.100Z"},
        {"2017-01-15T01:30:15.0001Z", 1484443815, 100000, "2017-01-15T01:30:15.000100Z"},
        {"2017-01-15T01:30:15.000000001Z", 1484443815, 1, "2017-01-15T01:30:15.000000001Z"},
        {"2017-01-15T01:30:15.000Z", 1484443815, 0, "2017-01-15T01:30:15Z"},
        {"1970-01-01T05:30:00+05:30", 0, 0, "1970-01-01T00:00:00Z"},
        {"1969-12-31T19:00:00-05:00", 0, 0, "1970-01-01T00:00:00Z"},
        {"1970-01-01T00:00:00+00:00", 0, 0, "1970-01-01T00:00:00Z"},
        {"1970-01-01T00:00:00-00:00", 0, 0, "1970-01-01T00:00:00Z"},
        {"1970-01-01T00:00:00.5+23:59", -86340, 500000000, "1969-12-31T00:01:00.500Z"},
        {"0001-01-01T05:00:00+05:00", INT64_C(-62135596800), 0, "0001-01-01T00:00:00Z"},
        {"9999-12-31T18:59:59-05:00", INT64_C(253402300799), 0, "9999-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t s = 7;
        int32_t ns = 7;
        const char *why = NULL;
        int rc = scalar_parse_timestamp(LEN(good[i].in), &s, &ns, &why);
        if (rc != 0)
            fprintf(stderr, "timestamp '%s': %s\n", good[i].in, why ? why : "?");
        CHECK_INTEQ(rc, 0);
        CHECK_INTEQ(s, good[i].s);
        CHECK_INTEQ(ns, good[i].ns);
        buf_t b = newbuf();
        CHECK_INTEQ(scalar_format_timestamp(&b, good[i].s, good[i].ns), 0);
        CHECK_STREQ(str(&b), good[i].out);
    }

    static const char *bad[] = {
        "",
        "1970-01-01T00:00:00",
        "1970-01-01T00:00:00z",
        "1970-01-01t00:00:00Z",
        "1970-01-01 00:00:00Z",
        "1970-01-01T00:00:00ZZ",
        "1970-01-01T00:00:00Z ",
        " 1970-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+00:01", /* before the minimum */
        "9999-12-31T23:59:59-00:01", /* after the maximum */
        "10000-01-01T00:00:00Z",
        "970-01-01T00:00:00Z",
        "1970-1-01T00:00:00Z",
        "1970-00-01T00:00:00Z",
        "1970-13-01T00:00:00Z",
        "1970-01-00T00:00:00Z",
        "1970-01-32T00:00:00Z",
        "1970-04-31T00:00:00Z",
        "1900-02-29T00:00:00Z", /* not a leap year */
        "2023-02-29T00:00:00Z",
        "1970-01-01T24:00:00Z",
        "1970-01-01T00:60:00Z",
        "1970-01-01T00:00:60Z", /* leap second */
        "1970-01-01T00:00:00.Z",
        "1970-01-01T00:00:00.1234567890Z",
        "1970-01-01T00:00:00.12a4Z",
        "1970-01-01T00:00:00+05",
        "1970-01-01T00:00:00+0530",
        "1970-01-01T00:00:00+05:3",
        "1970-01-01T00:00:00+05:30:00",
        "1970-01-01T00:00:00+24:00",
        "1970-01-01T00:00:00+05:60",
        "1970-01-01T00:00:00+a5:30",
        "1970-01-01T00:00:00 +05:30",
        "+970-01-01T00:00:00Z",
        "-970-01-01T00:00:00Z",
        "1970/01/01T00:00:00Z",
        "1970-01-01T00.00.00Z",
        "1970-01-01T00:00:00.000000000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t s = 7;
        int32_t ns = 7;
        const char *why = NULL;
        int rc = scalar_parse_timestamp(LEN(bad[i]), &s, &ns, &why);
        if (rc != -1)
            fprintf(stderr, "timestamp accepted '%s'\n", bad[i]);
        CHECK_INTEQ(rc, -1);
        CHECK(why != NULL && s == 7 && ns == 7);
    }

    /* the formatter's range */
    buf_t b = newbuf();
    CHECK_INTEQ(scalar_format_timestamp(&b, INT64_C(-62135596801), 0), -1);
    CHECK_INTEQ(scalar_format_timestamp(&b, INT64_C(253402300800), 0), -1);
    CHECK_INTEQ(scalar_format_timestamp(&b, 0, -1), -1);
    CHECK_INTEQ(scalar_format_timestamp(&b, 0, 1000000000), -1);
    CHECK_INTEQ(scalar_format_timestamp(&b, INT64_MIN, 0), -1);
    CHECK_INTEQ(scalar_format_timestamp(&b, INT64_MAX, 0), -1);
    CHECK_INTEQ(b.len, 0);

    /* every day from 0001 to 9999 in 997-day steps, plus random seconds:
     * format then parse comes back the same */
    int mismatches = 0;
    for (int64_t s = INT64_C(-62135596800); s <= INT64_C(253402300799);
         s += 86400 * 997 + (int64_t)(rng() % 86400)) {
        int32_t ns = (int32_t)(rng() % 1000000000);
        if (rng() % 4 == 0)
            ns = 0;
        buf_t t = newbuf();
        if (scalar_format_timestamp(&t, s, ns) != 0) {
            mismatches++;
            continue;
        }
        int64_t s2;
        int32_t ns2;
        const char *why;
        if (scalar_parse_timestamp(t.data, t.len, &s2, &ns2, &why) != 0 || s2 != s || ns2 != ns)
            mismatches++;
    }
    CHECK_INTEQ(mismatches, 0);

    /* leap day rules in the civil math: 1600 and 2000 are leap, 1700 is not */
    int64_t s;
    int32_t ns;
    const char *why;
    CHECK_INTEQ(scalar_parse_timestamp(LEN("1600-02-29T00:00:00Z"), &s, &ns, &why), 0);
    CHECK_INTEQ(s, INT64_C(-11670998400));
    CHECK_INTEQ(scalar_parse_timestamp(LEN("1700-02-29T00:00:00Z"), &s, &ns, &why), -1);
    CHECK_INTEQ(scalar_parse_timestamp(LEN("1700-03-01T00:00:00Z"), &s, &ns, &why), 0);
    CHECK_INTEQ(s, INT64_C(-8515238400));
    b = newbuf();
    CHECK_INTEQ(scalar_format_timestamp(&b, INT64_C(-8515238400) - 1, 0), 0);
    CHECK_STREQ(str(&b), "1700-02-28T23:59:59Z");
}

/* ---- Duration ---- */

static void test_duration(void)
{
    static const struct {
        const char *in;
        int64_t s;
        int32_t ns;
        const char *out;
    } good[] = {
        {"0s", 0, 0, "0s"},
        {"-0s", 0, 0, "0s"},
        {"1s", 1, 0, "1s"},
        {"-1s", -1, 0, "-1s"},
        {"1.5s", 1, 500000000, "1.500s"},
        {"-1.5s", -1, -500000000, "-1.500s"},
        {"0.5s", 0, 500000000, "0.500s"},
        {"-0.5s", 0, -500000000, "-0.500s"},
        {"0.000000001s", 0, 1, "0.000000001s"},
        {"-0.000000001s", 0, -1, "-0.000000001s"},
        {"0.000001s", 0, 1000, "0.000001s"},
        {"0.0000010s", 0, 1000, "0.000001s"},
        {"1.010s", 1, 10000000, "1.010s"},
        {"1.000s", 1, 0, "1s"},
        {"007s", 7, 0, "7s"},
        {"315576000000s", INT64_C(315576000000), 0, "315576000000s"},
        {"-315576000000s", INT64_C(-315576000000), 0, "-315576000000s"},
        {"315576000000.999999999s", INT64_C(315576000000), 999999999,
         "315576000000.999999999s"},
        {"3600.000000001s", 3600, 1, "3600.000000001s"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t s = 7;
        int32_t ns = 7;
        const char *why = NULL;
        int rc = scalar_parse_duration(LEN(good[i].in), &s, &ns, &why);
        if (rc != 0)
            fprintf(stderr, "duration '%s': %s\n", good[i].in, why ? why : "?");
        CHECK_INTEQ(rc, 0);
        CHECK_INTEQ(s, good[i].s);
        CHECK_INTEQ(ns, good[i].ns);
        buf_t b = newbuf();
        CHECK_INTEQ(scalar_format_duration(&b, good[i].s, good[i].ns), 0);
        CHECK_STREQ(str(&b), good[i].out);
    }

    static const char *bad[] = {
        "",
        "s",
        "1",
        "-s",
        "1ss",
        "1S",
        "1.s",
        ".5s",
        "-.5s",
        "+1s",
        "1.5",
        "1.0000000001s",
        "1e3s",
        "1 s",
        " 1s",
        "--1s",
        "1-s",
        "0x10s",
        "1.5ms",
        "315576000001s",
        "-315576000001s",
        "99999999999999999999999999s",
        "-9223372036854775808s",
        "1.-5s",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t s = 7;
        int32_t ns = 7;
        const char *why = NULL;
        int rc = scalar_parse_duration(LEN(bad[i]), &s, &ns, &why);
        if (rc != -1)
            fprintf(stderr, "duration accepted '%s'\n", bad[i]);
        CHECK_INTEQ(rc, -1);
        CHECK(why != NULL && s == 7 && ns == 7);
    }

    buf_t b = newbuf();
    CHECK_INTEQ(scalar_format_duration(&b, 1, -1), -1);
    CHECK_INTEQ(scalar_format_duration(&b, -1, 1), -1);
    CHECK_INTEQ(scalar_format_duration(&b, 0, 1000000000), -1);
    CHECK_INTEQ(scalar_format_duration(&b, 0, -1000000000), -1);
    CHECK_INTEQ(scalar_format_duration(&b, INT64_C(315576000001), 0), -1);
    CHECK_INTEQ(scalar_format_duration(&b, INT64_C(-315576000001), 0), -1);
    CHECK_INTEQ(scalar_format_duration(&b, INT64_MIN, 0), -1);
    CHECK_INTEQ(scalar_format_duration(&b, INT64_MAX, 0), -1);
    CHECK_INTEQ(b.len, 0);
    CHECK_INTEQ(scalar_format_duration(&b, -5, -250000000), 0);
    CHECK_STREQ(str(&b), "-5.250s");
    b = newbuf();
    CHECK_INTEQ(scalar_format_duration(&b, 0, -999999999), 0);
    CHECK_STREQ(str(&b), "-0.999999999s");
    b = newbuf();
    CHECK_INTEQ(scalar_format_duration(&b, 0, 0), 0);
    CHECK_STREQ(str(&b), "0s");
}

/* ---- FieldMask ---- */

static void test_fieldmask(void)
{
    static const struct {
        const char *camel, *snake;
    } pairs[] = {
        {"", ""},
        {"foo", "foo"},
        {"fooBar", "foo_bar"},
        {"fooBar.bazQux", "foo_bar.baz_qux"},
        {"a.b.c", "a.b.c"},
        {"fooBarBaz", "foo_bar_baz"},
        {"foo2Bar", "foo2_bar"},
        {"x.yZ", "x.y_z"},
        {"Foo", "_foo"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char dst[64];
        size_t n = scalar_camel_to_snake(dst, LEN(pairs[i].camel));
        dst[n] = '\0';
        CHECK_STREQ(dst, pairs[i].snake);

        buf_t b = newbuf();
        CHECK_INTEQ(scalar_snake_to_camel(&b, LEN(pairs[i].snake)), 0);
        CHECK_STREQ(str(&b), pairs[i].camel);
    }
    /* camel_to_snake stays within len + one byte per capital */
    char dst[8];
    memset(dst, '#', sizeof(dst));
    CHECK_INTEQ(scalar_camel_to_snake(dst, LEN("aBC")), 5);
    CHECK(memcmp(dst, "a_b_c##", 7) == 0);

    static const char *bad[] = {
        "foo__bar", "foo_", "foo_1", "fooBar", "foo_Bar", "foo_.bar", "_", "__", "a._",
        "FOO",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_t b = newbuf();
        buf_puts_lit(&b, "keep");
        int rc = scalar_snake_to_camel(&b, LEN(bad[i]));
        if (rc != -1)
            fprintf(stderr, "snake_to_camel accepted '%s'\n", bad[i]);
        CHECK_INTEQ(rc, -1);
        CHECK_STREQ(str(&b), "keep"); /* nothing appended on failure */
    }
}

/* ---- UTF-8 ---- */

static void test_utf8(void)
{
    static const char *good[] = {
        "",
        "a",
        "hello, world",
        "0123456789abcdef0123456789abcdef!",
        "\xc2\x80",                 /* U+0080 */
        "\xdf\xbf",                 /* U+07FF */
        "\xe0\xa0\x80",             /* U+0800 */
        "\xed\x9f\xbf",             /* U+D7FF */
        "\xee\x80\x80",             /* U+E000 */
        "\xef\xbf\xbf",             /* U+FFFF */
        "\xf0\x90\x80\x80",         /* U+10000 */
        "\xf4\x8f\xbf\xbf",         /* U+10FFFF */
        "caf\xc3\xa9 na\xc3\xafve", /* mixed */
        ("abcdefgh\xe2\x82\xac" "abcdefghijklmnop\xf0\x9f\x98\x80xyz"),
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int ok = scalar_utf8_valid(LEN(good[i]));
        if (!ok)
            fprintf(stderr, "utf8 rejected good #%zu\n", i);
        CHECK_INTEQ(ok, 1);
    }
    static const char *bad[] = {
        "\x80",                     /* lone continuation */
        "\xbf",
        "\xc0\x80",                 /* overlong NUL */
        "\xc1\xbf",                 /* overlong */
        "\xc2",                     /* truncated */
        "\xc2\x41",                 /* bad continuation */
        "\xe0\x80\x80",             /* overlong */
        "\xe0\x9f\xbf",             /* overlong */
        "\xed\xa0\x80",             /* U+D800 surrogate */
        "\xed\xbf\xbf",             /* U+DFFF surrogate */
        "\xe2\x82",                 /* truncated */
        "\xe2\x82\x41",
        "\xf0\x80\x80\x80",         /* overlong */
        "\xf0\x8f\xbf\xbf",         /* overlong */
        "\xf4\x90\x80\x80",         /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80",
        "\xff",
        "\xfe",
        "\xf0\x90\x80",             /* truncated */
        "abcdefghijklmnop\xc3",     /* truncated after the fast path */
        "abcdefgh\x80zzzzzzzz",
        "\xf0\x90\x80\x80\xf0\x90\x80\x41",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int ok = scalar_utf8_valid(LEN(bad[i]));
        if (ok)
            fprintf(stderr, "utf8 accepted bad #%zu\n", i);
        CHECK_INTEQ(ok, 0);
    }
    /* NUL is a valid code point */
    CHECK_INTEQ(scalar_utf8_valid("a\0b", 3), 1);
    /* length bounds: a valid sequence cut by len is invalid */
    CHECK_INTEQ(scalar_utf8_valid("\xe2\x82\xac", 2), 0);
    CHECK_INTEQ(scalar_utf8_valid("\xe2\x82\xac", 3), 1);

    /* exhaustive over all 1- and 2-byte inputs against a reference */
    int bad2 = 0;
    for (int a = 0; a < 256; a++) {
        char s1[1] = {(char)a};
        bad2 += scalar_utf8_valid(s1, 1) != (a < 0x80);
        for (int c = 0; c < 256; c++) {
            char s2[2] = {(char)a, (char)c};
            int want = (a < 0x80 && c < 0x80) ||
                       (a >= 0xc2 && a <= 0xdf && c >= 0x80 && c <= 0xbf);
            bad2 += scalar_utf8_valid(s2, 2) != want;
        }
    }
    CHECK_INTEQ(bad2, 0);

    /* exhaustive over all code points: encode, validate */
    int bad3 = 0;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        char e[4];
        size_t n;
        if (cp < 0x80) {
            e[0] = (char)cp;
            n = 1;
        } else if (cp < 0x800) {
            e[0] = (char)(0xc0 | cp >> 6);
            e[1] = (char)(0x80 | (cp & 63));
            n = 2;
        } else if (cp < 0x10000) {
            e[0] = (char)(0xe0 | cp >> 12);
            e[1] = (char)(0x80 | ((cp >> 6) & 63));
            e[2] = (char)(0x80 | (cp & 63));
            n = 3;
        } else {
            e[0] = (char)(0xf0 | cp >> 18);
            e[1] = (char)(0x80 | ((cp >> 12) & 63));
            e[2] = (char)(0x80 | ((cp >> 6) & 63));
            e[3] = (char)(0x80 | (cp & 63));
            n = 4;
        }
        int want = !(cp >= 0xd800 && cp <= 0xdfff);
        bad3 += scalar_utf8_valid(e, n) != want;
    }
    CHECK_INTEQ(bad3, 0);
}

/* scalar_write_int/uint against snprintf: every digit count and sign, the
 * quoted form, and a bounded run of random values. */
static void test_write_ints(void)
{
    char got[SCALAR_INT_MAX_TEXT + 1], want[32];
    uint64_t p = 1;
    for (int d = 0; d < 20; d++, p *= 10) {
        uint64_t edges[3] = {p - 1, p, p + 1};
        for (int k = 0; k < 3; k++) {
            size_t n = scalar_write_uint(got, edges[k], 0);
            got[n] = '\0';
            snprintf(want, sizeof(want), "%llu", (unsigned long long)edges[k]);
            CHECK_STREQ(got, want);
        }
    }
    size_t n = scalar_write_int(got, INT64_MIN, 1);
    got[n] = '\0';
    CHECK_STREQ(got, "\"-9223372036854775808\"");
    n = scalar_write_uint(got, UINT64_MAX, 1);
    got[n] = '\0';
    CHECK_STREQ(got, "\"18446744073709551615\"");
    unsigned seed = 7;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = ((uint64_t)rand_r(&seed) << 42) ^ ((uint64_t)rand_r(&seed) << 21) ^ (uint64_t)rand_r(&seed);
        int64_t v = (int64_t)(r >> (rand_r(&seed) % 64));
        if (rand_r(&seed) & 1)
            v = -v;
        n = scalar_write_int(got, v, 0);
        got[n] = '\0';
        snprintf(want, sizeof(want), "%lld", (long long)v);
        bad += strcmp(got, want) != 0;
    }
    CHECK_INTEQ(bad, 0);
}

int main(void)
{
    arena_init(&arena);
    test_write_ints();
    test_base64();
    arena_reset(&arena);
    test_parse_int64();
    test_parse_uint64();
    test_format_ints();
    arena_reset(&arena);
    test_parse_double();
    test_format_double();
    test_format_java_double();
    arena_reset(&arena);
    test_timestamp();
    arena_reset(&arena);
    test_duration();
    test_fieldmask();
    test_utf8();
    arena_free(&arena);
    return test_summary();
}
