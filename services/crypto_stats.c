/*
 * crypto_stats.c: counters, sliding windows and latency samples of the
 * crypto service (crypto_stats.h). Windows are rings of per-second or
 * per-minute counts on the monotonic clock, so a rate is "what happened in
 * the last N units", not a total divided by a constant; memory is fixed
 * (about 120 KiB) however long the service runs.
 */
#include "crypto_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "svc.h"

#define LAT_SAMPLES 1024
#define SEC_WINDOW 60
#define WEEK_MINUTES (7 * 24 * 60)
#define DAY_MINUTES (24 * 60)

/* counts per time unit; slot[u % n] holds unit u for head-n < u <= head */
struct ring {
    int64_t *slot;
    int64_t n;
    int64_t head;
};

static void ring_advance(struct ring *r, int64_t unit)
{
    int64_t gap;
    if (unit <= r->head)
        return;
    gap = unit - r->head;
    if (gap > r->n)
        gap = r->n;
    for (int64_t i = 1; i <= gap; i++)
        r->slot[(r->head + i) % r->n] = 0;
    r->head = unit;
}

static void ring_add(struct ring *r, int64_t unit, int64_t v)
{
    ring_advance(r, unit);
    r->slot[unit % r->n] += v;
}

static int64_t ring_sum(struct ring *r, int64_t unit, int64_t k)
{
    int64_t sum = 0;
    ring_advance(r, unit);
    if (k > r->n)
        k = r->n;
    for (int64_t j = 0; j < k && unit - j >= 0; j++)
        sum += r->slot[(unit - j) % r->n];
    return sum;
}

struct series {
    int64_t ok, err;
    uint64_t bytes;
    double sum_ms;
    double lat[LAT_SAMPLES];
    size_t nlat, pos;
    int64_t sec_slot[SEC_WINDOW];
    struct ring sec;
};

static struct {
    int64_t start_ns;
    struct series s[CS_N_OPS];
    int64_t ops_slot[WEEK_MINUTES], err_slot[DAY_MINUTES], rot_slot[DAY_MINUTES];
    struct ring ops_min, err_min, rot_min;
    int64_t sec_slot[SEC_WINDOW];
    struct ring ops_sec;
    int64_t rotations;
    double rotated_age_ms;
    int64_t lookups, hits;
} S;

static int64_t uptime_ns(void)
{
    return now_monotonic_ns() - S.start_ns;
}

static int64_t now_sec(void)
{
    return uptime_ns() / 1000000000;
}

static int64_t now_min(void)
{
    return uptime_ns() / 60000000000LL;
}

static void ring_init(struct ring *r, int64_t *slot, int64_t n)
{
    memset(slot, 0, (size_t)n * sizeof(*slot));
    r->slot = slot;
    r->n = n;
    r->head = 0;
}

void cstat_reset(void)
{
    memset(&S, 0, sizeof(S));
    S.start_ns = now_monotonic_ns();
    for (int i = 0; i < CS_N_OPS; i++)
        ring_init(&S.s[i].sec, S.s[i].sec_slot, SEC_WINDOW);
    ring_init(&S.ops_min, S.ops_slot, WEEK_MINUTES);
    ring_init(&S.err_min, S.err_slot, DAY_MINUTES);
    ring_init(&S.rot_min, S.rot_slot, DAY_MINUTES);
    ring_init(&S.ops_sec, S.sec_slot, SEC_WINDOW);
}

void cstat_ok(enum cstat_op op, double ms, uint64_t bytes)
{
    struct series *s = &S.s[op];
    s->ok++;
    s->bytes += bytes;
    s->sum_ms += ms;
    s->lat[s->pos] = ms;
    s->pos = (s->pos + 1) % LAT_SAMPLES;
    if (s->nlat < LAT_SAMPLES)
        s->nlat++;
    ring_add(&s->sec, now_sec(), 1);
    if (op < CS_N_MAIN) {
        ring_add(&S.ops_min, now_min(), 1);
        ring_add(&S.ops_sec, now_sec(), 1);
    }
}

void cstat_error(enum cstat_op op)
{
    S.s[op].err++;
    if (op < CS_N_MAIN)
        ring_add(&S.err_min, now_min(), 1);
}

