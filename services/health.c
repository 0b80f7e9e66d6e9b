/*
 * health.c: grpc.health.v1.Health/Check, the standard probe the gateway
 * (and any gRPC tooling) uses to decide whether this upstream is usable.
 * Watch is not registered; the server answers it UNIMPLEMENTED, which the
 * health protocol allows.
 */
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "db.h"
#include "svc.h"

static const char *const known[] = {
    "",
    "aurigraph.v11.TransactionService",
    "aurigraph.v11.ConsensusService",
    "aurigraph.v11.QuantumCryptoService",
    "aurigraph.v11.AIOptimizationService",
    "aurigraph.v11.CrossChainBridgeService",
};

static int known_service(const char *name)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i], name) == 0)
            return 1;
    return 0;
}

static void check(const ProtobufCMessage *in, struct reply *r)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)in;
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

    /* the protocol: an unknown service is a NOT_FOUND status, not a
     * SERVICE_UNKNOWN answer (that one is for Watch) */
    if (!known_service(req->service)) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "unknown service \"%.200s\"", req->service);
        return;
    }
    /* the gateway probes "": it is as ready as the database it stores to */
    int needs_db = req->service[0] == '\0' || strcmp(req->service, "aurigraph.v11.TransactionService") == 0;
    resp.status = needs_db && !db_ready() ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                                          : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    reply_ok(r, &resp.base);
}

static const struct svc_method methods[] = {
    {"Check", check, NULL, NULL},
};

const struct svc_service svc_health = {
    &grpc__health__v1__health__descriptor, methods, sizeof(methods) / sizeof(methods[0]), 1,
};
