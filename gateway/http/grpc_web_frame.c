/*
 * grpc_web_frame.c: gRPC-Web's framing, trailer lines and base64.
 *
 * The decoder is a state machine over one quad: `chars` characters of it
 * seen, `pads` of them '='. Data may not follow a '=' inside a quad, a
 * '=' may only stand third or fourth, and the bits a padded quad drops
 * must be zero (what every encoder writes): so a body has exactly one
 * reading, and whatever else comes in is refused rather than guessed at.
 */
#include "http/grpc_web_frame.h"

#include <string.h>

static int lower_eq(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

static int ends_media_type(const char *s, size_t len, size_t at)
{
    return at == len || s[at] == ';' || s[at] == ' ' || s[at] == '\t';
}

grpc_web_frame_mode_t grpc_web_frame_content_type(const char *v, size_t len)
{
    static const char base[] = "application/grpc-web";
    size_t at = sizeof(base) - 1;
    if (!lower_eq(v, len, base))
        return GRPC_WEB_FRAME_NOT_WEB;
    grpc_web_frame_mode_t mode = GRPC_WEB_FRAME_BINARY;
    if (lower_eq(v + at, len - at, "-text")) {
        mode = GRPC_WEB_FRAME_TEXT;
        at += 5;
    }
    if (ends_media_type(v, len, at))
        return mode;
    if (v[at] != '+')
        return GRPC_WEB_FRAME_NOT_WEB; /* application/grpc-webfoo */
    at++;
    size_t end = at;
    while (!ends_media_type(v, len, end))
        end++;
    return end - at == 5 && lower_eq(v + at, 5, "proto") ? mode : GRPC_WEB_FRAME_UNSUPPORTED;
}

char *grpc_web_frame_header_line(char *out, const char *name, size_t name_len, const char *value, size_t value_len)
{
    memcpy(out, name, name_len);
    out += name_len;
    *out++ = ':';
    *out++ = ' ';
    memcpy(out, value, value_len);
    out += value_len;
    *out++ = '\r';
    *out++ = '\n';
    return out;
}

static int percent_needed(unsigned char c)
{
    return c < 0x20 || c > 0x7e || c == '%';
}

size_t grpc_web_frame_percent_len(const char *s, size_t len)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++)
        n += percent_needed((unsigned char)s[i]) ? 2 : 0;
    return n;
}

char *grpc_web_frame_percent_encode(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (percent_needed(c)) {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        } else {
            *out++ = (char)c;
        }
    }
    return out;
}

grpc_web_frame_scan_result_t grpc_web_frame_scan(const uint8_t *p, size_t n, uint32_t max_message,
                                                 grpc_web_frame_scan_t *out)
{
    *out = (grpc_web_frame_scan_t){0, 0, 0};
    size_t off = 0;
    while (off < n) {
        if (n - off < 5)
            return GRPC_WEB_FRAME_SCAN_TRUNCATED;
        uint8_t flags = p[off];
        uint32_t len = (uint32_t)p[off + 1] << 24 | (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 8 | p[off + 4];
        if (flags & ~GRPC_WEB_FRAME_COMPRESSED)
            return GRPC_WEB_FRAME_SCAN_BAD_FLAGS;
        if (len > max_message) {
            out->bad_len = len;
            return GRPC_WEB_FRAME_SCAN_TOO_LARGE;
        }
        if (n - off - 5 < len)
            return GRPC_WEB_FRAME_SCAN_TRUNCATED;
        out->messages++;
        out->compressed += flags != 0;
        off += 5 + (size_t)len;
    }
    return GRPC_WEB_FRAME_SCAN_OK;
}

/* ---- base64 ---------------------------------------------------------------- */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* sextet + 1 of each character; 0 for everything outside the alphabet */
static const uint8_t sextet1[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

long grpc_web_frame_decode(grpc_web_frame_decoder_t *d, const char *in, size_t len, uint8_t *out)
{
    const unsigned char *s = (const unsigned char *)in;
    uint8_t *o = out;
    uint32_t acc = d->acc;
    unsigned chars = d->chars, pads = d->pads;
    if (chars > 3)
        return -1; /* spent by an earlier error */
    size_t i = 0;
    while (i < len) {
        /* whole quads of data, the common case, four characters at a time */
        if (chars == 0) {
            while (len - i >= 4) {
                unsigned a = sextet1[s[i]], b = sextet1[s[i + 1]], c = sextet1[s[i + 2]], e = sextet1[s[i + 3]];
                if (!a || !b || !c || !e)
                    break;
                uint32_t q = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
                *o++ = (uint8_t)(q >> 16);
                *o++ = (uint8_t)(q >> 8);
                *o++ = (uint8_t)q;
                i += 4;
            }
            if (i == len)
                break;
        }
        unsigned char ch = s[i++];
        if (ch == '=') {
            if (chars < 2)
                goto bad;
            pads++;
        } else {
            unsigned v = sextet1[ch];
            if (v == 0 || pads != 0)
                goto bad;
            acc = acc << 6 | (v - 1);
        }
        if (++chars < 4)
            continue;
        if (pads == 0) {
            *o++ = (uint8_t)(acc >> 16);
            *o++ = (uint8_t)(acc >> 8);
            *o++ = (uint8_t)acc;
        } else if (pads == 1) { /* 18 bits: 16 of data, 2 that must be 0 */
            if (acc & 3)
                goto bad;
            *o++ = (uint8_t)(acc >> 10);
            *o++ = (uint8_t)(acc >> 2);
        } else { /* 12 bits: 8 of data, 4 that must be 0 */
            if (acc & 15)
                goto bad;
            *o++ = (uint8_t)(acc >> 4);
        }
        acc = 0;
        chars = pads = 0;
    }
    d->acc = acc;
    d->chars = (uint8_t)chars;
    d->pads = (uint8_t)pads;
    return (long)(o - out);
bad:
    d->chars = 4; /* never complete again */
    return -1;
}

char *grpc_web_frame_encode(grpc_web_frame_encoder_t *e, const uint8_t *in, size_t len, char *out)
{
    size_t i = 0;
    while (e->ncarry != 0 && e->ncarry < 3 && i < len) {
        if (e->ncarry == 2) {
            uint32_t q = (uint32_t)e->carry[0] << 16 | (uint32_t)e->carry[1] << 8 | in[i++];
            *out++ = alphabet[q >> 18];
            *out++ = alphabet[(q >> 12) & 63];
            *out++ = alphabet[(q >> 6) & 63];
            *out++ = alphabet[q & 63];
            e->ncarry = 0;
        } else {
            e->carry[e->ncarry++] = in[i++];
        }
    }
    for (; len - i >= 3; i += 3) {
        uint32_t q = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[q >> 18];
        *out++ = alphabet[(q >> 12) & 63];
        *out++ = alphabet[(q >> 6) & 63];
        *out++ = alphabet[q & 63];
    }
    while (i < len)
        e->carry[e->ncarry++] = in[i++];
    return out;
}

char *grpc_web_frame_encode_end(grpc_web_frame_encoder_t *e, char *out)
{
    if (e->ncarry == 1) {
        *out++ = alphabet[e->carry[0] >> 2];
        *out++ = alphabet[(e->carry[0] & 3) << 4];
        *out++ = '=';
        *out++ = '=';
    } else if (e->ncarry == 2) {
        uint32_t q = (uint32_t)e->carry[0] << 8 | e->carry[1];
        *out++ = alphabet[q >> 10];
        *out++ = alphabet[(q >> 4) & 63];
        *out++ = alphabet[(q & 15) << 2];
        *out++ = '=';
    }
    e->ncarry = 0;
    return out;
}
