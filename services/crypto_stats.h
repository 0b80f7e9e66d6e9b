/*
 * crypto_stats.h: what QuantumCryptoService measures about itself, for
 * GetStatus and GetMetrics (the original's /crypto/metrics prints constants;
 * ours are counts, rates, latencies and sizes of the calls this process
 * really served). Called under the services' mutex like all service code.
 */
#ifndef AG_CRYPTO_STATS_H
#define AG_CRYPTO_STATS_H

#include <stdint.h>

enum cstat_op {
    CS_KEYGEN,
    CS_ENCRYPT,
    CS_DECRYPT,
    CS_SIGN,
    CS_VERIFY,
    /* the same operations counted again per algorithm family, for the
     * metrics' kyberKEM and dilithiumSignature sections */
    CS_KYBER_ENCAP,
    CS_KYBER_DECAP,
    CS_DILITHIUM_SIGN,
    CS_DILITHIUM_VERIFY,
    CS_N_OPS
};
#define CS_N_MAIN (CS_VERIFY + 1) /* the ones that count as "operations" */

void cstat_reset(void);

/* A call that produced its result, how long it took and how many bytes of
 * payload it handled; and one that did not (unknown key, refused, failed). */
void cstat_ok(enum cstat_op op, double ms, uint64_t bytes);
void cstat_error(enum cstat_op op);

int64_t cstat_count(enum cstat_op op);
int64_t cstat_errors(enum cstat_op op);
uint64_t cstat_bytes(enum cstat_op op);
double cstat_avg_ms(enum cstat_op op);
/* nearest-rank quantile (0 < q <= 1) of the last 1024 latencies; 0 if none */
double cstat_quantile_ms(enum cstat_op op, double q);
/* per second over the last 60 s (or the uptime, when shorter) */
double cstat_rate(enum cstat_op op);
/* percent of attempts that succeeded; 100 when there were none */
double cstat_success_percent(enum cstat_op op);

/* the five main operations together */
int64_t cstat_total(void);
double cstat_total_rate(void);
int64_t cstat_total_window(int64_t minutes);  /* successful, last N minutes (N <= 7 days) */
int64_t cstat_errors_window(int64_t minutes); /* all errors, last N minutes (N <= 24 h) */
/* seconds the statistics cover, for averages over a window: min(window, uptime) */
double cstat_window_seconds(int64_t window_s);

/* a key replaced by a new one under the same id, and how old it was */
void cstat_rotation(int64_t age_ms);
int32_t cstat_rotations_24h(void);
int64_t cstat_avg_key_lifetime_ms(void);

/* keystore lookups: found or not */
void cstat_lookup(int found);
double cstat_lookup_hit_percent(void);

/* the process and the machine */
double cstat_cpu_percent(void);    /* CPU time / (uptime x cores) */
double cstat_memory_percent(void); /* resident set / physical memory */
int cstat_cpu_has(const char *feature); /* "avx2", "avx512f", "aes" */

#endif
