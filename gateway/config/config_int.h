/*
 * config_int.h: what the parts of gateway/config/ share, and nothing outside
 * that folder may use: the defaults (the model sets them, --help prints
 * them), allocation that aborts when memory runs out, and the model's own
 * mutators (config.c), which keep every string on the heap so that
 * config_free can free whatever filled them.
 */
#ifndef AG_CONFIG_INT_H
#define AG_CONFIG_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define CLUSTER_DEFAULT_TIMEOUT_MS 30000
#define CLUSTER_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define CLUSTER_DEFAULT_KEEPALIVE_MS 10000
#define CLUSTER_DEFAULT_RESOLVE_INTERVAL_MS 30000
#define HEALTH_DEFAULT_INTERVAL_MS 5000
#define HEALTH_DEFAULT_TIMEOUT_MS 1000
#define HEALTH_DEFAULT_HEALTHY 2
#define HEALTH_DEFAULT_UNHEALTHY 3
#define HEALTH_DEFAULT_PASSIVE_FAILURES 5
#define CONFIG_DEFAULT_DRAIN_MS 30000
#define CONFIG_MAX_WORKERS 1024

/* ---- memory ------------------------------------------------------------ */

static inline void oom(void)
{
    fputs("config: out of memory\n", stderr);
    abort();
}

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        oom();
    return p;
}

static inline void *xrealloc(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        oom();
    p = realloc(p, n * size != 0 ? n * size : 1);
    if (p == NULL)
        oom();
    return p;
}

static inline char *xstrndup(const char *s, size_t n)
{
    char *d = xcalloc(n + 1, 1);
    memcpy(d, s, n);
    return d;
}

static inline char *xstrdup(const char *s)
{
    return s ? xstrndup(s, strlen(s)) : NULL;
}

static inline void set_str(char **dst, const char *s)
{
    char *d = xstrdup(s);
    free(*dst);
    *dst = d;
}

static inline void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the model (config.c) --------------------------------------------- */

/* A cluster holding the defaults (timeouts, health, sticky, rollout), no targets. */
void config_cluster_init(config_cluster_t *cl, const char *name);
config_cluster_t *config_cluster_find(config_t *c, const char *name);
void config_cluster_add_target(config_cluster_t *cl, const char *host, uint16_t port);
void config_cluster_clear_targets(config_cluster_t *cl);
void config_cluster_clear_versions(config_cluster_t *cl);
/* The version of that name, added (weight 100 if first, else 0) when missing. */
config_version_t *config_version_get(config_cluster_t *cl, const char *name, size_t name_len);
void config_version_add_target(config_version_t *v, const char *host, uint16_t port);
void config_add_listener(config_t *c, const char *host, uint16_t port);
void config_listener_append(config_listener_t **list, size_t *n, const char *host, uint16_t port);
/* The route of that method, added empty (every key "the default") when missing. */
config_route_t *config_route_get(config_t *c, const char *method);
void config_listeners_free(config_listener_t *l, size_t n);
void config_clusters_free(config_cluster_t *cl, size_t n);
void config_services_free(config_service_t *s, size_t n);
void config_strings_free(char **s, size_t n);
void config_rate_limits_free(config_rate_limit_t *r, size_t n);
/* A deep copy: every load and every command line works on one. */
void config_copy(config_t *dst, const config_t *src);

#endif
