/*
 * validate.c: the cross-checks (config_validate) of a whole config, run
 * once the file and the flags are in: what no single key can check alone
 * (the clusters services name, versions and weights, drain grace against
 * drain timeout, a token off loopback), and what a config built by hand
 * must hold as much as a loaded one.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_int.h"

int config_validate(const config_t *c, char *err, size_t errlen)
{
    if (c->nlisteners == 0) {
        errf(err, errlen, "listen: no listener");
        return -1;
    }
    for (size_t i = 0; i < c->nlisteners; i++) {
        if (c->listeners[i].host == NULL || c->listeners[i].host[0] == '\0') {
            errf(err, errlen, "listen[%zu]: no host", i);
            return -1;
        }
    }
    for (size_t i = 0; i < c->ngrpc_listeners; i++) {
        if (c->grpc_listeners[i].host == NULL || c->grpc_listeners[i].host[0] == '\0') {
            errf(err, errlen, "listen_grpc[%zu]: no host", i);
            return -1;
        }
    }
    if (c->grpc.max_message == 0 || c->grpc.max_message > ((size_t)1 << 31) - 1) {
        errf(err, errlen, "grpc.max_message: %zu is out of range 1..2147483647", c->grpc.max_message);
        return -1;
    }
    if (c->grpc.max_concurrent_streams == 0 || c->grpc.max_concurrent_streams > (1u << 31) - 1) {
        errf(err, errlen, "grpc.max_concurrent_streams: %u is out of range 1..2147483647",
             c->grpc.max_concurrent_streams);
        return -1;
    }
    if (c->grpc.max_header_list < 1024 || c->grpc.max_header_list > (1u << 20)) {
        errf(err, errlen, "grpc.max_header_list: %zu is out of range 1024..1048576 (1 KiB..1 MiB)",
             c->grpc.max_header_list);
        return -1;
    }
    if (c->grpc.max_local_streams == 0 || c->grpc.max_local_streams > (1u << 20)) {
        errf(err, errlen, "grpc.max_local_streams: %u is out of range 1..1048576", c->grpc.max_local_streams);
        return -1;
    }
    if (c->workers > CONFIG_MAX_WORKERS) {
        errf(err, errlen, "workers: %u is out of range 0..%d", c->workers, CONFIG_MAX_WORKERS);
        return -1;
    }
    if (c->access_log == NULL || c->access_log[0] == '\0') {
        errf(err, errlen, "access_log: empty");
        return -1;
    }
    if (c->swagger_ui_dir != NULL) {
        /* the page itself: --check-config catches a directory never filled */
        char page[4096];
        int n = snprintf(page, sizeof(page), "%s/index.html", c->swagger_ui_dir);
        if (c->swagger_ui_dir[0] == '\0' || n < 0 || (size_t)n >= sizeof(page) || access(page, R_OK) != 0) {
            errf(err, errlen, "swagger_ui_dir \"%s\": no index.html there (install the files with "
                 "scripts/install-swagger-ui DIR)", c->swagger_ui_dir);
            return -1;
        }
    }
    const config_tracing_t *t = &c->tracing;
    if (t->endpoint != NULL) {
        /* plain http only: the exporter speaks HTTP/1.1 over TCP (server/trace_export.c) */
        const char *host = strncmp(t->endpoint, "http://", 7) == 0 ? t->endpoint + 7 : NULL;
        if (host == NULL || *host == '\0' || *host == '/' || *host == ':') {
            errf(err, errlen, "tracing.endpoint \"%s\": expected http://HOST:PORT[/PREFIX] (https is not supported)",
                 t->endpoint);
            return -1;
        }
    }
    if (!(t->sample >= 0 && t->sample <= 1)) {
        errf(err, errlen, "tracing.sample: %g is out of range 0..1", t->sample);
        return -1;
    }
    if (t->queue_size < 2 || t->queue_size > (1u << 20) || t->batch_size == 0 || t->batch_size > 8192 ||
        t->export_timeout_ms == 0 || t->interval_ms == 0) {
        errf(err, errlen, "tracing: queue_size 2..1048576, batch_size 1..8192, export_timeout_ms and interval_ms "
                          "over 0");
        return -1;
    }
    const transcode_options_t *o = &c->transcode;
    const char *zero = o->max_depth == 0      ? "max_depth"
                       : o->max_body == 0     ? "max_body"
                       : o->max_string == 0   ? "max_string"
                       : o->max_repeated == 0 ? "max_repeated"
                       : o->max_output == 0   ? "max_output"
                                              : NULL;
    if (zero != NULL) {
        errf(err, errlen, "limits.%s: must be greater than 0", zero);
        return -1;
    }
    bool have_default = false;
    for (size_t i = 0; i < c->nclusters; i++) {
        const config_cluster_t *cl = &c->clusters[i];
        if (cl->name == NULL || cl->name[0] == '\0') {
            errf(err, errlen, "clusters[%zu]: no name", i);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->clusters[j].name, cl->name) == 0) {
                errf(err, errlen, "duplicate cluster name \"%s\"", cl->name);
                return -1;
            }
        }
        if (cl->ntargets == 0 && cl->nversions == 0) {
            errf(err, errlen, "cluster \"%s\": no targets", cl->name);
            return -1;
        }
        if (cl->ntargets > 0 && cl->nversions > 0) {
            errf(err, errlen, "cluster \"%s\": give targets or versions, not both", cl->name);
            return -1;
        }
        for (size_t j = 0; j < cl->ntargets; j++) {
            if (cl->targets[j].host == NULL || cl->targets[j].host[0] == '\0' || cl->targets[j].port == 0) {
                errf(err, errlen, "cluster \"%s\": target %zu needs a host and a port 1..65535", cl->name, j);
                return -1;
            }
        }
        uint64_t total_weight = cl->nversions ? 0 : 1;
        for (size_t j = 0; j < cl->nversions; j++) {
            const config_version_t *v = &cl->versions[j];
            if (v->ntargets == 0) {
                errf(err, errlen, "cluster \"%s\": version \"%s\" has no targets", cl->name, v->name);
                return -1;
            }
            for (size_t k = 0; k < j; k++) {
                if (strcmp(cl->versions[k].name, v->name) == 0) {
                    errf(err, errlen, "cluster \"%s\": duplicate version \"%s\"", cl->name, v->name);
                    return -1;
                }
            }
            total_weight += v->weight;
        }
        if (total_weight == 0) {
            errf(err, errlen, "cluster \"%s\": every version has weight 0", cl->name);
            return -1;
        }
        if (cl->nversions > CONFIG_MAX_VERSIONS) {
            errf(err, errlen, "cluster \"%s\": at most %d versions", cl->name, CONFIG_MAX_VERSIONS);
            return -1;
        }
        have_default |= strcmp(cl->name, "default") == 0;
    }
    if (c->drain_grace_ms >= c->drain_timeout_ms) {
        errf(err, errlen, "drain_grace_ms (%u) must be shorter than drain_timeout_ms (%u)", c->drain_grace_ms,
             c->drain_timeout_ms);
        return -1;
    }
    if (c->admin_host != NULL && !config_host_is_loopback(c->admin_host) &&
        (c->admin_token == NULL || c->admin_token[0] == '\0')) {
        errf(err, errlen,
             "admin: %s does not resolve to loopback addresses only, so the admin API needs a token "
             "(--admin-token, admin.token or AURIGRAPH_ADMIN_TOKEN)",
             c->admin_host);
        return -1;
    }
    for (size_t i = 0; i < c->nservices; i++) {
        const config_service_t *s = &c->services[i];
        bool found = false;
        for (size_t j = 0; j < c->nclusters && !found; j++)
            found = strcmp(c->clusters[j].name, s->cluster) == 0;
        if (!found) {
            errf(err, errlen, "services: \"%s\" maps to unknown cluster \"%s\"", s->service, s->cluster);
            return -1;
        }
    }
    /* Without "default", unmapped services have nowhere to go; the gateway
     * checks its descriptors against the table, so an explicit table is fine. */
    if (!have_default && c->nservices == 0) {
        errf(err, errlen, "clusters: no cluster named \"default\" and no services mapped to the others");
        return -1;
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        const config_route_t *r = &c->routes[i];
        if (r->success_status != 0 && (r->success_status < 200 || r->success_status > 299)) {
            errf(err, errlen, "route %s: success_status %d is not 200..299", r->method, r->success_status);
            return -1;
        }
    }
    return 0;
}

/* By what the name resolves to, not how it is spelt: "127.evil.example"
 * may resolve anywhere. Every address must be loopback (a name with one
 * other address could be bound there); a name that does not resolve is
 * not loopback. */
int config_host_is_loopback(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (host == NULL || host[0] == '\0' || getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    int loopback = 1;
    for (const struct addrinfo *a = res; a != NULL && loopback; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)a->ai_addr;
            loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct in6_addr *in6 = &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            loopback = IN6_IS_ADDR_LOOPBACK(in6) || (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
        } else {
            loopback = 0;
        }
    }
    freeaddrinfo(res);
    return loopback;
}
