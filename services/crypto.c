/*
 * crypto.c: QuantumCryptoService on OpenSSL 3 (EVP_PKEY). Keys are really
 * generated, data really signed and verified, sizes and latencies really
 * measured. Which algorithms are available is asked of the linked OpenSSL
 * at start: the post-quantum ones (ML-DSA, ML-KEM, SLH-DSA, which OpenSSL
 * has from 3.5) are listed either way, and where the library lacks them
 * every use is refused with UNIMPLEMENTED, never imitated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "aurigraph/v11/crypto.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "svc.h"

#define MAX_KEY_ID 128
#define MAX_KEYS 100000           /* bounds memory under a long benchmark */

struct alg {
    const char *name;
    const char *type;             /* "SIGNATURE" or "KEM" */
    /* NIST PQC category. The classical ones get the category of their
     * classical strength (~128 bits, like AES-128): none is quantum-safe. */
    int32_t level;
    const char *ossl;             /* OpenSSL key type name */
    const char *digest;           /* NULL: the algorithm hashes for itself */
    const char *aliases[3];
    int available;                /* probed by crypto_init */
};

static struct alg algs[] = {
    {"Ed25519", "SIGNATURE", 1, "ED25519", NULL, {"ED25519", NULL, NULL}, 0},
    {"ECDSA-P256", "SIGNATURE", 1, "EC", "SHA256", {"ES256", "P-256", NULL}, 0},
    {"RSA-3072", "SIGNATURE", 1, "RSA", "SHA256", {"RSA", NULL, NULL}, 0},
    {"CRYSTALS-Dilithium", "SIGNATURE", 3, "ML-DSA-65", NULL, {"ML-DSA-65", "Dilithium3", NULL}, 0},
    {"CRYSTALS-Kyber", "KEM", 3, "ML-KEM-768", NULL, {"ML-KEM-768", "Kyber768", NULL}, 0},
    {"SPHINCS+", "SIGNATURE", 1, "SLH-DSA-SHA2-128s", NULL,
     {"SLH-DSA-SHA2-128s", "SPHINCS+-SHA2-128s", NULL}, 0},
};

#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

struct key {
    char *id;
    const struct alg *alg;
    EVP_PKEY *pkey;
};

static struct {
    struct key **items;
    size_t len, cap;
    struct strmap by_id;
    int64_t generated;
    char suite[96];
} K;

void crypto_init(void)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, algs[i].ossl, NULL);
        algs[i].available = ctx && EVP_PKEY_keygen_init(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    ERR_clear_error();
    snprintf(K.suite, sizeof(K.suite), "NIST PQC + classical (OpenSSL %s)",
             OpenSSL_version(OPENSSL_VERSION_STRING));
}

void crypto_cleanup(void)
{
    for (size_t i = 0; i < K.len; i++) {
        EVP_PKEY_free(K.items[i]->pkey);
        free(K.items[i]->id);
        free(K.items[i]);
    }
    free(K.items);
    strmap_free(&K.by_id);
    K.items = NULL;
    K.len = K.cap = 0;
}

static const struct alg *default_alg(void)
{
    /* the strongest signature scheme this build can really run */
    const struct alg *best = NULL;
    for (size_t i = 0; i < N_ALGS; i++)
        if (algs[i].available && strcmp(algs[i].type, "SIGNATURE") == 0 &&
            (!best || algs[i].level > best->level))
            best = &algs[i];
    return best;
}

static const struct alg *find_alg(const char *name)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (strcasecmp(algs[i].name, name) == 0)
            return &algs[i];
        for (size_t j = 0; j < 3 && algs[i].aliases[j]; j++)
            if (strcasecmp(algs[i].aliases[j], name) == 0)
                return &algs[i];
    }
    return NULL;
}

static double ms_since(int64_t t0)
{
    return (double)(now_monotonic_ns() - t0) / 1e6;
}

static void get_status(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__CryptoStatus st = AURIGRAPH__V11__CRYPTO_STATUS__INIT;
    const struct alg *def = default_alg();

    (void)in;
    st.enabled = def != NULL;
    st.suite = K.suite;
    st.default_algorithm = def ? (char *)def->name : "";
    st.security_level = def ? def->level : 0;
    st.keys_stored = (int64_t)K.len;
    for (size_t i = 0; i < N_ALGS; i++)
        st.available_algorithms += algs[i].available;
    reply_ok(r, &st.base);
}

