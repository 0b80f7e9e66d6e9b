/*
 * upstream.c: a cluster and what it runs for all its connections: the timers
 * (one heap, one h2o wake-up), dispatch (the pump: queued calls onto
 * streams, then one write per connection), name resolution, and the
 * cluster API of upstream.h.
 *
 * Name resolution: getaddrinfo runs on the loop thread, at
 * upstream_cluster_new and every resolve_interval_ms for names that are
 * not address literals. It blocks the worker for as long as the resolver
 * takes; acceptable for the names of a cluster (usually a local resolver
 * or /etc/hosts), and literal addresses never resolve at all. A failed
 * re-resolution keeps the previous addresses.
 */
#include "upstream/upstream_int.h"
#include "core/decimal.h"
#include "core/rng.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

/* ---- timers ------------------------------------------------------------ */

static void on_wake(h2o_timeout_entry_t *e)
{
    upstream_cluster_t *c = H2O_STRUCT_FROM_MEMBER(upstream_cluster_t, wake_entry, e);
    uint64_t now = now_ms(c);
    timer_heap_timer_t *t;
    while ((t = timer_heap_pop_due(&c->timers, now)) != NULL) {
        up_wake_update(c);
        t->cb(t);
    }
    up_wake_update(c);
}

/* ---- dispatch ---------------------------------------------------------- */

/* A READY connection with a free stream slot, round-robin over targets. */
static conn_t *pick_conn(upstream_cluster_t *c)
{
    /* first pass: targets that pass their health checks; second: any */
    for (int pass = c->cfg.target_ok ? 0 : 1; pass < 2; pass++) {
        for (size_t i = 0; i < c->ntargets; i++) {
            size_t ti = (c->rr + i) % c->ntargets;
            target_t *t = &c->targets[ti];
            conn_t *conn = t->conn;
            if (conn == NULL || conn->state != CONN_READY)
                continue;
            if (pass == 0 && !c->cfg.target_ok(c->cfg.target_ok_ctx, ti))
                continue;
            uint32_t max = nghttp2_session_get_remote_settings(conn->io.ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
            if (conn->nstreams >= max)
                continue;
            c->rr = (ti + 1) % c->ntargets;
            return conn;
        }
    }
    return NULL;
}

/* Starts connections to targets that have none and may be tried; returns whether any target has one. */
int up_ensure_connections(upstream_cluster_t *c)
{
    int any = 0;
    uint64_t now = now_ms(c);
    for (size_t i = 0; i < c->ntargets; i++) {
        target_t *t = &c->targets[i];
        if (t->conn == NULL && now >= t->retry_at)
            up_conn_start(t);
        if (t->conn != NULL)
            any = 1;
    }
    return any;
}

/* Metadata whose value is new on every call (ids, trace context): indexing
 * it in HPACK's dynamic table only evicts the entries that do repeat
 * (content-type, te, :authority...) and costs the encoder a table search
 * and an insertion per call. Returns the name's bit in conn->indexed_names,
 * or 0 for metadata that repeats. */
static unsigned unique_per_call(const upstream_header_t *m)
{
    static const char *const names[] = {"x-request-id", "traceparent", "tracestate"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name_is((const uint8_t *)m->name, m->name_len, names[i]))
            return 1u << i;
    return 0;
}

/* Such a header goes out indexed once per connection, so its name is in the
 * table: the later, unindexed ones refer to it instead of spelling (and
 * Huffman-coding) the name again. */
static uint8_t metadata_flags(conn_t *conn, const upstream_header_t *m)
{
    unsigned bit = unique_per_call(m);
    if (bit == 0)
        return NGHTTP2_NV_FLAG_NONE;
    if (!(conn->indexed_names & bit)) {
        conn->indexed_names |= bit;
        return NGHTTP2_NV_FLAG_NONE;
    }
    return NGHTTP2_NV_FLAG_NO_INDEX;
}

/* Protocol headers a user must not send as metadata: they would break the
 * request or HTTP/2. A pass-through (on_frame) relays its client's
 * content-type and compression (grpc-encoding, grpc-accept-encoding): the
 * messages it sends are the client's, as they came. */
static int reserved_header(const char *name, size_t len, int passthrough)
{
    if (len == 0 || name[0] == ':')
        return 1;
    static const char *const reserved[] = {"te",         "grpc-timeout", "connection",       "keep-alive",
                                           "upgrade",    "transfer-encoding", "proxy-connection", "host",
                                           "content-type", "grpc-encoding",     "grpc-accept-encoding"};
    size_t n = sizeof(reserved) / sizeof(reserved[0]) - (passthrough ? 3 : 0);
    for (size_t i = 0; i < n; i++)
        if (name_is((const uint8_t *)name, len, reserved[i]))
            return 1;
    return 0;
}

/* Whether metadata names a compression (grpc-encoding other than identity). */
int up_metadata_compressed(const upstream_header_t *md, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name_is((const uint8_t *)md[i].name, md[i].name_len, "grpc-encoding"))
            return !(md[i].value_len == 8 && memcmp(md[i].value, "identity", 8) == 0);
    return 0;
}

