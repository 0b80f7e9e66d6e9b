/*
 * fuzz_common.h: what both fuzz targets share. The first input byte picks
 * the message type, so one target exercises every corner of the schema.
 */
#ifndef AG_FUZZ_COMMON_H
#define AG_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "schema/schema.h"
#include "transcode/json_to_pb.h"
#include "transcode/options.h"
#include "transcode/profile.h"
#include "transcode/pb_to_json.h"

static const char *const fuzz_types[] = {
    "agtest.Everything", "agtest.Scalars", "agtest.Repeated", "agtest.Maps",
    "agtest.Oneofs",     "agtest.WellKnown", "agtest.Deep",   "agtest.Nested",
    "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.Any", "agtest.Profiled",
};
#define FUZZ_NTYPES (sizeof(fuzz_types) / sizeof(fuzz_types[0]))

static schema_t *fuzz_schema;
static const schema_message_t *fuzz_msgs[FUZZ_NTYPES];

static void fuzz_load(void)
{
    char err[256];
    const char *path = getenv("AG_TEST_DESCRIPTORS");
    fuzz_schema = schema_load_file(path ? path : AG_TEST_DESCRIPTORS, err, sizeof(err));
    if (fuzz_schema == NULL) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < FUZZ_NTYPES; i++) {
        fuzz_msgs[i] = schema_find_message(fuzz_schema, fuzz_types[i], strlen(fuzz_types[i]));
        if (fuzz_msgs[i] == NULL)
            abort();
    }
}

/* A transcoder's output, re-read by the other direction, must be accepted:
 * anything we print we must parse, and anything we encode we must print.
 * Depth is looser on the way back: one JSON level of a Struct is two
 * protobuf levels. */
static void fuzz_options(transcode_options_t *fwd, transcode_options_t *back)
{
    transcode_options_default(fwd);
    fwd->max_body = 1 << 20;
    *back = *fwd;
    back->max_depth = fwd->max_depth * 4;
}

/* Both directions under the v11 JSON profile (transcode/profile.h). */
static void fuzz_profile_v11(transcode_options_t *fwd, transcode_options_t *back)
{
    const json_profile_t *p = json_profile_find("v11");
    json_profile_apply(p, fwd);
    json_profile_apply(p, back);
}

static void fuzz_expect(int ok, const char *what, const status_t *st)
{
    if (!ok) {
        fprintf(stderr, "fuzz invariant broken: %s: %s\n", what, st->message);
        abort();
    }
}

#endif
