/* buf.c: growth policy and the cold formatted append. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>

void buf_init(buf_t *b, arena_t *a, size_t initial)
{
    b->arena = a;
    b->len = 0;
    b->oom = 0;
    b->data = initial ? arena_alloc_aligned(a, initial, 1) : NULL;
    b->cap = b->data ? initial : 0;
    if (initial && b->data == NULL)
        b->oom = 1;
}

int buf_reserve_slow(buf_t *b, size_t n)
{
    if (b->oom)
        return -1;
    size_t need = b->len + n;
    if (need < b->len) {
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = arena_realloc(b->arena, b->data, b->len, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
