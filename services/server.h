/*
 * server.h: run the reference services on a gRPC C core server until
 * SIGINT/SIGTERM. main.c parses the command line into server_opts.
 */
#ifndef AG_SERVER_H
#define AG_SERVER_H

#include <grpc/status.h>

struct server_opts {
    const char *listen;           /* HOST:PORT; port 0 picks a free one */
    double fail_rate;             /* 0..1: share of calls failed on purpose */
    grpc_status_code fail_code;   /* status those calls get */
    const char *fail_details;     /* NULL, or text of a StringValue detail on those failures */
    int latency_ms;               /* added before every answer */
    const char *version_tag;      /* NULL: no x-version-tag metadata */
    int threads;                  /* completion-queue pollers, >= 1 */
    int max_connection_age_ms;    /* 0: connections live as long as the client keeps them */
    const char *db_dsn;           /* NULL: no database (db.h) */
    int echo_metadata;            /* answer with the request's traceparent and x-echo-* (a test hook) */
};

/* Returns the process exit status. */
int server_run(const struct server_opts *opts);

#endif
