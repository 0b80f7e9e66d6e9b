/*
 * trace_context_test: server/trace.c alone: W3C traceparent parsing, the
 * sampling decision (parent-based, then the ratio), the traceparent sent
 * upstream, and the worker's ring (records in order, drops counted when
 * full, nothing recorded unsampled).
 */
#include <stdio.h>
#include <string.h>

#include "server/trace.h"
#include "test.h"

static const char *const good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

static void test_parse(void)
{
    uint8_t tid[16], sid[8], flags = 0;
    CHECK_INTEQ(trace_parse_traceparent(good, strlen(good), tid, sid, &flags), 1);
    CHECK(tid[0] == 0x0a && tid[15] == 0x9c && sid[0] == 0xb7 && sid[7] == 0x31 && flags == 1);
    static const char *const bad[] = {
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",     /* short */
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",  /* 00 has nothing after */
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",    /* zero trace id */
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",    /* zero span id */
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",    /* upper case */
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",    /* version ff */
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INTEQ(trace_parse_traceparent(bad[i], strlen(bad[i]), tid, sid, &flags), 0);
    /* a later version may carry more after the 00 fields */
    const char *v1 = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-abcd";
    CHECK_INTEQ(trace_parse_traceparent(v1, strlen(v1), tid, sid, &flags), 1);
    CHECK_INTEQ(trace_parse_traceparent(NULL, 0, tid, sid, &flags), 0);
}

static void test_begin(void)
{
    trace_ring_t ring;
    CHECK_INTEQ(trace_ring_init(&ring, 4, 0.0, 1, 42), 0);
    trace_span_t t;
    memset(&t, 0, sizeof(t));
    /* off: nothing, and the incoming traceparent is left alone */
    trace_begin(NULL, &t, good, strlen(good));
    CHECK(!t.active && trace_traceparent(&t) == NULL);
    /* a sampled parent wins over ratio 0: same trace, a new parent id */
    trace_begin(&ring, &t, good, strlen(good));
    CHECK(t.active && t.sampled && t.has_parent);
    const char *tp = trace_traceparent(&t);
    CHECK(tp != NULL && memcmp(tp, good, 36) == 0 && memcmp(tp + 36, good + 36, 16) != 0 &&
          memcmp(tp + 52, "-01", 3) == 0);
    CHECK(memcmp(t.server_id, t.client_id, 8) != 0);
    /* an unsampled parent: passed on as it came */
    const char *unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    trace_begin(&ring, &t, unsampled, strlen(unsampled));
    CHECK(t.active && !t.sampled && trace_traceparent(&t) == NULL);
    /* no parent at ratio 0: a new trace, not sampled, the flag clear upstream */
    trace_begin(&ring, &t, NULL, 0);
    tp = trace_traceparent(&t);
    CHECK(!t.sampled && tp != NULL && memcmp(tp + 52, "-00", 3) == 0);
    uint8_t tid[16], sid[8], flags = 9;
    CHECK_INTEQ(trace_parse_traceparent(tp, TRACE_PARENT_LEN, tid, sid, &flags), 1);
    CHECK(flags == 0 && memcmp(tid, t.trace_id, 16) == 0 && memcmp(sid, t.client_id, 8) == 0);
    /* a malformed one starts a new trace */
    trace_begin(&ring, &t, "garbage", 7);
    CHECK(!t.has_parent && trace_traceparent(&t) != NULL);
    trace_ring_dispose(&ring);
    /* propagate_unsampled off (the default): an unsampled new trace sends nothing */
    CHECK_INTEQ(trace_ring_init(&ring, 4, 0.0, 0, 42), 0);
    trace_begin(&ring, &t, NULL, 0);
    CHECK(t.active && !t.sampled && trace_traceparent(&t) == NULL);
    trace_begin(&ring, &t, good, strlen(good)); /* a sampled parent still wins */
    CHECK(t.sampled && trace_traceparent(&t) != NULL);
    trace_ring_dispose(&ring);

    /* ratio 0.25: about a quarter of new traces */
    CHECK_INTEQ(trace_ring_init(&ring, 4, 0.25, 0, 7), 0);
    int n = 0;
    for (int i = 0; i < 20000; i++) {
        trace_begin(&ring, &t, NULL, 0);
        n += t.sampled;
    }
    CHECK(n > 4500 && n < 5500);
    trace_ring_dispose(&ring);
}

static void test_ring(void)
{
    trace_ring_t ring;
    CHECK_INTEQ(trace_ring_init(&ring, 4, 1.0, 0, 1), 0);
    CHECK_INTEQ(ring.mask, 3);
    struct timespec t0 = {100, 0}, t1 = {100, 500000};
    trace_end_info_t e = {.door = TRACE_DOOR_REST, .started = &t0, .call_started = &t1, .us = 2000, .call_us = 1000,
                          .method = "GET", .method_len = 3, .path = "/a/b", .path_len = 4,
                          .host = "[::1]:9003", .host_len = 10, .http_status = 200, .grpc_code = 0, .up_code = 0};
    trace_span_t t;
    for (int i = 0; i < 6; i++) {
        trace_begin(&ring, &t, NULL, 0);
        trace_end(&ring, &t, &e);
    }
    /* 4 fit; 2 records of 2 spans each were dropped */
    CHECK_INTEQ(atomic_load(&ring.head), 4);
    CHECK_INTEQ(atomic_load(&ring.dropped), 4);
    const trace_record_t *r = &ring.slots[3];
    CHECK(memcmp(r->trace_id, t.trace_id, 16) != 0); /* the last one was dropped, not written */
    r = &ring.slots[0];
    CHECK(r->called && r->call_start_ns == r->start_ns + 500000 && r->call_end_ns == r->call_start_ns + 1000000 &&
          r->end_ns == r->start_ns + 2000000);
    CHECK(r->host_len == 5 && memcmp(r->host, "[::1]", 5) == 0);
    CHECK(r->path_len == 4 && r->method_len == 3);
    /* the consumer gives slots back: room again */
    atomic_store(&ring.tail, 2);
    trace_begin(&ring, &t, NULL, 0);
    trace_end(&ring, &t, &e);
    CHECK_INTEQ(atomic_load(&ring.head), 5);
    CHECK(memcmp(ring.slots[0].trace_id, t.trace_id, 16) == 0);
    /* unsampled: nothing queued */
    const char *unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    trace_begin(&ring, &t, unsampled, strlen(unsampled));
    trace_end(&ring, &t, &e);
    CHECK_INTEQ(atomic_load(&ring.head), 5);
    trace_ring_dispose(&ring);
}

int main(void)
{
    test_parse();
    test_begin();
    test_ring();
    return test_summary();
}
