/*
 * yajl_arena: hands yajl its memory from a request arena, so a parse costs
 * no malloc and leaves nothing to free. yajl's realloc needs the old size,
 * so every block carries it in a 16-byte header.
 */
#ifndef AG_YAJL_ARENA_H
#define AG_YAJL_ARENA_H

#include <yajl/yajl_common.h>
#include "core/arena.h"

yajl_alloc_funcs yajl_arena_funcs(arena_t *a);

#endif
