/* status_test: the gRPC -> HTTP table of the API contract and the error body. */
#include "core/status.h"
#include "test.h"

static void test_http_table(void)
{
    /* the contract's table, code by code */
    static const struct {
        int grpc, http;
    } table[] = {
        {GRPC_OK, 200},
        {GRPC_INVALID_ARGUMENT, 400}, {GRPC_UNAUTHENTICATED, 401}, {GRPC_PERMISSION_DENIED, 403},
        {GRPC_NOT_FOUND, 404}, {GRPC_ALREADY_EXISTS, 409}, {GRPC_ABORTED, 409},
        {GRPC_FAILED_PRECONDITION, 400}, {GRPC_OUT_OF_RANGE, 400}, {GRPC_RESOURCE_EXHAUSTED, 429},
        {GRPC_CANCELLED, 499}, {GRPC_UNIMPLEMENTED, 501}, {GRPC_UNAVAILABLE, 503},
        {GRPC_DEADLINE_EXCEEDED, 504}, {GRPC_INTERNAL, 500}, {GRPC_UNKNOWN, 500}, {GRPC_DATA_LOSS, 500},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        CHECK_INTEQ(status_http_from_grpc(table[i].grpc), table[i].http);
    CHECK_INTEQ(status_http_from_grpc(17), 500);
    CHECK_INTEQ(status_http_from_grpc(-1), 500);
    CHECK_STREQ(status_grpc_name(GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
    CHECK_STREQ(status_grpc_name(99), "UNKNOWN");
}

static void test_render(void)
{
    arena_t a;
    arena_init(&a);
    buf_t b;
    buf_init(&b, &a, 16);
    status_t st;
    status_set(&st, GRPC_INVALID_ARGUMENT, "field \"%s\": expected a string", "amount");
    status_render_json(&b, st.code, st.message, strlen(st.message), NULL, 0, 0);
    buf_putc(&b, '\0');
    CHECK_STREQ(b.data, "{\"code\":3,\"message\":\"field \\\"amount\\\": expected a string\",\"details\":[]}");

    b.len = 0;
    static const char msg[] = "tab\there\nnl \\ \x01 \xc3\xa9";
    status_render_json(&b, GRPC_INTERNAL, msg, sizeof(msg) - 1, "[{\"x\":1}]", 9, 0);
    buf_putc(&b, '\0');
    CHECK_STREQ(b.data, "{\"code\":13,\"message\":\"tab\\there\\nnl \\\\ \\u0001 \xc3\xa9\",\"details\":[{\"x\":1}]}");

    /* messages longer than the status buffer are cut, never overrun */
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    status_set(&st, GRPC_INTERNAL, "%s", big);
    CHECK_INTEQ(strlen(st.message), sizeof(st.message) - 1);
    /* ... and a cut never splits a UTF-8 sequence */
    for (int shift = 0; shift < 4; shift++) {
        char text[400];
        memset(text, 'y', (size_t)shift + 250);
        text[shift + 250] = '\0';
        for (int k = 0; k < 40; k++)
            strcat(text, "\xe2\x82\xac"); /* euro sign, 3 bytes */
        status_set(&st, GRPC_INTERNAL, "%s", text);
        size_t n = strlen(st.message);
        CHECK(n >= sizeof(st.message) - 4);
        CHECK((n - (size_t)shift - 250) % 3 == 0);
    }
    arena_free(&a);
}

int main(void)
{
    test_http_table();
    test_render();
    return test_summary();
}