static void list_algorithms(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListAlgorithmsResponse resp = AURIGRAPH__V11__LIST_ALGORITHMS_RESPONSE__INIT;
    Aurigraph__V11__CryptoAlgorithm a[N_ALGS];
    Aurigraph__V11__CryptoAlgorithm *ptrs[N_ALGS];
    Google__Protobuf__BoolValue avail[N_ALGS];

    (void)in;
    for (size_t i = 0; i < N_ALGS; i++) {
        aurigraph__v11__crypto_algorithm__init(&a[i]);
        a[i].name = (char *)algs[i].name;
        a[i].type = (char *)algs[i].type;
        a[i].security_level = algs[i].level;
        google__protobuf__bool_value__init(&avail[i]);
        avail[i].value = algs[i].available;
        a[i].available = &avail[i];
        ptrs[i] = &a[i];
    }
    resp.algorithms = ptrs;
    resp.n_algorithms = N_ALGS;
    resp.suite = K.suite;
    reply_ok(r, &resp.base);
}

static void refuse_unavailable(struct reply *r, const struct alg *alg)
{
    reply_error(r, GRPC_STATUS_UNIMPLEMENTED,
                "algorithm %s (%s) is not available: the linked OpenSSL %s does not provide it",
                alg->name, alg->ossl, OpenSSL_version(OPENSSL_VERSION_STRING));
}

static EVP_PKEY *generate(const struct alg *alg)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg->ossl, NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
        (strcmp(alg->ossl, "EC") != 0 || EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1) &&
        (strcmp(alg->ossl, "RSA") != 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072) == 1))
        EVP_PKEY_generate(ctx, &pkey);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}

/* Raw key bytes where the algorithm has a raw form, else DER. */
static int32_t public_size(EVP_PKEY *pkey)
{
    size_t n = 0;
    if (EVP_PKEY_get_raw_public_key(pkey, NULL, &n) == 1)
        return (int32_t)n;
    ERR_clear_error();
    return i2d_PUBKEY(pkey, NULL);
}

static int32_t private_size(EVP_PKEY *pkey)
{
    size_t n = 0;
    if (EVP_PKEY_get_raw_private_key(pkey, NULL, &n) == 1)
        return (int32_t)n;
    ERR_clear_error();
    return i2d_PrivateKey(pkey, NULL);
}

static void generate_key(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GenerateKeyRequest *req = (const void *)in;
    Aurigraph__V11__GenerateKeyResponse resp = AURIGRAPH__V11__GENERATE_KEY_RESPONSE__INIT;
    const struct alg *alg;
    struct key *k;
    EVP_PKEY *pkey;
    char idbuf[32];
    const char *id = req->key_id;
    int64_t t0;

    if (field_too_long(req->key_id, MAX_KEY_ID)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "key_id must be at most %d characters",
                    MAX_KEY_ID);
        return;
    }
    if (field_present(req->algorithm)) {
        alg = find_alg(req->algorithm);
        if (!alg) {
            reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                        "algorithm \"%.64s\" is unknown (see ListAlgorithms)", req->algorithm);
            return;
        }
    } else {
        alg = default_alg();
        if (!alg) {
            reply_error(r, GRPC_STATUS_UNIMPLEMENTED, "no signature algorithm is available");
            return;
        }
    }
    if (!alg->available) {
        refuse_unavailable(r, alg);
        return;
    }

    if (K.len >= MAX_KEYS && !(field_present(id) && strmap_get(&K.by_id, id))) {
        reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "keystore full (%d keys); reuse a key_id or restart the service", MAX_KEYS);
        return;
    }
    t0 = now_monotonic_ns();
    pkey = generate(alg);
    resp.latency_ms = ms_since(t0);
    if (!pkey) {
        reply_error(r, GRPC_STATUS_INTERNAL, "%s key generation failed", alg->name);
        return;
    }

    K.generated++;
    if (!field_present(id)) {
        snprintf(idbuf, sizeof(idbuf), "key-%06lld", (long long)K.generated);
        id = idbuf;
    }
    /* an existing id is rotated: the old key is gone, like a keystore
     * entry overwritten */
    k = strmap_get(&K.by_id, id);
    if (k) {
        EVP_PKEY_free(k->pkey);
    } else {
        k = xcalloc(1, sizeof(*k));
        k->id = xstrdup(id);
        if (K.len == K.cap) {
            K.cap = K.cap ? K.cap * 2 : 16;
            K.items = xrealloc(K.items, K.cap * sizeof(*K.items));
        }
        K.items[K.len++] = k;
        strmap_put(&K.by_id, k->id, k);
    }
    k->alg = alg;
    k->pkey = pkey;

    resp.success = 1;
    resp.key_id = k->id;
    resp.algorithm = (char *)alg->name;
    resp.security_level = alg->level;
    resp.public_key_size = public_size(pkey);
    resp.private_key_size = private_size(pkey);
    reply_ok(r, &resp.base);
}

