/*
 * ai.c: AIOptimizationService, the original platform's /api/v11/ai routes
 * (AIApiResource and AIModelMetricsApiResource). The original answers from
 * fixed figures, a few of them random within stated ranges and its times
 * relative to now; this service does the same with the original's numbers
 * and ranges, so clients see values in the units they expect (accuracies
 * and rates in percent, latencies in ms). One registry of the five models
 * feeds every route that names them, so the list, a model's details and
 * the performance table agree with each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aurigraph/v11/ai.pb-c.h"
#include "svc.h"

struct model_def {
    const char *id, *name, *type, *status;
    double accuracy;
    const char *version;
    int64_t trained_ago_s; /* lastTrainedAt = now - this */
    int32_t epochs;
    const char *description;
    const char *detail_description; /* the details route's longer text */
    /* the performance route's figures */
    double precision, recall, f1, latency_ms;
    int64_t throughput, data_points;
};

static const struct model_def models[] = {
    {"consensus-optimizer-v3", "HyperRAFT++ Consensus Optimizer", "CONSENSUS_OPTIMIZATION", "ACTIVE",
     98.5, "3.0.1", 7200, 1000, "ML model optimizing consensus latency and throughput",
     "ML model optimizing consensus latency and throughput using deep learning", 97.8, 98.2, 98.0, 2.3,
     1850000, 1250000},
    {"tx-predictor-v2", "Transaction Volume Predictor", "PREDICTION", "ACTIVE", 95.8, "2.5.0", 3600, 750,
     "Predicts transaction volume and network congestion", NULL, 94.5, 96.2, 95.3, 3.1, 850000, 875000},
    {"anomaly-detector-v1", "Transaction Anomaly Detector", "ANOMALY_DETECTION", "ACTIVE", 99.2, "1.2.0",
     1800, 500, "Detects suspicious transaction patterns", NULL, 99.5, 98.8, 99.1, 1.8, 2100000, 2500000},
    {"gas-optimizer-v1", "Gas Price Optimizer", "OPTIMIZATION", "ACTIVE", 92.3, "1.0.5", 5400, 600,
     "Optimizes gas price recommendations", NULL, 91.8, 92.7, 92.2, 4.5, 650000, 450000},
    {"load-balancer-v2", "Network Load Balancer", "LOAD_BALANCING", "MAINTENANCE", 88.5, "2.1.0", 86400,
     400, "Balances load across validator nodes", NULL, 87.2, 89.1, 88.1, 5.2, 550000, 320000},
};

#define N_MODELS (sizeof(models) / sizeof(models[0]))

static int32_t active_models(void)
{
    int32_t n = 0;
    for (size_t i = 0; i < N_MODELS; i++)
        n += strcmp(models[i].status, "ACTIVE") == 0;
    return n;
}

static const struct model_def *find_model(const char *id)
{
    for (size_t i = 0; i < N_MODELS; i++)
        if (strcmp(models[i].id, id) == 0)
            return &models[i];
    return NULL;
}

/* Instant.now() plus `offset_s` seconds, as Instant.toString() prints it. */
static void instant_in(char out[INSTANT_LEN], int64_t now_ns, int64_t offset_s)
{
    instant_format(out, now_ns + offset_s * 1000000000);
}

static double uniform(double lo, double width)
{
    return lo + rng_unit() * width;
}

/* ---- models ------------------------------------------------------------- */

static void list_models(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__AIModelsResponse resp = AURIGRAPH__V11__AIMODELS_RESPONSE__INIT;
    Aurigraph__V11__AIModelSummary m[N_MODELS], *ptrs[N_MODELS];
    char trained[N_MODELS][INSTANT_LEN];
    int64_t now = now_realtime_ns();

    (void)in;
    for (size_t i = 0; i < N_MODELS; i++) {
        const struct model_def *d = &models[i];
        aurigraph__v11__aimodel_summary__init(&m[i]);
        m[i].model_id = (char *)d->id;
        m[i].name = (char *)d->name;
        m[i].type = (char *)d->type;
        m[i].status = (char *)d->status;
        m[i].accuracy = d->accuracy;
        m[i].version = (char *)d->version;
        instant_in(trained[i], now, -d->trained_ago_s);
        m[i].last_trained_at = trained[i];
        m[i].training_epochs = d->epochs;
        m[i].description = (char *)d->description;
        ptrs[i] = &m[i];
    }
    resp.total_models = (int32_t)N_MODELS;
    resp.active_models = active_models();
    resp.models = ptrs;
    resp.n_models = N_MODELS;
    resp.timestamp = now / 1000000;
    reply_ok(r, &resp.base);
}

