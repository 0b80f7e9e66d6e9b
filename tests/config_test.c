/*
 * config_test: defaults, every key of the file, every error with its
 * FILE:LINE, all-or-nothing loads, flag precedence, and that the --help
 * reference is itself a file that loads back to the defaults.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "test.h"

#ifndef AG_SOURCE_DIR
#error "AG_SOURCE_DIR must name the source tree"
#endif

static char tmpdir[64];
static char err[1024];

/* Writes text to TMPDIR/name and returns the path (static until the next call). */
static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_text(config_t *c, const char *text)
{
    err[0] = '\0';
    return config_load_file(c, write_file("t.yaml", text), err, sizeof(err));
}

/* The expected message of a load of t.yaml, with its path prefix. */
static const char *at(int line, const char *what)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s/t.yaml:%d: %s", tmpdir, line, what);
    return buf;
}

static int args(config_t *c, int argc, char **argv)
{
    err[0] = '\0';
    return config_parse_args(c, argc, argv, err, sizeof(err));
}

/* argv as main gets it: the program name first; the list ends with NULL. */
static int args_v(config_t *c, char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    return args(c, argc, argv);
}

#define ARGS(c, ...) args_v((c), (char *[]){"gateway", __VA_ARGS__, NULL})

static void check_defaults(const config_t *c)
{
    CHECK_INTEQ(c->nlisteners, 1);
    CHECK_STREQ(c->listeners[0].host, "0.0.0.0");
    CHECK_INTEQ(c->listeners[0].port, 9003);
    CHECK_INTEQ(c->ngrpc_listeners, 1);
    CHECK_STREQ(c->grpc_listeners[0].host, "0.0.0.0");
    CHECK_INTEQ(c->grpc_listeners[0].port, 9004);
    CHECK_INTEQ(c->grpc.max_message, 4194304);
    CHECK_INTEQ(c->grpc.max_concurrent_streams, 100);
    CHECK_INTEQ(c->grpc.max_header_list, 16384);
    CHECK_INTEQ(c->grpc.max_local_streams, 1024);
    CHECK_INTEQ(c->workers, 0);
    CHECK_INTEQ(c->http1, CONFIG_HTTP1_URING);
    CHECK(c->descriptors == NULL);
    CHECK_STREQ(c->access_log, "stdout");
    CHECK_INTEQ(c->drain_timeout_ms, 30000);
    CHECK_INTEQ(c->transcode.emit_defaults, 0);
    CHECK_INTEQ(c->transcode.ignore_unknown_fields, 0);
    CHECK_INTEQ(c->transcode.use_proto_names, 0);
    CHECK_INTEQ(c->transcode.enums_as_ints, 0);
    CHECK_INTEQ(c->transcode.max_body, 4194304);
    CHECK_INTEQ(c->transcode.max_depth, 64);
    CHECK_INTEQ(c->transcode.max_string, 1048576);
    CHECK_INTEQ(c->transcode.max_repeated, 100000);
    CHECK_INTEQ(c->transcode.max_output, 16777216);
    CHECK_INTEQ(c->nclusters, 1);
    const config_cluster_t *cl = &c->clusters[0];
    CHECK_STREQ(cl->name, "default");
    CHECK_INTEQ(cl->ntargets, 1);
    CHECK_STREQ(cl->targets[0].host, "127.0.0.1");
    CHECK_INTEQ(cl->targets[0].port, 9100);
    CHECK_INTEQ(cl->timeout_ms, 30000);
    CHECK_INTEQ(cl->connect_timeout_ms, 1000);
    CHECK_INTEQ(cl->keepalive_ms, 10000);
    CHECK_INTEQ(cl->resolve_interval_ms, 30000);
    CHECK_INTEQ(cl->health.interval_ms, 5000);
    CHECK_INTEQ(cl->health.timeout_ms, 1000);
    CHECK_INTEQ(cl->health.healthy_threshold, 2);
    CHECK_INTEQ(cl->health.unhealthy_threshold, 3);
    CHECK_INTEQ(cl->health.passive_failures, 5);
    CHECK_INTEQ(c->nrate_limits, 0);
    CHECK(c->connections.max == 0 && c->connections.max_per_client == 0 && c->connections.probe_reserve == 32);
    CHECK_INTEQ(c->nservices, 0);
    /* success statuses and JSON profiles come from the .protos: a route the
     * help's key reference lists sets nothing */
    for (size_t i = 0; i < c->nroutes; i++)
        CHECK(c->routes[i].timeout_ms == 0 && c->routes[i].success_status == 0 && c->routes[i].json_profile == NULL);
    CHECK_STREQ(config_json_profile(c, cl, NULL, NULL), "proto3");
    CHECK_STREQ(config_json_profile(c, cl, NULL, "v11"), "v11");
    CHECK_INTEQ(c->check_only, 0);
    CHECK_INTEQ(c->grpc_web.enabled, 1);
    CHECK_INTEQ(c->grpc_web.ncors_origins, 0);
    CHECK(c->tracing.endpoint == NULL && c->tracing.service_name == NULL && c->tracing.sample == 1.0);
    CHECK(c->tracing.queue_size == 2048 && c->tracing.batch_size == 512 && c->tracing.export_timeout_ms == 2000 &&
          c->tracing.interval_ms == 1000 && c->tracing.propagate_unsampled == 0);
}

static void test_defaults(void)
{
    config_t c;
    config_defaults(&c);
    check_defaults(&c);
    CHECK(c.config_path == NULL);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK(config_route_for_method(&c, "aurigraph.v11.TransactionService.GetTransaction") == NULL);
    CHECK(config_route_for_method(&c, "aurigraph.v11.TransactionService") == NULL);
    const config_cluster_t *cl = config_cluster_for_service(&c, "aurigraph.v11.ConsensusService");
    CHECK(cl != NULL && strcmp(cl->name, "default") == 0);
    config_free(&c);
    config_free(&c); /* zeroed: a second free is harmless */
}

