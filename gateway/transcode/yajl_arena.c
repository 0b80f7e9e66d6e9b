/* yajl_arena.c: the three allocator hooks yajl takes. */
#include "transcode/yajl_arena.h"

static void *yajl_arena_malloc(void *ctx, size_t size)
{
    size_t *p = arena_alloc(ctx, size + 16);
    if (p == NULL)
        return NULL;
    p[0] = size;
    return (char *)p + 16;
}

static void *yajl_arena_realloc(void *ctx, void *old, size_t size)
{
    if (old == NULL)
        return yajl_arena_malloc(ctx, size);
    size_t *h = (size_t *)((char *)old - 16);
    size_t *p = arena_realloc(ctx, h, h[0] + 16, size + 16);
    if (p == NULL)
        return NULL;
    p[0] = size;
    return (char *)p + 16;
}

static void yajl_arena_free(void *ctx, void *ptr)
{
    (void)ctx;
    (void)ptr;
}

yajl_alloc_funcs yajl_arena_funcs(arena_t *a)
{
    return (yajl_alloc_funcs){yajl_arena_malloc, yajl_arena_realloc, yajl_arena_free, a};
}
