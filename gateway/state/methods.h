/*
 * methods: every gRPC method the gateway can carry, by its path
 * ("/pkg.Service/Method"), with the cluster that owns its service. The
 * front doors (REST after its route match, the gRPC listener, gRPC-Web)
 * route through this one table, so a service reaches the same cluster
 * whichever door it came in by, and metrics count calls per row.
 *
 * Rows: one per method of every service in the descriptor set, then one
 * per service that only the config's `services:` names (a pass-through of
 * a service the gateway has no descriptors for: any method of it goes to
 * its cluster, counted under method "_other"). Built once, read-only.
 */
#ifndef AG_METHODS_H
#define AG_METHODS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "schema/schema.h"

typedef struct method_row {
    const schema_method_t *method; /* NULL: a config-only service's catch-all row */
    const char *service;           /* "aurigraph.v11.TransactionService" */
    size_t service_len;
    const char *name;              /* "SubmitTransaction", or "_other" */
    uint32_t cluster;              /* index into cfg->clusters (and the split's clusters) */
    uint32_t timeout_ms;           /* the route's override, else the cluster's */
} method_row_t;

typedef struct method_table {
    method_row_t *rows;
    size_t nrows;
    uint32_t mask;
    uint32_t *slots;               /* row + 1 by path hash (and catch-alls by service hash) */
} method_table_t;

/* -1 with err when a service of the descriptor set, or one the config
 * names, has no cluster. */
int method_table_init(method_table_t *t, const config_t *cfg, const schema_t *s, char *err, size_t errlen);
void method_table_free(method_table_t *t);

typedef enum method_lookup {
    METHOD_FOUND = 0,
    METHOD_NO_SERVICE,  /* neither the descriptors nor the config know the service */
    METHOD_NO_METHOD,   /* a described service without that method */
    METHOD_BAD_PATH,    /* not "/service/method" */
} method_lookup_t;

/* The row of a request path; *row is set on METHOD_FOUND. */
method_lookup_t method_table_find(const method_table_t *t, const char *path, size_t len, size_t *row);

#endif
