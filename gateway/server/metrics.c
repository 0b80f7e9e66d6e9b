/*
 * metrics.c: the per-worker blocks and the text exposition (Prometheus
 * 0.0.4).
 *
 * A block is a flat array of uint64 counters laid out per "row" (a binding,
 * or an unmatched method): status-code counts, latency histogram buckets,
 * sums. Only the owning worker writes a block; the scraper reads all of
 * them with relaxed atomic loads, so a scrape sees each counter whole,
 * possibly a request behind.
 */
#include "server/metrics.h"
#include "server/trace_export.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "control/rollout.h"
#include "http/response.h"
#include "server/worker.h"
#include "state/endpoints.h"
#include "state/rate_limit.h"
#include "state/shared.h"
#include "state/split.h"
#include "upstream/upstream.h"

#define bucket_le histogram_le
#define NBUCKETS HISTOGRAM_NBUCKETS

static const int status_codes[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 409,
                                   413, 415, 429, 499, 500, 501, 502, 503, 504};
#define NSTATUS (sizeof(status_codes) / sizeof(status_codes[0]))
#define NSTATUS_SLOTS (NSTATUS + 5) /* + 1xx..5xx for the rest */

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

#define NGRPC (GRPC_CODE_MAX + 1)

typedef _Atomic uint64_t counter_t;

/* One row of HTTP figures. */
typedef struct http_row {
    counter_t status[NSTATUS_SLOTS];
    counter_t le[NBUCKETS];  /* cumulative at scrape, per bucket here */
    counter_t count, sum_us, req_bytes, resp_bytes;
} http_row_t;

typedef struct grpc_row {
    counter_t code[NGRPC];
    counter_t le[NBUCKETS];
    counter_t count, sum_us;
} grpc_row_t;

/* Per upstream version: the codes, and the errors the rollout gates count. */
typedef struct version_row {
    counter_t code[NGRPC];
    counter_t errors;
    counter_t le[NBUCKETS];
    counter_t count, sum_us;
    counter_t connects, goaways; /* the upstream's own totals, copied at the worker's tick */
} version_row_t;

struct metrics {
    size_t nbindings, nmethods, nversions;
    http_row_t *http; /* nbindings rows, NMETHODS rows for unmatched, then nmethods rows for gRPC-Web */
    grpc_row_t *grpc; /* per method-table row, METRICS_NSOURCES rows each */
    counter_t *unknown_fields; /* per binding: JSON keys and query parameters its profile ignored */
    version_row_t *versions;
    counter_t connections; /* client connections open now: +1 on accept, -1 on close */
    size_t nlimits;
    counter_t *rate_limited; /* per binding, nlimits each: requests a rate limit answered 429 */
    counter_t *grpc_rate_limited; /* per method-table row and source, nlimits each: gRPC calls refused */
};

metrics_t *metrics_new(size_t nbindings, size_t nmethods, size_t nversions)
{
    metrics_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->nbindings = nbindings;
    m->nmethods = nmethods;
    m->nversions = nversions;
    m->http = calloc(nbindings + NMETHODS + nmethods, sizeof(*m->http));
    m->grpc = calloc((nmethods ? nmethods : 1) * METRICS_NSOURCES, sizeof(*m->grpc));
    m->unknown_fields = calloc(nbindings ? nbindings : 1, sizeof(*m->unknown_fields));
    m->versions = calloc(nversions ? nversions : 1, sizeof(*m->versions));
    if (m->http == NULL || m->grpc == NULL || m->unknown_fields == NULL || m->versions == NULL) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    free(m->http);
    free(m->grpc);
    free(m->unknown_fields);
    free(m->versions);
    free(m->rate_limited);
    free(m->grpc_rate_limited);
    free(m);
}

uint64_t metrics_connections_add(metrics_t *m, int delta)
{
    /* only the owner writes: a plain add, as bump() below */
    uint64_t n = atomic_load_explicit(&m->connections, memory_order_relaxed) + (uint64_t)(int64_t)delta;
    atomic_store_explicit(&m->connections, n, memory_order_relaxed);
    return n;
}

