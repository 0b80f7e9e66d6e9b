/*
 * config: everything the gateway can be told, from one YAML file and the
 * command line, with a default for every setting so that it runs with
 * neither. A loaded config is validated whole before anything starts: the
 * gateway never runs half-configured.
 *
 * Precedence: defaults < file < flags.
 */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "transcode/options.h"

#define CONFIG_DEFAULT_LISTEN_HOST "0.0.0.0"
#define CONFIG_DEFAULT_LISTEN_PORT 9003
#define CONFIG_DEFAULT_UPSTREAM_HOST "127.0.0.1"
#define CONFIG_DEFAULT_UPSTREAM_PORT 9100
#define CONFIG_DEFAULT_ADMIN_HOST "127.0.0.1"
#define CONFIG_DEFAULT_ADMIN_PORT 9005
#define CONFIG_DEFAULT_GRPC_HOST "0.0.0.0"
#define CONFIG_DEFAULT_GRPC_PORT 9004
#define CONFIG_DEFAULT_GRPC_MAX_MESSAGE (4u << 20)
#define CONFIG_DEFAULT_GRPC_MAX_STREAMS 100
#define CONFIG_DEFAULT_GRPC_MAX_HEADER_LIST (16u << 10)
#define CONFIG_DEFAULT_GRPC_MAX_LOCAL_STREAMS 1024

typedef struct config_target {
    char *host;
    uint16_t port;
} config_target_t;

typedef struct config_health {
    uint32_t interval_ms;        /* 5000 */
    uint32_t timeout_ms;         /* 1000 */
    uint32_t healthy_threshold;  /* 2 consecutive successes to be UP */
    uint32_t unhealthy_threshold;/* 3 consecutive failures to be DOWN */
    uint32_t passive_failures;   /* 5 calls failing in a row on a worker eject the target; 0 = off */
} config_health_t;

/* One deployable version of a cluster's service (blue, green, canary...):
 * its own targets, and its share of new requests. */
typedef struct config_version {
    char *name;
    config_target_t *targets;
    size_t ntargets;
    uint32_t weight;              /* relative; 0 = no new requests */
} config_version_t;

/* How a client stays on one side of a split. */
typedef struct config_sticky {
    char *header;       /* "x-canary" (default): always | never; NULL = off */
    char *cookie;       /* the hash of this cookie's value picks the version */
    char *hash_header;  /* the hash of this header's value picks the version */
} config_sticky_t;

#define CONFIG_MAX_STEPS 16
#define CONFIG_MAX_VERSIONS 8

/* Rollout defaults of a cluster; POST /admin/clusters/X/rollout overrides. */
typedef struct config_rollout {
    uint32_t steps[CONFIG_MAX_STEPS]; /* canary percent per step: 10,25,50,100 */
    size_t nsteps;
    uint32_t hold_ms;             /* time on each step: 4h */
    uint32_t window_ms;           /* the gates look this far back: 5m */
    uint32_t interval_ms;         /* how often the gates are evaluated: 10s */
    uint32_t min_requests;        /* fewer in the window: inconclusive (100) */
    double max_error_rate;        /* gate: error share above this rolls back (0.01) */
    uint32_t max_p95_ms;          /* gate: 500; 0 = off */
    uint32_t max_p99_ms;          /* gate: 1000; 0 = off */
    uint32_t max_health_failures; /* gate: more consecutive failed checks (3) */
} config_rollout_t;

typedef struct config_cluster {
    char *name;
    config_target_t *targets;     /* a cluster without versions: one, "default" */
    size_t ntargets;
    config_version_t *versions;   /* or several versions, each with targets */
    size_t nversions;
    config_sticky_t sticky;
    config_rollout_t rollout;
    uint32_t timeout_ms;          /* default deadline of a call: 30000 */
    uint32_t connect_timeout_ms;  /* 1000 */
    uint32_t keepalive_ms;        /* 10000; 0 = off */
    uint32_t resolve_interval_ms; /* 30000 */
    config_health_t health;
    char *json_profile;           /* its routes' JSON profile over their .proto's; NULL = theirs */
} config_cluster_t;

/* gRPC service (full name) -> cluster. Services not listed use "default". */
typedef struct config_service {
    char *service;
    char *cluster;
} config_service_t;