/* The original answers every id with the consensus optimizer's details and
 * the id echoed: it never looks the id up. Here a registered id gets its
 * own name, type, accuracy and training figures (what the route is for);
 * any other id still answers 200 with the original's default details. The
 * improvement percentages and training setup are the original's for all. */
static void get_model(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetModelRequest *req = (const void *)in;
    Aurigraph__V11__AIModelDetails m = AURIGRAPH__V11__AIMODEL_DETAILS__INIT;
    Aurigraph__V11__AIModelPerformance perf = AURIGRAPH__V11__AIMODEL_PERFORMANCE__INIT;
    Aurigraph__V11__AIModelTrainingInfo info = AURIGRAPH__V11__AIMODEL_TRAINING_INFO__INIT;
    char trained[INSTANT_LEN], next[INSTANT_LEN];
    int64_t now = now_realtime_ns();
    const struct model_def *d;

    /* Not reachable over REST (an empty segment matches no route); the
     * original's model routes answer an empty id this way. */
    if (!field_present(req->model_id)) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "Model not found");
        return;
    }
    d = find_model(req->model_id);
    if (!d)
        d = &models[0];

    m.model_id = req->model_id;
    m.name = (char *)d->name;
    m.type = (char *)d->type;
    m.status = (char *)d->status;
    m.accuracy = d->accuracy;
    m.version = (char *)d->version;
    instant_in(trained, now, -d->trained_ago_s);
    instant_in(next, now, 86400);
    m.last_trained_at = trained;
    m.next_training_at = next;
    m.training_epochs = d->epochs;
    m.training_data_size = d->data_points;
    m.description = (char *)(d->detail_description ? d->detail_description : d->description);

    perf.latency_reduction = 23.5;
    perf.throughput_improvement = 18.2;
    perf.energy_savings = 12.5;
    perf.prediction_accuracy = d->accuracy;
    perf.false_positive_rate = 0.8;
    perf.false_negative_rate = 0.7;
    m.performance = &perf;

    info.algorithm = "Deep Neural Network";
    info.framework = "DeepLearning4J";
    info.layers = 8;
    info.neurons = 512;
    info.learning_rate = 0.001;
    info.batch_size = 64;
    info.last_training_duration = 3600;
    m.training_info = &info;

    m.timestamp = now / 1000000;
    reply_ok(r, &m.base);
}

static void retrain_model(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__RetrainModelRequest *req = (const void *)in;
    Aurigraph__V11__RetrainModelResponse resp = AURIGRAPH__V11__RETRAIN_MODEL_RESPONSE__INIT;
    char uuid[37], job[64], done[INSTANT_LEN];
    int64_t now = now_realtime_ns();

    if (!field_present(req->model_id)) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "Model not found");
        return;
    }
    uuid_v4(uuid);
    snprintf(job, sizeof(job), "retrain-job-%s", uuid);
    instant_in(done, now, 3600);
    resp.status = "RETRAINING_INITIATED";
    resp.model_id = req->model_id;
    resp.job_id = job;
    resp.estimated_duration = "3600 seconds";
    resp.estimated_completion = done;
    /* the original takes the epochs as sent, 1000 when absent */
    resp.epochs = req->epochs ? req->epochs->value : 1000;
    resp.message = "Model retraining has been initiated. Check job status for progress.";
    resp.timestamp = now / 1000000;
    reply_ok(r, &resp.base);
}

/* AIModelMetricsApiResource's own name table: it knows one model the
 * registry does not, and "Unknown Model" for the rest. */
static const char *metrics_model_name(const char *id)
{
    static const char *const names[][2] = {
        {"consensus-optimizer-v3", "HyperRAFT++ Consensus Optimizer"},
        {"tx-predictor-v2", "Transaction Volume Predictor"},
        {"anomaly-detector-v1", "Transaction Anomaly Detector"},
        {"gas-optimizer-v1", "Gas Price Optimizer"},
        {"congestion-predictor-v1", "Network Congestion Predictor"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i][0], id) == 0)
            return names[i][1];
    return "Unknown Model";
}

