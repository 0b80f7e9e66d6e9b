/*
 * upstream_test: the gRPC upstream client (unary and server-streaming calls,
 * connections, retries, deadlines, flow control on the receiving side)
 * against the scriptable server of upstream_harness.h. Every wait is
 * bounded: the loop runs until a condition holds or a cap passes.
 */
#include "upstream_harness.h"

/* ---- tests ---- */

static void test_new_errors(void)
{
    char err[256] = "";
    upstream_cluster_config_t cfg = {.name = "none", .targets = NULL, .ntargets = 0};
    CHECK(upstream_cluster_new(loop, &cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "no target") != NULL);
    upstream_target_t t = {"no-such-host.invalid", 80};
    cfg.targets = &t;
    cfg.ntargets = 1;
    err[0] = '\0';
    CHECK(upstream_cluster_new(loop, &cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "no-such-host.invalid") != NULL);
}

static void test_unary(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t r = {0};
    upstream_header_t md[] = {{"x-echo", 6, "abc", 3}, {"te", 2, "bogus", 5} /* reserved: dropped */};
    CHECK(start(c, &r, "Echo", "hello", md, 2, 2000) != NULL);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.closed, 1);
    CHECK_INTEQ(r.code, 0);
    CHECK_STREQ(r.msg, "all good");
    CHECK_INTEQ(r.nmsgs, 1);
    CHECK_STREQ(r.msgs[0], "hello");
    CHECK_STREQ(r.echo, "abc");
    CHECK_STREQ(r.trailer, "t1");
    CHECK_STREQ(r.events, "HMC");
    char buf[64], want[64];
    sstr_get(s, s->last_authority, buf, sizeof(buf));
    snprintf(want, sizeof(want), "127.0.0.1:%u", s->port);
    CHECK_STREQ(buf, want);
    sstr_get(s, s->last_te, buf, sizeof(buf));
    CHECK_STREQ(buf, "trailers");
    sstr_get(s, s->last_ct, buf, sizeof(buf));
    CHECK_STREQ(buf, "application/grpc");
    sstr_get(s, s->last_timeout, buf, sizeof(buf));
    size_t bl = strlen(buf);
    CHECK(bl >= 2 && buf[bl - 1] == 'm' && atoi(buf) > 1000 && atoi(buf) <= 2000);

    /* a second call reuses the connection; an empty message works */
    res_t r2 = {0};
    start(c, &r2, "Echo", "", NULL, 0, 0);
    RUN_UNTIL(r2.closed, 5000);
    CHECK_INTEQ(r2.code, 0);
    CHECK_INTEQ(r2.nmsgs, 1);
    CHECK_INTEQ(r2.lens[0], 0);

    /* a deadline over 8 digits of milliseconds goes out in seconds (gRPC allows 8 digits) */
    res_t r3 = {0};
    start(c, &r3, "Echo", "x", NULL, 0, 123456789);
    RUN_UNTIL(r3.closed, 5000);
    CHECK_INTEQ(r3.code, 0);
    sstr_get(s, s->last_timeout, buf, sizeof(buf));
    CHECK(strcmp(buf, "123457S") == 0 || strcmp(buf, "123456S") == 0);

    /* a request id on every call: the first goes out indexed (its name
     * enters the HPACK table), the later ones unindexed by that name */
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "req-%d", i);
        upstream_header_t rid[] = {{"x-request-id", 12, id, strlen(id)}};
        res_t ri = {0};
        start(c, &ri, "Echo", "y", rid, 1, 0);
        RUN_UNTIL(ri.closed, 5000);
        CHECK_INTEQ(ri.code, 0);
        sstr_get(s, s->last_reqid, buf, sizeof(buf));
        CHECK_STREQ(buf, id);
    }

    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 1);
    CHECK_INTEQ(st.calls_started, 6);
    CHECK_INTEQ(st.calls_failed, 0);
    CHECK_INTEQ(st.connections_open, 1);
    CHECK_INTEQ(st.streams_active, 0);
    CHECK_INTEQ(atomic_load(&s->accepted), 1);
    upstream_cluster_free(c);
}