/* Only the owner writes: a plain add, no lock prefix, is enough. */
static inline void bump(counter_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS; i++)
        if (status_codes[i] == status)
            return i;
    int cls = status / 100;
    return NSTATUS + (size_t)(cls >= 1 && cls <= 5 ? cls - 1 : 4);
}

/* One latency into a row's histogram (per bucket; cumulated at scrape), count and sum. */
static void observe(counter_t le[NBUCKETS], counter_t *count, counter_t *sum_us, uint64_t duration_us)
{
    size_t b = histogram_bucket(duration_us);
    if (b < NBUCKETS)
        bump(&le[b], 1);
    bump(count, 1);
    bump(sum_us, duration_us);
}

void metrics_record_http(metrics_t *m, size_t binding, const char *method, size_t method_len, int status,
                         uint64_t duration_us, size_t request_bytes, size_t response_bytes)
{
    size_t row = binding;
    if (binding >= m->nbindings) {
        size_t k = 0;
        while (k < NMETHODS - 1 && !(strlen(methods[k]) == method_len && memcmp(methods[k], method, method_len) == 0))
            k++;
        row = m->nbindings + k;
    }
    http_row_t *r = &m->http[row];
    bump(&r->status[status_slot(status)], 1);
    observe(r->le, &r->count, &r->sum_us, duration_us);
    bump(&r->req_bytes, request_bytes);
    bump(&r->resp_bytes, response_bytes);
}

void metrics_record_http_grpc_web(metrics_t *m, size_t method, int status, uint64_t duration_us,
                                  size_t request_bytes, size_t response_bytes)
{
    if (method >= m->nmethods)
        return;
    http_row_t *r = &m->http[m->nbindings + NMETHODS + method];
    bump(&r->status[status_slot(status)], 1);
    observe(r->le, &r->count, &r->sum_us, duration_us);
    bump(&r->req_bytes, request_bytes);
    bump(&r->resp_bytes, response_bytes);
}

void metrics_record_grpc(metrics_t *m, size_t method, metrics_source_t source, int code, uint64_t duration_us)
{
    if (method >= m->nmethods || (unsigned)source >= METRICS_NSOURCES)
        return;
    grpc_row_t *r = &m->grpc[method * METRICS_NSOURCES + source];
    bump(&r->code[code >= 0 && code < NGRPC ? code : GRPC_UNKNOWN], 1);
    observe(r->le, &r->count, &r->sum_us, duration_us);
}

void metrics_record_unknown_fields(metrics_t *m, size_t binding, uint32_t n)
{
    if (binding < m->nbindings)
        bump(&m->unknown_fields[binding], n);
}

void metrics_record_upstream(metrics_t *m, size_t row, int code, uint64_t duration_us)
{
    if (row >= m->nversions)
        return;
    version_row_t *r = &m->versions[row];
    if (code < 0 || code >= NGRPC)
        code = GRPC_UNKNOWN;
    bump(&r->code[code], 1);
    if (status_http_from_grpc(code) >= 500)
        bump(&r->errors, 1);
    observe(r->le, &r->count, &r->sum_us, duration_us);
}

void metrics_record_upstream_cancelled(metrics_t *m, size_t row)
{
    if (row < m->nversions)
        bump(&m->versions[row].code[GRPC_CANCELLED], 1);
}

int metrics_enable_rate_limits(metrics_t *m, size_t nlimits)
{
    free(m->rate_limited);
    free(m->grpc_rate_limited);
    m->nlimits = nlimits;
    m->rate_limited = calloc((m->nbindings ? m->nbindings : 1) * (nlimits ? nlimits : 1), sizeof(*m->rate_limited));
    m->grpc_rate_limited = calloc((m->nmethods ? m->nmethods : 1) * METRICS_NSOURCES * (nlimits ? nlimits : 1),
                                  sizeof(*m->grpc_rate_limited));
    return m->rate_limited && m->grpc_rate_limited ? 0 : -1;
}

void metrics_record_grpc_rate_limited(metrics_t *m, size_t method, metrics_source_t source, size_t limit)
{
    if (m->grpc_rate_limited != NULL && method < m->nmethods && source < METRICS_NSOURCES && limit < m->nlimits)
        bump(&m->grpc_rate_limited[(method * METRICS_NSOURCES + source) * m->nlimits + limit], 1);
}

