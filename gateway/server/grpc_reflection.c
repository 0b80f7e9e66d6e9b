/*
 * grpc_reflection.c: ServerReflectionInfo on the grpc_local interface
 * (grpc_reflection.h). v1 and v1alpha share the wire format, so one set of
 * handlers serves both prefixes.
 *
 * Answers are built in the worker's own arena (thread-local: one worker is
 * one thread), whose first block is big enough for the usual file answer,
 * and reset once the door has copied the message: no allocation per answer
 * in the common case.
 */
#include "server/grpc_reflection.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/status.h"
#include "server/grpc_local.h"
#include "schema/reflection.h"
#include "server/worker.h"

/* Request bytes held while the client is behind on reading answers. */
#define REFLECTION_MAX_PENDING (64 * 1024)
/* An answer is bounded by the set's size anyway; this is the backstop. */
#define REFLECTION_ANSWER_LIMIT (16u << 20)
#define REFLECTION_ARENA_FIRST (64 * 1024)

/* One index for the process, built by the first worker that starts and
 * freed by the last that stops. Read without the lock: every worker takes
 * it in its start, before its loop serves anything. */
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static reflection_t *index_;
static unsigned index_users;

static _Thread_local arena_t answer_arena;
static _Thread_local int answer_arena_ready;
static _Thread_local char answer_first[REFLECTION_ARENA_FIRST];

typedef struct reflection_call {
    grpc_local_call_t *call;
    uint8_t *pending;          /* held requests: a 4-byte length, then the bytes, each */
    size_t pending_len, pending_cap, pending_off;
    int blocked;               /* the client is behind: answer nothing until on_writable */
    int half_closed;
} reflection_call_t;

static int reflection_start(struct worker *w, char *err, size_t errlen)
{
    const char *path = w->shared->cfg->descriptors;
    int rc = 0;
    pthread_mutex_lock(&index_lock);
    if (index_ == NULL) {
        char inner[256];
        /* no file (a server started without main's path): the gateway's
         * own protocols are still described */
        index_ = path ? reflection_load_file(path, inner, sizeof(inner)) : reflection_new("", 0, inner, sizeof(inner));
        if (index_ == NULL) {
            snprintf(err, errlen, "gRPC reflection: %s", inner);
            rc = -1;
        }
    }
    if (rc == 0)
        index_users++;
    pthread_mutex_unlock(&index_lock);
    return rc;
}

static void reflection_stop(struct worker *w)
{
    (void)w;
    pthread_mutex_lock(&index_lock);
    if (index_users > 0 && --index_users == 0) {
        reflection_free(index_);
        index_ = NULL;
    }
    pthread_mutex_unlock(&index_lock);
    if (answer_arena_ready) {
        arena_free(&answer_arena);
        answer_arena_ready = 0;
    }
}

static void call_free(reflection_call_t *rc)
{
    free(rc->pending);
    free(rc);
}

static void finish(reflection_call_t *rc, int code, const char *message)
{
    grpc_local_finish(rc->call, code, message);
    call_free(rc);
}

/* Answers one request; 0 while the call goes on, -1 when it is over (rc is freed). */
static int answer(reflection_call_t *rc, const uint8_t *msg, size_t len)
{
    if (!answer_arena_ready) {
        arena_init_with(&answer_arena, answer_first, sizeof(answer_first));
        answer_arena.limit = REFLECTION_ANSWER_LIMIT;
        answer_arena_ready = 1;
    }
    const uint8_t *out;
    size_t out_len;
    reflection_result_t r = reflection_answer(index_, msg, len, &answer_arena, &out, &out_len);
    int sent = r == REFLECTION_OK ? grpc_local_send(rc->call, out, out_len) : 0;
    arena_reset(&answer_arena);
    if (r == REFLECTION_BAD_REQUEST) {
        finish(rc, GRPC_INTERNAL, "not a grpc.reflection ServerReflectionRequest");
        return -1;
    }
    if (r == REFLECTION_NO_MEMORY) {
        finish(rc, GRPC_RESOURCE_EXHAUSTED, "reflection answer over the memory limit");
        return -1;
    }
    if (sent < 0) {
        finish(rc, GRPC_INTERNAL, "could not queue the answer");
        return -1;
    }
    rc->blocked = sent == 1;
    return 0;
}

