/*
 * json_tokenizer_bench: yajl vs jsmn, tokenizing only (no transcoding).
 *
 *   yajl           yajl_alloc + yajl_parse + yajl_complete_parse, callbacks
 *                  that only count tokens; its memory from a request arena
 *                  with an embedded first block, as json_to_pb.c does.
 *   yajl novalid   the same with yajl_dont_validate_strings (no UTF-8 check).
 *   jsmn           jsmn_init + jsmn_parse into a preallocated token array,
 *                  the header's default build (non-strict, no parent links).
 *   jsmn strict+pl the same built with JSMN_STRICT and JSMN_PARENT_LINKS,
 *                  the configuration a server would have to use.
 *
 * Inputs: the SubmitTransaction body, a 16 KiB int32 array (both as in
 * transcode_bench), and a BatchSubmitTransactions body of 64 requests (an
 * array of objects, where jsmn without parent links rescans its tokens).
 * Both parsers must agree on the token count before anything is timed.
 *
 *   json_tokenizer_bench [--runs N] [--min-ms MS] [--iters N] [--only submit|int32|batch] [--wall]
 *
 * Times are this thread's CPU time; --wall uses CLOCK_MONOTONIC instead.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#include "bench_common.h"
#include "core/arena.h"
#include "transcode/yajl_arena.h"

/* jsmn is header-only: its definitions land in this file. JSMN_STATIC keeps
 * them static (no exported jsmn_parse to clash with anything). */
#define JSMN_STATIC
#include <jsmn.h>

/* The header a second time, built strict with parent links. Its names go
 * through macros so the two builds can live in one translation unit. */
#undef JSMN_H
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#define jsmntype_t jsmnpl_type_t
#define jsmnerr jsmnpl_err
#define jsmntok_t jsmnpl_tok_t
#define jsmn_parser jsmnpl_parser
#define jsmn_init jsmnpl_init
#define jsmn_parse jsmnpl_parse
#define jsmn_alloc_token jsmnpl_alloc_token
#define jsmn_fill_token jsmnpl_fill_token
#define jsmn_parse_primitive jsmnpl_parse_primitive
#define jsmn_parse_string jsmnpl_parse_string
#define JSMN_UNDEFINED JSMNPL_UNDEFINED
#define JSMN_OBJECT JSMNPL_OBJECT
#define JSMN_ARRAY JSMNPL_ARRAY
#define JSMN_STRING JSMNPL_STRING
#define JSMN_PRIMITIVE JSMNPL_PRIMITIVE
#define JSMN_ERROR_NOMEM JSMNPL_ERROR_NOMEM
#define JSMN_ERROR_INVAL JSMNPL_ERROR_INVAL
#define JSMN_ERROR_PART JSMNPL_ERROR_PART
#include <jsmn.h>
#undef jsmntype_t
#undef jsmnerr
#undef jsmntok_t
#undef jsmn_parser
#undef jsmn_init
#undef jsmn_parse
#undef jsmn_alloc_token
#undef jsmn_fill_token
#undef jsmn_parse_primitive
#undef jsmn_parse_string
#undef JSMN_UNDEFINED
#undef JSMN_OBJECT
#undef JSMN_ARRAY
#undef JSMN_STRING
#undef JSMN_PRIMITIVE
#undef JSMN_ERROR_NOMEM
#undef JSMN_ERROR_INVAL
#undef JSMN_ERROR_PART

#define FIRST_BLOCK (64u * 1024u)
#define MAX_TOKENS 16384u

/* ---- inputs (the same bodies as transcode_bench) ------------------------- */

static const char submit_json[] =
    "{\"userId\":\"user-7f3a9c21\","
    "\"fromAddress\":\"0x742d35Cc6634C0532925a3b844Bc454e4438f44e\","
    "\"toAddress\":\"0x53d284357ec70cE289D6D64134DfAc8E511c8a3D\","
    "\"amount\":\"1000.50\","
    "\"transactionType\":\"TRANSFER\","
    "\"gasLimit\":21000,"
    "\"gasPrice\":\"0.000000025\","
    "\"data\":\"0xa9059cbb00000000000000000000000053d284357ec70ce289d6d64134dfac8e511c8a3d"
    "00000000000000000000000000000000000000000000003635c9adc5dea00000\"}";

static char *make_batch(int count, size_t *len)
{
    size_t cap = (size_t)count * (sizeof(submit_json) + 1) + 64, n = 0;
    char *p = xmalloc(cap);
    n += (size_t)snprintf(p + n, cap - n, "{\"transactions\":[");
    for (int i = 0; i < count; i++)
        n += (size_t)snprintf(p + n, cap - n, "%s%s", i ? "," : "", submit_json);
    n += (size_t)snprintf(p + n, cap - n, "],\"batchId\":\"batch-0001\"}");
    *len = n;
    return p;
}

