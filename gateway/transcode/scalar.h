/*
 * scalar: the proto3 JSON spellings of single values, both ways: base64,
 * 64-bit integers, floats with NaN/Infinity, Timestamp (RFC 3339), Duration
 * ("1.5s") and FieldMask paths. Pure functions, no allocation: callers pass
 * the output buffer, so both transcoders share one definition of each format.
 */
#ifndef AG_SCALAR_H
#define AG_SCALAR_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

/* ---- base64 ---- */
/* Standard alphabet with padding, as proto3 JSON prints bytes. */
void scalar_base64_encode(buf_t *out, const uint8_t *src, size_t len);
/* Accepts standard and URL-safe alphabets, padded or not. Writes at most
 * len*3/4+3 bytes to dst. Returns decoded length, or -1 when invalid. */
long scalar_base64_decode(uint8_t *dst, const char *src, size_t len);

/* ---- numbers ----
 * Parsers take the JSON text of a number or of a string's contents (quotes
 * removed). Integers accept exponent forms that denote integers ("1e3"),
 * as protobuf's parser does. Return 0, or -1 with *why naming the problem
 * ("out of range for int32", "not an integer", ...). */
int scalar_parse_int64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out, const char **why);
int scalar_parse_uint64(const char *s, size_t len, uint64_t max, uint64_t *out, const char **why);
/* Accepts "NaN", "Infinity", "-Infinity" too; is_float checks float range. */
int scalar_parse_double(const char *s, size_t len, int is_float, double *out, const char **why);

/* Whether s is exactly a JSON number (RFC 8259 section 6). */
int scalar_is_json_number(const char *s, size_t len);
/* A decimal as Java's BigDecimal(String) reads it ("+1.5", ".5", "5.", "1e3")
 * -> the same value as a JSON number into out ("1.5", "0.5", "5", "1e3"),
 * digits and scale kept. -1 (nothing written) when s is not one. */
int scalar_decimal_to_json(buf_t *out, const char *s, size_t len);

void scalar_format_int64(buf_t *out, int64_t v);
/* The same straight into dst, which has SCALAR_INT_MAX_TEXT bytes of room;
 * quoted adds the quotes of the 64-bit spelling. Returns bytes written. */
#define SCALAR_INT_MAX_TEXT 24
size_t scalar_write_int(char *dst, int64_t v, int quoted);
size_t scalar_write_uint(char *dst, uint64_t v, int quoted);
void scalar_format_uint64(buf_t *out, uint64_t v);
/* Shortest text that round-trips; NaN/Infinity as quoted strings. */
void scalar_format_double(buf_t *out, double v);
void scalar_format_float(buf_t *out, float v);
/* As Java's Double.toString (Jackson's doubles): the shortest digits that
 * round-trip, "2.0" and "94.53999999999999" between 1e-3 and 1e7,
 * "1.6054960417725205E8" and "1.9E-4" outside. */
void scalar_format_java_double(buf_t *out, double v);

/* ---- Timestamp / Duration ---- */
/* RFC 3339 "1972-01-01T10:00:20.021Z" or with an offset "+05:30";
 * range 0001-01-01 .. 9999-12-31. */
int scalar_parse_timestamp(const char *s, size_t len, int64_t *seconds, int32_t *nanos, const char **why);
/* Always 'Z'; 0, 3, 6 or 9 fractional digits. -1 when out of range. */
int scalar_format_timestamp(buf_t *out, int64_t seconds, int32_t nanos);
/* "1.5s", "-0.000000001s"; range +-315576000000s. */
int scalar_parse_duration(const char *s, size_t len, int64_t *seconds, int32_t *nanos, const char **why);
int scalar_format_duration(buf_t *out, int64_t seconds, int32_t nanos);

/* ---- FieldMask paths ---- */
/* "fooBar.baz" -> "foo_bar.baz" into dst (len bytes + 1 room per capital). */
size_t scalar_camel_to_snake(char *dst, const char *src, size_t len);
/* "foo_bar.baz" -> "fooBar.baz"; -1 when the path has no JSON spelling. */
int scalar_snake_to_camel(buf_t *out, const char *src, size_t len);

/* ---- UTF-8 ---- */
int scalar_utf8_valid(const char *s, size_t len);

#endif
