/*
 * svc.h: the contract between the gRPC server loop (server.c) and the
 * service modules (transaction.c, consensus.c, crypto.c, ai.c, bridge.c,
 * health.c), plus the small helpers they share (util.c).
 *
 * Threading: the server's pollers call into the services only while
 * holding one process-wide mutex, so service state needs no locks of its
 * own. Handlers are short (the slowest is an RSA-3072 key generation);
 * the gRPC transport work runs in parallel outside that mutex.
 */
#ifndef AG_SVC_H
#define AG_SVC_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "google/protobuf/timestamp.pb-c.h"

/* What a handler answers: a status, and on OK the packed response. */
struct reply {
    grpc_status_code code;
    char message[256];
    grpc_slice body;
    int has_body;
};

/* A server-streaming call, owned by the server; services only hold the
 * pointer between their stream_open and stream_close callbacks. */
struct stream;

typedef void (*svc_unary_fn)(const ProtobufCMessage *req, struct reply *r);
/* Leave r->code OK to keep the stream open; any other code ends the call
 * with that status (stream_close is then not called). */
typedef void (*svc_stream_open_fn)(const ProtobufCMessage *req, struct stream *s, struct reply *r);
typedef void (*svc_stream_close_fn)(struct stream *s);

struct svc_method {
    const char *name;                 /* as in the .proto service */
    svc_unary_fn unary;               /* exactly one of unary / stream_open */
    svc_stream_open_fn stream_open;
    svc_stream_close_fn stream_close;
};

struct svc_service {
    const ProtobufCServiceDescriptor *desc;
    const struct svc_method *methods;
    size_t n_methods;
    int exempt;                       /* no fault injection, no added latency */
};

extern const struct svc_service svc_transaction, svc_consensus, svc_crypto, svc_ai, svc_bridge,
    svc_health;

/* server.c: queue one message on a stream (takes its own reference to msg;
 * silently dropped once the client has gone). */
void stream_send(struct stream *s, grpc_slice msg);

/* consensus.c: the node's id and start state (the PRNG must be seeded). */
void consensus_init(void);
void crypto_init(void);
void crypto_cleanup(void);
void transaction_cleanup(void);
void bridge_init(void);
void bridge_cleanup(void);

/* util.c ------------------------------------------------------------------ */

void reply_ok(struct reply *r, const ProtobufCMessage *msg);
void reply_error(struct reply *r, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
grpc_slice pb_pack(const ProtobufCMessage *msg);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

int64_t now_realtime_ns(void);
int64_t now_monotonic_ns(void);
void timestamp_set(Google__Protobuf__Timestamp *ts, int64_t realtime_ns);

/* Deterministic pseudo-random numbers (splitmix64) for ids and faults. */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);

double rng_unit(void);           /* uniform in [0, 1), like Math.random() */
void uuid_v4(char out[37]);      /* random UUID text, like UUID.randomUUID() */

void hex_encode(char *out, const unsigned char *in, size_t n); /* out: 2n+1 */

/* Times as the original platform prints them: System.currentTimeMillis(),
 * and Instant.toString() ("2025-10-15T12:34:56.123456Z", UTC, microseconds
 * at most, the fraction in groups of 3 digits or none). */
int64_t now_epoch_ms(void);
#define INSTANT_LEN 40
void instant_format(char out[INSTANT_LEN], int64_t realtime_ns);

/* Decimal strings as the API carries money: digits, optional '.' and
 * digits; no sign, no exponent; at most DEC_MAX_LEN characters. */
#define DEC_MAX_LEN 78
int dec_valid(const char *s);
int dec_is_zero(const char *s);
char *dec_mul_u64(const char *dec, uint64_t n); /* malloc'd, canonical */
char *dec_add(const char *a, const char *b);    /* malloc'd, canonical */
/* BigDecimal.add: the result keeps the larger scale ("0" + "2.50" = "2.50"). */
char *dec_add_scale(const char *a, const char *b); /* malloc'd */

/* A string-keyed index; keys are borrowed from the values. */
struct strmap {
    const char **keys;
    void **vals;
    size_t cap, len;
};
void *strmap_get(const struct strmap *m, const char *key);
void strmap_put(struct strmap *m, const char *key, void *val); /* replaces */
void strmap_free(struct strmap *m);

/* Length-checked string field validation used by every service. */
int field_present(const char *s);
int field_too_long(const char *s, size_t max);

#endif