/* Answers held requests while the client keeps up; ends the call once the
 * client is done and nothing is held. */
static void run_pending(reflection_call_t *rc)
{
    while (!rc->blocked && rc->pending_off < rc->pending_len) {
        uint32_t n;
        memcpy(&n, rc->pending + rc->pending_off, sizeof(n));
        const uint8_t *msg = rc->pending + rc->pending_off + sizeof(n);
        rc->pending_off += sizeof(n) + n;
        if (answer(rc, msg, n) != 0)
            return;
    }
    if (rc->pending_off == rc->pending_len)
        rc->pending_off = rc->pending_len = 0;
    if (rc->half_closed && rc->pending_len == 0)
        finish(rc, GRPC_OK, NULL);
}

static int hold(reflection_call_t *rc, const uint8_t *msg, size_t len)
{
    size_t need = rc->pending_len + sizeof(uint32_t) + len;
    if (need > REFLECTION_MAX_PENDING)
        return -1;
    if (need > rc->pending_cap) {
        size_t cap = rc->pending_cap ? rc->pending_cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(rc->pending, cap);
        if (p == NULL)
            return -1;
        rc->pending = p;
        rc->pending_cap = cap;
    }
    uint32_t n = (uint32_t)len;
    memcpy(rc->pending + rc->pending_len, &n, sizeof(n));
    memcpy(rc->pending + rc->pending_len + sizeof(n), msg, len);
    rc->pending_len = need;
    return 0;
}

static int on_open(grpc_local_call_t *call, const char *method, size_t len)
{
    if (!(len == 20 && memcmp(method, "ServerReflectionInfo", 20) == 0))
        return GRPC_UNIMPLEMENTED;
    if (index_ == NULL)
        return GRPC_UNAVAILABLE;
    /* a client may keep its stream for as long as it likes: one of the
     * worker's bounded slots; a drain ends it (the door's UNAVAILABLE,
     * after on_cancel) */
    int held = grpc_local_hold(call);
    if (held != 0)
        return held;
    reflection_call_t *rc = calloc(1, sizeof(*rc));
    if (rc == NULL)
        return GRPC_RESOURCE_EXHAUSTED;
    rc->call = call;
    grpc_local_set_data(call, rc);
    return 0;
}

static void on_message(grpc_local_call_t *call, const uint8_t *msg, size_t len)
{
    reflection_call_t *rc = grpc_local_data(call);
    if (!rc->blocked && rc->pending_len == 0) {
        answer(rc, msg, len);
        return;
    }
    if (hold(rc, msg, len) != 0)
        finish(rc, GRPC_RESOURCE_EXHAUSTED, "too many reflection requests ahead of their answers");
}

static void on_half_close(grpc_local_call_t *call)
{
    reflection_call_t *rc = grpc_local_data(call);
    rc->half_closed = 1;
    run_pending(rc);
}

static void on_writable(grpc_local_call_t *call)
{
    reflection_call_t *rc = grpc_local_data(call);
    rc->blocked = 0;
    run_pending(rc);
}

static void on_cancel(grpc_local_call_t *call)
{
    call_free(grpc_local_data(call));
}

const grpc_local_service_t grpc_reflection_v1_service = {
    .prefix = "/grpc.reflection.v1.ServerReflection/",
    .start = reflection_start,
    .stop = reflection_stop,
    .on_open = on_open,
    .on_message = on_message,
    .on_half_close = on_half_close,
    .on_cancel = on_cancel,
    .on_writable = on_writable,
};

const grpc_local_service_t grpc_reflection_v1alpha_service = {
    .prefix = "/grpc.reflection.v1alpha.ServerReflection/",
    .start = reflection_start,
    .stop = reflection_stop,
    .on_open = on_open,
    .on_message = on_message,
    .on_half_close = on_half_close,
    .on_cancel = on_cancel,
    .on_writable = on_writable,
};