static void test_full(void)
{
    config_t c;
    config_defaults(&c);
    const char *path = AG_SOURCE_DIR "/tests/config/full.yaml";
    CHECK_INTEQ(config_load_file(&c, path, err, sizeof(err)), 0);
    if (err[0] && c.config_path == NULL)
        fprintf(stderr, "%s\n", err);
    CHECK_STREQ(c.config_path, path);
    CHECK_INTEQ(c.nlisteners, 3);
    CHECK_STREQ(c.listeners[0].host, "127.0.0.1");
    CHECK_INTEQ(c.listeners[0].port, 0);
    CHECK_STREQ(c.listeners[1].host, "::1");
    CHECK_INTEQ(c.listeners[1].port, 9443);
    CHECK_STREQ(c.listeners[2].host, "0.0.0.0");
    CHECK_INTEQ(c.listeners[2].port, 8080);
    CHECK_INTEQ(c.workers, 8);
    CHECK_STREQ(c.descriptors, "/opt/aurigraph/v11.pb");
    CHECK_STREQ(c.access_log, "/var/log/aurigraph/access.log");
    CHECK_INTEQ(c.drain_timeout_ms, 45000);
    CHECK_INTEQ(c.transcode.emit_defaults, 1);
    CHECK_INTEQ(c.transcode.ignore_unknown_fields, 1);
    CHECK_INTEQ(c.transcode.use_proto_names, 1);
    CHECK_INTEQ(c.transcode.enums_as_ints, 1);
    CHECK_INTEQ(c.transcode.max_body, 8u << 20);
    CHECK_INTEQ(c.transcode.max_depth, 32);
    CHECK_INTEQ(c.transcode.max_string, 512u << 10);
    CHECK_INTEQ(c.transcode.max_repeated, 5000);
    CHECK_INTEQ(c.transcode.max_output, 1000000);
    CHECK_INTEQ(c.nclusters, 2);
    const config_cluster_t *d = &c.clusters[0], *k = &c.clusters[1];
    CHECK_STREQ(d->name, "default");
    CHECK_INTEQ(d->ntargets, 2);
    CHECK_STREQ(d->targets[0].host, "127.0.0.1");
    CHECK_INTEQ(d->targets[0].port, 9100);
    CHECK_STREQ(d->targets[1].host, "backend.local");
    CHECK_INTEQ(d->targets[1].port, 9101);
    CHECK_INTEQ(d->timeout_ms, 20000);
    CHECK_INTEQ(d->connect_timeout_ms, 250);
    CHECK_INTEQ(d->keepalive_ms, 0);
    CHECK_INTEQ(d->resolve_interval_ms, 60000);
    CHECK_INTEQ(d->health.interval_ms, 2000);
    CHECK_INTEQ(d->health.timeout_ms, 500);
    CHECK_INTEQ(d->health.healthy_threshold, 1);
    CHECK_INTEQ(d->health.unhealthy_threshold, 5);
    CHECK_STREQ(k->name, "consensus");
    CHECK_INTEQ(k->ntargets, 1);
    CHECK_STREQ(k->targets[0].host, "fd00::7");
    CHECK_INTEQ(k->targets[0].port, 9200);
    CHECK_INTEQ(k->timeout_ms, 30000); /* keys not given keep the cluster defaults */
    CHECK_INTEQ(k->health.unhealthy_threshold, 3);
    CHECK_INTEQ(c.nservices, 2);
    CHECK(config_cluster_for_service(&c, "aurigraph.v11.ConsensusService") == k);
    CHECK(config_cluster_for_service(&c, "aurigraph.v11.TransactionService") == d);
    CHECK(config_cluster_for_service(&c, "aurigraph.v11.QuantumCryptoService") == d);
    /* routes: only the keys given are set; the rest come from the .proto */
    CHECK_INTEQ(c.nroutes, 2);
    const config_route_t *r = config_route_for_method(&c, "aurigraph.v11.TransactionService.SubmitTransaction");
    CHECK(r != NULL && r->success_status == 0 && r->timeout_ms == 5000);
    r = config_route_for_method(&c, "aurigraph.v11.ConsensusService.ProposeBlock");
    CHECK(r != NULL && r->success_status == 201 && r->timeout_ms == 2000);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    config_free(&c);
}

static void test_example(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(config_load_file(&c, AG_SOURCE_DIR "/tests/config/gateway.example.yaml", err, sizeof(err)), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK_INTEQ(c.nclusters, 3);
    CHECK_INTEQ(c.nlisteners, 2);
    CHECK_STREQ(c.listeners[1].host, "::");
    const config_cluster_t *cl = config_cluster_for_service(&c, "aurigraph.v11.CrossChainBridgeService");
    CHECK(cl != NULL && strcmp(cl->name, "bridge") == 0 && cl->timeout_ms == 120000);
    const config_route_t *r = config_route_for_method(&c, "aurigraph.v11.CrossChainBridgeService.InitiateTransfer");
    CHECK(r != NULL && r->timeout_ms == 300000 && r->success_status == 202);
    config_free(&c);
}

/* The reference text after "Config file" is a config file equal to the defaults. */
static void test_help_is_a_config(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f);
    fclose(f);
    const char *keys = strstr(text, "\nConfig file");
    CHECK(keys != NULL);
    CHECK(strstr(text, "--check-config") != NULL && strstr(text, "--access-log") != NULL);
    if (keys != NULL) {
        keys = strchr(keys + 1, '\n') + 1;
        config_t c;
        config_defaults(&c);
        c.workers = 7; /* so that the load visibly sets every key back */
        c.transcode.max_depth = 3;
        CHECK_INTEQ(load_text(&c, keys), 0);
        if (err[0])
            fprintf(stderr, "%s\n", err);
        CHECK_INTEQ(c.workers, 0);
        free(c.config_path);
        c.config_path = NULL;
        check_defaults(&c);
        config_free(&c);
    }
    free(text);
}

typedef struct {
    const char *yaml;
    int line;
    const char *what;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* YAML syntax: libyaml's own words */
    {"workers: 1\n  bad: 2\n", 2, "mapping values are not allowed in this context"},
    {"listen: [\"a:1\"\nworkers: 2\n", 2, "did not find expected ',' or ']' (while parsing a flow sequence)"},
    {"workers: 1\n\xff\n", 2, "invalid leading UTF-8 octet"},
    {"workers: 1\n---\nworkers: 2\n", 3, "only one YAML document is allowed"},
    {"- a\n- b\n", 1, "top level: expected a mapping, got a list"},
    /* unknown keys, by section */
    {"workers: 1\nworker: 2\n", 2, "unknown key \"worker\" at top level"},
    {"limits:\n  max_body: 1\n  max_bodies: 2\n", 3, "unknown key \"max_bodies\" in limits"},
    {"transcode:\n  emit_default: true\n", 2, "unknown key \"emit_default\" in transcode"},
    {"clusters:\n  - name: a\n    targets: [\"h:1\"]\n    timeout: 5\n", 4, "unknown key \"timeout\" in clusters[0]"},
    {"clusters:\n  - name: a\n    targets: [\"h:1\"]\n    health: {interval: 5}\n", 4,
     "unknown key \"interval\" in clusters[0].health"},
    {"routes:\n  - method: a.B.C\n    status: 201\n", 3, "unknown key \"status\" in routes[0]"},
    /* types */
    {"workers: abc\n", 1, "workers: expected a non-negative integer, got \"abc\""},
    {"workers: -1\n", 1, "workers: expected a non-negative integer, got \"-1\""},
    {"workers: [1]\n", 1, "workers: expected a non-negative integer, got a list"},
    {"workers:\n", 1, "workers: expected a non-negative integer, got nothing"},
    {"workers: 2000\n", 1, "workers: 2000 is out of range 0..1024"},
    {"transcode:\n  emit_defaults: yes please\n", 2,
     "transcode.emit_defaults: expected true or false, got \"yes please\""},
    {"limits: 5\n", 1, "limits: expected a mapping, got \"5\""},
    {"limits:\n  max_body: 4XB\n", 2,
     "limits.max_body: expected a size in bytes (4194304, \"4MiB\", \"512KiB\", \"1MB\"), got \"4XB\""},
    {"limits:\n  max_body: 0\n", 2, "limits.max_body: must be greater than 0"},
    {"limits:\n  max_depth: 0\n", 2, "limits.max_depth: 0 is out of range 1..4294967295"},
    {"drain_timeout_ms: 5 s s\n", 1,
     "drain_timeout_ms: expected a duration in ms (5000, \"250ms\", \"5s\", \"1m\"), got \"5 s s\""},
    {"drain_timeout_ms: 5000h\n", 1, "drain_timeout_ms: 5000h is too long (at most 4294967295 ms)"},
    {"access_log: \"a\\0b\"\n", 1, "access_log: contains a NUL byte"},
    {"access_log: \"\"\n", 1, "access_log: expected a non-empty string"},
    {"access_log:\n", 1, "access_log: expected a string, got nothing"},
    {"clusters:\n  - name: ''\n    targets: [\"h:1\"]\n", 2, "clusters[0].name: expected a non-empty string"},
    {"clusters: {name: a}\n", 1, "clusters: expected a list, got a mapping"},
    {"services: [a]\n", 1, "services: expected a mapping, got a list"},
    /* addresses */
    {"listen: \"0.0.0.0:65536\"\n", 1, "listen: bad address \"0.0.0.0:65536\": port out of range 0..65535"},
    {"listen:\n  - \":80\"\n  - \"localhost\"\n", 3, "listen[1]: bad address \"localhost\": expected HOST:PORT"},
    {"listen: \"::1:80\"\n", 1, "listen: bad address \"::1:80\": an IPv6 address needs brackets: [ADDR]:PORT"},
    {"listen: \"[::1:80\"\n", 1, "listen: bad address \"[::1:80\": missing ']' after an IPv6 address"},
    {"listen: \"host:http\"\n", 1, "listen: bad address \"host:http\": port is not a number"},
    {"listen: []\n", 1, "listen: expected at least one address"},
    {"clusters:\n  - name: a\n    targets:\n      - \"h:1\"\n      - \"h:0\"\n", 5,
     "clusters[0].targets[1]: bad address \"h:0\": port out of range 1..65535"},
    {"clusters:\n  - name: a\n    targets: \"*:9100\"\n", 3,
     "clusters[0].targets: bad address \"*:9100\": a target needs a host"},
    {"clusters:\n  - name: a\n    targets: [\"h:1\"]\n  - name: b\n    targets: [\"bad host:1\"]\n", 5,
     "clusters[1].targets[0]: bad address \"bad host:1\": bad character in host"},
    /* clusters, services, routes */
    {"clusters:\n  - name: a\n    targets: [\"h:1\"]\n  - name: b\n    targets: [\"h:2\"]\n  - name: a\n"
     "    targets: [\"h:3\"]\n",
     6, "duplicate cluster name \"a\""},
    {"clusters:\n  - name: a\n    targets: [\"h:1\"]\n  - name: b\n    timeout_ms: 5\n", 4,
     "cluster \"b\": no targets"},
    {"clusters:\n  - name: a\n    targets: []\n", 2, "cluster \"a\": no targets"},
    {"clusters:\n  - targets: [\"h:1\"]\n", 2, "clusters[0]: missing \"name\""},
    {"clusters: []\n", 1, "clusters: expected at least one cluster"},
    {"services:\n  a.B: default\n  a.C: nowhere\n", 3, "services.a.C: no cluster named \"nowhere\""},
    {"routes:\n  - method: a.B.C\n    success_status: 404\n", 3,
     "routes[0].success_status: 404 is not a success status (200..299)"},
    {"routes:\n  - method: a.B.C\n    success_status: ok\n", 3,
     "routes[0].success_status: expected an HTTP status 200..299, got \"ok\""},
    {"routes:\n  - method: Submit\n", 2,
     "routes[0].method: expected a full method name like \"package.Service.Method\", got \"Submit\""},
    {"routes:\n  - timeout_ms: 5\n", 2, "routes[0]: missing \"method\""},
    {"routes:\n  - method: a.B.C\n  - method: a.B.D\n  - method: a.B.C\n", 4,
     "duplicate route for method \"a.B.C\" (first at line 2)"},
    /* duplicate keys, at every level */
    {"workers: 1\nlisten: \"a:1\"\nworkers: 2\n", 3, "top level: duplicate key \"workers\" (first at line 1)"},
    {"limits:\n  max_depth: 1\n  max_depth: 2\n", 3, "limits: duplicate key \"max_depth\" (first at line 2)"},
    {"services:\n  a.B: default\n  a.B: default\n", 3, "services: duplicate key \"a.B\" (first at line 2)"},
    {"clusters:\n  - {name: a, targets: [\"h:1\"], name: b}\n", 2,
     "clusters[0]: duplicate key \"name\" (first at line 2)"},
    {"? [a]\n: 1\n", 1, "top level: keys must be non-empty strings"},
};

