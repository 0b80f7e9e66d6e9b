/* block_cache: size classes, reuse, the cap, realloc/calloc contracts, dispose. */
#include "core/block_cache.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_reuse_by_class(void)
{
    block_cache_t bc;
    block_cache_init(&bc, 4);
    char *a = block_cache_alloc(&bc, 100); /* the 128-byte class */
    CHECK(a != NULL);
    CHECK(((uintptr_t)a & 15) == 0);
    memset(a, 'x', 128);
    block_cache_free(&bc, a);
    CHECK_INTEQ(bc.nfree[1], 1);
    char *b = block_cache_alloc(&bc, 65); /* same class: the same block back */
    CHECK(b == a);
    CHECK_INTEQ(bc.reused, 1);
    char *c = block_cache_alloc(&bc, 64); /* the 64-byte class: a new one */
    CHECK(c != NULL && c != a);
    CHECK_INTEQ(bc.allocated, 2);
    block_cache_free(&bc, b);
    block_cache_free(&bc, c);
    block_cache_free(&bc, NULL);
    block_cache_dispose(&bc);
    CHECK_INTEQ(bc.nfree[0] + bc.nfree[1], 0);
}

static void test_cap_and_big(void)
{
    block_cache_t bc;
    block_cache_init(&bc, 2);
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = block_cache_alloc(&bc, 200);
    for (int i = 0; i < 5; i++)
        block_cache_free(&bc, p[i]);
    CHECK_INTEQ(bc.nfree[2], 2); /* the rest went to free() */
    void *big = block_cache_alloc(&bc, 100000);
    CHECK(big != NULL);
    memset(big, 1, 100000);
    block_cache_free(&bc, big); /* too big to keep */
    for (int i = 0; i < 8; i++)
        CHECK(i == 2 ? bc.nfree[i] == 2 : bc.nfree[i] == 0);
    CHECK(block_cache_alloc(&bc, SIZE_MAX - 8) == NULL);
    block_cache_dispose(&bc);
}

static void test_byte_budget(void)
{
    block_cache_t bc;
    block_cache_init(&bc, 1000);
    void *p[40];
    for (int i = 0; i < 40; i++)
        p[i] = block_cache_alloc(&bc, 8000); /* the 8 KiB class */
    for (int i = 0; i < 40; i++)
        block_cache_free(&bc, p[i]);
    CHECK_INTEQ(bc.nfree[7], 16); /* 16 x 8 KiB = the 128 KiB a class may keep */
    block_cache_dispose(&bc);
}

static void test_realloc_calloc(void)
{
    block_cache_t bc;
    block_cache_init(&bc, 8);
    char *p = block_cache_realloc(&bc, NULL, 10);
    CHECK(p != NULL);
    memcpy(p, "0123456789", 10);
    CHECK(block_cache_realloc(&bc, p, 60) == p); /* still fits its 64 bytes */
    char *q = block_cache_realloc(&bc, p, 5000);
    CHECK(q != NULL && memcmp(q, "0123456789", 10) == 0);
    q = block_cache_realloc(&bc, q, 20000); /* class to big */
    CHECK(q != NULL && memcmp(q, "0123456789", 10) == 0);
    block_cache_free(&bc, q);

    char *z = block_cache_alloc(&bc, 300);
    memset(z, 0xab, 300);
    block_cache_free(&bc, z);
    char *y = block_cache_calloc(&bc, 30, 10); /* reuses z's block: must come back zeroed */
    CHECK(y == z);
    int zero = 1;
    for (int i = 0; i < 300; i++)
        zero &= y[i] == 0;
    CHECK(zero);
    CHECK(block_cache_calloc(&bc, SIZE_MAX / 2, 4) == NULL);
    block_cache_free(&bc, y);
    block_cache_dispose(&bc);
}

int main(void)
{
    test_reuse_by_class();
    test_cap_and_big();
    test_byte_budget();
    test_realloc_calloc();
    return test_summary();
}
