/*
 * route: maps an HTTP method and path onto one google.api.HttpRule template.
 *
 * The loader adds every rule's (method, template, target) once at start-up;
 * after that the table is read-only, so any number of worker threads may call
 * route_match() on it at once without locks. The module knows nothing about
 * protobuf: `target` is whatever the caller wants back (its method
 * descriptor), and variables come back as dotted field paths plus decoded
 * text for the caller to resolve and convert.
 *
 * Templates follow googleapis http.proto:
 *     Template = "/" Segments [ ":" Verb ] ;
 *     Segment  = "*" | "**" | LITERAL | "{" FieldPath [ "=" Segments ] "}" ;
 * `{x}` is `{x=*}`; `**` matches zero or more segments and must come last.
 *
 * Matching rules a caller can observe:
 *  - A literal segment beats a wildcard at the same depth, the leftmost
 *    difference deciding; when the literal branch dead-ends the wildcard is
 *    still tried, so "/a/b/d" reaches "/a/{x}/d" even next to "/a/b/c".
 *  - The path is matched first, the method second: the best path match
 *    (literal, then '*', then '**') that has any route decides, and if none
 *    of its routes has the method the answer is ROUTE_METHOD_NOT_ALLOWED
 *    with its methods, never a fall-through to a wildcard route of that
 *    method. So "GET /transactions/batch" (batch is POST-only) is a 405
 *    rather than GetTransaction with tx_hash "batch".
 *  - Matching runs on the still-encoded path split on '/', so "%2F" never
 *    splits a segment. Literals and verbs compare after percent-decoding
 *    ("pend%69ng" is "pending", as RFC 3986 makes them equivalent).
 *  - A one-segment variable is fully decoded ("%2F" becomes '/'). A variable
 *    over several segments keeps '/' as separator and leaves "%2F" encoded,
 *    so the caller can still tell the two apart (HttpRule's reserved
 *    expansion).
 *  - "/a/b/" does not match "/a/b": a trailing slash is an extra, empty
 *    segment, and an empty segment never matches '*' or a literal (only **).
 *  - A ":verb" is split off the last segment only when a route with that
 *    verb matches the path (for any method); otherwise the ':' stays part of
 *    the segment.
 *  - A malformed escape anywhere in the path, a path not starting with '/',
 *    or a path too large for the caller's arena is ROUTE_BAD_PATH (400).
 *  - Anything after '?' is ignored.
 */
#ifndef AG_ROUTE_H
#define AG_ROUTE_H

#include <stddef.h>
#include <stdio.h>
#include "core/arena.h"

/* Bounds the matcher's work and its on-stack state, whatever the path. */
#define ROUTE_MAX_SEGMENTS 64

typedef struct route_table route_table_t;

route_table_t *route_table_new(void);
void route_table_free(route_table_t *table);

/*
 * method is "GET", "POST", ... or any custom HTTP method token. Returns 0, or
 * -1 with a one-line reason in err: a malformed template (with the byte
 * offset), or a conflict with an earlier route of the same method and path
 * shape, which would otherwise make one of the two unreachable.
 */
int route_add(route_table_t *table, const char *method, const char *tmpl, void *target,
              char *err, size_t errlen);

typedef struct {
    const char *field_path; /* dotted, e.g. "a.b.c"; owned by the table */
    const char *value;      /* decoded; NOT NUL-terminated (may point into the path) */
    size_t value_len;
} route_var_t;

typedef struct {
    void *target;      /* ROUTE_FOUND: as given to route_add */
    const char *tmpl;  /* ROUTE_FOUND: the template that matched */
    route_var_t *vars; /* ROUTE_FOUND: one per variable, in template order */
    size_t nvars;
    const char *allow; /* ROUTE_METHOD_NOT_ALLOWED: "GET, POST" for the Allow header */
} route_match_t;

typedef enum {
    ROUTE_FOUND,
    ROUTE_NOT_FOUND,
    ROUTE_METHOD_NOT_ALLOWED,
    ROUTE_BAD_PATH,
} route_result_t;

/*
 * Takes memory only from `arena` (decoded values, the vars array, the allow
 * string); values needing no decoding point into `path`, which must
 * therefore outlive the use of `out`.
 */
route_result_t route_match(const route_table_t *table, const char *method, size_t method_len,
                           const char *path, size_t path_len, arena_t *arena,
                           route_match_t *out);

/* One line per route, in the order added, with its shape; for diagnostics. */
void route_table_dump(const route_table_t *table, FILE *f);

#endif