static void test_multiplex(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    enum { N = 50 };
    static res_t r[N];
    static char msgs[N][16];
    memset(r, 0, sizeof(r));
    int before = atomic_load(&s->accepted);
    for (int i = 0; i < N; i++) {
        snprintf(msgs[i], sizeof(msgs[i]), "msg-%d", i);
        start(c, &r[i], "Echo", msgs[i], NULL, 0, 0);
    }
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.calls_queued, N);
    int done = 0;
    uint64_t until = mono_ms() + 5000;
    while (done < N && mono_ms() < until) {
        h2o_evloop_run(loop, 5);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].closed;
    }
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].code == 0 && r[i].closed == 1 && strcmp(r[i].msgs[0], msgs[i]) == 0;
    CHECK_INTEQ(ok, N);
    CHECK_INTEQ(atomic_load(&s->accepted) - before, 1);
    upstream_cluster_free(c);
}

static void test_framing(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t split = {0}, two = {0}, big = {0}, stream = {0}, comp = {0};
    big.check_big = 1;
    start(c, &split, "Split", "split across frames", NULL, 0, 0);
    start(c, &two, "Two", "x", NULL, 0, 0);
    start(c, &big, "Big", "x", NULL, 0, 0);
    start(c, &stream, "Stream", "x", NULL, 0, 0);
    start(c, &comp, "Compressed", "x", NULL, 0, 0);
    RUN_UNTIL(split.closed && two.closed && big.closed && stream.closed && comp.closed, 5000);
    CHECK_INTEQ(split.code, 0);
    CHECK_STREQ(split.msgs[0], "split across frames");
    CHECK_INTEQ(two.code, 0);
    CHECK_INTEQ(two.nmsgs, 2);
    CHECK_STREQ(two.msgs[0], "one");
    CHECK_STREQ(two.msgs[1], "two");
    CHECK_STREQ(two.events, "HMMC");
    CHECK_INTEQ(big.code, 0);
    CHECK_INTEQ(big.nmsgs, 1);
    CHECK(big.big_ok);
    CHECK_INTEQ(stream.code, 0);
    CHECK_INTEQ(stream.nmsgs, 5);
    CHECK_STREQ(stream.msgs[0], "m0");
    CHECK_STREQ(stream.msgs[4], "m4");
    CHECK_STREQ(stream.events, "HMMMMMC");
    CHECK_INTEQ(comp.code, 13);
    CHECK_STREQ(comp.msg, "compressed messages not supported");
    CHECK_INTEQ(comp.nmsgs, 0);
    upstream_cluster_free(c);
}

static void test_errors(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t e = {0}, h503 = {0}, h404 = {0};
    upstream_header_t md[] = {{"x-status", 8, "5", 1}};
    start(c, &e, "Error", "x", md, 1, 0);
    start(c, &h503, "Http503", "x", NULL, 0, 0);
    start(c, &h404, "Http404", "x", NULL, 0, 0);
    RUN_UNTIL(e.closed && h503.closed && h404.closed, 5000);
    CHECK_INTEQ(e.code, 5);
    CHECK_STREQ(e.msg, "bad thing: \xE2\x9C\x93%zz");
    CHECK_STREQ(e.events, "C"); /* trailers-only: no on_headers */
    CHECK_INTEQ(e.ntrailers, 1);
    CHECK_INTEQ(h503.code, 14);
    CHECK(strstr(h503.msg, "503") != NULL);
    CHECK_INTEQ(h404.code, 12);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.calls_failed, 3);
    CHECK_INTEQ(st.connections_open, 1); /* call errors leave the connection alone */
    upstream_cluster_free(c);
}

