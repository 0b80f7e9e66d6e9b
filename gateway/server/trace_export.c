/*
 * trace_export.c: the exporter thread (trace_export.h).
 *
 * The loop: every 20 ms it looks at the rings; once a batch's worth is
 * waiting, or interval_ms has passed with anything waiting, it takes up to
 * batch_size records (one or two spans each) from the rings in turn,
 * encodes them straight from the ring slots with protobuf-c, gives the
 * slots back, and POSTs the request. A failed export (no connection, a
 * timeout, 429 or 5xx) drops its spans, counted, and the next attempt
 * waits: 250 ms, doubling to 8 s, reset by a success. While it waits it
 * takes nothing from the rings, so a dead collector fills them and the
 * workers drop new spans (counted) rather than anything waiting on it.
 *
 * HTTP: a small HTTP/1.1 client over a plain blocking-with-deadline socket
 * rather than libcurl. The exporter sends one kind of request to one
 * address, from one thread; what that needs (Content-Length, keep-alive,
 * the status line, a Content-Length or chunked or to-close body, one
 * deadline over connect/send/receive) is a page of code, and it keeps the
 * gateway free of a new library and its TLS stack in the packages. https
 * endpoints are refused at config time (a collector sidecar on loopback or
 * the node is the usual shape).
 */
#include "server/trace_export.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#ifndef AG_VERSION
#define AG_VERSION "0.0.0"
#endif

#define MAX_ATTRS 16
#define NAME_CAP 256
#define POLL_MS 20
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;

/* The protobuf-c structs of one span, made once and refilled per batch. */
typedef struct span_slot {
    span_t span;
    Opentelemetry__Proto__Trace__V1__Status status;
    kv_t kv[MAX_ATTRS];
    any_t val[MAX_ATTRS];
    kv_t *kvp[MAX_ATTRS];
    char name[NAME_CAP];
    char rpc_service[128], rpc_method[64];
    char method[17], host[65], state[129], path[193];
    size_t nattrs;
} span_slot_t;

struct tracer {
    config_tracing_t cfg;
    unsigned nworkers;
    trace_ring_t *rings;
    pthread_t thread;
    int started;
    pthread_mutex_t mu; /* stop and its wake-up only: never taken by a worker */
    pthread_cond_t cv;
    int stop;
    /* the endpoint */
    char host[256], port[8], path[512];
    int fd;             /* kept alive between exports; -1 */
    /* the encoder */
    span_slot_t *slots; /* one span's structs, refilled for each */
    kv_t res_kv[3];
    any_t res_val[3];
    kv_t *res_kvp[3];
    char instance_id[37];
    uint8_t *body;        /* the request */
    size_t body_cap;
    uint8_t *spans;       /* a batch's packed spans, each with its field key */
    size_t spans_cap;
    uint8_t *resource, *scope; /* packed once: Resource, InstrumentationScope */
    size_t resource_len, scope_len;
    /* counters: written by the exporter thread, read by the scrape */
    _Atomic uint64_t exported, dropped_export, exports_ok, exports_failed;
};

/* ---- the endpoint ------------------------------------------------------ */

static int parse_endpoint(tracer_t *t, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "tracing.endpoint \"%s\": expected http://HOST:PORT[/PREFIX]", url);
        return -1;
    }
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *hend = h + hl, *colon = NULL;
    if (hl > 0 && h[0] == '[') {
        const char *rb = memchr(h, ']', hl);
        if (rb == NULL)
            goto bad;
        colon = rb + 1 < hend && rb[1] == ':' ? rb + 1 : NULL;
        snprintf(t->host, sizeof(t->host), "%.*s", (int)(rb - h - 1), h + 1);
    } else {
        colon = memchr(h, ':', hl);
        snprintf(t->host, sizeof(t->host), "%.*s", (int)((colon ? colon : hend) - h), h);
    }
    if (colon) {
        size_t pl = (size_t)(hend - colon - 1);
        if (pl == 0 || pl >= sizeof(t->port))
            goto bad;
        snprintf(t->port, sizeof(t->port), "%.*s", (int)pl, colon + 1);
    } else {
        snprintf(t->port, sizeof(t->port), "80");
    }
    if (t->host[0] == '\0')
        goto bad;
    /* OTLP/HTTP: the signal's path is appended to the base URL */
    size_t sl = slash ? strlen(slash) : 0;
    while (sl > 0 && slash[sl - 1] == '/')
        sl--;
    snprintf(t->path, sizeof(t->path), "%.*s/v1/traces", (int)sl, slash ? slash : "");
    return 0;
