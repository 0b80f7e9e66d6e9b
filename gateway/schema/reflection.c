/*
 * reflection.c: FileDescriptorSet -> the indexes reflection answers from.
 *
 * Each file is kept as the bytes the set carried (sliced out of the set's
 * wire form, not re-encoded) and decoded once to learn its name, its
 * imports and every symbol it defines. Three indexes come out of that:
 * file by name, file by symbol (the names the C++ and Go servers resolve:
 * services, methods, messages at any depth, their fields and oneofs, enums,
 * enum values in their enum's parent scope, extensions), and the extensions
 * sorted by (extendee, number). Answers are built in the caller's arena and
 * point at the kept bytes, so a file answer copies each file once, into the
 * packed response.
 */
#include "schema/reflection.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "schema/schema.h"

/* scripts/embed-bytes.cmake writes these from the descriptor set of
 * grpc/reflection/v1, grpc/reflection/v1alpha and grpc/health/v1 */
extern const unsigned char ag_grpc_local_descriptors[];
extern const size_t ag_grpc_local_descriptors_len;

#define STATUS_INVALID_ARGUMENT 3
#define STATUS_NOT_FOUND 5

typedef Google__Protobuf__FileDescriptorProto file_proto_t;
typedef Google__Protobuf__DescriptorProto message_proto_t;
typedef Google__Protobuf__EnumDescriptorProto enum_proto_t;
typedef Google__Protobuf__FieldDescriptorProto field_proto_t;
typedef Grpc__Reflection__V1__ServerReflectionRequest request_t;
typedef Grpc__Reflection__V1__ServerReflectionResponse response_t;

typedef struct refl_file {
    const char *name;
    const uint8_t *bytes;   /* the FileDescriptorProto as the set carried it */
    size_t len;
    const file_proto_t *proto;
    uint32_t *deps;         /* files[] indexes of its imports that the set has */
    uint32_t ndeps;
} refl_file_t;

typedef struct refl_symbol {
    const char *name;
    uint32_t file;
    uint8_t is_message;     /* all_extension_numbers_of_type asks for a message */
} refl_symbol_t;

typedef struct refl_extension {
    const char *extendee;   /* full name, no leading dot */
    int32_t number;
    uint32_t file;
} refl_extension_t;

/* Open addressing over an entry array: slots hold index + 1. */
typedef struct name_index {
    uint32_t *slots;
    uint32_t mask;
} name_index_t;

struct reflection {
    arena_t arena;          /* names, decoded files, copied bytes, indexes */
    refl_file_t *files;
    uint32_t nfiles, capfiles;
    refl_symbol_t *symbols;
    uint32_t nsymbols, capsymbols;
    refl_extension_t *extensions;
    uint32_t nextensions, capextensions;
    name_index_t file_index;
    name_index_t symbol_index;
    /* list_services' answer, built once */
    Grpc__Reflection__V1__ServiceResponse **services;
    Grpc__Reflection__V1__ListServiceResponse service_list;
};

typedef struct builder {
    reflection_t *r;
    char *err;
    size_t errlen;
} builder_t;