static const char *metrics_model_type(const char *id)
{
    if (strstr(id, "optimizer"))
        return "OPTIMIZATION";
    if (strstr(id, "predictor"))
        return "PREDICTION";
    if (strstr(id, "detector"))
        return "ANOMALY_DETECTION";
    return "CLASSIFICATION";
}

static void get_model_metrics(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetModelMetricsRequest *req = (const void *)in;
    Aurigraph__V11__AIModelMetricsResponse m = AURIGRAPH__V11__AIMODEL_METRICS_RESPONSE__INIT;
    static const char *const buckets[] = {"0-20%", "20-40%", "40-60%", "60-80%", "80-100%"};
    static const int32_t bucket_counts[] = {5, 12, 23, 35, 25};
    static const char *const features[] = {"transaction_volume", "network_latency",
                                           "validator_performance", "gas_prices", "block_time"};
    static const double weights[] = {0.35, 0.25, 0.20, 0.12, 0.08};
    Aurigraph__V11__AIModelMetricsResponse__ConfidenceDistributionEntry cd[5], *cdp[5];
    Aurigraph__V11__AIModelMetricsResponse__FeatureImportanceEntry fi[5], *fip[5];
    Aurigraph__V11__MetricsDataPoint hist[7], *histp[7];
    char trained[INSTANT_LEN];
    int64_t now = now_realtime_ns(), now_ms = now / 1000000;

    if (!field_present(req->model_id)) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "Model not found");
        return;
    }
    m.model_id = req->model_id;
    m.timestamp = now_ms;
    m.period = field_present(req->period) ? req->period : "24h";
    m.model_name = (char *)metrics_model_name(req->model_id);
    m.model_type = (char *)metrics_model_type(req->model_id);
    m.version = "3.1.5";
    m.status = "ACTIVE";

    m.accuracy = uniform(96.5, 3);
    m.precision = uniform(95.8, 3);
    m.recall = uniform(94.2, 4);
    m.f1_score = uniform(95.0, 3);
    m.inference_latency = uniform(12.5, 5);
    m.throughput = uniform(5000.0, 2000);

    instant_in(trained, now, -7200);
    m.last_trained_at = trained;
    m.training_epochs = 1000;
    m.training_duration = 3600000;
    m.training_data_size = 1000000;
    m.validation_loss = uniform(0.025, 0.01);
    m.training_loss = uniform(0.020, 0.01);

    m.memory_usage = uniform(2048.0, 512);
    m.cpu_usage = uniform(45.0, 25);
    m.gpu_usage = uniform(75.0, 20);

    m.total_predictions = 1500000 + (int64_t)(rng_unit() * 500000);
    m.predictions24h = 50000 + (int64_t)(rng_unit() * 20000);
    /* (long)(total * accuracy / 100), truncated as Java's cast does */
    m.correct_predictions = (int64_t)((double)m.total_predictions * m.accuracy / 100);
    m.incorrect_predictions = m.total_predictions - m.correct_predictions;

    for (size_t i = 0; i < 5; i++) {
        aurigraph__v11__aimodel_metrics_response__confidence_distribution_entry__init(&cd[i]);
        cd[i].key = (char *)buckets[i];
        cd[i].value = bucket_counts[i];
        cdp[i] = &cd[i];
        aurigraph__v11__aimodel_metrics_response__feature_importance_entry__init(&fi[i]);
        fi[i].key = (char *)features[i];
        fi[i].value = weights[i];
        fip[i] = &fi[i];
    }
    m.confidence_distribution = cdp;
    m.n_confidence_distribution = 5;
    m.feature_importance = fip;
    m.n_feature_importance = 5;

    /* the last 7 days, oldest first */
    for (int i = 6; i >= 0; i--) {
        Aurigraph__V11__MetricsDataPoint *p = &hist[6 - i];
        aurigraph__v11__metrics_data_point__init(p);
        p->date = now_ms - (int64_t)i * 86400000;
        p->accuracy = uniform(95.0, 4);
        p->predictions = 45000 + (int64_t)(rng_unit() * 15000);
        p->latency = uniform(11.0, 6);
        histp[6 - i] = p;
    }
    m.historical_metrics = histp;
    m.n_historical_metrics = 7;
    reply_ok(r, &m.base);
}

/* ---- status, metrics, predictions ------------------------------------------ */

