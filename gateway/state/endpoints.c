/*
 * endpoints.c: what the targets' health states add up to.
 */
#include "state/endpoints.h"

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
        n += atomic_load(&e[v->first_endpoint + t].up) != 0;
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
