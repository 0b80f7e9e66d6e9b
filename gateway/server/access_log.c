/*
 * access_log.c: formatting straight into the worker's buffer. A full buffer
 * (the disk or the pipe cannot keep up) drops lines and counts them rather
 * than blocking the loop.
 */
#include "server/access_log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "transcode/scalar.h"

#define ACCESS_LOG_BUFFER (256 * 1024)
#define ACCESS_LOG_LINE_MAX 2048

void access_log_init(access_log_t *l, int fd)
{
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->stamp_sec = INT64_MIN;
    if (fd >= 0) {
        l->buf = malloc(ACCESS_LOG_BUFFER);
        l->cap = l->buf ? ACCESS_LOG_BUFFER : 0;
    }
}

/* Appends s as a JSON string, escaped, bounded by what is left. */
static void put_json_string(buf_t *b, const char *s, size_t len)
{
    if (len > 512)
        len = 512;
    status_json_quote(b, s, len);
}

/* The time as scalar_format_timestamp prints it at millisecond precision,
 * with the date and time of day formatted once per second, not per line. */
static void put_time(access_log_t *l, buf_t *b, int64_t unix_ms)
{
    int64_t sec = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec--;
    }
    if (sec != l->stamp_sec) {
        buf_t t = {.data = l->stamp_text, .len = 0, .cap = sizeof(l->stamp_text), .arena = b->arena};
        scalar_format_timestamp(&t, sec, 0);
        l->stamp_len = t.oom || t.len == 0 ? 0 : t.len - 1; /* without the 'Z' */
        l->stamp_sec = sec;
    }
    buf_append(b, l->stamp_text, l->stamp_len);
    if (ms) {
        char f[4] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
        buf_append(b, f, 4);
    }
    buf_putc(b, 'Z');
}

void access_log_add(access_log_t *l, const access_log_entry_t *e)
{
    if (l->fd < 0 || l->buf == NULL)
        return;
    if (l->cap - l->len < ACCESS_LOG_LINE_MAX) {
        l->dropped++;
        return;
    }
    /* a buf_t over the free tail: it cannot grow, so it cannot overrun */
    arena_t none;
    arena_init(&none);
    none.limit = 1;
    buf_t b = {.data = l->buf + l->len, .len = 0, .cap = ACCESS_LOG_LINE_MAX, .arena = &none};

    buf_puts_lit(&b, "{\"time\":\"");
    put_time(l, &b, e->unix_ms);
    buf_puts_lit(&b, "\",\"method\":");
    put_json_string(&b, e->method, e->method_len);
    if (e->route) {
        buf_puts_lit(&b, ",\"route\":");
        put_json_string(&b, e->route, strlen(e->route));
    } else {
        buf_puts_lit(&b, ",\"route\":null,\"path\":");
        put_json_string(&b, e->path ? e->path : "", e->path ? e->path_len : 0);
    }
    /* integers by hand: the printf family was most of a line's cost */
    buf_puts_lit(&b, ",\"status\":");
    scalar_format_uint64(&b, (uint64_t)(e->status > 0 ? e->status : 0));
    buf_puts_lit(&b, ",\"grpc_status\":");
    if (e->grpc_status >= 0)
        scalar_format_uint64(&b, (uint64_t)e->grpc_status);
    else
        buf_puts_lit(&b, "null");
    buf_puts_lit(&b, ",\"bytes\":");
    scalar_format_uint64(&b, e->bytes_sent);
    buf_puts_lit(&b, ",\"duration_us\":");
    scalar_format_uint64(&b, e->duration_us);
    /* the gateway's own share of a request is duration_us - upstream_us */
    buf_puts_lit(&b, ",\"upstream_us\":");
    if (e->upstream_us >= 0)
        scalar_format_uint64(&b, (uint64_t)e->upstream_us);
    else
        buf_puts_lit(&b, "null");
    buf_puts_lit(&b, ",\"upstream\":");
    if (e->upstream)
        put_json_string(&b, e->upstream, strlen(e->upstream));
    else
        buf_puts_lit(&b, "null");
    if (e->version) {
        buf_puts_lit(&b, ",\"version\":");
        put_json_string(&b, e->version, strlen(e->version));
    }
    buf_puts_lit(&b, ",\"request_id\":");
    put_json_string(&b, e->request_id ? e->request_id : "", e->request_id ? e->request_id_len : 0);
    buf_puts_lit(&b, "}\n");
    if (b.oom) {
        l->dropped++;
        return;
    }
    l->len += b.len;
}

void access_log_flush(access_log_t *l)
{
    size_t off = 0;
    while (off < l->len) {
        /* whole lines, at most PIPE_BUF bytes per write: atomic on a pipe */
        size_t chunk = l->len - off;
        if (chunk > PIPE_BUF) {
            chunk = PIPE_BUF;
            while (chunk > 0 && l->buf[off + chunk - 1] != '\n')
                chunk--;
            if (chunk == 0)
                chunk = PIPE_BUF; /* one line longer than PIPE_BUF: cannot be helped */
        }
        ssize_t n = write(l->fd, l->buf + off, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* EAGAIN or a dead pipe: drop, never block the loop */
        }
        off += (size_t)n;
    }
    l->len = 0;
}

void access_log_dispose(access_log_t *l)
{
    if (l->fd >= 0)
        access_log_flush(l);
    free(l->buf);
    l->buf = NULL;
}
