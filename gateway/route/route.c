/*
 * route.c: a trie over path segments, searched without recursion.
 *
 * Every trie node sits at a fixed depth, and `**` may only end a template,
 * so the node at depth d is only ever compared with path segment d. That
 * makes a full backtracking search visit each node at most once (no blow-up
 * however the routes overlap), and lets the search climb back through parent
 * pointers instead of keeping a stack. The path is split only as deep as the
 * deepest template, so a path of 10k segments costs a few memchr scans.
 *
 * Variables are not stored in the trie: two routes can share the node for
 * `/v1/{a}` and `/v1/{b}/x`. Each route keeps its own bindings as segment
 * ranges, and the values are cut out of the path once the winner is known.
 */
#include "route/route.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Methods are interned to small ids so the Allow set fits one word. */
#define ROUTE_MAX_METHODS 64

typedef enum { SEG_LITERAL, SEG_STAR, SEG_DSTAR } seg_kind_t;

typedef struct route_node route_node_t;

typedef struct {
    char *key; /* decoded literal */
    size_t len;
    route_node_t *child;
} literal_edge_t;

typedef struct {
    char *field_path;
    size_t first_seg;
    size_t nsegs;  /* template segments between the braces */
    bool to_end;   /* ends in `**`: the value runs to the end of the path */
} binding_t;

typedef struct {
    const char *method; /* interned in the table */
    int method_id;
    char *tmpl;
    char *shape; /* the template with variables erased; equal shapes conflict */
    char *verb;  /* decoded; NULL when the template has none */
    size_t verb_len;
    void *target;
    binding_t *bindings;
    size_t nbindings;
} route_entry_t;

struct route_node {
    route_node_t *parent;
    seg_kind_t kind; /* how the parent reaches this node */
    literal_edge_t *literals; /* sorted by (len, bytes) for binary search */
    size_t nliterals;
    route_node_t *star;
    route_node_t *dstar; /* a leaf: `**` is always last */
    route_entry_t **routes; /* routes whose template ends here */
    size_t nroutes;
};

struct route_table {
    route_node_t *root;
    route_node_t **nodes; /* every node, so freeing needs no recursion */
    size_t nnodes;
    route_entry_t **routes; /* in the order added, for dumps */
    size_t nroutes;
    char *methods[ROUTE_MAX_METHODS];
    size_t method_lens[ROUTE_MAX_METHODS];
    int method_order[ROUTE_MAX_METHODS]; /* ids sorted by name: a stable Allow */
    size_t nmethods;
    size_t max_segs; /* deepest template: how far a path needs splitting */
    bool has_verbs;
};

/* ---- small helpers ------------------------------------------------------ */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_valid_escape(const char *s, size_t len, size_t i)
{
    return i + 2 < len && hex_value((unsigned char)s[i + 1]) >= 0 &&
           hex_value((unsigned char)s[i + 2]) >= 0;
}

/* Offset of the first malformed escape, or len when all are well formed. */
static size_t find_bad_escape(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - s);
        if (!is_valid_escape(s, len, i))
            return i;
        p += 3;
    }
    return len;
}

/*
 * Escapes are validated before any decoding, so every '%' here has two hex
 * digits after it. With keep_slash, "%2F" stays encoded (normalised to upper
 * case) so that a multi-segment value still tells data slashes from
 * separators.
 */
static size_t percent_decode(char *dst, const char *src, size_t len, bool keep_slash)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] != '%') {
            dst[out++] = src[i];
            continue;
        }
        int c = hex_value((unsigned char)src[i + 1]) << 4 | hex_value((unsigned char)src[i + 2]);
        if (keep_slash && c == '/') {
            memcpy(dst + out, "%2F", 3);
            out += 3;
        } else {
            dst[out++] = (char)c;
        }
        i += 2;
    }
    return out;
}

/* Length first: most probes then end without touching the bytes. Path
 * segments are short, so a plain loop beats a call into memcmp. */
static inline int key_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    for (size_t i = 0; i < alen; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    }
    return 0;
}

