/*
 * bigdec.h: decimal numbers with java.math.BigDecimal's semantics, for the
 * services whose original resources compute with BigDecimal and print it
 * through Jackson: a value is an unscaled integer and a scale, so 12.50 and
 * 12.5 are different values that print differently, products keep the sum
 * of the scales, and the text form is BigDecimal.toString() (which switches
 * to exponent notation for small or negatively scaled values: "1E-8",
 * "1.2E+3"). Also the rounding a PostgreSQL NUMERIC(p,s) column applies on
 * store, since the original's amounts come back from such columns.
 *
 * Coefficients are digit strings of any length: no overflow, and the cost
 * of an operation grows only with the digits the client sent.
 */
#ifndef AG_BIGDEC_H
#define AG_BIGDEC_H

#include <stddef.h>
#include <stdint.h>

struct bigdec {
    int sign;          /* -1, 0 or 1; 0 exactly when the value is zero */
    char *digits;      /* |unscaled value| in decimal, no leading zeros ("0" for zero); malloc'd */
    int32_t scale;     /* value = sign * digits * 10^-scale, as BigDecimal's int scale */
};

/* Parses what new BigDecimal(String) accepts: optional sign, digits with
 * an optional '.', at least one digit, optional exponent ([eE][+-]digits).
 * At most max_len characters. 0, or -1 (out untouched) when s is not such a
 * number or its scale leaves the 32-bit range (Java refuses those too). */
int bigdec_parse(struct bigdec *out, const char *s, size_t max_len);

/* BigDecimal.valueOf(long): scale 0. */
void bigdec_from_i64(struct bigdec *out, int64_t v);

/* BigDecimal.multiply: the product, scale a.scale + b.scale. -1 (out
 * untouched) when that scale overflows 32 bits (Java: ArithmeticException). */
int bigdec_mul(struct bigdec *out, const struct bigdec *a, const struct bigdec *b);

/* The value a NUMERIC(precision, scale) column stores: rounded half away
 * from zero to `scale` fraction digits (zeros appended when it has fewer).
 * -1 (out untouched) when it does not fit: |value| >= 10^(precision-scale)
 * after rounding ("numeric field overflow"). */
int bigdec_to_numeric(struct bigdec *out, const struct bigdec *a, int precision, int scale);

/* BigDecimal.toString(): malloc'd. */
char *bigdec_string(const struct bigdec *a);

void bigdec_free(struct bigdec *a);

#endif
