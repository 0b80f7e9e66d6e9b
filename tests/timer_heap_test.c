/*
 * timer_heap_test: the upstream timer heap alone, no loop: ordering, cancel,
 * re-arm, many timers, and random operations checked against a model (an
 * array that knows which timers are armed and when they expire), with the
 * heap's own invariants (parent <= child, items[i]->idx == i) checked after
 * every operation.
 */
#include "upstream/timer_heap.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static int heap_ok(const timer_heap_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->items[i]->idx != i)
            return 0;
        if (i > 0 && h->items[(i - 1) / 2]->at > h->items[i]->at)
            return 0;
    }
    return 1;
}

static void test_order(void)
{
    timer_heap_t h = {0};
    timer_heap_timer_t t[8];
    const uint64_t at[8] = {50, 10, 70, 30, 30, 90, 0, 60};
    for (int i = 0; i < 8; i++) {
        t[i] = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, NULL};
        CHECK(!timer_heap_is_armed(&t[i]));
        CHECK_INTEQ(timer_heap_arm(&h, &t[i], at[i]), 0);
        CHECK(timer_heap_is_armed(&t[i]));
    }
    CHECK(heap_ok(&h));
    CHECK(timer_heap_first(&h) == &t[6]);
    /* nothing is due before its time */
    CHECK(timer_heap_pop_due(&h, 0) == &t[6]);
    CHECK(timer_heap_pop_due(&h, 9) == NULL);
    CHECK(!timer_heap_is_armed(&t[6]));
    uint64_t last = 0;
    int n = 0;
    timer_heap_timer_t *x;
    while ((x = timer_heap_pop_due(&h, 1000)) != NULL) {
        CHECK(x->at >= last);
        CHECK(!timer_heap_is_armed(x));
        last = x->at;
        n++;
    }
    CHECK_INTEQ(n, 7);
    CHECK_INTEQ(last, 90);
    CHECK(timer_heap_first(&h) == NULL);
    timer_heap_dispose(&h);
    CHECK(h.items == NULL && h.n == 0);
}

static void test_cancel_and_rearm(void)
{
    timer_heap_t h = {0};
    timer_heap_timer_t a = {0, TIMER_HEAP_IDLE, NULL}, b = a, c = a, d = a;
    timer_heap_arm(&h, &a, 10);
    timer_heap_arm(&h, &b, 20);
    timer_heap_arm(&h, &c, 30);
    timer_heap_arm(&h, &d, 40);

    /* disarming the first, a middle one, the last; disarming twice is harmless */
    timer_heap_disarm(&h, &a);
    timer_heap_disarm(&h, &a);
    CHECK(!timer_heap_is_armed(&a));
    CHECK(timer_heap_first(&h) == &b);
    timer_heap_disarm(&h, &c);
    CHECK_INTEQ(h.n, 2);
    CHECK(heap_ok(&h));
    timer_heap_disarm(&h, &d);
    CHECK(timer_heap_first(&h) == &b);
    CHECK_INTEQ(h.n, 1);

    /* re-arming moves a timer, later or earlier, without adding it twice */
    timer_heap_arm(&h, &a, 25);
    timer_heap_arm(&h, &b, 100);
    CHECK(timer_heap_first(&h) == &a);
    CHECK_INTEQ(h.n, 2);
    timer_heap_arm(&h, &b, 5);
    CHECK(timer_heap_first(&h) == &b);
    CHECK_INTEQ(b.at, 5);
    CHECK_INTEQ(h.n, 2);
    CHECK(heap_ok(&h));

    /* a popped timer can be armed again at once, as a callback re-arming itself does */
    CHECK(timer_heap_pop_due(&h, 5) == &b);
    timer_heap_arm(&h, &b, 6);
    CHECK(timer_heap_pop_due(&h, 5) == NULL);
    CHECK(timer_heap_pop_due(&h, 6) == &b);
    CHECK(timer_heap_pop_due(&h, 24) == NULL);
    CHECK(timer_heap_pop_due(&h, 25) == &a);
    CHECK_INTEQ(h.n, 0);
    timer_heap_dispose(&h);
}

static void test_many(void)
{
    enum { N = 10000 };
    timer_heap_t h = {0};
    timer_heap_timer_t *t = calloc(N, sizeof(*t));
    /* equal times, descending times, then every other one cancelled */
    for (int i = 0; i < N; i++) {
        t[i] = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, NULL};
        timer_heap_arm(&h, &t[i], i < N / 2 ? 7 : (uint64_t)(N - i) * 3);
    }
    CHECK_INTEQ(h.n, N);
    CHECK(heap_ok(&h));
    for (int i = 0; i < N; i += 2)
        timer_heap_disarm(&h, &t[i]);
    CHECK_INTEQ(h.n, N / 2);
    CHECK(heap_ok(&h));
    uint64_t last = 0;
    int n = 0, sorted = 1;
    timer_heap_timer_t *x;
    while ((x = timer_heap_pop_due(&h, UINT64_MAX)) != NULL) {
        sorted &= x->at >= last && (x - t) % 2 == 1;
        last = x->at;
        n++;
    }
    CHECK(sorted);
    CHECK_INTEQ(n, N / 2);
    timer_heap_dispose(&h);
    free(t);
}

/* Random arms, re-arms, disarms and pops, against a model. */
static void test_random(void)
{
    enum { N = 64, OPS = 200000 };
    timer_heap_t h = {0};
    timer_heap_timer_t t[N];
    int armed[N] = {0};
    uint64_t at[N] = {0};
    for (int i = 0; i < N; i++)
        t[i] = (timer_heap_timer_t){0, TIMER_HEAP_IDLE, NULL};
    uint64_t rnd = 0x9e3779b97f4a7c15ULL, now = 0;
    int bad_model = 0, bad_heap = 0, bad_pop = 0;
    for (int op = 0; op < OPS; op++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        int i = (int)(rnd % N);
        switch ((rnd >> 8) % 4) {
        case 0:
        case 1: /* arm or move, often to a time already taken */
            at[i] = now + (rnd >> 16) % 50;
            armed[i] = 1;
            timer_heap_arm(&h, &t[i], at[i]);
            break;
        case 2:
            armed[i] = 0;
            timer_heap_disarm(&h, &t[i]);
            break;
        case 3: { /* time passes: exactly the due timers come out, earliest first */
            now += (rnd >> 16) % 20;
            uint64_t last = 0;
            timer_heap_timer_t *x;
            while ((x = timer_heap_pop_due(&h, now)) != NULL) {
                int k = (int)(x - t);
                bad_pop += !armed[k] || at[k] > now || at[k] < last;
                last = at[k];
                armed[k] = 0;
            }
            for (int k = 0; k < N; k++)
                bad_pop += armed[k] && at[k] <= now;
            break;
        }
        }
        size_t n = 0;
        uint64_t min = UINT64_MAX;
        for (int k = 0; k < N; k++) {
            bad_model += armed[k] != timer_heap_is_armed(&t[k]) || (armed[k] && t[k].at != at[k]);
            if (armed[k]) {
                n++;
                min = at[k] < min ? at[k] : min;
            }
        }
        bad_model += n != h.n || (n ? timer_heap_first(&h)->at != min : timer_heap_first(&h) != NULL);
        bad_heap += !heap_ok(&h);
    }
    CHECK_INTEQ(bad_model, 0);
    CHECK_INTEQ(bad_heap, 0);
    CHECK_INTEQ(bad_pop, 0);
    timer_heap_dispose(&h);
}

int main(void)
{
    test_order();
    test_cancel_and_rearm();
    test_many();
    test_random();
    return test_summary();
}
