/*
 * methods.c: the gRPC method table. Open addressing over the path's hash;
 * a config-only service's catch-all row is keyed by "/service/" so that a
 * lookup tries the whole path first, then its service prefix.
 */
#include "state/methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *row_key(const method_row_t *r, char *buf, size_t cap, size_t *len)
{
    if (r->method) {
        *len = strlen(r->method->grpc_path);
        return r->method->grpc_path;
    }
    int n = snprintf(buf, cap, "/%.*s/", (int)r->service_len, r->service);
    *len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    return buf;
}

static int key_is(const method_row_t *r, const char *key, size_t len)
{
    if (r->method)
        return strlen(r->method->grpc_path) == len && memcmp(r->method->grpc_path, key, len) == 0;
    return len == r->service_len + 2 && key[0] == '/' && key[len - 1] == '/' &&
           memcmp(key + 1, r->service, r->service_len) == 0;
}

static uint32_t slot_of(const method_table_t *t, const char *key, size_t len)
{
    uint32_t i = schema_hash(key, len) & t->mask;
    while (t->slots[i] && !key_is(&t->rows[t->slots[i] - 1], key, len))
        i = (i + 1) & t->mask;
    return i;
}

static int described(const schema_t *s, const char *service)
{
    for (size_t i = 0; i < schema_service_count(s); i++)
        if (strcmp(schema_service_at(s, i)->full_name, service) == 0)
            return 1;
    return 0;
}

static int add_row(method_table_t *t, const config_t *cfg, const schema_method_t *m, const char *service,
                   size_t service_len, char *err, size_t errlen)
{
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)service_len, service);
    const config_cluster_t *cc = config_cluster_for_service(cfg, name);
    if (cc == NULL) {
        snprintf(err, errlen, "service %s has no cluster (map it under services:, or define \"default\")", name);
        return -1;
    }
    method_row_t *r = &t->rows[t->nrows++];
    *r = (method_row_t){.method = m, .service = service, .service_len = service_len,
                        .name = m ? m->name : "_other", .cluster = (uint32_t)(cc - cfg->clusters),
                        .timeout_ms = cc->timeout_ms};
    const config_route_t *over = m ? config_route_for_method(cfg, m->full_name) : NULL;
    if (over && over->timeout_ms)
        r->timeout_ms = over->timeout_ms;
    return 0;
}

int method_table_init(method_table_t *t, const config_t *cfg, const schema_t *s, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    size_t n = cfg->nservices;
    for (size_t i = 0; i < schema_service_count(s); i++)
        n += schema_service_at(s, i)->nmethods;
    t->rows = calloc(n ? n : 1, sizeof(*t->rows));
    uint32_t cap = 16;
    while (cap < 2 * n + 1)
        cap <<= 1;
    t->mask = cap - 1;
    t->slots = calloc(cap, sizeof(*t->slots));
    if (t->rows == NULL || t->slots == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < schema_service_count(s); i++) {
        const schema_service_t *svc = schema_service_at(s, i);
        for (uint32_t k = 0; k < svc->nmethods; k++)
            if (add_row(t, cfg, &svc->methods[k], svc->full_name, strlen(svc->full_name), err, errlen) != 0)
                goto fail;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        const char *svc = cfg->services[i].service;
        if (!described(s, svc) && add_row(t, cfg, NULL, svc, strlen(svc), err, errlen) != 0)
            goto fail;
    }
    for (size_t i = 0; i < t->nrows; i++) {
        char buf[300];
        size_t len;
        const char *key = row_key(&t->rows[i], buf, sizeof(buf), &len);
        uint32_t at = slot_of(t, key, len);
        if (t->slots[at] == 0) /* a service named twice in the config: the first wins */
            t->slots[at] = (uint32_t)i + 1;
    }
    return 0;
fail:
    method_table_free(t);
    return -1;
}

void method_table_free(method_table_t *t)
{
    free(t->rows);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

method_lookup_t method_table_find(const method_table_t *t, const char *path, size_t len, size_t *row)
{
    if (len < 4 || path[0] != '/')
        return METHOD_BAD_PATH;
    const char *slash = memchr(path + 1, '/', len - 1);
    if (slash == NULL || slash == path + 1 || slash == path + len - 1 || memchr(slash + 1, '/', (size_t)(path + len - slash - 1)))
        return METHOD_BAD_PATH;
    uint32_t at = slot_of(t, path, len);
    if (t->slots[at]) {
        *row = t->slots[at] - 1;
        return METHOD_FOUND;
    }
    size_t prefix = (size_t)(slash - path) + 1;
    at = slot_of(t, path, prefix);
    if (t->slots[at]) {
        *row = t->slots[at] - 1;
        return METHOD_FOUND;
    }
    /* a described service (some row has it) without this method */
    for (size_t i = 0; i < t->nrows; i++)
        if (t->rows[i].service_len == prefix - 2 && memcmp(t->rows[i].service, path + 1, prefix - 2) == 0)
            return METHOD_NO_METHOD;
    return METHOD_NO_SERVICE;
}