int64_t cstat_count(enum cstat_op op)
{
    return S.s[op].ok;
}

int64_t cstat_errors(enum cstat_op op)
{
    return S.s[op].err;
}

uint64_t cstat_bytes(enum cstat_op op)
{
    return S.s[op].bytes;
}

double cstat_avg_ms(enum cstat_op op)
{
    return S.s[op].ok ? S.s[op].sum_ms / (double)S.s[op].ok : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cstat_quantile_ms(enum cstat_op op, double q)
{
    const struct series *s = &S.s[op];
    double sorted[LAT_SAMPLES];
    size_t rank;

    if (s->nlat == 0)
        return 0.0;
    memcpy(sorted, s->lat, s->nlat * sizeof(double));
    qsort(sorted, s->nlat, sizeof(double), cmp_double);
    rank = (size_t)(q * (double)s->nlat + 0.999999); /* ceil, without libm */
    if (rank < 1)
        rank = 1;
    if (rank > s->nlat)
        rank = s->nlat;
    return sorted[rank - 1];
}

double cstat_window_seconds(int64_t window_s)
{
    double up = (double)uptime_ns() / 1e9;
    if (up < 1.0)
        up = 1.0;
    return up < (double)window_s ? up : (double)window_s;
}

double cstat_rate(enum cstat_op op)
{
    return (double)ring_sum(&S.s[op].sec, now_sec(), SEC_WINDOW) / cstat_window_seconds(SEC_WINDOW);
}

double cstat_success_percent(enum cstat_op op)
{
    int64_t all = S.s[op].ok + S.s[op].err;
    return all ? 100.0 * (double)S.s[op].ok / (double)all : 100.0;
}

int64_t cstat_total(void)
{
    int64_t n = 0;
    for (int i = 0; i < CS_N_MAIN; i++)
        n += S.s[i].ok;
    return n;
}

double cstat_total_rate(void)
{
    return (double)ring_sum(&S.ops_sec, now_sec(), SEC_WINDOW) / cstat_window_seconds(SEC_WINDOW);
}

int64_t cstat_total_window(int64_t minutes)
{
    return ring_sum(&S.ops_min, now_min(), minutes);
}

int64_t cstat_errors_window(int64_t minutes)
{
    return ring_sum(&S.err_min, now_min(), minutes);
}

void cstat_rotation(int64_t age_ms)
{
    S.rotations++;
    S.rotated_age_ms += (double)age_ms;
    ring_add(&S.rot_min, now_min(), 1);
}

int32_t cstat_rotations_24h(void)
{
    return (int32_t)ring_sum(&S.rot_min, now_min(), DAY_MINUTES);
}

int64_t cstat_avg_key_lifetime_ms(void)
{
    return S.rotations ? (int64_t)(S.rotated_age_ms / (double)S.rotations) : 0;
}

void cstat_lookup(int found)
{
    S.lookups++;
    S.hits += found != 0;
}

double cstat_lookup_hit_percent(void)
{
    return S.lookups ? 100.0 * (double)S.hits / (double)S.lookups : 100.0;
}

double cstat_cpu_percent(void)
{
    struct rusage ru;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double cpu, wall = (double)uptime_ns() / 1e9;

    if (getrusage(RUSAGE_SELF, &ru) != 0 || wall <= 0)
        return 0.0;
    cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (cores < 1)
        cores = 1;
    cpu = 100.0 * cpu / (wall * (double)cores);
    return cpu > 100.0 ? 100.0 : cpu;
}

double cstat_memory_percent(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return pages > 0 ? 100.0 * (double)resident / (double)pages : 0.0;
}

int cstat_cpu_has(const char *feature)
{
#if defined(__x86_64__) || defined(__i386__)
    /* __builtin_cpu_supports needs a string literal */
    __builtin_cpu_init();
    if (strcmp(feature, "avx2") == 0)
        return __builtin_cpu_supports("avx2") != 0;
    if (strcmp(feature, "avx512f") == 0)
        return __builtin_cpu_supports("avx512f") != 0;
    if (strcmp(feature, "aes") == 0)
        return __builtin_cpu_supports("aes") != 0;
#else
    (void)feature;
#endif
    return 0;
}
