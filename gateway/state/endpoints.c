/*
 * endpoints.c: what the targets' health states add up to, and the passive
 * half of it (ejection on calls failing in a row).
 */
#include "state/endpoints.h"

#include <stdio.h>

int endpoints_cluster_up(const endpoint_health_t *e, const split_cluster_t *c)
{
    /* up when some version that takes traffic has a target passing checks */
    int any_weight = 0;
    for (size_t v = 0; v < c->nversions; v++)
        any_weight |= atomic_load(&c->versions[v].weight) > 0;
    for (size_t v = 0; v < c->nversions; v++) {
        const split_version_t *sv = &c->versions[v];
        if (any_weight && atomic_load(&sv->weight) == 0)
            continue;
        if (endpoints_version_healthy(e, sv) > 0)
            return 1;
    }
    return 0;
}

size_t endpoints_version_healthy(const endpoint_health_t *e, const split_version_t *v)
{
    size_t n = 0;
    for (size_t t = 0; t < v->ntargets; t++)
        n += atomic_load(&e[v->first_endpoint + t].up) != 0 && !atomic_load(&e[v->first_endpoint + t].ejected);
    return n;
}

uint32_t endpoints_version_failures(const endpoint_health_t *e, const split_version_t *v)
{
    uint32_t most = 0;
    for (size_t t = 0; t < v->ntargets; t++) {
        uint32_t f = atomic_load(&e[v->first_endpoint + t].failures);
        most = f > most ? f : most;
    }
    return most;
}

void endpoints_passive_result(void *ctx, size_t target, int failed)
{
    endpoints_passive_t *p = ctx;
    uint32_t *n = &p->consecutive[target];
    if (!failed) {
        *n = 0;
        return;
    }
    if (p->threshold == 0 || ++*n < p->threshold)
        return;
    *n = 0;
    endpoint_health_t *e = &p->endpoints[target];
    /* read first: while it stays ejected, failures cost no shared write */
    if (atomic_load_explicit(&e->ejected, memory_order_relaxed) || atomic_exchange(&e->ejected, 1))
        return;
    atomic_fetch_add(&e->ejections, 1);
    fprintf(stderr, "aurigraph-gateway: upstream %s/%s target %s:%u ejected: %u calls in a row failed; back when %u checks pass\n",
            p->cluster, p->version, e->target->host, (unsigned)e->target->port, p->threshold,
            e->cfg->health.healthy_threshold);
}
