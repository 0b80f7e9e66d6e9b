/* reflection_test: server reflection answers from the V11 descriptor set,
 * with requests and responses in protobuf-c's code for grpc.reflection.v1
 * (v1alpha has the same wire format). */
#include "schema/reflection.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest request_t;
typedef Grpc__Reflection__V1__ServerReflectionResponse response_t;
typedef Google__Protobuf__FileDescriptorProto file_proto_t;

#define RESP(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##x
#define REQ(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##x

static char *set_bytes;
static size_t set_len;

static response_t *ask(const reflection_t *r, const request_t *req)
{
    static uint8_t wire[4096];
    size_t n = grpc__reflection__v1__server_reflection_request__pack(req, wire);
    arena_t a;
    arena_init(&a);
    const uint8_t *out = NULL;
    size_t out_len = 0;
    reflection_result_t rc = reflection_answer(r, wire, n, &a, &out, &out_len);
    CHECK_INTEQ(rc, REFLECTION_OK);
    response_t *resp = rc == REFLECTION_OK ? grpc__reflection__v1__server_reflection_response__unpack(NULL, out_len, out)
                                           : NULL;
    arena_free(&a);
    CHECK(resp != NULL);
    return resp;
}

static response_t *ask_string(const reflection_t *r, int kind, const char *value)
{
    request_t req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.host = "gateway.test:9004";
    req.message_request_case = kind;
    switch (kind) {
    case REQ(FILE_BY_FILENAME): req.file_by_filename = (char *)value; break;
    case REQ(FILE_CONTAINING_SYMBOL): req.file_containing_symbol = (char *)value; break;
    case REQ(ALL_EXTENSION_NUMBERS_OF_TYPE): req.all_extension_numbers_of_type = (char *)value; break;
    case REQ(LIST_SERVICES): req.list_services = (char *)value; break;
    default: break;
    }
    response_t *resp = ask(r, &req);
    if (resp) {
        /* every answer echoes the host and the request */
        CHECK_STREQ(resp->valid_host, "gateway.test:9004");
        CHECK(resp->original_request != NULL);
        if (resp->original_request) {
            CHECK_STREQ(resp->original_request->host, "gateway.test:9004");
            CHECK_INTEQ(resp->original_request->message_request_case, kind);
        }
    }
    return resp;
}

/* The names of a file answer's files, in order, joined by spaces; every file
 * decodes, each appears once, and each import of each is in the answer. */
static void file_names(const response_t *resp, char *out, size_t outlen)
{
    out[0] = '\0';
    CHECK(resp && resp->message_response_case == RESP(FILE_DESCRIPTOR_RESPONSE));
    if (!resp || resp->message_response_case != RESP(FILE_DESCRIPTOR_RESPONSE))
        return;
    const Grpc__Reflection__V1__FileDescriptorResponse *fdr = resp->file_descriptor_response;
    file_proto_t *files[64];
    size_t n = fdr->n_file_descriptor_proto < 64 ? fdr->n_file_descriptor_proto : 64;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *b = &fdr->file_descriptor_proto[i];
        files[i] = google__protobuf__file_descriptor_proto__unpack(NULL, b->len, b->data);
        CHECK(files[i] != NULL);
        if (files[i] == NULL)
            return;
        /* the bytes the set carries, not a re-encoding */
        CHECK(memmem(set_bytes, set_len, b->data, b->len) != NULL || strncmp(files[i]->name, "grpc/", 5) == 0);
        if (i)
            strncat(out, " ", outlen - strlen(out) - 1);
        strncat(out, files[i]->name, outlen - strlen(out) - 1);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++)
            CHECK(strcmp(files[i]->name, files[j]->name) != 0);
        for (size_t d = 0; d < files[i]->n_dependency; d++) {
            int found = 0;
            for (size_t j = 0; j < n; j++)
                found |= strcmp(files[j]->name, files[i]->dependency[d]) == 0;
            CHECK(found);
        }
    }
    for (size_t i = 0; i < n; i++)
        google__protobuf__file_descriptor_proto__free_unpacked(files[i], NULL);
}