/* A pass-through's own content-type (application/grpc+proto...), or NULL. */
static const upstream_header_t *passthrough_content_type(const upstream_call_t *call)
{
    for (size_t i = 0; call->passthrough && i < call->nmd; i++)
        if (name_is((const uint8_t *)call->md[i].name, call->md[i].name_len, "content-type"))
            return &call->md[i];
    return NULL;
}

#define NV_STATIC(n, v)                                                                                                \
    (nghttp2_nv)                                                                                                       \
    {                                                                                                                  \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,                                                  \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                                               \
    }

static void *ng_malloc(size_t n, void *c) { return block_cache_alloc(&((upstream_cluster_t *)c)->blocks, n); }
static void ng_free(void *p, void *c) { block_cache_free(&((upstream_cluster_t *)c)->blocks, p); }
static void *ng_calloc(size_t k, size_t n, void *c) { return block_cache_calloc(&((upstream_cluster_t *)c)->blocks, k, n); }
static void *ng_realloc(void *p, size_t n, void *c) { return block_cache_realloc(&((upstream_cluster_t *)c)->blocks, p, n); }

static int call_submit(conn_t *conn, upstream_call_t *call)
{
    upstream_cluster_t *c = conn->cluster;
    if (grow((void **)&c->nva, &c->nvacap, 7 + call->nmd, sizeof(*c->nva)) != 0)
        return NGHTTP2_ERR_NOMEM;
    nghttp2_nv *nv = c->nva;
    size_t n = 0;
    nv[n++] = NV_STATIC(":method", "POST");
    nv[n++] = NV_STATIC(":scheme", "http");
    nv[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)call->path, 5, strlen(call->path),
                           NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nv[n++] = (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)conn->target->authority, 10,
                           strlen(conn->target->authority), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    const upstream_header_t *ct = passthrough_content_type(call);
    if (ct != NULL)
        nv[n++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)ct->value, 12, ct->value_len,
                               NGHTTP2_NV_FLAG_NO_COPY_NAME};
    else
        nv[n++] = NV_STATIC("content-type", "application/grpc");
    nv[n++] = NV_STATIC("te", "trailers");
    if (call->deadline_at != 0) {
        uint64_t now = now_ms(c);
        uint64_t left = call->deadline_at > now ? call->deadline_at - now : 1;
        /* gRPC allows at most 8 digits: the unit grows instead (and seconds stop at 8 digits, 3 years) */
        uint64_t secs = (left + 999) / 1000;
        char *end = left <= 99999999 ? decimal_write_u64(call->tmo, left)
                                     : decimal_write_u64(call->tmo, secs <= 99999999 ? secs : 99999999);
        *end++ = left <= 99999999 ? 'm' : 'S';
        call->tmo_len = (size_t)(end - call->tmo);
        nv[n++] = (nghttp2_nv){(uint8_t *)"grpc-timeout", (uint8_t *)call->tmo, 12, call->tmo_len,
                               NGHTTP2_NV_FLAG_NO_COPY_NAME};
    }
    for (size_t i = 0; i < call->nmd; i++) {
        const upstream_header_t *m = &call->md[i];
        if (reserved_header(m->name, m->name_len, call->passthrough) ||
            (ct != NULL && name_is((const uint8_t *)m->name, m->name_len, "content-type")))
            continue;
        nv[n++] = (nghttp2_nv){(uint8_t *)m->name, (uint8_t *)m->value, m->name_len, m->value_len,
                               metadata_flags(conn, m)};
    }
    nghttp2_data_provider dp = {.source.ptr = call, .read_callback = up_on_read_body};
    call->sq_cur = call->sq_off = 0;
    call->deferred = 0;
    int32_t id = nghttp2_submit_request(conn->io.ng, NULL, nv, n, &dp, call);
    if (id < 0)
        return id;
    call->state = CALL_ACTIVE;
    call->conn = conn;
    call->target = (int32_t)(conn->target - c->targets);
    call->stream_id = id;
    call->headers_sent = call->got_headers = call->block = 0;
    call->http_status = 0;
    call->grpc_status = -1;
    call->ct_ok = call->remote_ended = 0;
    call->rblen = call->rboff = call->unconsumed = 0;
    h2o_linklist_insert(&conn->calls, &call->link);
    conn->nstreams++;
    return 0;
}