/* ---- the tokenizers ---------------------------------------------------------- */

typedef struct tok_ctx {
    arena_t arena;
    _Alignas(16) char first[FIRST_BLOCK];
    size_t tokens;
    jsmntok_t jtok[MAX_TOKENS];
    jsmnpl_tok_t ptok[MAX_TOKENS];
} tok_ctx_t;

static int count_null(void *ctx)
{
    ((tok_ctx_t *)ctx)->tokens++;
    return 1;
}

static int count_bool(void *ctx, int b)
{
    (void)b;
    ((tok_ctx_t *)ctx)->tokens++;
    return 1;
}

static int count_text(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    ((tok_ctx_t *)ctx)->tokens++;
    return 1;
}

static int count_string(void *ctx, const unsigned char *s, size_t len)
{
    (void)s;
    (void)len;
    ((tok_ctx_t *)ctx)->tokens++;
    return 1;
}

static int count_end(void *ctx)
{
    (void)ctx;
    return 1;
}

/* Every value and key is one token, as jsmn counts them; ends are not. */
static const yajl_callbacks counting = {
    .yajl_null = count_null,
    .yajl_boolean = count_bool,
    .yajl_number = count_text, /* raw number text: no integer/double conversion */
    .yajl_string = count_string,
    .yajl_start_map = count_null,
    .yajl_map_key = count_string,
    .yajl_end_map = count_end,
    .yajl_start_array = count_null,
    .yajl_end_array = count_end,
};

static inline long tok_yajl(tok_ctx_t *t, const char *json, size_t len, int validate)
{
    arena_reset(&t->arena);
    t->tokens = 0;
    yajl_alloc_funcs af = yajl_arena_funcs(&t->arena);
    yajl_handle h = yajl_alloc(&counting, &af, t);
    if (h == NULL)
        return -1;
    if (!validate)
        yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status s = yajl_parse(h, (const unsigned char *)json, len);
    if (s == yajl_status_ok)
        s = yajl_complete_parse(h);
    yajl_free(h);
    return s == yajl_status_ok ? (long)t->tokens : -1;
}

/* noinline: one symbol per tokenizer, for callgrind (see README) */
__attribute__((noinline)) static long tok_yajl_valid(tok_ctx_t *t, const char *json, size_t len)
{
    return tok_yajl(t, json, len, 1);
}

__attribute__((noinline)) static long tok_yajl_novalid(tok_ctx_t *t, const char *json, size_t len)
{
    return tok_yajl(t, json, len, 0);
}

__attribute__((noinline)) static long tok_jsmn(tok_ctx_t *t, const char *json, size_t len)
{
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, json, len, t->jtok, MAX_TOKENS);
    return n;
}

__attribute__((noinline)) static long tok_jsmn_pl(tok_ctx_t *t, const char *json, size_t len)
{
    jsmnpl_parser p;
    jsmnpl_init(&p);
    int n = jsmnpl_parse(&p, json, len, t->ptok, MAX_TOKENS);
    return n;
}

enum { YAJL, YAJL_NOVALID, JSMN, JSMN_PL, NTOK };
static const char *const tok_name[NTOK] = {"yajl", "yajl novalid", "jsmn", "jsmn strict+pl"};

static long tokenize(tok_ctx_t *t, int which, const char *json, size_t len)
{
    switch (which) {
    case YAJL: return tok_yajl_valid(t, json, len);
    case YAJL_NOVALID: return tok_yajl_novalid(t, json, len);
    case JSMN: return tok_jsmn(t, json, len);
    default: return tok_jsmn_pl(t, json, len);
    }
}

/* ---- timing --------------------------------------------------------------------- */


static volatile long sink;

static double time_iters(tok_ctx_t *t, int which, const char *json, size_t len, uint64_t iters)
{
    long acc = 0;
    double t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++)
        acc += tokenize(t, which, json, len);
    double dt = now_ns() - t0;
    sink = acc;
    return dt;
}

typedef struct tok_run {
    tok_ctx_t *t;
    int which;
    const char *json;
    size_t len;
} tok_run_t;

static double tok_run(void *ctx, uint64_t iters)
{
    tok_run_t *r = ctx;
    return time_iters(r->t, r->which, r->json, r->len, iters);
}

static double measure(tok_ctx_t *t, int which, const char *json, size_t len, int runs, double min_ms,
                      uint64_t fixed_iters, double *min_out)
{
    double per[64];
    tok_run_t r = {t, which, json, len};
    double median = bench_measure(tok_run, &r, runs > 64 ? 64 : runs, min_ms, fixed_iters, per);
    *min_out = per[0];
    return median;
}