static void test_errors(void)
{
    config_t c, ref;
    config_defaults(&c);
    config_defaults(&ref);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *b = &bad_cases[i];
        const char *yaml = b->yaml;
        int rc = load_text(&c, yaml);
        CHECK_INTEQ(rc, -1);
        CHECK_STREQ(err, at(b->line, b->what));
        if (rc != -1 || strcmp(err, at(b->line, b->what)) != 0)
            fprintf(stderr, "  in case %zu: %s", i, yaml);
    }
    /* every failure left c exactly as it was */
    check_defaults(&c);
    CHECK(c.config_path == NULL);

    CHECK_INTEQ(config_load_file(&c, "/nonexistent/gw.yaml", err, sizeof(err)), -1);
    CHECK_STREQ(err, "/nonexistent/gw.yaml: No such file or directory");
    config_free(&c);
    config_free(&ref);
}

/* json_profile: top level, per cluster and per route, from the file and the
 * flag; precedence route > cluster > .proto > top level > proto3 */
static void test_json_profile(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "json_profile: v11\n"
                              "clusters:\n"
                              "  - {name: default, targets: [\"127.0.0.1:1\"]}\n"
                              "  - {name: strict, targets: [\"127.0.0.1:2\"], json_profile: proto3}\n"
                              "routes:\n"
                              "  - {method: a.B.C, json_profile: v11}\n"),
                0);
    const config_cluster_t *d = &c.clusters[0], *strict = &c.clusters[1];
    const config_route_t *r = config_route_for_method(&c, "a.B.C");
    CHECK(r != NULL);
    CHECK_STREQ(config_json_profile(&c, d, NULL, NULL), "v11");      /* top level */
    CHECK_STREQ(config_json_profile(&c, d, NULL, "proto3"), "proto3"); /* the .proto's */
    CHECK_STREQ(config_json_profile(&c, strict, NULL, "v11"), "proto3"); /* the cluster's */
    CHECK_STREQ(config_json_profile(&c, strict, r, "proto3"), "v11");  /* the route's */
    /* ~ clears it again */
    CHECK_INTEQ(load_text(&c, "json_profile: ~\n"), 0); /* a load swaps in a new copy: */
    CHECK_STREQ(config_json_profile(&c, &c.clusters[0], NULL, NULL), "proto3");
    CHECK_INTEQ(load_text(&c, "json_profile: jackson\n"), -1);
    CHECK(strstr(err, ":1:") != NULL && strstr(err, "expected one of proto3, v11, got \"jackson\"") != NULL);
    CHECK_INTEQ(load_text(&c, "routes:\n  - {method: a.B.D, json_profile: 3}\n"), -1);
    CHECK(strstr(err, "routes[0].json_profile: expected one of") != NULL);
    CHECK_INTEQ(ARGS(&c, "--json-profile", "v11"), 0);
    CHECK_STREQ(c.json_profile, "v11");
    CHECK_INTEQ(ARGS(&c, "--json-profile=strict"), -1);
    CHECK_STREQ(err, "--json-profile: expected one of proto3, v11, got \"strict\"");
    config_free(&c);
}

/* http1: the front end, from the file and the flag; only uring and h2o */
static void test_http1(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "http1: h2o\n"), 0);
    CHECK_INTEQ(c.http1, CONFIG_HTTP1_H2O);
    CHECK_INTEQ(load_text(&c, "http1: uring\n"), 0);
    CHECK_INTEQ(c.http1, CONFIG_HTTP1_URING);
    CHECK_INTEQ(load_text(&c, "workers: 1\nhttp1: epoll\n"), -1);
    CHECK(strstr(err, ":2:") != NULL && strstr(err, "http1") != NULL && strstr(err, "uring or h2o") != NULL);
    CHECK_INTEQ(c.http1, CONFIG_HTTP1_URING);
    CHECK_INTEQ(c.workers, 0); /* the failed load changed nothing */
    CHECK_INTEQ(ARGS(&c, "--http1", "h2o"), 0);
    CHECK_INTEQ(c.http1, CONFIG_HTTP1_H2O);
    CHECK_INTEQ(ARGS(&c, "--http1=uring"), 0);
    CHECK_INTEQ(c.http1, CONFIG_HTTP1_URING);
    CHECK_INTEQ(ARGS(&c, "--http1", "libuv"), -1);
    CHECK_STREQ(err, "--http1: expected uring or h2o, got \"libuv\"");
    config_free(&c);
}

