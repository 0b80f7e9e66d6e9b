/*
 * grpc_local.c: the services the gateway answers itself on its gRPC
 * listener (grpc_local.h): how a path finds one, and their start and stop.
 * The table is grpc_local_services.c's (a service adds one line there):
 * apart, so the services' includes of grpc_local.h make no circle.
 */
#include "server/grpc_local.h"

#include <string.h>

int grpc_local_start(struct worker *w, char *err, size_t errlen)
{
    for (size_t i = 0; grpc_local_services[i] != NULL; i++) {
        if (grpc_local_services[i]->start == NULL || grpc_local_services[i]->start(w, err, errlen) == 0)
            continue;
        while (i-- > 0)
            if (grpc_local_services[i]->stop != NULL)
                grpc_local_services[i]->stop(w);
        return -1;
    }
    return 0;
}

void grpc_local_stop(struct worker *w)
{
    for (size_t i = 0; grpc_local_services[i] != NULL; i++)
        if (grpc_local_services[i]->stop != NULL)
            grpc_local_services[i]->stop(w);
}

const grpc_local_service_t *grpc_local_find(const char *path, size_t len)
{
    for (size_t i = 0; grpc_local_services[i] != NULL; i++) {
        size_t n = strlen(grpc_local_services[i]->prefix);
        if (len > n && memcmp(path, grpc_local_services[i]->prefix, n) == 0)
            return grpc_local_services[i];
    }
    return NULL;
}