bad:
    snprintf(err, errlen, "tracing.endpoint \"%s\": expected http://HOST:PORT[/PREFIX]", url);
    return -1;
}

/* ---- the HTTP/1.1 client ---------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits for ev on fd until the deadline: 1 ready, 0 timed out or failed. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int rc = poll(&p, 1, (int)(deadline - now));
        if (rc > 0)
            return 1;
        if (rc == 0 || errno != EINTR)
            return 0;
    }
}

static int connect_to(tracer_t *t, uint64_t deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    /* resolved at each connect: off the request path, and a moved collector is found */
    if (getaddrinfo(t->host, t->port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
            int e = 0;
            socklen_t el = sizeof(e);
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0 ? 0 : -1;
        }
        if (rc != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n, uint64_t deadline)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w > 0) {
            c += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* The response as far as it has been read. */
typedef struct resp {
    char buf[8192];
    size_t len, off; /* bytes in buf; the parser's position */
} resp_t;

/* More bytes into r->buf (compacting what was parsed): >0 read, 0 EOF, -1 error/timeout. */
static ssize_t fill(int fd, resp_t *r, uint64_t deadline)
{
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->len == sizeof(r->buf))
        return -1; /* a header line longer than the buffer */
    for (;;) {
        ssize_t n = recv(fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
        if (n >= 0) {
            r->len += (size_t)n;
            return n;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_fd(fd, POLLIN, deadline))
            return -1;
    }
}

/* One CRLF-terminated line from r (NUL-terminated in place), or NULL. */
static char *line(int fd, resp_t *r, uint64_t deadline)
{
    for (;;) {
        char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        if (nl != NULL) {
            char *s = r->buf + r->off;
            r->off = (size_t)(nl - r->buf) + 1;
            if (nl > s && nl[-1] == '\r')
                nl--;
            *nl = '\0';
            return s;
        }
        if (fill(fd, r, deadline) <= 0)
            return NULL;
    }
}

/* Skips n body bytes: 0, or -1 when the connection ended first. */
static int skip(int fd, resp_t *r, uint64_t n, uint64_t deadline)
{
    for (;;) {
        size_t have = r->len - r->off;
        if (have >= n) {
            r->off += (size_t)n;
            return 0;
        }
        n -= have;
        r->off = r->len;
        if (fill(fd, r, deadline) <= 0)
            return -1;
    }
}

/* POSTs body: the HTTP status, or -1 when no answer came (the connection
 * is then closed). *reusable: the connection may carry the next one. */
static int http_post(tracer_t *t, int fd, const uint8_t *body, size_t len, uint64_t deadline, int *reusable)
{
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/x-protobuf\r\n"
                      "Content-Length: %zu\r\nUser-Agent: aurigraph-gateway/" AG_VERSION "\r\n\r\n",
                      t->path, t->host, t->port, len);
    *reusable = 0;
    if (hl <= 0 || (size_t)hl >= sizeof(head) || send_all(fd, head, (size_t)hl, deadline) != 0 ||
        send_all(fd, body, len, deadline) != 0)
        return -1;
    static resp_t r; /* the exporter thread's alone */
    r.len = r.off = 0;
    int status;
    for (;;) { /* 1xx answers come before the real one */
        char *sl = line(fd, &r, deadline);
        if (sl == NULL || strncmp(sl, "HTTP/1.", 7) != 0 || strlen(sl) < 12)
            return -1;
        status = atoi(sl + 9);
        int keep = sl[7] == '1';
        long long clen = -1;
        int chunked = 0;
        for (char *h; (h = line(fd, &r, deadline)) != NULL && *h != '\0';) {
            if (strncasecmp(h, "content-length:", 15) == 0)
                clen = atoll(h + 15);
            else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strcasestr(h + 18, "chunked") != NULL)
                chunked = 1;
            else if (strncasecmp(h, "connection:", 11) == 0)
                keep = strcasestr(h + 11, "close") == NULL && (keep || strcasestr(h + 11, "keep-alive") != NULL);
        }
        if (status >= 100 && status < 200)
            continue;
        if (chunked) {
            for (;;) {
                char *cl = line(fd, &r, deadline);
                if (cl == NULL)
                    return -1;
                unsigned long long n = strtoull(cl, NULL, 16);
                if (n == 0) {
                    /* trailers, then the empty line */
                    for (char *tr; (tr = line(fd, &r, deadline)) != NULL;)
                        if (*tr == '\0')
                            goto done;
                    return -1;
                }
                if (skip(fd, &r, n, deadline) != 0 || line(fd, &r, deadline) == NULL)
                    return -1;
            }
        } else if (clen >= 0) {
            if (skip(fd, &r, (uint64_t)clen, deadline) != 0)
                return -1;
        } else {
            /* to the close: read it out, and never reuse */
            while (fill(fd, &r, deadline) > 0)
                r.off = r.len;
            return status;
        }
    done:
        *reusable = keep && r.off == r.len;
        return status;
    }
}

