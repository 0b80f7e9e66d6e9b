/*
 * timer_heap: timers with arbitrary expiry times, in a binary min-heap, for
 * an event loop whose own timers (h2o 2.2's) only come in fixed intervals.
 *
 * A timer is a struct embedded in its owner; the heap only holds pointers to
 * them and never allocates, frees or calls one. A timer is armed (in the
 * heap, idx its position) or idle (idx == TIMER_HEAP_IDLE); arming an armed
 * timer moves it to its new time, disarming an idle one does nothing. The
 * owner asks for the earliest (timer_heap_first, what to wake up for) and
 * pops what is due (timer_heap_pop_due), then runs the timer's cb itself,
 * so a callback may arm and disarm timers, itself included, freely.
 * Timers of equal time come out in no particular order.
 *
 * Times are in whatever clock the owner uses (upstream: h2o_now()
 * milliseconds). A zeroed timer_heap_t is an empty heap. One owner, one
 * thread: no locks.
 */
#ifndef AG_UPSTREAM_TIMER_HEAP_H
#define AG_UPSTREAM_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define TIMER_HEAP_IDLE SIZE_MAX

typedef struct timer_heap_timer {
    uint64_t at;  /* expiry, absolute */
    size_t idx;   /* position in the heap, TIMER_HEAP_IDLE when not armed */
    void (*cb)(struct timer_heap_timer *t); /* the owner's: the heap never calls it */
} timer_heap_timer_t;

typedef struct timer_heap {
    timer_heap_timer_t **items; /* items[0] expires first; items[i]->idx == i */
    size_t n, cap;
} timer_heap_t;

static inline int timer_heap_is_armed(const timer_heap_timer_t *t)
{
    return t->idx != TIMER_HEAP_IDLE;
}

/* The armed timer that expires first, NULL when none is armed. */
static inline timer_heap_timer_t *timer_heap_first(const timer_heap_t *h)
{
    return h->n != 0 ? h->items[0] : NULL;
}

/* Arms t to expire at `at`, or moves it there; -1 when the heap cannot
 * grow (out of memory), with t left as it was. */
int timer_heap_arm(timer_heap_t *h, timer_heap_timer_t *t, uint64_t at);
void timer_heap_disarm(timer_heap_t *h, timer_heap_timer_t *t);
/* The first timer if it is due (at <= now), disarmed; NULL otherwise. */
timer_heap_timer_t *timer_heap_pop_due(timer_heap_t *h, uint64_t now);
/* Frees the heap's array; timers still armed are left as they are. */
void timer_heap_dispose(timer_heap_t *h);

#endif