static void test_deadline_and_cancel(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    int rst0 = atomic_load(&s->rst_received);
    res_t d = {0};
    start(c, &d, "Never", "x", NULL, 0, 100);
    RUN_UNTIL(d.closed, 5000);
    CHECK_INTEQ(d.code, 4);
    CHECK_STREQ(d.msg, "deadline exceeded");
    uint64_t took = d.closed_at - d.started;
    CHECK(took >= 90 && took < 1000);
    RUN_UNTIL(atomic_load(&s->rst_received) > rst0, 2000);
    CHECK(atomic_load(&s->rst_received) > rst0);

    /* cancel of a call in flight: no callback at all, the server sees RST_STREAM */
    rst0 = atomic_load(&s->rst_received);
    res_t k = {0};
    upstream_header_t md[] = {{"x-delay-ms", 10, "100", 3}};
    start(c, &k, "Slow", "x", md, 1, 0);
    run_for(20);
    upstream_call_cancel(k.call);
    run_for(200);
    CHECK_INTEQ(k.closed, 0);
    CHECK_INTEQ(k.nevents, 0);
    CHECK(atomic_load(&s->rst_received) > rst0);

    /* cancel before it was ever sent */
    res_t q = {0};
    start(c, &q, "Echo", "x", NULL, 0, 0);
    upstream_call_cancel(q.call);
    run_for(50);
    CHECK_INTEQ(q.nevents, 0);

    /* cancel from inside on_message: nothing after it */
    res_t m = {0};
    m.cancel_at_msg = 2;
    start(c, &m, "Stream", "x", NULL, 0, 0);
    run_for(200);
    CHECK_INTEQ(m.nmsgs, 2);
    CHECK_INTEQ(m.closed, 0);
    CHECK_STREQ(m.events, "HMM");

    /* the connection survived all of that */
    res_t ok = {0};
    start(c, &ok, "Echo", "still", NULL, 0, 1000);
    RUN_UNTIL(ok.closed, 5000);
    CHECK_INTEQ(ok.code, 0);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 1);
    CHECK_INTEQ(st.streams_active, 0);
    upstream_cluster_free(c);
}

static void test_pause_resume(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t r = {0};
    r.pause_in_headers = 1;
    start(c, &r, "Stream", "x", NULL, 0, 0);
    run_for(150);
    CHECK_STREQ(r.events, "H");
    CHECK_INTEQ(r.nmsgs, 0);
    CHECK_INTEQ(r.closed, 0);
    upstream_call_resume(r.call);
    RUN_UNTIL(r.closed, 5000);
    CHECK_STREQ(r.events, "HMMMMMC");
    CHECK_INTEQ(r.code, 0);
    upstream_cluster_free(c);
}

static void test_goaway(void)
{
    srv_t *s = srv_start((srv_cfg_t){.goaway_after = 3});
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    enum { N = 10 };
    res_t r[N];
    memset(r, 0, sizeof(r));
    upstream_header_t md[] = {{"x-delay-ms", 10, "30", 2}};
    for (int i = 0; i < N; i++)
        start(c, &r[i], "Slow", "g", md, 1, 0);
    int done = 0;
    uint64_t until = mono_ms() + 5000;
    while (done < N && mono_ms() < until) {
        h2o_evloop_run(loop, 5);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].closed;
    }
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].closed == 1 && r[i].code == 0 && strcmp(r[i].msgs[0], "g") == 0;
    CHECK_INTEQ(ok, N);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK(st.goaways_received >= 1);
    CHECK(st.connects >= 2);
    CHECK_INTEQ(st.calls_failed, 0);
    CHECK(atomic_load(&s->accepted) >= 2);
    upstream_cluster_free(c);
    srv_stop(s);
}

