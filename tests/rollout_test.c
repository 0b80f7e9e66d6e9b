/*
 * rollout_test: the rollout state machine, its window and its gates
 * (control/rollout.c), on a synthetic clock and synthetic counters.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "control/rollout.h"
#include "test.h"

static config_t cfg;
static split_table_t table;
static rollout_t ro;
static rollout_input_t in;

/* The canary answers n calls, errors of them failing, each taking the
 * bucket of `seconds`. */
static void calls(uint64_t n, uint64_t errors, double seconds)
{
    size_t b = 0;
    while (b < HISTOGRAM_NBUCKETS && seconds > histogram_le[b])
        b++;
    in.totals.requests += n;
    in.totals.errors += errors;
    in.totals.buckets[b] += n;
}

static void setup(void)
{
    config_defaults(&cfg);
    char *argv[] = {"gateway", "--upstream-version", "blue=10.0.0.1:1", "--upstream-version", "canary=10.0.0.2:1"};
    CHECK_INTEQ(config_parse_args(&cfg, 5, argv, (char[256]){0}, 256), 0);
    CHECK_INTEQ(split_table_init(&table, &cfg), 0);
    rollout_init(&ro, &table.clusters[0]);
    memset(&in, 0, sizeof(in));
}

static void teardown(void)
{
    split_table_free(&table);
    config_free(&cfg);
}

static config_rollout_t quick(void)
{
    config_rollout_t r;
    config_rollout_defaults(&r);
    r.hold_ms = 3000;
    r.window_ms = 2000;
    r.interval_ms = 500;
    r.min_requests = 50;
    return r;
}

static uint32_t weight(size_t v)
{
    return atomic_load(&table.clusters[0].versions[v].weight);
}

/* Runs the 100 ms tick from t to t+ms, with `per_tick` canary calls each. */
static uint64_t run(uint64_t t, uint64_t ms, uint64_t per_tick, uint64_t errors_per_tick, double seconds)
{
    for (uint64_t end = t + ms; t < end; t += 100) {
        calls(per_tick, errors_per_tick, seconds);
        rollout_tick(&ro, t, &in);
    }
    return t;
}

static void test_healthy_reaches_100(void)
{
    setup();
    config_rollout_t r = quick();
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 1000, err, sizeof(err)), 0);
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_PROGRESSING);
    CHECK_INTEQ(weight(0), 90);
    CHECK_INTEQ(weight(1), 10);
    uint64_t t = run(1000, 2900, 10, 0, 0.003);
    CHECK_INTEQ(weight(1), 10); /* hold not over yet */
    CHECK_STREQ(ro.last.verdict, "pass");
    t = run(t, 500, 10, 0, 0.003);
    CHECK_INTEQ(weight(1), 25);
    CHECK_INTEQ(atomic_load(&ro.step_percent), 25);
    t = run(t, 3500, 10, 0, 0.003);
    CHECK_INTEQ(weight(1), 50);
    t = run(t, 3500, 10, 0, 0.003);
    CHECK_INTEQ(weight(1), 100);
    CHECK_INTEQ(weight(0), 0);
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_COMPLETED);
    /* completed: nothing changes any more */
    run(t, 5000, 10, 10, 2.0);
    CHECK_INTEQ(weight(1), 100);
    teardown();
}

static void test_error_gate(void)
{
    setup();
    config_rollout_t r = quick();
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    /* 1% is allowed: 1 error in 100 calls per second */
    uint64_t t = run(0, 2000, 10, 0, 0.003);
    calls(0, 1, 0);
    t = run(t, 500, 10, 0, 0.003);
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_PROGRESSING);
    /* 2% is not */
    calls(0, 3, 0);
    run(t, 600, 10, 0, 0.003);
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_ROLLED_BACK);
    CHECK_INTEQ(weight(0), 100);
    CHECK_INTEQ(weight(1), 0);
    CHECK_INTEQ(atomic_load(&ro.rollbacks[ROLLBACK_ERROR_RATE]), 1);
    CHECK(strncmp(ro.reason, "error_rate: ", 12) == 0);
    CHECK_INTEQ(atomic_load(&table.clusters[0].canary_blocked), 1);
    teardown();
}

