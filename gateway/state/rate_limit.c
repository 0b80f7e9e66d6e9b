/*
 * rate_limit.c: the pools (GCRA, one atomic each), the shared key table,
 * and each worker's batches. The header says how they fit.
 *
 * GCRA in ns: a pool's tat is the time its bucket is empty until. Taking k
 * tokens at now moves it to max(tat, now) + k x interval, allowed while
 * that stays within burst x interval of now. A bucket idle for long has a
 * tat in the past: full (burst tokens), the state a new key starts in,
 * which is why a table slot whose tat has passed may go to another key.
 */
#include "state/rate_limit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RL_BATCH_NS 10000000u   /* a worker takes about this much time's worth of tokens at once */
#define RL_BATCH_MAX 64u        /* and no more than this many */
#define RL_BATCH_MAX_KEYED 4u   /* per client: its rate is small, a worker may hold few */
#define RL_PROBES 8             /* table slots a key may be in */
#define RL_CACHE_MAX 1024u      /* keys a worker remembers per keyed limit */

typedef struct rl_slot {
    _Atomic uint64_t key; /* the key's hash (never 0); 0: never used */
    _Atomic uint64_t tat;
} rl_slot_t;

/* One limit. The pool (tat) has a cache line of its own: workers write it
 * at each batch, and read the rest on every request. */
typedef struct rl_rule {
    _Atomic uint64_t tat;          /* the pool: the limit's own, or a keyed limit's overflow */
    char pad[64 - sizeof(_Atomic uint64_t)];
    const config_rate_limit_t *cfg;
    _Atomic uint64_t rate_micro;   /* requests per second x 1e6, as set */
    _Atomic uint64_t interval_ns;  /* per token */
    _Atomic uint64_t burst;        /* tokens */
    _Atomic int enabled;
    _Atomic uint32_t generation;   /* every change: workers drop the batches they hold */
    uint64_t seed;                 /* of the key hash: keys an attacker picks do not pick slots */
    rl_slot_t *slots;              /* keyed: the clients' pools */
    size_t mask;
    uint32_t cache_size;           /* keyed: a worker's cache of keys (a power of 2) */
} rl_rule_t;

struct rate_limits {
    rl_rule_t *rules;
    size_t nrules;
    size_t nmethods;
    uint32_t *first;    /* per method-table row: its limits are by_method[first[row] .. first[row + 1]) */
    uint32_t *by_method;
};

/* A worker's batch of one pool: of an unkeyed limit, or of one client. */
typedef struct rl_local {
    uint64_t key;          /* keyed: the key's hash; 0: empty */
    rl_slot_t *slot;       /* keyed: its pool in the table; NULL: the overflow pool */
    uint64_t denied_until; /* ns: the pool said no; ask again from then */
    uint32_t tokens;
    uint32_t generation;
} rl_local_t;

struct rate_limiter {
    rate_limits_t *rl;
    rl_local_t *locals;    /* per limit (unkeyed) */
    rl_local_t **caches;   /* per limit (keyed): cache_size entries, by key hash */
};

/* ---- the bucket math ------------------------------------------------------ */

uint32_t rate_limit_pool_take(_Atomic uint64_t *tat, uint64_t now, uint64_t interval_ns, uint64_t burst,
                              uint32_t want, uint32_t need, uint64_t *next_ns)
{
    uint64_t span = burst > UINT64_MAX / 4 / interval_ns ? UINT64_MAX / 4 : burst * interval_ns;
    uint64_t old = atomic_load_explicit(tat, memory_order_relaxed);
    for (;;) {
        uint64_t base = old > now ? old : now;
        uint64_t limit = now + span;
        uint64_t avail = limit > base ? (limit - base) / interval_ns : 0;
        if (avail < need) {
            *next_ns = base + need * interval_ns - span;
            return 0;
        }
        uint32_t k = avail < want ? (uint32_t)avail : want;
        if (atomic_compare_exchange_weak_explicit(tat, &old, base + k * interval_ns, memory_order_relaxed,
                                                  memory_order_relaxed))
            return k;
    }
}

/* About 10 ms of tokens, within the burst and the cap. */
static uint32_t batch_of(uint64_t interval_ns, uint64_t burst, int keyed)
{
    uint64_t b = RL_BATCH_NS / interval_ns;
    uint64_t cap = keyed ? RL_BATCH_MAX_KEYED : RL_BATCH_MAX;
    if (b > cap)
        b = cap;
    if (b > burst)
        b = burst;
    return b < 1 ? 1 : (uint32_t)b;
}

/* FNV-1a over the seed and the bytes, then a 64-bit finalizer (murmur3's). */
static uint64_t key_hash(uint64_t seed, const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h | 1; /* 0 marks a slot never used */
}

/* The key's slot: its own, else one never used or whose bucket is full
 * again (claimed); NULL when none of its probes is free (the overflow). */