static void test_all_or_nothing(void)
{
    config_t c;
    config_defaults(&c);
    /* good keys before the bad one are not applied either */
    CHECK_INTEQ(load_text(&c, "workers: 4\nlisten: \"127.0.0.1:1\"\nclusters:\n  - name: x\n"
                              "    targets: [\"h:1\"]\nservices: {a.B: x}\nroutes:\n  - method: a.B.C\n"
                              "limits: {max_body: 1k}\nbogus: 1\n"),
                -1);
    CHECK_STREQ(err, at(10, "unknown key \"bogus\" at top level"));
    check_defaults(&c);

    /* a good load, then a bad one: the good one stays */
    CHECK_INTEQ(load_text(&c, "workers: 4\n"), 0);
    CHECK_INTEQ(c.workers, 4);
    char *first_path = strdup(c.config_path);
    CHECK_INTEQ(config_load_file(&c, write_file("bad.yaml", "workers: 5\nlimits: {max_depth: x}\n"), err,
                                 sizeof(err)),
                -1);
    CHECK_INTEQ(c.workers, 4);
    CHECK_STREQ(c.config_path, first_path);
    free(first_path);

    /* empty and comment-only files change nothing */
    CHECK_INTEQ(load_text(&c, ""), 0);
    CHECK_INTEQ(load_text(&c, "# just a comment\n\n   # another\n"), 0);
    CHECK_INTEQ(load_text(&c, "---\n"), 0);
    CHECK_INTEQ(c.workers, 4);
    CHECK_INTEQ(c.nclusters, 1);
    CHECK_INTEQ(c.nroutes, 0);
    config_free(&c);
}

static void test_sections(void)
{
    config_t c;
    config_defaults(&c);
    /* a single string where a list goes; clusters replace the defaults */
    CHECK_INTEQ(load_text(&c, "listen: \"[::]:0\"\nclusters:\n  - name: a\n    targets: \"h:1\"\n"
                              "services:\n  x.Y: a\n"),
                0);
    CHECK_INTEQ(c.nlisteners, 1);
    CHECK_STREQ(c.listeners[0].host, "::");
    CHECK_INTEQ(c.nclusters, 1);
    CHECK(config_cluster_for_service(&c, "x.Y") == &c.clusters[0]);
    CHECK(config_cluster_for_service(&c, "x.Z") == NULL); /* no "default" any more */
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0); /* services mapped explicitly */
    /* a second file replaces services as a whole */
    CHECK_INTEQ(load_text(&c, "services: {}\n"), 0);
    CHECK_INTEQ(c.nservices, 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "clusters: no cluster named \"default\" and no services mapped to the others");
    /* descriptors: null resets to the built set */
    CHECK_INTEQ(load_text(&c, "descriptors: /a.pb\n"), 0);
    CHECK_STREQ(c.descriptors, "/a.pb");
    CHECK_INTEQ(load_text(&c, "descriptors: ~\n"), 0);
    CHECK(c.descriptors == NULL);
    /* routes: a file route sets only its keys */
    CHECK_INTEQ(load_text(&c, "routes:\n  - method: aurigraph.v11.TransactionService.SubmitTransaction\n"
                              "    success_status: 200\n"),
                0);
    CHECK_INTEQ(config_route_for_method(&c, "aurigraph.v11.TransactionService.SubmitTransaction")->success_status,
                200);
    CHECK_INTEQ(c.nroutes, 1);
    /* anchors and aliases work; a cycle through an alias is just a type error */
    CHECK_INTEQ(load_text(&c, "clusters:\n  - name: a\n    targets: &t [\"h:1\", \"h:2\"]\n"
                              "  - name: default\n    targets: *t\n"),
                0);
    CHECK_INTEQ(c.clusters[1].ntargets, 2);
    CHECK_INTEQ(load_text(&c, "listen: &x [*x]\n"), -1);
    CHECK_STREQ(err, at(1, "listen[0]: expected \"HOST:PORT\", got a list"));
    config_free(&c);
}

/* rate_limits: a list replaced as a whole; each limit checked whole */
static void test_rate_limits(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "rate_limits:\n"
                              "  - name: submit\n"
                              "    method: aurigraph.v11.TransactionService.SubmitTransaction\n"
                              "    key: header:X-Api-Key\n"
                              "    rate: 0.5\n"
                              "  - {name: all, rate: 2500, burst: 100, key: client_address, max_keys: 50}\n"
                              "  - {name: plain, rate: 10, key: ~}\n"),
                0);
    CHECK_INTEQ(c.nrate_limits, 3);
    const config_rate_limit_t *r = c.rate_limits;
    CHECK_STREQ(r[0].name, "submit");
    CHECK_STREQ(r[0].method, "aurigraph.v11.TransactionService.SubmitTransaction");
    CHECK_INTEQ(r[0].key, CONFIG_RATE_KEY_HEADER);
    CHECK_STREQ(r[0].header, "x-api-key"); /* header names are matched lower case */
    CHECK(r[0].rate == 0.5);
    CHECK_INTEQ(config_rate_limit_burst(&r[0]), 1); /* one second's worth, at least 1 */
    CHECK_INTEQ(r[0].max_keys, CONFIG_RATE_DEFAULT_MAX_KEYS);
    CHECK(r[1].method == NULL && r[1].key == CONFIG_RATE_KEY_ADDRESS && r[1].max_keys == 50);
    CHECK_INTEQ(config_rate_limit_burst(&r[1]), 100);
    CHECK(r[2].key == CONFIG_RATE_KEY_NONE && r[2].header == NULL);
    CHECK_INTEQ(config_rate_limit_burst(&r[2]), 10);
    /* a file without the section keeps them (each load works on a deep copy) */
    CHECK_INTEQ(load_text(&c, "workers: 3\n"), 0);
    CHECK_INTEQ(c.nrate_limits, 3);
    CHECK_STREQ(c.rate_limits[0].header, "x-api-key");
    static const bad_case_t bad[] = {
        {"rate_limits:\n  - name: a\n", 2, "rate limit \"a\": missing \"rate\" (requests per second)"},
        {"rate_limits:\n  - rate: 1\n", 2, "rate_limits[0]: missing \"name\""},
        {"rate_limits:\n  - {name: a, rate: 0}\n", 2,
         "rate_limits[0].rate: expected requests per second, 0.001 or more (0.5, 100, 25000), got \"0\""},
        {"rate_limits:\n  - {name: a, rate: 1, key: ip}\n", 2,
         "rate_limits[0].key: expected client_address or header:NAME, got \"ip\""},
        {"rate_limits:\n  - {name: a, rate: 1, key: \"header:a b\"}\n", 2,
         "rate_limits[0].key: expected client_address or header:NAME (a header name), got \"header:a b\""},
        {"rate_limits:\n  - {name: a, rate: 1, method: Submit}\n", 2,
         "rate_limits[0].method: expected a full method name like \"package.Service.Method\", got \"Submit\""},
        {"rate_limits:\n  - {name: a, rate: 1, burst: 0}\n", 2,
         "rate_limits[0].burst: 0 is out of range 1..1000000000"},
        {"rate_limits:\n  - {name: a, rate: 1}\n  - {name: a, rate: 2}\n", 3, "duplicate rate limit name \"a\""},
        {"rate_limits:\n  - {name: a, rate: 1, limit: 2}\n", 2, "unknown key \"limit\" in rate_limits[0]"},
        {"rate_limits: {name: a}\n", 1, "rate_limits: expected a list, got a mapping"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INTEQ(load_text(&c, bad[i].yaml), -1);
        CHECK_STREQ(err, at(bad[i].line, bad[i].what));
    }
    CHECK_INTEQ(c.nrate_limits, 3); /* every failure left them as they were */
    CHECK_INTEQ(load_text(&c, "rate_limits: ~\n"), 0);
    CHECK_INTEQ(c.nrate_limits, 0);
    /* connections: plain numbers */
    CHECK_INTEQ(load_text(&c, "connections: {max: 100, max_per_client: 8, probe_reserve: 0}\n"), 0);
    CHECK(c.connections.max == 100 && c.connections.max_per_client == 8 && c.connections.probe_reserve == 0);
    CHECK_INTEQ(load_text(&c, "connections: {max: -1}\n"), -1);
    CHECK_INTEQ(load_text(&c, "connections: {cap: 1}\n"), -1);
    CHECK_STREQ(err, at(1, "unknown key \"cap\" in connections"));
    config_free(&c);
}