/* The key for a sign/verify request, or NULL with the reply set. */
static struct key *signing_key(struct reply *r, const char *key_id)
{
    struct key *k;

    if (!field_present(key_id)) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "key_id must not be empty");
        return NULL;
    }
    k = strmap_get(&K.by_id, key_id);
    if (!k) {
        reply_error(r, GRPC_STATUS_NOT_FOUND, "key \"%.128s\" not found (generate it first)",
                    key_id);
        return NULL;
    }
    if (strcmp(k->alg->type, "SIGNATURE") != 0) {
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION, "key \"%.128s\" is a %s key: it cannot sign",
                    key_id, k->alg->name);
        return NULL;
    }
    return k;
}

static void sign(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__SignRequest *req = (const void *)in;
    Aurigraph__V11__SignResponse resp = AURIGRAPH__V11__SIGN_RESPONSE__INIT;
    struct key *k = signing_key(r, req->key_id);
    EVP_MD_CTX *md;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int ok;
    int64_t t0;

    if (!k)
        return;
    t0 = now_monotonic_ns();
    md = EVP_MD_CTX_new();
    ok = md && EVP_DigestSignInit_ex(md, NULL, k->alg->digest, NULL, NULL, k->pkey, NULL) == 1 &&
         EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)req->data, strlen(req->data)) == 1;
    if (ok) {
        sig = xmalloc(siglen);
        ok = EVP_DigestSign(md, sig, &siglen, (const unsigned char *)req->data,
                            strlen(req->data)) == 1;
    }
    resp.latency_ms = ms_since(t0);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (!ok) {
        free(sig);
        reply_error(r, GRPC_STATUS_INTERNAL, "signing with %s failed", k->alg->name);
        return;
    }
    resp.success = 1;
    resp.signature.data = sig;
    resp.signature.len = siglen;
    resp.status = "SIGNED";
    reply_ok(r, &resp.base);
    free(sig);
}

static void verify(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__VerifyRequest *req = (const void *)in;
    Aurigraph__V11__VerifyResponse resp = AURIGRAPH__V11__VERIFY_RESPONSE__INIT;
    struct key *k = signing_key(r, req->key_id);
    EVP_MD_CTX *md;
    int rc = 0;
    int64_t t0;

    if (!k)
        return;
    if (req->signature.len == 0) {
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "signature must not be empty");
        return;
    }
    t0 = now_monotonic_ns();
    md = EVP_MD_CTX_new();
    if (md && EVP_DigestVerifyInit_ex(md, NULL, k->alg->digest, NULL, NULL, k->pkey, NULL) == 1)
        rc = EVP_DigestVerify(md, req->signature.data, req->signature.len,
                              (const unsigned char *)req->data, strlen(req->data));
    resp.latency_ms = ms_since(t0);
    EVP_MD_CTX_free(md);
    /* a malformed signature is just not a valid one: rc < 0 is "invalid" */
    ERR_clear_error();
    resp.success = 1;
    resp.is_valid = rc == 1;
    resp.status = rc == 1 ? "VERIFIED" : "INVALID";
    reply_ok(r, &resp.base);
}

static const struct svc_method methods[] = {
    {"GetStatus", get_status, NULL, NULL},
    {"ListAlgorithms", list_algorithms, NULL, NULL},
    {"GenerateKey", generate_key, NULL, NULL},
    {"Sign", sign, NULL, NULL},
    {"Verify", verify, NULL, NULL},
};

const struct svc_service svc_crypto = {
    &aurigraph__v11__quantum_crypto_service__descriptor, methods,
    sizeof(methods) / sizeof(methods[0]), 0,
};
