/*
 * grpc_local_api.c: the door's side of a local service's call
 * (grpc_local.h): request bytes cut into whole messages for the service,
 * its messages and status sent with the door's response functions.
 */
#include <string.h>

#include "core/status.h"
#include "server/grpc_door_int.h"
#include "server/grpc_local.h"
#include "server/worker.h"

/* The service's part is over (it finished, refused, or the call went):
 * a held call gives its slot back. */
static void local_close(door_call_t *c)
{
    c->svc_open = 0;
    if (c->held_prev == NULL)
        return;
    *c->held_prev = c->held_next;
    if (c->held_next)
        c->held_next->held_prev = c->held_prev;
    c->held_next = NULL;
    c->held_prev = NULL;
    c->door->nheld--;
}

void door_local_open(door_call_t *c, const grpc_local_service_t *svc)
{
    c->kind = CALL_LOCAL;
    c->svc = svc;
    if (c->compressed) {
        /* nothing here decompresses: gRPC's answer to an encoding a server lacks */
        static const upstream_header_t accept = {"grpc-accept-encoding", 20, "identity", 8};
        door_finish(c, GRPC_UNIMPLEMENTED, "compressed requests are not supported by this service", 53, &accept, 1);
        return;
    }
    grpc_frame_reader_init(&c->fr, c->door->max_message, 0);
    size_t plen = strlen(svc->prefix);
    c->svc_open = 1;
    int code = svc->on_open(c, c->path + plen, c->path_len - plen);
    if (code != 0 && c->svc_open) {
        local_close(c);
        if (c->hold_refused)
            door_finishf(c, code, "this worker holds %u long-lived calls already (grpc.max_local_streams)",
                         c->door->max_held);
        else
            door_finishf(c, code, code == GRPC_UNIMPLEMENTED ? "unknown method %s" : "refused: %s", c->path);
    }
}

static int deliver(void *ctx, uint8_t flags, const uint8_t *msg, size_t len)
{
    door_call_t *c = ctx;
    (void)flags; /* the reader refuses compressed messages: none reach here */
    c->svc->on_message(c, msg, len);
    return !c->svc_open; /* finished inside: the rest is not for it */
}

void door_local_data(door_call_t *c, const uint8_t *p, size_t n, int end)
{
    h2server_consume(c->s, n); /* whole messages are kept here, up to the limit */
    if (!c->svc_open)
        return;
    grpc_frame_result_t r = grpc_frame_read(&c->fr, p, n, end, deliver, c);
    if (r == GRPC_FRAME_STOPPED || !c->svc_open)
        return;
    if (r != GRPC_FRAME_OK) {
        const grpc_local_service_t *svc = c->svc;
        local_close(c);
        if (svc->on_cancel != NULL)
            svc->on_cancel(c);
        if (r == GRPC_FRAME_TOO_LARGE)
            door_finishf(c, GRPC_RESOURCE_EXHAUSTED, "request message of %u bytes is over the limit of %u bytes",
                         c->fr.refused_len, c->fr.max);
        else
            door_finishf(c, r == GRPC_FRAME_NOMEM ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL, "%s",
                         grpc_frame_strerror(r));
        return;
    }
    if (end && c->svc->on_half_close != NULL)
        c->svc->on_half_close(c);
}

void door_local_writable(door_call_t *c)
{
    if (c->svc_open && c->svc->on_writable != NULL)
        c->svc->on_writable(c);
}

void door_local_cancel(door_call_t *c)
{
    if (!c->svc_open)
        return;
    local_close(c);
    if (c->svc->on_cancel != NULL)
        c->svc->on_cancel(c);
}

void door_local_drain(grpc_door_t *d)
{
    /* each call leaves the list as its service finishes it (local_close);
     * the next is taken first, and no call's end touches another's */
    for (door_call_t *c = d->held, *next; c != NULL; c = next) {
        next = c->held_next;
        const grpc_local_service_t *svc = c->svc;
        if (svc->on_drain != NULL)
            svc->on_drain(c);
        if (!c->svc_open)
            continue;
        local_close(c);
        if (svc->on_cancel != NULL)
            svc->on_cancel(c);
        door_finishf(c, GRPC_UNAVAILABLE, "the gateway is draining");
    }
}

/* ---- grpc_local.h ------------------------------------------------------ */

int grpc_local_hold(grpc_local_call_t *call)
{
    grpc_door_t *d = call->door;
    if (!call->svc_open || call->held_prev != NULL)
        return call->svc_open ? 0 : GRPC_INTERNAL;
    if (d->nheld >= d->max_held) {
        call->hold_refused = 1;
        return GRPC_RESOURCE_EXHAUSTED;
    }
    call->held_next = d->held;
    call->held_prev = &d->held;
    if (d->held)
        d->held->held_prev = &call->held_next;
    d->held = call;
    d->nheld++;
    return 0;
}

int grpc_local_send(grpc_local_call_t *call, const uint8_t *msg, size_t len)
{
    if (!call->svc_open || call->finished)
        return -1;
    return door_send_message(call, 0, msg, len);
}

void grpc_local_finish(grpc_local_call_t *call, int code, const char *message)
{
    if (!call->svc_open)
        return;
    local_close(call);
    door_finish(call, code, message, message ? strlen(message) : 0, NULL, 0);
}

void grpc_local_set_data(grpc_local_call_t *call, void *data)
{
    call->svc_data = data;
}

void *grpc_local_data(const grpc_local_call_t *call)
{
    return call->svc_data;
}

worker_t *grpc_local_worker(const grpc_local_call_t *call)
{
    return call->w;
}

const char *grpc_local_metadata(const grpc_local_call_t *call, const char *name, size_t *len)
{
    return door_header(call, name, len);
}