static const char *find_last(const char *s, size_t len, char c) { return memrchr(s, c, len); }

static void set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_range(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* ---- template parsing --------------------------------------------------- */

typedef struct {
    seg_kind_t kind;
    const char *literal; /* decoded, in parser_t.scratch */
    size_t literal_len;
} tmpl_seg_t;

typedef struct {
    const char *field_path; /* points into the template */
    size_t field_path_len;
    size_t first_seg;
    size_t nsegs;
    bool to_end;
} tmpl_binding_t;

typedef struct {
    const char *src;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
    char *scratch; /* decoded literals; never longer than the template */
    size_t scratch_used;
    tmpl_seg_t segs[ROUTE_MAX_SEGMENTS];
    size_t nsegs;
    tmpl_binding_t bindings[ROUTE_MAX_SEGMENTS];
    size_t nbindings;
    const char *verb;
    size_t verb_len;
} parser_t;

static int parse_fail(parser_t *p, size_t offset, const char *why)
{
    set_error(p->err, p->errlen, "invalid template \"%s\": %s at offset %zu", p->src, why,
              offset);
    return -1;
}

static bool at_end(const parser_t *p)
{
    return p->pos >= p->len;
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* A literal (or verb) runs until a character with meaning in the grammar. */
static int parse_literal(parser_t *p, bool in_variable, const char **out, size_t *out_len)
{
    size_t start = p->pos;
    for (; !at_end(p); p->pos++) {
        unsigned char c = (unsigned char)p->src[p->pos];
        if (c == '/' || c == ':' || (in_variable && c == '}'))
            break;
        if (c <= 0x20 || c == 0x7f || c == '{' || c == '}' || c == '*' || c == '?' || c == '#')
            return parse_fail(p, p->pos, "unexpected character");
        if (c == '%' && !is_valid_escape(p->src, p->len, p->pos))
            return parse_fail(p, p->pos, "malformed percent escape");
    }
    if (p->pos == start)
        return parse_fail(p, start, "empty segment");
    char *dst = p->scratch + p->scratch_used;
    size_t n = percent_decode(dst, p->src + start, p->pos - start, false);
    if (memchr(dst, '/', n) != NULL)
        return parse_fail(p, start, "encoded '/' in literal");
    p->scratch_used += n;
    *out = dst;
    *out_len = n;
    return 0;
}

static int parse_segments(parser_t *p, bool in_variable);

static int parse_variable(parser_t *p)
{
    size_t open = p->pos++;
    size_t path_start = p->pos;
    for (;;) {
        if (at_end(p))
            return parse_fail(p, open, "unterminated variable");
        if (!is_ident_start(p->src[p->pos]))
            return parse_fail(p, p->pos, "invalid field path");
        while (!at_end(p) && is_ident_char(p->src[p->pos]))
            p->pos++;
        if (at_end(p) || p->src[p->pos] != '.')
            break;
        p->pos++;
    }
    size_t path_len = p->pos - path_start;
    for (size_t i = 0; i < p->nbindings; i++) {
        if (key_compare(p->bindings[i].field_path, p->bindings[i].field_path_len,
                        p->src + path_start, path_len) == 0)
            return parse_fail(p, path_start, "duplicate variable");
    }

    size_t first_seg = p->nsegs;
    if (!at_end(p) && p->src[p->pos] == '=') {
        p->pos++;
        if (parse_segments(p, true) != 0)
            return -1;
    } else {
        if (p->nsegs == ROUTE_MAX_SEGMENTS)
            return parse_fail(p, open, "too many segments");
        p->segs[p->nsegs++] = (tmpl_seg_t){.kind = SEG_STAR};
    }
    if (at_end(p))
        return parse_fail(p, open, "unterminated variable");
    if (p->src[p->pos] != '}')
        return parse_fail(p, p->pos, "expected '}'");
    p->pos++;

    p->bindings[p->nbindings++] = (tmpl_binding_t){
        .field_path = p->src + path_start,
        .field_path_len = path_len,
        .first_seg = first_seg,
        .nsegs = p->nsegs - first_seg,
        .to_end = p->segs[p->nsegs - 1].kind == SEG_DSTAR,
    };
    return 0;
}

static int parse_segment(parser_t *p, bool in_variable)
{
    if (p->nsegs > 0 && p->segs[p->nsegs - 1].kind == SEG_DSTAR)
        return parse_fail(p, p->pos, "'**' must be the last segment");
    if (p->nsegs == ROUTE_MAX_SEGMENTS)
        return parse_fail(p, p->pos, "too many segments");
    if (at_end(p))
        return parse_fail(p, p->pos, "empty segment");

    const char *s = p->src;
    if (s[p->pos] == '{') {
        if (in_variable)
            return parse_fail(p, p->pos, "nested variable");
        return parse_variable(p);
    }
    if (s[p->pos] == '*') {
        size_t start = p->pos;
        seg_kind_t kind = SEG_STAR;
        p->pos++;
        if (!at_end(p) && s[p->pos] == '*') {
            kind = SEG_DSTAR;
            p->pos++;
        }
        if (!at_end(p) && s[p->pos] != '/' && s[p->pos] != ':' &&
            !(in_variable && s[p->pos] == '}'))
            return parse_fail(p, start, "'*' must be a whole segment");
        p->segs[p->nsegs++] = (tmpl_seg_t){.kind = kind};
        return 0;
    }
    tmpl_seg_t *seg = &p->segs[p->nsegs];
    seg->kind = SEG_LITERAL;
    if (parse_literal(p, in_variable, &seg->literal, &seg->literal_len) != 0)
        return -1;
    p->nsegs++;
    return 0;
}

static int parse_segments(parser_t *p, bool in_variable)
{
    for (;;) {
        if (parse_segment(p, in_variable) != 0)
            return -1;
        if (at_end(p) || p->src[p->pos] != '/')
            return 0;
        p->pos++;
    }
}

static int parse_template(parser_t *p)
{
    if (p->len == 0 || p->src[0] != '/')
        return parse_fail(p, 0, "must start with '/'");
    p->pos = 1;
    if (parse_segments(p, false) != 0)
        return -1;
    if (!at_end(p) && p->src[p->pos] == ':') {
        p->pos++;
        if (at_end(p))
            return parse_fail(p, p->pos, "empty verb");
        if (parse_literal(p, false, &p->verb, &p->verb_len) != 0)
            return -1;
    }
    if (!at_end(p))
        return parse_fail(p, p->pos, "unexpected character");
    return 0;
}

/* ---- building ----------------------------------------------------------- */

static route_node_t *node_new(route_table_t *t, route_node_t *parent, seg_kind_t kind)
{
    route_node_t **nodes = realloc(t->nodes, (t->nnodes + 1) * sizeof(*nodes));
    if (nodes == NULL)
        return NULL;
    t->nodes = nodes;
    route_node_t *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->parent = parent;
    n->kind = kind;
    t->nodes[t->nnodes++] = n;
    return n;
}

/* Index of the edge for key, or of where it would be inserted (*found false). */
static size_t literal_position(const route_node_t *n, const char *key, size_t len, bool *found)
{
    size_t lo = 0, hi = n->nliterals;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_compare(n->literals[mid].key, n->literals[mid].len, key, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static route_node_t *literal_child(route_table_t *t, route_node_t *n, const char *key, size_t len)
{
    bool found;
    size_t at = literal_position(n, key, len, &found);
    if (found)
        return n->literals[at].child;

    literal_edge_t *edges = realloc(n->literals, (n->nliterals + 1) * sizeof(*edges));
    if (edges == NULL)
        return NULL;
    n->literals = edges;
    char *copy = dup_range(key, len);
    route_node_t *child = copy ? node_new(t, n, SEG_LITERAL) : NULL;
    if (child == NULL) {
        free(copy);
        return NULL;
    }
    memmove(&edges[at + 1], &edges[at], (n->nliterals - at) * sizeof(*edges));
    edges[at] = (literal_edge_t){.key = copy, .len = len, .child = child};
    n->nliterals++;
    return child;
}

static route_node_t *wildcard_child(route_table_t *t, route_node_t *n, seg_kind_t kind)
{
    route_node_t **slot = kind == SEG_STAR ? &n->star : &n->dstar;
    if (*slot == NULL)
        *slot = node_new(t, n, kind);
    return *slot;
}

static bool is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int intern_method(route_table_t *t, const char *method)
{
    size_t len = strlen(method);
    for (size_t i = 0; i < t->nmethods; i++) {
        if (key_compare(t->methods[i], t->method_lens[i], method, len) == 0)
            return (int)i;
    }
    if (t->nmethods == ROUTE_MAX_METHODS)
        return -1;
    char *copy = dup_range(method, len);
    if (copy == NULL)
        return -1;
    int id = (int)t->nmethods++;
    t->methods[id] = copy;
    t->method_lens[id] = len;
    size_t at = (size_t)id;
    while (at > 0 && strcmp(t->methods[t->method_order[at - 1]], copy) > 0) {
        t->method_order[at] = t->method_order[at - 1];
        at--;
    }
    t->method_order[at] = id;
    return id;
}

/* The template with each variable erased to its pattern ("{id}" becomes "*"). */
static char *build_shape(const parser_t *p)
{
    size_t len = 1 + p->verb_len;
    for (size_t i = 0; i < p->nsegs; i++)
        len += 3 + p->segs[i].literal_len;
    char *shape = malloc(len + 1), *w = shape;
    if (shape == NULL)
        return NULL;
    for (size_t i = 0; i < p->nsegs; i++) {
        *w++ = '/';
        if (p->segs[i].kind == SEG_LITERAL) {
            memcpy(w, p->segs[i].literal, p->segs[i].literal_len);
            w += p->segs[i].literal_len;
        } else {
            *w++ = '*';
            if (p->segs[i].kind == SEG_DSTAR)
                *w++ = '*';
        }
    }
    if (p->verb != NULL) {
        *w++ = ':';
        memcpy(w, p->verb, p->verb_len);
        w += p->verb_len;
    }
    *w = '\0';
    return shape;
}

static void entry_free(route_entry_t *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->nbindings; i++)
        free(e->bindings[i].field_path);
    free(e->bindings);
    free(e->tmpl);
    free(e->shape);
    free(e->verb);
    free(e);
}

static route_entry_t *entry_new(const parser_t *p, const char *method, int method_id,
                                void *target)
{
    route_entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->method = method;
    e->method_id = method_id;
    e->target = target;
    e->tmpl = dup_range(p->src, p->len);
    e->shape = build_shape(p);
    bool ok = e->tmpl != NULL && e->shape != NULL;
    if (ok && p->verb != NULL) {
        e->verb = dup_range(p->verb, p->verb_len);
        e->verb_len = p->verb_len;
        ok = e->verb != NULL;
    }
    if (ok && p->nbindings > 0) {
        e->bindings = calloc(p->nbindings, sizeof(*e->bindings));
        ok = e->bindings != NULL;
        for (size_t i = 0; ok && i < p->nbindings; i++) {
            const tmpl_binding_t *b = &p->bindings[i];
            e->bindings[i] = (binding_t){
                .field_path = dup_range(b->field_path, b->field_path_len),
                .first_seg = b->first_seg,
                .nsegs = b->nsegs,
                .to_end = b->to_end,
            };
            e->nbindings++;
            ok = e->bindings[i].field_path != NULL;
        }
    }
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    return e;
}

static bool verb_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (a == NULL || b == NULL)
        return a == b;
    return key_compare(a, alen, b, blen) == 0;
}

static int add_parsed(route_table_t *t, const parser_t *p, const char *method, void *target,
                      char *err, size_t errlen)
{
    int method_id = intern_method(t, method);
    if (method_id < 0) {
        set_error(err, errlen, "route \"%s %s\": too many distinct methods (max %d)", method,
                  p->src, ROUTE_MAX_METHODS);
        return -1;
    }

    /* Before any node exists at the new depth: the matcher trusts max_segs to
     * cover every node, even ones a failed add leaves behind. */
    if (p->nsegs > t->max_segs)
        t->max_segs = p->nsegs;

    route_node_t *node = t->root;
    for (size_t i = 0; node != NULL && i < p->nsegs; i++) {
        const tmpl_seg_t *s = &p->segs[i];
        node = s->kind == SEG_LITERAL ? literal_child(t, node, s->literal, s->literal_len)
                                      : wildcard_child(t, node, s->kind);
    }
    if (node == NULL)
        goto oom;

    for (size_t i = 0; i < node->nroutes; i++) {
        const route_entry_t *other = node->routes[i];
        if (other->method_id == method_id &&
            verb_equal(other->verb, other->verb_len, p->verb, p->verb_len)) {
            set_error(err, errlen, "route \"%s %s\" conflicts with \"%s %s\" (same path shape)",
                      method, p->src, other->method, other->tmpl);
            return -1;
        }
    }

    route_entry_t **at_node = realloc(node->routes, (node->nroutes + 1) * sizeof(*at_node));
    if (at_node == NULL)
        goto oom;
    node->routes = at_node;
    route_entry_t **all = realloc(t->routes, (t->nroutes + 1) * sizeof(*all));
    if (all == NULL)
        goto oom;
    t->routes = all;
    route_entry_t *e = entry_new(p, t->methods[method_id], method_id, target);
    if (e == NULL)
        goto oom;
    node->routes[node->nroutes++] = e;
    t->routes[t->nroutes++] = e;
    if (p->verb != NULL)
        t->has_verbs = true;
    return 0;

oom:
    set_error(err, errlen, "route \"%s %s\": out of memory", method, p->src);
    return -1;
}

route_table_t *route_table_new(void)
{
    route_table_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->root = node_new(t, NULL, SEG_LITERAL);
    if (t->root == NULL) {
        route_table_free(t);
        return NULL;
    }
    return t;
}

void route_table_free(route_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nnodes; i++) {
        route_node_t *n = t->nodes[i];
        for (size_t j = 0; j < n->nliterals; j++)
            free(n->literals[j].key);
        free(n->literals);
        free(n->routes);
        free(n);
    }
    free(t->nodes);
    for (size_t i = 0; i < t->nroutes; i++)
        entry_free(t->routes[i]);
    free(t->routes);
    for (size_t i = 0; i < t->nmethods; i++)
        free(t->methods[i]);
    free(t);
}

int route_add(route_table_t *t, const char *method, const char *tmpl, void *target, char *err,
              size_t errlen)
{
    if (t == NULL || method == NULL || tmpl == NULL) {
        set_error(err, errlen, "route_add: NULL argument");
        return -1;
    }
    bool method_ok = method[0] != '\0';
    for (const char *c = method; *c != '\0'; c++)
        method_ok = method_ok && is_token_char((unsigned char)*c);
    if (!method_ok) {
        set_error(err, errlen, "invalid method \"%s\" for template \"%s\"", method, tmpl);
        return -1;
    }

    parser_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        set_error(err, errlen, "route \"%s %s\": out of memory", method, tmpl);
        return -1;
    }
    p->src = tmpl;
    p->len = strlen(tmpl);
    p->err = err;
    p->errlen = errlen;
    p->scratch = malloc(p->len + 1);
    int rc = -1;
    if (p->scratch == NULL)
        set_error(err, errlen, "route \"%s %s\": out of memory", method, tmpl);
    else if (parse_template(p) == 0)
        rc = add_parsed(t, p, method, target, err, errlen);
    free(p->scratch);
    free(p);
    return rc;
}