static void fail_queued(upstream_cluster_t *c, int code, const char *msg)
{
    while (!h2o_linklist_is_empty(&c->queue)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, c->queue.next);
        up_call_completef(call, code, "%s", msg);
    }
}

/* Delivers what resumed calls have buffered, and the status of those that ended while paused. */
static void run_resumed(upstream_cluster_t *c)
{
    while (!h2o_linklist_is_empty(&c->resumed)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, rlink, c->resumed.next);
        h2o_linklist_unlink(&call->rlink);
        if (call->paused || (call->state != CALL_ACTIVE && call->state != CALL_ENDING))
            continue;
        call->in_cb++; /* keeps the struct while we look at it after callbacks */
        up_drain_buffered(call);
        if (call->state == CALL_ACTIVE && !call->paused && call->conn != NULL && call->unconsumed != 0) {
            nghttp2_session_consume_stream(call->conn->io.ng, call->stream_id, call->unconsumed);
            call->unconsumed = 0;
        } else if (call->state == CALL_ENDING && !call->paused) {
            up_call_finish_or_park(call); /* all delivered: the status it has kept */
        }
        call->in_cb--;
        up_call_try_release(call);
    }
}

/* Tells senders whose queue the last flushes took that their buffers are theirs again. */
static void run_writable(upstream_cluster_t *c)
{
    while (!h2o_linklist_is_empty(&c->writable)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, wlink, c->writable.next);
        h2o_linklist_unlink(&call->wlink);
        /* queued again (a retry), or more sent since: the next take brings it back */
        if ((call->state != CALL_ACTIVE && call->state != CALL_ENDING) || call->sq_cur != call->nsq)
            continue;
        call->nsq = call->sq_cur = call->sq_off = 0;
        call->released = 1;
        call->in_cb++;
        call->on_writable(call->ctx);
        call->in_cb--;
        up_call_try_release(call);
    }
}

