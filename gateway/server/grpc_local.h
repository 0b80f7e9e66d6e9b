/*
 * grpc_local: gRPC services the gateway answers itself on its gRPC
 * listener (grpc.health.v1.Health, server reflection), beside the
 * pass-through. The door (grpc_door.c) routes a call here when its path
 * starts with a registered service's prefix, before the method table:
 * what is answered locally never reaches a backend.
 *
 * The door does the protocol: request messages arrive whole and
 * unframed (compressed ones are refused, INTERNAL, since nothing here
 * decompresses), responses are framed and flow-controlled, the status goes
 * in trailers (or trailers-only when nothing was sent). A call is the
 * service's from on_open until it calls grpc_local_finish or hears
 * on_cancel, whichever first; after that the handle is dead to it.
 * Everything runs on the worker's loop thread: no locks.
 *
 * Registering: one line in grpc_local_services.c's table, with the
 * service's own header (the service lives in its own file of
 * gateway/server/).
 */
#ifndef AG_GRPC_LOCAL_H
#define AG_GRPC_LOCAL_H

#include <stddef.h>
#include <stdint.h>

struct worker;
typedef struct grpc_local_call grpc_local_call_t;

typedef struct grpc_local_service {
    /* The paths it answers: "/grpc.health.v1.Health/" takes every method
     * of that service. */
    const char *prefix;
    /* A call starts; method is the path after the prefix ("Check"), not
     * NUL-terminated. 0 to take it; or a gRPC code (UNIMPLEMENTED for a
     * method it does not have) and the call ends with it, no other
     * callback following. */
    int (*on_open)(grpc_local_call_t *call, const char *method, size_t len);
    /* One whole request message (the 5-byte prefix removed), valid during
     * the call. */
    void (*on_message)(grpc_local_call_t *call, const uint8_t *msg, size_t len);
    /* The client sent its last message (END_STREAM). */
    void (*on_half_close)(grpc_local_call_t *call);
    /* The call is over before the service finished it: the client
     * cancelled or hung up, the drain timed out. Free what it holds. */
    void (*on_cancel)(grpc_local_call_t *call);
    /* Optional: the client caught up after grpc_local_send returned 1. */
    void (*on_writable)(grpc_local_call_t *call);
    /* Optional, for held calls (grpc_local_hold): the gateway drains, so
     * the call must end now (its last words, then grpc_local_finish);
     * without it the door calls on_cancel and ends the call UNAVAILABLE. */
    void (*on_drain)(grpc_local_call_t *call);
    /* Optional: once per worker when its door starts, on the worker's
     * thread, before it serves (-1 with err: the gateway does not start),
     * and when the door stops (after its calls are gone). */
    int (*start)(struct worker *w, char *err, size_t errlen);
    void (*stop)(struct worker *w);
} grpc_local_service_t;

/* The door's start and stop: every service's start (all or none: one
 * that fails stops those started before it), and every stop. */
int grpc_local_start(struct worker *w, char *err, size_t errlen);
void grpc_local_stop(struct worker *w);

/* Every service, NULL-terminated (grpc_local_services.c). */
extern const grpc_local_service_t *const grpc_local_services[];

/* The service registered for a method path, or NULL. */
const grpc_local_service_t *grpc_local_find(const char *path, size_t len);

/* One response message (copied; the response headers go out before the
 * first). 0: queued; 1: queued, but the client is behind: send no more
 * until on_writable; -1: the call is over (the message was dropped). */
int grpc_local_send(grpc_local_call_t *call, const uint8_t *msg, size_t len);
/* From on_open only: the call will stay open long (a Watch, a reflection
 * stream), so it takes one of the worker's grpc.max_local_streams slots
 * until it ends, and is ended at a drain (on_drain) rather than waited
 * for. 0: held; GRPC_RESOURCE_EXHAUSTED when the worker holds its limit
 * already: on_open returns that, and the door says why. */
int grpc_local_hold(grpc_local_call_t *call);
/* Ends the call with a gRPC status; message may be NULL. The service's
 * part is over: no callback follows, the handle is dead to it. */
void grpc_local_finish(grpc_local_call_t *call, int code, const char *message);

/* The service's own pointer for the call (NULL until set). */
void grpc_local_set_data(grpc_local_call_t *call, void *data);
void *grpc_local_data(const grpc_local_call_t *call);
/* The worker serving the call: its shared state (w->shared: the schema,
 * the split, endpoint health, draining), its loop (w->h2o.loop). */
struct worker *grpc_local_worker(const grpc_local_call_t *call);
/* A request metadata value by lower-case name (NULL when absent); valid
 * until the call ends. */
const char *grpc_local_metadata(const grpc_local_call_t *call, const char *name, size_t *len);

#endif