/* ---- matching ----------------------------------------------------------- */

typedef struct {
    const char *raw;
    size_t raw_len;
    const char *key; /* fully decoded: literal lookups and one-segment values */
    size_t key_len;
} path_seg_t;

typedef struct {
    /* Only as many segments as the deepest template needs, plus one so the
     * search can see that a path goes on; nsegs saturates past that. */
    path_seg_t segs[ROUTE_MAX_SEGMENTS + 1];
    size_t nsegs;
    const char *end;  /* end of the routed part: before the verb's ':' if split */
    const char *verb; /* decoded; NULL on the pass without a verb */
    size_t verb_len;
    int method_id; /* -1 when no route uses the request's method */
    uint64_t allowed;
} match_state_t;

static int decode_into_arena(arena_t *arena, const char *s, size_t len, bool keep_slash,
                             const char **out, size_t *out_len)
{
    if (memchr(s, '%', len) == NULL) {
        *out = s;
        *out_len = len;
        return 0;
    }
    char *dst = arena_alloc_aligned(arena, len + 1, 1);
    if (dst == NULL)
        return -1;
    *out_len = percent_decode(dst, s, len, keep_slash);
    dst[*out_len] = '\0';
    *out = dst;
    return 0;
}

static int set_segment_key(path_seg_t *seg, bool has_escape, arena_t *arena)
{
    if (!has_escape) {
        seg->key = seg->raw;
        seg->key_len = seg->raw_len;
        return 0;
    }
    return decode_into_arena(arena, seg->raw, seg->raw_len, false, &seg->key, &seg->key_len);
}

