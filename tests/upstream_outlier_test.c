/*
 * upstream_outlier_test: what upstream tells its target_result hook (the
 * passive outlier detection of state/endpoints.h): which outcomes are the
 * target's failures, which are its successes, and which say nothing.
 * Against the scripted HTTP/2 server of upstream_harness.h.
 */
#include "upstream_harness.h"

/* Every report: target index and failed, in order. */
typedef struct reports {
    int n, failed, ok;
    size_t last_target;
} reports_t;

static void on_result(void *ctx, size_t target, int failed)
{
    reports_t *r = ctx;
    r->n++;
    r->failed += failed != 0;
    r->ok += failed == 0;
    r->last_target = target;
}

static upstream_cluster_t *reporting_cluster(uint16_t port, reports_t *rep)
{
    static upstream_target_t tg[2];
    /* the second target is the one that answers: the index must say so */
    tg[0] = (upstream_target_t){"127.0.0.1", dead_port()};
    tg[1] = (upstream_target_t){"127.0.0.1", port};
    upstream_cluster_config_t cfg = {.name = "outlier", .targets = tg, .ntargets = 2, .target_result = on_result,
                                     .target_result_ctx = rep};
    char err[256];
    upstream_cluster_t *c = upstream_cluster_new(loop, &cfg, err, sizeof(err));
    if (c == NULL)
        fprintf(stderr, "cluster: %s\n", err);
    return c;
}

/* reports_since(before, now): what one step added */
static reports_t since(reports_t a, reports_t b)
{
    return (reports_t){b.n - a.n, b.failed - a.failed, b.ok - a.ok, b.last_target};
}

static void test_outcomes(srv_t *s)
{
    reports_t rep = {0};
    upstream_cluster_t *c = reporting_cluster(s->port, &rep);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    /* the first call: target 0 refuses the connect (a failure of target 0),
     * target 1 answers (a success of target 1) */
    res_t first = {0};
    start(c, &first, "Echo", "x", NULL, 0, 0);
    RUN_UNTIL(first.closed, 5000);
    upstream_stats_t st;
    RUN_UNTIL((upstream_cluster_stats(c, &st), st.connect_failures >= 1 && st.connects == 1), 2000);
    CHECK(rep.failed >= 1); /* the refused connect */
    /* connected now: calls go to target 1 only (target 0 backs off) */
    for (int i = 0; i < 3; i++) {
        res_t e = {0};
        start(c, &e, "Echo", "x", NULL, 0, 0);
        RUN_UNTIL(e.closed, 5000);
    }
    reports_t before = rep;
    res_t ok = {0};
    start(c, &ok, "Echo", "x", NULL, 0, 0);
    RUN_UNTIL(ok.closed, 5000);
    reports_t d = since(before, rep);
    CHECK_INTEQ(ok.code, 0);
    CHECK(d.n == 1 && d.ok == 1 && d.last_target == 1);

    /* an application error the server sends is the server working */
    before = rep;
    res_t nf = {0};
    upstream_header_t md5[] = {{"x-status", 8, "5", 1}};
    start(c, &nf, "Error", "x", md5, 1, 0);
    RUN_UNTIL(nf.closed, 5000);
    d = since(before, rep);
    CHECK_INTEQ(nf.code, 5);
    CHECK(d.n == 1 && d.ok == 1);

    /* UNAVAILABLE from the server is a failure */
    before = rep;
    res_t un = {0};
    upstream_header_t md14[] = {{"x-status", 8, "14", 2}};
    start(c, &un, "Error", "x", md14, 1, 0);
    RUN_UNTIL(un.closed, 5000);
    d = since(before, rep);
    CHECK_INTEQ(un.code, 14);
    CHECK(d.n == 1 && d.failed == 1 && d.last_target == 1);

    /* an HTTP 503 instead of gRPC (a proxy in the way): a transport failure */
    before = rep;
    res_t h = {0};
    start(c, &h, "Http503", "x", NULL, 0, 0);
    RUN_UNTIL(h.closed, 5000);
    d = since(before, rep);
    CHECK(d.n == 1 && d.failed == 1 && d.last_target == 1);

    /* a stream the server keeps refusing (retried, then UNAVAILABLE) is a failure */
    before = rep;
    res_t rf = {0};
    start(c, &rf, "Refuse", "x", NULL, 0, 0);
    RUN_UNTIL(rf.closed, 5000);
    d = since(before, rep);
    CHECK_INTEQ(rf.code, 14);
    CHECK(d.n == 1 && d.failed == 1);

    /* one it resets with CANCEL ends CANCELLED: the server gave up, nothing more is known */
    before = rep;
    res_t rs = {0};
    start(c, &rs, "ResetCancel", "x", NULL, 0, 0);
    RUN_UNTIL(rs.closed, 5000);
    d = since(before, rep);
    CHECK_INTEQ(rs.code, 1);
    CHECK_INTEQ(d.n, 0);

    /* a deadline and a cancel say nothing of the target */
    before = rep;
    res_t dl = {0};
    start(c, &dl, "Never", "x", NULL, 0, 50);
    RUN_UNTIL(dl.closed, 5000);
    CHECK_INTEQ(dl.code, 4);
    res_t k = {0};
    upstream_header_t slow[] = {{"x-delay-ms", 10, "100", 3}};
    start(c, &k, "Slow", "x", slow, 1, 0);
    run_for(20);
    upstream_call_cancel(k.call);
    run_for(150);
    d = since(before, rep);
    CHECK_INTEQ(d.n, 0);

    /* the calls a shutdown fails are the gateway's doing, not the target's */
    res_t q = {0};
    start(c, &q, "Slow", "x", slow, 1, 0);
    before = rep;
    upstream_cluster_free(c);
    d = since(before, rep);
    CHECK_INTEQ(q.closed, 1);
    CHECK_INTEQ(d.n, 0);
}

/* A target that is gone: every call that finds no connection counts against it. */
static void test_dead_target(void)
{
    static upstream_target_t tg;
    tg = (upstream_target_t){"127.0.0.1", dead_port()};
    reports_t rep = {0};
    upstream_cluster_config_t cfg = {.name = "dead", .targets = &tg, .ntargets = 1, .target_result = on_result,
                                     .target_result_ctx = &rep};
    char err[256];
    upstream_cluster_t *c = upstream_cluster_new(loop, &cfg, err, sizeof(err));
    CHECK(c != NULL);
    if (c == NULL)
        return;
    res_t r = {0};
    start(c, &r, "Echo", "x", NULL, 0, 0);
    RUN_UNTIL(r.closed, 5000);
    CHECK_INTEQ(r.code, 14);
    int after_first = rep.failed;
    CHECK(after_first >= 1 && rep.ok == 0 && rep.last_target == 0);
    /* backing off: the next calls fail at once, and each one is counted */
    for (int i = 0; i < 4; i++) {
        res_t b = {0};
        start(c, &b, "Echo", "x", NULL, 0, 0);
        CHECK_INTEQ(b.closed, 1);
    }
    CHECK_INTEQ(rep.failed, after_first + 4);
    CHECK_INTEQ(rep.ok, 0);
    upstream_cluster_free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    loop = h2o_evloop_create();
    srv_t *s = srv_start((srv_cfg_t){0});
    test_outcomes(s);
    srv_stop(s);
    test_dead_target();
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    return test_summary();
}
