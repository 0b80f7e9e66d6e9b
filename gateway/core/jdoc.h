/*
 * jdoc: a JSON document built as a tree, then written as JSON or as YAML.
 *
 * For documents made once at start (the OpenAPI description), where the
 * two spellings must say the same thing: both writers walk one tree. Nodes
 * live in the document's arena; objects keep their keys in insertion order
 * and each key once (jdoc_set replaces). Allocation failure latches `oom`
 * and the builders go on as no-ops on NULL, so a builder checks once at the
 * end, as buf_t's writers do.
 */
#ifndef AG_JDOC_H
#define AG_JDOC_H

#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/buf.h"

typedef struct jdoc_node jdoc_node_t;

typedef struct jdoc {
    arena_t arena;
    int oom;
} jdoc_t;

void jdoc_init(jdoc_t *d);
void jdoc_free(jdoc_t *d);

jdoc_node_t *jdoc_object(jdoc_t *d);
jdoc_node_t *jdoc_array(jdoc_t *d);
/* Strings are copied; invalid UTF-8 is written as U+FFFD. */
jdoc_node_t *jdoc_string(jdoc_t *d, const char *s);
jdoc_node_t *jdoc_stringn(jdoc_t *d, const char *s, size_t len);
jdoc_node_t *jdoc_int(jdoc_t *d, int64_t v);
jdoc_node_t *jdoc_bool(jdoc_t *d, int v);
jdoc_node_t *jdoc_null(jdoc_t *d);

/* obj[key] = v (a later set of the same key replaces the value in place);
 * returns v. */
jdoc_node_t *jdoc_set(jdoc_t *d, jdoc_node_t *obj, const char *key, jdoc_node_t *v);
/* obj[key], or NULL. */
jdoc_node_t *jdoc_get(const jdoc_node_t *obj, const char *key);
/* obj[key] when it is there, else a new empty object set there. */
jdoc_node_t *jdoc_child(jdoc_t *d, jdoc_node_t *obj, const char *key);
/* Appends v to arr; returns v. */
jdoc_node_t *jdoc_push(jdoc_t *d, jdoc_node_t *arr, jdoc_node_t *v);
/* A string node's text (NUL-terminated), else NULL. */
const char *jdoc_text(const jdoc_node_t *n);
/* Entries of an object or elements of an array (0 for anything else). */
size_t jdoc_size(const jdoc_node_t *n);

/* Compact JSON, or block-style YAML 1.2 (strings plain where they cannot
 * be read as anything else, double-quoted otherwise). */
void jdoc_write_json(const jdoc_node_t *n, buf_t *out);
void jdoc_write_yaml(const jdoc_node_t *n, buf_t *out);

#endif
