/*
 * transcode_bench: micro-benchmark of the JSON <-> protobuf transcoders.
 *
 * Every message is transcoded the way the server does it: one arena per
 * request whose first block is embedded (no malloc on the common path),
 * arena_reset() between messages, a fresh buf_t on that arena. The reset and
 * the buf_init are inside the timed loop, since the server pays them too.
 *
 * Cases:
 *   a  submit  aurigraph.v11.SubmitTransactionRequest, the spec's request body
 *   b  tx      aurigraph.v11.Transaction, every field set (3 Timestamps)
 *   c  int32   agtest.Repeated.rInt32, a 16 KiB JSON array of int32
 *   d  deep    agtest.Deep, 31 nested messages
 * Each case runs JSON->pb on its JSON and pb->JSON on the bytes the first
 * direction produced. Before timing, every case is checked once:
 * pb(json) == pb(json(pb(json))), and json(pb(json)) == the canonical text.
 *
 * Per row: median of RUNS runs, each of enough iterations to last >= MIN_MS.
 *
 *   transcode_bench [--runs N] [--min-ms MS] [--iters N] [--only CASE[:DIR]]
 *                   [--callgrind] [--wall] [--v11 FILE] [--test FILE]
 *
 * CASE is a, b, c, d (or submit, tx, int32, deep); DIR is j2p or p2j.
 * --iters N fixes the iteration count (no calibration).
 * Times are this thread's CPU time; --wall uses CLOCK_MONOTONIC instead.
 * --callgrind = --iters 2000 --runs 1, for an instruction profile:
 *   valgrind --tool=callgrind --toggle-collect=transcode_json_to_pb \
 *       ./transcode_bench --callgrind --only a:j2p
 * (see bench/README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"
#include "schema/schema.h"
#include "transcode/json_to_pb.h"
#include "transcode/options.h"
#include "transcode/pb_to_json.h"

#ifndef AG_V11_DESCRIPTORS
#define AG_V11_DESCRIPTORS "aurigraph-v11.pb"
#endif
#ifndef AG_TEST_DESCRIPTORS
#define AG_TEST_DESCRIPTORS "transcode-test.pb"
#endif

/* The request arena's embedded first block, and the output buffer's first
 * capacity. The gateway has not fixed its numbers yet; these are what the
 * bench assumes, and the table reports when a message spilled to the heap. */
#define FIRST_BLOCK (64u * 1024u)
#define BUF_INITIAL 1024u

/* Envoy's C++ gRPC-JSON transcoder, per byte, on int32 arrays. */
#define ENVOY_J2P_US_PER_BYTE 0.03
#define ENVOY_P2J_US_PER_BYTE 0.001

enum { J2P = 0, P2J = 1 };
static const char *const dir_name[2] = {"JSON->pb", "pb->JSON"};
static const char *const dir_key[2] = {"j2p", "p2j"};

typedef struct bench_case {
    const char *key;        /* "a" */
    const char *name;       /* "submit" */
    const char *type;       /* message full name */
    int test_schema;        /* 0: aurigraph-v11.pb, 1: transcode-test.pb */
    char *json;             /* input of JSON->pb (malloc'd) */
    size_t json_len;
    const char *canonical;  /* json(pb(json)) expected; NULL: json itself */
    /* filled by verify() */
    const schema_t *schema;
    const schema_message_t *msg;
    uint8_t *pb;            /* pb(json), input of pb->JSON */
    size_t pb_len;
    size_t out_json_len;
} bench_case_t;

typedef struct result {
    double median_ns, min_ns, max_ns;
    size_t in_len, out_len;
    size_t arena_used;      /* arena bytes one message took */
    int spilled;            /* the arena needed heap blocks past its first block */
} result_t;

/* ---- inputs ------------------------------------------------------------ */

static char *xstrdup(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(p, s, n + 1);
    *len = n;
    return p;
}

/* The spec's SubmitTransaction body as clients send it (gasLimit as a JSON
 * number; the canonical output prints the uint64 as a string). data is an
 * ERC-20 transfer call, a typical opaque payload. */
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