static rl_slot_t *slot_for(rl_rule_t *r, uint64_t h, uint64_t now)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        rl_slot_t *free_slot = NULL;
        uint64_t free_key = 0;
        for (size_t i = 0; i < RL_PROBES; i++) {
            rl_slot_t *s = &r->slots[(h + i) & r->mask];
            uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
            if (k == h)
                return s;
            if (free_slot == NULL && (k == 0 || atomic_load_explicit(&s->tat, memory_order_relaxed) <= now)) {
                free_slot = s;
                free_key = k;
            }
        }
        if (free_slot == NULL)
            return NULL;
        /* a full bucket is the same for any key: taking the slot over needs no reset */
        if (atomic_compare_exchange_strong_explicit(&free_slot->key, &free_key, h, memory_order_relaxed,
                                                    memory_order_relaxed))
            return free_slot;
    }
    return NULL;
}

/* ---- the shared part -------------------------------------------------------- */

static void set_rate(rl_rule_t *r, double rate, uint32_t burst)
{
    double interval = 1e9 / rate;
    atomic_store(&r->rate_micro, (uint64_t)llround(rate * 1e6));
    atomic_store(&r->interval_ns, interval < 1 ? 1 : (uint64_t)llround(interval));
    config_rate_limit_t tmp = {.rate = rate, .burst = burst};
    atomic_store(&r->burst, config_rate_limit_burst(&tmp));
}

static int applies(const config_rate_limit_t *c, const method_row_t *row)
{
    if (c->method == NULL)
        return 1;
    if (row->method == NULL)
        return 0;
    size_t sl = row->service_len, nl = strlen(row->name);
    return strlen(c->method) == sl + 1 + nl && memcmp(c->method, row->service, sl) == 0 && c->method[sl] == '.' &&
           memcmp(c->method + sl + 1, row->name, nl) == 0;
}

static uint64_t seed_now(size_t i)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec << 24) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull) ^
           (uint64_t)(uintptr_t)&ts;
}

rate_limits_t *rate_limits_new(const config_t *cfg, const method_table_t *methods, char *err, size_t errlen)
{
    rate_limits_t *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        goto oom;
    rl->nrules = cfg->nrate_limits;
    rl->nmethods = methods->nrows;
    rl->first = calloc(rl->nmethods + 1, sizeof(*rl->first));
    size_t rules_bytes = (rl->nrules ? rl->nrules : 1) * sizeof(rl_rule_t);
    rl->rules = aligned_alloc(64, (rules_bytes + 63) / 64 * 64);
    if (rl->first == NULL || rl->rules == NULL)
        goto oom;
    memset(rl->rules, 0, rules_bytes);
    size_t pairs = 0;
    for (size_t i = 0; i < rl->nrules; i++) {
        const config_rate_limit_t *c = &cfg->rate_limits[i];
        rl_rule_t *r = &rl->rules[i];
        r->cfg = c;
        set_rate(r, c->rate, c->burst);
        atomic_store(&r->enabled, 1);
        r->seed = seed_now(i);
        size_t matched = 0;
        for (size_t m = 0; m < rl->nmethods; m++)
            matched += applies(c, &methods->rows[m]);
        if (matched == 0) {
            snprintf(err, errlen, "rate limit \"%s\": no method %s in the descriptors", c->name, c->method);
            rate_limits_free(rl);
            return NULL;
        }
        pairs += matched;
        if (c->key != CONFIG_RATE_KEY_NONE) {
            size_t slots = 16;
            while (slots < (size_t)c->max_keys * 2)
                slots *= 2;
            if ((r->slots = calloc(slots, sizeof(*r->slots))) == NULL)
                goto oom;
            r->mask = slots - 1;
            r->cache_size = 16;
            while (r->cache_size < RL_CACHE_MAX && r->cache_size < c->max_keys)
                r->cache_size *= 2;
        }
    }
    if ((rl->by_method = calloc(pairs ? pairs : 1, sizeof(*rl->by_method))) == NULL)
        goto oom;
    size_t n = 0;
    for (size_t m = 0; m < rl->nmethods; m++) {
        rl->first[m] = (uint32_t)n;
        for (size_t i = 0; i < rl->nrules; i++)
            if (applies(&cfg->rate_limits[i], &methods->rows[m]))
                rl->by_method[n++] = (uint32_t)i;
    }
    rl->first[rl->nmethods] = (uint32_t)n;
    return rl;
oom:
    snprintf(err, errlen, "out of memory");
    rate_limits_free(rl);
    return NULL;
}

void rate_limits_free(rate_limits_t *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; rl->rules && i < rl->nrules; i++)
        free(rl->rules[i].slots);
    free(rl->rules);
    free(rl->first);
    free(rl->by_method);
    free(rl);
}

size_t rate_limits_count(const rate_limits_t *rl)
{
    return rl ? rl->nrules : 0;
}

void rate_limits_get(const rate_limits_t *rl, size_t i, rate_limit_state_t *out)
{
    const rl_rule_t *r = &rl->rules[i];
    out->cfg = r->cfg;
    out->rate = (double)atomic_load(&r->rate_micro) / 1e6;
    out->burst = (uint32_t)atomic_load(&r->burst);
    out->enabled = atomic_load(&r->enabled);
}