void metrics_record_rate_limited(metrics_t *m, size_t binding, size_t limit)
{
    if (binding < m->nbindings && limit < m->nlimits)
        bump(&m->rate_limited[binding * m->nlimits + limit], 1);
}

void metrics_set_upstream_connections(metrics_t *m, size_t row, uint64_t connects, uint64_t goaways)
{
    if (row >= m->nversions)
        return;
    atomic_store_explicit(&m->versions[row].connects, connects, memory_order_relaxed);
    atomic_store_explicit(&m->versions[row].goaways, goaways, memory_order_relaxed);
}

/* One counter of one row summed over the workers' blocks. */
typedef enum { ROWS_HTTP, ROWS_GRPC, ROWS_VERSION } rows_t;
static uint64_t sum_counter(const shared_t *sh, rows_t rows, size_t row, size_t field_offset)
{
    uint64_t total = 0;
    for (unsigned w = 0; w < sh->nworkers; w++) {
        const metrics_t *m = sh->worker_metrics[w];
        const char *base = rows == ROWS_HTTP   ? (const char *)&m->http[row]
                           : rows == ROWS_GRPC ? (const char *)&m->grpc[row]
                                               : (const char *)&m->versions[row];
        total += atomic_load_explicit((counter_t *)(base + field_offset), memory_order_relaxed);
    }
    return total;
}
#define sum_http(sh, row, off) sum_counter((sh), ROWS_HTTP, (row), (off))
#define sum_grpc(sh, row, off) sum_counter((sh), ROWS_GRPC, (row), (off))
#define sum_version(sh, row, off) sum_counter((sh), ROWS_VERSION, (row), (off))

void metrics_version_totals(const shared_t *sh, size_t row, histogram_totals_t *out)
{
    *out = (histogram_totals_t){0};
    if (row >= sh->worker_metrics[0]->nversions)
        return;
    out->requests = sum_version(sh, row, offsetof(version_row_t, count));
    out->errors = sum_version(sh, row, offsetof(version_row_t, errors));
    uint64_t in_buckets = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        out->buckets[i] = sum_version(sh, row, offsetof(version_row_t, le) + i * sizeof(counter_t));
        in_buckets += out->buckets[i];
    }
    /* the counters are read one by one while workers add: keep it coherent */
    out->buckets[NBUCKETS] = out->requests > in_buckets ? out->requests - in_buckets : 0;
}

/* ---- exposition ---------------------------------------------------------- */


/* HELP and TYPE of a family. OpenMetrics names a counter's family without
 * the _total its samples carry. */
static void family(buf_t *b, int om, const char *name, const char *type, const char *help)
{
    size_t len = strlen(name);
    if (om && strcmp(type, "counter") == 0 && len > 6 && strcmp(name + len - 6, "_total") == 0)
        len -= 6;
    buf_printf(b, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)len, name, help, (int)len, name, type);
}

static void put_label(buf_t *b, const char *name, const char *value)
{
    buf_printf(b, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_putc(b, '\\');
        if (*p == '\n')
            buf_puts_lit(b, "\\n");
        else
            buf_putc(b, *p);
    }
    buf_putc(b, '"');
}

static void http_labels(buf_t *b, shared_t *sh, size_t row)
{
    size_t nb = sh->worker_metrics[0]->nbindings;
    if (row < nb) {
        const binding_t *bd = binding_at(sh->bindings, row);
        put_label(b, "method", bd->rule->method);
        buf_putc(b, ',');
        put_label(b, "route", bd->rule->path);
    } else if (row < nb + NMETHODS) {
        put_label(b, "method", methods[row - nb]);
        buf_puts_lit(b, ",route=\"\"");
    } else {
        /* a gRPC-Web call: its method's path is its route (a catch-all
         * row of a config-only service: the service's, with a *) */
        const method_row_t *r = &sh->methods.rows[row - nb - NMETHODS];
        if (r->method != NULL)
            buf_printf(b, "method=\"POST\",route=\"%s\"", r->method->grpc_path);
        else
            buf_printf(b, "method=\"POST\",route=\"/%.*s/*\"", (int)r->service_len, r->service);
    }
}