static void test_max_streams(void)
{
    srv_t *s = srv_start((srv_cfg_t){.mcs = 2});
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    enum { N = 20 };
    res_t r[N];
    memset(r, 0, sizeof(r));
    upstream_header_t md[] = {{"x-delay-ms", 10, "10", 2}};
    for (int i = 0; i < N; i++)
        start(c, &r[i], "Slow", "s", md, 1, 0);
    int done = 0, max_queued_seen = 0, max_streams_seen = 0;
    uint64_t until = mono_ms() + 5000;
    while (done < N && mono_ms() < until) {
        h2o_evloop_run(loop, 5);
        upstream_stats_t st;
        upstream_cluster_stats(c, &st);
        if ((int)st.calls_queued > max_queued_seen)
            max_queued_seen = (int)st.calls_queued;
        if ((int)st.streams_active > max_streams_seen)
            max_streams_seen = (int)st.streams_active;
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].closed;
    }
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].closed == 1 && r[i].code == 0;
    CHECK_INTEQ(ok, N);
    CHECK(atomic_load(&s->max_active) <= 2);
    CHECK_INTEQ(max_streams_seen, 2);
    CHECK(max_queued_seen >= 10);
    CHECK_INTEQ(atomic_load(&s->accepted), 1);
    /* FIFO: with two at a time, call i cannot finish before call i-2 */
    int ordered = 1;
    for (int i = 2; i < N; i++)
        ordered &= r[i].closed_at >= r[i - 2].closed_at;
    CHECK(ordered);
    upstream_cluster_free(c);

    /* the wait queue is bounded */
    upstream_cluster_config_t over = {.max_queued = 5};
    c = cluster_for(s->port, &over);
    res_t q[8];
    memset(q, 0, sizeof(q));
    int nulls = 0;
    for (int i = 0; i < 8; i++)
        nulls += start(c, &q[i], "Never", "q", NULL, 0, 0) == NULL;
    CHECK_INTEQ(nulls, 3);
    CHECK_INTEQ(q[7].closed, 1);
    CHECK_INTEQ(q[7].code, 8);
    run_for(50);
    /* a queued call still has its deadline */
    res_t late = {0};
    start(c, &late, "Echo", "late", NULL, 0, 50);
    RUN_UNTIL(late.closed, 2000);
    CHECK_INTEQ(late.code, 4);
    CHECK_INTEQ(late.nevents, 1);
    /* freeing the cluster ends what is left as UNAVAILABLE: 2 streams open, 3 queued */
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.streams_active, 2);
    CHECK_INTEQ(st.calls_queued, 3);
    upstream_cluster_free(c);
    int ended = 0;
    for (int i = 0; i < 5; i++)
        ended += q[i].closed == 1 && q[i].code == 14;
    CHECK_INTEQ(ended, 5);
    srv_stop(s);
}

static void test_keepalive(void)
{
    srv_t *s = srv_start((srv_cfg_t){.no_ping_ack = 1});
    upstream_cluster_config_t over = {.keepalive_interval_ms = 50, .keepalive_timeout_ms = 100};
    upstream_cluster_t *c = cluster_for(s->port, &over);
    res_t r = {0};
    start(c, &r, "Never", "x", NULL, 0, 0);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.code, 14);
    CHECK(strstr(r.msg, "keepalive") != NULL);
    CHECK(r.closed_at - r.started < 1000);
    upstream_cluster_free(c);
    srv_stop(s);

    /* answered PINGs keep a quiet connection alive */
    s = srv_start((srv_cfg_t){0});
    c = cluster_for(s->port, &over);
    res_t r2 = {0};
    start(c, &r2, "Never", "x", NULL, 0, 400);
    RUN_UNTIL(r2.closed, 5000);
    CHECK_INTEQ(r2.code, 4);
    CHECK(atomic_load(&s->pings) >= 2);
    upstream_cluster_free(c);
    srv_stop(s);
}

static void test_server_close(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t r = {0};
    start(c, &r, "Close", "x", NULL, 0, 0);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.code, 14);
    CHECK(strstr(r.msg, "closed") != NULL);
    /* the next call gets a new connection */
    res_t r2 = {0};
    start(c, &r2, "Echo", "again", NULL, 0, 0);
    RUN_UNTIL(r2.closed, 5000);
    CHECK_INTEQ(r2.code, 0);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 2);
    upstream_cluster_free(c);
}

static void test_refused_and_backoff(void)
{
    upstream_cluster_t *c = cluster_for(dead_port(), NULL);
    res_t r = {0};
    CHECK(start(c, &r, "Echo", "x", NULL, 0, 0) != NULL);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.code, 14);
    CHECK(r.closed_at - r.started < 500);
    CHECK(strstr(r.msg, "connect") != NULL);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connect_failures, 1);
    CHECK_INTEQ(st.connects, 0);

    /* backing off: fails inside start, no new attempt */
    res_t r2 = {0};
    CHECK(start(c, &r2, "Echo", "x", NULL, 0, 0) == NULL);
    CHECK_INTEQ(r2.closed, 1);
    CHECK_INTEQ(r2.code, 14);
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connect_failures, 1);

    /* after the backoff (100 ms +-20 %) it tries again; the next wait doubles */
    run_for(150);
    res_t r3 = {0};
    CHECK(start(c, &r3, "Echo", "x", NULL, 0, 0) != NULL);
    RUN_UNTIL(r3.closed, 5000);
    CHECK_INTEQ(r3.code, 14);
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connect_failures, 2);
    run_for(130);
    res_t r4 = {0};
    CHECK(start(c, &r4, "Echo", "x", NULL, 0, 0) == NULL); /* 200 ms +-20 % not over yet */
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connect_failures, 2);
    CHECK_INTEQ(st.calls_failed, 4);
    upstream_cluster_free(c);
}

