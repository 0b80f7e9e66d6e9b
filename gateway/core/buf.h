/*
 * buf: a growable byte buffer for output (protobuf wire bytes, JSON text).
 *
 * Storage comes from an arena, so a buffer that outgrows itself copies once
 * into a bigger arena block and leaves the old one to the arena's reset.
 * A failed growth (arena limit reached) latches `oom`; writers check it once
 * at the end instead of after every append.
 */
#ifndef AG_BUF_H
#define AG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/arena.h"

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    arena_t *arena;
    int oom;
} buf_t;

void buf_init(buf_t *b, arena_t *a, size_t initial);
/* Makes room for n more bytes; 0 on success, -1 (and oom set) on failure. */
int buf_reserve_slow(buf_t *b, size_t n);

static inline int buf_reserve(buf_t *b, size_t n)
{
    return (b->cap - b->len >= n) ? 0 : buf_reserve_slow(b, n);
}

static inline void buf_append(buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) == 0) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

static inline void buf_putc(buf_t *b, char c)
{
    if (buf_reserve(b, 1) == 0)
        b->data[b->len++] = c;
}

#define buf_puts_lit(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

static inline void buf_puts(buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

/* printf-style append, for the cold paths (errors). */
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