static const char submit_canonical[] =
    "{\"userId\":\"user-7f3a9c21\","
    "\"fromAddress\":\"0x742d35Cc6634C0532925a3b844Bc454e4438f44e\","
    "\"toAddress\":\"0x53d284357ec70cE289D6D64134DfAc8E511c8a3D\","
    "\"amount\":\"1000.50\","
    "\"transactionType\":\"TRANSFER\","
    "\"gasLimit\":\"21000\","
    "\"gasPrice\":\"0.000000025\","
    "\"data\":\"0xa9059cbb00000000000000000000000053d284357ec70ce289d6d64134dfac8e511c8a3d"
    "00000000000000000000000000000000000000000000003635c9adc5dea00000\"}";

/* A finalized Transaction, every field set, in canonical proto3 JSON. */
static const char tx_json[] =
    "{\"id\":\"9b2f6c1e-4d3a-4f6b-8e1c-2a7d5b9e0f13\","
    "\"txHash\":\"0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060\","
    "\"userId\":\"user-7f3a9c21\","
    "\"fromAddress\":\"0x742d35Cc6634C0532925a3b844Bc454e4438f44e\","
    "\"toAddress\":\"0x53d284357ec70cE289D6D64134DfAc8E511c8a3D\","
    "\"amount\":\"1000.50\","
    "\"status\":\"FINALIZED\","
    "\"transactionType\":\"TRANSFER\","
    "\"totalFee\":\"0.000525\","
    "\"blockNumber\":\"18734562\","
    "\"confirmationCount\":12,"
    "\"finalityTimeMs\":\"1843\","
    "\"createdAt\":\"2025-03-14T09:26:53.589Z\","
    "\"confirmedAt\":\"2025-03-14T09:26:54.120Z\","
    "\"finalizedAt\":\"2025-03-14T09:26:55.432Z\"}";

/* {"next":{"next":...{"value":31}...,"value":1},"value":0}: `levels`
 * messages, the canonical order (next is field 1). */
static char *make_deep(int levels, size_t *len)
{
    size_t cap = (size_t)levels * 32 + 16, n = 0;
    char *p = malloc(cap);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int i = 0; i < levels - 1; i++)
        n += (size_t)snprintf(p + n, cap - n, "{\"next\":");
    n += (size_t)snprintf(p + n, cap - n, "{\"value\":%d}", levels - 1);
    for (int i = levels - 2; i >= 0; i--) {
        if (i == 0)
            n += (size_t)snprintf(p + n, cap - n, "}"); /* value 0 is the default: not printed */
        else
            n += (size_t)snprintf(p + n, cap - n, ",\"value\":%d}", i);
    }
    *len = n;
    return p;
}

/* ---- timing -------------------------------------------------------------- */


typedef struct runner {
    arena_t arena;
    _Alignas(16) char first[FIRST_BLOCK];
    transcode_options_t opt;
    status_t st;
    buf_t out;
    size_t sink;
} runner_t;

/* One message, the server's way: reset the arena, new buffer, transcode. */
static inline int run_one(runner_t *r, const bench_case_t *c, int dir)
{
    arena_reset(&r->arena);
    buf_init(&r->out, &r->arena, BUF_INITIAL);
    int rc = dir == J2P ? transcode_json_to_pb(c->schema, c->msg, c->json, c->json_len, &r->opt, &r->out, &r->st, NULL)
                        : transcode_pb_to_json(c->schema, c->msg, c->pb, c->pb_len, &r->opt, &r->out, &r->st);
    r->sink += r->out.len;
    return rc;
}

static double time_iters(runner_t *r, const bench_case_t *c, int dir, uint64_t iters)
{
    double t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        if (run_one(r, c, dir) != 0) {
            fprintf(stderr, "%s %s: failed while timing: %s\n", c->name, dir_name[dir], r->st.message);
            exit(1);
        }
    }
    return now_ns() - t0;
}

struct case_run {
    runner_t *r;
    const bench_case_t *c;
    int dir;
};

static double case_run(void *ctx, uint64_t iters)
{
    struct case_run *x = ctx;
    return time_iters(x->r, x->c, x->dir, iters);
}

static result_t measure(runner_t *r, const bench_case_t *c, int dir, int runs, double min_ms, uint64_t fixed_iters)
{
    result_t res = {0};
    double per[64];
    if (runs > 64)
        runs = 64;
    struct case_run cr = {r, c, dir};
    res.median_ns = bench_measure(case_run, &cr, runs, min_ms, fixed_iters, per);
    res.min_ns = per[0];
    res.max_ns = per[runs - 1];

    /* one more, to see what a message costs the arena */
    run_one(r, c, dir);
    res.arena_used = r->arena.used;
    res.spilled = r->arena.blocks != NULL;
    res.in_len = dir == J2P ? c->json_len : c->pb_len;
    res.out_len = r->out.len;
    return res;
}

