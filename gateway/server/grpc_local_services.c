/*
 * grpc_local_services.c: the table of services the gateway answers itself
 * on its gRPC listener (grpc_local.h), one line each.
 */
#include "server/grpc_local.h"

#include "server/grpc_health.h"
#include "server/grpc_reflection.h"

const grpc_local_service_t *const grpc_local_services[] = {
    &grpc_health_service,
    &grpc_reflection_v1_service,
    &grpc_reflection_v1alpha_service,
    NULL,
};
