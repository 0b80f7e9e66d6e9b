/*
 * ai.c: AIOptimizationService, a fixed registry of models and optimisation
 * requests that are accepted and acknowledged. Optimize echoes the
 * caller's free-form parameters back as applied_parameters, which is what
 * the gateway's Struct round trip needs to be observable end to end.
 */
#include <stdio.h>
#include <string.h>

#include "aurigraph/v11/ai.pb-c.h"
#include "svc.h"

struct model_def {
    const char *id, *name, *version, *type, *status;
    double accuracy;
    const char *description;
    int64_t last_trained; /* Unix seconds */
};

static const struct model_def models[] = {
    {"consensus-optimizer-v3", "Consensus Optimizer", "3.2.1", "CONSENSUS_OPTIMIZER", "ACTIVE",
     0.947, "Tunes HyperRAFT++ batch size and election timeouts from observed latency.",
     1767225600},
    {"tx-router-v2", "Transaction Router", "2.4.0", "TRANSACTION_ROUTER", "ACTIVE", 0.912,
     "Predicts shard load and routes transactions to the least busy validator set.", 1764547200},
    {"anomaly-detector-v1", "Anomaly Detector", "1.8.3", "ANOMALY_DETECTION", "ACTIVE", 0.968,
     "Flags unusual transaction patterns (fraud, spam bursts) for review.", 1761955200},
    {"fee-predictor-v1", "Fee Predictor", "1.1.0", "FEE_PREDICTION", "TRAINING", 0.874,
     "Forecasts gas prices for the next blocks from mempool pressure.", 1769904000},
};

#define N_MODELS (sizeof(models) / sizeof(models[0]))

static int64_t optimizations;

static void fill_model(Aurigraph__V11__Model *m, Google__Protobuf__Timestamp *ts,
                       const struct model_def *d)
{
    aurigraph__v11__model__init(m);
    m->id = (char *)d->id;
    m->name = (char *)d->name;
    m->version = (char *)d->version;
    m->type = (char *)d->type;
    m->status = (char *)d->status;
    m->accuracy = d->accuracy;
    m->description = (char *)d->description;
    timestamp_set(ts, d->last_trained * 1000000000);
    m->last_trained = ts;
}

static void list_models(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListModelsResponse resp = AURIGRAPH__V11__LIST_MODELS_RESPONSE__INIT;
    Aurigraph__V11__Model m[N_MODELS];
    Aurigraph__V11__Model *ptrs[N_MODELS];
    Google__Protobuf__Timestamp ts[N_MODELS];

    (void)in;
    for (size_t i = 0; i < N_MODELS; i++) {
        fill_model(&m[i], &ts[i], &models[i]);
        ptrs[i] = &m[i];
    }
    resp.models = ptrs;
    resp.n_models = N_MODELS;
    resp.total_models = (int32_t)N_MODELS;
    reply_ok(r, &resp.base);
}

static void get_model(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetModelRequest *req = (const void *)in;
    Aurigraph__V11__Model m;
    Google__Protobuf__Timestamp ts;

    if (!field_present(req->model_id)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "model_id must not be empty");
        return;
    }
    for (size_t i = 0; i < N_MODELS; i++)
        if (strcmp(models[i].id, req->model_id) == 0) {
            fill_model(&m, &ts, &models[i]);
            reply_ok(r, &m.base);
            return;
        }
    reply_error(r, GRPC_STATUS_NOT_FOUND, "model \"%.128s\" not found", req->model_id);
}

/* The expected gain depends only on the request's kind and target, so
 * repeating a request repeats the estimate: 2% .. 25%. */
static double expected_improvement(const char *type, const char *metric)
{
    uint32_t h = 2166136261u;
    for (const char *p = type; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = metric; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return 0.02 + (double)(h % 2301) / 10000.0;
}

static void optimize(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__OptimizeRequest *req = (const void *)in;
    Aurigraph__V11__OptimizeResponse resp = AURIGRAPH__V11__OPTIMIZE_RESPONSE__INIT;
    Google__Protobuf__Struct empty = GOOGLE__PROTOBUF__STRUCT__INIT;
    char id[48];

    if (field_too_long(req->optimization_type, 128) || field_too_long(req->target_metric, 128)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                    "optimization_type and target_metric must be at most 128 characters");
        return;
    }
    optimizations++;
    snprintf(id, sizeof(id), "opt-%06lld-%08llx", (long long)optimizations,
             (unsigned long long)(rng_next() & 0xffffffffu));
    resp.optimization_id = id;
    resp.status = "APPLIED";
    resp.expected_improvement = expected_improvement(req->optimization_type, req->target_metric);
    /* packed straight from the request: the echo is byte for byte */
    resp.applied_parameters = req->parameters ? req->parameters : &empty;
    reply_ok(r, &resp.base);
}

static const struct svc_method methods[] = {
    {"ListModels", list_models, NULL, NULL},
    {"GetModel", get_model, NULL, NULL},
    {"Optimize", optimize, NULL, NULL},
};

const struct svc_service svc_ai = {
    &aurigraph__v11__aioptimization_service__descriptor, methods,
    sizeof(methods) / sizeof(methods[0]), 0,
};