static void pump(upstream_cluster_t *c)
{
    run_resumed(c);

    /* queued calls onto connections with room, in FIFO order */
    while (!h2o_linklist_is_empty(&c->queue)) {
        conn_t *conn = pick_conn(c);
        if (conn == NULL)
            break;
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, c->queue.next);
        h2o_linklist_unlink(&call->link);
        c->nqueued--;
        if (call_submit(conn, call) != 0) {
            /* e.g. stream ids exhausted: this connection is done taking streams */
            up_queue_push(c, call, c->queue.next);
            up_conn_drain(conn);
        }
    }
    if (!h2o_linklist_is_empty(&c->queue) && !up_ensure_connections(c)) {
        char msg[240];
        snprintf(msg, sizeof(msg), "no upstream connection available: %s", c->last_error);
        fail_queued(c, CODE_UNAVAILABLE, msg);
    }

    /* one write per connection */
    h2o_linklist_t *node, *next;
    for (node = c->conns.next; node != &c->conns; node = next) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        if (up_conn_flush(conn) != 0) {
            next = node->next;
            up_conn_close(conn, CODE_INTERNAL, conn->errmsg);
            continue;
        }
        next = node->next;
        up_conn_check_done(conn);
    }
    run_writable(c);
}

static void on_pump(h2o_timeout_entry_t *e)
{
    pump(H2O_STRUCT_FROM_MEMBER(upstream_cluster_t, pump_entry, e));
}

/* ---- name resolution --------------------------------------------------- */

static int target_resolve(target_t *t, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%u", (unsigned)t->port);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int rv = getaddrinfo(t->host, port, &hints, &res);
    if (rv == 0) {
        t->literal = 1;
    } else {
        hints.ai_flags = AI_NUMERICSERV;
        rv = getaddrinfo(t->host, port, &hints, &res);
    }
    if (rv != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rv));
        return -1;
    }
    size_t n = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next)
        if (ai->ai_addrlen <= sizeof(struct sockaddr_storage))
            n++;
    struct sockaddr_storage *addrs = n ? calloc(n, sizeof(*addrs)) : NULL;
    socklen_t *lens = n ? calloc(n, sizeof(*lens)) : NULL;
    if (n == 0 || addrs == NULL || lens == NULL) {
        free(addrs);
        free(lens);
        freeaddrinfo(res);
        snprintf(err, errlen, n == 0 ? "%s resolves to no address" : "out of memory resolving %s", t->host);
        return -1;
    }
    n = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
        lens[n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    free(t->addrs);
    free(t->addrlens);
    t->addrs = addrs;
    t->addrlens = lens;
    t->naddrs = n;
    t->next_addr %= n;
    return 0;
}

static int target_has_addr(const target_t *t, const struct sockaddr_storage *a, socklen_t len)
{
    for (size_t i = 0; i < t->naddrs; i++)
        if (t->addrlens[i] == len && memcmp(&t->addrs[i], a, len) == 0)
            return 1;
    return 0;
}

static void on_resolve(timer_heap_timer_t *tm)
{
    upstream_cluster_t *c = H2O_STRUCT_FROM_MEMBER(upstream_cluster_t, resolve_timer, tm);
    for (size_t i = 0; i < c->ntargets; i++) {
        target_t *t = &c->targets[i];
        char err[160];
        if (t->literal)
            continue;
        if (target_resolve(t, err, sizeof(err)) != 0) {
            snprintf(c->last_error, sizeof(c->last_error), "%.150s (keeping the previous addresses)", err);
            continue;
        }
        /* a connection to an address that went away drains: new streams go to a current address */
        if (t->conn != NULL && t->conn->state == CONN_READY && !target_has_addr(t, &t->conn->addr, t->conn->addrlen))
            up_conn_drain(t->conn);
    }
    up_timer_arm(c, &c->resolve_timer, now_ms(c) + c->cfg.resolve_interval_ms);
    up_schedule_pump(c);
}

/* ---- public API -------------------------------------------------------- */

