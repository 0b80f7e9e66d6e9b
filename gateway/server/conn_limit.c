/*
 * conn_limit.c: the counts, the per-client table, and the tickets that
 * carry a connection's share of them until it closes.
 */
#include "server/conn_limit.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "core/addr.h"
#include "server/metrics.h"
#include "server/worker.h"

#define CL_PROBES 16           /* table slots an address may be in */
#define CL_COUNT_BITS 24       /* a slot's word: the key's 40 bits, then the count */
#define CL_COUNT_MASK ((1ull << CL_COUNT_BITS) - 1)
#define CL_FREE_TICKETS 1024   /* spare tickets a worker keeps */

struct conn_limits {
    uint32_t max, per_client, reserve;
    _Atomic uint32_t open;       /* connections within max */
    _Atomic uint32_t probe_open; /* connections in the probe reserve */
    _Atomic uint64_t *refused;   /* the shared state's count */
    uint64_t seed;
    _Atomic uint64_t *slots;     /* per client address: key << 24 | count; 0: never used */
    size_t mask;
};

struct conn_ticket {
    worker_t *w;
    conn_ticket_t *next_free;
    uint32_t slot;         /* its client's slot + 1; 0: not counted per client */
    uint8_t probe_only;
};

conn_limits_t *conn_limits_new(const config_connections_t *cfg, shared_t *sh, char *err, size_t errlen)
{
    conn_limits_t *cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cl->max = cfg->max;
    if (cl->max == 0) {
        /* what accept can take before it runs out of descriptors, less
         * room for upstream connections, files and the reserve */
        struct rlimit rl = {0};
        uint64_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 1u << 20;
        uint64_t m = fds * 9 / 10;
        m = m > cfg->probe_reserve + 16 ? m - cfg->probe_reserve : 16;
        cl->max = m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
    }
    sh->connections_max = cl->max;
    cl->refused = &sh->connections_refused;
    cl->per_client = cfg->max_per_client;
    cl->reserve = cfg->probe_reserve;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cl->seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)cl;
    if (cl->per_client) {
        /* every client holding a slot holds a connection: twice the
         * connections there can be, and the table never fills */
        size_t n = 64;
        while (n < ((size_t)cl->max + cl->reserve) * 2 && n < (1u << 24))
            n *= 2;
        if ((cl->slots = calloc(n, sizeof(*cl->slots))) == NULL) {
            snprintf(err, errlen, "out of memory");
            free(cl);
            return NULL;
        }
        cl->mask = n - 1;
    }
    return cl;
}

void conn_limits_free(conn_limits_t *cl)
{
    if (cl == NULL)
        return;
    free((void *)cl->slots);
    free(cl);
}

static uint64_t addr_hash(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h;
}

/* One more connection of the client: its slot + 1, 0 when it cannot be
 * counted (an address of no known family, or no free slot: let in), or
 * UINT32_MAX when the client is at its cap. */
static uint32_t client_take(conn_limits_t *cl, const struct sockaddr *peer)
{
    unsigned char bytes[16];
    size_t n = peer ? addr_client_bytes(peer, bytes) : 0;
    if (n == 0)
        return 0;
    uint64_t h = addr_hash(cl->seed, bytes, n);
    uint64_t key = (h >> CL_COUNT_BITS) | 1; /* 40 bits, never 0 */
    for (size_t i = 0; i < CL_PROBES; i++) {
        size_t at = (h + i) & cl->mask;
        _Atomic uint64_t *s = &cl->slots[at];
        uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
        for (;;) {
            uint64_t count = w & CL_COUNT_MASK;
            if (w >> CL_COUNT_BITS == key) {
                if (count >= cl->per_client)
                    return UINT32_MAX;
                if (atomic_compare_exchange_weak(s, &w, w + 1))
                    return (uint32_t)at + 1;
            } else if (count == 0) {
                if (atomic_compare_exchange_weak(s, &w, key << CL_COUNT_BITS | 1))
                    return (uint32_t)at + 1;
            } else {
                break; /* another client's: the next slot */
            }
        }
    }
    return 0;
}

static conn_ticket_t *ticket_new(worker_t *w)
{
    conn_ticket_t *t = w->free_tickets;
    if (t != NULL) {
        w->free_tickets = t->next_free;
        w->nfree_tickets--;
        return t;
    }
    return malloc(sizeof(*t));
}

conn_ticket_t *conn_limit_open(worker_t *w, const struct sockaddr *peer, int (*shed)(worker_t *w), int *probe_only)
{
    conn_limits_t *cl = w->shared->conn_limits;
    *probe_only = 0;
    /* take the place first: two workers at the cap cannot both slip in */
    if (atomic_fetch_add(&cl->open, 1) >= cl->max && !shed(w)) {
        atomic_fetch_sub(&cl->open, 1);
        if (atomic_fetch_add(&cl->probe_open, 1) >= cl->reserve) {
            atomic_fetch_sub(&cl->probe_open, 1);
            atomic_fetch_add(cl->refused, 1);
            return NULL;
        }
        *probe_only = 1;
    }
    /* (a shed connection's place comes free once it has closed: until
     * then the count may stand a few over max) */
    uint32_t slot = cl->per_client ? client_take(cl, peer) : 0;
    conn_ticket_t *t = slot == UINT32_MAX ? NULL : ticket_new(w);
    if (t == NULL) {
        if (slot != UINT32_MAX && slot != 0)
            atomic_fetch_sub(&cl->slots[slot - 1], 1);
        atomic_fetch_sub(*probe_only ? &cl->probe_open : &cl->open, 1);
        atomic_fetch_add(cl->refused, 1);
        return NULL;
    }
    *t = (conn_ticket_t){.w = w, .slot = slot, .probe_only = (uint8_t)*probe_only};
    metrics_connections_add(w->metrics, 1);
    return t;
}

void conn_limit_close(void *ticket)
{
    conn_ticket_t *t = ticket;
    worker_t *w = t->w;
    conn_limits_t *cl = w->shared->conn_limits;
    atomic_fetch_sub(t->probe_only ? &cl->probe_open : &cl->open, 1);
    if (t->slot)
        atomic_fetch_sub(&cl->slots[t->slot - 1], 1);
    metrics_connections_add(w->metrics, -1);
    if (w->nfree_tickets < CL_FREE_TICKETS) {
        t->next_free = w->free_tickets;
        w->free_tickets = t;
        w->nfree_tickets++;
    } else {
        free(t);
    }
}

conn_ticket_t *conn_limit_ticket_of(h2o_conn_t *conn)
{
    h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
    return sock != NULL && sock->on_close.cb == conn_limit_close ? sock->on_close.data : NULL;
}

int conn_limit_ticket_probe_only(const conn_ticket_t *t)
{
    return t != NULL && t->probe_only;
}

void conn_limit_worker_dispose(worker_t *w)
{
    while (w->free_tickets) {
        conn_ticket_t *t = w->free_tickets;
        w->free_tickets = t->next_free;
        free(t);
    }
    w->nfree_tickets = 0;
}
