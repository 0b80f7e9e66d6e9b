/*
 * upstream_stream_test: the streaming call API (upstream_call_open,
 * upstream_call_send, on_writable) against two servers.
 *
 * The scriptable nghttp2 server of upstream_harness.h has the streaming
 * methods a real gRPC server would: client-streaming (Collect answers, at
 * the end, what it saw: "<messages>/<payload bytes>:<m1>|<m2>|..."), bidi
 * (Chat echoes each message as soon as it is in), one that holds its
 * request window (Stall), and ones that end the call from the server's
 * side while the client is still sending (CancelAfterFirst, EarlyReply). It
 * cuts the request into messages itself and answers "bad framing" to a
 * stream that is not a clean sequence of them.
 *
 * aurigraph-services (gRPC C core) is the real server: it serves only unary
 * and server-streaming methods, so there the streaming send path is checked
 * with those: one message split across many FRAMED sends (splits inside the
 * prefix too), and a server stream opened with it. Its requests are made
 * from JSON by the gateway's own transcoder (the v11 profile, as the REST
 * API has them), so they follow the .protos as those change.
 */
#include "upstream_harness.h"
#include "transcode/json_to_pb.h"
#include "transcode/profile.h"

#include <libgen.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

/* Runs the loop until the call has closed or cap_ms passed. */
#define WAIT_CLOSED(r) RUN_UNTIL((r).closed, 5000)

static void test_client_streaming(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);

    /* messages sent before the stream exists, the end alone (an empty FRAMED send) */
    res_t a = {0};
    CHECK(open_call(c, &a, "Collect", NULL, 0, 2000, 0) != NULL);
    CHECK_INTEQ(send_str(&a, "a", 0), 0);
    CHECK_INTEQ(send_str(&a, "bb", 0), 0);
    CHECK_INTEQ(send_str(&a, "ccc", 0), 0);
    CHECK_INTEQ(upstream_call_send(a.call, NULL, 0, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), 0);
    CHECK_INTEQ(send_str(&a, "late", 0), -1); /* after the end */
    WAIT_CLOSED(a);
    CHECK_INTEQ(a.code, 0);
    CHECK_STREQ(a.msgs[0], "3/6:a|bb|ccc");
    CHECK_STREQ(a.events, "HMC");
    char buf[64];
    sstr_get(s, s->last_timeout, buf, sizeof(buf));
    CHECK(buf[0] != '\0' && buf[strlen(buf) - 1] == 'm');

    /* messages sent while the stream is open and waiting (nghttp2 deferred it), the last with the end */
    res_t b = {0};
    open_call(c, &b, "Collect", NULL, 0, 0, 1);
    run_for(30);
    CHECK_INTEQ(send_str(&b, "x", 0), 0);
    run_for(30);
    CHECK_INTEQ(send_str(&b, "", 0), 0); /* an empty message is a message */
    run_for(30);
    CHECK_INTEQ(send_str(&b, "yz", UPSTREAM_SEND_END), 0);
    WAIT_CLOSED(b);
    CHECK_INTEQ(b.code, 0);
    CHECK_STREQ(b.msgs[0], "3/3:x||yz");
    CHECK_INTEQ(b.nwritable, 3); /* each send was taken before the next */

    /* no message at all */
    res_t z = {0};
    open_call(c, &z, "Collect", NULL, 0, 0, 0);
    upstream_call_send(z.call, NULL, 0, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END);
    WAIT_CLOSED(z);
    CHECK_INTEQ(z.code, 0);
    CHECK_STREQ(z.msgs[0], "0/0:");

    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 1);
    CHECK_INTEQ(st.calls_failed, 0);
    CHECK_INTEQ(st.streams_active, 0);
    upstream_cluster_free(c);
}

/* gRPC framing the caller made, cut anywhere. */
static size_t framed(uint8_t *out, const char *const *msgs, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(msgs[i]);
        out[o++] = 0;
        out[o++] = (uint8_t)(l >> 24);
        out[o++] = (uint8_t)(l >> 16);
        out[o++] = (uint8_t)(l >> 8);
        out[o++] = (uint8_t)l;
        memcpy(out + o, msgs[i], l);
        o += l;
    }
    return o;
}