upstream_cluster_t *upstream_cluster_new(h2o_loop_t *loop, const upstream_cluster_config_t *cfg, char *err,
                                         size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (cfg == NULL || cfg->ntargets == 0 || cfg->targets == NULL) {
        snprintf(err, errlen, "upstream cluster %s: no target", cfg && cfg->name ? cfg->name : "(unnamed)");
        return NULL;
    }
    upstream_cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = *cfg;
    c->name = strdup(cfg->name ? cfg->name : "upstream");
    c->cfg.name = c->name;
    c->cfg.targets = NULL;
    if (c->cfg.connect_timeout_ms == 0)
        c->cfg.connect_timeout_ms = 1000;
    if (c->cfg.keepalive_timeout_ms == 0)
        c->cfg.keepalive_timeout_ms = 5000;
    if (c->cfg.resolve_interval_ms == 0)
        c->cfg.resolve_interval_ms = 30000;
    if (c->cfg.max_queued == 0)
        c->cfg.max_queued = 10000;
    h2o_linklist_init_anchor(&c->conns);
    h2o_linklist_init_anchor(&c->queue);
    h2o_linklist_init_anchor(&c->parked);
    h2o_linklist_init_anchor(&c->resumed);
    h2o_linklist_init_anchor(&c->writable);
    h2o_timeout_init(loop, &c->wake_timeout, 0);
    h2o_timeout_init(loop, &c->pump_timeout, 0);
    c->wake_entry.cb = on_wake;
    c->pump_entry.cb = on_pump;
    c->resolve_timer = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, on_resolve};
    c->rnd = rng_seed_clock((uint64_t)(uintptr_t)c);
    block_cache_init(&c->blocks, 1024);
    c->mem = (nghttp2_mem){c, ng_malloc, ng_free, ng_calloc, ng_realloc};

    c->targets = calloc(cfg->ntargets, sizeof(*c->targets));
    int ok = c->name != NULL && c->targets != NULL && nghttp2_session_callbacks_new(&c->cbs) == 0 &&
             nghttp2_option_new(&c->opt) == 0;
    if (!ok)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; ok && i < cfg->ntargets; i++) {
        target_t *t = &c->targets[i];
        c->ntargets++;
        t->cluster = c;
        t->port = cfg->targets[i].port;
        t->host = strdup(cfg->targets[i].host ? cfg->targets[i].host : "");
        if (t->host == NULL) {
            snprintf(err, errlen, "out of memory");
            ok = 0;
            break;
        }
        int v6 = strchr(t->host, ':') != NULL;
        size_t alen = strlen(t->host) + 10;
        t->authority = malloc(alen);
        if (t->authority == NULL) {
            snprintf(err, errlen, "out of memory");
            ok = 0;
            break;
        }
        snprintf(t->authority, alen, v6 ? "[%s]:%u" : "%s:%u", t->host, (unsigned)t->port);
        char why[200];
        if (target_resolve(t, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "upstream cluster %s: %s", c->name, why);
            ok = 0;
        }
    }
    if (!ok) {
        upstream_cluster_free(c);
        return NULL;
    }

    up_session_callbacks_init(c->cbs);
    /* stream windows are returned as messages are delivered, so pause can hold a stream back */
    nghttp2_option_set_no_auto_window_update(c->opt, 1);
    nghttp2_option_set_max_reserved_remote_streams(c->opt, 0);

    for (size_t i = 0; i < c->ntargets; i++) {
        if (!c->targets[i].literal) {
            up_timer_arm(c, &c->resolve_timer, now_ms(c) + c->cfg.resolve_interval_ms);
            break;
        }
    }
    return c;
}

