/*
 * block_cache: per-thread free lists by size class, for a library that
 * allocates and frees a few small blocks on every request (nghttp2: a
 * stream, an outbound item, a header copy per call). One cache belongs to
 * one event loop, so there are no locks; blocks of 64..8192 bytes go back
 * to their class's list (up to a count and 128 KiB a class) instead of to
 * malloc, larger ones straight to malloc. Under ASan a cached block is poisoned, so a use after
 * free is still caught.
 */
#ifndef AG_BLOCK_CACHE_H
#define AG_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define BLOCK_CACHE_CLASSES 8 /* 64, 128, ..., 8192 bytes */

typedef struct block_cache {
    void *free[BLOCK_CACHE_CLASSES];
    uint32_t nfree[BLOCK_CACHE_CLASSES];
    uint32_t max_per_class;
    uint64_t reused, allocated; /* blocks handed out from a list / from malloc */
} block_cache_t;

void block_cache_init(block_cache_t *bc, uint32_t max_per_class);
/* The C library's contracts: NULL when out of memory; free(NULL) is nothing. */
void *block_cache_alloc(block_cache_t *bc, size_t n);
void *block_cache_calloc(block_cache_t *bc, size_t nmemb, size_t size);
void *block_cache_realloc(block_cache_t *bc, void *p, size_t n);
void block_cache_free(block_cache_t *bc, void *p);
/* Gives every cached block back to malloc; blocks still out stay valid. */
void block_cache_dispose(block_cache_t *bc);

#endif
