/*
 * grpc_reflection: gRPC server reflection (grpc.reflection.v1 and v1alpha,
 * ServerReflectionInfo) answered by the gateway on its gRPC listener (a
 * grpc_local service) from schema/reflection's index of the descriptor set
 * it serves, so clients discover the services without reaching a backend.
 *
 * A bidi stream: each request message is answered in order; an unknown
 * name is an error_response and the stream goes on; the call ends OK
 * after the client half-closes and the last answer is queued. A client
 * that sends faster than it reads gets its requests held (a bounded queue)
 * until it catches up, then RESOURCE_EXHAUSTED. A stream takes one of the
 * worker's grpc.max_local_streams slots (RESOURCE_EXHAUSTED past them) and
 * is ended UNAVAILABLE when the gateway drains, not waited for.
 *
 * The index is built once, when the first worker starts, from the file the
 * gateway loaded (config descriptors), and shared read-only by all workers.
 */
#ifndef AG_GRPC_REFLECTION_H
#define AG_GRPC_REFLECTION_H

/* grpc_local.h's; not included, so grpc_local.c can include this */
struct grpc_local_service;
extern const struct grpc_local_service grpc_reflection_v1_service;
extern const struct grpc_local_service grpc_reflection_v1alpha_service;

#endif