int rate_limits_find(const rate_limits_t *rl, const char *name, size_t len)
{
    for (size_t i = 0; rl && i < rl->nrules; i++)
        if (strlen(rl->rules[i].cfg->name) == len && memcmp(rl->rules[i].cfg->name, name, len) == 0)
            return (int)i;
    return -1;
}

int rate_limits_set(rate_limits_t *rl, size_t i, double rate, uint32_t burst, int enabled)
{
    if (i >= rl->nrules || !(rate > 0 && rate <= CONFIG_RATE_MAX))
        return -1;
    rl_rule_t *r = &rl->rules[i];
    set_rate(r, rate, burst);
    atomic_store(&r->enabled, enabled != 0);
    atomic_fetch_add(&r->generation, 1);
    return 0;
}

/* ---- a worker's part ---------------------------------------------------------- */

rate_limiter_t *rate_limiter_new(rate_limits_t *rl)
{
    rate_limiter_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->rl = rl;
    size_t n = rl->nrules ? rl->nrules : 1;
    l->locals = calloc(n, sizeof(*l->locals));
    l->caches = calloc(n, sizeof(*l->caches));
    if (l->locals == NULL || l->caches == NULL) {
        rate_limiter_free(l);
        return NULL;
    }
    for (size_t i = 0; i < rl->nrules; i++) {
        if (rl->rules[i].cache_size && (l->caches[i] = calloc(rl->rules[i].cache_size, sizeof(rl_local_t))) == NULL) {
            rate_limiter_free(l);
            return NULL;
        }
    }
    return l;
}

void rate_limiter_free(rate_limiter_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; l->caches && i < l->rl->nrules; i++)
        free(l->caches[i]);
    free(l->caches);
    free(l->locals);
    free(l);
}

/* One token of limit i for this request: from the worker's batch, else a
 * new batch from the pool. 0 with *retry_ns when there is none. */
static int take_one(rate_limiter_t *l, size_t i, rate_limit_key_fn key, void *key_ctx, uint64_t now,
                    uint64_t *retry_ns)
{
    rl_rule_t *r = &l->rl->rules[i];
    uint32_t gen = atomic_load_explicit(&r->generation, memory_order_relaxed);
    int keyed = r->cfg->key != CONFIG_RATE_KEY_NONE;
    rl_local_t *b;
    uint64_t h = 0;
    if (!keyed) {
        b = &l->locals[i];
    } else {
        size_t len = 0;
        const void *k = key(key_ctx, r->cfg->key, r->cfg->header, &len);
        h = key_hash(r->seed, k ? k : "", k ? len : 0);
        b = &l->caches[i][h & (r->cache_size - 1)];
        if (b->key != h)
            *b = (rl_local_t){.key = h, .generation = gen}; /* another key's batch is lost: fewer admitted, never more */
    }
    if (b->generation != gen) {
        b->tokens = 0;
        b->denied_until = 0;
        b->generation = gen;
    }
    if (b->tokens) {
        b->tokens--;
        return 1;
    }
    if (now < b->denied_until) {
        *retry_ns = b->denied_until - now;
        return 0;
    }
    _Atomic uint64_t *pool = &r->tat;
    if (keyed) {
        if (b->slot == NULL || atomic_load_explicit(&b->slot->key, memory_order_relaxed) != h)
            b->slot = slot_for(r, h, now);
        if (b->slot)
            pool = &b->slot->tat;
    }
    uint64_t interval = atomic_load_explicit(&r->interval_ns, memory_order_relaxed);
    uint64_t burst = atomic_load_explicit(&r->burst, memory_order_relaxed);
    uint32_t want = batch_of(interval, burst, keyed);
    uint64_t next = 0;
    uint32_t got = rate_limit_pool_take(pool, now, interval, burst, want, 1, &next);
    if (got == 0) {
        /* back when a whole batch is there: at saturation a worker then asks
         * once per batch, not once per token */
        b->denied_until = next + (uint64_t)(want - 1) * interval;
        *retry_ns = next - now;
        return 0;
    }
    b->tokens = got - 1;
    return 1;
}

int rate_limiter_admit(rate_limiter_t *l, size_t method, rate_limit_key_fn key, void *key_ctx, uint64_t now_ns,
                       rate_limit_denial_t *denied)
{
    const rate_limits_t *rl = l->rl;
    if (method >= rl->nmethods)
        return 1;
    for (uint32_t j = rl->first[method]; j < rl->first[method + 1]; j++) {
        size_t i = rl->by_method[j];
        if (!atomic_load_explicit(&rl->rules[i].enabled, memory_order_relaxed))
            continue;
        uint64_t retry = 0;
        if (!take_one(l, i, key, key_ctx, now_ns, &retry)) {
            denied->limit = i;
            denied->retry_after_ns = retry;
            return 0;
        }
    }
    return 1;
}
