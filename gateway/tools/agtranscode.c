/*
 * agtranscode: the transcoders on the command line, for tests and for
 * people debugging a mapping.
 *
 *   agtranscode --descriptors FILE --type pkg.Message --to-pb   < in.json > out.bin
 *   agtranscode --descriptors FILE --type pkg.Message --to-json < in.bin  > out.json
 *
 * Errors print the gateway's error JSON on stderr and exit 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/status.h"
#include "schema/schema.h"
#include "transcode/json_to_pb.h"
#include "transcode/options.h"
#include "transcode/pb_to_json.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: agtranscode --descriptors FILE --type pkg.Message (--to-pb | --to-json)\n"
               "                   [--emit-defaults] [--ignore-unknown] [--proto-names] [--max-depth N]\n");
}

int main(int argc, char **argv)
{
    const char *descriptors = NULL, *type = NULL;
    int to_pb = -1;
    transcode_options_t opt;
    transcode_options_default(&opt);
    static const struct option longopts[] = {
        {"descriptors", required_argument, NULL, 'd'}, {"type", required_argument, NULL, 't'},
        {"to-pb", no_argument, NULL, 'p'},             {"to-json", no_argument, NULL, 'j'},
        {"emit-defaults", no_argument, NULL, 'e'},     {"ignore-unknown", no_argument, NULL, 'i'},
        {"proto-names", no_argument, NULL, 'n'},       {"max-depth", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': descriptors = optarg; break;
        case 't': type = optarg; break;
        case 'p': to_pb = 1; break;
        case 'j': to_pb = 0; break;
        case 'e': opt.emit_defaults = 1; break;
        case 'i': opt.ignore_unknown_fields = 1; break;
        case 'n': opt.use_proto_names = 1; break;
        case 'm': opt.max_depth = (uint32_t)atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!descriptors || !type || to_pb < 0) {
        usage(stderr);
        return 2;
    }
    char err[256];
    schema_t *schema = schema_load_file(descriptors, err, sizeof(err));
    if (schema == NULL) {
        fprintf(stderr, "agtranscode: %s\n", err);
        return 2;
    }
    const schema_message_t *msg = schema_find_message(schema, type, strlen(type));
    if (msg == NULL) {
        fprintf(stderr, "agtranscode: no message %s in %s\n", type, descriptors);
        schema_free(schema);
        return 2;
    }
    size_t len;
    char *in = file_read_all(stdin, &len);
    if (in == NULL) {
        fprintf(stderr, "agtranscode: cannot read stdin\n");
        return 2;
    }
    arena_t arena;
    arena_init(&arena);
    buf_t out;
    buf_init(&out, &arena, 4096);
    status_t st = {0};
    int rc = to_pb ? transcode_json_to_pb(schema, msg, in, len, &opt, &out, &st, NULL)
                   : transcode_pb_to_json(schema, msg, (const uint8_t *)in, len, &opt, &out, &st);
    if (rc == 0) {
        fwrite(out.data, 1, out.len, stdout);
        if (!to_pb)
            fputc('\n', stdout);
    } else {
        buf_t e;
        buf_init(&e, &arena, 256);
        status_render_json(&e, st.code, st.message, strlen(st.message), NULL, 0, 0);
        fprintf(stderr, "%.*s\n", (int)e.len, e.data);
    }
    arena_free(&arena);
    free(in);
    schema_free(schema);
    return rc == 0 ? 0 : 1;
}
