/*
 * jdoc.c: the tree and its two writers.
 *
 * Strings are made valid UTF-8 when they enter the tree, so both writers
 * can copy them; what neither JSON nor YAML may hold raw (controls, C1
 * controls, U+FEFF, U+FFFE, U+FFFF) is escaped with the escapes the two
 * share (\n, \t, \", \\, \uXXXX), which is why a YAML double-quoted scalar
 * is written exactly as a JSON string is.
 */
#include "core/jdoc.h"

#include <stdio.h>
#include <string.h>

typedef enum jdoc_kind { JDOC_NULL, JDOC_BOOL, JDOC_INT, JDOC_STRING, JDOC_OBJECT, JDOC_ARRAY } jdoc_kind_t;

typedef struct jdoc_entry {
    const char *key; /* objects only */
    size_t key_len;
    jdoc_node_t *value;
    struct jdoc_entry *next;
} jdoc_entry_t;

struct jdoc_node {
    jdoc_kind_t kind;
    int64_t i;          /* BOOL, INT */
    const char *s;      /* STRING */
    size_t len;
    jdoc_entry_t *first, *last; /* OBJECT, ARRAY */
    size_t n;
};

void jdoc_init(jdoc_t *d)
{
    arena_init(&d->arena);
    d->oom = 0;
}

void jdoc_free(jdoc_t *d) { arena_free(&d->arena); }

