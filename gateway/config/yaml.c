/*
 * yaml.c: the config file (config_load_file), read over a copy of the config
 * that is swapped in only once the whole file was accepted.
 *
 * The file is read with libyaml's document API: the whole file becomes one
 * node tree first, so every value keeps its line for messages, and the walk
 * below is driven by the schema, never by the tree. That matters because an
 * alias may point back at its own ancestor (`a: &x [*x]` is a cycle): a walk
 * that only descends where the schema has a section can't loop on it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config/config.h"
#include "config/config_int.h"
#include "config/syntax.h"
#include "transcode/profile.h"

/* A config file is a few KiB; anything this big is a wrong path. */
#define CONFIG_MAX_FILE (16u << 20)

typedef struct loader {
    yaml_document_t doc;
    const char *file;
    char *err;
    size_t errlen;
} loader_t;

static yaml_node_t *node(loader_t *L, int index)
{
    return yaml_document_get_node(&L->doc, index);
}

static int fail(loader_t *L, const yaml_node_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(loader_t *L, const yaml_node_t *at, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    errf(L->err, L->errlen, "%s:%zu: %s", L->file, at->start_mark.line + 1, what);
    return -1;
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* "got ..." in messages: the value itself when short, else its kind. */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (is_null(n))
        return "nothing";
    size_t vlen = n->data.scalar.length;
    if (vlen > 60)
        snprintf(buf, len, "\"%.57s...\"", sval(n));
    else
        snprintf(buf, len, "\"%s\"", sval(n));
    return buf;
}

static int expected(loader_t *L, const yaml_node_t *n, const char *what, const char *kind)
{
    char buf[80];
    return fail(L, n, "%s: expected %s, got %s", what, kind, describe(n, buf, sizeof(buf)));
}

/* A scalar the walk may treat as a C string: no embedded NUL ("\0" escapes). */
static int scalar(loader_t *L, const yaml_node_t *n, const char *what, const char *kind)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return expected(L, n, what, kind);
    if (strlen(sval(n)) != n->data.scalar.length)
        return fail(L, n, "%s: contains a NUL byte", what);
    return 0;
}

/*
 * Every mapping goes through here: libyaml accepts duplicate keys and keeps
 * both, and silently honouring either one would hide a mistake.
 */
static int check_mapping(loader_t *L, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return expected(L, n, what, "a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key);
        if (k->type != YAML_SCALAR_NODE || is_null(k) || strlen(sval(k)) != k->data.scalar.length)
            return fail(L, k, "%s: keys must be non-empty strings", what);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = node(L, q->key);
            if (strcmp(sval(prev), sval(k)) == 0)
                return fail(L, k, "%s: duplicate key \"%s\" (first at line %zu)", what, sval(k),
                            prev->start_mark.line + 1);
        }
    }
    return 0;
}

static int unknown_key(loader_t *L, const yaml_node_t *k, const char *section)
{
    if (section == NULL)
        return fail(L, k, "unknown key \"%s\" at top level", sval(k));
    return fail(L, k, "unknown key \"%s\" in %s", sval(k), section);
}

#define PAIRS(n, p) (yaml_node_pair_t *p = (n)->data.mapping.pairs.start; p < (n)->data.mapping.pairs.top; p++)
#define ITEMS(n, it) (yaml_node_item_t *it = (n)->data.sequence.items.start; it < (n)->data.sequence.items.top; it++)

static int get_string(loader_t *L, const yaml_node_t *n, const char *what, char **out)
{
    if (scalar(L, n, what, "a string") < 0)
        return -1;
    if (n->data.scalar.length == 0)
        return fail(L, n, "%s: expected a non-empty string", what);
    set_str(out, sval(n));
    return 0;
}

/* A JSON profile's name (transcode/profile.h); ~ for none. */
static int get_profile(loader_t *L, const yaml_node_t *n, const char *what, char **out)
{
    if (is_null(n)) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (scalar(L, n, what, "a JSON profile name") < 0)
        return -1;
    if (json_profile_find(sval(n)) == NULL)
        return fail(L, n, "%s: expected one of %s, got \"%s\"", what, json_profile_names(), sval(n));
    set_str(out, sval(n));
    return 0;
}