/*
 * One pass over the path, which starts with '/': splits it into segments,
 * validates escapes and finds where the query begins. Only the segments some
 * template could reach are kept; past them the rest is checked with memchr
 * and nsegs saturates. Returns -1 on a malformed escape or a full arena.
 */
static int scan_path(const route_table_t *t, match_state_t *st, const char *path, size_t len,
                     arena_t *arena)
{
    const size_t cap = t->max_segs + 1;
    const char *end = path + len, *p = path + 1, *seg_start = p;

    st->nsegs = 0;
    /* segment by segment with memchr: paths carry 64-character hashes */
    for (;;) {
        const char *stop = memchr(p, '/', (size_t)(end - p));
        if (stop == NULL)
            stop = end;
        const char *query = memchr(p, '?', (size_t)(stop - p));
        if (query != NULL)
            stop = query;
        bool has_escape = false;
        for (const char *pct = memchr(p, '%', (size_t)(stop - p)); pct != NULL;
             pct = memchr(pct + 3, '%', (size_t)(stop - (pct + 3)))) {
            /* a valid escape is two hex digits, so it ends inside the segment */
            if (!is_valid_escape(path, len, (size_t)(pct - path)))
                return -1;
            has_escape = true;
        }
        path_seg_t *seg = &st->segs[st->nsegs++];
        seg->raw = p;
        seg->raw_len = (size_t)(stop - p);
        if (set_segment_key(seg, has_escape, arena) != 0)
            return -1;
        if (stop == end || *stop == '?') {
            st->end = stop;
            return 0;
        }
        p = stop + 1;
        seg_start = p;
        if (st->nsegs == cap)
            break;
    }

    /* Deeper than any template: only `**` can still match. */
    st->nsegs = cap + 1;
    const char *query = memchr(seg_start, '?', (size_t)(end - seg_start));
    st->end = query ? query : end;
    size_t rest = (size_t)(st->end - seg_start);
    return find_bad_escape(seg_start, rest) == rest ? 0 : -1;
}