int main(int argc, char **argv)
{
    int runs = 7;
    double min_ms = 200;
    uint64_t fixed_iters = 0;
    const char *only = NULL; /* one input: submit, int32, batch */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--wall") == 0) {
            bench_clock = CLOCK_MONOTONIC;
        } else if (i + 1 < argc && strcmp(argv[i], "--runs") == 0) {
            runs = (int)parse_long(argv[++i], "--runs");
        } else if (i + 1 < argc && strcmp(argv[i], "--min-ms") == 0) {
            min_ms = (double)parse_long(argv[++i], "--min-ms");
        } else if (i + 1 < argc && strcmp(argv[i], "--iters") == 0) {
            fixed_iters = (uint64_t)parse_long(argv[++i], "--iters");
        } else if (i + 1 < argc && strcmp(argv[i], "--only") == 0) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: json_tokenizer_bench [--runs N] [--min-ms MS] [--iters N] [--only submit|int32|batch] [--wall]\n");
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;

    struct {
        const char *name;
        char *json;
        size_t len;
    } inputs[3];
    inputs[0].name = "submit";
    inputs[0].len = sizeof(submit_json) - 1;
    inputs[0].json = xmalloc(inputs[0].len + 1);
    memcpy(inputs[0].json, submit_json, inputs[0].len + 1);
    inputs[1].name = "int32 16KiB";
    inputs[1].json = make_int32_array(16384, &inputs[1].len);
    inputs[2].name = "batch x64";
    inputs[2].json = make_batch(64, &inputs[2].len);

    static tok_ctx_t ctx; /* token arrays and the arena block: not on the stack */
    tok_ctx_t *t = &ctx;
    arena_init_with(&t->arena, t->first, sizeof(t->first));

    /* the parsers must agree before their times mean anything */
    for (int i = 0; i < 3; i++) {
        if (only && strncmp(inputs[i].name, only, strlen(only)) != 0)
            continue;
        long want = -2;
        for (int w = 0; w < NTOK; w++) {
            long n = tokenize(t, w, inputs[i].json, inputs[i].len);
            if (n < 0 || (want != -2 && n != want)) {
                fprintf(stderr, "%s: %s gives %ld tokens, expected %ld\n", inputs[i].name, tok_name[w], n, want);
                return 1;
            }
            want = n;
        }
    }
    /* and must both refuse what is not JSON (jsmn default accepts some of it) */
    static const char *const bad[] = {"{\"a\":tru}", "{\"a\":01}", "{\"a\":\"\xff\"}", "{\"a\" 1}", "[1,]"};
    printf("json_tokenizer_bench: median of %d runs%s, %s time\n\nrejects invalid JSON (1 = rejected):\n\n", runs,
           fixed_iters ? "" : " (each >= min-ms)", bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
    printf("| input |");
    for (int w = 0; w < NTOK; w++)
        printf(" %s |", tok_name[w]);
    printf("\n|---|");
    for (int w = 0; w < NTOK; w++)
        printf("---|");
    printf("\n");
    for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
        printf("| `");
        for (const char *c = bad[b]; *c; c++) {
            if ((unsigned char)*c >= 0x80)
                printf("\\x%02x", (unsigned char)*c);
            else
                putchar(*c);
        }
        printf("` |");
        for (int w = 0; w < NTOK; w++)
            printf(" %d |", tokenize(t, w, bad[b], strlen(bad[b])) < 0);
        printf("\n");
    }

    printf("\n| input | bytes | tokens |");
    for (int w = 0; w < NTOK; w++)
        printf(" %s ns |", tok_name[w]);
    printf(" jsmn/yajl |\n|---|---:|---:|");
    for (int w = 0; w < NTOK; w++)
        printf("---:|");
    printf("---:|\n");
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        if (only && strncmp(inputs[i].name, only, strlen(only)) != 0)
            continue;
        long ntok = tokenize(t, JSMN, inputs[i].json, inputs[i].len);
        double med[NTOK], mn[NTOK];
        for (int w = 0; w < NTOK; w++)
            med[w] = measure(t, w, inputs[i].json, inputs[i].len, runs, min_ms, fixed_iters, &mn[w]);
        printf("| %s | %zu | %ld |", inputs[i].name, inputs[i].len, ntok);
        for (int w = 0; w < NTOK; w++)
            printf(" %.0f (%.2f ns/B) |", med[w], med[w] / (double)inputs[i].len);
        printf(" %.2f |\n", med[JSMN] / med[YAJL]);
        fflush(stdout);
    }
    for (int i = 0; i < 3; i++)
        free(inputs[i].json);
    arena_free(&t->arena);
    return 0;
}