static const char *const sources[METRICS_NSOURCES] = {"rest", "grpc", "grpc-web"};

/* row: method-table row * METRICS_NSOURCES + source */
static void grpc_labels(buf_t *b, shared_t *sh, size_t row)
{
    const method_row_t *r = &sh->methods.rows[row / METRICS_NSOURCES];
    buf_printf(b, "service=\"%.*s\",method=\"%s\",source=\"%s\"", (int)r->service_len, r->service, r->name,
               sources[row % METRICS_NSOURCES]);
}

static void histogram(buf_t *b, const char *name, shared_t *sh, size_t row, int grpc)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= NBUCKETS; i++) {
        if (i < NBUCKETS) {
            size_t off = grpc ? offsetof(grpc_row_t, le) : offsetof(http_row_t, le);
            cumulative += grpc ? sum_grpc(sh, row, off + i * sizeof(counter_t))
                               : sum_http(sh, row, off + i * sizeof(counter_t));
        } else {
            cumulative = grpc ? sum_grpc(sh, row, offsetof(grpc_row_t, count))
                              : sum_http(sh, row, offsetof(http_row_t, count));
        }
        buf_printf(b, "%s_bucket{", name);
        if (grpc)
            grpc_labels(b, sh, row);
        else
            http_labels(b, sh, row);
        if (i < NBUCKETS)
            buf_printf(b, ",le=\"%g\"} %llu\n", bucket_le[i], (unsigned long long)cumulative);
        else
            buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
    }
    uint64_t sum_us = grpc ? sum_grpc(sh, row, offsetof(grpc_row_t, sum_us)) : sum_http(sh, row, offsetof(http_row_t, sum_us));
    buf_printf(b, "%s_sum{", name);
    if (grpc)
        grpc_labels(b, sh, row);
    else
        http_labels(b, sh, row);
    buf_printf(b, "} %.6f\n%s_count{", (double)sum_us / 1e6, name);
    if (grpc)
        grpc_labels(b, sh, row);
    else
        http_labels(b, sh, row);
    buf_printf(b, "} %llu\n", (unsigned long long)cumulative);
}