static void test_framed(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    static const char *const three[] = {"alpha", "", "gamma-gamma"};
    uint8_t f[64];
    size_t flen = framed(f, three, 3);

    /* pieces of 1, 2, 3... bytes: most cuts land inside a prefix */
    res_t a = {0};
    open_call(c, &a, "Collect", NULL, 0, 0, 0);
    size_t off = 0, piece = 1;
    int ok = 1;
    while (off < flen) {
        size_t k = flen - off < piece ? flen - off : piece;
        unsigned end = off + k == flen ? UPSTREAM_SEND_END : 0;
        ok &= upstream_call_send(a.call, f + off, k, UPSTREAM_SEND_FRAMED | end) == 0;
        off += k;
        piece++;
    }
    CHECK(ok);
    WAIT_CLOSED(a);
    CHECK_INTEQ(a.code, 0);
    CHECK_STREQ(a.msgs[0], "3/16:alpha||gamma-gamma");

    /* one message cut at every point, each call on the same connection */
    static const char *const one[] = {"split-me"};
    size_t olen = framed(f, one, 1);
    int good = 0;
    for (size_t cut = 0; cut <= olen; cut++) {
        res_t r = {0};
        open_call(c, &r, "Collect", NULL, 0, 0, cut % 2);
        upstream_call_send(r.call, f, cut, UPSTREAM_SEND_FRAMED);
        run_for(cut % 3 == 0 ? 10 : 0);
        upstream_call_send(r.call, f + cut, olen - cut, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END);
        WAIT_CLOSED(r);
        good += r.code == 0 && strcmp(r.msgs[0], "1/8:split-me") == 0;
    }
    CHECK_INTEQ(good, (int)olen + 1);

    /* whole messages and FRAMED pieces mixed, on message boundaries */
    res_t m = {0};
    open_call(c, &m, "Collect", NULL, 0, 0, 0);
    send_str(&m, "w1", 0);
    upstream_call_send(m.call, f, 3, UPSTREAM_SEND_FRAMED);
    upstream_call_send(m.call, f + 3, olen - 3, UPSTREAM_SEND_FRAMED);
    send_str(&m, "w2", UPSTREAM_SEND_END);
    WAIT_CLOSED(m);
    CHECK_STREQ(m.msgs[0], "3/12:w1|split-me|w2");

    /* what would break the framing is refused, and the call goes on */
    res_t bad = {0};
    open_call(c, &bad, "Collect", NULL, 0, 0, 0);
    const uint8_t compressed[] = {1, 0, 0, 0, 1, 'x'}, prefix3[] = {0, 0, 0}, rest[] = {0, 2, 'h', 'i'};
    CHECK_INTEQ(upstream_call_send(bad.call, compressed, sizeof(compressed), UPSTREAM_SEND_FRAMED), -1);
    CHECK_INTEQ(upstream_call_send(bad.call, prefix3, sizeof(prefix3), UPSTREAM_SEND_FRAMED), 0);
    CHECK_INTEQ(send_str(&bad, "inside", 0), -1);
    CHECK_INTEQ(upstream_call_send(bad.call, rest, 1, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), -1);
    CHECK_INTEQ(upstream_call_send(bad.call, rest, sizeof(rest), UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), 0);
    WAIT_CLOSED(bad);
    CHECK_INTEQ(bad.code, 0);
    CHECK_STREQ(bad.msgs[0], "1/2:hi");
    CHECK_INTEQ(bad.closed, 1);
    upstream_cluster_free(c);
}

/* bidi: each message goes out only after the echo of the one before came back */
static int chat_sent;
static void chat_next(res_t *r)
{
    static const char *const lines[] = {"m1", "m2", "m3"};
    if (chat_sent < 3) {
        send_str(r, lines[chat_sent], chat_sent == 2 ? UPSTREAM_SEND_END : 0);
        chat_sent++;
    }
}