static int get_bool(loader_t *L, const yaml_node_t *n, const char *what, uint8_t *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False", "FALSE"};
    if (n->type == YAML_SCALAR_NODE) {
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(sval(n), yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(sval(n), no[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    }
    return expected(L, n, what, "true or false");
}

static int get_uint(loader_t *L, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    if (scalar(L, n, what, "a non-negative integer") < 0)
        return -1;
    if (!syntax_parse_u64(sval(n), n->data.scalar.length, out))
        return expected(L, n, what, "a non-negative integer");
    if (*out < min || *out > max)
        return fail(L, n, "%s: %s is out of range %llu..%llu", what, sval(n), (unsigned long long)min,
                    (unsigned long long)max);
    return 0;
}

static int get_u32(loader_t *L, const yaml_node_t *n, const char *what, uint64_t min, uint32_t *out)
{
    uint64_t v;
    if (get_uint(L, n, what, min, UINT32_MAX, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A number with an optional unit, read by parse; -1 after saying why not. */
static int get_with_unit(loader_t *L, const yaml_node_t *n, const char *what, const char *kind,
                         bool (*parse)(const char *, uint64_t *), uint64_t *v)
{
    if (scalar(L, n, what, kind) < 0)
        return -1;
    if (!parse(sval(n), v))
        return expected(L, n, what, kind);
    return 0;
}

static int get_duration(loader_t *L, const yaml_node_t *n, const char *what, uint32_t *out)
{
    uint64_t v;
    if (get_with_unit(L, n, what, "a duration in ms (5000, \"250ms\", \"5s\", \"1m\")", syntax_parse_duration, &v) < 0)
        return -1;
    if (v > UINT32_MAX)
        return fail(L, n, "%s: %s is too long (at most %u ms)", what, sval(n), UINT32_MAX);
    *out = (uint32_t)v;
    return 0;
}

static int get_size(loader_t *L, const yaml_node_t *n, const char *what, size_t *out)
{
    uint64_t v;
    if (get_with_unit(L, n, what, "a size in bytes (4194304, \"4MiB\", \"512KiB\", \"1MB\")", syntax_parse_size, &v) < 0)
        return -1;
    if (v == 0)
        return fail(L, n, "%s: must be greater than 0", what);
    if (v > SIZE_MAX)
        return fail(L, n, "%s: %s is too large", what, sval(n));
    *out = (size_t)v;
    return 0;
}

static int get_hostport(loader_t *L, const yaml_node_t *n, const char *what, bool listener, char **host,
                        uint16_t *port)
{
    if (scalar(L, n, what, "\"HOST:PORT\"") < 0)
        return -1;
    const char *why = syntax_parse_hostport(sval(n), listener, host, port);
    if (why != NULL)
        return fail(L, n, "%s: bad address \"%s\": %s", what, sval(n), why);
    return 0;
}

/* listen, listen_grpc: one string or a list of them; replaces the
 * listeners. may_be_off: "off" or an empty list mean none (listen_grpc). */
static int load_listen(loader_t *L, const yaml_node_t *n, const char *key, bool may_be_off,
                       config_listener_t **list, size_t *count)
{
    config_listener_t *tmp = NULL;
    size_t ntmp = 0;
    char *host = NULL;
    uint16_t port;
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t i = 0;
        if (n->data.sequence.items.start == n->data.sequence.items.top && !may_be_off)
            return fail(L, n, "%s: expected at least one address", key);
        for ITEMS (n, it) {
            char what[48];
            snprintf(what, sizeof(what), "%s[%zu]", key, i++);
            if (get_hostport(L, node(L, *it), what, true, &host, &port) < 0) {
                config_listeners_free(tmp, ntmp);
                return -1;
            }
            config_listener_append(&tmp, &ntmp, host, port);
            free(host);
        }
    } else if (may_be_off && n->type == YAML_SCALAR_NODE && !strcmp(sval(n), "off")) {
        /* none */
    } else {
        if (get_hostport(L, n, key, true, &host, &port) < 0)
            return -1;
        config_listener_append(&tmp, &ntmp, host, port);
        free(host);
    }
    config_listeners_free(*list, *count);
    *list = tmp;
    *count = ntmp;
    return 0;
}

/*
 * A mapping section whose keys are fields of one struct: the table says
 * each key's kind and where it goes, so every section reads its keys, and
 * words its mistakes, the same way. Keys the table lacks go to `other`
 * with other_ctx (NULL: an unknown key), which returns 0, -1, or 1 when it
 * does not know the key either.
 */
typedef enum {
    FIELD_BOOL,       /* uint8_t */
    FIELD_U32,        /* uint32_t, 0 allowed */
    FIELD_U32_POS,    /* uint32_t, 1 or more */
    FIELD_COUNT,      /* size_t, 1 or more */
    FIELD_DURATION,   /* uint32_t milliseconds */
    FIELD_SIZE,       /* size_t bytes */
    FIELD_FRACTION,   /* double 0..1 */
    FIELD_STRING,     /* char *, ~ for none */
} field_kind_t;

typedef struct field {
    const char *key;
    field_kind_t kind;
    size_t offset;
} field_t;

typedef int (*other_key_fn)(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx);

static int get_fraction(loader_t *L, const yaml_node_t *n, const char *what, double *out)
{
    if (scalar(L, n, what, "a number 0..1") < 0)
        return -1;
    char *end;
    double d = strtod(sval(n), &end);
    if (end == sval(n) || *end != '\0' || !(d >= 0 && d <= 1))
        return expected(L, n, what, "a number 0..1 (0.01 = 1%)");
    *out = d;
    return 0;
}

static int get_field(loader_t *L, const field_t *f, const yaml_node_t *v, const char *what, void *base)
{
    void *dst = (char *)base + f->offset;
    uint64_t u;
    switch (f->kind) {
    case FIELD_BOOL:
        return get_bool(L, v, what, dst);
    case FIELD_U32:
        return get_u32(L, v, what, 0, dst);
    case FIELD_U32_POS:
        return get_u32(L, v, what, 1, dst);
    case FIELD_COUNT:
        if (get_uint(L, v, what, 1, SIZE_MAX, &u) < 0)
            return -1;
        *(size_t *)dst = (size_t)u;
        return 0;
    case FIELD_DURATION:
        return get_duration(L, v, what, dst);
    case FIELD_SIZE:
        return get_size(L, v, what, dst);
    case FIELD_FRACTION:
        return get_fraction(L, v, what, dst);
    case FIELD_STRING:
        if (is_null(v)) {
            free(*(char **)dst);
            *(char **)dst = NULL;
            return 0;
        }
        return get_string(L, v, what, dst);
    }
    return -1;
}

static int load_fields(loader_t *L, const yaml_node_t *n, const char *section, const field_t *fields, size_t nfields,
                       void *base, other_key_fn other, void *other_ctx)
{
    if (check_mapping(L, n, section) < 0)
        return -1;
    for PAIRS (n, p) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        const char *key = sval(k);
        char what[160];
        snprintf(what, sizeof(what), "%.100s.%.40s", section, key);
        const field_t *f = NULL;
        for (size_t i = 0; i < nfields && f == NULL; i++)
            if (!strcmp(fields[i].key, key))
                f = &fields[i];
        int rc = f ? get_field(L, f, v, what, base) : other ? other(L, key, v, what, other_ctx) : 1;
        if (rc == 1)
            return unknown_key(L, k, section);
        if (rc < 0)
            return -1;
    }
    return 0;
}
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static int load_transcode(loader_t *L, const yaml_node_t *n, transcode_options_t *o)
{
    static const field_t fields[] = {
        {"emit_defaults", FIELD_BOOL, offsetof(transcode_options_t, emit_defaults)},
        {"ignore_unknown_fields", FIELD_BOOL, offsetof(transcode_options_t, ignore_unknown_fields)},
        {"use_proto_names", FIELD_BOOL, offsetof(transcode_options_t, use_proto_names)},
        {"enums_as_ints", FIELD_BOOL, offsetof(transcode_options_t, enums_as_ints)},
    };
    return load_fields(L, n, "transcode", fields, NFIELDS(fields), o, NULL, NULL);
}

static int load_limits(loader_t *L, const yaml_node_t *n, transcode_options_t *o)
{
    static const field_t fields[] = {
        {"max_body", FIELD_SIZE, offsetof(transcode_options_t, max_body)},
        {"max_string", FIELD_SIZE, offsetof(transcode_options_t, max_string)},
        {"max_output", FIELD_SIZE, offsetof(transcode_options_t, max_output)},
        {"max_depth", FIELD_U32_POS, offsetof(transcode_options_t, max_depth)},
        {"max_repeated", FIELD_COUNT, offsetof(transcode_options_t, max_repeated)},
    };
    return load_fields(L, n, "limits", fields, NFIELDS(fields), o, NULL, NULL);
}

static int load_grpc(loader_t *L, const yaml_node_t *n, config_grpc_t *g)
{
    static const field_t fields[] = {
        {"max_message", FIELD_SIZE, offsetof(config_grpc_t, max_message)},
        {"max_concurrent_streams", FIELD_U32_POS, offsetof(config_grpc_t, max_concurrent_streams)},
        {"max_header_list", FIELD_SIZE, offsetof(config_grpc_t, max_header_list)},
        {"max_local_streams", FIELD_U32_POS, offsetof(config_grpc_t, max_local_streams)},
    };
    return load_fields(L, n, "grpc", fields, NFIELDS(fields), g, NULL, NULL);
}

static int load_health(loader_t *L, const yaml_node_t *n, const char *section, config_health_t *h)
{
    static const field_t fields[] = {
        {"interval_ms", FIELD_DURATION, offsetof(config_health_t, interval_ms)},
        {"timeout_ms", FIELD_DURATION, offsetof(config_health_t, timeout_ms)},
        {"healthy_threshold", FIELD_U32_POS, offsetof(config_health_t, healthy_threshold)},
        {"unhealthy_threshold", FIELD_U32_POS, offsetof(config_health_t, unhealthy_threshold)},
        {"passive_failures", FIELD_U32, offsetof(config_health_t, passive_failures)},
    };
    return load_fields(L, n, section, fields, NFIELDS(fields), h, NULL, NULL);
}

static int load_targets(loader_t *L, const yaml_node_t *n, const char *section, config_cluster_t *cl)
{
    char what[128], *host;
    uint16_t port;
    config_cluster_clear_targets(cl);
    if (n->type != YAML_SEQUENCE_NODE) {
        snprintf(what, sizeof(what), "%.64s.targets", section);
        if (get_hostport(L, n, what, false, &host, &port) < 0)
            return -1;
        config_cluster_add_target(cl, host, port);
        free(host);
        return 0;
    }
    size_t i = 0;
    for ITEMS (n, it) {
        snprintf(what, sizeof(what), "%.64s.targets[%zu]", section, i++);
        if (get_hostport(L, node(L, *it), what, false, &host, &port) < 0)
            return -1;
        config_cluster_add_target(cl, host, port);
        free(host);
    }
    return 0;
}

/* versions: [{name, targets, weight}] */
static int load_versions(loader_t *L, const yaml_node_t *n, const char *section, config_cluster_t *cl)
{
    char what[160];
    snprintf(what, sizeof(what), "%.64s.versions", section);
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, what, "a list of {name, targets, weight}");
    config_cluster_clear_versions(cl);
    size_t i = 0;
    for ITEMS (n, it) {
        const yaml_node_t *vn = node(L, *it);
        char vsec[160];
        snprintf(vsec, sizeof(vsec), "%.64s.versions[%zu]", section, i++);
        if (check_mapping(L, vn, vsec) < 0)
            return -1;
        char *name = NULL;
        const yaml_node_t *targets = NULL, *weight = NULL;
        for PAIRS (vn, p) {
            const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
            const char *key = sval(k);
            snprintf(what, sizeof(what), "%.100s.%.40s", vsec, key);
            if (!strcmp(key, "name")) {
                if (get_string(L, v, what, &name) < 0)
                    goto fail;
            } else if (!strcmp(key, "targets"))
                targets = v;
            else if (!strcmp(key, "weight"))
                weight = v;
            else {
                free(name);
                return unknown_key(L, k, vsec);
            }
        }
        if (name == NULL) {
            fail(L, vn, "%s: missing \"name\"", vsec);
            goto fail;
        }
        for (size_t j = 0; j < cl->nversions; j++) {
            if (strcmp(cl->versions[j].name, name) == 0) {
                fail(L, vn, "%s: duplicate version name \"%s\"", vsec, name);
                goto fail;
            }
        }
        config_version_t *v = config_version_get(cl, name, strlen(name));
        free(name);
        name = NULL;
        if (weight != NULL) {
            snprintf(what, sizeof(what), "%.100s.weight", vsec);
            if (get_u32(L, weight, what, 0, &v->weight) < 0)
                return -1;
        }
        if (targets == NULL)
            return fail(L, vn, "%s: no targets", vsec);
        /* the same reader as a cluster's targets, into a scratch cluster */
        config_cluster_t scratch = {0};
        if (load_targets(L, targets, vsec, &scratch) < 0) {
            config_cluster_clear_targets(&scratch);
            return -1;
        }
        v->targets = scratch.targets;
        v->ntargets = scratch.ntargets;
        continue;
    fail:
        free(name);
        return -1;
    }
    return 0;
}

static int load_sticky(loader_t *L, const yaml_node_t *n, const char *section, config_sticky_t *st)
{
    static const field_t fields[] = {
        {"header", FIELD_STRING, offsetof(config_sticky_t, header)},
        {"cookie", FIELD_STRING, offsetof(config_sticky_t, cookie)},
        {"hash_header", FIELD_STRING, offsetof(config_sticky_t, hash_header)},
    };
    if (load_fields(L, n, section, fields, NFIELDS(fields), st, NULL, NULL) < 0)
        return -1;
    if (st->cookie && st->hash_header)
        return fail(L, n, "%s: cookie and hash_header exclude each other", section);
    /* header names are compared as requests carry them: lower case */
    for (char *h = st->header; h && *h; h++)
        *h = (char)tolower((unsigned char)*h);
    for (char *h = st->hash_header; h && *h; h++)
        *h = (char)tolower((unsigned char)*h);
    return 0;
}

/* steps: rising percentages ending in 100 */
static int load_steps(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    config_rollout_t *r = ctx;
    if (strcmp(key, "steps") != 0)
        return 1;
    if (v->type != YAML_SEQUENCE_NODE)
        return expected(L, v, what, "a list of percentages ending in 100");
    size_t ns = 0;
    uint32_t prev = 0;
    for ITEMS (v, it) {
        uint32_t step;
        if (ns == CONFIG_MAX_STEPS)
            return fail(L, v, "%s: at most %d steps", what, CONFIG_MAX_STEPS);
        if (get_u32(L, node(L, *it), what, 1, &step) < 0)
            return -1;
        if (step > 100 || step <= prev)
            return fail(L, node(L, *it), "%s: steps must rise within 1..100", what);
        r->steps[ns++] = prev = step;
    }
    if (ns == 0 || prev != 100)
        return fail(L, v, "%s: the last step must be 100", what);
    r->nsteps = ns;
    return 0;
}

static int load_rollout(loader_t *L, const yaml_node_t *n, const char *section, config_rollout_t *r)
{
    static const field_t fields[] = {
        {"hold_ms", FIELD_DURATION, offsetof(config_rollout_t, hold_ms)},
        {"window_ms", FIELD_DURATION, offsetof(config_rollout_t, window_ms)},
        {"interval_ms", FIELD_DURATION, offsetof(config_rollout_t, interval_ms)},
        {"min_requests", FIELD_U32_POS, offsetof(config_rollout_t, min_requests)},
        {"max_error_rate", FIELD_FRACTION, offsetof(config_rollout_t, max_error_rate)},
        {"max_p95_ms", FIELD_DURATION, offsetof(config_rollout_t, max_p95_ms)},
        {"max_p99_ms", FIELD_DURATION, offsetof(config_rollout_t, max_p99_ms)},
        {"max_health_failures", FIELD_U32, offsetof(config_rollout_t, max_health_failures)},
    };
    if (load_fields(L, n, section, fields, NFIELDS(fields), r, load_steps, r) < 0)
        return -1;
    if (r->window_ms == 0 || r->interval_ms == 0)
        return fail(L, n, "%s: window_ms and interval_ms must be greater than 0", section);
    return 0;
}

/* admin: off | {listen: "HOST:PORT", token: "..."} */
static int admin_listen(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    config_t *c = ctx;
    if (strcmp(key, "listen") != 0)
        return 1;
    char *host;
    uint16_t port;
    if (get_hostport(L, v, what, true, &host, &port) < 0)
        return -1;
    free(c->admin_host);
    c->admin_host = host;
    c->admin_port = port;
    c->admin_explicit = 1;
    return 0;
}

static int load_admin(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (n->type == YAML_SCALAR_NODE && (!strcmp(sval(n), "off") || is_null(n))) {
        free(c->admin_host);
        c->admin_host = NULL;
        return 0;
    }
    static const field_t fields[] = {{"token", FIELD_STRING, offsetof(config_t, admin_token)}};
    return load_fields(L, n, "admin", fields, NFIELDS(fields), c, admin_listen, c);
}

/* The keys of a cluster that are not plain values. */
typedef struct cluster_ctx {
    config_cluster_t *cl;
    const char *section;
    const yaml_node_t **name_node;
} cluster_ctx_t;

static int cluster_other(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    cluster_ctx_t *x = ctx;
    config_cluster_t *cl = x->cl;
    if (!strcmp(key, "name")) {
        *x->name_node = v;
        return get_string(L, v, what, &cl->name);
    }
    if (!strcmp(key, "targets"))
        return load_targets(L, v, x->section, cl);
    if (!strcmp(key, "health"))
        return load_health(L, v, what, &cl->health);
    if (!strcmp(key, "versions"))
        return load_versions(L, v, x->section, cl);
    if (!strcmp(key, "sticky"))
        return load_sticky(L, v, what, &cl->sticky);
    if (!strcmp(key, "rollout"))
        return load_rollout(L, v, what, &cl->rollout);
    if (!strcmp(key, "json_profile"))
        return get_profile(L, v, what, &cl->json_profile);
    return 1;
}

/* One entry of clusters:, into cl (already holding the defaults). */
static int load_cluster(loader_t *L, const yaml_node_t *n, size_t index, config_cluster_t *cl,
                        const yaml_node_t **name_node)
{
    /* the durations live in the cluster itself, the rest go through ctx */
    static const field_t fields[] = {
        {"timeout_ms", FIELD_DURATION, offsetof(config_cluster_t, timeout_ms)},
        {"connect_timeout_ms", FIELD_DURATION, offsetof(config_cluster_t, connect_timeout_ms)},
        {"keepalive_ms", FIELD_DURATION, offsetof(config_cluster_t, keepalive_ms)},
        {"resolve_interval_ms", FIELD_DURATION, offsetof(config_cluster_t, resolve_interval_ms)},
    };
    char section[48];
    snprintf(section, sizeof(section), "clusters[%zu]", index);
    cluster_ctx_t ctx = {cl, section, name_node};
    if (load_fields(L, n, section, fields, NFIELDS(fields), cl, cluster_other, &ctx) < 0)
        return -1;
    if (cl->name == NULL)
        return fail(L, n, "%s: missing \"name\"", section);
    if (cl->ntargets > 0 && cl->nversions > 0)
        return fail(L, n, "cluster \"%s\": give targets or versions, not both", cl->name);
    if (cl->ntargets == 0 && cl->nversions == 0)
        return fail(L, n, "cluster \"%s\": no targets", cl->name);
    return 0;
}

/* clusters: replaces the list as a whole. */
static int load_clusters(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, "clusters", "a list");
    if (n->data.sequence.items.start == n->data.sequence.items.top)
        return fail(L, n, "clusters: expected at least one cluster");
    config_t tmp = {0};
    int rc = 0;
    for ITEMS (n, it) {
        tmp.clusters = xrealloc(tmp.clusters, tmp.nclusters + 1, sizeof(*tmp.clusters));
        config_cluster_t *cl = &tmp.clusters[tmp.nclusters];
        config_cluster_init(cl, NULL);
        tmp.nclusters++;
        const yaml_node_t *name_node = NULL;
        if ((rc = load_cluster(L, node(L, *it), tmp.nclusters - 1, cl, &name_node)) < 0)
            break;
        for (size_t j = 0; j + 1 < tmp.nclusters; j++) {
            if (strcmp(tmp.clusters[j].name, cl->name) == 0) {
                rc = fail(L, name_node, "duplicate cluster name \"%s\"", cl->name);
                break;
            }
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        config_clusters_free(tmp.clusters, tmp.nclusters);
        return -1;
    }
    config_clusters_free(c->clusters, c->nclusters);
    c->clusters = tmp.clusters;
    c->nclusters = tmp.nclusters;
    return 0;
}

/* services: replaces the table; clusters are checked once the file is read. */
static int load_services(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (is_null(n)) {
        config_services_free(c->services, c->nservices);
        c->services = NULL;
        c->nservices = 0;
        return 0;
    }
    if (check_mapping(L, n, "services") < 0)
        return -1;
    config_t tmp = {0};
    for PAIRS (n, p) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        char what[300];
        snprintf(what, sizeof(what), "services.%.200s", sval(k));
        char *cluster = NULL;
        if (get_string(L, v, what, &cluster) < 0) {
            config_services_free(tmp.services, tmp.nservices);
            return -1;
        }
        tmp.services = xrealloc(tmp.services, tmp.nservices + 1, sizeof(*tmp.services));
        tmp.services[tmp.nservices++] = (config_service_t){xstrdup(sval(k)), cluster};
    }
    config_services_free(c->services, c->nservices);
    c->services = tmp.services;
    c->nservices = tmp.nservices;
    return 0;
}

static bool method_name_ok(const char *m)
{
    const char *dot = strrchr(m, '.');
    if (dot == NULL || dot == m || dot[1] == '\0')
        return false;
    for (; *m; m++)
        if (!syntax_host_char_ok(*m))
            return false;
    return true;
}

/* routes: merge into c by method, key by key; a method twice in one file is a mistake. */
static int load_routes(loader_t *L, const yaml_node_t *n, config_t *c)
{
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, "routes", "a list");
    size_t index = 0;
    for ITEMS (n, it) {
        const yaml_node_t *r = node(L, *it);
        char section[48];
        snprintf(section, sizeof(section), "routes[%zu]", index++);
        if (check_mapping(L, r, section) < 0)
            return -1;
        const yaml_node_t *method = NULL, *timeout = NULL, *status = NULL, *profile = NULL;
        for PAIRS (r, p) {
            const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
            if (!strcmp(sval(k), "method"))
                method = v;
            else if (!strcmp(sval(k), "timeout_ms"))
                timeout = v;
            else if (!strcmp(sval(k), "success_status"))
                status = v;
            else if (!strcmp(sval(k), "json_profile"))
                profile = v;
            else
                return unknown_key(L, k, section);
        }
        char what[96];
        if (method == NULL)
            return fail(L, r, "%s: missing \"method\"", section);
        snprintf(what, sizeof(what), "%s.method", section);
        if (scalar(L, method, what, "a method name") < 0)
            return -1;
        if (!method_name_ok(sval(method)))
            return fail(L, method, "%s: expected a full method name like \"package.Service.Method\", got \"%s\"",
                        what, sval(method));
        for (yaml_node_item_t *pit = n->data.sequence.items.start; pit < it; pit++) {
            /* Earlier entries already passed the checks above: a mapping with a method. */
            const yaml_node_t *pr = node(L, *pit);
            for PAIRS (pr, p) {
                if (!strcmp(sval(node(L, p->key)), "method") && !strcmp(sval(node(L, p->value)), sval(method)))
                    return fail(L, method, "duplicate route for method \"%s\" (first at line %zu)", sval(method),
                                node(L, p->value)->start_mark.line + 1);
            }
        }
        uint32_t timeout_ms = 0, success = 0;
        if (timeout != NULL) {
            snprintf(what, sizeof(what), "%s.timeout_ms", section);
            if (get_duration(L, timeout, what, &timeout_ms) < 0)
                return -1;
        }
        if (status != NULL && !is_null(status)) {
            snprintf(what, sizeof(what), "%s.success_status", section);
            if (scalar(L, status, what, "an HTTP status 200..299") < 0)
                return -1;
            uint64_t s;
            if (!syntax_parse_u64(sval(status), status->data.scalar.length, &s))
                return expected(L, status, what, "an HTTP status 200..299");
            if (s < 200 || s > 299)
                return fail(L, status, "%s: %s is not a success status (200..299)", what, sval(status));
            success = (uint32_t)s;
        }
        char *profile_name = NULL;
        if (profile != NULL) {
            snprintf(what, sizeof(what), "%s.json_profile", section);
            if (get_profile(L, profile, what, &profile_name) < 0)
                return -1;
        }
        config_route_t *route = config_route_get(c, sval(method));
        if (profile != NULL) {
            free(route->json_profile);
            route->json_profile = profile_name;
        }
        if (timeout != NULL)
            route->timeout_ms = timeout_ms;
        if (status != NULL)
            route->success_status = (int)success;
    }
    return 0;
}

/*
 * An origin as browsers send it (RFC 6454's serialization): http or https,
 * a host, maybe a port, nothing after; or "*". Kept in lower case, since
 * browsers send scheme and host so and the handler compares bytes.
 */
static const char *origin_problem(const char *s)
{
    if (strcmp(s, "*") == 0)
        return NULL;
    const char *host = !strncasecmp(s, "https://", 8) ? s + 8 : !strncasecmp(s, "http://", 7) ? s + 7 : NULL;
    if (host == NULL)
        return "an origin starts with http:// or https://";
    const char *p = host;
    if (*p == '[') {
        while (*p && *p != ']')
            p++;
        if (*p++ != ']' || p == host + 2)
            return "an IPv6 host goes in brackets";
    } else {
        while (isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_')
            p++;
        if (p == host)
            return "an origin needs a host";
    }
    if (*p == ':') {
        uint64_t port;
        const char *digits = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        if (!syntax_parse_u64(digits, (size_t)(p - digits), &port) || port < 1 || port > 65535)
            return "the port must be 1..65535";
    }
    if (*p != '\0')
        return "an origin has no path (not even \"/\"), query or anything after the port";
    return NULL;
}

/* grpc_web: {enabled, cors_origins: [ORIGIN...] (or one)}; cors_origins replaces the list. */
static int grpc_web_origins(loader_t *L, const char *key, const yaml_node_t *v, const char *what, void *ctx)
{
    if (strcmp(key, "cors_origins") != 0)
        return 1;
    config_grpc_web_t *g = ctx;
    const yaml_node_t *one = v->type == YAML_SEQUENCE_NODE ? NULL : v;
    size_t n = one ? 1 : (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (one && is_null(one))
        n = 0;
    char **list = xcalloc(n, sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = one ? one : node(L, v->data.sequence.items.start[i]);
        char at[200];
        snprintf(at, sizeof(at), one ? "%s" : "%s[%zu]", what, i);
        int rc = get_string(L, item, at, &list[i]);
        const char *why = rc == 0 ? origin_problem(list[i]) : NULL;
        if (why != NULL)
            rc = fail(L, item, "%s: \"%s\": %s", at, list[i], why);
        if (rc < 0) {
            config_strings_free(list, n);
            return -1;
        }
        for (char *c = list[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    config_strings_free(g->cors_origins, g->ncors_origins);
    g->cors_origins = list;
    g->ncors_origins = n;
    return 0;
}

static int load_grpc_web(loader_t *L, const yaml_node_t *n, config_t *c)
{
    static const field_t fields[] = {{"enabled", FIELD_BOOL, offsetof(config_grpc_web_t, enabled)}};
    return load_fields(L, n, "grpc_web", fields, NFIELDS(fields), &c->grpc_web, grpc_web_origins, &c->grpc_web);
}

static int load_tracing(loader_t *L, const yaml_node_t *n, config_tracing_t *t)
{
    static const field_t fields[] = {
        {"endpoint", FIELD_STRING, offsetof(config_tracing_t, endpoint)},
        {"sample", FIELD_FRACTION, offsetof(config_tracing_t, sample)},
        {"service_name", FIELD_STRING, offsetof(config_tracing_t, service_name)},
        {"queue_size", FIELD_U32_POS, offsetof(config_tracing_t, queue_size)},
        {"batch_size", FIELD_U32_POS, offsetof(config_tracing_t, batch_size)},
        {"export_timeout_ms", FIELD_DURATION, offsetof(config_tracing_t, export_timeout_ms)},
        {"interval_ms", FIELD_DURATION, offsetof(config_tracing_t, interval_ms)},
        {"propagate_unsampled", FIELD_BOOL, offsetof(config_tracing_t, propagate_unsampled)},
    };
    return load_fields(L, n, "tracing", fields, NFIELDS(fields), t, NULL, NULL);
}

static int load_connections(loader_t *L, const yaml_node_t *n, config_connections_t *c)
{
    static const field_t fields[] = {
        {"max", FIELD_U32, offsetof(config_connections_t, max)},
        {"max_per_client", FIELD_U32, offsetof(config_connections_t, max_per_client)},
        {"probe_reserve", FIELD_U32, offsetof(config_connections_t, probe_reserve)},
    };
    return load_fields(L, n, "connections", fields, NFIELDS(fields), c, NULL, NULL);
}

/* rate_limits[i].key: ~ | client_address | header:NAME */
static int get_rate_key(loader_t *L, const yaml_node_t *v, const char *what, config_rate_limit_t *r)
{
    r->key = CONFIG_RATE_KEY_NONE;
    free(r->header);
    r->header = NULL;
    if (is_null(v))
        return 0;
    if (scalar(L, v, what, "client_address or header:NAME") < 0)
        return -1;
    const char *s = sval(v);
    if (!strcmp(s, "client_address")) {
        r->key = CONFIG_RATE_KEY_ADDRESS;
        return 0;
    }
    if (strncmp(s, "header:", 7) == 0 && s[7] != '\0') {
        for (const char *p = s + 7; *p; p++)
            if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
                return expected(L, v, what, "client_address or header:NAME (a header name)");
        r->key = CONFIG_RATE_KEY_HEADER;
        r->header = xstrdup(s + 7);
        for (char *p = r->header; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return 0;
    }
    return expected(L, v, what, "client_address or header:NAME");
}

/* rate_limits[i].rate: requests per second, fractions allowed */
static int get_rate(loader_t *L, const yaml_node_t *v, const char *what, double *out)
{
    if (scalar(L, v, what, "requests per second") < 0)
        return -1;
    char *end;
    double d = strtod(sval(v), &end);
    if (end == sval(v) || *end != '\0' || !(d >= 0.001 && d <= CONFIG_RATE_MAX))
        return expected(L, v, what, "requests per second, 0.001 or more (0.5, 100, 25000)");
    *out = d;
    return 0;
}

/* rate_limits: a list that replaces the one before, as clusters: does. */
static int load_rate_limits(loader_t *L, const yaml_node_t *n, config_t *c)
{
    config_t tmp = {0};
    if (is_null(n))
        goto swap;
    if (n->type != YAML_SEQUENCE_NODE)
        return expected(L, n, "rate_limits", "a list");
    for ITEMS (n, it) {
        const yaml_node_t *item = node(L, *it);
        char section[48];
        snprintf(section, sizeof(section), "rate_limits[%zu]", tmp.nrate_limits);
        tmp.rate_limits = xrealloc(tmp.rate_limits, tmp.nrate_limits + 1, sizeof(*tmp.rate_limits));
        config_rate_limit_t *r = &tmp.rate_limits[tmp.nrate_limits++];
        *r = (config_rate_limit_t){.max_keys = CONFIG_RATE_DEFAULT_MAX_KEYS};
        if (check_mapping(L, item, section) < 0) {
            config_rate_limits_free(tmp.rate_limits, tmp.nrate_limits);
            return -1;
        }
        int rc = 0;
        const yaml_node_t *name = NULL;
        int have_rate = 0;
        for PAIRS (item, p) {
            if (rc < 0)
                break;
            const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
            const char *key = sval(k);
            char what[96];
            snprintf(what, sizeof(what), "%s.%.40s", section, key);
            if (!strcmp(key, "name")) {
                name = v;
                rc = get_string(L, v, what, &r->name);
            } else if (!strcmp(key, "method")) {
                free(r->method);
                r->method = NULL;
                if (!is_null(v) && (rc = get_string(L, v, what, &r->method)) == 0 && !method_name_ok(r->method))
                    rc = fail(L, v, "%s: expected a full method name like \"package.Service.Method\", got \"%s\"", what,
                              r->method);
            } else if (!strcmp(key, "key")) {
                rc = get_rate_key(L, v, what, r);
            } else if (!strcmp(key, "rate")) {
                rc = get_rate(L, v, what, &r->rate);
                have_rate = 1;
            } else if (!strcmp(key, "burst")) {
                uint64_t b = 0;
                rc = is_null(v) ? 0 : get_uint(L, v, what, 1, 1000000000, &b);
                r->burst = (uint32_t)b;
            } else if (!strcmp(key, "max_keys")) {
                rc = get_u32(L, v, what, 1, &r->max_keys);
            } else {
                rc = unknown_key(L, k, section);
            }
        }
        if (rc == 0 && r->name == NULL)
            rc = fail(L, item, "%s: missing \"name\"", section);
        if (rc == 0 && !have_rate)
            rc = fail(L, item, "rate limit \"%s\": missing \"rate\" (requests per second)", r->name);
        for (size_t j = 0; rc == 0 && j + 1 < tmp.nrate_limits; j++)
            if (!strcmp(tmp.rate_limits[j].name, r->name))
                rc = fail(L, name, "duplicate rate limit name \"%s\"", r->name);
        if (rc < 0) {
            config_rate_limits_free(tmp.rate_limits, tmp.nrate_limits);
            return -1;
        }
    }
swap:
    config_rate_limits_free(c->rate_limits, c->nrate_limits);
    c->rate_limits = tmp.rate_limits;
    c->nrate_limits = tmp.nrate_limits;
    return 0;
}

static int load_root(loader_t *L, const yaml_node_t *root, config_t *c)
{
    if (root == NULL || is_null(root))
        return 0; /* empty, or only comments: nothing to change */
    if (check_mapping(L, root, "top level") < 0)
        return -1;
    const yaml_node_t *services = NULL;
    for PAIRS (root, p) {
        const yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        const char *key = sval(k);
        int rc;
        if (!strcmp(key, "listen"))
            rc = load_listen(L, v, "listen", false, &c->listeners, &c->nlisteners);
        else if (!strcmp(key, "listen_grpc"))
            rc = load_listen(L, v, "listen_grpc", true, &c->grpc_listeners, &c->ngrpc_listeners);
        else if (!strcmp(key, "grpc"))
            rc = load_grpc(L, v, &c->grpc);
        else if (!strcmp(key, "workers")) {
            uint64_t w;
            if ((rc = get_uint(L, v, "workers", 0, CONFIG_MAX_WORKERS, &w)) == 0)
                c->workers = (unsigned)w;
        } else if (!strcmp(key, "descriptors")) {
            if (is_null(v)) {
                free(c->descriptors);
                c->descriptors = NULL;
                rc = 0;
            } else
                rc = get_string(L, v, "descriptors", &c->descriptors);
        } else if (!strcmp(key, "access_log"))
            rc = get_string(L, v, "access_log", &c->access_log);
        else if (!strcmp(key, "swagger_ui_dir")) {
            if (is_null(v)) {
                free(c->swagger_ui_dir);
                c->swagger_ui_dir = NULL;
                rc = 0;
            } else
                rc = get_string(L, v, "swagger_ui_dir", &c->swagger_ui_dir);
        }
        else if (!strcmp(key, "drain_timeout_ms"))
            rc = get_duration(L, v, "drain_timeout_ms", &c->drain_timeout_ms);
        else if (!strcmp(key, "drain_grace_ms"))
            rc = get_duration(L, v, "drain_grace_ms", &c->drain_grace_ms);
        else if (!strcmp(key, "http1")) {
            if (scalar(L, v, "http1", "uring or h2o") < 0)
                rc = -1;
            else if (syntax_parse_http1(sval(v), &c->http1) != 0)
                rc = expected(L, v, "http1", "uring or h2o");
            else
                rc = 0;
        }
        else if (!strcmp(key, "json_profile"))
            rc = get_profile(L, v, "json_profile", &c->json_profile);
        else if (!strcmp(key, "transcode"))
            rc = load_transcode(L, v, &c->transcode);
        else if (!strcmp(key, "limits"))
            rc = load_limits(L, v, &c->transcode);
        else if (!strcmp(key, "clusters"))
            rc = load_clusters(L, v, c);
        else if (!strcmp(key, "services")) {
            rc = load_services(L, v, c);
            services = v;
        } else if (!strcmp(key, "routes"))
            rc = load_routes(L, v, c);
        else if (!strcmp(key, "admin"))
            rc = load_admin(L, v, c);
        else if (!strcmp(key, "grpc_web"))
            rc = load_grpc_web(L, v, c);
        else if (!strcmp(key, "rate_limits"))
            rc = load_rate_limits(L, v, c);
        else if (!strcmp(key, "connections"))
            rc = load_connections(L, v, &c->connections);
        else if (!strcmp(key, "tracing"))
            rc = load_tracing(L, v, &c->tracing);
        else
            return unknown_key(L, k, NULL);
        if (rc < 0)
            return -1;
    }
    /* After the loop: the file may list clusters after services. */
    if (services != NULL && services->type == YAML_MAPPING_NODE) {
        for PAIRS (services, p) {
            const yaml_node_t *v = node(L, p->value);
            if (config_cluster_find(c, sval(v)) == NULL)
                return fail(L, v, "services.%s: no cluster named \"%s\"", sval(node(L, p->key)), sval(v));
        }
    }
    return 0;
}

/* The whole file in memory: a reader error then comes with an offset we can turn into a line. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *data = xcalloc(cap, 1);
    for (;;) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap || cap >= CONFIG_MAX_FILE)
            break;
        cap *= 2;
        data = xrealloc(data, cap, 1);
    }
    int bad = ferror(f) ? errno : 0;
    fclose(f);
    if (bad || n >= CONFIG_MAX_FILE) {
        errf(err, errlen, "%s: %s", path, bad ? strerror(bad) : "file too large for a config");
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

static void yaml_error(const yaml_parser_t *p, const char *path, const char *data, char *err, size_t errlen)
{
    size_t line = p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) { /* no mark, only a byte offset */
        line = 1;
        for (size_t i = 0; i < p->problem_offset; i++)
            line += data[i] == '\n';
    }
    const char *problem = p->problem ? p->problem : "YAML syntax error";
    if (p->context != NULL)
        errf(err, errlen, "%s:%zu: %s (%s)", path, line, problem, p->context);
    else
        errf(err, errlen, "%s:%zu: %s", path, line, problem);
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *data = read_file(path, &len, err, errlen);
    if (data == NULL)
        return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        oom();
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    loader_t L = {.file = path, .err = err, .errlen = errlen};
    int rc = -1;
    if (!yaml_parser_load(&parser, &L.doc)) {
        yaml_error(&parser, path, data, err, errlen);
        goto out;
    }
    config_t n;
    config_copy(&n, c);
    rc = load_root(&L, yaml_document_get_root_node(&L.doc), &n);
    yaml_document_delete(&L.doc);
    if (rc == 0) {
        /* A second document would be silently ignored: say so instead. */
        if (!yaml_parser_load(&parser, &L.doc)) {
            yaml_error(&parser, path, data, err, errlen);
            rc = -1;
        } else {
            yaml_node_t *second = yaml_document_get_root_node(&L.doc);
            if (second != NULL)
                rc = fail(&L, second, "only one YAML document is allowed");
            yaml_document_delete(&L.doc);
        }
    }
    if (rc == 0) {
        set_str(&n.config_path, path);
        config_free(c);
        *c = n;
    } else {
        config_free(&n);
    }
out:
    yaml_parser_delete(&parser);
    free(data);
    return rc;
}