static void test_sizes_and_durations(void)
{
    static const struct {
        const char *text;
        size_t bytes;
    } sizes[] = {
        {"4194304", 4194304}, {"4MiB", 4u << 20}, {"512KiB", 512u << 10}, {"1MB", 1000000},
        {"2GiB", (size_t)2 << 30}, {"1GB", 1000000000}, {"3KB", 3000}, {"64k", 64u << 10},
        {"2m", 2u << 20}, {"1g", 1u << 30}, {"10 MiB", 10u << 20}, {"7mib", 7u << 20}, {"100B", 100},
    };
    config_t c;
    config_defaults(&c);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "limits:\n  max_output: \"%s\"\n  max_string: %s\n", sizes[i].text,
                 sizes[i].text);
        CHECK_INTEQ(load_text(&c, yaml), 0);
        CHECK_INTEQ(c.transcode.max_output, sizes[i].bytes);
        CHECK_INTEQ(c.transcode.max_string, sizes[i].bytes);
    }
    static const char *const bad_sizes[] = {"1.5MiB", "MiB", "-1", "1 Mi", "0x10", "99999999999999999999",
                                            "18446744073709551615GiB"};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "limits: {max_body: \"%s\"}\n", bad_sizes[i]);
        CHECK_INTEQ(load_text(&c, yaml), -1);
        CHECK(strstr(err, "limits.max_body: expected a size in bytes") != NULL);
    }
    static const struct {
        const char *text;
        uint32_t ms;
    } durations[] = {{"0", 0}, {"250", 250}, {"250ms", 250}, {"5s", 5000}, {"2m", 120000}, {"1h", 3600000},
                     {"10 s", 10000}, {"4294967295", 4294967295u}};
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "drain_timeout_ms: %s\n", durations[i].text);
        CHECK_INTEQ(load_text(&c, yaml), 0);
        CHECK_INTEQ(c.drain_timeout_ms, durations[i].ms);
    }
    CHECK_INTEQ(load_text(&c, "drain_timeout_ms: 4294967296\n"), -1);
    CHECK_INTEQ(load_text(&c, "drain_timeout_ms: 1.5s\n"), -1);
    config_free(&c);
}

static void test_flags(void)
{
    config_t c;
    const char *file = write_file("flags.yaml", "listen: \"127.0.0.1:7000\"\nworkers: 3\naccess_log: off\n"
                                                "clusters:\n  - name: default\n    targets: [\"a:1\", \"b:2\"]\n"
                                                "  - name: other\n    targets: [\"c:3\"]\n"
                                                "services:\n  x.Y: other\n");
    char *path = strdup(file);

    /* --config alone */
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--config", path), 0);
    CHECK_STREQ(c.config_path, path);
    CHECK_INTEQ(c.listeners[0].port, 7000);
    CHECK_INTEQ(c.workers, 3);
    CHECK_STREQ(c.access_log, "off");
    config_free(&c);

    /* --listen overrides the file whether it comes before or after --config */
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--listen", "[::1]:0", "--config", path, "--workers=9"), 0);
    CHECK_INTEQ(c.nlisteners, 1);
    CHECK_STREQ(c.listeners[0].host, "::1");
    CHECK_INTEQ(c.listeners[0].port, 0);
    CHECK_INTEQ(c.workers, 9);
    config_free(&c);
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--config=", "x"), -1);
    CHECK_STREQ(err, "--config: empty argument");
    CHECK_INTEQ(ARGS(&c, "--config", path, "--listen=*:1", "--listen", "127.0.0.2:2", "--access-log", "stderr",
                     "--descriptors", "/d.pb", "--check-config"),
                0);
    CHECK_INTEQ(c.nlisteners, 2); /* the first --listen replaces, more add */
    CHECK_STREQ(c.listeners[0].host, "0.0.0.0");
    CHECK_INTEQ(c.listeners[0].port, 1);
    CHECK_STREQ(c.listeners[1].host, "127.0.0.2");
    CHECK_STREQ(c.access_log, "stderr");
    CHECK_STREQ(c.descriptors, "/d.pb");
    CHECK_INTEQ(c.check_only, 1);
    /* a second call with other flags starts from where the first left */
    CHECK_INTEQ(ARGS(&c, "--workers", "0"), 0);
    CHECK_INTEQ(c.workers, 0);
    CHECK_INTEQ(c.nlisteners, 2);
    config_free(&c);

    /* several --config files load in order, each over the last */
    config_defaults(&c);
    char *second = strdup(write_file("second.yaml", "workers: 12\n"));
    CHECK_INTEQ(ARGS(&c, "--config", second, "--config", path), 0);
    CHECK_INTEQ(c.workers, 3);
    CHECK_STREQ(c.config_path, path);
    CHECK_INTEQ(ARGS(&c, "--config", path, "--config", second), 0);
    CHECK_INTEQ(c.workers, 12);
    CHECK_STREQ(c.access_log, "off");
    free(second);
    config_free(&c);

    /* a directory is not a config file */
    config_defaults(&c);
    CHECK_INTEQ(config_load_file(&c, tmpdir, err, sizeof(err)), -1);
    CHECK(strstr(err, "Is a directory") != NULL);
    config_free(&c);

    /* --upstream: "default" gets exactly that target, services go to it */
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--upstream", "backend:9200", "--config", path), 0);
    const config_cluster_t *d = config_cluster_for_service(&c, "x.Y");
    CHECK(d != NULL && strcmp(d->name, "default") == 0);
    CHECK_INTEQ(d->ntargets, 1);
    CHECK_STREQ(d->targets[0].host, "backend");
    CHECK_INTEQ(d->targets[0].port, 9200);
    CHECK_INTEQ(c.nservices, 0);
    CHECK_INTEQ(c.nclusters, 2);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    config_free(&c);
    /* ... and recreates "default" when a file dropped it */
    config_defaults(&c);
    const char *nodefault =
        write_file("nodefault.yaml", "clusters:\n  - name: only\n    targets: [\"o:1\"]\nservices: {x.Y: only}\n");
    CHECK_INTEQ(ARGS(&c, "--config", (char *)nodefault, "--upstream", "u:1", "--upstream", "[::1]:2"), 0);
    CHECK_INTEQ(c.nclusters, 2);
    d = config_cluster_for_service(&c, "x.Y");
    CHECK(d != NULL && strcmp(d->name, "default") == 0 && d->ntargets == 2);
    CHECK_STREQ(d->targets[1].host, "::1");
    CHECK_INTEQ(d->timeout_ms, 30000);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    config_free(&c);

    /* --help prints and says exit; it wins over a broken config */
    config_defaults(&c);
    fflush(stdout);
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = ARGS(&c, "--config", "/nonexistent.yaml", "--help");
    int rc_h = ARGS(&c, "-h");
    fclose(stdout);
    stdout = saved;
    CHECK_INTEQ(rc, 1);
    CHECK_INTEQ(rc_h, 1);
    check_defaults(&c);

    /* errors name the flag, and change nothing */
    CHECK_INTEQ(ARGS(&c, "--workers", "2", "--bogus"), -1);
    CHECK_STREQ(err, "unknown flag --bogus (try --help)");
    CHECK_INTEQ(ARGS(&c, "--bogus=1"), -1);
    CHECK_STREQ(err, "unknown flag --bogus (try --help)");
    CHECK_INTEQ(ARGS(&c, "-x"), -1);
    CHECK_STREQ(err, "unknown flag -x (try --help)");
    CHECK_INTEQ(ARGS(&c, "stray"), -1);
    CHECK_STREQ(err, "unexpected argument \"stray\" (try --help)");
    CHECK_INTEQ(ARGS(&c, "--listen"), -1);
    CHECK_STREQ(err, "--listen: missing argument");
    CHECK_INTEQ(ARGS(&c, "--descriptors", "--workers", "1"), -1);
    CHECK_STREQ(err, "--descriptors: missing argument");
    CHECK_INTEQ(ARGS(&c, "--check-config=yes"), -1);
    CHECK_STREQ(err, "--check-config takes no argument");
    CHECK_INTEQ(ARGS(&c, "--workers", "many"), -1);
    CHECK_STREQ(err, "--workers: expected an integer 0..1024, got \"many\"");
    CHECK_INTEQ(ARGS(&c, "--workers", "1025"), -1);
    CHECK_INTEQ(ARGS(&c, "--listen", "nohost"), -1);
    CHECK_STREQ(err, "--listen: bad address \"nohost\": expected HOST:PORT");
    CHECK_INTEQ(ARGS(&c, "--upstream", "h:0"), -1);
    CHECK_STREQ(err, "--upstream: bad address \"h:0\": port out of range 1..65535");
    CHECK_INTEQ(ARGS(&c, "--workers", "5", "--config", "/nonexistent.yaml"), -1);
    CHECK_STREQ(err, "/nonexistent.yaml: No such file or directory");
    const char *bad = write_file("badflags.yaml", "workers: 2\nlisten: 1\n");
    CHECK_INTEQ(ARGS(&c, "--listen", "a:1", "--config", (char *)bad), -1);
    char want[512];
    snprintf(want, sizeof(want), "%s:2: listen: bad address \"1\": expected HOST:PORT", bad);
    CHECK_STREQ(err, want);
    check_defaults(&c);
    char *no_flags[] = {"gateway", NULL};
    CHECK_INTEQ(args(&c, 1, no_flags), 0);
    check_defaults(&c);
    config_free(&c);
    free(path);
}