/* ---- encoding ---------------------------------------------------------- */

static void attr_str(span_slot_t *s, const char *key, const char *v)
{
    size_t i = s->span.n_attributes++;
    s->val[i] = (any_t)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    s->val[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    s->val[i].string_value = (char *)v;
    s->kv[i] = (kv_t)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    s->kv[i].key = (char *)key;
    s->kv[i].value = &s->val[i];
}

static void attr_int(span_slot_t *s, const char *key, int64_t v)
{
    size_t i = s->span.n_attributes++;
    s->val[i] = (any_t)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    s->val[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    s->val[i].int_value = v;
    s->kv[i] = (kv_t)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    s->kv[i].key = (char *)key;
    s->kv[i].value = &s->val[i];
}

static void span_init(span_slot_t *s, const trace_record_t *r, const uint8_t *id, const uint8_t *parent, int kind,
                      uint64_t start, uint64_t end)
{
    s->span = (span_t)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    s->span.trace_id = (ProtobufCBinaryData){16, (uint8_t *)r->trace_id};
    s->span.span_id = (ProtobufCBinaryData){8, (uint8_t *)id};
    if (memcmp(parent, "\0\0\0\0\0\0\0\0", 8) != 0)
        s->span.parent_span_id = (ProtobufCBinaryData){8, (uint8_t *)parent};
    s->span.kind = kind;
    s->span.start_time_unix_nano = start;
    s->span.end_time_unix_nano = end;
    memcpy(s->state, r->state, r->state_len);
    s->state[r->state_len] = '\0';
    if (r->state_len)
        s->span.trace_state = s->state;
    for (size_t i = 0; i < MAX_ATTRS; i++)
        s->kvp[i] = &s->kv[i];
    s->span.attributes = s->kvp;
    s->status = (Opentelemetry__Proto__Trace__V1__Status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
}

/* dst = a then b (either may be NULL), cut to fit cap with its NUL: the
 * per-span strings, without printf's cost for each */
static void join(char *dst, size_t cap, const char *a, size_t alen, const char *b)
{
    size_t n = 0;
    if (a != NULL) {
        n = alen < cap - 1 ? alen : cap - 1;
        memcpy(dst, a, n);
    }
    if (b != NULL) {
        size_t bl = strlen(b);
        if (bl > cap - 1 - n)
            bl = cap - 1 - n;
        memcpy(dst + n, b, bl);
        n += bl;
    }
    dst[n] = '\0';
}

/* "/pkg.Service/Method" -> rpc.service, rpc.method (semantic conventions) */
static void rpc_attrs(span_slot_t *s, const char *rpc_path)
{
    const char *slash = rpc_path ? strrchr(rpc_path, '/') : NULL;
    if (slash == NULL || slash == rpc_path)
        return;
    join(s->rpc_service, sizeof(s->rpc_service), rpc_path + 1, (size_t)(slash - rpc_path - 1), NULL);
    join(s->rpc_method, sizeof(s->rpc_method), NULL, 0, slash + 1);
    attr_str(s, "rpc.system", "grpc");
    attr_str(s, "rpc.service", s->rpc_service);
    attr_str(s, "rpc.method", s->rpc_method);
}

static void version_attrs(span_slot_t *s, const trace_record_t *r)
{
    if (r->cluster)
        attr_str(s, "aurigraph.upstream.cluster", r->cluster);
    if (r->version)
        attr_str(s, "aurigraph.upstream.version", r->version);
}

/* gRPC codes that make a server span an error (semantic conventions:
 * UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS). */
static int grpc_server_error(int code)
{
    return code == 2 || code == 4 || code == 12 || code == 13 || code == 14 || code == 15;
}

static void set_error(span_slot_t *s)
{
    s->status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    s->span.status = &s->status;
}

static void server_span(span_slot_t *s, const trace_record_t *r)
{
    span_init(s, r, r->server_id, r->parent_id, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER,
              r->start_ns, r->end_ns);
    memcpy(s->method, r->method, r->method_len);
    s->method[r->method_len] = '\0';
    memcpy(s->host, r->host, r->host_len);
    s->host[r->host_len] = '\0';
    memcpy(s->path, r->path, r->path_len);
    s->path[r->path_len] = '\0';
    if (r->door == TRACE_DOOR_GRPC) {
        const char *rp = r->rpc_path ? r->rpc_path : s->path;
        join(s->name, sizeof(s->name), NULL, 0, rp + (rp[0] == '/'));
        rpc_attrs(s, rp);
        if (r->grpc_code >= 0)
            attr_int(s, "rpc.grpc.status_code", r->grpc_code);
        if (grpc_server_error(r->grpc_code))
            set_error(s);
    } else {
        /* HTTP: "{method} {http.route}", or the method alone without a route (low cardinality) */
        join(s->name, sizeof(s->name), s->method, r->method_len, r->route ? " " : NULL);
        if (r->route) {
            size_t l = strlen(s->name);
            join(s->name + l, sizeof(s->name) - l, NULL, 0, r->route);
        }
        attr_str(s, "http.request.method", s->method);
        attr_str(s, "url.path", s->path);
        attr_str(s, "url.scheme", "http");
        if (r->route)
            attr_str(s, "http.route", r->route);
        if (r->http_status > 0)
            attr_int(s, "http.response.status_code", r->http_status);
        if (r->door == TRACE_DOOR_GRPC_WEB) {
            rpc_attrs(s, r->rpc_path);
            if (r->grpc_code >= 0)
                attr_int(s, "rpc.grpc.status_code", r->grpc_code);
        }
        if (r->http_status >= 500)
            set_error(s);
    }
    if (r->host_len)
        attr_str(s, "server.address", s->host);
    version_attrs(s, r);
    s->span.name = s->name;
}

static void client_span(span_slot_t *s, const trace_record_t *r)
{
    span_init(s, r, r->client_id, r->server_id, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT,
              r->call_start_ns, r->call_end_ns);
    memcpy(s->path, r->path, r->path_len);
    s->path[r->path_len] = '\0';
    /* the method called: the route's, or on the gRPC listener the request's own path */
    const char *rp = r->rpc_path ? r->rpc_path : r->door == TRACE_DOOR_GRPC ? s->path : "/grpc";
    join(s->name, sizeof(s->name), NULL, 0, rp + (rp[0] == '/'));
    s->span.name = s->name;
    rpc_attrs(s, rp);
    if (r->up_code >= 0)
        attr_int(s, "rpc.grpc.status_code", r->up_code);
    if (r->up_host) {
        attr_str(s, "server.address", r->up_host);
        attr_int(s, "server.port", r->up_port);
    }
    version_attrs(s, r);
    if (r->up_code > 0) /* a client span errs on any status but OK */
        set_error(s);
}

/* ---- the loop ---------------------------------------------------------- */

static uint64_t waiting(tracer_t *t)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < t->nworkers; i++)
        n += atomic_load_explicit(&t->rings[i].head, memory_order_acquire) -
             atomic_load_explicit(&t->rings[i].tail, memory_order_relaxed);
    return n;
}

/* protobuf's varint and a length-delimited field's key and length */
static size_t varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t field_len(uint8_t *p, unsigned field, size_t len)
{
    p[0] = (uint8_t)(field << 3 | 2);
    return 1 + varint(p + 1, len);
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 65536;
    while (c < need)
        c *= 2;
    uint8_t *b = realloc(*buf, c);
    if (b == NULL)
        return -1;
    *buf = b;
    *cap = c;
    return 0;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* An attribute's AnyValue: string_value (1) or int_value (3). */
static size_t any_len(const any_t *v, size_t *slen)
{
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
        return 1 + varint_len((uint64_t)v->int_value);
    *slen = strlen(v->string_value);
    return 1 + varint_len(*slen) + *slen;
}

/* Span.attributes (9), written here: see take_batch. */
static size_t attrs_len(const span_slot_t *s)
{
    size_t total = 0;
    for (size_t i = 0; i < s->nattrs; i++) {
        size_t kl = strlen(s->kv[i].key), sl = 0, al = any_len(&s->val[i], &sl);
        size_t kvl = 1 + varint_len(kl) + kl + 1 + varint_len(al) + al;
        total += 1 + varint_len(kvl) + kvl;
    }
    return total;
}

static size_t put_attrs(uint8_t *p, const span_slot_t *s)
{
    uint8_t *start = p;
    for (size_t i = 0; i < s->nattrs; i++) {
        const any_t *v = &s->val[i];
        size_t kl = strlen(s->kv[i].key), sl = 0, al = any_len(v, &sl);
        size_t kvl = 1 + varint_len(kl) + kl + 1 + varint_len(al) + al;
        p += field_len(p, 9, kvl);
        p += field_len(p, 1, kl); /* KeyValue.key */
        memcpy(p, s->kv[i].key, kl), p += kl;
        p += field_len(p, 2, al); /* KeyValue.value */
        if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE) {
            *p++ = 3 << 3; /* AnyValue.int_value, varint */
            p += varint(p, (uint64_t)v->int_value);
        } else {
            p += field_len(p, 1, sl); /* AnyValue.string_value */
            memcpy(p, v->string_value, sl), p += sl;
        }
    }
    return (size_t)(p - start);
}

/*
 * Encodes up to batch_size records into t->body and gives their slots back:
 * the number of spans, with *len.
 *
 * Each Span is packed by protobuf-c (generated from proto/opentelemetry);
 * the three messages around them (ExportTraceServiceRequest ->
 * ResourceSpans -> ScopeSpans) are written here, their resource and scope
 * packed once at start, and so are a span's attributes (KeyValue ->
 * AnyValue, appended after the rest of the Span: protobuf's fields may come
 * in any order). protobuf-c sizes every submessage again at each level it
 * packs (it keeps no cached sizes) and walks every field's descriptor:
 * packing the whole request at once cost ~15,000 instructions per span,
 * most of them in the ten attributes (bench/RESULTS.md section 20).
 */
static size_t take_batch(tracer_t *t, size_t *len)
{
    size_t nspans = 0, nrec = 0, off = 0;
    int oom = 0;
    uint64_t took[t->nworkers];
    for (unsigned i = 0; i < t->nworkers; i++) {
        trace_ring_t *ring = &t->rings[i];
        uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
        took[i] = tail;
        for (; tail < head && nrec < t->cfg.batch_size; tail++, nrec++) {
            const trace_record_t *r = &ring->slots[tail & ring->mask];
            span_slot_t *sl = &t->slots[0];
            for (int k = 0; k < 1 + r->called; k++) {
                if (k == 0)
                    server_span(sl, r);
                else
                    client_span(sl, r);
                sl->nattrs = sl->span.n_attributes;
                sl->span.n_attributes = 0; /* put_attrs writes them */
                size_t pb = opentelemetry__proto__trace__v1__span__get_packed_size(&sl->span);
                size_t n = pb + attrs_len(sl);
                if (oom || reserve(&t->spans, &t->spans_cap, off + 11 + n) != 0) {
                    oom = 1;
                    continue;
                }
                off += field_len(t->spans + off, 2, n); /* ScopeSpans.spans = 2 */
                off += opentelemetry__proto__trace__v1__span__pack(&sl->span, t->spans + off);
                off += put_attrs(t->spans + off, sl);
                nspans++;
            }
        }
        took[i] = tail - took[i];
    }
    /* the records are encoded (or lost to memory): the slots go back */
    for (unsigned i = 0; i < t->nworkers; i++)
        if (took[i])
            atomic_store_explicit(&t->rings[i].tail,
                                  atomic_load_explicit(&t->rings[i].tail, memory_order_relaxed) + took[i],
                                  memory_order_release);
    *len = 0;
    if (oom) {
        atomic_fetch_add(&t->dropped_export, nspans + 1);
        return 0;
    }
    if (nspans == 0)
        return 0;
    uint8_t hdr[3][11];
    size_t ss_len = field_len(hdr[2], 1, t->scope_len) + t->scope_len + off; /* ScopeSpans.scope = 1 */
    size_t h2 = field_len(hdr[2], 2, ss_len);                                  /* ResourceSpans.scope_spans = 2 */
    size_t h1r = field_len(hdr[1], 1, t->resource_len);                        /* ResourceSpans.resource = 1 */
    size_t rs_len = h1r + t->resource_len + h2 + ss_len;
    size_t h0 = field_len(hdr[0], 1, rs_len); /* ExportTraceServiceRequest.resource_spans = 1 */
    uint8_t scope_key[11];
    size_t hs = field_len(scope_key, 1, t->scope_len);
    size_t total = h0 + rs_len;
    if (reserve(&t->body, &t->body_cap, total) != 0) {
        atomic_fetch_add(&t->dropped_export, nspans);
        return 0;
    }
    uint8_t *p = t->body;
    memcpy(p, hdr[0], h0), p += h0;
    memcpy(p, hdr[1], h1r), p += h1r;
    memcpy(p, t->resource, t->resource_len), p += t->resource_len;
    memcpy(p, hdr[2], h2), p += h2;
    memcpy(p, scope_key, hs), p += hs;
    memcpy(p, t->scope, t->scope_len), p += t->scope_len;
    memcpy(p, t->spans, off), p += off;
    *len = (size_t)(p - t->body);
    return nspans;
}

/* One export: 1 accepted, 0 refused for good (a 4xx: the same data would be
 * refused again), -1 worth retrying later (no answer, 429, 5xx). */
static int export_once(tracer_t *t, const uint8_t *body, size_t len)
{
    uint64_t deadline = now_ms() + t->cfg.export_timeout_ms;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = t->fd < 0;
        if (fresh && (t->fd = connect_to(t, deadline)) < 0)
            return -1;
        int reusable = 0;
        int status = http_post(t, t->fd, body, len, deadline, &reusable);
        if (status < 0 || !reusable) {
            close(t->fd);
            t->fd = -1;
        }
        if (status < 0 && !fresh && now_ms() < deadline)
            continue; /* a kept connection the collector had closed: once more on a new one */
        if (status >= 200 && status < 300)
            return 1;
        if (status == 429 || status >= 500 || status < 0)
            return -1;
        return 0;
    }
    return -1;
}