/* The first file of the answer to file_containing_symbol. */
static void check_symbol(const reflection_t *r, const char *symbol, const char *want_file)
{
    response_t *resp = ask_string(r, REQ(FILE_CONTAINING_SYMBOL), symbol);
    char names[2048];
    file_names(resp, names, sizeof(names));
    size_t wl = strlen(want_file);
    if (strncmp(names, want_file, wl) != 0 || (names[wl] != '\0' && names[wl] != ' ')) {
        CHECK(!"first file of the answer");
        fprintf(stderr, "  symbol %s: got [%s], want %s first\n", symbol, names, want_file);
    }
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
}

static void check_not_found(response_t *resp, const char *needle)
{
    CHECK(resp != NULL);
    if (!resp)
        return;
    CHECK_INTEQ(resp->message_response_case, RESP(ERROR_RESPONSE));
    if (resp->message_response_case == RESP(ERROR_RESPONSE)) {
        CHECK_INTEQ(resp->error_response->error_code, 5);
        CHECK(strstr(resp->error_response->error_message, needle) != NULL);
    }
    grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
}

static void test_list_services(const reflection_t *r)
{
    response_t *resp = ask_string(r, REQ(LIST_SERVICES), "*");
    CHECK(resp && resp->message_response_case == RESP(LIST_SERVICES_RESPONSE));
    if (!resp || resp->message_response_case != RESP(LIST_SERVICES_RESPONSE))
        return;
    static const char *const want[] = {
        "aurigraph.v11.AIOptimizationService", "aurigraph.v11.CrossChainBridgeService",
        "aurigraph.v11.ConsensusService", "aurigraph.v11.QuantumCryptoService",
        "aurigraph.v11.TransactionService", "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
    };
    const Grpc__Reflection__V1__ListServiceResponse *ls = resp->list_services_response;
    CHECK_INTEQ(ls->n_service, sizeof(want) / sizeof(want[0]));
    CHECK_INTEQ(reflection_service_count(r), ls->n_service);
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        int found = 0;
        for (size_t i = 0; i < ls->n_service; i++)
            found += strcmp(ls->service[i]->name, want[w]) == 0;
        if (found != 1)
            fprintf(stderr, "  %s listed %d times\n", want[w], found);
        CHECK_INTEQ(found, 1);
    }
    /* the served set's first, the gateway's own after them */
    CHECK_STREQ(reflection_service_at(r, ls->n_service - 3), "grpc.health.v1.Health");
    CHECK(reflection_service_at(r, ls->n_service) == NULL);
    grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
}

static void test_files(const reflection_t *r)
{
    char names[2048];
    response_t *resp = ask_string(r, REQ(FILE_BY_FILENAME), "aurigraph/v11/transaction.proto");
    file_names(resp, names, sizeof(names));
    /* imports breadth first; descriptor.proto is imported twice
     * (options.proto, annotations.proto) and sent once */
    CHECK_STREQ(names, "aurigraph/v11/transaction.proto aurigraph/api/options.proto google/api/annotations.proto "
                       "google/protobuf/timestamp.proto google/protobuf/wrappers.proto google/type/decimal.proto "
                       "google/protobuf/descriptor.proto google/api/http.proto");
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);

    resp = ask_string(r, REQ(FILE_BY_FILENAME), "google/protobuf/timestamp.proto");
    file_names(resp, names, sizeof(names));
    CHECK_STREQ(names, "google/protobuf/timestamp.proto");
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);

    resp = ask_string(r, REQ(FILE_BY_FILENAME), "grpc/reflection/v1alpha/reflection.proto");
    file_names(resp, names, sizeof(names));
    CHECK_STREQ(names, "grpc/reflection/v1alpha/reflection.proto");
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);

    check_not_found(ask_string(r, REQ(FILE_BY_FILENAME), "aurigraph/v11/nope.proto"), "aurigraph/v11/nope.proto");
    /* names are exact: no leading slash, no prefix match */
    check_not_found(ask_string(r, REQ(FILE_BY_FILENAME), "/aurigraph/v11/transaction.proto"), "file not found");
    check_not_found(ask_string(r, REQ(FILE_BY_FILENAME), "aurigraph/v11/transaction"), "file not found");
    check_not_found(ask_string(r, REQ(FILE_BY_FILENAME), ""), "file not found");
}

