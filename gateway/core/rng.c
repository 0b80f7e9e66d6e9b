#include "core/rng.h"

#include <time.h>

uint64_t rng_seed_clock(uint64_t salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (salt * 0xd1b54a32d192ed03ull);
    return s ? s : 1;
}

void rng_hex(uint64_t *s, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = rng_next(s);
    for (size_t i = n; i-- > 0; v >>= 4)
        out[i] = hex[v & 15];
}
