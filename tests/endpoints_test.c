/*
 * endpoints_test: targets' health as readiness and the upstreams read it
 * (state/endpoints.c), and the passive ejection: calls failing in a row on
 * one worker take a target out, a success in between starts the count
 * again, and workers count apart.
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "state/endpoints.h"
#include "state/split.h"
#include "test.h"

static void test_passive(void)
{
    config_t c;
    config_defaults(&c);
    char *argv[] = {"gateway", "--upstream", "127.0.0.1:1", "--upstream", "127.0.0.1:2"};
    CHECK_INTEQ(config_parse_args(&c, 5, argv, (char[256]){0}, 256), 0);
    split_table_t t;
    CHECK_INTEQ(split_table_init(&t, &c), 0);
    const split_cluster_t *cl = &t.clusters[0];
    const split_version_t *v = &cl->versions[0];
    CHECK_INTEQ(v->ntargets, 2);
    endpoint_health_t e[2];
    memset(e, 0, sizeof(e));
    for (int i = 0; i < 2; i++) {
        e[i].cfg = cl->cfg;
        e[i].target = &v->targets[i];
        atomic_store(&e[i].up, 1);
        atomic_store(&e[i].checks, 1);
    }
    CHECK_INTEQ(c.clusters[0].health.passive_failures, 5);
    uint32_t counts_a[2] = {0}, counts_b[2] = {0};
    endpoints_passive_t a = {e, counts_a, 5, "default", "default"}, b = {e, counts_b, 5, "default", "default"};

    /* four failures, a success, four more: never five in a row */
    for (int i = 0; i < 4; i++)
        endpoints_passive_result(&a, 0, 1);
    endpoints_passive_result(&a, 0, 0);
    for (int i = 0; i < 4; i++)
        endpoints_passive_result(&a, 0, 1);
    CHECK_INTEQ(atomic_load(&e[0].ejected), 0);
    /* another worker's failures are its own count */
    for (int i = 0; i < 4; i++)
        endpoints_passive_result(&b, 0, 1);
    CHECK_INTEQ(atomic_load(&e[0].ejected), 0);
    CHECK(endpoints_target_ok(&e[0]));
    /* the fifth in a row on one worker ejects it, once */
    endpoints_passive_result(&a, 0, 1);
    CHECK_INTEQ(atomic_load(&e[0].ejected), 1);
    CHECK_INTEQ(atomic_load(&e[0].ejections), 1);
    CHECK(!endpoints_target_ok(&e[0]));
    CHECK(endpoints_target_ok(&e[1]));
    CHECK_INTEQ(endpoints_version_healthy(e, v), 1);
    CHECK_INTEQ(endpoints_cluster_up(e, cl), 1);
    for (int i = 0; i < 10; i++)
        endpoints_passive_result(&b, 0, 1);
    CHECK_INTEQ(atomic_load(&e[0].ejections), 1); /* already out: no second ejection */
    /* both out: the cluster is down (readiness 503) */
    for (int i = 0; i < 5; i++)
        endpoints_passive_result(&b, 1, 1);
    CHECK_INTEQ(endpoints_version_healthy(e, v), 0);
    CHECK_INTEQ(endpoints_cluster_up(e, cl), 0);
    /* successes do not bring a target back: only the checker does */
    endpoints_passive_result(&a, 1, 0);
    CHECK_INTEQ(atomic_load(&e[1].ejected), 1);
    atomic_store(&e[1].ejected, 0);
    CHECK_INTEQ(endpoints_cluster_up(e, cl), 1);

    /* threshold 0: off */
    endpoints_passive_t off = {e, counts_a, 0, "default", "default"};
    for (int i = 0; i < 100; i++)
        endpoints_passive_result(&off, 1, 1);
    CHECK_INTEQ(atomic_load(&e[1].ejected), 0);
    /* a target not checked yet takes calls; one checked DOWN does not */
    atomic_store(&e[1].checks, 0);
    atomic_store(&e[1].up, 0);
    CHECK(endpoints_target_ok(&e[1]));
    atomic_store(&e[1].checks, 1);
    CHECK(!endpoints_target_ok(&e[1]));
    split_table_free(&t);
    config_free(&c);
}

int main(void)
{
    test_passive();
    return test_summary();
}
