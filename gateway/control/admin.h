/*
 * admin: the release API on its own listener (--admin, loopback by
 * default): cluster versions and weights, rollouts, promote, rollback,
 * drain. JSON in and out; errors in the contract's error shape. Served by
 * worker 0 only, the thread that also runs the rollouts, so what it
 * changes needs no lock.
 *
 *   GET  /admin/clusters                 every cluster: versions, targets, weights, health, rollout
 *   GET  /admin/clusters/{name}          one of them
 *   PUT  /admin/clusters/{name}/weights  {"blue":90,"canary":10}
 *   POST /admin/clusters/{name}/rollout  {"to":"canary","steps":[10,25,50,100],"hold":"4h","window":"5m",...}
 *   POST /admin/clusters/{name}/promote  {} or {"to":"green"}
 *   POST /admin/clusters/{name}/rollback
 *   GET  /admin/rate_limits              every rate limit: method, key, rate, burst, on/off
 *   GET  /admin/rate_limits/{name}       one of them
 *   PUT  /admin/rate_limits/{name}       {"rate":100,"burst":200,"enabled":true}, any of them
 *   POST /admin/drain
 */
#ifndef AG_ADMIN_H
#define AG_ADMIN_H

#include <h2o.h>

#include "state/shared.h"

/* Serves every path under `path` (the admin listener's host) on sh. */
void admin_register(h2o_pathconf_t *path, shared_t *sh);

#endif