static void fill_impact(Aurigraph__V11__AIPerformanceImpact *p)
{
    aurigraph__v11__aiperformance_impact__init(p);
    p->consensus_latency_reduction = 23.5;
    p->throughput_increase = 18.2;
    p->energy_efficiency_gain = 12.5;
    p->prediction_accuracy = 95.8;
    p->anomaly_detection_rate = 99.2;
}

static void fill_usage(Aurigraph__V11__AIResourceUsage *u)
{
    aurigraph__v11__airesource_usage__init(u);
    u->cpu_utilization = 45.3;
    u->memory_utilization = 62.8;
    u->gpu_utilization = 78.5;
    u->inference_latency = 2.5;
    u->training_queue_size = 0;
}

static void get_status(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__AIStatusResponse s = AURIGRAPH__V11__AISTATUS_RESPONSE__INIT;
    Aurigraph__V11__AIPerformanceImpact impact;
    Aurigraph__V11__AIResourceUsage usage;
    static const char *const health[][2] = {
        {"modelHealth", "EXCELLENT"},       {"dataQuality", "HIGH"},
        {"inferenceSpeed", "OPTIMAL"},      {"predictionAccuracy", "HIGH"},
        {"systemStability", "STABLE"},
    };
    static const char *const activities[] = {
        "Model retrained: consensus-optimizer-v3 (2 hours ago)",
        "Anomaly detected: 2 suspicious transactions blocked (5 hours ago)",
        "Performance gain: +18.2% throughput increase (12 hours ago)",
    };
    Aurigraph__V11__AIStatusResponse__HealthIndicatorsEntry h[5], *hp[5];
    int64_t now_ms = now_epoch_ms();

    (void)in;
    s.system_status = "OPERATIONAL";
    s.ai_enabled = 1;
    s.ml_optimization_enabled = 1;
    s.version = "12.0.0";
    s.total_models = (int32_t)N_MODELS;
    s.active_models = active_models();
    s.models_in_training = 0;
    s.average_model_accuracy = 95.7;
    fill_impact(&impact);
    s.performance_impact = &impact;
    fill_usage(&usage);
    s.resource_usage = &usage;
    for (size_t i = 0; i < 5; i++) {
        aurigraph__v11__aistatus_response__health_indicators_entry__init(&h[i]);
        h[i].key = (char *)health[i][0];
        h[i].value = (char *)health[i][1];
        hp[i] = &h[i];
    }
    s.health_indicators = hp;
    s.n_health_indicators = 5;
    s.recent_activities = (char **)activities;
    s.n_recent_activities = 3;
    s.timestamp = now_ms;
    s.last_updated = now_ms;
    reply_ok(r, &s.base);
}

static void get_metrics(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__AIMetricsResponse m = AURIGRAPH__V11__AIMETRICS_RESPONSE__INIT;
    Aurigraph__V11__AIPerformanceImpact impact;
    Aurigraph__V11__AIResourceUsage usage;

    (void)in;
    m.system_status = "OPTIMAL";
    m.total_models = (int32_t)N_MODELS;
    m.active_models = active_models();
    m.models_in_training = 0;
    m.average_accuracy = 95.7;
    fill_impact(&impact);
    m.performance_impact = &impact;
    fill_usage(&usage);
    m.resource_usage = &usage;
    m.predictions_today = 1250000;
    m.prediction_accuracy_today = 96.2;
    m.anomalies_detected_today = 15;
    m.timestamp = now_epoch_ms();
    reply_ok(r, &m.base);
}