static void test_symbols(const reflection_t *r)
{
    check_symbol(r, "aurigraph.v11.TransactionService", "aurigraph/v11/transaction.proto");
    check_symbol(r, "aurigraph.v11.TransactionService.SubmitTransaction", "aurigraph/v11/transaction.proto");
    check_symbol(r, "aurigraph.v11.TransactionService.StreamTransactionEvents", "aurigraph/v11/transaction.proto");
    check_symbol(r, "aurigraph.v11.Transaction", "aurigraph/v11/transaction.proto");
    check_symbol(r, "aurigraph.v11.Transaction.tx_hash", "aurigraph/v11/transaction.proto");
    check_symbol(r, "aurigraph.v11.TransactionType", "aurigraph/v11/transaction.proto");
    check_symbol(r, "aurigraph.v11.TRANSFER", "aurigraph/v11/transaction.proto"); /* enum values: parent scope */
    check_symbol(r, "aurigraph.v11.CryptoMetrics.KeyManagement", "aurigraph/v11/crypto.proto");
    check_symbol(r, "aurigraph.v11.CryptoMetrics.KeyManagement.total_keys_generated", "aurigraph/v11/crypto.proto");
    check_symbol(r, "aurigraph.v11.ConsensusService", "aurigraph/v11/consensus.proto");
    check_symbol(r, "aurigraph.v11.CrossChainBridgeService", "aurigraph/v11/bridge.proto");
    check_symbol(r, "google.protobuf.Timestamp", "google/protobuf/timestamp.proto");
    check_symbol(r, "google.protobuf.FieldDescriptorProto.Type", "google/protobuf/descriptor.proto");
    check_symbol(r, "google.protobuf.FieldDescriptorProto.TYPE_STRING", "google/protobuf/descriptor.proto");
    check_symbol(r, "google.api.http", "google/api/annotations.proto");            /* an extension */
    check_symbol(r, "aurigraph.api.json_profile", "aurigraph/api/options.proto");
    check_symbol(r, "google.rpc.Status", "google/rpc/status.proto");
    /* the gateway's own protocols */
    check_symbol(r, "grpc.health.v1.Health", "grpc/health/v1/health.proto");
    check_symbol(r, "grpc.health.v1.Health.Watch", "grpc/health/v1/health.proto");
    check_symbol(r, "grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto");
    check_symbol(r, "grpc.health.v1.HealthCheckResponse.SERVING", "grpc/health/v1/health.proto");
    check_symbol(r, "grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto");
    check_symbol(r, "grpc.reflection.v1alpha.ServerReflection", "grpc/reflection/v1alpha/reflection.proto");
    check_symbol(r, "grpc.reflection.v1alpha.ServerReflectionRequest.message_request", /* a oneof */
                 "grpc/reflection/v1alpha/reflection.proto");
    check_symbol(r, "grpc.reflection.v1.ServerReflection.ServerReflectionInfo", "grpc/reflection/v1/reflection.proto");

    check_not_found(ask_string(r, REQ(FILE_CONTAINING_SYMBOL), "aurigraph.v11.NoSuchService"),
                    "aurigraph.v11.NoSuchService");
    check_not_found(ask_string(r, REQ(FILE_CONTAINING_SYMBOL), "aurigraph.v11.TransactionType.TRANSFER"),
                    "symbol not found");
    check_not_found(ask_string(r, REQ(FILE_CONTAINING_SYMBOL), ".aurigraph.v11.Transaction"), "symbol not found");
    check_not_found(ask_string(r, REQ(FILE_CONTAINING_SYMBOL), "aurigraph.v11"), "symbol not found");
}

static response_t *ask_extension(const reflection_t *r, const char *type, int number)
{
    Grpc__Reflection__V1__ExtensionRequest ext = GRPC__REFLECTION__V1__EXTENSION_REQUEST__INIT;
    ext.containing_type = (char *)type;
    ext.extension_number = number;
    request_t req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    req.message_request_case = REQ(FILE_CONTAINING_EXTENSION);
    req.file_containing_extension = &ext;
    response_t *resp = ask(r, &req);
    if (resp && resp->original_request) {
        CHECK_STREQ(resp->valid_host, "");
        CHECK(resp->original_request->file_containing_extension != NULL &&
              resp->original_request->file_containing_extension->extension_number == number);
    }
    return resp;
}

