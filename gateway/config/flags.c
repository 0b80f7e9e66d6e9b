/*
 * flags.c: the command line (config_parse_args). --config files load first,
 * in order and wherever they stand, then every other flag applies over them
 * in order; all of it on a copy that replaces the caller's config only when
 * every flag was accepted.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_int.h"
#include "config/syntax.h"
#include "transcode/profile.h"

typedef enum {
    F_CONFIG,
    F_LISTEN,
    F_UPSTREAM,
    F_DESCRIPTORS,
    F_WORKERS,
    F_ACCESS_LOG,
    F_CHECK,
    F_HELP,
    F_UPSTREAM_VERSION,
    F_ADMIN,
    F_ADMIN_TOKEN,
    F_HTTP1,
    F_JSON_PROFILE,
    F_LISTEN_GRPC,
    F_SWAGGER_UI_DIR,
    F_OTLP_ENDPOINT,
    F_TRACE_SAMPLE,
} flag_id_t;

typedef struct {
    const char *name;
    flag_id_t id;
    bool has_arg;
} flag_t;

/* In flag_id_t order: next_flag takes "-h" as flags[F_HELP]. */
static const flag_t flags[] = {
    {"config", F_CONFIG, true},         {"listen", F_LISTEN, true},         {"upstream", F_UPSTREAM, true},
    {"descriptors", F_DESCRIPTORS, true}, {"workers", F_WORKERS, true},     {"access-log", F_ACCESS_LOG, true},
    {"check-config", F_CHECK, false},   {"help", F_HELP, false},           {"upstream-version", F_UPSTREAM_VERSION, true},
    {"admin", F_ADMIN, true},           {"admin-token", F_ADMIN_TOKEN, true},
    {"http1", F_HTTP1, true},           {"json-profile", F_JSON_PROFILE, true},
    {"listen-grpc", F_LISTEN_GRPC, true},
    {"swagger-ui-dir", F_SWAGGER_UI_DIR, true},
    {"otlp-endpoint", F_OTLP_ENDPOINT, true}, {"trace-sample", F_TRACE_SAMPLE, true},
};

/*
 * One flag from argv at *i, advancing *i. A hand loop rather than getopt:
 * it keeps no state between calls and never permutes argv, and a value that
 * looks like a flag ("--listen --workers") is a missing value, not a value.
 */
static int next_flag(int argc, char **argv, int *i, const flag_t **flag, const char **val, char *err, size_t errlen)
{
    const char *arg = argv[(*i)++];
    if (strcmp(arg, "-h") == 0) {
        *flag = &flags[F_HELP];
        *val = NULL;
        return 0;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
        if (arg[0] == '-' && arg[1] != '\0')
            errf(err, errlen, "unknown flag %s (try --help)", arg);
        else
            errf(err, errlen, "unexpected argument \"%s\" (try --help)", arg);
        return -1;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    *flag = NULL;
    for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
        if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0)
            *flag = &flags[k];
    if (*flag == NULL) {
        errf(err, errlen, "unknown flag --%.*s (try --help)", (int)nlen, name);
        return -1;
    }
    if (!(*flag)->has_arg) {
        if (eq != NULL) {
            errf(err, errlen, "--%s takes no argument", (*flag)->name);
            return -1;
        }
        *val = NULL;
        return 0;
    }
    if (eq != NULL) {
        *val = eq + 1;
    } else if (*i < argc && strncmp(argv[*i], "--", 2) != 0) {
        *val = argv[(*i)++];
    } else {
        errf(err, errlen, "--%s: missing argument", (*flag)->name);
        return -1;
    }
    if (**val == '\0') {
        errf(err, errlen, "--%s: empty argument", (*flag)->name);
        return -1;
    }
    return 0;
}

/* The default cluster, for --upstream and --upstream-version: the first of
 * those flags replaces what the file said of it (targets, versions, and the
 * service map, which would point elsewhere), the later ones add to it. */