static jdoc_node_t *node(jdoc_t *d, jdoc_kind_t kind)
{
    jdoc_node_t *n = arena_alloc(&d->arena, sizeof(*n));
    if (n == NULL) {
        d->oom = 1;
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    return n;
}

jdoc_node_t *jdoc_object(jdoc_t *d) { return node(d, JDOC_OBJECT); }
jdoc_node_t *jdoc_array(jdoc_t *d) { return node(d, JDOC_ARRAY); }
jdoc_node_t *jdoc_null(jdoc_t *d) { return node(d, JDOC_NULL); }

jdoc_node_t *jdoc_bool(jdoc_t *d, int v)
{
    jdoc_node_t *n = node(d, JDOC_BOOL);
    if (n)
        n->i = v != 0;
    return n;
}

jdoc_node_t *jdoc_int(jdoc_t *d, int64_t v)
{
    jdoc_node_t *n = node(d, JDOC_INT);
    if (n)
        n->i = v;
    return n;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
        return 0; /* overlong, surrogate */
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
        return 0; /* overlong, past U+10FFFF */
    return n;
}

/* A copy of s with each byte that starts no valid sequence as U+FFFD. */
static const char *utf8_copy(jdoc_t *d, const char *s, size_t len, size_t *out_len)
{
    char *out = arena_alloc_aligned(&d->arena, len * 3 + 1, 1);
    if (out == NULL) {
        d->oom = 1;
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

jdoc_node_t *jdoc_stringn(jdoc_t *d, const char *s, size_t len)
{
    jdoc_node_t *n = node(d, JDOC_STRING);
    if (n == NULL)
        return NULL;
    n->s = utf8_copy(d, s ? s : "", s ? len : 0, &n->len);
    return n->s ? n : NULL;
}

jdoc_node_t *jdoc_string(jdoc_t *d, const char *s) { return jdoc_stringn(d, s, s ? strlen(s) : 0); }

static jdoc_entry_t *find(const jdoc_node_t *obj, const char *key, size_t len)
{
    for (jdoc_entry_t *e = obj->first; e; e = e->next)
        if (e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static jdoc_entry_t *append(jdoc_t *d, jdoc_node_t *parent, jdoc_node_t *v)
{
    jdoc_entry_t *e = arena_alloc(&d->arena, sizeof(*e));
    if (e == NULL) {
        d->oom = 1;
        return NULL;
    }
    *e = (jdoc_entry_t){.value = v};
    if (parent->last)
        parent->last->next = e;
    else
        parent->first = e;
    parent->last = e;
    parent->n++;
    return e;
}

jdoc_node_t *jdoc_set(jdoc_t *d, jdoc_node_t *obj, const char *key, jdoc_node_t *v)
{
    if (obj == NULL || obj->kind != JDOC_OBJECT || key == NULL || v == NULL)
        return NULL;
    size_t len;
    const char *k = utf8_copy(d, key, strlen(key), &len);
    if (k == NULL)
        return NULL;
    jdoc_entry_t *e = find(obj, k, len);
    if (e == NULL && (e = append(d, obj, v)) == NULL)
        return NULL;
    e->key = k;
    e->key_len = len;
    e->value = v;
    return v;
}

jdoc_node_t *jdoc_get(const jdoc_node_t *obj, const char *key)
{
    if (obj == NULL || obj->kind != JDOC_OBJECT || key == NULL)
        return NULL;
    jdoc_entry_t *e = find(obj, key, strlen(key));
    return e ? e->value : NULL;
}

jdoc_node_t *jdoc_child(jdoc_t *d, jdoc_node_t *obj, const char *key)
{
    jdoc_node_t *v = jdoc_get(obj, key);
    return v ? v : jdoc_set(d, obj, key, jdoc_object(d));
}

jdoc_node_t *jdoc_push(jdoc_t *d, jdoc_node_t *arr, jdoc_node_t *v)
{
    if (arr == NULL || arr->kind != JDOC_ARRAY || v == NULL)
        return NULL;
    return append(d, arr, v) ? v : NULL;
}

const char *jdoc_text(const jdoc_node_t *n) { return n && n->kind == JDOC_STRING ? n->s : NULL; }

size_t jdoc_size(const jdoc_node_t *n)
{
    return n && (n->kind == JDOC_OBJECT || n->kind == JDOC_ARRAY) ? n->n : 0;
}

/* ---- writers ------------------------------------------------------------ */

static void quote(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const unsigned char *p = (const unsigned char *)s + i;
        unsigned cp; /* the code point to escape, or none */
        size_t skip = 1;
        if (p[0] < 0x20 || p[0] == '"' || p[0] == '\\' || p[0] == 0x7f)
            cp = p[0];
        else if (p[0] == 0xc2 && i + 1 < len && p[1] < 0xa0)
            cp = p[1], skip = 2; /* C1 controls */
        else if (p[0] == 0xef && i + 2 < len && ((p[1] == 0xbb && p[2] == 0xbf) || (p[1] == 0xbf && p[2] >= 0xbe)))
            cp = (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu) | 0xf000, skip = 3; /* BOM, U+FFFE, U+FFFF */
        else
            continue;
        buf_append(out, s + run, i - run);
        run = i + skip;
        switch (cp) {
        case '"': buf_puts_lit(out, "\\\""); break;
        case '\\': buf_puts_lit(out, "\\\\"); break;
        case '\n': buf_puts_lit(out, "\\n"); break;
        case '\r': buf_puts_lit(out, "\\r"); break;
        case '\t': buf_puts_lit(out, "\\t"); break;
        default: {
            char e[6] = {'\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15], hex[cp & 15]};
            buf_append(out, e, 6);
        }
        }
        i += skip - 1;
    }
    buf_append(out, s + run, len - run);
    buf_putc(out, '"');
}

static void write_int(buf_t *out, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    buf_append(out, tmp, (size_t)n);
}

void jdoc_write_json(const jdoc_node_t *n, buf_t *out)
{
    if (n == NULL) {
        buf_puts_lit(out, "null");
        return;
    }
    switch (n->kind) {
    case JDOC_NULL: buf_puts_lit(out, "null"); break;
    case JDOC_BOOL:
        if (n->i)
            buf_puts_lit(out, "true");
        else
            buf_puts_lit(out, "false");
        break;
    case JDOC_INT: write_int(out, n->i); break;
    case JDOC_STRING: quote(out, n->s, n->len); break;
    case JDOC_OBJECT:
    case JDOC_ARRAY: {
        int obj = n->kind == JDOC_OBJECT;
        buf_putc(out, obj ? '{' : '[');
        for (const jdoc_entry_t *e = n->first; e; e = e->next) {
            if (e != n->first)
                buf_putc(out, ',');
            if (obj) {
                quote(out, e->key, e->key_len);
                buf_putc(out, ':');
            }
            jdoc_write_json(e->value, out);
        }
        buf_putc(out, obj ? '}' : ']');
        break;
    }
    }
}

/* Whether s may stand unquoted in block YAML and read back as this very
 * string under YAML 1.2 and 1.1 alike: ASCII words, paths and sentences
 * without the indicators (':', '#', quotes, '[', '&', '*', '!', '|', ...),
 * not starting like a number, and none of the words 1.1 reads as a bool or
 * null. Anything else is double-quoted. */
static int yaml_plain_ok(const char *s, size_t len)
{
    static const char *const reserved[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"};
    if (len == 0 || s[len - 1] == ' ')
        return 0;
    char c = s[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '/' || c == '$'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (!strchr("_./$+()-{}= ", c) || c == '\0')
            return 0;
    }
    for (size_t r = 0; r < sizeof(reserved) / sizeof(reserved[0]); r++) {
        size_t rl = strlen(reserved[r]);
        if (rl != len)
            continue;
        size_t i = 0;
        while (i < len && (s[i] | 0x20) == reserved[r][i])
            i++;
        if (i == len)
            return 0;
    }
    return 1;
}

static void yaml_string(buf_t *out, const char *s, size_t len)
{
    if (yaml_plain_ok(s, len))
        buf_append(out, s, len);
    else
        quote(out, s, len);
}

static int is_nonempty_container(const jdoc_node_t *n)
{
    return n && (n->kind == JDOC_OBJECT || n->kind == JDOC_ARRAY) && n->n > 0;
}

static void yaml_scalar(const jdoc_node_t *n, buf_t *out)
{
    if (n == NULL || n->kind == JDOC_NULL)
        buf_puts_lit(out, "null");
    else if (n->kind == JDOC_STRING)
        yaml_string(out, n->s, n->len);
    else if (n->kind == JDOC_OBJECT)
        buf_puts_lit(out, "{}");
    else if (n->kind == JDOC_ARRAY)
        buf_puts_lit(out, "[]");
    else
        jdoc_write_json(n, out); /* bool, int: the same text */
}

static void newline(buf_t *out, unsigned indent)
{
    buf_putc(out, '\n');
    for (unsigned i = 0; i < indent; i++)
        buf_putc(out, ' ');
}

/* A non-empty container's lines at indent; the first goes on the current
 * line when inline (after "- "). */
static void yaml_block(const jdoc_node_t *n, buf_t *out, unsigned indent, int inline_first)
{
    for (const jdoc_entry_t *e = n->first; e; e = e->next) {
        if (!(inline_first && e == n->first))
            newline(out, indent);
        if (n->kind == JDOC_OBJECT) {
            yaml_string(out, e->key, e->key_len);
            buf_putc(out, ':');
            if (is_nonempty_container(e->value)) {
                yaml_block(e->value, out, indent + 2, 0);
                continue;
            }
        } else {
            buf_putc(out, '-');
            if (is_nonempty_container(e->value)) {
                buf_putc(out, ' ');
                yaml_block(e->value, out, indent + 2, 1);
                continue;
            }
        }
        buf_putc(out, ' ');
        yaml_scalar(e->value, out);
    }
}

void jdoc_write_yaml(const jdoc_node_t *n, buf_t *out)
{
    if (is_nonempty_container(n)) {
        yaml_block(n, out, 0, 1);
    } else {
        yaml_scalar(n, out);
    }
    buf_putc(out, '\n');
}