static void test_extensions(const reflection_t *r)
{
    char names[2048];
    response_t *resp = ask_extension(r, "google.protobuf.MethodOptions", 72295728);
    file_names(resp, names, sizeof(names));
    CHECK_STREQ(names, "google/api/annotations.proto google/api/http.proto google/protobuf/descriptor.proto");
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    resp = ask_extension(r, "google.protobuf.FileOptions", 51101);
    file_names(resp, names, sizeof(names));
    CHECK_STREQ(names, "aurigraph/api/options.proto google/protobuf/descriptor.proto");
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    check_not_found(ask_extension(r, "google.protobuf.MethodOptions", 51101), "extension not found");
    check_not_found(ask_extension(r, "google.protobuf.NoOptions", 51101), "type not found");
    check_not_found(ask_extension(r, "aurigraph.v11.TransactionType", 1), "type not found"); /* an enum */

    resp = ask_string(r, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "google.protobuf.MethodOptions");
    CHECK(resp && resp->message_response_case == RESP(ALL_EXTENSION_NUMBERS_RESPONSE));
    if (resp && resp->message_response_case == RESP(ALL_EXTENSION_NUMBERS_RESPONSE)) {
        const Grpc__Reflection__V1__ExtensionNumberResponse *en = resp->all_extension_numbers_response;
        CHECK_STREQ(en->base_type_name, "google.protobuf.MethodOptions");
        CHECK_INTEQ(en->n_extension_number, 2);
        if (en->n_extension_number == 2) {
            CHECK_INTEQ(en->extension_number[0], 51102);
            CHECK_INTEQ(en->extension_number[1], 72295728);
        }
    }
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    /* a message nothing extends: found, no numbers */
    resp = ask_string(r, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "aurigraph.v11.Transaction");
    CHECK(resp && resp->message_response_case == RESP(ALL_EXTENSION_NUMBERS_RESPONSE) &&
          resp->all_extension_numbers_response->n_extension_number == 0);
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    check_not_found(ask_string(r, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "aurigraph.v11.Nope"), "aurigraph.v11.Nope");
    check_not_found(ask_string(r, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "aurigraph.v11.TransactionService"),
                    "type not found");
}

static void test_bad_requests(const reflection_t *r)
{
    arena_t a;
    arena_init(&a);
    const uint8_t *out;
    size_t out_len;
    static const uint8_t truncated[] = {0x1a, 0x20, 'a', 'b'}; /* file_by_filename, 32 bytes promised */
    CHECK_INTEQ(reflection_answer(r, truncated, sizeof(truncated), &a, &out, &out_len), REFLECTION_BAD_REQUEST);
    static const uint8_t bad_wire[] = {0x0f};                  /* wire type 7 */
    CHECK_INTEQ(reflection_answer(r, bad_wire, sizeof(bad_wire), &a, &out, &out_len), REFLECTION_BAD_REQUEST);
    arena_free(&a);

    /* no message_request (an empty message): an error answer, not a dead stream */
    request_t req = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    response_t *resp = ask(r, &req);
    CHECK(resp && resp->message_response_case == RESP(ERROR_RESPONSE) && resp->error_response->error_code == 3);
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);

    /* the arena bounds an answer: a limited one runs out, cleanly */
    static uint8_t wire[256];
    req.message_request_case = REQ(FILE_BY_FILENAME);
    req.file_by_filename = "aurigraph/v11/transaction.proto";
    size_t n = grpc__reflection__v1__server_reflection_request__pack(&req, wire);
    arena_init(&a);
    a.limit = 2048;
    CHECK_INTEQ(reflection_answer(r, wire, n, &a, &out, &out_len), REFLECTION_NO_MEMORY);
    arena_free(&a);
}

/* A served set with its own grpc/health/v1/health.proto: the gateway's copy
 * is not added beside it, and an import the set lacks is left out. */
