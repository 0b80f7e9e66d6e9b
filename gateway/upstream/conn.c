/*
 * conn.c: connections to targets (the connection state machine of
 * upstream_int.h): connect, the HTTP/2 handshake, reading into nghttp2 and
 * writing what it produces (one write in flight per socket), keepalive
 * PINGs, and the one way to close; and the backoff of a target whose
 * connects fail.
 *
 * The process must ignore SIGPIPE (as every h2o process does): h2o writes
 * with writev(), and a peer that closed would otherwise raise it.
 */
#include "upstream/upstream_int.h"
#include "core/rng.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>

/* ---- connections ------------------------------------------------------- */

void up_conn_arm_keepalive(conn_t *conn, uint64_t from)
{
    upstream_cluster_t *c = conn->cluster;
    if (c->cfg.keepalive_interval_ms != 0)
        up_timer_arm(c, &conn->keepalive_timer, from + c->cfg.keepalive_interval_ms);
}

static void on_keepalive(timer_heap_timer_t *t)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, keepalive_timer, t);
    upstream_cluster_t *c = conn->cluster;
    uint64_t now = now_ms(c);
    if (conn->ping_outstanding)
        return;
    /* not re-armed per frame received (that is the hot path): checked here instead */
    if (now - conn->last_recv_at < c->cfg.keepalive_interval_ms) {
        up_conn_arm_keepalive(conn, conn->last_recv_at);
        return;
    }
    if (nghttp2_submit_ping(conn->io.ng, NGHTTP2_FLAG_NONE, NULL) != 0)
        return;
    conn->ping_outstanding = 1;
    up_timer_arm(c, &conn->ping_timer, now + c->cfg.keepalive_timeout_ms);
    up_schedule_pump(c);
}

static void on_ping_timeout(timer_heap_timer_t *t)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, ping_timer, t);
    char msg[96];
    snprintf(msg, sizeof(msg), "upstream keepalive PING not acknowledged within %u ms",
             conn->cluster->cfg.keepalive_timeout_ms);
    up_conn_close(conn, CODE_UNAVAILABLE, msg);
}

static void on_connect_timeout(timer_heap_timer_t *t)
{
    conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, connect_timer, t);
    up_conn_close(conn, CODE_UNAVAILABLE, "connect timed out");
}

/* HANDSHAKING -> READY: the peer's SETTINGS arrived, so it speaks HTTP/2 and we know its limits. */
void up_conn_ready(conn_t *conn)
{
    upstream_cluster_t *c = conn->cluster;
    conn->state = CONN_READY;
    up_timer_disarm(c, &conn->connect_timer);
    conn->target->failures = 0;
    conn->target->retry_at = 0;
    c->stats.connects++;
    up_conn_arm_keepalive(conn, now_ms(c));
}

/* READY/HANDSHAKING -> DRAINING: no new streams; the target gets a new connection when needed. */
void up_conn_drain(conn_t *conn)
{
    if (conn->state == CONN_DRAINING || conn->state == CONN_CLOSED)
        return;
    conn->state = CONN_DRAINING;
    if (conn->target->conn == conn)
        conn->target->conn = NULL;
}

static void on_write_done(h2o_socket_t *sock, const char *err);

/* Gathers everything nghttp2 has to say into one write; returns -1 on a fatal session error. */
int up_conn_flush(conn_t *conn)
{
    if (conn->state == CONN_CONNECTING || conn->state == CONN_CLOSED)
        return 0;
    return h2io_flush(&conn->io, on_write_done, conn->errmsg, sizeof(conn->errmsg));
}

