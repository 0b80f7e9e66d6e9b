/*
 * split.c: the version table and the per-request choice.
 *
 * The choice is a point in [0, total weight): random per request, or the
 * hash of the sticky cookie/header, so a client keeps landing on the same
 * side while weights only grow on that side (a canary going 10 -> 25 keeps
 * its first 10% and gains more). Versions are walked in configuration
 * order, cumulatively.
 */
#include "state/split.h"
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int split_table_init(split_table_t *t, const config_t *cfg)
{
    *t = (split_table_t){0};
    t->clusters = calloc(cfg->nclusters ? cfg->nclusters : 1, sizeof(*t->clusters));
    if (t->clusters == NULL)
        return -1;
    t->nclusters = cfg->nclusters;
    for (size_t i = 0; i < cfg->nclusters; i++) {
        const config_cluster_t *cc = &cfg->clusters[i];
        split_cluster_t *c = &t->clusters[i];
        c->cfg = cc;
        c->index = i;
        c->named = cc->nversions > 0;
        c->nversions = cc->nversions ? cc->nversions : 1;
        c->versions = calloc(c->nversions, sizeof(*c->versions));
        if (c->versions == NULL)
            return -1;
        atomic_store(&c->canary, -1);
        for (size_t v = 0; v < c->nversions; v++) {
            split_version_t *sv = &c->versions[v];
            sv->cluster = c;
            if (cc->nversions) {
                const config_version_t *cv = &cc->versions[v];
                sv->name = cv->name;
                sv->targets = cv->targets;
                sv->ntargets = cv->ntargets;
                atomic_store(&sv->weight, cv->weight);
                if (strcmp(cv->name, "canary") == 0)
                    atomic_store(&c->canary, (int)v);
            } else {
                sv->name = "default";
                sv->targets = cc->targets;
                sv->ntargets = cc->ntargets;
                atomic_store(&sv->weight, 100);
            }
            sv->row = t->nrows++;
            sv->first_endpoint = t->nendpoints;
            t->nendpoints += sv->ntargets;
        }
    }
    t->rows = calloc(t->nrows ? t->nrows : 1, sizeof(*t->rows));
    if (t->rows == NULL)
        return -1;
    for (size_t i = 0; i < t->nclusters; i++)
        for (size_t v = 0; v < t->clusters[i].nversions; v++)
            t->rows[t->clusters[i].versions[v].row] = &t->clusters[i].versions[v];
    return 0;
}

void split_table_free(split_table_t *t)
{
    for (size_t i = 0; t->clusters && i < t->nclusters; i++)
        free(t->clusters[i].versions);
    free(t->clusters);
    free(t->rows);
    *t = (split_table_t){0};
}

split_cluster_t *split_cluster_find(split_table_t *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->nclusters; i++)
        if (strlen(t->clusters[i].cfg->name) == len && memcmp(t->clusters[i].cfg->name, name, len) == 0)
            return &t->clusters[i];
    return NULL;
}

int split_version_find(const split_cluster_t *c, const char *name, size_t len)
{
    for (size_t v = 0; v < c->nversions; v++)
        if (strlen(c->versions[v].name) == len && memcmp(c->versions[v].name, name, len) == 0)
            return (int)v;
    return -1;
}

/* FNV-1a, then a finaliser so that close values spread over the range. */
static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

split_hints_t split_hints_make(const char *canary_value, size_t canary_len, const char *hash_source,
                               size_t hash_len)
{
    split_hints_t h = {0};
    if (canary_value != NULL) {
        if (canary_len == 6 && strncasecmp(canary_value, "always", 6) == 0)
            h.canary = 1;
        else if (canary_len == 5 && strncasecmp(canary_value, "never", 5) == 0)
            h.canary = -1;
    }
    if (hash_source != NULL && hash_len > 0) {
        h.has_hash = 1;
        h.hash = hash_bytes(hash_source, hash_len);
    }
    return h;
}

int split_cookie_value(const char *header, size_t len, const char *name, const char **value, size_t *value_len)
{
    size_t nl = strlen(name);
    const char *p = header, *end = header + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const char *pair = p;
        while (p < end && *p != ';')
            p++;
        const char *eq = memchr(pair, '=', (size_t)(p - pair));
        if (eq != NULL && (size_t)(eq - pair) == nl && memcmp(pair, name, nl) == 0) {
            *value = eq + 1;
            *value_len = (size_t)(p - eq - 1);
            return 1;
        }
    }
    return 0;
}

size_t split_pick(const split_cluster_t *c, const split_hints_t *h, uint64_t *rng)
{
    if (c->nversions == 1)
        return 0;
    int canary = atomic_load_explicit(&c->canary, memory_order_relaxed);
    if (h->canary == 1 && canary >= 0 && !atomic_load_explicit(&c->canary_blocked, memory_order_relaxed))
        return (size_t)canary;
    uint32_t w[CONFIG_MAX_VERSIONS];
    uint64_t total = 0;
    for (size_t v = 0; v < c->nversions; v++) {
        w[v] = atomic_load_explicit(&c->versions[v].weight, memory_order_relaxed);
        if (h->canary == -1 && (int)v == canary)
            w[v] = 0;
        total += w[v];
    }
    if (total == 0) {
        /* "never" with everything on the canary: the first other version */
        for (size_t v = 0; v < c->nversions; v++)
            if ((int)v != canary)
                return v;
        return 0;
    }
    uint64_t point = (h->has_hash ? h->hash : rng_next(rng)) % total;
    for (size_t v = 0; v < c->nversions; v++) {
        if (point < w[v])
            return v;
        point -= w[v];
    }
    return c->nversions - 1;
}

uint32_t split_share_percent(const split_cluster_t *c, size_t version)
{
    uint64_t total = 0;
    for (size_t v = 0; v < c->nversions; v++)
        total += atomic_load(&c->versions[v].weight);
    if (total == 0)
        return 0;
    uint64_t w = atomic_load(&c->versions[version].weight);
    return (uint32_t)((w * 100 + total / 2) / total);
}