/*
 * The first node (in precedence order) holding a route for this path decides
 * alone: its route for the method, or a 405 listing its methods. Letting
 * another method fall through to a wildcard would send "GET .../batch" (a
 * POST-only literal) to GetTransaction with tx_hash "batch".
 */
static const route_entry_t *check_routes(const route_node_t *n, match_state_t *st)
{
    const route_entry_t *hit = NULL;
    for (size_t i = 0; i < n->nroutes; i++) {
        const route_entry_t *r = n->routes[i];
        if (!verb_equal(r->verb, r->verb_len, st->verb, st->verb_len))
            continue;
        if (r->method_id == st->method_id)
            hit = r;
        st->allowed |= (uint64_t)1 << r->method_id;
    }
    return hit;
}

typedef enum { STEP_ENTER, STEP_LITERAL, STEP_STAR, STEP_DSTAR, STEP_UP } search_step_t;

/*
 * Depth-first, literal before `*` before `**` at every node, so the first
 * node found holding routes is the most literal one from the left. Returns
 * NULL with st->allowed set when that node has no route for the method.
 */
static const route_entry_t *search(const route_node_t *root, match_state_t *st)
{
    const route_node_t *node = root;
    const route_entry_t *hit;
    size_t depth = 0;
    search_step_t step = STEP_ENTER;

    for (;;) {
        switch (step) {
        case STEP_ENTER:
            if (depth == st->nsegs) {
                if ((hit = check_routes(node, st)) != NULL || st->allowed != 0)
                    return hit;
                step = STEP_DSTAR; /* `**` may still match nothing */
            } else {
                step = STEP_LITERAL;
            }
            break;
        case STEP_LITERAL: {
            step = STEP_STAR;
            if (node->nliterals == 0)
                break;
            const path_seg_t *seg = &st->segs[depth];
            bool found;
            size_t at = literal_position(node, seg->key, seg->key_len, &found);
            if (found) {
                node = node->literals[at].child;
                depth++;
                step = STEP_ENTER;
            }
            break;
        }
        case STEP_STAR:
            step = STEP_DSTAR;
            if (node->star != NULL && st->segs[depth].raw_len > 0) {
                node = node->star;
                depth++;
                step = STEP_ENTER;
            }
            break;
        case STEP_DSTAR:
            step = STEP_UP;
            if (node->dstar != NULL &&
                ((hit = check_routes(node->dstar, st)) != NULL || st->allowed != 0))
                return hit;
            break;
        case STEP_UP:
            if (node == root)
                return NULL;
            step = node->kind == SEG_LITERAL ? STEP_STAR : STEP_DSTAR;
            node = node->parent;
            depth--;
            break;
        }
    }
}