/* After a flush: a session with nothing left to read or write is finished. */
void up_conn_check_done(conn_t *conn)
{
    if (conn->state == CONN_CONNECTING || conn->io.writing)
        return;
    if (conn->state == CONN_DRAINING && conn->nstreams == 0 && !nghttp2_session_want_write(conn->io.ng)) {
        /* drained without a GOAWAY (address retired, stream ids used up): nothing more will use it */
        up_conn_close(conn, CODE_UNAVAILABLE, "connection drained");
        return;
    }
    if (!h2io_finished(&conn->io))
        return;
    /* streams left mean nghttp2 tore the session down (it sent GOAWAY for a peer's protocol error) */
    char msg[160];
    snprintf(msg, sizeof(msg), "upstream HTTP/2 protocol error: %s",
             conn->errmsg[0] ? conn->errmsg : "session terminated");
    up_conn_close(conn, CODE_INTERNAL, msg);
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;
    h2io_written(&conn->io);
    if (err != NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "upstream write failed: %s", err);
        up_conn_close(conn, CODE_UNAVAILABLE, msg);
        return;
    }
    if (nghttp2_session_want_write(conn->io.ng)) {
        if (up_conn_flush(conn) != 0) {
            up_conn_close(conn, CODE_INTERNAL, conn->errmsg);
            return;
        }
    }
    up_conn_check_done(conn);
}

static void on_sock_read(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;
    upstream_cluster_t *c = conn->cluster;
    if (err != NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "upstream connection %s", err == h2o_socket_error_closed ? "closed by peer" : err);
        up_conn_close(conn, CODE_UNAVAILABLE, msg);
        return;
    }
    conn->last_recv_at = now_ms(c);
    ssize_t r = h2io_recv(&conn->io);
    if (r < 0) {
        char msg[192];
        snprintf(msg, sizeof(msg), "upstream HTTP/2 protocol error: %s",
                 conn->errmsg[0] ? conn->errmsg : nghttp2_strerror((int)r));
        /* send what nghttp2 queued (GOAWAY) before closing */
        up_conn_flush(conn);
        up_conn_close(conn,
                      conn->state == CONN_READY || conn->state == CONN_DRAINING ? CODE_INTERNAL : CODE_UNAVAILABLE, msg);
        return;
    }
    up_schedule_pump(c);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    conn_t *conn = sock->data;
    if (err != NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "connect failed: %s", err);
        up_conn_close(conn, CODE_UNAVAILABLE, msg);
        return;
    }
    conn->state = CONN_HANDSHAKING;
    conn->last_recv_at = now_ms(conn->cluster);
    h2o_socket_read_start(sock, on_sock_read);
    if (up_conn_flush(conn) != 0)
        up_conn_close(conn, CODE_INTERNAL, conn->errmsg);
}

