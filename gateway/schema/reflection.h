/*
 * reflection: the answers of gRPC server reflection (grpc.reflection.v1 and
 * v1alpha, one wire format) from the descriptors the gateway serves.
 *
 * Built once from the served FileDescriptorSet plus the descriptors of the
 * gRPC protocols the gateway answers itself (reflection v1, v1alpha, health
 * v1), which the binary carries; a file the served set already has is not
 * added twice. The file bytes are kept as they came, so a client gets what
 * protoc wrote. Read-only once built: all workers share one.
 *
 * Pure: no sockets, no streams. The caller feeds one ServerReflectionRequest
 * message at a time and sends back the answer; a request that asks for
 * something unknown gets an error_response (NOT_FOUND) and the stream goes on.
 */
#ifndef AG_REFLECTION_H
#define AG_REFLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

typedef struct reflection reflection_t;

/* From a serialized FileDescriptorSet (copied). NULL with a message in err. */
reflection_t *reflection_new(const void *fds, size_t len, char *err, size_t errlen);
reflection_t *reflection_load_file(const char *path, char *err, size_t errlen);
void reflection_free(reflection_t *r);

typedef enum reflection_result {
    REFLECTION_OK = 0,
    REFLECTION_BAD_REQUEST,  /* not a ServerReflectionRequest: end the stream (INTERNAL, as gRPC servers do) */
    REFLECTION_NO_MEMORY,    /* the arena's limit: RESOURCE_EXHAUSTED */
} reflection_result_t;

/* One serialized ServerReflectionRequest -> one serialized
 * ServerReflectionResponse in *out (*out_len bytes), both carved out of `a`:
 * no allocation outside the arena. */
reflection_result_t reflection_answer(const reflection_t *r, const void *request, size_t len, arena_t *a,
                                      const uint8_t **out, size_t *out_len);

/* The services list_services names, in that order: the served set's, then
 * health and both reflection services. */
size_t reflection_service_count(const reflection_t *r);
const char *reflection_service_at(const reflection_t *r, size_t i);

#endif