static route_result_t bind_vars(const route_entry_t *r, const match_state_t *st, arena_t *arena,
                                route_match_t *out)
{
    out->target = r->target;
    out->tmpl = r->tmpl;
    if (r->nbindings == 0)
        return ROUTE_FOUND;
    route_var_t *vars = arena_alloc_aligned(arena, r->nbindings * sizeof(*vars),
                                            _Alignof(route_var_t));
    if (vars == NULL)
        return ROUTE_BAD_PATH;
    for (size_t i = 0; i < r->nbindings; i++) {
        const binding_t *b = &r->bindings[i];
        route_var_t *v = &vars[i];
        v->field_path = b->field_path;
        if (!b->to_end && b->nsegs == 1) {
            v->value = st->segs[b->first_seg].key;
            v->value_len = st->segs[b->first_seg].key_len;
            continue;
        }
        /* Matched segments are contiguous in the path: cut the raw span. */
        const char *start = b->first_seg < st->nsegs ? st->segs[b->first_seg].raw : st->end;
        const char *stop;
        if (b->to_end) {
            stop = st->end;
        } else {
            const path_seg_t *last = &st->segs[b->first_seg + b->nsegs - 1];
            stop = last->raw + last->raw_len;
        }
        if (decode_into_arena(arena, start, (size_t)(stop - start), true, &v->value,
                              &v->value_len) != 0)
            return ROUTE_BAD_PATH;
    }
    out->vars = vars;
    out->nvars = r->nbindings;
    return ROUTE_FOUND;
}