static void process_metrics(buf_t *b, int om)
{
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long utime = 0, stime = 0, threads = 0;
    unsigned long long starttime = 0;
    long rss = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        /* fields after the command, which may hold spaces: skip to ") " */
        char line[1024];
        if (fgets(line, sizeof(line), f)) {
            char *p = strrchr(line, ')');
            if (p && sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %lu %*d %llu %*u %ld",
                            &utime, &stime, &threads, &starttime, &rss) != 5)
                utime = stime = 0;
        }
        fclose(f);
    }
    double boot = 0;
    f = fopen("/proc/stat", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "btime %lf", &boot) == 1)
                break;
        fclose(f);
    }
    size_t fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            fds++;
        closedir(d);
        fds = fds > 2 ? fds - 3 : 0; /* ".", "..", and the directory's own fd */
    }
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    double cpu = hz > 0 ? (double)(utime + stime) / (double)hz : 0.0;
    family(b, om, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    buf_printf(b, "process_cpu_seconds_total %.2f\n", cpu);
    family(b, om, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    buf_printf(b, "process_resident_memory_bytes %ld\n", rss * page);
    family(b, om, "process_open_fds", "gauge", "Number of open file descriptors.");
    buf_printf(b, "process_open_fds %zu\n", fds);
    family(b, om, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    buf_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    family(b, om, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    buf_printf(b, "process_start_time_seconds %.2f\n", boot + (hz > 0 ? (double)starttime / (double)hz : 0.0));
    family(b, om, "process_threads", "gauge", "Number of OS threads in the process.");
    buf_printf(b, "process_threads %lu\n", threads);
}

static void version_labels(buf_t *b, const split_version_t *v)
{
    put_label(b, "cluster", v->cluster->cfg->name);
    buf_putc(b, ',');
    put_label(b, "version", v->name);
}

/* Per cluster version (blue/green/canary), and the rollouts. */
static void upstream_metrics(buf_t *b, shared_t *sh, int om)
{
    size_t nrows = sh->split.nrows;
    family(b, om, "gateway_upstream_requests_total", "counter", "Upstream calls by cluster version and gRPC status (CANCELLED: by the client, outside the gates).");
    for (size_t row = 0; row < nrows; row++) {
        for (int c = 0; c < NGRPC; c++) {
            uint64_t n = sum_version(sh, row, offsetof(version_row_t, code) + (size_t)c * sizeof(counter_t));
            if (n == 0)
                continue;
            buf_puts_lit(b, "gateway_upstream_requests_total{");
            version_labels(b, sh->split.rows[row]);
            buf_printf(b, ",code=\"%s\"} %llu\n", status_grpc_name(c), (unsigned long long)n);
        }
    }
    family(b, om, "gateway_upstream_errors_total", "counter",
           "Upstream calls whose status maps to a 5xx, by cluster version (the rollout's error gate).");
    for (size_t row = 0; row < nrows; row++) {
        buf_puts_lit(b, "gateway_upstream_errors_total{");
        version_labels(b, sh->split.rows[row]);
        buf_printf(b, "} %llu\n", (unsigned long long)sum_version(sh, row, offsetof(version_row_t, errors)));
    }
    static const struct {
        const char *name, *help;
        size_t field;
    } conn_counters[] = {
        {"gateway_upstream_connects_total", "Upstream connections opened, by cluster version.",
         offsetof(version_row_t, connects)},
        {"gateway_upstream_goaways_total", "GOAWAYs received from upstreams (a server rotating or closing its connection).",
         offsetof(version_row_t, goaways)},
    };
    for (size_t k = 0; k < sizeof(conn_counters) / sizeof(conn_counters[0]); k++) {
        family(b, om, conn_counters[k].name, "counter", conn_counters[k].help);
        for (size_t row = 0; row < nrows; row++) {
            buf_puts(b, conn_counters[k].name);
            buf_putc(b, '{');
            version_labels(b, sh->split.rows[row]);
            buf_printf(b, "} %llu\n", (unsigned long long)sum_version(sh, row, conn_counters[k].field));
        }
    }
    family(b, om, "gateway_upstream_request_duration_seconds", "histogram", "Upstream call time by cluster version.");
    for (size_t row = 0; row < nrows; row++) {
        histogram_totals_t t;
        metrics_version_totals(sh, row, &t);
        uint64_t cum = 0;
        for (size_t i = 0; i <= NBUCKETS; i++) {
            cum += t.buckets[i];
            buf_puts_lit(b, "gateway_upstream_request_duration_seconds_bucket{");
            version_labels(b, sh->split.rows[row]);
            if (i < NBUCKETS)
                buf_printf(b, ",le=\"%g\"} %llu\n", bucket_le[i], (unsigned long long)cum);
            else
                buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        buf_puts_lit(b, "gateway_upstream_request_duration_seconds_sum{");
        version_labels(b, sh->split.rows[row]);
        buf_printf(b, "} %.6f\ngateway_upstream_request_duration_seconds_count{",
                   (double)sum_version(sh, row, offsetof(version_row_t, sum_us)) / 1e6);
        version_labels(b, sh->split.rows[row]);
        buf_printf(b, "} %llu\n", (unsigned long long)cum);
    }
    const char *gauges[3][2] = {
        {"gateway_upstream_endpoints", "Targets of the cluster version."},
        {"gateway_upstream_healthy_endpoints", "Targets of the cluster version passing their health checks."},
        {"gateway_upstream_weight", "Percent of new requests the cluster version gets."},
    };
    for (int g = 0; g < 3; g++) {
        family(b, om, gauges[g][0], "gauge", gauges[g][1]);
        for (size_t row = 0; row < nrows; row++) {
            const split_version_t *v = sh->split.rows[row];
            size_t value = g == 0 ? v->ntargets
                           : g == 1 ? endpoints_version_healthy(sh->endpoints, v)
                                    : split_share_percent(v->cluster, (size_t)(v - v->cluster->versions));
            buf_printf(b, "%s{", gauges[g][0]);
            version_labels(b, v);
            buf_printf(b, "} %zu\n", value);
        }
    }
    family(b, om, "gateway_upstream_ejections_total", "counter",
           "Targets taken out of rotation for calls failing in a row (passive outlier detection), by cluster version.");
    for (size_t row = 0; row < nrows; row++) {
        const split_version_t *v = sh->split.rows[row];
        uint64_t n = 0;
        for (size_t t = 0; t < v->ntargets; t++)
            n += atomic_load(&sh->endpoints[v->first_endpoint + t].ejections);
        buf_puts_lit(b, "gateway_upstream_ejections_total{");
        version_labels(b, v);
        buf_printf(b, "} %llu\n", (unsigned long long)n);
    }
    family(b, om, "gateway_upstream_healthy", "gauge", "Whether the cluster has a healthy target taking traffic (1) or not (0).");
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        buf_puts_lit(b, "gateway_upstream_healthy{");
        put_label(b, "cluster", sh->split.clusters[i].cfg->name);
        buf_printf(b, "} %d\n", endpoints_cluster_up(sh->endpoints, &sh->split.clusters[i]));
    }
    family(b, om, "gateway_rollout_step", "gauge", "The canary's weight at the current rollout step, in percent (0: none).");
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        buf_puts_lit(b, "gateway_rollout_step{");
        put_label(b, "cluster", sh->split.clusters[i].cfg->name);
        buf_printf(b, "} %u\n", atomic_load(&sh->rollouts[i].step_percent));
    }
    family(b, om, "gateway_rollout_state", "gauge", "The rollout's state: 1 for the current one.");
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        int state = atomic_load(&sh->rollouts[i].state);
        for (int st = 0; st < ROLLOUT_NSTATES; st++) {
            buf_puts_lit(b, "gateway_rollout_state{");
            put_label(b, "cluster", sh->split.clusters[i].cfg->name);
            buf_printf(b, ",state=\"%s\"} %d\n", rollout_state_name((rollout_state_t)st), st == state);
        }
    }
    family(b, om, "gateway_rollbacks_total", "counter", "Rollbacks of a canary, by cluster and reason.");
    for (size_t i = 0; i < sh->split.nclusters; i++) {
        for (int rs = 0; rs < ROLLBACK_NREASONS; rs++) {
            buf_puts_lit(b, "gateway_rollbacks_total{");
            put_label(b, "cluster", sh->split.clusters[i].cfg->name);
            buf_printf(b, ",reason=\"%s\"} %llu\n", rollout_reason_name((rollout_reason_t)rs),
                       (unsigned long long)atomic_load(&sh->rollouts[i].rollbacks[rs]));
        }
    }
}

static void rate_limit_metrics(buf_t *b, shared_t *sh, int om)
{
    const metrics_t *m0 = sh->worker_metrics[0];
    family(b, om, "gateway_rate_limited_total", "counter",
           "Requests a rate limit answered 429, by route and limit (rate_limits: in the config).");
    for (size_t row = 0; row < m0->nbindings; row++) {
        for (size_t k = 0; k < m0->nlimits; k++) {
            uint64_t n = 0;
            for (unsigned w = 0; w < sh->nworkers; w++)
                n += atomic_load_explicit(&sh->worker_metrics[w]->rate_limited[row * m0->nlimits + k],
                                          memory_order_relaxed);
            if (n == 0)
                continue;
            rate_limit_state_t st;
            rate_limits_get(sh->rate_limits, k, &st);
            buf_puts_lit(b, "gateway_rate_limited_total{");
            http_labels(b, sh, row);
            buf_putc(b, ',');
            put_label(b, "limit", st.cfg->name);
            buf_printf(b, "} %llu\n", (unsigned long long)n);
        }
    }
    if (m0->grpc_rate_limited == NULL)
        return;
    family(b, om, "gateway_grpc_rate_limited_total", "counter",
           "gRPC calls a rate limit refused (RESOURCE_EXHAUSTED), by method, door and limit.");
    for (size_t row = 0; row < m0->nmethods * METRICS_NSOURCES; row++) {
        for (size_t k = 0; k < m0->nlimits; k++) {
            uint64_t n = 0;
            for (unsigned w = 0; w < sh->nworkers; w++)
                n += atomic_load_explicit(&sh->worker_metrics[w]->grpc_rate_limited[row * m0->nlimits + k],
                                          memory_order_relaxed);
            if (n == 0)
                continue;
            rate_limit_state_t st;
            rate_limits_get(sh->rate_limits, k, &st);
            buf_puts_lit(b, "gateway_grpc_rate_limited_total{");
            grpc_labels(b, sh, row);
            buf_putc(b, ',');
            put_label(b, "limit", st.cfg->name);
            buf_printf(b, "} %llu\n", (unsigned long long)n);
        }
    }
}

static void render(buf_t *b, shared_t *sh, int om)
{
    size_t nb = sh->worker_metrics[0]->nbindings;
    size_t nhttp = nb + NMETHODS + sh->worker_metrics[0]->nmethods;
    family(b, om, "http_requests_total", "counter", "HTTP requests answered, by route template and status.");
    for (size_t row = 0; row < nhttp; row++) {
        for (size_t s = 0; s < NSTATUS_SLOTS; s++) {
            uint64_t n = sum_http(sh, row, offsetof(http_row_t, status) + s * sizeof(counter_t));
            if (n == 0)
                continue;
            buf_puts_lit(b, "http_requests_total{");
            http_labels(b, sh, row);
            if (s < NSTATUS)
                buf_printf(b, ",code=\"%d\"} %llu\n", status_codes[s], (unsigned long long)n);
            else
                buf_printf(b, ",code=\"%zuxx\"} %llu\n", s - NSTATUS + 1, (unsigned long long)n);
        }
    }
    family(b, om, "http_request_duration_seconds", "histogram", "Time from request to the end of the response.");
    for (size_t row = 0; row < nhttp; row++)
        if (sum_http(sh, row, offsetof(http_row_t, count)))
            histogram(b, "http_request_duration_seconds", sh, row, 0);
    const char *sizes[2][3] = {{"http_request_size_bytes", "Request body bytes.", "req"},
                               {"http_response_size_bytes", "Response bytes sent.", "resp"}};
    for (int k = 0; k < 2; k++) {
        family(b, om, sizes[k][0], "summary", sizes[k][1]);
        for (size_t row = 0; row < nhttp; row++) {
            uint64_t count = sum_http(sh, row, offsetof(http_row_t, count));
            if (count == 0)
                continue;
            uint64_t sum = sum_http(sh, row, k ? offsetof(http_row_t, resp_bytes) : offsetof(http_row_t, req_bytes));
            buf_printf(b, "%s_sum{", sizes[k][0]);
            http_labels(b, sh, row);
            buf_printf(b, "} %llu\n%s_count{", (unsigned long long)sum, sizes[k][0]);
            http_labels(b, sh, row);
            buf_printf(b, "} %llu\n", (unsigned long long)count);
        }
    }
    size_t ng = sh->methods.nrows * METRICS_NSOURCES;
    family(b, om, "grpc_requests_total", "counter",
           "gRPC calls, by service, method, status and the door they came in by (source).");
    for (size_t row = 0; row < ng; row++) {
        for (int c = 0; c < NGRPC; c++) {
            uint64_t n = sum_grpc(sh, row, offsetof(grpc_row_t, code) + (size_t)c * sizeof(counter_t));
            if (n == 0)
                continue;
            buf_puts_lit(b, "grpc_requests_total{");
            grpc_labels(b, sh, row);
            buf_printf(b, ",code=\"%s\"} %llu\n", status_grpc_name(c), (unsigned long long)n);
        }
    }
    family(b, om, "grpc_request_duration_seconds", "histogram", "gRPC call time, upstream call to status.");
    for (size_t row = 0; row < ng; row++)
        if (sum_grpc(sh, row, offsetof(grpc_row_t, count)))
            histogram(b, "grpc_request_duration_seconds", sh, row, 1);

    family(b, om, "gateway_json_unknown_fields_total", "counter",
           "Request JSON keys and query parameters a route's profile ignored (client drift).");
    for (size_t row = 0; row < nb; row++) {
        uint64_t n = 0;
        for (unsigned w = 0; w < sh->nworkers; w++)
            n += atomic_load_explicit(&sh->worker_metrics[w]->unknown_fields[row], memory_order_relaxed);
        if (n == 0)
            continue;
        buf_puts_lit(b, "gateway_json_unknown_fields_total{");
        http_labels(b, sh, row);
        buf_printf(b, "} %llu\n", (unsigned long long)n);
    }
    upstream_metrics(b, sh, om);
    rate_limit_metrics(b, sh, om);
    family(b, om, "gateway_draining", "gauge", "Whether the gateway is draining (1) or serving (0).");
    buf_printf(b, "gateway_draining %d\n", atomic_load(&sh->draining));
    uint64_t conns = 0;
    for (unsigned w = 0; w < sh->nworkers; w++)
        conns += atomic_load_explicit(&sh->worker_metrics[w]->connections, memory_order_relaxed);
    family(b, om, "gateway_connections_active", "gauge", "Client connections open now.");
    buf_printf(b, "gateway_connections_active %llu\n", (unsigned long long)conns);
    family(b, om, "gateway_connections_max", "gauge", "The cap on client connections (connections.max, or 90% of the open-files limit).");
    buf_printf(b, "gateway_connections_max %u\n", sh->connections_max);
    family(b, om, "gateway_connections_refused_total", "counter",
           "Client connections closed at once: over a cap (connections:), with no room in the probe reserve.");
    buf_printf(b, "gateway_connections_refused_total %llu\n", (unsigned long long)atomic_load(&sh->connections_refused));
    if (sh->tracer != NULL) {
        tracer_stats_t ts;
        tracer_stats(sh->tracer, &ts);
        family(b, om, "gateway_trace_spans_exported_total", "counter",
               "Spans the OTLP collector accepted (tracing.endpoint).");
        buf_printf(b, "gateway_trace_spans_exported_total %llu\n", (unsigned long long)ts.spans_exported);
        family(b, om, "gateway_trace_spans_dropped_total", "counter",
               "Sampled spans not exported: a worker's queue was full (queue_full), or their export failed "
               "(export_failed).");
        buf_printf(b, "gateway_trace_spans_dropped_total{reason=\"queue_full\"} %llu\n",
                   (unsigned long long)ts.spans_dropped_queue);
        buf_printf(b, "gateway_trace_spans_dropped_total{reason=\"export_failed\"} %llu\n",
                   (unsigned long long)ts.spans_dropped_export);
        family(b, om, "gateway_trace_exports_total", "counter", "OTLP export requests, by result.");
        buf_printf(b, "gateway_trace_exports_total{result=\"ok\"} %llu\n", (unsigned long long)ts.exports_ok);
        buf_printf(b, "gateway_trace_exports_total{result=\"failed\"} %llu\n", (unsigned long long)ts.exports_failed);
    }
    family(b, om, "gateway_workers", "gauge", "Worker threads.");
    buf_printf(b, "gateway_workers %u\n", sh->nworkers);
    process_metrics(b, om);
    if (om)
        buf_puts_lit(b, "# EOF\n");
}

int metrics_handle(h2o_req_t *req)
{
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (len != 10 || memcmp(req->path.base, "/q/metrics", 10) != 0)
        return 0;
    worker_t *w = worker_of(req->conn->ctx);
    shared_t *sh = w->shared;
    /* OpenMetrics when the scraper asks for it, the 0.0.4 text otherwise */
    ssize_t accept = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    int om = accept >= 0 && memmem(req->headers.entries[accept].value.base, req->headers.entries[accept].value.len,
                                   "application/openmetrics-text", 28) != NULL;
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 16384);
    render(&b, sh, om);
    if (b.oom) {
        response_error(req, 500, GRPC_INTERNAL, H2O_STRLIT("out of memory rendering metrics"), NULL, 0, 0);
    } else {
        req->res.status = 200;
        req->res.reason = "OK";
        if (om)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("application/openmetrics-text; version=1.0.0; charset=utf-8"));
        else
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
        req->res.content_length = b.len;
        h2o_send_inline(req, b.data, b.len);
    }
    arena_free(&a);
    return 1;
}