static void test_bidi(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t r = {0};
    r.after_message = chat_next;
    chat_sent = 0;
    open_call(c, &r, "Chat", NULL, 0, 5000, 1);
    chat_next(&r);
    WAIT_CLOSED(r);
    CHECK_INTEQ(r.code, 0);
    CHECK_INTEQ(r.nmsgs, 3);
    CHECK_STREQ(r.msgs[0], "echo:m1");
    CHECK_STREQ(r.msgs[1], "echo:m2");
    CHECK_STREQ(r.msgs[2], "echo:m3");
    CHECK_INTEQ(r.nwritable, 3);
    CHECK_STREQ(r.trailer, "t1");
    /* H after the first W: the server answers only once m1 is in */
    CHECK_STREQ(r.events, "WHMWMWMC");

    /* the client ends its side first and the responses keep coming: half-close */
    res_t h = {0};
    open_call(c, &h, "Chat", NULL, 0, 0, 0);
    send_str(&h, "a", 0);
    send_str(&h, "b", UPSTREAM_SEND_END);
    WAIT_CLOSED(h);
    CHECK_INTEQ(h.code, 0);
    CHECK_INTEQ(h.nmsgs, 2);
    CHECK_STREQ(h.msgs[1], "echo:b");
    upstream_cluster_free(c);
}

/* The sender's back-pressure: the upstream's window decides when on_writable comes. */
static void test_send_window(void)
{
    enum { WINDOW = 16384, BIG = 200000 };
    srv_t *s = srv_start((srv_cfg_t){.window = WINDOW});
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    uint8_t *big = malloc(BIG);
    memset(big, 'x', BIG);
    res_t r = {0};
    upstream_header_t md[] = {{"x-delay-ms", 10, "1000", 4}};
    open_call(c, &r, "Stall", md, 1, 5000, 1);
    CHECK_INTEQ(upstream_call_send(r.call, big, BIG, UPSTREAM_SEND_END), 0);
    RUN_UNTIL(atomic_load(&s->stall_seen) >= WINDOW, 800);
    run_for(50);
    /* the stream window is full: a window's worth has gone out, the buffer is still held */
    int seen = atomic_load(&s->stall_seen);
    if (seen != WINDOW)
        fprintf(stderr, "stalled stream received %d bytes\n", seen);
    CHECK_INTEQ(seen, WINDOW);
    CHECK_INTEQ(r.nwritable, 0);
    CHECK_INTEQ(r.closed, 0);
    /* the server takes it all once it returns the window: then the buffer is free, then the answer */
    WAIT_CLOSED(r);
    CHECK_INTEQ(r.code, 0);
    CHECK_INTEQ(r.nwritable, 1);
    CHECK_STREQ(r.events, "WHMC");
    char want[64];
    snprintf(want, sizeof(want), "1/%d:", BIG);
    CHECK(strncmp(r.msgs[0], want, strlen(want)) == 0);
    CHECK(r.closed_at - r.started >= 900);
    free(big);
    upstream_cluster_free(c);
    srv_stop(s);
}

static void test_cancel(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);

    /* the server cancels while the client streams: CANCELLED, later sends refused */
    res_t a = {0};
    open_call(c, &a, "CancelAfterFirst", NULL, 0, 0, 1);
    send_str(&a, "one", 0);
    WAIT_CLOSED(a);
    CHECK_INTEQ(a.code, 1);
    CHECK(strstr(a.msg, "CANCEL") != NULL);
    CHECK_INTEQ(a.closed, 1);

    /* the server answers before the request ended: the call is over, the client resets its side */
    int rst0 = atomic_load(&s->rst_received);
    res_t e = {0};
    open_call(c, &e, "EarlyReply", NULL, 0, 0, 0);
    send_str(&e, "one", 0);
    WAIT_CLOSED(e);
    CHECK_INTEQ(e.code, 0);
    CHECK_STREQ(e.msgs[0], "early");
    CHECK_STREQ(e.msg, "all good");
    RUN_UNTIL(atomic_load(&s->rst_received) > rst0, 2000);
    CHECK(atomic_load(&s->rst_received) > rst0);

    /* the client cancels mid-stream, after a reply: RST_STREAM upstream, no callback after */
    rst0 = atomic_load(&s->rst_received);
    res_t k = {0};
    k.cancel_at_msg = 1;
    open_call(c, &k, "Chat", NULL, 0, 0, 1);
    send_str(&k, "hello", 0);
    RUN_UNTIL(atomic_load(&s->rst_received) > rst0, 2000);
    run_for(30);
    CHECK(atomic_load(&s->rst_received) > rst0);
    CHECK_INTEQ(k.nmsgs, 1);
    CHECK_INTEQ(k.closed, 0);

    /* cancelled while queued sends were still waiting for the stream: nothing goes out */
    res_t q = {0};
    open_call(c, &q, "Collect", NULL, 0, 0, 1);
    send_str(&q, "never", 0);
    upstream_call_cancel(q.call);
    run_for(30);
    CHECK_INTEQ(q.nevents, 0);

    /* the upstream's deadline cuts a stream that is still sending */
    rst0 = atomic_load(&s->rst_received);
    res_t d = {0};
    open_call(c, &d, "Collect", NULL, 0, 100, 1);
    send_str(&d, "x", 0);
    WAIT_CLOSED(d);
    CHECK_INTEQ(d.code, 4);
    RUN_UNTIL(atomic_load(&s->rst_received) > rst0, 2000);
    CHECK(atomic_load(&s->rst_received) > rst0);

    /* the connection survived all of that */
    res_t ok = {0};
    start(c, &ok, "Echo", "still", NULL, 0, 1000);
    WAIT_CLOSED(ok);
    CHECK_INTEQ(ok.code, 0);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 1);
    CHECK_INTEQ(st.streams_active, 0);
    upstream_cluster_free(c);
}

