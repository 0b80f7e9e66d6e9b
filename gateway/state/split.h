/*
 * split: which version of a cluster (blue, green, canary...) serves a
 * request: the request path's version pick, and the table it picks from.
 * The weights are the control plane's to change (control/: admin API,
 * rollout) and every worker's to read: one relaxed atomic load per version
 * per request, written rarely, so the cache line stays shared and clean.
 *
 * A cluster configured with plain targets has one version, "default".
 * Rows number every version of every cluster once: per-worker upstreams,
 * metrics and health all index by row.
 */
#ifndef AG_SPLIT_H
#define AG_SPLIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct split_cluster;

typedef struct split_version {
    const char *name;
    struct split_cluster *cluster;
    const config_target_t *targets;
    size_t ntargets;
    size_t row;             /* index over all versions of all clusters */
    size_t first_endpoint;  /* its targets' health: endpoints[first_endpoint + i] */
    _Atomic uint32_t weight;
} split_version_t;

typedef struct split_cluster {
    const config_cluster_t *cfg;
    size_t index;               /* in cfg->clusters */
    split_version_t *versions;
    size_t nversions;
    int named;                  /* versions were configured: responses name theirs */
    _Atomic int canary;         /* the version "x-canary: always" reaches; -1 none */
    _Atomic int canary_blocked; /* rolled back: not even "always" reaches it */
} split_cluster_t;

typedef struct split_table {
    split_cluster_t *clusters;  /* one per config cluster, same order */
    size_t nclusters;
    split_version_t **rows;
    size_t nrows;
    size_t nendpoints;          /* targets over all versions */
} split_table_t;

int split_table_init(split_table_t *t, const config_t *cfg);
void split_table_free(split_table_t *t);
split_cluster_t *split_cluster_find(split_table_t *t, const char *name, size_t len);
int split_version_find(const split_cluster_t *c, const char *name, size_t len);

/* What a request says about where it wants to go. */
typedef struct split_hints {
    int canary;      /* 1: "always", -1: "never", 0: no preference */
    int has_hash;    /* hash of the sticky cookie or header, when present */
    uint64_t hash;
} split_hints_t;

/* The sticky header's value ("always"/"never") and the hash source (the
 * cookie's value or the hashed header's), either may be NULL. */
split_hints_t split_hints_make(const char *canary_value, size_t canary_len, const char *hash_source,
                               size_t hash_len);
/* The value of cookie `name` in a Cookie header; 0 when absent. */
int split_cookie_value(const char *header, size_t len, const char *name, const char **value, size_t *value_len);

/* The version index for one request. rng: the worker's own state. */
size_t split_pick(const split_cluster_t *c, const split_hints_t *h, uint64_t *rng);

/* Percent of new requests each version gets now (for metrics, admin). */
uint32_t split_share_percent(const split_cluster_t *c, size_t version);

#endif