static void get_predictions(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__AIPredictionsResponse p = AURIGRAPH__V11__AIPREDICTIONS_RESPONSE__INIT;
    Aurigraph__V11__BlockPrediction block = AURIGRAPH__V11__BLOCK_PREDICTION__INIT;
    Aurigraph__V11__NetworkForecast net = AURIGRAPH__V11__NETWORK_FORECAST__INIT;
    Aurigraph__V11__AnomalyPrediction anomaly = AURIGRAPH__V11__ANOMALY_PREDICTION__INIT;
    Aurigraph__V11__ConsensusForecast cons = AURIGRAPH__V11__CONSENSUS_FORECAST__INIT;
    Google__Type__Decimal gas = GOOGLE__TYPE__DECIMAL__INIT;
    char when[INSTANT_LEN];
    int64_t now = now_realtime_ns();

    (void)in;
    instant_in(when, now, 2);
    block.predicted_block_time = when;
    block.predicted_transaction_count = 1850;
    block.predicted_block_size = 256000;
    block.predicted_gas_used = 8500000;
    block.confidence = 94.5;
    p.next_block = &block;

    net.predicted_tps = 1850000;
    net.predicted_congestion = "LOW";
    gas.value = "1.2"; /* new BigDecimal("1.2") */
    net.predicted_gas_price = &gas;
    net.predicted_latency = 42.5;
    net.confidence = 92.3;
    net.forecast_window = "1 hour";
    p.network_forecast = &net;

    anomaly.anomaly_score = 0.05;
    anomaly.risk_level = "LOW";
    anomaly.suspicious_transactions = 2;
    anomaly.confidence = 99.2;
    p.anomaly_detection = &anomaly;

    cons.predicted_consensus_latency = 44.8;
    cons.predicted_finalization_time = 490;
    cons.predicted_participation = 98.8;
    cons.confidence = 96.5;
    p.consensus_forecast = &cons;

    p.timestamp = now / 1000000;
    reply_ok(r, &p.base);
}

static void get_consensus_predictions(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GetConsensusPredictionsRequest *req = (const void *)in;
    Aurigraph__V11__ConsensusPredictionsResponse resp =
        AURIGRAPH__V11__CONSENSUS_PREDICTIONS_RESPONSE__INIT;
    /* the original's five predictions: id prefix, type, value range,
     * confidence range, model, confidence interval */
    static const struct {
        const char *prefix, *type, *description, *model;
        double value_lo, value_w, conf_lo, conf_w, lower, upper;
    } defs[] = {
        {"pred-tx-volume-", "TRANSACTION_VOLUME", NULL, "tx-predictor-v2", 125000.0, 50000, 92.5, 5,
         100000.0, 180000.0},
        {"pred-congestion-", "NETWORK_CONGESTION", "Predicted network congestion level",
         "congestion-predictor-v1", 35.0, 30, 88.0, 8, 20.0, 75.0},
        {"pred-gas-", "GAS_PRICE", "Optimal gas price prediction", "gas-optimizer-v1", 75.0, 50, 90.0, 7,
         60.0, 140.0},
        {"pred-consensus-", "CONSENSUS_LATENCY", "Predicted consensus latency", "consensus-optimizer-v3",
         45.0, 20, 94.0, 4, 35.0, 75.0},
        {"pred-anomaly-", "ANOMALY_PROBABILITY", "Probability of anomalous behavior",
         "anomaly-detector-v1", 2.5, 5, 96.0, 3, 0.5, 8.5},
    };
#define N_PRED (sizeof(defs) / sizeof(defs[0]))
    Aurigraph__V11__AIPrediction p[N_PRED], *pp[N_PRED];
    Aurigraph__V11__AIPrediction__ConfidenceIntervalEntry ci[N_PRED][2], *cip[N_PRED][2];
    char ids[N_PRED][48];
    /* `type` is only logged by the original; the horizon is echoed */
    const char *horizon = field_present(req->horizon) ? req->horizon : "1h";
    static const char lead[] = "Predicted transaction volume for next ";
    size_t hlen = strlen(horizon);
    char *first_desc = xmalloc(sizeof(lead) + hlen);
    double sum = 0;

    memcpy(first_desc, lead, sizeof(lead) - 1);
    memcpy(first_desc + sizeof(lead) - 1, horizon, hlen + 1);
    for (size_t i = 0; i < N_PRED; i++) {
        char uuid[37];
        uuid_v4(uuid);
        snprintf(ids[i], sizeof(ids[i]), "%s%.8s", defs[i].prefix, uuid);
        aurigraph__v11__aiprediction__init(&p[i]);
        p[i].prediction_id = ids[i];
        p[i].type = (char *)defs[i].type;
        p[i].description = (char *)(defs[i].description ? defs[i].description : first_desc);
        p[i].predicted_value = uniform(defs[i].value_lo, defs[i].value_w);
        p[i].confidence = uniform(defs[i].conf_lo, defs[i].conf_w);
        p[i].model_used = (char *)defs[i].model;
        for (int k = 0; k < 2; k++) {
            aurigraph__v11__aiprediction__confidence_interval_entry__init(&ci[i][k]);
            ci[i][k].key = k == 0 ? "lower" : "upper";
            ci[i][k].value = k == 0 ? defs[i].lower : defs[i].upper;
            cip[i][k] = &ci[i][k];
        }
        p[i].confidence_interval = cip[i];
        p[i].n_confidence_interval = 2;
        pp[i] = &p[i];
        sum += p[i].confidence;
    }
    resp.timestamp = now_epoch_ms();
    resp.horizon = (char *)horizon;
    resp.predictions = pp;
    resp.n_predictions = N_PRED;
    resp.total_predictions = (int32_t)N_PRED;
    resp.average_confidence = sum / (double)N_PRED;
    reply_ok(r, &resp.base);
    free(first_desc);
#undef N_PRED
}