/* ---- correctness ----------------------------------------------------------- */

static int verify(runner_t *r, bench_case_t *c)
{
    if (run_one(r, c, J2P) != 0) {
        fprintf(stderr, "%s: JSON->pb failed: %s\n", c->name, r->st.message);
        return -1;
    }
    c->pb_len = r->out.len;
    c->pb = malloc(c->pb_len ? c->pb_len : 1);
    if (c->pb == NULL)
        return -1;
    memcpy(c->pb, r->out.data, c->pb_len);

    if (run_one(r, c, P2J) != 0) {
        fprintf(stderr, "%s: pb->JSON failed: %s\n", c->name, r->st.message);
        return -1;
    }
    c->out_json_len = r->out.len;
    const char *want = c->canonical ? c->canonical : c->json;
    size_t want_len = c->canonical ? strlen(c->canonical) : c->json_len;
    int canonical_ok = r->out.len == want_len && memcmp(r->out.data, want, want_len) == 0;
    if (!canonical_ok)
        fprintf(stderr, "%s: pb->JSON differs from the canonical text\n  got:  %.*s\n  want: %.*s\n", c->name,
                (int)(r->out.len > 400 ? 400 : r->out.len), r->out.data, (int)(want_len > 400 ? 400 : want_len),
                want);

    /* and back: the JSON we printed must encode to the same bytes */
    size_t json2_len = r->out.len;
    char *json2 = malloc(json2_len ? json2_len : 1);
    if (json2 == NULL)
        return -1;
    memcpy(json2, r->out.data, json2_len);
    bench_case_t c2 = *c;
    c2.json = json2;
    c2.json_len = json2_len;
    int rc = run_one(r, &c2, J2P);
    int same = rc == 0 && r->out.len == c->pb_len && memcmp(r->out.data, c->pb, c->pb_len) == 0;
    if (!same)
        fprintf(stderr, "%s: round trip changed the protobuf bytes (%s)\n", c->name,
                rc ? r->st.message : "different bytes");
    free(json2);
    return same && canonical_ok ? 0 : -1;
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: transcode_bench [--runs N] [--min-ms MS] [--iters N] [--only CASE[:j2p|p2j]]\n"
               "                       [--callgrind] [--wall] [--v11 FILE] [--test FILE]\n"
               "  CASE: a|submit, b|tx, c|int32, d|deep\n");
}

/* --only CASE[:DIR]: CASE is the key or the name; NULL selects everything. */
static int selected(const char *only, const bench_case_t *c, int dir)
{
    if (only == NULL)
        return 1;
    size_t kl = strcspn(only, ":");
    int match = (strlen(c->key) == kl && strncmp(only, c->key, kl) == 0) ||
                (strlen(c->name) == kl && strncmp(only, c->name, kl) == 0);
    return match && (only[kl] != ':' || strcmp(only + kl + 1, dir_key[dir]) == 0);
}

