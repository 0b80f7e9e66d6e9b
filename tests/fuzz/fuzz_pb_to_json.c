/*
 * fuzz_pb_to_json: response bytes from an upstream we do not control. Any
 * input must give JSON or an error, never a crash or leak; the JSON it
 * prints must parse back.
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
    transcode_options_t fwd, back;
    fuzz_options(&fwd, &back);
    fwd.emit_defaults = (data[0] / FUZZ_NTYPES) & 1;
    if ((data[0] / FUZZ_NTYPES) & 2)
        fuzz_profile_v11(&fwd, &back);
    arena_t arena;
    arena_init(&arena);
    arena.limit = 64u << 20;
    buf_t js, pb;
    status_t st;
    buf_init(&js, &arena, 256);
    if (transcode_pb_to_json(fuzz_schema, m, data + 1, size - 1, &fwd, &js, &st) == 0) {
        buf_init(&pb, &arena, 256);
        back.max_body = js.len + 1;
        fuzz_expect(transcode_json_to_pb(fuzz_schema, m, js.data, js.len, &back, &pb, &st, NULL) == 0,
                    "parse what was printed", &st);
    }
    arena_free(&arena);
    return 0;
}