static void test_served_copy_wins(void)
{
    Google__Protobuf__ServiceDescriptorProto svc = GOOGLE__PROTOBUF__SERVICE_DESCRIPTOR_PROTO__INIT;
    svc.name = "Health";
    Google__Protobuf__ServiceDescriptorProto *svcs[] = {&svc};
    Google__Protobuf__DescriptorProto marker = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
    marker.name = "Marker";
    Google__Protobuf__DescriptorProto *msgs[] = {&marker};
    char *deps[] = {"not/in/the/set.proto"};
    file_proto_t f = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
    f.name = "grpc/health/v1/health.proto";
    f.package = "grpc.health.v1";
    f.n_service = 1;
    f.service = svcs;
    f.n_message_type = 1;
    f.message_type = msgs;
    f.n_dependency = 1;
    f.dependency = deps;
    file_proto_t *files[] = {&f, &f}; /* a repeat too: kept once */
    Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
    set.n_file = 2;
    set.file = files;
    uint8_t wire[512];
    size_t n = google__protobuf__file_descriptor_set__pack(&set, wire);
    char err[256];
    reflection_t *r = reflection_new(wire, n, err, sizeof(err));
    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK_INTEQ(reflection_service_count(r), 3);
    CHECK_STREQ(reflection_service_at(r, 0), "grpc.health.v1.Health");
    CHECK_STREQ(reflection_service_at(r, 1), "grpc.reflection.v1.ServerReflection");
    CHECK_STREQ(reflection_service_at(r, 2), "grpc.reflection.v1alpha.ServerReflection");
    response_t *resp = ask_string(r, REQ(FILE_CONTAINING_SYMBOL), "grpc.health.v1.Marker");
    CHECK(resp && resp->message_response_case == RESP(FILE_DESCRIPTOR_RESPONSE) &&
          resp->file_descriptor_response->n_file_descriptor_proto == 1);
    if (resp)
        grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    check_not_found(ask_string(r, REQ(FILE_CONTAINING_SYMBOL), "grpc.health.v1.HealthCheckRequest"),
                    "symbol not found");
    check_symbol(r, "grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto");
    reflection_free(r);
}

static void test_bad_sets(void)
{
    char err[256] = "";
    static const uint8_t not_a_set[] = {0x0a, 0x05, 0xff, 0xff};
    CHECK(reflection_new(not_a_set, sizeof(not_a_set), err, sizeof(err)) == NULL);
    CHECK(strstr(err, "not a FileDescriptorSet") != NULL);
    static const uint8_t bad_file[] = {0x0a, 0x02, 0x0a, 0x05}; /* file 1: a name promised 5 bytes */
    CHECK(reflection_new(bad_file, sizeof(bad_file), err, sizeof(err)) == NULL);
    CHECK(strstr(err, "not a FileDescriptorProto") != NULL);
    static const uint8_t nameless[] = {0x0a, 0x02, 0x12, 0x00}; /* a file with only a package */
    CHECK(reflection_new(nameless, sizeof(nameless), err, sizeof(err)) == NULL);
    CHECK(strstr(err, "no name") != NULL);
    CHECK(reflection_load_file("/nonexistent/set.pb", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent/set.pb") != NULL);
    /* an empty set still serves the gateway's own protocols */
    reflection_t *r = reflection_new("", 0, err, sizeof(err));
    CHECK(r != NULL && reflection_service_count(r) == 3);
    reflection_free(r);
}

int main(void)
{
    FILE *f = fopen(AG_V11_DESCRIPTORS, "rb");
    CHECK(f != NULL);
    if (f == NULL)
        return test_summary();
    set_bytes = file_read_all(f, &set_len);
    fclose(f);
    char err[256] = "";
    reflection_t *r = reflection_load_file(AG_V11_DESCRIPTORS, err, sizeof(err));
    if (r == NULL)
        fprintf(stderr, "load: %s\n", err);
    CHECK(r != NULL);
    if (r) {
        test_list_services(r);
        test_files(r);
        test_symbols(r);
        test_extensions(r);
        test_bad_requests(r);
        reflection_free(r);
    }
    test_served_copy_wins();
    test_bad_sets();
    free(set_bytes);
    return test_summary();
}
