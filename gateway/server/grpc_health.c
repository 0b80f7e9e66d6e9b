/*
 * grpc_health.c: grpc.health.v1.Health's Check and Watch (grpc_health.h).
 *
 * The messages are one field each (HealthCheckRequest.service = 1,
 * HealthCheckResponse.status = 1), read and written here on the wire
 * helpers rather than through generated code.
 *
 * A Watch call is a health_watch_t on its worker's list (thread-local: one
 * worker is one thread, and a call lives on its worker's loop), looked at
 * on each tick. What it watches is resolved once, when its request comes:
 * the method table is fixed for the gateway's life.
 */
#include "server/grpc_health.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "server/grpc_local.h"
#include "server/worker.h"
#include "state/endpoints.h"
#include "transcode/wire.h"

/* HealthCheckResponse.ServingStatus */
enum { HEALTH_SERVING = 1, HEALTH_NOT_SERVING = 2, HEALTH_SERVICE_UNKNOWN = 3 };

/* What a service name stands for: a cluster index (>= 0) or one of these. */
enum { TARGET_GATEWAY = -1, TARGET_LOCAL = -2, TARGET_UNKNOWN = -3 };

static const char *const local_services[] = {
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
};

typedef struct health_watch {
    grpc_local_call_t *call;
    struct health_watch *next, **prev;
    int target;
    int sent;       /* the last status sent; 0 before the first */
    int blocked;    /* the client is behind: nothing more until on_writable */
} health_watch_t;

static _Thread_local health_watch_t *watches;

static int target_of(const shared_t *sh, const char *name, size_t len)
{
    if (len == 0)
        return TARGET_GATEWAY;
    for (size_t i = 0; i < sizeof(local_services) / sizeof(local_services[0]); i++)
        if (strlen(local_services[i]) == len && memcmp(local_services[i], name, len) == 0)
            return TARGET_LOCAL;
    for (size_t i = 0; i < sh->methods.nrows; i++) {
        const method_row_t *row = &sh->methods.rows[i];
        if (row->service_len == len && memcmp(row->service, name, len) == 0)
            return (int)row->cluster;
    }
    return TARGET_UNKNOWN;
}

static int status_of(const shared_t *sh, int target)
{
    if (target == TARGET_UNKNOWN)
        return HEALTH_SERVICE_UNKNOWN;
    if (atomic_load_explicit(&sh->draining, memory_order_relaxed))
        return HEALTH_NOT_SERVING;
    if (target == TARGET_LOCAL)
        return HEALTH_SERVING;
    if (target >= 0)
        return endpoints_cluster_up(sh->endpoints, &sh->split.clusters[target]) ? HEALTH_SERVING
                                                                                 : HEALTH_NOT_SERVING;
    for (size_t c = 0; c < sh->split.nclusters; c++)
        if (endpoints_cluster_up(sh->endpoints, &sh->split.clusters[c]))
            return HEALTH_SERVING;
    return HEALTH_NOT_SERVING;
}

/* HealthCheckRequest: its service ("" when absent); -1 when malformed.
 * Unknown fields are skipped, as any proto3 reader does. */