static void *exporter_main(void *arg)
{
    tracer_t *t = arg;
    uint64_t last = now_ms(), retry_at = 0, backoff = BACKOFF_MIN_MS;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        if (!t->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += POLL_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&t->cv, &t->mu, &until);
        }
        int stop = t->stop;
        pthread_mutex_unlock(&t->mu);
        uint64_t now = now_ms();
        if (!stop && now < retry_at)
            continue;
        uint64_t n = waiting(t);
        if (n == 0 || (!stop && n < t->cfg.batch_size && now - last < t->cfg.interval_ms)) {
            if (stop)
                break;
            continue;
        }
        last = now;
        size_t len;
        size_t nspans = take_batch(t, &len);
        if (nspans == 0)
            continue;
        int rc = export_once(t, t->body, len);
        if (rc == 1) {
            atomic_fetch_add(&t->exported, nspans);
            atomic_fetch_add(&t->exports_ok, 1);
            backoff = BACKOFF_MIN_MS;
            retry_at = 0;
        } else {
            atomic_fetch_add(&t->dropped_export, nspans);
            atomic_fetch_add(&t->exports_failed, 1);
            if (rc < 0) {
                retry_at = now_ms() + backoff;
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                if (stop)
                    break; /* at shutdown one try is all the collector gets */
            }
        }
    }
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