static void test_garbage(void)
{
    srv_t *s = srv_start((srv_cfg_t){.garbage = 1});
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    res_t r = {0};
    start(c, &r, "Echo", "x", NULL, 0, 0);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.code, 14);
    CHECK(r.msg[0] != '\0');
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connect_failures, 1);
    upstream_cluster_free(c);
    srv_stop(s);
}

static void test_round_robin(void)
{
    srv_t *a = srv_start((srv_cfg_t){0}), *b = srv_start((srv_cfg_t){0});
    /* one target by name, to cover resolution; a system without a hosts
     * entry for localhost (a bare chroot) falls back to the address */
    struct addrinfo *ai = NULL, hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int named = getaddrinfo("localhost", NULL, &hints, &ai) == 0;
    if (ai)
        freeaddrinfo(ai);
    if (!named)
        fprintf(stderr, "note: \"localhost\" does not resolve here; round robin runs on addresses only\n");
    upstream_target_t tg[2] = {{"127.0.0.1", a->port}, {named ? "localhost" : "127.0.0.1", b->port}};
    upstream_cluster_config_t cfg = {.name = "rr", .targets = tg, .ntargets = 2, .resolve_interval_ms = 20};
    char err[256];
    upstream_cluster_t *c = upstream_cluster_new(loop, &cfg, err, sizeof(err));
    CHECK(c != NULL);
    if (c == NULL)
        return;
    /* warm both connections up, then spread */
    res_t w = {0};
    start(c, &w, "Echo", "w", NULL, 0, 0);
    RUN_UNTIL(w.closed, 5000);
    upstream_stats_t st;
    RUN_UNTIL((upstream_cluster_stats(c, &st), st.connects == 2), 2000);
    enum { N = 20 };
    res_t r[N];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++)
        start(c, &r[i], "Echo", "rr", NULL, 0, 0);
    int done = 0;
    uint64_t until = mono_ms() + 5000;
    while (done < N && mono_ms() < until) {
        h2o_evloop_run(loop, 5);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].closed && r[i].code == 0;
    }
    CHECK_INTEQ(done, N);
    CHECK(atomic_load(&a->requests) >= 5);
    CHECK(atomic_load(&b->requests) >= 5);
    run_for(60); /* a few re-resolutions of "localhost" on the way */
    res_t again = {0};
    start(c, &again, "Echo", "again", NULL, 0, 0);
    RUN_UNTIL(again.closed, 5000);
    CHECK_INTEQ(again.code, 0);
    upstream_cluster_free(c);
    srv_stop(a);
    srv_stop(b);
}

static void test_resets_and_hostile(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    int req0 = atomic_load(&s->requests);
    res_t refused = {0};
    start(c, &refused, "Refuse", "x", NULL, 0, 0);
    RUN_UNTIL(refused.closed, 5000);
    CHECK_INTEQ(refused.code, 14);
    CHECK_INTEQ(atomic_load(&s->requests) - req0, 4); /* the first try and three transparent retries */
    res_t cancelled = {0};
    start(c, &cancelled, "ResetCancel", "x", NULL, 0, 0);
    RUN_UNTIL(cancelled.closed, 5000);
    CHECK_INTEQ(cancelled.code, 1);
    CHECK(strstr(cancelled.msg, "CANCEL") != NULL);

    /* a peer breaking HPACK kills the connection: its calls fail INTERNAL, the next call reconnects */
    res_t bystander = {0}, hostile = {0};
    start(c, &bystander, "Never", "x", NULL, 0, 0);
    run_for(20);
    start(c, &hostile, "Hostile", "x", NULL, 0, 0);
    RUN_UNTIL(hostile.closed && bystander.closed, 5000);
    CHECK_INTEQ(hostile.code, 13);
    CHECK(strstr(hostile.msg, "protocol error") != NULL);
    CHECK_INTEQ(bystander.code, 13);
    res_t after = {0};
    start(c, &after, "Echo", "ok", NULL, 0, 0);
    RUN_UNTIL(after.closed, 5000);
    CHECK_INTEQ(after.code, 0);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connects, 2);
    CHECK_INTEQ(st.connections_open, 1);
    upstream_cluster_free(c);
}