/* ---- optimize --------------------------------------------------------------- */

static void optimize(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__OptimizeRequest *req = (const void *)in;
    Aurigraph__V11__OptimizeResponse resp = AURIGRAPH__V11__OPTIMIZE_RESPONSE__INIT;
    char id[40];
    int64_t now_ms = now_epoch_ms();

    /* the original keeps no job, so `parameters` is read and let go */
    snprintf(id, sizeof(id), "ai_opt_%lld", (long long)now_ms);
    resp.job_id = id;
    resp.status = "SUBMITTED";
    /* absent -> the original's default; a sent value, even "", is echoed */
    resp.optimization_type = req->optimization_type ? req->optimization_type->value : "consensus";
    resp.target_metric = req->target_metric ? req->target_metric->value : "tps";
    resp.submitted_at = now_ms;
    resp.estimated_duration = 60000;
    reply_ok(r, &resp.base);
}

/* ---- performance, confidence -------------------------------------------------- */

static void get_performance(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__AIPerformanceMetricsResponse resp =
        AURIGRAPH__V11__AIPERFORMANCE_METRICS_RESPONSE__INIT;
    Aurigraph__V11__ModelPerformanceMetrics m[N_MODELS], *mp[N_MODELS];
    char trained[N_MODELS][INSTANT_LEN];
    int64_t start = now_monotonic_ns(), now = now_realtime_ns();
    double acc = 0, prec = 0, rec = 0, f1 = 0, lat = 0;
    int64_t tput = 0;

    (void)in;
    for (size_t i = 0; i < N_MODELS; i++) {
        const struct model_def *d = &models[i];
        aurigraph__v11__model_performance_metrics__init(&m[i]);
        m[i].model_id = (char *)d->id;
        m[i].model_name = (char *)d->name;
        m[i].accuracy = d->accuracy;
        m[i].precision = d->precision;
        m[i].recall = d->recall;
        m[i].f1_score = d->f1;
        m[i].latency = d->latency_ms;
        m[i].throughput = d->throughput;
        instant_in(trained[i], now, -d->trained_ago_s);
        m[i].last_training_date = trained[i];
        m[i].data_points = d->data_points;
        mp[i] = &m[i];
        acc += d->accuracy;
        prec += d->precision;
        rec += d->recall;
        f1 += d->f1;
        lat += d->latency_ms;
        tput += d->throughput;
    }
    resp.total_models = (int32_t)N_MODELS;
    resp.average_accuracy = acc / N_MODELS;
    resp.average_precision = prec / N_MODELS;
    resp.average_recall = rec / N_MODELS;
    resp.average_f1_score = f1 / N_MODELS;
    resp.average_latency = lat / N_MODELS;
    resp.total_throughput = tput;
    resp.models = mp;
    resp.n_models = N_MODELS;
    resp.response_time = (double)(now_monotonic_ns() - start) / 1e6;
    resp.timestamp = now / 1000000;
    reply_ok(r, &resp.base);
}

#define N_CONFIDENT 10
#define N_ANOMALOUS 3

