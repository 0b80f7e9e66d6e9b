/*
 * arena: a bump allocator tied to one lifetime (a request, a load).
 *
 * Everything a request needs is carved out of its arena and released at
 * once by arena_reset(); nothing is freed one object at a time, so nothing
 * can leak when a request dies early. The first block lives inside the
 * arena_t itself when the caller embeds one with arena_init_with(), which is
 * how the common request stays free of malloc.
 */
#ifndef AG_ARENA_H
#define AG_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct arena_block arena_block_t;

typedef struct arena {
    char *cur;              /* next free byte in the current block */
    char *end;              /* end of the current block */
    arena_block_t *blocks;  /* heap blocks, newest first (freed on reset) */
    char *first;            /* caller-supplied first block, reused forever */
    size_t first_size;
    size_t limit;           /* total bytes this arena may hand out; 0 = none */
    size_t used;            /* bytes handed out since the last reset */
} arena_t;

/* An arena whose first block is `buf` (may be NULL/0). */
void arena_init_with(arena_t *a, void *buf, size_t size);
static inline void arena_init(arena_t *a) { arena_init_with(a, NULL, 0); }
/* Frees heap blocks and rewinds to the first block. */
void arena_reset(arena_t *a);
void arena_free(arena_t *a);

/* NULL when the arena's limit would be passed or memory is exhausted. */
void *arena_alloc_slow(arena_t *a, size_t size, size_t align);

static inline void *arena_alloc_aligned(arena_t *a, size_t size, size_t align)
{
    uintptr_t p = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
    if (p + size <= (uintptr_t)a->end && p >= (uintptr_t)a->cur) {
        a->used += (p + size) - (uintptr_t)a->cur;
        if (a->limit == 0 || a->used <= a->limit) {
            a->cur = (char *)(p + size);
            return (void *)p;
        }
        a->used -= (p + size) - (uintptr_t)a->cur;
        return NULL;
    }
    return arena_alloc_slow(a, size, align);
}

static inline void *arena_alloc(arena_t *a, size_t size)
{
    return arena_alloc_aligned(a, size, 16);
}

void *arena_memdup(arena_t *a, const void *src, size_t len);
/* Copies len bytes and appends a NUL. */
char *arena_strndup(arena_t *a, const char *src, size_t len);
/* Grows the most recent allocation in place when it is last; else copies. */
void *arena_realloc(arena_t *a, void *old, size_t old_size, size_t new_size);

#endif