/* A refused stream is retried only while every buffer it sent is still held. */
static void test_retry_needs_buffers(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    int req0 = atomic_load(&s->requests);
    res_t held = {0};
    open_call(c, &held, "Refuse", NULL, 0, 0, 0);
    send_str(&held, "x", UPSTREAM_SEND_END);
    WAIT_CLOSED(held);
    CHECK_INTEQ(held.code, 14);
    CHECK_INTEQ(atomic_load(&s->requests) - req0, 4); /* the first try and three transparent retries */

    req0 = atomic_load(&s->requests);
    res_t given = {0};
    open_call(c, &given, "Refuse", NULL, 0, 0, 1);
    send_str(&given, "x", UPSTREAM_SEND_END);
    WAIT_CLOSED(given);
    CHECK_INTEQ(given.code, 14);
    CHECK_INTEQ(given.nwritable, 1);
    CHECK_INTEQ(atomic_load(&s->requests) - req0, 1);
    upstream_cluster_free(c);
}

/* Calls waiting for a stream slot take sends too, and send them once they have one. */
static void test_queued(void)
{
    srv_t *s = srv_start((srv_cfg_t){.mcs = 1});
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t a = {0}, b = {0};
    open_call(c, &a, "Collect", NULL, 0, 0, 1);
    open_call(c, &b, "Collect", NULL, 0, 0, 1);
    send_str(&a, "a1", 0);
    send_str(&b, "b1", 0);
    run_for(50);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.streams_active, 1);
    CHECK_INTEQ(st.calls_queued, 1);
    CHECK_INTEQ(b.nwritable, 0); /* nothing of b has gone out */
    send_str(&b, "b2", UPSTREAM_SEND_END);
    send_str(&a, "a2", UPSTREAM_SEND_END);
    RUN_UNTIL(a.closed && b.closed, 5000);
    CHECK_INTEQ(a.code, 0);
    CHECK_INTEQ(b.code, 0);
    CHECK_STREQ(a.msgs[0], "2/4:a1|a2");
    CHECK_STREQ(b.msgs[0], "2/4:b1|b2");
    CHECK(b.closed_at >= a.closed_at);
    upstream_cluster_free(c);
    srv_stop(s);
}

/* ---- aurigraph-services ---------------------------------------------------- */

typedef struct services {
    pid_t pid;
    uint16_t port;
} services_t;

