/*
 * help.c: --help and the key reference (config_print_help), the defaults
 * printed from the same constants the model sets them from.
 */
#include <stdarg.h>
#include <stdio.h>

#include "config/config.h"
#include "config/config_int.h"

/* One line of the key reference: the YAML, then its comment in one column. */
static void ref(FILE *f, const char *comment, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ref(FILE *f, const char *comment, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (comment != NULL)
        fprintf(f, "%-34s# %s\n", line, comment);
    else
        fprintf(f, "%s\n", line);
}

/*
 * The part after "Config file" is itself a valid config file that yields
 * the defaults (config_test loads it), so it can't drift from the parser.
 */
void config_print_help(FILE *f)
{
    fprintf(f,
            "Usage: aurigraph-gateway [FLAGS]\n"
            "\n"
            "Flags (precedence: defaults < --config files < the other flags, whatever the order):\n"
            "  --config FILE         load a YAML config file (keys below); may be repeated:\n"
            "                        files load in order, each over the last\n"
            "  --listen HOST:PORT    listen here instead of the config's listeners; repeat\n"
            "                        for more (default %s:%d)\n"
            "  --listen-grpc HOST:PORT\n"
            "                        the gRPC listener (h2c): here instead of the config's;\n"
            "                        repeat for more, \"off\" for none (default %s:%d)\n"
            "  --upstream HOST:PORT  single backend: the \"default\" cluster gets exactly this\n"
            "                        target (repeat for more) and every service goes to it:\n"
            "                        the services mapping is cleared (default %s:%d)\n"
            "  --descriptors FILE    FileDescriptorSet to serve (default: the one built from proto/)\n"
            "  --workers N           worker threads, 0 = one per core, at most %d (default 0)\n"
            "  --access-log DEST     stdout | stderr | off | a file path (default stdout)\n"
            "  --upstream-version NAME=HOST:PORT[,WEIGHT]\n"
            "                        a version of the \"default\" cluster (blue, green, canary...);\n"
            "                        repeat for more versions or more targets of one; weight:\n"
            "                        100 for the first version, 0 for the others unless given\n"
            "  --admin HOST:PORT     admin API listener, or \"off\" (default %s:%d); off\n"
            "                        loopback it needs a token\n"
            "  --admin-token TOKEN   bearer token the admin API requires (also the environment\n"
            "                        variable AURIGRAPH_ADMIN_TOKEN)\n"
            "  --http1 uring|h2o     HTTP/1.1 front end: io_uring, or h2o's epoll loop (default\n"
            "                        uring; h2o wherever io_uring is unusable). HTTP/2 is h2o's\n"
            "  --json-profile NAME   JSON profile of routes whose .proto names none: proto3 |\n"
            "                        v11 (default proto3; the V11 .protos name v11)\n"
            "  --swagger-ui-dir DIR  serve Swagger UI on /q/swagger-ui from DIR, the swagger-ui-dist\n"
            "                        files (scripts/install-swagger-ui DIR); default: off\n"
            "  --otlp-endpoint URL   export traces (OpenTelemetry spans) with OTLP/HTTP protobuf,\n"
            "                        POSTed to URL/v1/traces (http://HOST:PORT[/PREFIX]); \"off\"\n"
            "                        for none (default: none, no traces)\n"
            "  --trace-sample RATIO  share of new traces recorded, 0..1 (default 1.0); a request\n"
            "                        with a traceparent follows its sampled flag instead\n"
            "  --check-config        load and validate everything, then exit: 0 if valid\n"
            "  -h, --help            print this text and exit\n"
            "A value follows its flag (--workers 4) or an equals sign (--workers=4).\n"
            "\n"
            "Addresses: HOST:PORT, [IPV6]:PORT, or *:PORT (also :PORT) for 0.0.0.0. A listener\n"
            "may use port 0 (any free port); targets need 1..65535 and may be host names.\n"
            "Durations (keys ending in _ms): milliseconds, or a number with ms, s, m or h\n"
            "(\"250ms\", \"5s\"). Sizes: bytes, or a number with KiB/MiB/GiB or k/m/g (x1024),\n"
            "or KB/MB/GB (x1000), case-insensitive (\"4MiB\", \"512k\"). Booleans: true/false.\n"
            "A section given in a file replaces the one before it (listen, listen_grpc, clusters,\n"
            "services); routes merge by method instead, and only the keys given change.\n"
            "\n"
            "Config file (YAML; every key is optional; shown with its default):\n",
            CONFIG_DEFAULT_LISTEN_HOST, CONFIG_DEFAULT_LISTEN_PORT, CONFIG_DEFAULT_GRPC_HOST,
            CONFIG_DEFAULT_GRPC_PORT, CONFIG_DEFAULT_UPSTREAM_HOST,
            CONFIG_DEFAULT_UPSTREAM_PORT, CONFIG_MAX_WORKERS, CONFIG_DEFAULT_ADMIN_HOST, CONFIG_DEFAULT_ADMIN_PORT);
    ref(f, "one address, or a list of them", "listen: \"%s:%d\"", CONFIG_DEFAULT_LISTEN_HOST,
        CONFIG_DEFAULT_LISTEN_PORT);
    ref(f, "gRPC (h2c): the same, or off / []", "listen_grpc: \"%s:%d\"", CONFIG_DEFAULT_GRPC_HOST,
        CONFIG_DEFAULT_GRPC_PORT);
    ref(f, "0 = one per core; at most 1024", "workers: 0");
    ref(f, "~ = the descriptor set built from proto/", "descriptors: ~");
    ref(f, "stdout | stderr | off | a file path", "access_log: stdout");
    ref(f, "/q/swagger-ui's files (swagger-ui-dist); ~ = off", "swagger_ui_dir: ~");
    ref(f, "SIGTERM or POST /admin/drain: in-flight calls get this long", "drain_timeout_ms: %d",
        CONFIG_DEFAULT_DRAIN_MS);
    ref(f, "drain: accept and answer (readiness 503) this long first", "drain_grace_ms: 0");
    ref(f, "HTTP/1.1 front end: uring | h2o", "http1: %s", CONFIG_DEFAULT_HTTP1 == CONFIG_HTTP1_URING ? "uring" : "h2o");
    ref(f, "routes whose .proto names no profile: proto3 | v11", "json_profile: proto3");
    ref(f, "true here adds to every route's profile", "transcode:");
    ref(f, "print fields that hold their default value", "  emit_defaults: false");
    ref(f, "skip unknown JSON keys/query params, not 400", "  ignore_unknown_fields: false");
    ref(f, "print \"tx_hash\", not \"txHash\"", "  use_proto_names: false");
    ref(f, "print enum numbers, not names", "  enums_as_ints: false");
    ref(f, NULL, "limits:");
    ref(f, "4MiB: bytes of request JSON", "  max_body: %u", TRANSCODE_DEFAULT_MAX_BODY);
    ref(f, "nesting of objects, arrays, messages", "  max_depth: %d", TRANSCODE_DEFAULT_MAX_DEPTH);
    ref(f, "1MiB: one decoded string or bytes value", "  max_string: %u", TRANSCODE_DEFAULT_MAX_STRING);
    ref(f, "elements of one repeated field or map", "  max_repeated: %d", TRANSCODE_DEFAULT_MAX_REPEATED);
    ref(f, "16MiB: one transcoded message", "  max_output: %u", TRANSCODE_DEFAULT_MAX_OUTPUT);
    ref(f, "the gRPC listener's limits", "grpc:");
    ref(f, "4MiB: one request message", "  max_message: %u", CONFIG_DEFAULT_GRPC_MAX_MESSAGE);
    ref(f, "per connection: SETTINGS_MAX_CONCURRENT_STREAMS", "  max_concurrent_streams: %d",
        CONFIG_DEFAULT_GRPC_MAX_STREAMS);
    ref(f, "16KiB: request metadata of one call", "  max_header_list: %u", CONFIG_DEFAULT_GRPC_MAX_HEADER_LIST);
    ref(f, "per worker: Health/Watch, reflection streams", "  max_local_streams: %u",
        CONFIG_DEFAULT_GRPC_MAX_LOCAL_STREAMS);
    ref(f, "when given, replaces this whole list", "clusters:");
    ref(f, "unique; unmapped services use \"default\"", "  - name: default");
    ref(f, "HOST:PORT list (or one), round-robin", "    targets: [\"%s:%d\"]", CONFIG_DEFAULT_UPSTREAM_HOST,
        CONFIG_DEFAULT_UPSTREAM_PORT);
    ref(f, "deadline of a call, unless its route's", "    timeout_ms: %d", CLUSTER_DEFAULT_TIMEOUT_MS);
    ref(f, "TCP connect", "    connect_timeout_ms: %d", CLUSTER_DEFAULT_CONNECT_TIMEOUT_MS);
    ref(f, "PING idle connections this often; 0 = off", "    keepalive_ms: %d", CLUSTER_DEFAULT_KEEPALIVE_MS);
    ref(f, "re-resolve target names this often", "    resolve_interval_ms: %d", CLUSTER_DEFAULT_RESOLVE_INTERVAL_MS);
    ref(f, "~ = each route's .proto; or proto3 | v11", "    json_profile: ~");
    ref(f, "instead of targets: versions, e.g.", "    # versions:");
    ref(f, "  weight: share of new requests", "    #   - {name: blue, targets: [\"10.0.0.1:9100\"], weight: 90}");
    ref(f, NULL, "    #   - {name: canary, targets: [\"10.0.0.2:9100\"], weight: 10}");
    ref(f, NULL, "    sticky:");
    ref(f, "always | never: to or away from the canary", "      header: x-canary");
    ref(f, "or: a hash of this cookie picks the side", "      cookie: ~");
    ref(f, "or: a hash of this header picks the side", "      hash_header: ~");
    ref(f, "defaults of POST /admin/.../rollout", "    rollout:");
    ref(f, "canary percent per step; last is 100", "      steps: [10, 25, 50, 100]");
    ref(f, "4h: time on each step", "      hold_ms: 14400000");
    ref(f, "5m: the gates look this far back", "      window_ms: 300000");
    ref(f, "gates evaluated this often", "      interval_ms: 10000");
    ref(f, "fewer requests: inconclusive, hold", "      min_requests: 100");
    ref(f, "gate: canary errors (5xx) above 1%", "      max_error_rate: 0.01");
    ref(f, "gate: canary p95 latency; 0 = off", "      max_p95_ms: 500");
    ref(f, "gate: canary p99 latency; 0 = off", "      max_p99_ms: 1000");
    ref(f, "gate: more failed health checks in a row", "      max_health_failures: 3");
    ref(f, NULL, "    health:");
    ref(f, "time between checks of a target", "      interval_ms: %d", HEALTH_DEFAULT_INTERVAL_MS);
    ref(f, "a check slower than this failed", "      timeout_ms: %d", HEALTH_DEFAULT_TIMEOUT_MS);
    ref(f, "consecutive successes to mark it up", "      healthy_threshold: %d", HEALTH_DEFAULT_HEALTHY);
    ref(f, "consecutive failures to mark it down", "      unhealthy_threshold: %d", HEALTH_DEFAULT_UNHEALTHY);
    ref(f, "calls failing in a row: out until checks pass", "      passive_failures: %d",
        HEALTH_DEFAULT_PASSIVE_FAILURES);
    ref(f, "admin API; \"off\" to disable", "admin:");
    ref(f, "loopback; elsewhere a token is required", "  listen: \"%s:%d\"", CONFIG_DEFAULT_ADMIN_HOST,
        CONFIG_DEFAULT_ADMIN_PORT);
    ref(f, "Authorization: Bearer TOKEN", "  token: ~");
    ref(f, "gRPC-Web calls on the listen ports", "grpc_web:");
    ref(f, "application/grpc-web(-text) POST /pkg.Svc/M", "  enabled: true");
    ref(f, "browser origins allowed cross-origin", "  cors_origins: []");
    ref(f, "(\"https://app.example.com\", \"*\" = any);", "%s", "");
    ref(f, "[] = same-origin pages only", "%s", "");
    ref(f, "client connections", "connections:");
    ref(f, "open at once; 0 = 90% of the open-files limit", "  max: 0");
    ref(f, "from one client address; 0 = no cap", "  max_per_client: 0");
    ref(f, "beyond max: /q/health only, 1 s each", "  probe_reserve: %d", CONFIG_DEFAULT_PROBE_RESERVE);
    ref(f, "OpenTelemetry traces over OTLP/HTTP", "tracing:");
    ref(f, "spans POSTed to URL/v1/traces; ~ = off", "  endpoint: ~");
    ref(f, "new traces recorded (a parent's flag wins)", "  sample: 1.0");
    ref(f, "resource service.name; ~ = aurigraph-gateway", "  service_name: ~");
    ref(f, "finished requests queued per worker", "  queue_size: %d", CONFIG_DEFAULT_TRACE_QUEUE);
    ref(f, "spans per export request", "  batch_size: %d", CONFIG_DEFAULT_TRACE_BATCH);
    ref(f, "one export, connect to answer", "  export_timeout_ms: %d", CONFIG_DEFAULT_TRACE_TIMEOUT_MS);
    ref(f, "a partial batch goes out this often", "  interval_ms: %d", CONFIG_DEFAULT_TRACE_INTERVAL_MS);
    ref(f, "unsampled new traces send traceparent ...-00", "  propagate_unsampled: false");
    ref(f, "token buckets (429 beyond); none by default, e.g.:", "rate_limits: []");
    ref(f, "unique: metrics and the admin API name it", "  # - name: submit");
    ref(f, NULL, "  #   method: aurigraph.v11.TransactionService.SubmitTransaction  # ~ = every method");
    ref(f, "~ = one bucket | client_address | header:NAME", "  #   key: client_address");
    ref(f, "requests per second (0.5: one every 2 s)", "  #   rate: 100");
    ref(f, "bucket size; ~ = one second's worth", "  #   burst: 100");
    ref(f, "keyed: clients tracked at once", "  #   max_keys: %d", CONFIG_RATE_DEFAULT_MAX_KEYS);
    ref(f, "gRPC service -> cluster name; replaces", "services: {}");
    ref(f, "the table when given, for example:", "%s", "");
    ref(f, "  aurigraph.v11.ConsensusService: consensus", "%s", "");
    ref(f, "per-method overrides, merged by method", "routes:");
    ref(f, NULL, "  - method: aurigraph.v11.TransactionService.SubmitTransaction");
    ref(f, "0 = the cluster's timeout_ms", "    timeout_ms: 0");
    ref(f, "200..299; ~ = the .proto's, else 200", "    success_status: ~");
    ref(f, "~ = the cluster's, else the .proto's", "    json_profile: ~");
}