int main(int argc, char **argv)
{
    int runs = 7;
    double min_ms = 200;
    uint64_t fixed_iters = 0;
    const char *only = NULL, *v11_path = AG_V11_DESCRIPTORS, *test_path = AG_TEST_DESCRIPTORS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--callgrind") == 0) {
            fixed_iters = 2000;
            runs = 1;
        } else if (strcmp(a, "--wall") == 0) {
            bench_clock = CLOCK_MONOTONIC;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (next == NULL) {
            usage(stderr);
            return 2;
        } else if (strcmp(a, "--runs") == 0) {
            runs = (int)parse_long(next, "--runs");
            i++;
        } else if (strcmp(a, "--min-ms") == 0) {
            min_ms = (double)parse_long(next, "--min-ms");
            i++;
        } else if (strcmp(a, "--iters") == 0) {
            fixed_iters = (uint64_t)parse_long(next, "--iters");
            i++;
        } else if (strcmp(a, "--only") == 0) {
            only = next;
            i++;
        } else if (strcmp(a, "--v11") == 0) {
            v11_path = next;
            i++;
        } else if (strcmp(a, "--test") == 0) {
            test_path = next;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;

    char err[256];
    schema_t *v11 = schema_load_file(v11_path, err, sizeof(err));
    if (v11 == NULL) {
        fprintf(stderr, "%s: %s\n", v11_path, err);
        return 2;
    }
    schema_t *test = schema_load_file(test_path, err, sizeof(err));
    if (test == NULL) {
        fprintf(stderr, "%s: %s\n", test_path, err);
        return 2;
    }

    bench_case_t cases[4] = {
        {.key = "a", .name = "submit", .type = "aurigraph.v11.SubmitTransactionRequest", .canonical = submit_canonical},
        {.key = "b", .name = "tx", .type = "aurigraph.v11.Transaction"},
        {.key = "c", .name = "int32", .type = "agtest.Repeated", .test_schema = 1},
        {.key = "d", .name = "deep", .type = "agtest.Deep", .test_schema = 1},
    };
    cases[0].json = xstrdup(submit_json, &cases[0].json_len);
    cases[1].json = xstrdup(tx_json, &cases[1].json_len);
    cases[2].json = make_int32_array(16384, &cases[2].json_len);
    cases[3].json = make_deep(31, &cases[3].json_len);

    static runner_t runner; /* 64 KiB: not on the stack */
    runner_t *r = &runner;
    arena_init_with(&r->arena, r->first, sizeof(r->first));
    transcode_options_default(&r->opt);

    int bad = 0;
    for (int i = 0; i < 4; i++) {
        bench_case_t *c = &cases[i];
        c->schema = c->test_schema ? test : v11;
        c->msg = schema_find_message(c->schema, c->type, strlen(c->type));
        if (c->msg == NULL) {
            fprintf(stderr, "no message %s\n", c->type);
            return 2;
        }
        /* with --only, only what is timed runs (a clean callgrind profile) */
        if ((selected(only, c, J2P) || selected(only, c, P2J)) && verify(r, c) != 0)
            bad = 1;
    }
    if (bad) {
        fprintf(stderr, "correctness check failed: not timing\n");
        return 1;
    }

    printf("transcode_bench: median of %d runs%s, %s time; arena first block %u B, buf initial %u B\n\n", runs,
           fixed_iters ? "" : " (each >= min-ms)", bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU",
           FIRST_BLOCK, BUF_INITIAL);
    printf("| case | direction | bytes in | bytes out | ns/msg (median) | min | max | MB/s in | us/byte | arena B | malloc |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    result_t int32_res[2];
    memset(int32_res, 0, sizeof(int32_res));
    int have_int32[2] = {0, 0};
    for (int i = 0; i < 4; i++) {
        bench_case_t *c = &cases[i];
        for (int dir = J2P; dir <= P2J; dir++) {
            if (!selected(only, c, dir))
                continue;
            result_t res = measure(r, c, dir, runs, min_ms, fixed_iters);
            printf("| %s %s | %s | %zu | %zu | %.0f | %.0f | %.0f | %.1f | %.5f | %zu | %s |\n", c->key, c->name,
                   dir_name[dir], res.in_len, res.out_len, res.median_ns, res.min_ns, res.max_ns,
                   (double)res.in_len / res.median_ns * 1e3, res.median_ns / 1e3 / (double)res.in_len,
                   res.arena_used, res.spilled ? "yes" : "no");
            fflush(stdout);
            if (i == 2) {
                int32_res[dir] = res;
                have_int32[dir] = 1;
            }
        }
    }

    static const double envoy[2] = {ENVOY_J2P_US_PER_BYTE, ENVOY_P2J_US_PER_BYTE};
    if (have_int32[J2P] || have_int32[P2J])
        printf("\nint32 array vs Envoy's C++ transcoder (us per input byte; ratio > 1: we are faster):\n");
    for (int dir = J2P; dir <= P2J; dir++) {
        if (!have_int32[dir])
            continue;
        double ours = int32_res[dir].median_ns / 1e3 / (double)int32_res[dir].in_len;
        double ratio = envoy[dir] / ours;
        printf("  %s: ours %.5f us/byte, Envoy ~%.3f us/byte -> %.2fx %s\n", dir_name[dir], ours, envoy[dir],
               ratio >= 1 ? ratio : 1 / ratio, ratio >= 1 ? "faster" : "slower");
    }
    if (r->sink == 0)
        printf("(no output)\n");

    for (int i = 0; i < 4; i++) {
        free(cases[i].json);
        free(cases[i].pb);
    }
    arena_free(&r->arena);
    schema_free(test);
    schema_free(v11);
    return 0;
}