/* Per-method overrides, by full method name ("aurigraph.v11.X.Y"). */
typedef struct config_route {
    char *method;
    uint32_t timeout_ms;      /* 0: the cluster's */
    int success_status;       /* 0: the .proto's (aurigraph.api.success_status), else 200 */
    char *json_profile;       /* NULL: the cluster's, else the .proto's */
} config_route_t;

/* What a rate limit counts its requests by. */
typedef enum config_rate_key {
    CONFIG_RATE_KEY_NONE = 0,    /* one bucket for every request of its methods */
    CONFIG_RATE_KEY_ADDRESS,     /* a bucket per client address */
    CONFIG_RATE_KEY_HEADER,      /* a bucket per value of a request header (an API key) */
} config_rate_key_t;

#define CONFIG_RATE_MAX 1e9           /* requests per second */
#define CONFIG_RATE_DEFAULT_MAX_KEYS 10000

/* One token bucket (rate_limits:), by name. */
typedef struct config_rate_limit {
    char *name;                  /* unique: metrics and the admin API say it */
    char *method;                /* full gRPC method name; NULL = every method */
    config_rate_key_t key;
    char *header;                /* key header:NAME: the header, lower case */
    double rate;                 /* requests per second, > 0 */
    uint32_t burst;              /* bucket size; 0 = one second's worth (at least 1) */
    uint32_t max_keys;           /* keyed: clients tracked at once (10000) */
} config_rate_limit_t;

/* Client connections (connections:): caps, and what goes beyond them. */
typedef struct config_connections {
    uint32_t max;                /* open at once, all workers; 0 = 90% of the open-files limit */
    uint32_t max_per_client;     /* from one client address; 0 = no cap */
    uint32_t probe_reserve;      /* beyond max: connections that may only ask /q/health (32) */
} config_connections_t;
#define CONFIG_DEFAULT_PROBE_RESERVE 32

typedef struct config_listener {
    char *host;
    uint16_t port;
} config_listener_t;

/* The gRPC listener's limits (gateway/server/grpc_door.h). */
typedef struct config_grpc {
    size_t max_message;              /* one request message: larger ones end the call RESOURCE_EXHAUSTED (4 MiB) */
    uint32_t max_concurrent_streams; /* per connection, advertised and enforced (100) */
    size_t max_header_list;          /* request metadata of one call, RFC 9113's measure (16 KiB) */
    uint32_t max_local_streams;      /* per worker: long-lived calls the gateway answers itself (Health/Watch,
                                      * ServerReflectionInfo) open at once; more are RESOURCE_EXHAUSTED (1024) */
} config_grpc_t;

/* Which front end serves HTTP/1.1 (HTTP/2 is always h2o's). */
typedef enum config_http1 {
    CONFIG_HTTP1_URING = 0,      /* io_uring (gateway/front/), h2o when io_uring is unusable */
    CONFIG_HTTP1_H2O = 1,        /* h2o's epoll loop */
} config_http1_t;
#define CONFIG_DEFAULT_HTTP1 CONFIG_HTTP1_URING

/* gRPC-Web on the REST port (server/grpc_web). */
typedef struct config_grpc_web {
    uint8_t enabled;              /* 1: grpc-web content types on POST /pkg.Service/Method are calls */
    char **cors_origins;          /* origins (lower case) browsers may call from cross-origin, "*" for
                                   * any; none: same-origin pages only */
    size_t ncors_origins;
} config_grpc_web_t;

/* Traces (tracing:, server/trace.h): OpenTelemetry spans exported over
 * OTLP/HTTP (protobuf) to endpoint/v1/traces. */
typedef struct config_tracing {
    char *endpoint;               /* OTLP/HTTP base URL, http://HOST:PORT[/PREFIX]; NULL = no traces */
    double sample;                /* share of new traces recorded, 0..1 (1.0); a parent's flag wins */
    char *service_name;           /* resource service.name; NULL = "aurigraph-gateway" */
    uint32_t queue_size;          /* finished requests (1-2 spans) per worker; beyond: dropped (2048) */
    uint32_t batch_size;          /* spans per export request (512) */
    uint32_t export_timeout_ms;   /* one export, connect to answer (2000) */
    uint32_t interval_ms;         /* a partial batch goes out this often (1000) */
    uint8_t propagate_unsampled;  /* an unsampled new trace sends its traceparent (flag 00) upstream (false) */
} config_tracing_t;
#define CONFIG_DEFAULT_TRACE_QUEUE 2048
#define CONFIG_DEFAULT_TRACE_BATCH 512
#define CONFIG_DEFAULT_TRACE_TIMEOUT_MS 2000
#define CONFIG_DEFAULT_TRACE_INTERVAL_MS 1000

