/*
 * syntax.c: value syntax, shared by the file and the flags. Every reader
 * here only says yes or no (or why not, for an address): the caller words
 * the message, with the file's line or the flag's name.
 */
#include "config/syntax.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/config_int.h"

/* Plain decimal only: "0x10", "+1", "1e3" and "-1" are mistakes in a config. */
bool syntax_parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

typedef struct {
    const char *suffix;
    uint64_t mult;
} unit_t;

static bool parse_with_unit(const char *s, const unit_t *units, uint64_t *out)
{
    size_t digits = 0;
    while (s[digits] >= '0' && s[digits] <= '9')
        digits++;
    uint64_t v;
    if (!syntax_parse_u64(s, digits, &v))
        return false;
    const char *u = s + digits;
    while (*u == ' ')
        u++;
    for (; units->suffix != NULL; units++) {
        if (strcasecmp(u, units->suffix) == 0) {
            if (units->mult != 0 && v > UINT64_MAX / units->mult)
                return false;
            *out = v * units->mult;
            return true;
        }
    }
    return false;
}

bool syntax_parse_size(const char *s, uint64_t *out)
{
    static const unit_t units[] = {
        {"", 1},           {"b", 1},          {"k", 1u << 10},      {"kib", 1u << 10},
        {"m", 1u << 20},   {"mib", 1u << 20}, {"g", 1u << 30},      {"gib", 1u << 30},
        {"kb", 1000},      {"mb", 1000000},   {"gb", 1000000000}, {NULL, 0},
    };
    return parse_with_unit(s, units, out);
}

bool syntax_parse_duration(const char *s, uint64_t *out)
{
    static const unit_t units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
    };
    return parse_with_unit(s, units, out);
}

bool syntax_host_char_ok(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '.' || ch == '_';
}

/*
 * HOST:PORT, [V6]:PORT, and for listeners *:PORT / :PORT. NULL on success,
 * else why not. The host is returned without brackets.
 */
const char *syntax_parse_hostport(const char *s, bool listener, char **host, uint16_t *port)
{
    const char *h, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return "missing ']' after an IPv6 address";
        h = s + 1;
        hlen = (size_t)(close - h);
        if (hlen == 0)
            return "empty IPv6 address";
        for (size_t i = 0; i < hlen; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.' && h[i] != '%' &&
                !syntax_host_char_ok(h[i]))
                return "bad character in IPv6 address";
        if (close[1] != ':')
            return "expected HOST:PORT";
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "expected HOST:PORT";
        h = s;
        hlen = (size_t)(colon - s);
        if (memchr(h, ':', hlen) != NULL)
            return "an IPv6 address needs brackets: [ADDR]:PORT";
        if (hlen == 0 || (hlen == 1 && h[0] == '*')) {
            if (!listener)
                return "a target needs a host";
            h = "0.0.0.0";
            hlen = 7;
        }
        for (size_t i = 0; i < hlen; i++)
            if (!syntax_host_char_ok(h[i]))
                return "bad character in host";
        if (hlen > 255)
            return "host name too long";
    }
    uint64_t p;
    const char *ps = colon + 1;
    if (!syntax_parse_u64(ps, strlen(ps), &p))
        return "port is not a number";
    if (p > 65535)
        return listener ? "port out of range 0..65535" : "port out of range 1..65535";
    if (p == 0 && !listener)
        return "port out of range 1..65535";
    *host = xstrndup(h, hlen);
    *port = (uint16_t)p;
    return NULL;
}

int syntax_parse_http1(const char *v, config_http1_t *out)
{
    if (strcmp(v, "uring") == 0)
        *out = CONFIG_HTTP1_URING;
    else if (strcmp(v, "h2o") == 0)
        *out = CONFIG_HTTP1_H2O;
    else
        return -1;
    return 0;
}

int config_parse_duration(const char *s, uint32_t *ms)
{
    uint64_t v;
    if (s == NULL || !syntax_parse_duration(s, &v) || v > UINT32_MAX)
        return -1;
    *ms = (uint32_t)v;
    return 0;
}