static config_cluster_t *flag_cluster(config_t *c, bool *upstream_seen)
{
    config_cluster_t *cl = config_cluster_find(c, "default");
    if (cl == NULL) {
        c->clusters = xrealloc(c->clusters, c->nclusters + 1, sizeof(*c->clusters));
        cl = &c->clusters[c->nclusters++];
        config_cluster_init(cl, "default");
    }
    if (!*upstream_seen) {
        config_cluster_clear_targets(cl);
        config_cluster_clear_versions(cl);
        config_services_free(c->services, c->nservices);
        c->services = NULL;
        c->nservices = 0;
        *upstream_seen = true;
    }
    return cl;
}

typedef struct seen {
    bool listen, listen_grpc, upstream;
} seen_t;

static int apply_flag(config_t *c, const flag_t *flag, const char *val, seen_t *seen, char *err, size_t errlen)
{
    char *host;
    uint16_t port;
    const char *why;
    uint64_t w;
    switch (flag->id) {
    case F_CONFIG:
    case F_HELP:
        return 0; /* done in the first pass */
    case F_CHECK:
        c->check_only = 1;
        return 0;
    case F_DESCRIPTORS:
        set_str(&c->descriptors, val);
        return 0;
    case F_ACCESS_LOG:
        set_str(&c->access_log, val);
        return 0;
    case F_SWAGGER_UI_DIR:
        set_str(&c->swagger_ui_dir, val);
        return 0;
    case F_OTLP_ENDPOINT:
        /* "off" takes back a file's endpoint */
        if (strcmp(val, "off") == 0) {
            free(c->tracing.endpoint);
            c->tracing.endpoint = NULL;
        } else {
            set_str(&c->tracing.endpoint, val);
        }
        return 0;
    case F_TRACE_SAMPLE: {
        char *end;
        double d = strtod(val, &end);
        if (end == val || *end != '\0' || !(d >= 0 && d <= 1)) {
            errf(err, errlen, "--trace-sample: expected a number 0..1 (0.01 = 1%%), got \"%s\"", val);
            return -1;
        }
        c->tracing.sample = d;
        return 0;
    }
    case F_JSON_PROFILE:
        if (json_profile_find(val) == NULL) {
            errf(err, errlen, "--json-profile: expected one of %s, got \"%s\"", json_profile_names(), val);
            return -1;
        }
        free(c->json_profile);
        c->json_profile = xstrdup(val);
        return 0;
    case F_HTTP1:
        if (syntax_parse_http1(val, &c->http1) != 0) {
            errf(err, errlen, "--http1: expected uring or h2o, got \"%s\"", val);
            return -1;
        }
        return 0;
    case F_WORKERS:
        if (!syntax_parse_u64(val, strlen(val), &w) || w > CONFIG_MAX_WORKERS) {
            errf(err, errlen, "--workers: expected an integer 0..%d, got \"%s\"", CONFIG_MAX_WORKERS, val);
            return -1;
        }
        c->workers = (unsigned)w;
        return 0;
    case F_LISTEN:
        if ((why = syntax_parse_hostport(val, true, &host, &port)) != NULL) {
            errf(err, errlen, "--listen: bad address \"%s\": %s", val, why);
            return -1;
        }
        /* The first --listen replaces the file's listeners; more add to it. */
        if (!seen->listen) {
            config_listeners_free(c->listeners, c->nlisteners);
            c->listeners = NULL;
            c->nlisteners = 0;
            seen->listen = true;
        }
        config_add_listener(c, host, port);
        free(host);
        return 0;
    case F_LISTEN_GRPC:
        /* As --listen; "off" drops every gRPC listener named so far. */
        if (strcmp(val, "off") != 0 && (why = syntax_parse_hostport(val, true, &host, &port)) != NULL) {
            errf(err, errlen, "--listen-grpc: bad address \"%s\": %s (or \"off\")", val, why);
            return -1;
        }
        if (!seen->listen_grpc || strcmp(val, "off") == 0) {
            config_listeners_free(c->grpc_listeners, c->ngrpc_listeners);
            c->grpc_listeners = NULL;
            c->ngrpc_listeners = 0;
            seen->listen_grpc = true;
        }
        if (strcmp(val, "off") != 0) {
            config_listener_append(&c->grpc_listeners, &c->ngrpc_listeners, host, port);
            free(host);
        }
        return 0;
    case F_UPSTREAM: {
        if ((why = syntax_parse_hostport(val, false, &host, &port)) != NULL) {
            errf(err, errlen, "--upstream: bad address \"%s\": %s", val, why);
            return -1;
        }
        config_cluster_t *cl = flag_cluster(c, &seen->upstream);
        config_cluster_clear_versions(cl);
        config_cluster_add_target(cl, host, port);
        free(host);
        return 0;
    }
    case F_UPSTREAM_VERSION: {
        /* NAME=HOST:PORT[,WEIGHT] */
        const char *eq = strchr(val, '=');
        if (eq == NULL || eq == val) {
            errf(err, errlen, "--upstream-version: expected NAME=HOST:PORT[,WEIGHT], got \"%s\"", val);
            return -1;
        }
        for (const char *q = val; q < eq; q++) {
            if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.') {
                errf(err, errlen, "--upstream-version: bad version name \"%.*s\" (letters, digits, - _ .)",
                     (int)(eq - val), val);
                return -1;
            }
        }
        const char *comma = strchr(eq + 1, ',');
        char addr[300];
        snprintf(addr, sizeof(addr), "%.*s", (int)(comma ? (size_t)(comma - eq - 1) : strlen(eq + 1)), eq + 1);
        if ((why = syntax_parse_hostport(addr, false, &host, &port)) != NULL) {
            errf(err, errlen, "--upstream-version: bad address \"%s\": %s", addr, why);
            return -1;
        }
        uint64_t weight = 0;
        if (comma && (!syntax_parse_u64(comma + 1, strlen(comma + 1), &weight) || weight > 1000000)) {
            errf(err, errlen, "--upstream-version: bad weight \"%s\" (an integer 0..1000000)", comma + 1);
            free(host);
            return -1;
        }
        config_cluster_t *cl = flag_cluster(c, &seen->upstream);
        if (cl->ntargets > 0) {
            errf(err, errlen, "--upstream-version: cannot be mixed with --upstream");
            free(host);
            return -1;
        }
        config_version_t *v = config_version_get(cl, val, (size_t)(eq - val));
        if (comma)
            v->weight = (uint32_t)weight;
        config_version_add_target(v, host, port);
        free(host);
        return 0;
    }
    case F_ADMIN:
        if (strcmp(val, "off") == 0) {
            free(c->admin_host);
            c->admin_host = NULL;
            return 0;
        }
        if ((why = syntax_parse_hostport(val, true, &host, &port)) != NULL) {
            errf(err, errlen, "--admin: bad address \"%s\": %s (or \"off\")", val, why);
            return -1;
        }
        free(c->admin_host);
        c->admin_host = host;
        c->admin_port = port;
        c->admin_explicit = 1;
        return 0;
    case F_ADMIN_TOKEN:
        set_str(&c->admin_token, val);
        return 0;
    }
    return 0;
}

int config_parse_args(config_t *c, int argc, char **argv, char *err, size_t errlen)
{
    const flag_t *flag;
    const char *val;
    /* Pass 1: syntax, --help, and the config files, whatever their place. */
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &flag, &val, err, errlen) < 0)
            return -1;
        if (flag->id == F_HELP) {
            config_print_help(stdout);
            return 1;
        }
    }
    config_t n;
    config_copy(&n, c);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0;) {
        (void)next_flag(argc, argv, &i, &flag, &val, err, errlen); /* pass 1 checked it */
        if (flag->id == F_CONFIG)
            rc = config_load_file(&n, val, err, errlen);
    }
    /* Pass 2: every other flag, in order, over the files. */
    seen_t seen = {false, false, false};
    for (int i = 1; i < argc && rc == 0;) {
        (void)next_flag(argc, argv, &i, &flag, &val, err, errlen);
        rc = apply_flag(&n, flag, val, &seen, err, errlen);
    }
    if (rc < 0) {
        config_free(&n);
        return -1;
    }
    config_free(c);
    *c = n;
    return 0;
}
