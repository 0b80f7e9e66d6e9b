/*
 * split_test: the version table and the per-request choice (control/split.c).
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "state/split.h"
#include "test.h"

static config_t two_versions(uint32_t blue, uint32_t canary)
{
    config_t c;
    config_defaults(&c);
    char *argv[] = {"gateway", "--upstream-version", "blue=10.0.0.1:1", "--upstream-version", "canary=10.0.0.2:1",
                    "--upstream-version", "blue=10.0.0.3:1"};
    CHECK_INTEQ(config_parse_args(&c, 7, argv, (char[256]){0}, 256), 0);
    c.clusters[0].versions[0].weight = blue;
    c.clusters[0].versions[1].weight = canary;
    return c;
}

static void test_table(void)
{
    config_t c = two_versions(100, 0);
    split_table_t t;
    CHECK_INTEQ(split_table_init(&t, &c), 0);
    CHECK_INTEQ(t.nclusters, 1);
    CHECK_INTEQ(t.nrows, 2);
    CHECK_INTEQ(t.nendpoints, 3);
    split_cluster_t *cl = &t.clusters[0];
    CHECK_INTEQ(cl->named, 1);
    CHECK_INTEQ(atomic_load(&cl->canary), 1); /* the version named "canary" */
    CHECK_INTEQ(cl->versions[0].ntargets, 2);
    CHECK_INTEQ(cl->versions[1].first_endpoint, 2);
    CHECK(t.rows[1] == &cl->versions[1]);
    CHECK(cl->versions[1].cluster == cl);
    CHECK(split_cluster_find(&t, "default", 7) == cl);
    CHECK(split_cluster_find(&t, "nope", 4) == NULL);
    CHECK_INTEQ(split_version_find(cl, "canary", 6), 1);
    CHECK_INTEQ(split_version_find(cl, "canar", 5), -1);
    split_table_free(&t);
    config_free(&c);

    /* a cluster of plain targets: one version, "default", unnamed */
    config_defaults(&c);
    CHECK_INTEQ(split_table_init(&t, &c), 0);
    CHECK_INTEQ(t.nrows, 1);
    CHECK_STREQ(t.clusters[0].versions[0].name, "default");
    CHECK_INTEQ(t.clusters[0].named, 0);
    CHECK_INTEQ(atomic_load(&t.clusters[0].versions[0].weight), 100);
    split_table_free(&t);
    config_free(&c);
}

static void test_pick(void)
{
    config_t c = two_versions(90, 10);
    split_table_t t;
    CHECK_INTEQ(split_table_init(&t, &c), 0);
    split_cluster_t *cl = &t.clusters[0];
    uint64_t rng = 12345;
    split_hints_t none = {0};
    int counts[2] = {0, 0};
    for (int i = 0; i < 100000; i++)
        counts[split_pick(cl, &none, &rng)]++;
    /* 10% +- 0.5% over 100k draws: a binomial's 5 sigma is 0.47% */
    CHECK(counts[1] > 9500 && counts[1] < 10500);
    CHECK_INTEQ(split_share_percent(cl, 1), 10);

    split_hints_t always = split_hints_make("always", 6, NULL, 0), never = split_hints_make("NEVER", 5, NULL, 0);
    CHECK_INTEQ(always.canary, 1);
    CHECK_INTEQ(never.canary, -1);
    CHECK_INTEQ(split_hints_make("maybe", 5, NULL, 0).canary, 0);
    for (int i = 0; i < 100; i++) {
        CHECK_INTEQ(split_pick(cl, &always, &rng), 1);
        CHECK_INTEQ(split_pick(cl, &never, &rng), 0);
    }
    /* a rolled-back canary: not even "always" */
    atomic_store(&cl->canary_blocked, 1);
    atomic_store(&cl->versions[1].weight, 0);
    for (int i = 0; i < 100; i++)
        CHECK_INTEQ(split_pick(cl, &always, &rng), 0);
    /* everything on the canary and "never": the other version */
    atomic_store(&cl->canary_blocked, 0);
    atomic_store(&cl->versions[0].weight, 0);
    atomic_store(&cl->versions[1].weight, 100);
    CHECK_INTEQ(split_pick(cl, &never, &rng), 0);
    CHECK_INTEQ(split_pick(cl, &none, &rng), 1);

    /* sticky: a hash keeps one client on one side; and as the canary grows
     * from 10 to 25, every client it had stays on it */
    atomic_store(&cl->versions[0].weight, 90);
    atomic_store(&cl->versions[1].weight, 10);
    size_t side10[200];
    int on_canary = 0;
    for (int u = 0; u < 200; u++) {
        char user[16];
        int n = snprintf(user, sizeof(user), "user%d", u);
        split_hints_t h = split_hints_make(NULL, 0, user, (size_t)n);
        side10[u] = split_pick(cl, &h, &rng);
        CHECK_INTEQ(split_pick(cl, &h, &rng), side10[u]);
        on_canary += side10[u] == 1;
    }
    CHECK(on_canary > 5 && on_canary < 45);
    atomic_store(&cl->versions[0].weight, 75);
    atomic_store(&cl->versions[1].weight, 25);
    int kept = 1;
    for (int u = 0; u < 200; u++) {
        char user[16];
        int n = snprintf(user, sizeof(user), "user%d", u);
        split_hints_t h = split_hints_make(NULL, 0, user, (size_t)n);
        if (side10[u] == 1 && split_pick(cl, &h, &rng) != 1)
            kept = 0;
    }
    CHECK(kept);
    split_table_free(&t);
    config_free(&c);
}

static void test_cookie(void)
{
    const char *v;
    size_t n;
    const char *h = "a=1; side=green;theme=dark";
    CHECK_INTEQ(split_cookie_value(h, strlen(h), "side", &v, &n), 1);
    CHECK(n == 5 && memcmp(v, "green", 5) == 0);
    CHECK_INTEQ(split_cookie_value(h, strlen(h), "theme", &v, &n), 1);
    CHECK(n == 4 && memcmp(v, "dark", 4) == 0);
    CHECK_INTEQ(split_cookie_value(h, strlen(h), "sid", &v, &n), 0);
    CHECK_INTEQ(split_cookie_value(h, strlen(h), "a=1", &v, &n), 0);
    CHECK_INTEQ(split_cookie_value("", 0, "a", &v, &n), 0);
    CHECK_INTEQ(split_cookie_value(";;; =x; a=", 10, "a", &v, &n), 1);
    CHECK_INTEQ(n, 0);
}

int main(void)
{
    test_table();
    test_pick();
    test_cookie();
    return test_summary();
}