void upstream_cluster_free(upstream_cluster_t *c)
{
    if (c == NULL)
        return;
    /* calls first, while their connections still exist: each gets its on_close,
     * UNAVAILABLE: the gateway gave up on them (a drain that timed out), not
     * the client, and a retry elsewhere can succeed */
    c->freeing = 1;
    fail_queued(c, CODE_UNAVAILABLE, "upstream cluster shut down");
    while (!h2o_linklist_is_empty(&c->parked)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, c->parked.next);
        up_call_completef(call, CODE_UNAVAILABLE, "upstream cluster shut down");
    }
    h2o_linklist_t *node;
    for (node = c->conns.next; node != &c->conns; node = node->next) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        h2o_linklist_t *cn;
        /* completing does not unlink attached calls, so the walk is stable; callbacks can only queue */
        for (cn = conn->calls.next; cn != &conn->calls; cn = cn->next) {
            upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, cn);
            up_call_completef(call, CODE_UNAVAILABLE, "upstream cluster shut down");
        }
    }
    fail_queued(c, CODE_UNAVAILABLE, "upstream cluster shut down"); /* started from those callbacks */
    while (!h2o_linklist_is_empty(&c->conns))
        up_conn_close(H2O_STRUCT_FROM_MEMBER(conn_t, link, c->conns.next), CODE_UNAVAILABLE, "upstream cluster shut down");

    while (c->free_calls != NULL) {
        upstream_call_t *call = c->free_calls;
        c->free_calls = call->next_free;
        up_call_free_buffers(call);
        free(call);
    }
    up_timer_disarm(c, &c->resolve_timer);
    h2o_timeout_unlink(&c->wake_entry);
    h2o_timeout_unlink(&c->pump_entry);
    h2o_timeout_dispose(c->loop, &c->wake_timeout);
    h2o_timeout_dispose(c->loop, &c->pump_timeout);
    for (size_t i = 0; i < c->ntargets; i++) {
        free(c->targets[i].host);
        free(c->targets[i].authority);
        free(c->targets[i].addrs);
        free(c->targets[i].addrlens);
    }
    free(c->targets);
    timer_heap_dispose(&c->timers);
    free(c->nva);
    if (c->cbs != NULL)
        nghttp2_session_callbacks_del(c->cbs);
    nghttp2_option_del(c->opt);
    block_cache_dispose(&c->blocks); /* the sessions, which allocate from it, are gone */
    free(c->name);
    free(c);
}


void upstream_cluster_stats(const upstream_cluster_t *c, upstream_stats_t *out)
{
    *out = c->stats;
    out->connections_open = 0;
    out->streams_active = 0;
    const h2o_linklist_t *node;
    for (node = c->conns.next; node != &c->conns; node = node->next) {
        const conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        out->connections_open++;
        out->streams_active += conn->nstreams;
    }
    out->calls_queued = c->nqueued;
}

/* ---- outlier reports (cfg.target_result) -------------------------------- */

/* Whose fault a call's end was, as upstream.h's target_result says. */
void up_report_outcome(upstream_call_t *call, int code)
{
    upstream_cluster_t *c = call->cluster;
    if (c->freeing)
        return; /* the gateway gave up on the call, not the target */
    if (call->answered && call->target >= 0) {
        c->cfg.target_result(c->cfg.target_result_ctx, (size_t)call->target, code == CODE_UNAVAILABLE);
        return;
    }
    if (code != CODE_UNAVAILABLE && code != CODE_INTERNAL && code != CODE_UNKNOWN)
        return; /* a deadline, a local limit: nothing to say of the target */
    if (call->target >= 0) {
        c->cfg.target_result(c->cfg.target_result_ctx, (size_t)call->target, 1);
        return;
    }
    /* no stream ever carried it: the targets that left it without a
     * connection are those whose connects are failing */
    for (size_t i = 0; i < c->ntargets && code == CODE_UNAVAILABLE; i++)
        if (c->targets[i].conn == NULL && c->targets[i].failures > 0)
            c->cfg.target_result(c->cfg.target_result_ctx, i, 1);
}

void up_report_connect_failure(target_t *t)
{
    upstream_cluster_t *c = t->cluster;
    if (c->cfg.target_result != NULL && !c->freeing)
        c->cfg.target_result(c->cfg.target_result_ctx, (size_t)(t - c->targets), 1);
}
