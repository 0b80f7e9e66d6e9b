/*
 * access_log: one JSON line per request, gathered in a per-worker buffer
 * and written in batches from the worker's tick, so the request path never
 * makes a syscall for logging. Writes are cut at line boundaries no larger
 * than PIPE_BUF, so lines from different workers never interleave.
 */
#ifndef AG_ACCESS_LOG_H
#define AG_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct access_log {
    int fd;          /* -1: off */
    char *buf;
    size_t len, cap;
    uint64_t dropped; /* lines lost because the buffer was full */
    int64_t stamp_sec;    /* the second stamp_text holds, "YYYY-MM-DDTHH:MM:SS" */
    char stamp_text[32];
    size_t stamp_len;
} access_log_t;

typedef struct access_log_entry {
    int64_t unix_ms;
    const char *method;
    size_t method_len;
    const char *route;       /* the matched template, or NULL */
    const char *path;        /* when no route matched */
    size_t path_len;
    int status;
    int grpc_status;         /* -1: no upstream call */
    uint64_t bytes_sent;
    uint64_t duration_us;
    int64_t upstream_us;     /* time in the upstream call; -1: no call */
    const char *upstream;    /* cluster name, or NULL */
    const char *version;     /* the cluster version, when it has several; or NULL */
    const char *request_id;
    size_t request_id_len;
} access_log_entry_t;

void access_log_init(access_log_t *l, int fd);
void access_log_add(access_log_t *l, const access_log_entry_t *e);
/* Writes what is buffered. */
void access_log_flush(access_log_t *l);
void access_log_dispose(access_log_t *l);

#endif
