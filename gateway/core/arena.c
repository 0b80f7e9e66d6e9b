/*
 * arena.c: bump allocation in blocks that double in size, so a request that
 * needs more than the first block pays O(log n) mallocs, and the common
 * request, served from the embedded first block, pays none.
 */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block_t *next;
    size_t size;
    /* payload follows, 16-byte aligned */
} __attribute__((aligned(16)));

#define ARENA_MIN_BLOCK 4096

void arena_init_with(arena_t *a, void *buf, size_t size)
{
    a->first = buf;
    a->first_size = buf ? size : 0;
    a->cur = buf;
    a->end = buf ? (char *)buf + size : NULL;
    a->blocks = NULL;
    a->limit = 0;
    a->used = 0;
}

void arena_reset(arena_t *a)
{
    arena_block_t *b = a->blocks;
    /* Keep the newest (largest) heap block when there is no embedded one:
     * a worker reusing the arena then stops paying malloc after warm-up. */
    arena_block_t *keep = NULL;
    if (a->first == NULL && b != NULL) {
        keep = b;
        b = b->next;
        keep->next = NULL;
    }
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = keep;
    if (keep) {
        a->cur = (char *)(keep + 1);
        a->end = a->cur + keep->size;
    } else {
        a->cur = a->first;
        a->end = a->first ? a->first + a->first_size : NULL;
    }
    a->used = 0;
}

void arena_free(arena_t *a)
{
    arena_block_t *b = a->blocks;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->cur = a->first;
    a->end = a->first ? a->first + a->first_size : NULL;
    a->used = 0;
}

void *arena_alloc_slow(arena_t *a, size_t size, size_t align)
{
    if (size > SIZE_MAX / 2 - align)
        return NULL;
    if (a->limit != 0 && (a->used + size + align > a->limit))
        return NULL;
    size_t last = a->blocks ? a->blocks->size : (a->first_size ? a->first_size : ARENA_MIN_BLOCK / 2);
    size_t bsize = last * 2;
    if (bsize < ARENA_MIN_BLOCK)
        bsize = ARENA_MIN_BLOCK;
    while (bsize < size + align)
        bsize *= 2;
    arena_block_t *b = malloc(sizeof(*b) + bsize);
    if (b == NULL)
        return NULL;
    b->size = bsize;
    b->next = a->blocks;
    a->blocks = b;
    a->cur = (char *)(b + 1);
    a->end = a->cur + bsize;
    return arena_alloc_aligned(a, size, align);
}

void *arena_memdup(arena_t *a, const void *src, size_t len)
{
    void *p = arena_alloc_aligned(a, len ? len : 1, 1);
    if (p && len)
        memcpy(p, src, len);
    return p;
}

char *arena_strndup(arena_t *a, const char *src, size_t len)
{
    char *p = arena_alloc_aligned(a, len + 1, 1);
    if (p) {
        memcpy(p, src, len);
        p[len] = '\0';
    }
    return p;
}

void *arena_realloc(arena_t *a, void *old, size_t old_size, size_t new_size)
{
    if (old != NULL && (char *)old + old_size == a->cur && (char *)old + new_size <= a->end) {
        size_t extra = new_size > old_size ? new_size - old_size : 0;
        if (a->limit != 0 && a->used + extra > a->limit)
            return NULL;
        a->used += extra;
        a->cur = (char *)old + new_size;
        return old;
    }
    void *p = arena_alloc(a, new_size);
    if (p && old)
        memcpy(p, old, old_size < new_size ? old_size : new_size);
    return p;
}
