/*
 * aurigraph-gateway: REST (HTTP/1.1, h2c) on /api/v11 -> gRPC upstreams.
 *
 *   aurigraph-gateway [--config FILE] [--listen HOST:PORT] [--upstream HOST:PORT]
 *                     [--descriptors FILE] [--workers N] [--check-config] [--help]
 *
 * Start-up is all or nothing: config, descriptor set, routes and listeners
 * are all checked before the first worker starts. SIGINT/SIGTERM drain.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "schema/schema.h"
#include "server/server.h"
#include "transcode/binding.h"

#ifndef AG_INSTALLED_DESCRIPTORS
#define AG_INSTALLED_DESCRIPTORS "/usr/local/share/aurigraph-gateway/aurigraph-v11.pb"
#endif

/* The built descriptor set sits next to the binary in a build tree. */
static const char *default_descriptors(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(buf, len, "%s/aurigraph-v11.pb", dirname(exe));
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return AG_INSTALLED_DESCRIPTORS;
}

typedef struct signal_waiter {
    sigset_t set;
    server_t *server;
    _Atomic int done;   /* the server has stopped by itself (admin drain, failed start) */
} signal_waiter_t;

/* SIGUSR1 is how main wakes this thread once the server is done (cancelling
 * a thread in sigwait trips ASan's thread teardown); a stray SIGUSR1 from
 * outside is ignored. */
static void *wait_for_signal(void *arg)
{
    signal_waiter_t *sw = arg;
    int sig;
    while (sigwait(&sw->set, &sig) == 0) {
        if (sig == SIGUSR1) {
            if (atomic_load(&sw->done))
                return NULL;
            continue;
        }
        fprintf(stderr, "aurigraph-gateway: %s, draining\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        server_stop(sw->server);
        return NULL;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    config_t cfg;
    config_defaults(&cfg);
    char err[512];
    int rc = config_parse_args(&cfg, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "aurigraph-gateway: %s\n(try --help)\n", err);
        config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    /* the token from the environment, so it need not show in `ps` */
    const char *token = getenv("AURIGRAPH_ADMIN_TOKEN");
    if (cfg.admin_token == NULL && token != NULL && token[0] != '\0')
        cfg.admin_token = strdup(token);
    if (config_validate(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "aurigraph-gateway: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    char pathbuf[PATH_MAX + 32];
    const char *descriptors = cfg.descriptors ? cfg.descriptors : default_descriptors(pathbuf, sizeof(pathbuf));
    schema_t *schema = schema_load_file(descriptors, err, sizeof(err));
    if (schema == NULL) {
        fprintf(stderr, "aurigraph-gateway: descriptors: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    /* the gRPC listener's reflection describes the file loaded here */
    if (cfg.descriptors == NULL)
        cfg.descriptors = strdup(descriptors);
    binding_table_t *bindings = binding_table_build(schema, err, sizeof(err));
    if (bindings == NULL) {
        fprintf(stderr, "aurigraph-gateway: routes: %s\n", err);
        schema_free(schema);
        config_free(&cfg);
        return 2;
    }
    if (binding_count(bindings) == 0)
        fprintf(stderr, "aurigraph-gateway: warning: %s binds no HTTP routes\n", descriptors);

    /* signals go to the waiter thread only: workers inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    signal_waiter_t sw;
    sigemptyset(&sw.set);
    sigaddset(&sw.set, SIGINT);
    sigaddset(&sw.set, SIGTERM);
    sigaddset(&sw.set, SIGUSR1);
    atomic_init(&sw.done, 0);
    pthread_sigmask(SIG_BLOCK, &sw.set, NULL);

    if (cfg.check_only) {
        /* everything but binding the ports: a running gateway may hold them */
        printf("configuration OK: %zu routes from %s, %zu clusters\n", binding_count(bindings), descriptors,
               cfg.nclusters);
        binding_table_free(bindings);
        schema_free(schema);
        config_free(&cfg);
        return 0;
    }

    server_t *server = server_new(&cfg, schema, bindings, err, sizeof(err));
    if (server == NULL) {
        fprintf(stderr, "aurigraph-gateway: %s\n", err);
        binding_table_free(bindings);
        schema_free(schema);
        config_free(&cfg);
        return 1;
    }
    sw.server = server;
    pthread_t waiter;
    pthread_create(&waiter, NULL, wait_for_signal, &sw);
    rc = server_run(server);
    /* the run may end without a signal: an admin drain, a failed start */
    atomic_store(&sw.done, 1);
    pthread_kill(waiter, SIGUSR1);
    pthread_join(waiter, NULL);
    server_free(server);
    binding_table_free(bindings);
    schema_free(schema);
    config_free(&cfg);
    return rc;
}