static int fail(builder_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(builder_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* protobuf-c allocates decoded messages from an arena: one lifetime, and a
 * flag tells a failed allocation apart from a malformed message. */
typedef struct pbc_arena {
    arena_t *arena;
    int oom;
} pbc_arena_t;

static void *pbc_alloc(void *data, size_t size)
{
    pbc_arena_t *pa = data;
    void *p = arena_alloc(pa->arena, size ? size : 1);
    if (p == NULL)
        pa->oom = 1;
    return p;
}
static void pbc_free(void *data, void *ptr) { (void)data; (void)ptr; }

static int grow(void **items, uint32_t *cap, uint32_t n, size_t size)
{
    if (n < *cap)
        return 0;
    uint32_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, (size_t)ncap * size);
    if (p == NULL)
        return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

static char *join_name(arena_t *a, const char *scope, const char *name)
{
    size_t sl = scope ? strlen(scope) : 0, nl = strlen(name);
    char *p = arena_alloc_aligned(a, sl + nl + 2, 1);
    if (p == NULL)
        return NULL;
    if (sl) {
        memcpy(p, scope, sl);
        p[sl++] = '.';
    }
    memcpy(p + sl, name, nl + 1);
    return p;
}

/* ---- name indexes ------------------------------------------------------ */

typedef const char *(*name_of_fn)(const reflection_t *r, uint32_t i);
static const char *file_name_of(const reflection_t *r, uint32_t i) { return r->files[i].name; }
static const char *symbol_name_of(const reflection_t *r, uint32_t i) { return r->symbols[i].name; }

static int index_lookup(const reflection_t *r, const name_index_t *ix, name_of_fn name_of, const char *name,
                        size_t len, uint32_t *out)
{
    if (ix->slots == NULL)
        return -1;
    for (uint32_t h = schema_hash(name, len) & ix->mask;; h = (h + 1) & ix->mask) {
        uint32_t slot = ix->slots[h];
        if (slot == 0)
            return -1;
        const char *n = name_of(r, slot - 1);
        if (strncmp(n, name, len) == 0 && n[len] == '\0') {
            *out = slot - 1;
            return 0;
        }
    }
}

/* The first entry of a name wins, as the set's first definition does. */
static int index_build(reflection_t *r, name_index_t *ix, name_of_fn name_of, uint32_t n)
{
    uint32_t size = 16;
    while (size < (uint64_t)n * 2 + 1)
        size *= 2;
    ix->slots = arena_alloc(&r->arena, (size_t)size * sizeof(uint32_t));
    if (ix->slots == NULL)
        return -1;
    memset(ix->slots, 0, (size_t)size * sizeof(uint32_t));
    ix->mask = size - 1;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = name_of(r, i);
        size_t len = strlen(name);
        for (uint32_t h = schema_hash(name, len) & ix->mask;; h = (h + 1) & ix->mask) {
            if (ix->slots[h] == 0) {
                ix->slots[h] = i + 1;
                break;
            }
            if (strcmp(name_of(r, ix->slots[h] - 1), name) == 0)
                break;
        }
    }
    return 0;
}

/* ---- symbols of one file ---------------------------------------------- */

static int add_symbol(builder_t *b, const char *scope, const char *name, uint32_t file, int is_message,
                      const char **full)
{
    reflection_t *r = b->r;
    if (name == NULL || name[0] == '\0')
        return fail(b, "%s: a definition with no name", r->files[file].name);
    if (grow((void **)&r->symbols, &r->capsymbols, r->nsymbols, sizeof(*r->symbols)) != 0)
        return fail(b, "out of memory");
    char *fn = join_name(&r->arena, scope, name);
    if (fn == NULL)
        return fail(b, "out of memory");
    r->symbols[r->nsymbols++] = (refl_symbol_t){.name = fn, .file = file, .is_message = (uint8_t)is_message};
    if (full)
        *full = fn;
    return 0;
}

static int add_enum(builder_t *b, const char *scope, const enum_proto_t *e, uint32_t file)
{
    if (add_symbol(b, scope, e->name, file, 0, NULL) != 0)
        return -1;
    /* C++ scoping: a value is a sibling of its enum, not a child */
    for (size_t i = 0; i < e->n_value; i++)
        if (add_symbol(b, scope, e->value[i]->name, file, 0, NULL) != 0)
            return -1;
    return 0;
}

static int add_extension(builder_t *b, const char *scope, const field_proto_t *f, uint32_t file)
{
    reflection_t *r = b->r;
    if (add_symbol(b, scope, f->name, file, 0, NULL) != 0)
        return -1;
    if (f->extendee == NULL || f->extendee[0] == '\0')
        return fail(b, "%s: extension %s extends nothing", r->files[file].name, f->name);
    if (grow((void **)&r->extensions, &r->capextensions, r->nextensions, sizeof(*r->extensions)) != 0)
        return fail(b, "out of memory");
    const char *extendee = f->extendee[0] == '.' ? f->extendee + 1 : f->extendee;
    r->extensions[r->nextensions++] = (refl_extension_t){.extendee = extendee, .number = f->number, .file = file};
    return 0;
}

static int add_message(builder_t *b, const char *scope, const message_proto_t *m, uint32_t file, int depth)
{
    const char *full;
    if (depth > 100)
        return fail(b, "%s: messages nested past 100 levels", b->r->files[file].name);
    if (add_symbol(b, scope, m->name, file, 1, &full) != 0)
        return -1;
    for (size_t i = 0; i < m->n_field; i++)
        if (add_symbol(b, full, m->field[i]->name, file, 0, NULL) != 0)
            return -1;
    for (size_t i = 0; i < m->n_oneof_decl; i++)
        if (add_symbol(b, full, m->oneof_decl[i]->name, file, 0, NULL) != 0)
            return -1;
    for (size_t i = 0; i < m->n_nested_type; i++)
        if (add_message(b, full, m->nested_type[i], file, depth + 1) != 0)
            return -1;
    for (size_t i = 0; i < m->n_enum_type; i++)
        if (add_enum(b, full, m->enum_type[i], file) != 0)
            return -1;
    for (size_t i = 0; i < m->n_extension; i++)
        if (add_extension(b, full, m->extension[i], file) != 0)
            return -1;
    return 0;
}

static int add_file_symbols(builder_t *b, uint32_t file)
{
    const file_proto_t *fp = b->r->files[file].proto;
    const char *pkg = (fp->package && fp->package[0]) ? fp->package : NULL;
    for (size_t i = 0; i < fp->n_message_type; i++)
        if (add_message(b, pkg, fp->message_type[i], file, 0) != 0)
            return -1;
    for (size_t i = 0; i < fp->n_enum_type; i++)
        if (add_enum(b, pkg, fp->enum_type[i], file) != 0)
            return -1;
    for (size_t i = 0; i < fp->n_extension; i++)
        if (add_extension(b, pkg, fp->extension[i], file) != 0)
            return -1;
    for (size_t i = 0; i < fp->n_service; i++) {
        const char *svc;
        if (add_symbol(b, pkg, fp->service[i]->name, file, 0, &svc) != 0)
            return -1;
        for (size_t m = 0; m < fp->service[i]->n_method; m++)
            if (add_symbol(b, svc, fp->service[i]->method[m]->name, file, 0, NULL) != 0)
                return -1;
    }
    return 0;
}

/* ---- the set's files --------------------------------------------------- */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t c = *(*p)++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int add_file(builder_t *b, const uint8_t *bytes, size_t len, const char *origin)
{
    reflection_t *r = b->r;
    pbc_arena_t pa = {&r->arena, 0};
    ProtobufCAllocator alloc = {pbc_alloc, pbc_free, &pa};
    file_proto_t *fp = google__protobuf__file_descriptor_proto__unpack(&alloc, len, bytes);
    if (fp == NULL)
        return fail(b, pa.oom ? "out of memory" : "%s: file %u is not a FileDescriptorProto", origin,
                    r->nfiles + 1);
    if (fp->name == NULL || fp->name[0] == '\0')
        return fail(b, "%s: file %u has no name", origin, r->nfiles + 1);
    for (uint32_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].name, fp->name) == 0)
            return 0; /* the served set's copy, or protoc's one of a repeat */
    if (grow((void **)&r->files, &r->capfiles, r->nfiles, sizeof(*r->files)) != 0)
        return fail(b, "out of memory");
    r->files[r->nfiles++] = (refl_file_t){.name = fp->name, .bytes = bytes, .len = len, .proto = fp};
    return add_file_symbols(b, r->nfiles - 1);
}