static const char *format_allow(const route_table_t *t, uint64_t allowed, arena_t *arena)
{
    size_t len = 1;
    for (size_t i = 0; i < t->nmethods; i++) {
        if (allowed & ((uint64_t)1 << i))
            len += t->method_lens[i] + 2;
    }
    char *s = arena_alloc_aligned(arena, len, 1), *w = s;
    if (s == NULL)
        return "";
    for (size_t i = 0; i < t->nmethods; i++) {
        int id = t->method_order[i];
        if (!(allowed & ((uint64_t)1 << id)))
            continue;
        if (w != s) {
            memcpy(w, ", ", 2);
            w += 2;
        }
        memcpy(w, t->methods[id], t->method_lens[id]);
        w += t->method_lens[id];
    }
    *w = '\0';
    return s;
}

static int find_method(const route_table_t *t, const char *method, size_t len)
{
    for (size_t i = 0; i < t->nmethods; i++) {
        if (key_compare(t->methods[i], t->method_lens[i], method, len) == 0)
            return (int)i;
    }
    return -1;
}

/*
 * With a verb "a:b:run" the last segment is routed as "a:b" first; the
 * segment (when it was kept at all) is patched in place and put back if no
 * verb route claims the path.
 */
static const route_entry_t *search_with_verb(const route_table_t *t, match_state_t *st,
                                             const char *path, arena_t *arena, int *failed)
{
    const char *end = st->end;
    const char *last_seg = find_last(path, (size_t)(end - path), '/') + 1;
    const char *colon = find_last(last_seg, (size_t)(end - last_seg), ':');
    if (colon == NULL || colon + 1 == end)
        return NULL;

    path_seg_t *seg = st->nsegs <= t->max_segs + 1 ? &st->segs[st->nsegs - 1] : NULL;
    path_seg_t saved;
    if (seg != NULL) {
        saved = *seg;
        seg->raw_len = (size_t)(colon - seg->raw);
        if (set_segment_key(seg, memchr(seg->raw, '%', seg->raw_len) != NULL, arena) != 0)
            goto oom;
    }
    if (decode_into_arena(arena, colon + 1, (size_t)(end - colon - 1), false, &st->verb,
                          &st->verb_len) != 0)
        goto oom;
    st->end = colon;
    const route_entry_t *hit = search(t->root, st);
    if (hit != NULL || st->allowed != 0)
        return hit;
    st->end = end;
    st->verb = NULL;
    st->verb_len = 0;
    if (seg != NULL)
        *seg = saved;
    return NULL;

oom:
    *failed = 1;
    return NULL;
}

