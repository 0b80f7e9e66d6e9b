/*
 * timer_heap.c: the binary min-heap behind timer_heap.h. Every move of a
 * timer goes through heap_set, which keeps items[i]->idx == i, so arming
 * and disarming find a timer's slot without a search.
 */
#include "upstream/timer_heap.h"

#include <stdlib.h>

static void heap_set(timer_heap_t *h, size_t i, timer_heap_timer_t *t)
{
    h->items[i] = t;
    t->idx = i;
}

static void heap_up(timer_heap_t *h, size_t i)
{
    timer_heap_timer_t *t = h->items[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->items[p]->at <= t->at)
            break;
        heap_set(h, i, h->items[p]);
        i = p;
    }
    heap_set(h, i, t);
}

static void heap_down(timer_heap_t *h, size_t i)
{
    timer_heap_timer_t *t = h->items[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        timer_heap_timer_t *best = t;
        if (l < h->n && h->items[l]->at < best->at)
            best = h->items[m = l];
        if (l + 1 < h->n && h->items[l + 1]->at < best->at)
            best = h->items[m = l + 1];
        if (m == i)
            break;
        heap_set(h, i, best);
        i = m;
    }
    heap_set(h, i, t);
}

void timer_heap_disarm(timer_heap_t *h, timer_heap_timer_t *t)
{
    if (t->idx == TIMER_HEAP_IDLE)
        return;
    size_t i = t->idx;
    t->idx = TIMER_HEAP_IDLE;
    timer_heap_timer_t *last = h->items[--h->n];
    if (last != t) {
        heap_set(h, i, last);
        heap_up(h, i);
        heap_down(h, last->idx);
    }
}

int timer_heap_arm(timer_heap_t *h, timer_heap_timer_t *t, uint64_t at)
{
    if (t->idx != TIMER_HEAP_IDLE) {
        t->at = at;
        heap_up(h, t->idx);
        heap_down(h, t->idx);
        return 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        timer_heap_timer_t **items = realloc(h->items, cap * sizeof(*items));
        if (items == NULL)
            return -1;
        h->items = items;
        h->cap = cap;
    }
    t->at = at;
    heap_set(h, h->n, t);
    h->n++;
    heap_up(h, t->idx);
    return 0;
}

timer_heap_timer_t *timer_heap_pop_due(timer_heap_t *h, uint64_t now)
{
    if (h->n == 0 || h->items[0]->at > now)
        return NULL;
    timer_heap_timer_t *t = h->items[0];
    timer_heap_disarm(h, t);
    return t;
}

void timer_heap_dispose(timer_heap_t *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