static void test_connect_timeout(void)
{
    /* the kernel completes the TCP handshake, nobody ever speaks HTTP/2 */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    listen(fd, 16);
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    upstream_cluster_config_t over = {.connect_timeout_ms = 100};
    upstream_cluster_t *c = cluster_for(ntohs(sa.sin_port), &over);
    res_t r = {0};
    start(c, &r, "Echo", "x", NULL, 0, 0);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.code, 14);
    CHECK(strstr(r.msg, "timed out") != NULL);
    CHECK(r.closed_at - r.started >= 90 && r.closed_at - r.started < 1000);
    upstream_stats_t st;
    upstream_cluster_stats(c, &st);
    CHECK_INTEQ(st.connect_failures, 1);
    upstream_cluster_free(c);
    close(fd);
}

/* ---- throughput smoke (informational) ---- */

typedef struct tp {
    upstream_cluster_t *c;
    int started, done, failed, total;
} tp_t;

static uint8_t tp_msg[100];
static void tp_start(tp_t *t);
static void tp_close(void *ctx, int code, const char *m, size_t ml, const upstream_header_t *h, size_t n)
{
    (void)m, (void)ml, (void)h, (void)n;
    tp_t *t = ctx;
    t->done++;
    t->failed += code != 0;
    if (t->started < t->total)
        tp_start(t);
}
static const upstream_handlers_t tp_handlers = {.on_close = tp_close};
static void tp_start(tp_t *t)
{
    t->started++;
    upstream_call_start(t->c, "/test.Svc/Echo", tp_msg, sizeof(tp_msg), NULL, 0, 5000, &tp_handlers, t);
}

static double thread_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void test_throughput(srv_t *s)
{
    upstream_cluster_t *c = cluster_for(s->port, NULL);
    tp_t t = {c, 0, 0, 0, 20000};
    memset(tp_msg, 'p', sizeof(tp_msg));
    /* warm up the connection */
    res_t w = {0};
    start(c, &w, "Echo", "w", NULL, 0, 0);
    RUN_UNTIL(w.closed, 5000);
    uint64_t t0 = mono_ms();
    double cpu0 = thread_cpu_us();
    for (int i = 0; i < 64; i++)
        tp_start(&t);
    RUN_UNTIL(t.done == t.total, 20000);
    double cpu = thread_cpu_us() - cpu0;
    uint64_t ms = mono_ms() - t0;
    CHECK_INTEQ(t.done, t.total);
    CHECK_INTEQ(t.failed, 0);
    printf("throughput: %d calls, 64 in flight, %.0f calls/s, client CPU %.2f us/call (loop thread)\n", t.done,
           ms ? t.done * 1000.0 / (double)ms : 0.0, t.done ? cpu / t.done : 0.0);
    upstream_cluster_free(c);
}

int main(void)
{
    /* h2o writes with writev(): a peer that went away must not kill us, as in any h2o process */
    signal(SIGPIPE, SIG_IGN);
    loop = h2o_evloop_create();
    test_new_errors();
    srv_t *s = srv_start((srv_cfg_t){0});
    test_unary(s);
    test_multiplex(s);
    test_framing(s);
    test_errors(s);
    test_deadline_and_cancel(s);
    test_pause_resume(s);
    test_server_close(s);
    test_resets_and_hostile(s);
    test_throughput(s);
    srv_stop(s);
    test_goaway();
    test_max_streams();
    test_keepalive();
    test_refused_and_backoff();
    test_garbage();
    test_connect_timeout();
    test_round_robin();
    /* let closed sockets be reaped before the loop goes */
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    return test_summary();
}