/* Versions, stickiness, rollout defaults, the admin listener (issue 5). */
static void test_release(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_STREQ(c.admin_host, "127.0.0.1");
    CHECK_INTEQ(c.admin_port, 9005);
    CHECK(c.admin_token == NULL);
    CHECK_INTEQ(c.clusters[0].nversions, 0);
    CHECK_STREQ(c.clusters[0].sticky.header, "x-canary");
    CHECK_INTEQ(c.clusters[0].rollout.nsteps, 4);
    CHECK_INTEQ(c.clusters[0].rollout.steps[0], 10);
    CHECK_INTEQ(c.clusters[0].rollout.steps[3], 100);
    CHECK_INTEQ(c.clusters[0].rollout.hold_ms, 4u * 3600 * 1000);
    CHECK_INTEQ(c.clusters[0].rollout.window_ms, 300000);
    CHECK_INTEQ(c.clusters[0].rollout.max_p95_ms, 500);
    CHECK_INTEQ(c.clusters[0].rollout.max_health_failures, 3);
    CHECK(c.clusters[0].rollout.max_error_rate == 0.01);

    CHECK_INTEQ(load_text(&c, "clusters:\n"
                              "  - name: default\n"
                              "    versions:\n"
                              "      - {name: blue, targets: [\"a:1\", \"b:2\"], weight: 90}\n"
                              "      - {name: canary, targets: \"c:3\", weight: 10}\n"
                              "    sticky: {header: x-side, cookie: side}\n"
                              "    rollout: {steps: [5, 100], hold_ms: 2h, window_ms: 1m, min_requests: 7,\n"
                              "              max_error_rate: 0.05, max_p99_ms: 0}\n"
                              "admin: {listen: \"127.0.0.1:0\", token: t0k}\n"),
                0);
    CHECK_STREQ(err, "");
    const config_cluster_t *cl = &c.clusters[0];
    CHECK_INTEQ(cl->ntargets, 0);
    CHECK_INTEQ(cl->nversions, 2);
    CHECK_STREQ(cl->versions[0].name, "blue");
    CHECK_INTEQ(cl->versions[0].ntargets, 2);
    CHECK_INTEQ(cl->versions[0].weight, 90);
    CHECK_STREQ(cl->versions[1].targets[0].host, "c");
    CHECK_INTEQ(cl->versions[1].weight, 10);
    CHECK_STREQ(cl->sticky.header, "x-side");
    CHECK_STREQ(cl->sticky.cookie, "side");
    CHECK_INTEQ(cl->rollout.nsteps, 2);
    CHECK_INTEQ(cl->rollout.hold_ms, 7200000);
    CHECK_INTEQ(cl->rollout.window_ms, 60000);
    CHECK_INTEQ(cl->rollout.min_requests, 7);
    CHECK_INTEQ(cl->rollout.max_p99_ms, 0);
    CHECK_INTEQ(cl->rollout.max_p95_ms, 500);
    CHECK(cl->rollout.max_error_rate == 0.05);
    CHECK_INTEQ(c.admin_port, 0);
    CHECK_STREQ(c.admin_token, "t0k");
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    config_free(&c);

    /* mistakes, each with its line */
    static const bad_case_t bad[] = {
        {"clusters:\n  - name: x\n    targets: [\"a:1\"]\n    versions: [{name: b, targets: [\"c:2\"]}]\n", 2,
         "cluster \"x\": give targets or versions, not both"},
        {"clusters:\n  - name: x\n    versions:\n      - {name: b, targets: [\"c:2\"]}\n      - {name: b, targets: [\"d:2\"]}\n",
         5, "clusters[0].versions[1]: duplicate version name \"b\""},
        {"clusters:\n  - name: x\n    versions:\n      - {name: b}\n", 4, "clusters[0].versions[0]: no targets"},
        {"clusters:\n  - name: x\n    targets: [\"a:1\"]\n    rollout: {steps: [50, 20, 100]}\n", 4,
         "clusters[0].rollout.steps: steps must rise within 1..100"},
        {"clusters:\n  - name: x\n    targets: [\"a:1\"]\n    rollout: {steps: [10, 50]}\n", 4,
         "clusters[0].rollout.steps: the last step must be 100"},
        {"clusters:\n  - name: x\n    targets: [\"a:1\"]\n    rollout: {max_error_rate: 5}\n", 4,
         "clusters[0].rollout.max_error_rate: expected a number 0..1 (0.01 = 1%), got \"5\""},
        {"clusters:\n  - name: x\n    targets: [\"a:1\"]\n    sticky: {cookie: a, hash_header: b}\n", 4,
         "clusters[0].sticky: cookie and hash_header exclude each other"},
        {"admin: {listen: \"nowhere\"}\n", 1, "admin.listen: bad address \"nowhere\": expected HOST:PORT"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config_defaults(&c);
        CHECK_INTEQ(load_text(&c, bad[i].yaml), -1);
        CHECK_STREQ(err, at(bad[i].line, bad[i].what));
        config_free(&c);
    }

    /* sticky header names are compared in lower case, as requests carry them */
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "clusters:\n  - name: default\n    targets: [\"a:1\"]\n"
                              "    sticky: {header: X-Side, hash_header: X-User-Id}\n"),
                0);
    CHECK_STREQ(c.clusters[0].sticky.header, "x-side");
    CHECK_STREQ(c.clusters[0].sticky.hash_header, "x-user-id");
    config_free(&c);

    /* admin: off, and a token is a must off loopback */
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "admin: off\n"), 0);
    CHECK(c.admin_host == NULL);
    CHECK_INTEQ(ARGS(&c, "--admin", "0.0.0.0:9005"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "needs a token") != NULL);
    CHECK_INTEQ(ARGS(&c, "--admin", "0.0.0.0:9005", "--admin-token", "x"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK_INTEQ(c.admin_explicit, 1);
    config_free(&c);

    /* --upstream-version: the default cluster's versions, whole */
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--upstream-version", "blue=10.0.0.1:9100", "--upstream-version=canary=10.0.0.2:9100,5",
                     "--upstream-version", "blue=10.0.0.3:9100"),
                0);
    cl = &c.clusters[0];
    CHECK_INTEQ(cl->ntargets, 0);
    CHECK_INTEQ(cl->nversions, 2);
    CHECK_INTEQ(cl->versions[0].ntargets, 2);
    CHECK_INTEQ(cl->versions[0].weight, 100);
    CHECK_STREQ(cl->versions[1].name, "canary");
    CHECK_INTEQ(cl->versions[1].weight, 5);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK_INTEQ(ARGS(&c, "--upstream-version", "blue:9100"), -1);
    CHECK(strstr(err, "expected NAME=HOST:PORT[,WEIGHT]") != NULL);
    CHECK_INTEQ(ARGS(&c, "--upstream-version", "b/x=a:1"), -1);
    CHECK(strstr(err, "bad version name") != NULL);
    CHECK_INTEQ(ARGS(&c, "--upstream-version", "b=a:1,lots"), -1);
    CHECK(strstr(err, "bad weight") != NULL);
    CHECK_INTEQ(ARGS(&c, "--upstream", "a:1", "--upstream-version", "b=a:2"), -1);
    CHECK(strstr(err, "cannot be mixed with --upstream") != NULL);
    CHECK_INTEQ(ARGS(&c, "--upstream-version", "b=a:1,0"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "every version has weight 0") != NULL);
    config_free(&c);

    config_defaults(&c);
    CHECK_INTEQ(c.drain_grace_ms, 0);
    CHECK_INTEQ(load_text(&c, "drain_grace_ms: 40s\n"), 0);
    CHECK_INTEQ(c.drain_grace_ms, 40000);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "must be shorter than drain_timeout_ms") != NULL);
    config_free(&c);

    uint32_t ms;
    CHECK_INTEQ(config_parse_duration("4h", &ms), 0);
    CHECK_INTEQ(ms, 14400000);
    CHECK_INTEQ(config_parse_duration("5x", &ms), -1);
    CHECK_INTEQ(config_host_is_loopback("127.0.0.1"), 1);
    CHECK_INTEQ(config_host_is_loopback("::1"), 1);
    CHECK_INTEQ(config_host_is_loopback("0.0.0.0"), 0);
    /* by the address it resolves to, not the spelling */
    CHECK_INTEQ(config_host_is_loopback("localhost"), 1);
    CHECK_INTEQ(config_host_is_loopback("127.255.0.9"), 1);
    CHECK_INTEQ(config_host_is_loopback("::ffff:127.0.0.1"), 1);
    CHECK_INTEQ(config_host_is_loopback("10.0.0.1"), 0);
    CHECK_INTEQ(config_host_is_loopback("::"), 0);
    CHECK_INTEQ(config_host_is_loopback("::ffff:10.0.0.1"), 0);
    CHECK_INTEQ(config_host_is_loopback(""), 0);
    /* a name that only starts like 127.x: resolves elsewhere or not at all
     * (one try, one second, where no DNS answers) */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    CHECK_INTEQ(config_host_is_loopback("127.attacker.invalid"), 0);
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--admin", "127.attacker.invalid:0"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK(strstr(err, "needs a token") != NULL);
    config_free(&c);
}