typedef struct config {
    config_listener_t *listeners;
    size_t nlisteners;
    config_listener_t *grpc_listeners; /* the gRPC listener's addresses; none = off */
    size_t ngrpc_listeners;
    config_grpc_t grpc;
    char *admin_host;            /* admin API listener; NULL = off */
    uint16_t admin_port;         /* 127.0.0.1:9005 by default */
    char *admin_token;           /* bearer token; required off loopback */
    int admin_explicit;          /* given by file or flag: a bad address is fatal (a busy port is waited for) */
    unsigned workers;            /* 0 = one per core */
    char *descriptors;           /* NULL = the built descriptor set of proto/ */
    char *access_log;            /* "stdout" (default), "stderr", "off" or a path */
    char *swagger_ui_dir;        /* swagger-ui-dist's files for /q/swagger-ui; NULL = off */
    transcode_options_t transcode; /* limits, and mapping flags added to every route's profile */
    char *json_profile;          /* routes whose .proto names no profile; NULL = "proto3" */
    config_cluster_t *clusters;
    size_t nclusters;
    config_service_t *services;
    size_t nservices;
    config_route_t *routes;
    size_t nroutes;
    config_rate_limit_t *rate_limits; /* token buckets; none by default */
    size_t nrate_limits;
    config_connections_t connections;
    uint32_t drain_grace_ms;     /* drain: keep accepting this long first (0) */
    uint32_t drain_timeout_ms;   /* graceful shutdown: 30000 */
    config_http1_t http1;        /* uring (default) | h2o */
    config_grpc_web_t grpc_web;
    config_tracing_t tracing;
    int check_only;              /* --check-config: validate everything, then exit */
    char *config_path;           /* the file loaded, for messages */
} config_t;

/* Defaults: listen 0.0.0.0:9003, one "default" cluster at 127.0.0.1:9100;
 * each route as its .proto describes it (JSON profile, success status). */
void config_defaults(config_t *c);
/* Loads a YAML file over c. -1 with "FILE:LINE: what" in err; c is then
 * left as it was (the load is all or nothing). */
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);
/* Applies the command line over c (argv as main got it): --config FILE is
 * loaded first, wherever it stands, then every other flag overrides it.
 * 0 to go on, 1 when the program should exit 0 (--help), -1 with err.
 * --check-config only sets check_only: main validates what needs the
 * descriptors (methods, services) before it exits. */
int config_parse_args(config_t *c, int argc, char **argv, char *err, size_t errlen);
/* Cross-checks: every service maps to a cluster that exists, ports, limits. */
int config_validate(const config_t *c, char *err, size_t errlen);
void config_free(config_t *c);

/* "250ms", "5s", "4h", "5000": milliseconds; 0 when it parses, else -1. */
int config_parse_duration(const char *s, uint32_t *ms);
/* The rollout defaults (steps 10,25,50,100, hold 4h, window 5m, ...). */
void config_rollout_defaults(config_rollout_t *r);
/* Whether every address host resolves to is loopback (127.0.0.0/8, ::1,
 * ::ffff:127.x); 0 when it does not resolve. */
int config_host_is_loopback(const char *host);

const config_cluster_t *config_cluster_for_service(const config_t *c, const char *service);
const config_route_t *config_route_for_method(const config_t *c, const char *method);
/* A rate limit's burst: as configured, or one second's worth (at least 1). */
uint32_t config_rate_limit_burst(const config_rate_limit_t *r);
/* The JSON profile of a method's routes: the route's, its cluster's, its
 * .proto's (proto_profile, may be NULL), the config's, "proto3". */
const char *config_json_profile(const config_t *c, const config_cluster_t *cluster, const config_route_t *route,
                                const char *proto_profile);

/* `--help` text (every flag), and the key reference for README. */
void config_print_help(FILE *f);

#endif
