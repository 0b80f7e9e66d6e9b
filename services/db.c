/*
 * db.c: the database check's thread (db.h). libpq is blocking, so it runs
 * off the gRPC pollers; a connect that hangs (a partition) is bounded by
 * connect_timeout, added to the connection string when it has none.
 */
#include "db.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_CHECK_MS 1000

static char *conninfo;
static pthread_t thread;
static int running;
static _Atomic int ready = 1, stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

/* One check: connect if needed, SELECT 1. The state's first change and
 * every later one are said on stderr, so an operator sees why readiness
 * moved. */
static int check(PGconn **conn)
{
    if (*conn == NULL || PQstatus(*conn) != CONNECTION_OK) {
        if (*conn)
            PQfinish(*conn);
        *conn = PQconnectdb(conninfo);
        if (PQstatus(*conn) != CONNECTION_OK) {
            static char last[200];
            const char *why = PQerrorMessage(*conn);
            if (strncmp(last, why, sizeof(last) - 1) != 0) {
                fprintf(stderr, "aurigraph-services: database: %s", why);
                snprintf(last, sizeof(last), "%s", why);
            }
            return 0;
        }
    }
    PGresult *r = PQexec(*conn, "SELECT 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(*conn);
        *conn = NULL;
    }
    return ok;
}

static void *run(void *arg)
{
    (void)arg;
    PGconn *conn = NULL;
    pthread_mutex_lock(&lock);
    while (!atomic_load(&stopping)) {
        pthread_mutex_unlock(&lock);
        int ok = check(&conn);
        if (ok != atomic_exchange(&ready, ok))
            fprintf(stderr, "aurigraph-services: database %s\n", ok ? "reachable: ready" : "unreachable: not serving");
        pthread_mutex_lock(&lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += DB_CHECK_MS / 1000;
        if (!atomic_load(&stopping))
            pthread_cond_timedwait(&wake, &lock, &until);
    }
    pthread_mutex_unlock(&lock);
    if (conn)
        PQfinish(conn);
    return NULL;
}

int db_start(const char *dsn)
{
    if (dsn == NULL || dsn[0] == '\0')
        return 0;
    /* a URI takes its timeout as a parameter; key=value strings get one
     * appended, which libpq lets override an earlier one */
    int uri = strncmp(dsn, "postgres://", 11) == 0 || strncmp(dsn, "postgresql://", 13) == 0;
    size_t n = strlen(dsn) + 32;
    conninfo = malloc(n);
    if (conninfo == NULL)
        return -1;
    if (strstr(dsn, "connect_timeout") != NULL)
        snprintf(conninfo, n, "%s", dsn);
    else
        snprintf(conninfo, n, "%s%s", dsn, uri ? (strchr(dsn, '?') ? "&connect_timeout=2" : "?connect_timeout=2")
                                                : " connect_timeout=2");
    atomic_store(&ready, 0); /* not ready until the first check passes */
    if (pthread_create(&thread, NULL, run, NULL) != 0)
        return -1;
    running = 1;
    return 0;
}

int db_ready(void)
{
    return atomic_load_explicit(&ready, memory_order_relaxed);
}

void db_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    atomic_store(&stopping, 1);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = 0;
    free(conninfo);
    conninfo = NULL;
}