static void test_validate(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);

    c.workers = 1025;
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "workers: 1025 is out of range 0..1024");
    c.workers = 1024;
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);

    c.transcode.max_repeated = 0;
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "limits.max_repeated: must be greater than 0");
    c.transcode.max_repeated = 1;

    config_listener_t *l = c.listeners;
    size_t nl = c.nlisteners;
    c.nlisteners = 0;
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "listen: no listener");
    c.nlisteners = nl;
    c.listeners = l;

    CHECK_INTEQ(load_text(&c, "services:\n  a.B: default\n"), 0);
    free(c.services[0].cluster);
    c.services[0].cluster = strdup("gone");
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "services: \"a.B\" maps to unknown cluster \"gone\"");
    CHECK(config_cluster_for_service(&c, "a.B") == NULL);
    config_free(&c);

    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "routes:\n  - {method: aurigraph.v11.TransactionService.SubmitTransaction}\n"), 0);
    c.routes[0].success_status = 302;
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "route aurigraph.v11.TransactionService.SubmitTransaction: success_status 302 is not 200..299");
    config_free(&c);
}

/* tracing: the section, the flags over it, and the checks */
static void test_tracing(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "tracing:\n  endpoint: \"http://127.0.0.1:4318\"\n  sample: 0.25\n"
                              "  service_name: gw-east\n  queue_size: 64\n  batch_size: 32\n"
                              "  export_timeout_ms: 1s\n  interval_ms: 250ms\n  propagate_unsampled: true\n"),
                0);
    CHECK_STREQ(c.tracing.endpoint, "http://127.0.0.1:4318");
    CHECK(c.tracing.sample == 0.25);
    CHECK_STREQ(c.tracing.service_name, "gw-east");
    CHECK(c.tracing.queue_size == 64 && c.tracing.batch_size == 32 && c.tracing.export_timeout_ms == 1000 &&
          c.tracing.interval_ms == 250 && c.tracing.propagate_unsampled == 1);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    /* the flags win over the file; "off" takes the endpoint back */
    CHECK_INTEQ(ARGS(&c, "--otlp-endpoint", "http://collector:4318/otlp", "--trace-sample", "0.01"), 0);
    CHECK_STREQ(c.tracing.endpoint, "http://collector:4318/otlp");
    CHECK(c.tracing.sample == 0.01);
    CHECK_STREQ(c.tracing.service_name, "gw-east");
    CHECK_INTEQ(ARGS(&c, "--otlp-endpoint=off"), 0);
    CHECK(c.tracing.endpoint == NULL);
    CHECK_INTEQ(ARGS(&c, "--trace-sample", "1.5"), -1);
    CHECK_STREQ(err, "--trace-sample: expected a number 0..1 (0.01 = 1%), got \"1.5\"");
    CHECK_INTEQ(ARGS(&c, "--trace-sample", "x"), -1);
    CHECK(c.tracing.sample == 0.01); /* a refused flag changes nothing */
    CHECK_INTEQ(ARGS(&c, "--otlp-endpoint", "https://collector:4318"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "tracing.endpoint \"https://collector:4318\": expected http://HOST:PORT[/PREFIX] (https is not "
                     "supported)");
    CHECK_INTEQ(load_text(&c, "tracing: {endpoint: ~}\n"), 0);
    CHECK(c.tracing.endpoint == NULL);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK_INTEQ(load_text(&c, "tracing:\n  sample: 2\n"), -1);
    CHECK_STREQ(err, at(2, "tracing.sample: expected a number 0..1 (0.01 = 1%), got \"2\""));
    CHECK_INTEQ(load_text(&c, "tracing:\n  exporter: otlp\n"), -1);
    CHECK_STREQ(err, at(2, "unknown key \"exporter\" in tracing"));
    CHECK_INTEQ(load_text(&c, "tracing: {queue_size: 1}\n"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    config_free(&c);
}

/* grpc_web: enabled, and the CORS origins (lower-cased, checked, replaced as a list) */
static void test_grpc_web(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "grpc_web:\n  enabled: false\n  cors_origins: [\"https://App.Example.com\", "
                              "\"http://localhost:8080\", \"http://[::1]:3000\", \"*\"]\n"),
                0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK_INTEQ(c.grpc_web.enabled, 0);
    CHECK_INTEQ(c.grpc_web.ncors_origins, 4);
    if (c.grpc_web.ncors_origins == 4) {
        CHECK_STREQ(c.grpc_web.cors_origins[0], "https://app.example.com");
        CHECK_STREQ(c.grpc_web.cors_origins[1], "http://localhost:8080");
        CHECK_STREQ(c.grpc_web.cors_origins[2], "http://[::1]:3000");
        CHECK_STREQ(c.grpc_web.cors_origins[3], "*");
    }
    /* only the keys given change (each load works on a deep copy, and
     * frees the config it replaces); a list given replaces the one before */
    CHECK_INTEQ(load_text(&c, "grpc_web: {cors_origins: \"https://one.example\"}\n"), 0);
    CHECK_INTEQ(c.grpc_web.enabled, 0);
    CHECK(c.grpc_web.ncors_origins == 1 && strcmp(c.grpc_web.cors_origins[0], "https://one.example") == 0);
    CHECK_INTEQ(load_text(&c, "grpc_web: {enabled: true}\n"), 0);
    CHECK_INTEQ(c.grpc_web.enabled, 1);
    CHECK_INTEQ(c.grpc_web.ncors_origins, 1);
    CHECK_INTEQ(load_text(&c, "grpc_web: {cors_origins: []}\n"), 0);
    CHECK_INTEQ(c.grpc_web.ncors_origins, 0);
    CHECK_INTEQ(load_text(&c, "grpc_web: {cors_origins: [\"https://a.example\"]}\n"), 0);
    CHECK_INTEQ(load_text(&c, "grpc_web: {cors_origins: ~}\n"), 0);
    CHECK_INTEQ(c.grpc_web.ncors_origins, 0);

    static const struct {
        const char *yaml;
        int line;
        const char *what;
    } bad[] = {
        {"grpc_web:\n  enabled: yes\n", 2, "grpc_web.enabled: expected true or false, got \"yes\""},
        {"grpc_web:\n  origins: []\n", 2, "unknown key \"origins\" in grpc_web"},
        {"grpc_web: true\n", 1, "grpc_web: expected a mapping, got \"true\""},
        {"grpc_web:\n  cors_origins:\n    - \"https://ok.example\"\n    - \"ftp://x.example\"\n", 4,
         "grpc_web.cors_origins[1]: \"ftp://x.example\": an origin starts with http:// or https://"},
        {"grpc_web: {cors_origins: [\"https://x.example/\"]}\n", 1,
         "grpc_web.cors_origins[0]: \"https://x.example/\": an origin has no path (not even \"/\"), query or "
         "anything after the port"},
        {"grpc_web: {cors_origins: [\"https://x.example:0\"]}\n", 1,
         "grpc_web.cors_origins[0]: \"https://x.example:0\": the port must be 1..65535"},
        {"grpc_web: {cors_origins: [\"https://x.example:\"]}\n", 1,
         "grpc_web.cors_origins[0]: \"https://x.example:\": the port must be 1..65535"},
        {"grpc_web: {cors_origins: [\"https://\"]}\n", 1,
         "grpc_web.cors_origins[0]: \"https://\": an origin needs a host"},
        {"grpc_web: {cors_origins: [\"http://[::1\"]}\n", 1,
         "grpc_web.cors_origins[0]: \"http://[::1\": an IPv6 host goes in brackets"},
        {"grpc_web: {cors_origins: \"app.example.com\"}\n", 1,
         "grpc_web.cors_origins: \"app.example.com\": an origin starts with http:// or https://"},
        {"grpc_web: {cors_origins: [[\"https://a.example\"]]}\n", 1,
         "grpc_web.cors_origins[0]: expected a string, got a list"},
        {"grpc_web: {cors_origins: [\"\"]}\n", 1, "grpc_web.cors_origins[0]: expected a non-empty string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INTEQ(load_text(&c, bad[i].yaml), -1);
        CHECK_STREQ(err, at(bad[i].line, bad[i].what));
    }
    /* the failed loads changed nothing */
    CHECK_INTEQ(c.grpc_web.enabled, 1);
    CHECK_INTEQ(c.grpc_web.ncors_origins, 0);
    config_free(&c);
}

/* listen_grpc and grpc: (issue 12): the file, the flag, the checks. */
static void test_grpc(void)
{
    config_t c;
    config_defaults(&c);
    CHECK_INTEQ(load_text(&c, "listen_grpc: [\"127.0.0.1:0\", \"[::1]:9014\"]\n"
                              "grpc: {max_message: 1MiB, max_concurrent_streams: 8, max_header_list: 8k}\n"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 2);
    CHECK_STREQ(c.grpc_listeners[0].host, "127.0.0.1");
    CHECK_INTEQ(c.grpc_listeners[0].port, 0);
    CHECK_STREQ(c.grpc_listeners[1].host, "::1");
    CHECK_INTEQ(c.grpc_listeners[1].port, 9014);
    CHECK_INTEQ(c.grpc.max_message, 1048576);
    CHECK_INTEQ(c.grpc.max_concurrent_streams, 8);
    CHECK_INTEQ(c.grpc.max_header_list, 8192);
    CHECK_INTEQ(c.nlisteners, 1); /* listen is its own section */
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK_INTEQ(load_text(&c, "listen_grpc: \"*:9024\"\n"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 1);
    CHECK_STREQ(c.grpc_listeners[0].host, "0.0.0.0");
    CHECK_INTEQ(load_text(&c, "listen_grpc: off\n"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0); /* no gRPC listener is fine */
    CHECK_INTEQ(load_text(&c, "listen_grpc: [\"127.0.0.1:1\"]\n"), 0);
    CHECK_INTEQ(load_text(&c, "listen_grpc: []\n"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 0);
    CHECK_INTEQ(load_text(&c, "listen_grpc: \"localhost\"\n"), -1);
    CHECK_STREQ(err, at(1, "listen_grpc: bad address \"localhost\": expected HOST:PORT"));
    CHECK_INTEQ(load_text(&c, "grpc: {max_message: 0}\n"), -1);
    CHECK_STREQ(err, at(1, "grpc.max_message: must be greater than 0"));
    CHECK_INTEQ(load_text(&c, "grpc: {max_message: 2GiB}\n"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "grpc.max_message: 2147483648 is out of range 1..2147483647");
    CHECK_INTEQ(load_text(&c, "grpc: {max_message: 4MiB, max_header_list: 100}\n"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "grpc.max_header_list: 100 is out of range 1024..1048576 (1 KiB..1 MiB)");
    CHECK_INTEQ(load_text(&c, "grpc: {max_streams: 1}\n"), -1);
    CHECK_INTEQ(load_text(&c, "grpc: {max_concurrent_streams: 0}\n"), -1);
    CHECK_INTEQ(load_text(&c, "grpc: {max_header_list: 16k, max_local_streams: 5}\n"), 0);
    CHECK_INTEQ(c.grpc.max_local_streams, 5);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), 0);
    CHECK_INTEQ(load_text(&c, "grpc: {max_local_streams: 0}\n"), -1);
    CHECK_INTEQ(load_text(&c, "grpc: {max_local_streams: 2000000}\n"), 0);
    CHECK_INTEQ(config_validate(&c, err, sizeof(err)), -1);
    CHECK_STREQ(err, "grpc.max_local_streams: 2000000 is out of range 1..1048576");
    config_free(&c);

    /* --listen-grpc: the first replaces the file's, more add; off drops them */
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--listen-grpc", "127.0.0.1:0", "--listen-grpc=[::1]:5"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 2);
    CHECK_STREQ(c.grpc_listeners[0].host, "127.0.0.1");
    CHECK_INTEQ(c.grpc_listeners[1].port, 5);
    CHECK_INTEQ(c.nlisteners, 1);
    CHECK_INTEQ(c.listeners[0].port, 9003);
    config_free(&c);
    config_defaults(&c);
    CHECK_INTEQ(ARGS(&c, "--listen-grpc", "off"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 0);
    CHECK_INTEQ(ARGS(&c, "--listen-grpc", "127.0.0.1:7", "--listen-grpc", "off", "--listen-grpc", "127.0.0.1:8"), 0);
    CHECK_INTEQ(c.ngrpc_listeners, 1);
    CHECK_INTEQ(c.grpc_listeners[0].port, 8);
    CHECK_INTEQ(ARGS(&c, "--listen-grpc", "nohost"), -1);
    CHECK_STREQ(err, "--listen-grpc: bad address \"nohost\": expected HOST:PORT (or \"off\")");
    CHECK_INTEQ(c.ngrpc_listeners, 1); /* a bad flag changes nothing */
    config_free(&c);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/config_test.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_defaults();
    test_full();
    test_example();
    test_help_is_a_config();
    test_errors();
    test_http1();
    test_grpc_web();
    test_json_profile();
    test_all_or_nothing();
    test_sections();
    test_sizes_and_durations();
    test_rate_limits();
    test_flags();
    test_validate();
    test_release();
    test_grpc();
    test_tracing();

    static const char *const names[] = {"t.yaml", "bad.yaml", "flags.yaml", "second.yaml", "nodefault.yaml", "badflags.yaml"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return test_summary();
}