/* FileDescriptorSet { repeated FileDescriptorProto file = 1; }: each file's
 * bytes are a slice of the set. */
static int add_set(builder_t *b, const uint8_t *p, size_t len, const char *origin)
{
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t key, n;
        if (read_varint(&p, end, &key) != 0)
            return fail(b, "%s: not a FileDescriptorSet (bad field key)", origin);
        switch (key & 7) {
        case 0:
            if (read_varint(&p, end, &n) != 0)
                return fail(b, "%s: not a FileDescriptorSet (bad varint)", origin);
            break;
        case 1:
        case 5:
            n = (key & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return fail(b, "%s: not a FileDescriptorSet (truncated)", origin);
            p += n;
            break;
        case 2:
            if (read_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
                return fail(b, "%s: not a FileDescriptorSet (truncated)", origin);
            if (key >> 3 == 1 && add_file(b, p, (size_t)n, origin) != 0)
                return -1;
            p += n;
            break;
        default:
            return fail(b, "%s: not a FileDescriptorSet (wire type %u)", origin, (unsigned)(key & 7));
        }
    }
    return 0;
}

static int extension_cmp(const void *x, const void *y)
{
    const refl_extension_t *a = x, *b = y;
    int c = strcmp(a->extendee, b->extendee);
    if (c != 0)
        return c;
    return (a->number > b->number) - (a->number < b->number);
}

static int resolve(builder_t *b)
{
    reflection_t *r = b->r;
    if (index_build(r, &r->file_index, file_name_of, r->nfiles) != 0 ||
        index_build(r, &r->symbol_index, symbol_name_of, r->nsymbols) != 0)
        return fail(b, "out of memory");
    for (uint32_t i = 0; i < r->nfiles; i++) {
        refl_file_t *f = &r->files[i];
        size_t n = f->proto->n_dependency;
        f->deps = arena_alloc(&r->arena, (n ? n : 1) * sizeof(uint32_t));
        if (f->deps == NULL)
            return fail(b, "out of memory");
        for (size_t d = 0; d < n; d++) {
            const char *dep = f->proto->dependency[d];
            uint32_t k;
            /* a set made without --include_imports lacks some: answer
             * what it has, as grpc-go skips placeholder files */
            if (index_lookup(r, &r->file_index, file_name_of, dep, strlen(dep), &k) == 0)
                f->deps[f->ndeps++] = k;
        }
    }
    if (r->nextensions > 1)
        qsort(r->extensions, r->nextensions, sizeof(*r->extensions), extension_cmp);

    /* list_services: every file's services in file order, each name once;
     * the embedded files come after the served set's */
    size_t nsvc = 0;
    for (uint32_t i = 0; i < r->nfiles; i++)
        nsvc += r->files[i].proto->n_service;
    r->services = arena_alloc(&r->arena, (nsvc ? nsvc : 1) * sizeof(*r->services));
    if (r->services == NULL)
        return fail(b, "out of memory");
    size_t k = 0;
    for (uint32_t i = 0; i < r->nfiles; i++) {
        const file_proto_t *fp = r->files[i].proto;
        const char *pkg = (fp->package && fp->package[0]) ? fp->package : NULL;
        for (size_t s = 0; s < fp->n_service; s++) {
            char *name = join_name(&r->arena, pkg, fp->service[s]->name);
            if (name == NULL)
                return fail(b, "out of memory");
            int seen = 0;
            for (size_t j = 0; j < k && !seen; j++)
                seen = strcmp(r->services[j]->name, name) == 0;
            if (seen)
                continue;
            Grpc__Reflection__V1__ServiceResponse *sr = arena_alloc(&r->arena, sizeof(*sr));
            if (sr == NULL)
                return fail(b, "out of memory");
            grpc__reflection__v1__service_response__init(sr);
            sr->name = name;
            r->services[k++] = sr;
        }
    }
    grpc__reflection__v1__list_service_response__init(&r->service_list);
    r->service_list.n_service = k;
    r->service_list.service = r->services;
    return 0;
}

reflection_t *reflection_new(const void *fds, size_t len, char *err, size_t errlen)
{
    reflection_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    arena_init(&r->arena);
    builder_t b = {.r = r, .err = err, .errlen = errlen};
    void *copy = arena_memdup(&r->arena, fds, len ? len : 1);
    if (copy == NULL) {
        fail(&b, "out of memory");
        reflection_free(r);
        return NULL;
    }
    if (add_set(&b, copy, len, "descriptor set") != 0 ||
        add_set(&b, ag_grpc_local_descriptors, ag_grpc_local_descriptors_len, "built-in gRPC descriptors") != 0 ||
        resolve(&b) != 0) {
        reflection_free(r);
        return NULL;
    }
    return r;
}

reflection_t *reflection_load_file(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *data = file_read_path(path, &len, err, errlen);
    if (data == NULL)
        return NULL;
    char inner[200];
    reflection_t *r = reflection_new(data, len, inner, sizeof(inner));
    free(data);
    if (r == NULL)
        snprintf(err, errlen, "%s: %s", path, inner);
    return r;
}

void reflection_free(reflection_t *r)
{
    if (r == NULL)
        return;
    free(r->files);
    free(r->symbols);
    free(r->extensions);
    arena_free(&r->arena);
    free(r);
}

size_t reflection_service_count(const reflection_t *r) { return r->service_list.n_service; }

const char *reflection_service_at(const reflection_t *r, size_t i)
{
    return i < r->service_list.n_service ? r->services[i]->name : NULL;
}

/* ---- answers ----------------------------------------------------------- */

static int set_error(response_t *resp, arena_t *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_error(response_t *resp, arena_t *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int size = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    Grpc__Reflection__V1__ErrorResponse *e = arena_alloc(a, sizeof(*e));
    char *msg = size < 0 ? NULL : arena_alloc_aligned(a, (size_t)size + 1, 1);
    if (e == NULL || msg == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)size + 1, fmt, ap);
    va_end(ap);
    grpc__reflection__v1__error_response__init(e);
    e->error_code = code;
    e->error_message = msg;
    resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp->error_response = e;
    return 0;
}

/* The file, then its imports breadth first, each file once (grpc-go's
 * order; the C++ server sends the same set). */
static int set_files(const reflection_t *r, response_t *resp, arena_t *a, uint32_t first)
{
    uint8_t *seen = arena_alloc_aligned(a, r->nfiles, 1);
    uint32_t *queue = arena_alloc(a, (size_t)r->nfiles * sizeof(uint32_t));
    Grpc__Reflection__V1__FileDescriptorResponse *fdr = arena_alloc(a, sizeof(*fdr));
    if (seen == NULL || queue == NULL || fdr == NULL)
        return -1;
    memset(seen, 0, r->nfiles);
    uint32_t n = 0;
    queue[n++] = first;
    seen[first] = 1;
    for (uint32_t i = 0; i < n; i++) {
        const refl_file_t *f = &r->files[queue[i]];
        for (uint32_t d = 0; d < f->ndeps; d++)
            if (!seen[f->deps[d]]) {
                seen[f->deps[d]] = 1;
                queue[n++] = f->deps[d];
            }
    }
    ProtobufCBinaryData *blobs = arena_alloc(a, (size_t)n * sizeof(*blobs));
    if (blobs == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const refl_file_t *f = &r->files[queue[i]];
        /* packing only reads them: the kept bytes are shared, not copied */
        blobs[i] = (ProtobufCBinaryData){.len = f->len, .data = (uint8_t *)(uintptr_t)f->bytes};
    }
    grpc__reflection__v1__file_descriptor_response__init(fdr);
    fdr->n_file_descriptor_proto = n;
    fdr->file_descriptor_proto = blobs;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    resp->file_descriptor_response = fdr;
    return 0;
}

/* The first extension of `type` (lower bound), or nextensions. */
static uint32_t extensions_of(const reflection_t *r, const char *type)
{
    uint32_t lo = 0, hi = r->nextensions;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (strcmp(r->extensions[mid].extendee, type) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int find_message(const reflection_t *r, const char *name)
{
    uint32_t k;
    return index_lookup(r, &r->symbol_index, symbol_name_of, name, strlen(name), &k) == 0 &&
           r->symbols[k].is_message;
}

static int answer_extension_numbers(const reflection_t *r, response_t *resp, arena_t *a, const char *type)
{
    if (!find_message(r, type))
        return set_error(resp, a, STATUS_NOT_FOUND, "type not found: %s", type);
    uint32_t first = extensions_of(r, type), n = 0;
    while (first + n < r->nextensions && strcmp(r->extensions[first + n].extendee, type) == 0)
        n++;
    Grpc__Reflection__V1__ExtensionNumberResponse *en = arena_alloc(a, sizeof(*en));
    int32_t *numbers = arena_alloc(a, (n ? n : 1) * sizeof(int32_t));
    if (en == NULL || numbers == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        numbers[i] = r->extensions[first + i].number;
    grpc__reflection__v1__extension_number_response__init(en);
    en->base_type_name = (char *)(uintptr_t)type;
    en->n_extension_number = n;
    en->extension_number = numbers;
    resp->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
    resp->all_extension_numbers_response = en;
    return 0;
}

static int answer_extension(const reflection_t *r, response_t *resp, arena_t *a,
                            const Grpc__Reflection__V1__ExtensionRequest *ext)
{
    const char *type = ext ? ext->containing_type : "";
    if (!find_message(r, type))
        return set_error(resp, a, STATUS_NOT_FOUND, "type not found: %s", type);
    for (uint32_t i = extensions_of(r, type); i < r->nextensions; i++) {
        const refl_extension_t *e = &r->extensions[i];
        if (strcmp(e->extendee, type) != 0 || e->number > ext->extension_number)
            break;
        if (e->number == ext->extension_number)
            return set_files(r, resp, a, e->file);
    }
    return set_error(resp, a, STATUS_NOT_FOUND, "extension not found: %s %d", type, (int)ext->extension_number);
}

reflection_result_t reflection_answer(const reflection_t *r, const void *request, size_t len, arena_t *a,
                                      const uint8_t **out, size_t *out_len)
{
    pbc_arena_t pa = {a, 0};
    ProtobufCAllocator alloc = {pbc_alloc, pbc_free, &pa};
    request_t *req = grpc__reflection__v1__server_reflection_request__unpack(&alloc, len, request);
    if (req == NULL)
        return pa.oom ? REFLECTION_NO_MEMORY : REFLECTION_BAD_REQUEST;

    response_t resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    resp.valid_host = req->host;
    resp.original_request = req;
    int rc = 0;
    uint32_t k;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME: {
        const char *name = req->file_by_filename;
        if (index_lookup(r, &r->file_index, file_name_of, name, strlen(name), &k) == 0)
            rc = set_files(r, &resp, a, k);
        else
            rc = set_error(&resp, a, STATUS_NOT_FOUND, "file not found: %s", name);
        break;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL: {
        const char *name = req->file_containing_symbol;
        if (index_lookup(r, &r->symbol_index, symbol_name_of, name, strlen(name), &k) == 0)
            rc = set_files(r, &resp, a, r->symbols[k].file);
        else
            rc = set_error(&resp, a, STATUS_NOT_FOUND, "symbol not found: %s", name);
        break;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        rc = answer_extension(r, &resp, a, req->file_containing_extension);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        rc = answer_extension_numbers(r, &resp, a, req->all_extension_numbers_of_type);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        /* shared and read-only: packing does not write it */
        resp.list_services_response = (Grpc__Reflection__V1__ListServiceResponse *)(uintptr_t)&r->service_list;
        break;
    default:
        /* the stream goes on: one odd message is the client's problem, not
         * the stream's */
        rc = set_error(&resp, a, STATUS_INVALID_ARGUMENT, "a ServerReflectionRequest with no message_request");
        break;
    }
    if (rc != 0)
        return REFLECTION_NO_MEMORY;
    size_t size = grpc__reflection__v1__server_reflection_response__get_packed_size(&resp);
    uint8_t *buf = arena_alloc_aligned(a, size ? size : 1, 1);
    if (buf == NULL)
        return REFLECTION_NO_MEMORY;
    *out_len = grpc__reflection__v1__server_reflection_response__pack(&resp, buf);
    *out = buf;
    return REFLECTION_OK;
}