static void get_confidence(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__AIConfidenceResponse resp = AURIGRAPH__V11__AICONFIDENCE_RESPONSE__INIT;
    Aurigraph__V11__PredictionConfidence p[N_CONFIDENT + N_ANOMALOUS], *pp[N_CONFIDENT + N_ANOMALOUS];
    char ids[N_CONFIDENT + N_ANOMALOUS][64], when[N_CONFIDENT + N_ANOMALOUS][INSTANT_LEN];
    int64_t start = now_monotonic_ns(), now = now_realtime_ns(), base_ms = now / 1000000;
    const size_t n = N_CONFIDENT + N_ANOMALOUS;
    double conf = 0, score = 0;

    (void)in;
    for (size_t i = 0; i < n; i++) {
        int anomalous = i >= N_CONFIDENT;
        aurigraph__v11__prediction_confidence__init(&p[i]);
        /* the recent ones, then a few flagged anomalies, a minute apart */
        snprintf(ids[i], sizeof(ids[i]), "pred_%s%lld_%d", anomalous ? "anom_" : "",
                 (long long)(base_ms - (int64_t)i * 1000), (int)(rng_next() % 1000));
        p[i].prediction_id = ids[i];
        p[i].threshold = 80.0;
        if (!anomalous) {
            p[i].confidence = uniform(85.0, 14.0);
            p[i].anomaly_score = uniform(0, 0.3);
            p[i].is_anomaly = p[i].anomaly_score > 0.25;
        } else {
            p[i].confidence = uniform(60.0, 20.0);
            p[i].anomaly_score = uniform(0.25, 0.75);
            p[i].is_anomaly = 1;
        }
        instant_in(when[i], now, -(int64_t)i * 60);
        p[i].timestamp = when[i];
        pp[i] = &p[i];

        conf += p[i].confidence;
        score += p[i].anomaly_score;
        resp.anomalies_detected += p[i].is_anomaly;
        if (p[i].confidence >= 95.0)
            resp.high_confidence_predictions++;
        else if (p[i].confidence >= 80.0)
            resp.medium_confidence_predictions++;
        else
            resp.low_confidence_predictions++;
    }
    resp.predictions = pp;
    resp.n_predictions = n;
    resp.total_predictions = (int32_t)n;
    resp.average_confidence = conf / (double)n;
    resp.average_anomaly_score = score / (double)n;
    resp.anomaly_detection_rate = resp.anomalies_detected * 100.0 / (double)n;
    resp.response_time = (double)(now_monotonic_ns() - start) / 1e6;
    resp.timestamp = now_epoch_ms();
    reply_ok(r, &resp.base);
}

/* ---- optimization-metrics ----------------------------------------------------- */

#define HISTORY_HOURS 24

