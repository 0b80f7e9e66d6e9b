#include "core/block_cache.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define AG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AG_ASAN 1
#endif
#endif
#ifdef AG_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MIN_SHIFT 6 /* 64 bytes */
#define BIG UINT32_MAX
#define CLASS_BYTES (128u << 10)

/* Before every block; 16 bytes keep malloc's alignment for what follows. */
typedef struct header {
    size_t cap;   /* bytes usable after the header */
    uint32_t cls; /* size class, or BIG */
    uint32_t pad;
} header_t;

static header_t *header_of(void *p) { return (header_t *)p - 1; }

/* Takes the first block off a class's list (which is not empty). */
static header_t *pop(block_cache_t *bc, uint32_t cls)
{
    header_t *h = bc->free[cls];
    UNPOISON(h, sizeof(*h));
    UNPOISON(h + 1, h->cap);
    memcpy(&bc->free[cls], h + 1, sizeof(void *));
    bc->nfree[cls]--;
    return h;
}

static uint32_t class_of(size_t n)
{
    if (n <= ((size_t)1 << MIN_SHIFT))
        return 0;
    unsigned bits = 64u - (unsigned)__builtin_clzll((unsigned long long)(n - 1)); /* ceil(log2 n) */
    uint32_t cls = bits - MIN_SHIFT;
    return cls < BLOCK_CACHE_CLASSES ? cls : BIG;
}

void block_cache_init(block_cache_t *bc, uint32_t max_per_class)
{
    memset(bc, 0, sizeof(*bc));
    bc->max_per_class = max_per_class;
}

void *block_cache_alloc(block_cache_t *bc, size_t n)
{
    uint32_t cls = class_of(n);
    if (cls != BIG && bc->free[cls] != NULL) {
        bc->reused++;
        return pop(bc, cls) + 1;
    }
    size_t cap = cls != BIG ? (size_t)1 << (cls + MIN_SHIFT) : n;
    if (cap > SIZE_MAX - sizeof(header_t))
        return NULL;
    header_t *h = malloc(sizeof(*h) + cap);
    if (h == NULL)
        return NULL;
    h->cap = cap;
    h->cls = cls;
    bc->allocated++;
    return h + 1;
}

void *block_cache_calloc(block_cache_t *bc, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = block_cache_alloc(bc, nmemb * size);
    if (p != NULL)
        memset(p, 0, nmemb * size);
    return p;
}

void block_cache_free(block_cache_t *bc, void *p)
{
    if (p == NULL)
        return;
    header_t *h = header_of(p);
    /* a burst must not leave megabytes behind: a class keeps at most
     * max_per_class blocks and CLASS_BYTES bytes */
    if (h->cls == BIG || bc->nfree[h->cls] >= bc->max_per_class ||
        ((size_t)bc->nfree[h->cls] + 1) * h->cap > CLASS_BYTES) {
        free(h);
        return;
    }
    memcpy(p, &bc->free[h->cls], sizeof(void *));
    bc->free[h->cls] = h;
    bc->nfree[h->cls]++;
    POISON(h, sizeof(*h) + h->cap);
}

void *block_cache_realloc(block_cache_t *bc, void *p, size_t n)
{
    if (p == NULL)
        return block_cache_alloc(bc, n);
    size_t cap = header_of(p)->cap;
    if (n <= cap)
        return p;
    void *q = block_cache_alloc(bc, n);
    if (q == NULL)
        return NULL; /* p stays valid, as realloc leaves it */
    memcpy(q, p, cap);
    block_cache_free(bc, p);
    return q;
}

void block_cache_dispose(block_cache_t *bc)
{
    for (size_t cls = 0; cls < BLOCK_CACHE_CLASSES; cls++) {
        while (bc->free[cls] != NULL)
            free(pop(bc, (uint32_t)cls));
    }
}
