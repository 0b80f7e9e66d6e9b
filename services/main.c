/*
 * main.c: command line of aurigraph-services, the reference gRPC services
 * the gateway calls in tests, benchmarks and the README's run command.
 * The flags that inject failures, latency and a version tag exist so the
 * gateway's retry, timeout and routing behaviour can be exercised against
 * a real upstream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define DEFAULT_LISTEN "127.0.0.1:9100"

static void usage(FILE *out)
{
    fputs("usage: aurigraph-services [--listen HOST:PORT] [--fail-rate F] [--fail-code N]\n"
          "                          [--fail-details TEXT] [--latency-ms N] [--version-tag TAG]\n"
          "                          [--threads N] [--max-connection-age-ms N] [--db-dsn DSN]\n"
          "                          [--echo-metadata on|off] [--help]\n"
          "\n"
          "Reference gRPC services of the Aurigraph V11 API (package aurigraph.v11)\n"
          "plus grpc.health.v1.Health/Check, on an insecure HTTP/2 port.\n"
          "\n"
          "  --listen HOST:PORT  address to serve on (default " DEFAULT_LISTEN "); port 0\n"
          "                      picks a free port. The first stdout line is always\n"
          "                      \"aurigraph-services listening on HOST:PORT\".\n"
          "  --fail-rate F       fail this share (0..1) of calls on purpose (not\n"
          "                      Health/Check) with message \"injected failure\"\n"
          "  --fail-code N       gRPC status code of those failures (default 14,\n"
          "                      UNAVAILABLE)\n"
          "  --fail-details TEXT those failures also carry grpc-status-details-bin: a\n"
          "                      google.rpc.Status whose one detail is a\n"
          "                      google.protobuf.StringValue holding TEXT\n"
          "  --latency-ms N      delay every answer (not Health/Check) by N ms\n"
          "  --version-tag TAG   send initial metadata \"x-version-tag: TAG\" on every call\n"
          "  --threads N         threads polling gRPC (default 1; more help only with\n"
          "                      many client connections: the services share one lock)\n"
          "  --max-connection-age-ms N\n"
          "                      send each client connection a GOAWAY after N ms (gRPC's\n"
          "                      max connection age; calls in flight get 5 s to finish),\n"
          "                      as servers behind load balancers do to spread clients\n"
          "  --db-dsn DSN        a libpq connection string (also AURIGRAPH_DB_DSN): the\n"
          "                      database is checked every second, and Health for \"\" and\n"
          "                      TransactionService is NOT_SERVING while it is unreachable\n"
          "  --echo-metadata on|off\n"
          "                      send the request's traceparent and x-echo-* entries back\n"
          "                      as initial metadata, a test hook (default on); off for\n"
          "                      benchmarks: an answer as a service without it sends\n"
          "  --help              this text\n"
          "\n"
          "SIGINT or SIGTERM shuts down cleanly (open streams are cancelled), exit 0.\n",
          out);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Header values must be visible ASCII (RFC 9110 field-value, no
 * obs-text); gRPC would otherwise drop or reject the call. */
static int valid_tag(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

static int bad(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "aurigraph-services: %s%s%s: %s\n", flag, value ? " " : "", value ? value : "",
            why);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct server_opts o = {
        .listen = DEFAULT_LISTEN,
        .fail_rate = 0,
        .fail_code = GRPC_STATUS_UNAVAILABLE,
        .latency_ms = 0,
        .version_tag = NULL,
        .threads = 1,
        .echo_metadata = 1,
    };

    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long n;

        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(flag, "--listen") && strcmp(flag, "--fail-rate") && strcmp(flag, "--fail-code") &&
            strcmp(flag, "--fail-details") &&
            strcmp(flag, "--latency-ms") && strcmp(flag, "--version-tag") &&
            strcmp(flag, "--threads") && strcmp(flag, "--max-connection-age-ms") && strcmp(flag, "--db-dsn") &&
            strcmp(flag, "--echo-metadata"))
            return bad(flag, NULL, "unknown option");
        if (!val)
            return bad(flag, NULL, "needs a value");
        i++;

        if (strcmp(flag, "--listen") == 0) {
            const char *colon = strrchr(val, ':');
            if (!colon || colon == val || parse_long(colon + 1, 0, 65535, &n) != 0)
                return bad(flag, val, "expected HOST:PORT with PORT 0..65535");
            o.listen = val;
        } else if (strcmp(flag, "--fail-rate") == 0) {
            char *end;
            errno = 0;
            double f = strtod(val, &end);
            if (errno || end == val || *end || !(f >= 0 && f <= 1))
                return bad(flag, val, "expected a number from 0 to 1");
            o.fail_rate = f;
        } else if (strcmp(flag, "--fail-code") == 0) {
            /* 0 (OK) would not be a failure */
            if (parse_long(val, 1, 16, &n) != 0)
                return bad(flag, val, "expected a gRPC status code from 1 to 16");
            o.fail_code = (grpc_status_code)n;
        } else if (strcmp(flag, "--fail-details") == 0) {
            if (strlen(val) > 200)
                return bad(flag, val, "expected at most 200 characters");
            o.fail_details = val;
        } else if (strcmp(flag, "--latency-ms") == 0) {
            if (parse_long(val, 0, 600000, &n) != 0)
                return bad(flag, val, "expected milliseconds from 0 to 600000");
            o.latency_ms = (int)n;
        } else if (strcmp(flag, "--max-connection-age-ms") == 0) {
            if (parse_long(val, 1, 86400000, &n) != 0)
                return bad(flag, val, "expected milliseconds from 1 to 86400000");
            o.max_connection_age_ms = (int)n;
        } else if (strcmp(flag, "--db-dsn") == 0) {
            o.db_dsn = val;
        } else if (strcmp(flag, "--echo-metadata") == 0) {
            if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
                return bad(flag, val, "expected on or off");
            o.echo_metadata = strcmp(val, "on") == 0;
        } else if (strcmp(flag, "--threads") == 0) {
            if (parse_long(val, 1, 64, &n) != 0)
                return bad(flag, val, "expected 1 to 64 threads");
            o.threads = (int)n;
        } else {
            if (!valid_tag(val))
                return bad(flag, val, "expected a non-empty printable ASCII tag");
            o.version_tag = val;
        }
    }
    if (o.db_dsn == NULL)
        o.db_dsn = getenv("AURIGRAPH_DB_DSN");
    return server_run(&o);
}