static void get_optimization_metrics(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__OptimizationMetricsResponse resp =
        AURIGRAPH__V11__OPTIMIZATION_METRICS_RESPONSE__INIT;
    Aurigraph__V11__TPSMetrics tps = AURIGRAPH__V11__TPSMETRICS__INIT;
    Aurigraph__V11__MLMetrics ml = AURIGRAPH__V11__MLMETRICS__INIT;
    Aurigraph__V11__ConsensusOptimization co = AURIGRAPH__V11__CONSENSUS_OPTIMIZATION__INIT;
    Aurigraph__V11__ResourceEfficiency re = AURIGRAPH__V11__RESOURCE_EFFICIENCY__INIT;
    Aurigraph__V11__ImpactAnalysis ia = AURIGRAPH__V11__IMPACT_ANALYSIS__INIT;
    Aurigraph__V11__OptimizationDataPoint hist[HISTORY_HOURS], *histp[HISTORY_HOURS];
    char when[HISTORY_HOURS][INSTANT_LEN], last_run[INSTANT_LEN], next_run[INSTANT_LEN];
    static const char *const active[] = {
        "Consensus latency reduction (23.5%)",
        "Transaction ordering optimization (18.2%)",
        "Anomaly detection (99.2% accuracy)",
        "Gas price optimization (92.3% accuracy)",
        "Network load balancing (12.5% improvement)",
    };
    static const struct {
        const char *id, *text, *priority, *impact;
        double confidence;
    } recs[] = {
        {"INCREASE_BATCH_SIZE", "Increase transaction batch size to 175K", "MEDIUM",
         "Estimated +50K TPS improvement", 92.5},
        {"OPTIMIZE_CONSENSUS", "Fine-tune HyperRAFT++ consensus parameters", "HIGH",
         "Estimated latency reduction of 5ms", 96.8},
        {"ENABLE_CACHING", "Enable ML prediction result caching", "LOW", "Estimated +2.3% throughput",
         88.2},
    };
    Aurigraph__V11__OptimizationRecommendation rec[3], *recp[3];
    int64_t start = now_monotonic_ns(), now = now_realtime_ns();

    (void)in;
    tps.baseline_tps = 776000;
    tps.current_tps = 1850000;
    tps.target_tps = 2000000;
    tps.improvement = ((double)tps.current_tps - (double)tps.baseline_tps) / (double)tps.baseline_tps * 100;
    tps.target_achievement_percentage = (double)tps.current_tps / (double)tps.target_tps * 100;
    resp.tps_metrics = &tps;

    ml.consensus_optimizer_accuracy = models[0].accuracy;
    ml.transaction_predictor_accuracy = models[1].accuracy;
    ml.anomaly_detector_accuracy = models[2].accuracy;
    ml.average_confidence = 96.2;
    ml.anomaly_detection_rate = 99.2;
    ml.false_positive_rate = 0.8;
    ml.false_negative_rate = 0.7;
    resp.ml_metrics = &ml;

    co.latency_reduction = 23.5;
    co.finalization_time_reduction = 18.3;
    co.participation_improvement = 5.2;
    co.baseline_latency = 58.5;
    co.optimized_latency = 44.8;
    co.baseline_finalization_time = 600;
    co.optimized_finalization_time = 490;
    resp.consensus_optimization = &co;

    re.energy_savings = 12.5;
    re.cpu_utilization_reduction = 15.3;
    re.memory_optimization = 8.7;
    re.network_bandwidth_savings = 11.2;
    re.cost_savings = 14.8;
    resp.resource_efficiency = &re;

    ia.overall_impact = "EXCELLENT";
    ia.performance_grade = "A+";
    ia.roi_percentage = 287.5;
    ia.time_to_optimization = "3.2 hours";
    ia.stability_score = 98.5;
    ia.predictability_score = 95.8;
    resp.impact_analysis = &ia;

    /* hourly points, newest first, as the original lists them */
    for (int i = 0; i < HISTORY_HOURS; i++) {
        Aurigraph__V11__OptimizationDataPoint *p = &hist[i];
        aurigraph__v11__optimization_data_point__init(p);
        instant_in(when[i], now, -(int64_t)i * 3600);
        p->timestamp = when[i];
        p->tps = 1650000 + (int64_t)i * 8000 + (int64_t)(rng_unit() * 20000);
        p->latency = uniform(45.0, 3.0);
        p->confidence = uniform(94.0, 4.0);
        p->anomalies_detected = (int32_t)(rng_unit() * 5);
        histp[i] = p;
    }
    resp.optimization_history = histp;
    resp.n_optimization_history = HISTORY_HOURS;
    resp.active_optimizations = (char **)active;
    resp.n_active_optimizations = sizeof(active) / sizeof(active[0]);
    for (size_t i = 0; i < 3; i++) {
        aurigraph__v11__optimization_recommendation__init(&rec[i]);
        rec[i].id = (char *)recs[i].id;
        rec[i].recommendation = (char *)recs[i].text;
        rec[i].priority = (char *)recs[i].priority;
        rec[i].impact = (char *)recs[i].impact;
        rec[i].confidence = recs[i].confidence;
        recp[i] = &rec[i];
    }
    resp.recommendations = recp;
    resp.n_recommendations = 3;

    instant_in(last_run, now, -1800);
    instant_in(next_run, now, 5400);
    resp.last_optimization_run = last_run;
    resp.next_optimization_scheduled = next_run;
    resp.response_time = (double)(now_monotonic_ns() - start) / 1e6;
    resp.timestamp = now / 1000000;
    reply_ok(r, &resp.base);
}

static const struct svc_method methods[] = {
    {"ListModels", list_models, NULL, NULL},
    {"GetModel", get_model, NULL, NULL},
    {"RetrainModel", retrain_model, NULL, NULL},
    {"GetModelMetrics", get_model_metrics, NULL, NULL},
    {"GetStatus", get_status, NULL, NULL},
    {"GetMetrics", get_metrics, NULL, NULL},
    {"GetPredictions", get_predictions, NULL, NULL},
    {"GetConsensusPredictions", get_consensus_predictions, NULL, NULL},
    {"Optimize", optimize, NULL, NULL},
    {"GetPerformance", get_performance, NULL, NULL},
    {"GetConfidence", get_confidence, NULL, NULL},
    {"GetOptimizationMetrics", get_optimization_metrics, NULL, NULL},
};

const struct svc_service svc_ai = {
    &aurigraph__v11__aioptimization_service__descriptor, methods,
    sizeof(methods) / sizeof(methods[0]), 0,
};
