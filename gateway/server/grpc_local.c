/*
 * grpc_local.c: the services the gateway answers itself on its gRPC
 * listener (grpc_local.h), and how a path finds one. A service adds one
 * line to the table below, and its header to the includes.
 */
#include "server/grpc_local.h"

#include <string.h>

static const grpc_local_service_t *const services[] = {
    /* &grpc_health_service, ... (one line per service) */
    NULL,
};

const grpc_local_service_t *grpc_local_find(const char *path, size_t len)
{
    for (size_t i = 0; services[i] != NULL; i++) {
        size_t n = strlen(services[i]->prefix);
        if (len > n && memcmp(path, services[i]->prefix, n) == 0)
            return services[i];
    }
    return NULL;
}