static void test_too_little_traffic(void)
{
    setup();
    config_rollout_t r = quick();
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    /* every call fails, but 2 per second never make a window of 50 */
    run(0, 20000, 0, 0, 0);
    for (uint64_t t = 20000; t < 40000; t += 100) {
        if (t % 500 == 0)
            calls(1, 1, 0.003);
        rollout_tick(&ro, t, &in);
    }
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_PROGRESSING);
    CHECK_STREQ(ro.last.verdict, "inconclusive");
    CHECK_INTEQ(weight(1), 10); /* held, not advanced */
    teardown();
}

static void test_latency_gates(void)
{
    setup();
    config_rollout_t r = quick();
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    /* 4% of calls at 0.6 s: p95 still in the 0.5 s bucket... */
    uint64_t t = 0;
    for (int i = 0; i < 25; i++) {
        calls(24, 0, 0.003);
        calls(1, 0, 0.6);
        rollout_tick(&ro, t += 100, &in);
    }
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_PROGRESSING);
    CHECK(ro.last.p95_s <= 0.5);
    /* ...6% is over the 500 ms gate */
    for (int i = 0; i < 25; i++) {
        calls(47, 0, 0.003);
        calls(3, 0, 0.6);
        rollout_tick(&ro, t += 100, &in);
    }
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_ROLLED_BACK);
    CHECK_INTEQ(atomic_load(&ro.rollbacks[ROLLBACK_LATENCY_P95]), 1);
    teardown();

    /* p99 alone: 2% slower than the 1 s p99 gate, 98% fast */
    setup();
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    t = 0;
    for (int i = 0; i < 25; i++) {
        calls(49, 0, 0.003);
        calls(1, 0, 3.0);
        rollout_tick(&ro, t += 100, &in);
    }
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_ROLLED_BACK);
    CHECK_INTEQ(atomic_load(&ro.rollbacks[ROLLBACK_LATENCY_P99]), 1);
    teardown();
}

static void test_health_gate(void)
{
    setup();
    config_rollout_t r = quick();
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    in.health_failures = 3; /* the gate is "more than 3" */
    run(0, 1000, 0, 0, 0);
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_PROGRESSING);
    in.health_failures = 4;
    run(1000, 600, 0, 0, 0);
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_ROLLED_BACK);
    CHECK_INTEQ(atomic_load(&ro.rollbacks[ROLLBACK_HEALTH]), 1);
    teardown();
}

/* The window slides: errors older than it stop counting. */
static void test_window_slides(void)
{
    setup();
    config_rollout_t r = quick();
    r.max_error_rate = 0.5;
    r.hold_ms = 1000000;
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    uint64_t t = run(0, 1000, 10, 4, 0.003); /* 40% errors */
    t = run(t, 3000, 10, 0, 0.003);          /* then none */
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_PROGRESSING);
    CHECK(ro.last.errors == 0);
    CHECK(ro.last.span_ms <= 2000 && ro.last.span_ms >= 1800);
    CHECK(ro.last.requests >= 180 && ro.last.requests <= 200);
    teardown();
}

static void test_manual(void)
{
    setup();
    config_rollout_t r = quick();
    char err[200];
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 0, 0, err, sizeof(err)), -1);
    CHECK(strstr(err, "nothing to roll out") != NULL);
    r.steps[r.nsteps - 1] = 90;
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), -1);
    r = quick();
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    rollout_rollback(&ro, ROLLBACK_MANUAL, "test");
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_ROLLED_BACK);
    CHECK_INTEQ(weight(1), 0);
    rollout_promote(&ro, 1); /* blue-green style, at once */
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_COMPLETED);
    CHECK_INTEQ(weight(0), 0);
    CHECK_INTEQ(weight(1), 100);
    CHECK_INTEQ(atomic_load(&table.clusters[0].canary_blocked), 0);
    rollout_promote(&ro, 0); /* and back */
    CHECK_INTEQ(weight(0), 100);
    CHECK_INTEQ(weight(1), 0);
    CHECK_INTEQ(rollout_start(&ro, &r, 0, 1, 0, err, sizeof(err)), 0);
    rollout_cancel(&ro, "by hand");
    CHECK_INTEQ(atomic_load(&ro.state), ROLLOUT_IDLE);
    CHECK_STREQ(rollout_state_name(ROLLOUT_ROLLED_BACK), "rolled_back");
    CHECK_STREQ(rollout_reason_name(ROLLBACK_LATENCY_P95), "latency_p95");
    teardown();
}

int main(void)
{
    test_healthy_reaches_100();
    test_error_gate();
    test_too_little_traffic();
    test_latency_gates();
    test_health_gate();
    test_window_slides();
    test_manual();
    return test_summary();
}