static int services_start(services_t *sv)
{
    char dir[512], bin[600];
    snprintf(dir, sizeof(dir), "%s", AG_V11_DESCRIPTORS);
    snprintf(bin, sizeof(bin), "%s/aurigraph-services", dirname(dir));
    if (access(bin, X_OK) != 0)
        return -1;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {bin, "--listen", "127.0.0.1:0", NULL};
    int rv = posix_spawn(&sv->pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rv != 0) {
        close(fds[0]);
        return -1;
    }
    /* "aurigraph-services listening on HOST:PORT", flushed, is the first line */
    char line[256];
    size_t n = 0;
    struct pollfd pf = {fds[0], POLLIN, 0};
    while (n < sizeof(line) - 1 && poll(&pf, 1, 5000) == 1) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(fds[0]);
    const char *colon = strrchr(line, ':');
    sv->port = colon && strstr(line, "listening on") ? (uint16_t)atoi(colon + 1) : 0;
    if (sv->port == 0) {
        kill(sv->pid, SIGTERM);
        waitpid(sv->pid, NULL, 0);
        return -1;
    }
    return 0;
}

static void services_stop(services_t *sv)
{
    kill(sv->pid, SIGTERM);
    waitpid(sv->pid, NULL, 0);
}

/* A request message of the v11 .protos from its REST JSON; 0 when it cannot be made. */
static size_t pb_from_json(const schema_t *schema, const char *type, const char *json, uint8_t *out, size_t cap)
{
    const schema_message_t *m = schema_find_message(schema, type, strlen(type));
    if (m == NULL)
        return 0;
    transcode_options_t o;
    transcode_options_default(&o);
    json_profile_apply(json_profile_find("v11"), &o);
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 64);
    status_t st = {0};
    size_t n = 0;
    if (transcode_json_to_pb(schema, m, json, strlen(json), &o, &b, &st, NULL) == 0 && b.len <= cap) {
        memcpy(out, b.data, b.len);
        n = b.len;
    } else {
        fprintf(stderr, "cannot encode %s: %s\n", type, st.message);
    }
    arena_free(&a);
    return n;
}

static upstream_call_t *open_real(upstream_cluster_t *c, res_t *r, const char *path, int with_writable)
{
    r->started = mono_ms();
    r->call = upstream_call_open(c, path, NULL, 0, 5000, &handlers, with_writable ? on_writable : NULL, r);
    return r->call;
}

