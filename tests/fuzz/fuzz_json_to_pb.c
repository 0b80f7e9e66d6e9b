/*
 * fuzz_json_to_pb: request bodies from the network. Any input must give
 * bytes or an error, never a crash or leak; what it accepts must print back
 * as JSON, and that JSON must be a fixed point (JSON -> pb -> JSON again
 * gives the same text).
 */
#include "fuzz_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_schema == NULL)
        fuzz_load();
    if (size < 1)
        return 0;
    const schema_message_t *m = fuzz_msgs[data[0] % FUZZ_NTYPES];
    const char *json = (const char *)data + 1;
    size_t len = size - 1;

    transcode_options_t fwd, back;
    fuzz_options(&fwd, &back);
    fwd.ignore_unknown_fields = (data[0] / FUZZ_NTYPES) & 1;
    if ((data[0] / FUZZ_NTYPES) & 2)
        fuzz_profile_v11(&fwd, &back);
    arena_t arena;
    arena_init(&arena);
    arena.limit = 64u << 20;
    buf_t pb, js, pb2, js2;
    status_t st;
    buf_init(&pb, &arena, 256);
    if (transcode_json_to_pb(fuzz_schema, m, json, len, &fwd, &pb, &st, NULL) == 0) {
        buf_init(&js, &arena, 256);
        fuzz_expect(transcode_pb_to_json(fuzz_schema, m, (const uint8_t *)pb.data, pb.len, &back, &js, &st) == 0,
                    "print what was encoded", &st);
        buf_init(&pb2, &arena, 256);
        back.max_body = js.len + 1;
        fuzz_expect(transcode_json_to_pb(fuzz_schema, m, js.data, js.len, &back, &pb2, &st, NULL) == 0,
                    "parse what was printed", &st);
        buf_init(&js2, &arena, 256);
        fuzz_expect(transcode_pb_to_json(fuzz_schema, m, (const uint8_t *)pb2.data, pb2.len, &back, &js2, &st) == 0,
                    "print again", &st);
        if (js.len != js2.len || memcmp(js.data, js2.data, js.len) != 0) {
            fprintf(stderr, "not a fixed point:\n%.*s\n%.*s\n", (int)js.len, js.data, (int)js2.len, js2.data);
            abort();
        }
    }
    arena_free(&arena);
    return 0;
}