static int read_request(const uint8_t *p, size_t n, const char **service, size_t *len)
{
    const uint8_t *end = p + n;
    *service = "";
    *len = 0;
    while (p < end) {
        uint64_t key, v;
        if ((p = wire_get_varint(p, end, &key)) == NULL || key >> 3 == 0)
            return -1;
        switch (key & 7) {
        case WIRE_VARINT:
            if ((p = wire_get_varint(p, end, &v)) == NULL)
                return -1;
            break;
        case WIRE_I64:
        case WIRE_I32:
            v = (key & 7) == WIRE_I64 ? 8 : 4;
            if ((uint64_t)(end - p) < v)
                return -1;
            p += v;
            break;
        case WIRE_LEN:
            if ((p = wire_get_varint(p, end, &v)) == NULL || v > (uint64_t)(end - p))
                return -1;
            if (key >> 3 == 1) {
                *service = (const char *)p;
                *len = (size_t)v;
            }
            p += v;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* HealthCheckResponse { status = 1 }: 0 sent, 1 sent but the client is
 * behind, -1 the call is over. */
static int send_status(grpc_local_call_t *call, int status)
{
    const uint8_t msg[2] = {1 << 3 | WIRE_VARINT, (uint8_t)status};
    return grpc_local_send(call, msg, sizeof(msg));
}

static void watch_unlink(health_watch_t *hw)
{
    if (hw->prev == NULL)
        return;
    *hw->prev = hw->next;
    if (hw->next)
        hw->next->prev = hw->prev;
    hw->next = NULL;
    hw->prev = NULL;
}

static void watch_free(health_watch_t *hw)
{
    watch_unlink(hw);
    free(hw);
}

/* May end the call (and free hw) when the status cannot be queued. */
static void watch_update(health_watch_t *hw, int status)
{
    if (hw->blocked || status == hw->sent)
        return;
    int rc = send_status(hw->call, status);
    if (rc < 0) {
        grpc_local_finish(hw->call, GRPC_INTERNAL, "could not queue the status");
        watch_free(hw);
        return;
    }
    hw->sent = status;
    hw->blocked = rc == 1;
}

/* ---- the service --------------------------------------------------------- */

static int on_open(grpc_local_call_t *call, const char *method, size_t len)
{
    if (len == 5 && memcmp(method, "Check", 5) == 0)
        return 0; /* no state: answered from its one message */
    if (len == 5 && memcmp(method, "Watch", 5) == 0) {
        /* a watch stays open for as long as its client likes: one of the
         * worker's bounded slots, ended at a drain (watch_drain) */
        int held = grpc_local_hold(call);
        if (held != 0)
            return held;
        health_watch_t *hw = calloc(1, sizeof(*hw));
        if (hw == NULL)
            return GRPC_RESOURCE_EXHAUSTED;
        hw->call = call;
        hw->target = TARGET_UNKNOWN;
        grpc_local_set_data(call, hw);
        return 0;
    }
    return GRPC_UNIMPLEMENTED;
}

static void on_message(grpc_local_call_t *call, const uint8_t *msg, size_t len)
{
    health_watch_t *hw = grpc_local_data(call);
    const shared_t *sh = grpc_local_worker(call)->shared;
    const char *service;
    size_t slen;
    if (hw != NULL && hw->prev != NULL)
        return; /* one request per call; a second is no question for a server stream */
    if (read_request(msg, len, &service, &slen) != 0) {
        grpc_local_finish(call, GRPC_INTERNAL, "not a grpc.health.v1.HealthCheckRequest");
        if (hw)
            watch_free(hw);
        return;
    }
    int target = target_of(sh, service, slen);
    if (hw == NULL) { /* Check */
        if (target == TARGET_UNKNOWN) {
            grpc_local_finish(call, GRPC_NOT_FOUND, "unknown service");
            return;
        }
        int sent = send_status(call, status_of(sh, target));
        grpc_local_finish(call, sent >= 0 ? GRPC_OK : GRPC_INTERNAL, sent >= 0 ? NULL : "could not queue the status");
        return;
    }
    hw->target = target;
    hw->next = watches;
    hw->prev = &watches;
    if (watches)
        watches->prev = &hw->next;
    watches = hw;
    watch_update(hw, status_of(sh, target));
}

static void on_half_close(grpc_local_call_t *call)
{
    health_watch_t *hw = grpc_local_data(call);
    if (hw != NULL && hw->prev != NULL)
        return; /* a watcher half-closes after its request; the answers go on */
    grpc_local_finish(call, GRPC_INTERNAL, "no request message");
    if (hw)
        watch_free(hw);
}

static void on_cancel(grpc_local_call_t *call)
{
    health_watch_t *hw = grpc_local_data(call);
    if (hw)
        watch_free(hw);
}

static void on_writable(grpc_local_call_t *call)
{
    health_watch_t *hw = grpc_local_data(call);
    if (hw == NULL || hw->prev == NULL)
        return;
    hw->blocked = 0;
    watch_update(hw, status_of(grpc_local_worker(call)->shared, hw->target));
}

/* The gateway drains: the last word (NOT_SERVING, unless said already or
 * the service is unknown), then the call ends with its trailers. */
static void watch_drain(health_watch_t *hw)
{
    if (hw->prev != NULL && hw->target != TARGET_UNKNOWN && hw->sent != HEALTH_NOT_SERVING)
        send_status(hw->call, HEALTH_NOT_SERVING);
    grpc_local_finish(hw->call, GRPC_UNAVAILABLE, "the gateway is draining");
    watch_free(hw);
}

static void on_drain(grpc_local_call_t *call)
{
    health_watch_t *hw = grpc_local_data(call);
    if (hw != NULL)
        watch_drain(hw);
}

const grpc_local_service_t grpc_health_service = {
    .prefix = "/grpc.health.v1.Health/",
    .on_open = on_open,
    .on_message = on_message,
    .on_half_close = on_half_close,
    .on_cancel = on_cancel,
    .on_writable = on_writable,
    .on_drain = on_drain,
};

void grpc_health_tick(worker_t *w)
{
    const shared_t *sh = w->shared;
    int draining = atomic_load_explicit(&sh->draining, memory_order_relaxed);
    for (health_watch_t *hw = watches, *next; hw != NULL; hw = next) {
        next = hw->next;
        if (!draining) {
            watch_update(hw, status_of(sh, hw->target));
            continue;
        }
        /* a drain waits for calls in flight, and a watch would never end
         * by itself: the door ends held calls at its drain steps, and the
         * tick ends those opened in between (a drain_grace_ms) at once */
        watch_drain(hw);
    }
}