static void test_real_server(void)
{
    services_t sv;
    if (services_start(&sv) != 0) {
        fprintf(stderr, "note: aurigraph-services did not start: the real-server checks did not run\n");
        CHECK(0);
        return;
    }
    char err[256];
    schema_t *schema = schema_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    CHECK(schema != NULL);
    if (schema == NULL) {
        services_stop(&sv);
        return;
    }
    upstream_cluster_t *c = cluster_for(sv.port, NULL);
    const char *propose = "/aurigraph.v11.ConsensusService/ProposeBlock";

    /* one message as FRAMED bytes, the prefix a byte a send, the payload in two */
    uint8_t msg[64], f[80];
    size_t ml = pb_from_json(schema, "aurigraph.v11.ProposeBlockRequest",
                             "{\"proposalId\":\"p-stream\",\"data\":\"block-data\"}", msg, sizeof(msg));
    CHECK(ml > 12);
    f[0] = 0;
    f[1] = f[2] = f[3] = 0;
    f[4] = (uint8_t)ml;
    memcpy(f + 5, msg, ml);
    res_t a = {0};
    open_real(c, &a, propose, 1);
    int ok = 1;
    for (int i = 0; i < 5; i++)
        ok &= upstream_call_send(a.call, f + i, 1, UPSTREAM_SEND_FRAMED) == 0;
    ok &= upstream_call_send(a.call, f + 5, 7, UPSTREAM_SEND_FRAMED) == 0;
    run_for(20); /* the stream waits for the rest: nghttp2 defers it, the next send resumes it */
    ok &= upstream_call_send(a.call, f + 12, 5 + ml - 12, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END) == 0;
    CHECK(ok);
    WAIT_CLOSED(a);
    CHECK_INTEQ(a.code, 0);
    CHECK_INTEQ(a.nmsgs, 1);
    CHECK(memmem(a.msgs[0], a.lens[0] < 63 ? a.lens[0] : 63, "PROPOSED", 8) != NULL);
    CHECK(memmem(a.msgs[0], a.lens[0] < 63 ? a.lens[0] : 63, "p-stream", 8) != NULL);

    /* the unary path (open + one message + end) and the same message sent whole */
    res_t u = {0};
    u.call = upstream_call_start(c, propose, msg, ml, NULL, 0, 5000, &handlers, &u);
    res_t w = {0};
    open_real(c, &w, propose, 0);
    upstream_call_send(w.call, msg, ml, UPSTREAM_SEND_END);
    RUN_UNTIL(u.closed && w.closed, 5000);
    CHECK_INTEQ(u.code, 0);
    CHECK_INTEQ(w.code, 0);
    CHECK_INTEQ(u.lens[0], w.lens[0]);

    /* two messages to a unary method: gRPC C core takes the first and answers; the second is
     * not an error there (it stops reading), so this checks only that the stream stays sound */
    res_t two = {0};
    open_real(c, &two, propose, 0);
    upstream_call_send(two.call, msg, ml, 0);
    upstream_call_send(two.call, msg, ml, UPSTREAM_SEND_END);
    WAIT_CLOSED(two);
    if (getenv("UPSTREAM_TEST_VERBOSE"))
        fprintf(stderr, "  two messages to a unary method: %d \"%s\"\n", two.code, two.msg);
    CHECK(two.closed == 1);

    /* a server stream opened with the streaming API: the replayed SUBMITTED event, then cancel */
    uint8_t tx[256];
    size_t tl = pb_from_json(schema, "aurigraph.v11.SubmitTransactionRequest",
                             "{\"userId\":\"stream-test-user\",\"fromAddress\":\"0xa1\",\"toAddress\":\"0xb2\","
                             "\"amount\":\"1.50\",\"transactionType\":\"TRANSFER\",\"gasLimit\":\"21000\","
                             "\"gasPrice\":\"0.000000025\"}",
                             tx, sizeof(tx));
    CHECK(tl > 0);
    res_t sub = {0};
    sub.call = upstream_call_start(c, "/aurigraph.v11.TransactionService/SubmitTransaction", tx, tl, NULL, 0, 5000,
                                   &handlers, &sub);
    WAIT_CLOSED(sub);
    CHECK_INTEQ(sub.code, 0);
    uint8_t filter[64];
    size_t fl = pb_from_json(schema, "aurigraph.v11.StreamTransactionEventsRequest",
                             "{\"userId\":\"stream-test-user\"}", filter, sizeof(filter));
    CHECK(fl > 0);
    res_t ev = {0};
    ev.cancel_at_msg = 1;
    open_real(c, &ev, "/aurigraph.v11.TransactionService/StreamTransactionEvents", 1);
    upstream_call_send(ev.call, filter, fl, UPSTREAM_SEND_END);
    RUN_UNTIL(ev.nmsgs >= 1, 5000);
    CHECK_INTEQ(ev.nmsgs, 1);
    CHECK(memmem(ev.msgs[0], ev.lens[0] < 63 ? ev.lens[0] : 63, "SUBMITTED", 9) != NULL);
    run_for(30);
    CHECK_INTEQ(ev.closed, 0);

    /* the connection carried all of it and is still good */
    res_t again = {0};
    again.call = upstream_call_start(c, propose, msg, ml, NULL, 0, 5000, &handlers, &again);
    WAIT_CLOSED(again);
    CHECK_INTEQ(again.code, 0);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 1);
    CHECK_INTEQ(st.streams_active, 0);
    upstream_cluster_free(c);
    schema_free(schema);
    services_stop(&sv);
}

/* A pass-through (on_frame): messages keep their flags both ways, and the
 * client's content-type and grpc-encoding travel; compressed sends need
 * grpc-encoding. */
typedef struct frames {
    int closed, code, n;
    uint8_t flags[8];
    char data[8][16];
} frames_t;

static void pt_on_frame(void *ctx, uint8_t flags, const uint8_t *d, size_t len)
{
    frames_t *f = ctx;
    if (f->n < 8) {
        f->flags[f->n] = flags;
        snprintf(f->data[f->n], sizeof(f->data[0]), "%.*s", (int)(len < 15 ? len : 15), (const char *)d);
    }
    f->n++;
}

static void pt_on_close(void *ctx, int code, const char *msg, size_t mlen, const upstream_header_t *t, size_t n)
{
    (void)msg, (void)mlen, (void)t, (void)n;
    frames_t *f = ctx;
    f->closed++;
    f->code = code;
}