tracer_t *tracer_new(const config_tracing_t *cfg, unsigned nworkers, char *err, size_t errlen)
{
    tracer_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = *cfg;
    t->cfg.endpoint = NULL; /* the config's strings stay the config's */
    t->cfg.service_name = NULL;
    t->fd = -1;
    t->nworkers = nworkers;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (parse_endpoint(t, cfg->endpoint, err, errlen) != 0) {
        tracer_free(t);
        return NULL;
    }
    t->rings = calloc(nworkers, sizeof(*t->rings));
    t->slots = calloc(1, sizeof(*t->slots));
    if (t->rings == NULL || t->slots == NULL)
        goto oom;
    for (unsigned i = 0; i < nworkers; i++) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
            seed = rng_seed_clock(i + 1);
        if (trace_ring_init(&t->rings[i], cfg->queue_size, cfg->sample, cfg->propagate_unsampled, seed) != 0)
            goto oom;
    }
    /* service.instance.id: a random UUID (v4), new at each start, as the
     * semantic conventions suggest for a process */
    uint8_t u[16];
    if (getrandom(u, sizeof(u), 0) != sizeof(u)) {
        uint64_t s = rng_seed_clock(0x5eed);
        for (int i = 0; i < 16; i++)
            u[i] = (uint8_t)rng_next(&s);
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(t->instance_id, sizeof(t->instance_id),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
             u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    static const char *const keys[3] = {"service.name", "service.version", "service.instance.id"};
    const char *vals[3] = {cfg->service_name ? cfg->service_name : "aurigraph-gateway", AG_VERSION, t->instance_id};
    for (int i = 0; i < 3; i++) {
        t->res_val[i] = (any_t)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        t->res_val[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        t->res_val[i].string_value = i == 0 ? strdup(vals[0]) : (char *)vals[i];
        t->res_kv[i] = (kv_t)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        t->res_kv[i].key = (char *)keys[i];
        t->res_kv[i].value = &t->res_val[i];
        t->res_kvp[i] = &t->res_kv[i];
    }
    if (t->res_val[0].string_value == NULL)
        goto oom;
    Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 3;
    res.attributes = t->res_kvp;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = "aurigraph-gateway";
    scope.version = AG_VERSION;
    t->resource_len = opentelemetry__proto__resource__v1__resource__get_packed_size(&res);
    t->scope_len = opentelemetry__proto__common__v1__instrumentation_scope__get_packed_size(&scope);
    t->resource = malloc(t->resource_len ? t->resource_len : 1);
    t->scope = malloc(t->scope_len ? t->scope_len : 1);
    if (t->resource == NULL || t->scope == NULL)
        goto oom;
    opentelemetry__proto__resource__v1__resource__pack(&res, t->resource);
    opentelemetry__proto__common__v1__instrumentation_scope__pack(&scope, t->scope);
    return t;
oom:
    snprintf(err, errlen, "out of memory for the trace queues");
    tracer_free(t);
    return NULL;
}

int tracer_start(tracer_t *t, char *err, size_t errlen)
{
    if (pthread_create(&t->thread, NULL, exporter_main, t) != 0) {
        snprintf(err, errlen, "cannot start the trace exporter thread");
        return -1;
    }
    t->started = 1;
    return 0;
}

void tracer_stop(tracer_t *t)
{
    if (t == NULL || !t->started)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->started = 0;
}

void tracer_free(tracer_t *t)
{
    if (t == NULL)
        return;
    tracer_stop(t);
    if (t->fd >= 0)
        close(t->fd);
    for (unsigned i = 0; t->rings && i < t->nworkers; i++)
        trace_ring_dispose(&t->rings[i]);
    free(t->rings);
    free(t->slots);
    free(t->body);
    free(t->spans);
    free(t->resource);
    free(t->scope);
    free(t->res_val[0].string_value);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

trace_ring_t *tracer_ring(tracer_t *t, unsigned w)
{
    return t && w < t->nworkers ? &t->rings[w] : NULL;
}

void tracer_stats(const tracer_t *t, tracer_stats_t *out)
{
    *out = (tracer_stats_t){0};
    if (t == NULL)
        return;
    tracer_t *m = (tracer_t *)t;
    out->spans_exported = atomic_load(&m->exported);
    out->spans_dropped_export = atomic_load(&m->dropped_export);
    out->exports_ok = atomic_load(&m->exports_ok);
    out->exports_failed = atomic_load(&m->exports_failed);
    for (unsigned i = 0; i < t->nworkers; i++)
        out->spans_dropped_queue += atomic_load_explicit(&m->rings[i].dropped, memory_order_relaxed);
}