route_result_t route_match(const route_table_t *t, const char *method, size_t method_len,
                           const char *path, size_t path_len, arena_t *arena,
                           route_match_t *out)
{
    memset(out, 0, sizeof(*out));
    if (t == NULL || path == NULL || arena == NULL || path_len == 0 || path[0] != '/')
        return ROUTE_BAD_PATH;

    match_state_t st;
    if (scan_path(t, &st, path, path_len, arena) != 0)
        return ROUTE_BAD_PATH;
    st.method_id = method != NULL ? find_method(t, method, method_len) : -1;
    st.allowed = 0;
    st.verb = NULL;
    st.verb_len = 0;

    const route_entry_t *hit = NULL;
    if (t->has_verbs) {
        int failed = 0;
        hit = search_with_verb(t, &st, path, arena, &failed);
        if (failed)
            return ROUTE_BAD_PATH;
    }
    if (hit == NULL && st.allowed == 0)
        hit = search(t->root, &st);

    if (hit != NULL)
        return bind_vars(hit, &st, arena, out);
    if (st.allowed != 0) {
        out->allow = format_allow(t, st.allowed, arena);
        return ROUTE_METHOD_NOT_ALLOWED;
    }
    return ROUTE_NOT_FOUND;
}

void route_table_dump(const route_table_t *t, FILE *f)
{
    for (size_t i = 0; i < t->nroutes; i++) {
        const route_entry_t *r = t->routes[i];
        fprintf(f, "%-7s %-48s shape %s", r->method, r->tmpl, r->shape);
        for (size_t j = 0; j < r->nbindings; j++) {
            const binding_t *b = &r->bindings[j];
            fprintf(f, "%s%s=segs[%zu..", j == 0 ? "  vars " : ", ", b->field_path, b->first_seg);
            if (b->to_end)
                fputs("]", f);
            else
                fprintf(f, "%zu]", b->first_seg + b->nsegs - 1);
        }
        fputc('\n', f);
    }
}