static const upstream_handlers_t pt_handlers = {.on_close = pt_on_close, .on_frame = pt_on_frame};

static void test_passthrough(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    static const uint8_t two[] = {1, 0, 0, 0, 2, 'g', 'z', 0, 0, 0, 0, 1, 'p'};

    /* compressed and plain messages, as the client framed them, and back */
    const upstream_header_t md[] = {{"grpc-encoding", 13, "gzip", 4},
                                    {"content-type", 12, "application/grpc+proto", 22}};
    frames_t a = {0};
    upstream_call_t *call = upstream_call_open(c, "/test.Svc/EchoRaw", md, 2, 0, &pt_handlers, NULL, &a);
    CHECK(call != NULL);
    CHECK_INTEQ(upstream_call_send(call, two, 3, UPSTREAM_SEND_FRAMED), 0);
    CHECK_INTEQ(upstream_call_send(call, two + 3, sizeof(two) - 3, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), 0);
    RUN_UNTIL(a.closed, 5000);
    CHECK_INTEQ(a.code, 0);
    CHECK_INTEQ(a.n, 2);
    CHECK_INTEQ(a.flags[0], 1);
    CHECK_STREQ(a.data[0], "gz");
    CHECK_INTEQ(a.flags[1], 0);
    CHECK_STREQ(a.data[1], "p");
    char ct[64];
    sstr_get(s, s->last_ct, ct, sizeof(ct));
    CHECK_STREQ(ct, "application/grpc+proto"); /* the client's, not the default */

    /* a compressed response without on_frame still fails (nothing to decompress it) */
    res_t r = {0};
    start(c, &r, "Compressed", "x", NULL, 0, 0);
    WAIT_CLOSED(r);
    CHECK_INTEQ(r.code, 13);
    /* ... and with it, arrives flagged */
    frames_t b = {0};
    call = upstream_call_open(c, "/test.Svc/Compressed", NULL, 0, 0, &pt_handlers, NULL, &b);
    upstream_call_send(call, (const uint8_t *)"\0\0\0\0\0", 5, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END);
    RUN_UNTIL(b.closed, 5000);
    CHECK_INTEQ(b.code, 0);
    CHECK_INTEQ(b.n, 1);
    CHECK_INTEQ(b.flags[0], 1);
    CHECK_STREQ(b.data[0], "zz");
    CHECK_INTEQ(a.n, 2);

    /* without grpc-encoding, or with identity, a compressed send is refused */
    const upstream_header_t identity[] = {{"grpc-encoding", 13, "identity", 8}};
    for (int i = 0; i < 2; i++) {
        frames_t d = {0};
        call = upstream_call_open(c, "/test.Svc/EchoRaw", identity, (size_t)i, 0, &pt_handlers, NULL, &d);
        CHECK_INTEQ(upstream_call_send(call, two, sizeof(two), UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), -1);
        CHECK_INTEQ(upstream_call_send(call, two + 7, sizeof(two) - 7, UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), 0);
        RUN_UNTIL(d.closed, 5000);
        CHECK_INTEQ(d.code, 0);
        CHECK_INTEQ(d.n, 1);
        CHECK_STREQ(d.data[0], "p");
    }
    /* a flags byte other than 0 and 1 never passes */
    frames_t e = {0};
    call = upstream_call_open(c, "/test.Svc/EchoRaw", md, 1, 0, &pt_handlers, NULL, &e);
    static const uint8_t two_flag[] = {2, 0, 0, 0, 0};
    CHECK_INTEQ(upstream_call_send(call, two_flag, sizeof(two_flag), UPSTREAM_SEND_FRAMED | UPSTREAM_SEND_END), -1);
    upstream_call_cancel(call);
    upstream_cluster_free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    loop = h2o_evloop_create();
    srv_t *s = srv_start((srv_cfg_t){0});
    test_client_streaming(s);
    test_framed(s);
    test_bidi(s);
    test_cancel(s);
    test_retry_needs_buffers(s);
    test_passthrough(s);
    srv_stop(s);
    test_send_window();
    test_queued();
    test_real_server();
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    return test_summary();
}