/* A failed attempt at a target: back off, remember why. */
static void target_failed(target_t *t, const char *why)
{
    upstream_cluster_t *c = t->cluster;
    c->stats.connect_failures++;
    t->failures++;
    uint64_t delay = BACKOFF_MIN_MS;
    for (unsigned i = 1; i < t->failures && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    delay = delay * (80 + (uint32_t)(rng_next(&c->rnd) >> 32) % 41) / 100; /* +-20 %: targets restarted together are not hit together */
    t->retry_at = now_ms(c) + delay;
    if (t->naddrs != 0)
        t->next_addr = (t->next_addr + 1) % t->naddrs;
    snprintf(c->last_error, sizeof(c->last_error), "%s: %s (next attempt in %u ms)", t->authority, why,
             (unsigned)delay);
    up_report_connect_failure(t);
}

/* Starts a connection to a target; 0 when under way, -1 when it failed at once (target backs off). */
int up_conn_start(target_t *t)
{
    upstream_cluster_t *c = t->cluster;
    if (t->naddrs == 0) {
        target_failed(t, "no address");
        return -1;
    }
    conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        target_failed(t, "out of memory");
        return -1;
    }
    conn->cluster = c;
    conn->target = t;
    conn->state = CONN_CONNECTING;
    h2o_linklist_init_anchor(&conn->calls);
    conn->connect_timer = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, on_connect_timeout};
    conn->keepalive_timer = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, on_keepalive};
    conn->ping_timer = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, on_ping_timeout};
    size_t ai = t->next_addr % t->naddrs;
    memcpy(&conn->addr, &t->addrs[ai], t->addrlens[ai]);
    conn->addrlen = t->addrlens[ai];

    if (nghttp2_session_client_new3(&conn->io.ng, c->cbs, conn, c->opt, &c->mem) != 0) {
        free(conn);
        target_failed(t, "out of memory");
        return -1;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES},
    };
    if (nghttp2_submit_settings(conn->io.ng, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0])) != 0 ||
        nghttp2_session_set_local_window_size(conn->io.ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0 ||
        up_timer_arm(c, &conn->connect_timer, now_ms(c) + c->cfg.connect_timeout_ms) != 0) {
        up_timer_disarm(c, &conn->connect_timer);
        nghttp2_session_del(conn->io.ng);
        free(conn);
        target_failed(t, "out of memory");
        return -1;
    }
    conn->io.sock = h2o_socket_connect(c->loop, (struct sockaddr *)&conn->addr, conn->addrlen, on_connect);
    if (conn->io.sock == NULL) {
        char why[96];
        snprintf(why, sizeof(why), "connect failed: %s", strerror(errno));
        up_timer_disarm(c, &conn->connect_timer);
        nghttp2_session_del(conn->io.ng);
        free(conn);
        target_failed(t, why);
        return -1;
    }
    conn->io.sock->data = conn;
    /* h2o does not set it: without it Nagle holds a second call's frames
     * until the first is acknowledged, a delayed ACK away */
    int one = 1;
    setsockopt(h2o_socket_get_fd(conn->io.sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h2o_linklist_insert(&c->conns, &conn->link);
    t->conn = conn;
    return 0;
}

/*
 * The one way to CLOSED. Streams the peer provably did not process go back
 * to the front of the queue in their order; the others end with code/msg.
 * Never called from inside an nghttp2 callback.
 */
void up_conn_close(conn_t *conn, int code, const char *msg)
{
    upstream_cluster_t *c = conn->cluster;
    if (conn->state == CONN_CLOSED)
        return;
    conn_state_t prev = conn->state;
    conn->state = CONN_CLOSED;
    h2o_linklist_unlink(&conn->link);
    if (conn->target->conn == conn)
        conn->target->conn = NULL;
    up_timer_disarm(c, &conn->connect_timer);
    up_timer_disarm(c, &conn->keepalive_timer);
    up_timer_disarm(c, &conn->ping_timer);
    if (prev == CONN_CONNECTING || prev == CONN_HANDSHAKING)
        target_failed(conn->target, msg);
    if (conn->io.sock != NULL) {
        h2o_socket_close(conn->io.sock);
        conn->io.sock = NULL;
    }

    /* first detach everything (no callbacks), then tell users: their callbacks may cancel calls of this list */
    h2o_linklist_t failing;
    h2o_linklist_init_anchor(&failing);
    while (!h2o_linklist_is_empty(&conn->calls)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, conn->calls.next);
        h2o_linklist_unlink(&call->link);
        up_forget_stream(conn, call->stream_id);
        call->conn = NULL;
        if (up_retryable(conn, call, NGHTTP2_NO_ERROR)) {
            up_queue_retry(c, call);
        } else if (call->state == CALL_ACTIVE) {
            h2o_linklist_insert(&failing, &call->link);
        } else if (call->state == CALL_ENDING) {
            h2o_linklist_insert(&c->parked, &call->link);
        } else {
            up_call_try_release(call);
        }
    }
    conn->nstreams = 0;
    nghttp2_session_del(conn->io.ng);
    h2io_dispose(&conn->io);
    free(conn);

    while (!h2o_linklist_is_empty(&failing)) {
        upstream_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_call_t, link, failing.next);
        h2o_linklist_unlink(&call->link);
        up_call_completef(call, code, "%s", msg);
    }
    up_schedule_pump(c);
}

