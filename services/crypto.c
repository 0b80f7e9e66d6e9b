/*
 * crypto.c: QuantumCryptoService, the original's CryptoApiResource
 * (/api/v11/crypto) on OpenSSL 3 EVP. Keys are really generated, data
 * really signed, verified, encrypted and decrypted; sizes, latencies and
 * rates are measured (crypto_stats.c).
 *
 * The original's algorithms are post-quantum: CRYSTALS-Kyber,
 * CRYSTALS-Dilithium, SPHINCS+ (BouncyCastle). Here they run where the
 * linked OpenSSL has them (ML-KEM-1024, ML-DSA-87, SLH-DSA-SHA2-192s, from
 * 3.5); crypto_init asks at start. Where it lacks them (Debian 12 ships
 * 3.0; its Botan 2.19 has none of them either) they are listed with
 * available=false and every use is refused with UNIMPLEMENTED naming the
 * algorithm, never imitated. Ed25519, ECDSA-P256 and RSA-3072 are this
 * service's additions, so that every build can really run the routes.
 *
 * Encryption is what the original's comments say it intends (its code
 * appends the AES key to the ciphertext instead): a KEM encapsulates a
 * fresh secret to the key, HKDF-SHA256 turns it into an AES-256-GCM key,
 * and the ciphertext is base64(encapsulation || iv || sealed data || tag),
 * so only the private key's holder can decrypt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "aurigraph/v11/crypto.pb-c.h"
#include "crypto_stats.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "svc.h"

#define MAX_KEY_ID 256
#define MAX_KEYS 100000 /* bounds memory under a long benchmark */

/* The original's configuration (application.properties, %prod): Kyber and
 * Dilithium at NIST level 5, quantum crypto enabled, 10,000 ops/s target. */
#define KYBER_LEVEL 5
#define DILITHIUM_LEVEL 5
#define TARGET_TPS 10000
#define SUITE_NAME "Post-Quantum Cryptography Suite V11"
#define STATUS_ALGORITHMS "CRYSTALS-Kyber + CRYSTALS-Dilithium + SPHINCS+"
#define PERF_OPERATION "Quantum-resistant encryption/decryption"

enum { CAP_SIGN = 1, CAP_KEM = 2 };

struct alg {
    const char *name;   /* as listed */
    const char *type;   /* the original's type text */
    int32_t level;      /* NIST PQC category; 0: classical, not quantum-safe */
    const char *ossl;   /* OpenSSL key type; NULL: nothing here implements it */
    const char *digest; /* NULL: the algorithm hashes for itself */
    int caps;
    const char *alias;  /* the original's second name for it, lower case */
    int available;      /* probed by crypto_init */
};

/* The original's five (its order, types, levels), then ours. */
static struct alg algs[] = {
    {"CRYSTALS-Kyber", "Key Encapsulation", KYBER_LEVEL, "ML-KEM-1024", NULL, CAP_KEM, "kyber", 0},
    {"CRYSTALS-Dilithium", "Digital Signatures", DILITHIUM_LEVEL, "ML-DSA-87", NULL, CAP_SIGN,
     "dilithium", 0},
    {"SPHINCS+", "Hash-based Signatures", 3, "SLH-DSA-SHA2-192s", NULL, CAP_SIGN, "sphincsplus", 0},
    {"McEliece", "Code-based Encryption", 3, NULL, NULL, 0, NULL, 0},
    {"NTRU", "Lattice-based Encryption", 2, NULL, NULL, 0, NULL, 0},
    {"Ed25519", "Digital Signatures", 0, "ED25519", NULL, CAP_SIGN, NULL, 0},
    {"ECDSA-P256", "Digital Signatures", 0, "EC", "SHA256", CAP_SIGN, NULL, 0},
    {"RSA-3072", "Digital Signatures, Key Encapsulation", 0, "RSA", "SHA256", CAP_SIGN | CAP_KEM,
     NULL, 0},
};

#define N_ALGS (sizeof(algs) / sizeof(algs[0]))
#define ALG_KYBER (&algs[0])
#define ALG_DILITHIUM (&algs[1])

struct key {
    char *id;
    const struct alg *alg;
    EVP_PKEY *pkey;
    int64_t created_ns; /* monotonic, for the lifetime of a rotated key */
};

static struct {
    struct key **items;
    size_t len, cap;
    struct strmap by_id;
    int64_t generated;
    uint64_t sig_bytes; /* of all signatures made, for the average size */
} K;

void crypto_init(void)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        EVP_PKEY_CTX *ctx =
            algs[i].ossl ? EVP_PKEY_CTX_new_from_name(NULL, algs[i].ossl, NULL) : NULL;
        algs[i].available = ctx && EVP_PKEY_keygen_init(ctx) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    ERR_clear_error();
    cstat_reset();
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
    memset(&K, 0, sizeof(K));
}

static int64_t now_ms(void)
{
    return now_realtime_ns() / 1000000;
}

static double ms_since(int64_t t0)
{
    return (double)(now_monotonic_ns() - t0) / 1e6;
}

/* --- base64 (RFC 4648, standard alphabet), as java.util.Base64 ----------- */

static char *b64_encode(const unsigned char *in, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict like Java's basic decoder: alphabet only, padding optional but
 * right when present, no lone final character. malloc'd; NULL if invalid. */
static unsigned char *b64_decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s), pad = 0, o = 0;
    unsigned char *out;
    uint32_t acc = 0;
    int bits = 0;

    while (pad < 2 && n > 0 && s[n - 1] == '=') {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return NULL;
    out = xmalloc(n / 4 * 3 + 3);
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    return out;
}

/* --- algorithms and keys ------------------------------------------------ */

/* The algorithm keystore/generate uses for a request's name. The original
 * matches lower-cased names and takes CRYSTALS-Dilithium for any other
 * (McEliece and NTRU included, though listed as unavailable). */
static const struct alg *generation_alg(const char *name)
{
    if (!field_present(name))
        return ALG_DILITHIUM;
    for (size_t i = 0; i < N_ALGS; i++)
        if (algs[i].ossl && (strcasecmp(algs[i].name, name) == 0 ||
                             (algs[i].alias && strcasecmp(algs[i].alias, name) == 0)))
            return &algs[i];
    return ALG_DILITHIUM;
}

static void refuse_unavailable(struct reply *r, const char *requested, const struct alg *alg)
{
    char asked[160] = "";

    if (field_present(requested) && strcasecmp(requested, alg->name) != 0 &&
        !(alg->alias && strcasecmp(requested, alg->alias) == 0))
        snprintf(asked, sizeof(asked),
                 "algorithm \"%.64s\" means %s (the original's default for names it does not "
                 "know); ",
                 requested, alg->name);
    reply_error(r, GRPC_STATUS_UNIMPLEMENTED,
                "%s%s is not available: the linked OpenSSL %s has no %s (3.5+ provides it)", asked,
                alg->name, OpenSSL_version(OPENSSL_VERSION_STRING), alg->ossl);
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

/* Java's getEncoded(): X.509 SubjectPublicKeyInfo and PKCS#8 DER. */
static int32_t public_size(EVP_PKEY *pkey)
{
    int n = i2d_PUBKEY(pkey, NULL);
    return n > 0 ? n : 0;
}

static int32_t private_size(EVP_PKEY *pkey)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : 0;
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return n > 0 ? n : 0;
}

static struct key *lookup(const char *key_id)
{
    struct key *k = strmap_get(&K.by_id, key_id ? key_id : "");
    cstat_lookup(k != NULL);
    return k;
}

static char *key_not_found(const char *key_id)
{
    const char *id = key_id ? key_id : "";
    size_t n = strlen(id) + sizeof("Key not found: ");
    char *s = xmalloc(n);
    snprintf(s, n, "Key not found: %s", id);
    return s;
}

/* --- KEM + AES-256-GCM -------------------------------------------------- */

#define GCM_IV 12
#define GCM_TAG 16
#define AES_KEY 32

static EVP_PKEY_CTX *kem_ctx(EVP_PKEY *pkey, int encap)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx && (encap ? EVP_PKEY_encapsulate_init(ctx, NULL) : EVP_PKEY_decapsulate_init(ctx, NULL)) == 1;
    /* RSA's KEM is RSASVE (SP 800-56B); ML-KEM has one operation only */
    if (ok && EVP_PKEY_is_a(pkey, "RSA"))
        ok = EVP_PKEY_CTX_set_kem_op(ctx, "RSASVE") == 1;
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int derive_key(const unsigned char *secret, size_t n, unsigned char out[AES_KEY])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    static const char info[] = "aurigraph-v11 crypto/encrypt AES-256-GCM";
    OSSL_PARAM p[4];
    int ok;

    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, n);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info) - 1);
    p[3] = OSSL_PARAM_construct_end();
    ok = kctx && EVP_KDF_derive(kctx, out, AES_KEY, p) == 1;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok;
}

/* encrypt = 1: in is plaintext, out iv || sealed || tag;
 * encrypt = 0: in is iv || sealed || tag, out plaintext. */
static int aes_gcm(int encrypt, const unsigned char key[AES_KEY], const unsigned char *in, size_t n,
                   unsigned char *out, size_t *outlen)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char *iv = encrypt ? out : (unsigned char *)in;
    const unsigned char *data = encrypt ? in : in + GCM_IV;
    unsigned char *dst = encrypt ? out + GCM_IV : out;
    size_t dlen = encrypt ? n : n - GCM_IV - GCM_TAG;
    int len = 0, fin = 0, ok;

    if (!c || (!encrypt && n < GCM_IV + GCM_TAG) || dlen > (size_t)0x7fffffff) {
        EVP_CIPHER_CTX_free(c);
        return 0;
    }
    if (encrypt && RAND_bytes(iv, GCM_IV) != 1) {
        EVP_CIPHER_CTX_free(c);
        return 0;
    }
    ok = EVP_CipherInit_ex2(c, EVP_aes_256_gcm(), key, iv, encrypt, NULL) == 1 &&
         EVP_CipherUpdate(c, dst, &len, data, (int)dlen) == 1;
    if (ok && !encrypt)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, (void *)(data + dlen)) == 1;
    ok = ok && EVP_CipherFinal_ex(c, dst + len, &fin) == 1;
    if (ok && encrypt)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, dst + dlen) == 1;
    EVP_CIPHER_CTX_free(c);
    *outlen = encrypt ? GCM_IV + dlen + GCM_TAG : dlen;
    return ok;
}

/* The bytes to send: encapsulation || iv || sealed || tag. malloc'd. */
static unsigned char *hybrid_encrypt(EVP_PKEY *pkey, const unsigned char *msg, size_t n,
                                     size_t *outlen)
{
    EVP_PKEY_CTX *ctx = kem_ctx(pkey, 1);
    size_t wlen = 0, slen = 0, sealed = 0;
    unsigned char *out = NULL, *secret = NULL, key[AES_KEY];
    int ok = ctx && EVP_PKEY_encapsulate(ctx, NULL, &wlen, NULL, &slen) == 1;

    if (ok) {
        out = xmalloc(wlen + GCM_IV + n + GCM_TAG);
        secret = xmalloc(slen);
        ok = EVP_PKEY_encapsulate(ctx, out, &wlen, secret, &slen) == 1 &&
             derive_key(secret, slen, key) && aes_gcm(1, key, msg, n, out + wlen, &sealed);
        OPENSSL_cleanse(secret, slen);
        OPENSSL_cleanse(key, sizeof(key));
    }
    EVP_PKEY_CTX_free(ctx);
    free(secret);
    ERR_clear_error();
    if (!ok) {
        free(out);
        return NULL;
    }
    *outlen = wlen + sealed;
    return out;
}

/* The plaintext (with a NUL after it), or NULL if this key did not seal it. */
static unsigned char *hybrid_decrypt(EVP_PKEY *pkey, const unsigned char *in, size_t n,
                                     size_t *outlen)
{
    EVP_PKEY_CTX *ectx = kem_ctx(pkey, 1), *dctx = kem_ctx(pkey, 0);
    size_t wlen = 0, slen = 0;
    unsigned char *out = NULL, *secret = NULL, key[AES_KEY];
    int ok = ectx && dctx && EVP_PKEY_encapsulate(ectx, NULL, &wlen, NULL, &slen) == 1 &&
             n >= wlen + GCM_IV + GCM_TAG;

    if (ok) {
        secret = xmalloc(slen);
        out = xmalloc(n - wlen - GCM_IV - GCM_TAG + 1);
        ok = EVP_PKEY_decapsulate(dctx, secret, &slen, in, wlen) == 1 &&
             derive_key(secret, slen, key) && aes_gcm(0, key, in + wlen, n - wlen, out, outlen);
        OPENSSL_cleanse(secret, slen);
        OPENSSL_cleanse(key, sizeof(key));
    }
    EVP_PKEY_CTX_free(ectx);
    EVP_PKEY_CTX_free(dctx);
    free(secret);
    ERR_clear_error();
    if (!ok) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

/* --- sign / verify ------------------------------------------------------ */

static unsigned char *do_sign(const struct key *k, const char *data, size_t *siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t n = strlen(data);
    int ok = md && EVP_DigestSignInit_ex(md, NULL, k->alg->digest, NULL, NULL, k->pkey, NULL) == 1 &&
             EVP_DigestSign(md, NULL, siglen, (const unsigned char *)data, n) == 1;

    if (ok) {
        sig = xmalloc(*siglen);
        ok = EVP_DigestSign(md, sig, siglen, (const unsigned char *)data, n) == 1;
    }
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (!ok) {
        free(sig);
        return NULL;
    }
    return sig;
}

static int do_verify(const struct key *k, const char *data, const char *sig_b64)
{
    size_t siglen = 0;
    unsigned char *sig;
    EVP_MD_CTX *md;
    int rc = 0;

    if (!(k->alg->caps & CAP_SIGN) || !field_present(sig_b64))
        return 0;
    sig = b64_decode(sig_b64, &siglen);
    if (!sig) /* not base64: the original catches that and answers invalid */
        return 0;
    md = EVP_MD_CTX_new();
    if (md && EVP_DigestVerifyInit_ex(md, NULL, k->alg->digest, NULL, NULL, k->pkey, NULL) == 1)
        rc = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data, strlen(data));
    EVP_MD_CTX_free(md);
    free(sig);
    /* a malformed signature is just not a valid one: rc < 0 is "invalid" */
    ERR_clear_error();
    return rc == 1;
}

/* --- handlers ----------------------------------------------------------- */

static int quantum_resistant(void)
{
    return ALG_KYBER->available && ALG_DILITHIUM->available && KYBER_LEVEL >= 3 &&
           DILITHIUM_LEVEL >= 3;
}

static void get_status(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__CryptoStatus st = AURIGRAPH__V11__CRYPTO_STATUS__INIT;
    double tps = cstat_total_rate();

    (void)in;
    /* the original's aurigraph.crypto.quantum.enabled setting, not a
     * capability claim: which algorithms really run is in ListAlgorithms */
    st.quantum_crypto_enabled = 1;
    st.stored_keys = (int32_t)K.len;
    st.total_operations = cstat_total();
    st.key_generations = cstat_count(CS_KEYGEN);
    st.encryptions = cstat_count(CS_ENCRYPT);
    st.decryptions = cstat_count(CS_DECRYPT);
    st.signatures = cstat_count(CS_SIGN);
    st.verifications = cstat_count(CS_VERIFY);
    st.current_tps = tps < TARGET_TPS ? tps : TARGET_TPS;
    st.target_tps = TARGET_TPS;
    st.algorithms = STATUS_ALGORITHMS;
    st.kyber_security_level = KYBER_LEVEL;
    st.dilithium_security_level = DILITHIUM_LEVEL;
    st.timestamp = now_ms();
    reply_ok(r, &st.base);
}

static void list_algorithms(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__ListAlgorithmsResponse resp = AURIGRAPH__V11__LIST_ALGORITHMS_RESPONSE__INIT;
    Aurigraph__V11__CryptoAlgorithm a[N_ALGS];
    Aurigraph__V11__CryptoAlgorithm *ptrs[N_ALGS];

    (void)in;
    for (size_t i = 0; i < N_ALGS; i++) {
        aurigraph__v11__crypto_algorithm__init(&a[i]);
        a[i].name = (char *)algs[i].name;
        a[i].type = (char *)algs[i].type;
        a[i].security_level = algs[i].level;
        a[i].available = algs[i].available;
        ptrs[i] = &a[i];
    }
    resp.algorithms = ptrs;
    resp.n_algorithms = N_ALGS;
    resp.suite = SUITE_NAME;
    reply_ok(r, &resp.base);
}

static int32_t bit_security(int level)
{
    return level <= 1 ? 128 : level <= 3 ? 192 : 256;
}

static void get_quantum_security_status(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__QuantumSecurityStatus st = AURIGRAPH__V11__QUANTUM_SECURITY_STATUS__INIT;
    char suite[64];
    int32_t kb = bit_security(KYBER_LEVEL), db = bit_security(DILITHIUM_LEVEL);

    (void)in;
    snprintf(suite, sizeof(suite), "CRYSTALS-Kyber-%d + CRYSTALS-Dilithium-%d", KYBER_LEVEL,
             DILITHIUM_LEVEL);
    st.quantum_crypto_enabled = 1;
    /* The original prints constants derived from its configuration; these
     * two say what this build really runs. */
    st.quantum_resistant = quantum_resistant();
    st.nist_level5_compliant = st.quantum_resistant && KYBER_LEVEL == 5 && DILITHIUM_LEVEL == 5;
    st.kyber_security_level = KYBER_LEVEL;
    st.dilithium_security_level = DILITHIUM_LEVEL;
    st.algorithm_suite = suite;
    st.quantum_bit_security = kb < db ? kb : db;
    st.timestamp = now_ms();
    reply_ok(r, &st.base);
}

static void generate_key(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__GenerateKeyRequest *req = (const void *)in;
    Aurigraph__V11__GenerateKeyResponse resp = AURIGRAPH__V11__GENERATE_KEY_RESPONSE__INIT;
    const struct alg *alg = generation_alg(req->algorithm);
    struct key *k;
    EVP_PKEY *pkey;
    int64_t t0 = now_monotonic_ns();

    /* the original needs a keyId (a null one fails in its ConcurrentHashMap) */
    if (!field_present(req->key_id)) {
        cstat_error(CS_KEYGEN);
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "keyId is required");
        return;
    }
    if (field_too_long(req->key_id, MAX_KEY_ID)) {
        cstat_error(CS_KEYGEN);
        reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "keyId must be at most %d characters",
                    MAX_KEY_ID);
        return;
    }
    if (!alg->available) {
        cstat_error(CS_KEYGEN);
        refuse_unavailable(r, req->algorithm, alg);
        return;
    }
    k = strmap_get(&K.by_id, req->key_id);
    if (!k && K.len >= MAX_KEYS) {
        cstat_error(CS_KEYGEN);
        reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "keystore full (%d keys); reuse a keyId or restart the service", MAX_KEYS);
        return;
    }
    pkey = generate(alg);
    if (!pkey) {
        cstat_error(CS_KEYGEN);
        reply_error(r, GRPC_STATUS_INTERNAL, "Key pair generation failed (%s)", alg->name);
        return;
    }

    K.generated++;
    /* an existing id is rotated: the old key is gone, like a keystore
     * entry overwritten (the original's keyStore.put) */
    if (k) {
        cstat_rotation((now_monotonic_ns() - k->created_ns) / 1000000);
        EVP_PKEY_free(k->pkey);
    } else {
        k = xcalloc(1, sizeof(*k));
        k->id = xstrdup(req->key_id);
        if (K.len == K.cap) {
            K.cap = K.cap ? K.cap * 2 : 16;
            K.items = xrealloc(K.items, K.cap * sizeof(*K.items));
        }
        K.items[K.len++] = k;
        strmap_put(&K.by_id, k->id, k);
    }
    k->alg = alg;
    k->pkey = pkey;
    k->created_ns = now_monotonic_ns();

    resp.success = 1;
    resp.key_id = k->id;
    /* the original echoes the name it was asked for */
    resp.algorithm = field_present(req->algorithm) ? req->algorithm : (char *)alg->name;
    resp.security_level = alg->level;
    resp.public_key_size = public_size(pkey);
    resp.private_key_size = private_size(pkey);
    resp.latency_ms = ms_since(t0);
    resp.timestamp = now_ms();
    cstat_ok(CS_KEYGEN, resp.latency_ms, 0);
    reply_ok(r, &resp.base);
}

static void encrypt_data(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__EncryptRequest *req = (const void *)in;
    Aurigraph__V11__EncryptResponse resp = AURIGRAPH__V11__ENCRYPT_RESPONSE__INIT;
    Google__Protobuf__StringValue text = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    int64_t t0 = now_monotonic_ns();
    struct key *k = lookup(req->key_id);
    unsigned char *sealed;
    size_t n = 0, len = strlen(req->plaintext);
    char *status = NULL;

    if (!k) { /* the original's answer: HTTP 200, success false */
        cstat_error(CS_ENCRYPT);
        resp.status = status = key_not_found(req->key_id);
        reply_ok(r, &resp.base);
        free(status);
        return;
    }
    if (!(k->alg->caps & CAP_KEM)) {
        cstat_error(CS_ENCRYPT);
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                    "Encryption failed: key %.128s is a %s key; encryption needs a key "
                    "encapsulation key (CRYSTALS-Kyber or RSA-3072)",
                    req->key_id, k->alg->name);
        return;
    }
    sealed = hybrid_encrypt(k->pkey, (const unsigned char *)req->plaintext, len, &n);
    if (!sealed) {
        cstat_error(CS_ENCRYPT);
        reply_error(r, GRPC_STATUS_INTERNAL, "Encryption failed");
        return;
    }
    text.value = b64_encode(sealed, n);
    free(sealed);
    resp.success = 1;
    resp.ciphertext = &text;
    resp.status = "SUCCESS";
    resp.latency_ms = ms_since(t0);
    cstat_ok(CS_ENCRYPT, resp.latency_ms, len);
    if (k->alg == ALG_KYBER)
        cstat_ok(CS_KYBER_ENCAP, resp.latency_ms, len);
    reply_ok(r, &resp.base);
    free(text.value);
}

static void decrypt_data(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__DecryptRequest *req = (const void *)in;
    Aurigraph__V11__DecryptResponse resp = AURIGRAPH__V11__DECRYPT_RESPONSE__INIT;
    Google__Protobuf__StringValue text = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    int64_t t0 = now_monotonic_ns();
    struct key *k = lookup(req->key_id);
    unsigned char *raw, *plain = NULL;
    size_t n = 0, len = 0;
    char *status = NULL;

    if (!k) {
        cstat_error(CS_DECRYPT);
        resp.status = status = key_not_found(req->key_id);
        reply_ok(r, &resp.base);
        free(status);
        return;
    }
    if (!(k->alg->caps & CAP_KEM)) {
        cstat_error(CS_DECRYPT);
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                    "Decryption failed: key %.128s is a %s key; it cannot decrypt", req->key_id,
                    k->alg->name);
        return;
    }
    raw = b64_decode(req->ciphertext, &n);
    if (raw)
        plain = hybrid_decrypt(k->pkey, raw, n, &len);
    free(raw);
    /* Not base64, not sealed to this key, or altered: the original throws
     * "Decryption failed" for all of them, an HTTP 500. */
    if (!plain) {
        cstat_error(CS_DECRYPT);
        reply_error(r, GRPC_STATUS_INTERNAL, "Decryption failed");
        return;
    }
    text.value = (char *)plain;
    resp.success = 1;
    resp.plaintext = &text;
    resp.status = "SUCCESS";
    resp.latency_ms = ms_since(t0);
    cstat_ok(CS_DECRYPT, resp.latency_ms, len);
    if (k->alg == ALG_KYBER)
        cstat_ok(CS_KYBER_DECAP, resp.latency_ms, len);
    reply_ok(r, &resp.base);
    free(plain);
}

static void sign_data(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__SignRequest *req = (const void *)in;
    Aurigraph__V11__SignResponse resp = AURIGRAPH__V11__SIGN_RESPONSE__INIT;
    Google__Protobuf__StringValue text = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    int64_t t0 = now_monotonic_ns();
    struct key *k = lookup(req->key_id);
    unsigned char *sig;
    size_t siglen = 0;
    char *status = NULL;

    if (!k) {
        cstat_error(CS_SIGN);
        resp.status = status = key_not_found(req->key_id);
        reply_ok(r, &resp.base);
        free(status);
        return;
    }
    if (!(k->alg->caps & CAP_SIGN)) {
        cstat_error(CS_SIGN);
        reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                    "Signature generation failed: key %.128s is a %s key; it cannot sign",
                    req->key_id, k->alg->name);
        return;
    }
    sig = do_sign(k, req->data, &siglen);
    if (!sig) {
        cstat_error(CS_SIGN);
        reply_error(r, GRPC_STATUS_INTERNAL, "Signature generation failed");
        return;
    }
    text.value = b64_encode(sig, siglen);
    free(sig);
    resp.success = 1;
    resp.signature = &text;
    resp.status = "SUCCESS";
    resp.latency_ms = ms_since(t0);
    K.sig_bytes += siglen;
    cstat_ok(CS_SIGN, resp.latency_ms, strlen(req->data));
    if (k->alg == ALG_DILITHIUM)
        cstat_ok(CS_DILITHIUM_SIGN, resp.latency_ms, 0);
    reply_ok(r, &resp.base);
    free(text.value);
}

static void verify_signature(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__VerifyRequest *req = (const void *)in;
    Aurigraph__V11__VerifyResponse resp = AURIGRAPH__V11__VERIFY_RESPONSE__INIT;
    int64_t t0 = now_monotonic_ns();
    struct key *k = lookup(req->key_id);
    char *status = NULL;

    if (!k) {
        cstat_error(CS_VERIFY);
        resp.status = status = key_not_found(req->key_id);
        reply_ok(r, &resp.base);
        free(status);
        return;
    }
    /* Any failure to verify (bad base64, wrong length, a key that cannot
     * sign) is an invalid signature, as the original catches them all. */
    resp.is_valid = do_verify(k, req->data, req->signature);
    resp.success = 1;
    resp.status = resp.is_valid ? "SIGNATURE_VALID" : "SIGNATURE_INVALID";
    resp.latency_ms = ms_since(t0);
    cstat_ok(CS_VERIFY, resp.latency_ms, strlen(req->data));
    if (k->alg == ALG_DILITHIUM)
        cstat_ok(CS_DILITHIUM_VERIFY, resp.latency_ms, 0);
    reply_ok(r, &resp.base);
}

static void performance_test(const ProtobufCMessage *in, struct reply *r)
{
    const Aurigraph__V11__CryptoPerformanceRequest *req = (const void *)in;
    Aurigraph__V11__CryptoPerformanceResult resp = AURIGRAPH__V11__CRYPTO_PERFORMANCE_RESULT__INIT;
    int32_t ops = req->operations < 100 ? 100 : req->operations > 10000 ? 10000 : req->operations;
    int64_t t0 = now_monotonic_ns();
    double total_latency = 0;
    int32_t good = 0;
    EVP_PKEY *pkey;

    /* the original runs it on a fresh CRYSTALS-Kyber key */
    if (!ALG_KYBER->available) {
        reply_error(r, GRPC_STATUS_UNIMPLEMENTED,
                    "the performance test runs on CRYSTALS-Kyber, which is not available: the "
                    "linked OpenSSL %s has no %s (3.5+ provides it)",
                    OpenSSL_version(OPENSSL_VERSION_STRING), ALG_KYBER->ossl);
        return;
    }
    pkey = generate(ALG_KYBER);
    if (!pkey) {
        reply_error(r, GRPC_STATUS_INTERNAL, "Key pair generation failed (%s)", ALG_KYBER->name);
        return;
    }
    for (int32_t i = 0; i < ops; i++) {
        char msg[48];
        size_t n = 0, m = 0;
        int64_t t = now_monotonic_ns();
        unsigned char *sealed, *plain = NULL;
        int len = snprintf(msg, sizeof(msg), "performance-test-data-%d", (int)i);

        sealed = hybrid_encrypt(pkey, (const unsigned char *)msg, (size_t)len, &n);
        if (sealed)
            plain = hybrid_decrypt(pkey, sealed, n, &m);
        good += plain && m == (size_t)len && memcmp(plain, msg, m) == 0;
        free(sealed);
        free(plain);
        total_latency += ms_since(t);
    }
    EVP_PKEY_free(pkey);
    resp.total_operations = ops;
    resp.successful_operations = good;
    resp.total_time_ms = ms_since(t0);
    resp.operations_per_second = resp.total_time_ms > 0 ? ops / (resp.total_time_ms / 1000.0) : 0;
    resp.average_latency_ms = total_latency / ops;
    resp.target_achieved = resp.operations_per_second >= TARGET_TPS;
    resp.operation_type = PERF_OPERATION;
    resp.timestamp = now_ms();
    reply_ok(r, &resp.base);
}

/* "45.6 TB" style, as the original prints byte totals */
static void format_bytes(char *out, size_t cap, uint64_t n)
{
    static const char *const units[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)n;
    size_t u = 0;

    if (n < 1000) {
        snprintf(out, cap, "%llu B", (unsigned long long)n);
        return;
    }
    v /= 1000.0;
    while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

static int32_t rate_i32(enum cstat_op op)
{
    return (int32_t)(cstat_rate(op) + 0.5);
}

static void get_metrics(const ProtobufCMessage *in, struct reply *r)
{
    Aurigraph__V11__CryptoMetrics m = AURIGRAPH__V11__CRYPTO_METRICS__INIT;
    Aurigraph__V11__CryptoMetrics__Algorithms al = AURIGRAPH__V11__CRYPTO_METRICS__ALGORITHMS__INIT;
    Aurigraph__V11__CryptoMetrics__KeyManagement km =
        AURIGRAPH__V11__CRYPTO_METRICS__KEY_MANAGEMENT__INIT;
    Aurigraph__V11__CryptoMetrics__Encryption en = AURIGRAPH__V11__CRYPTO_METRICS__ENCRYPTION__INIT;
    Aurigraph__V11__CryptoMetrics__Decryption de = AURIGRAPH__V11__CRYPTO_METRICS__DECRYPTION__INIT;
    Aurigraph__V11__CryptoMetrics__Signatures sg = AURIGRAPH__V11__CRYPTO_METRICS__SIGNATURES__INIT;
    Aurigraph__V11__CryptoMetrics__Verification ve =
        AURIGRAPH__V11__CRYPTO_METRICS__VERIFICATION__INIT;
    Aurigraph__V11__CryptoMetrics__KyberKem ky = AURIGRAPH__V11__CRYPTO_METRICS__KYBER_KEM__INIT;
    Aurigraph__V11__CryptoMetrics__DilithiumSignature di =
        AURIGRAPH__V11__CRYPTO_METRICS__DILITHIUM_SIGNATURE__INIT;
    Aurigraph__V11__CryptoMetrics__Security se = AURIGRAPH__V11__CRYPTO_METRICS__SECURITY__INIT;
    Aurigraph__V11__CryptoMetrics__Performance pe =
        AURIGRAPH__V11__CRYPTO_METRICS__PERFORMANCE__INIT;
    Aurigraph__V11__CryptoMetrics__Errors er = AURIGRAPH__V11__CRYPTO_METRICS__ERRORS__INIT;
    Aurigraph__V11__CryptoMetrics__Trends tr = AURIGRAPH__V11__CRYPTO_METRICS__TRENDS__INIT;
    Aurigraph__V11__CryptoMetrics__Window w[3];
    static const int64_t window_min[3] = {60, 24 * 60, 7 * 24 * 60};
    char enc_bytes[32], dec_bytes[32], sig_size[32];
    int64_t sigs = cstat_count(CS_SIGN), errors = 0;

    (void)in;
    m.crypto_system = "Post-Quantum Cryptography";
    m.version = "12.0.0";
    m.status = "ACTIVE";
    m.metrics_collection_interval = "real-time";
    m.timestamp = now_ms();

    /* the configured suite */
    al.key_encapsulation = (char *)ALG_KYBER->name;
    al.digital_signature = (char *)ALG_DILITHIUM->name;
    al.hash_based = (char *)algs[2].name;
    al.nist_level = KYBER_LEVEL < DILITHIUM_LEVEL ? KYBER_LEVEL : DILITHIUM_LEVEL;
    al.quantum_security = "256-bit post-quantum";
    m.algorithms = &al;

    /* keys never expire or get revoked here; regenerating an id rotates it */
    km.total_keys_generated = cstat_count(CS_KEYGEN);
    km.active_keys = (int32_t)K.len;
    km.key_rotation_last24h = cstat_rotations_24h();
    km.average_key_lifetime = cstat_avg_key_lifetime_ms();
    m.key_management = &km;

    format_bytes(enc_bytes, sizeof(enc_bytes), cstat_bytes(CS_ENCRYPT));
    en.total_encryption_ops = cstat_count(CS_ENCRYPT);
    en.encryption_ops_per_second = rate_i32(CS_ENCRYPT);
    en.average_encryption_time = cstat_avg_ms(CS_ENCRYPT);
    en.p50_encryption_time = cstat_quantile_ms(CS_ENCRYPT, 0.50);
    en.p95_encryption_time = cstat_quantile_ms(CS_ENCRYPT, 0.95);
    en.p99_encryption_time = cstat_quantile_ms(CS_ENCRYPT, 0.99);
    en.total_bytes_encrypted = enc_bytes;
    en.encryption_success_rate = cstat_success_percent(CS_ENCRYPT);
    m.encryption = &en;

    format_bytes(dec_bytes, sizeof(dec_bytes), cstat_bytes(CS_DECRYPT));
    de.total_decryption_ops = cstat_count(CS_DECRYPT);
    de.decryption_ops_per_second = rate_i32(CS_DECRYPT);
    de.average_decryption_time = cstat_avg_ms(CS_DECRYPT);
    de.p50_decryption_time = cstat_quantile_ms(CS_DECRYPT, 0.50);
    de.p95_decryption_time = cstat_quantile_ms(CS_DECRYPT, 0.95);
    de.p99_decryption_time = cstat_quantile_ms(CS_DECRYPT, 0.99);
    de.total_bytes_decrypted = dec_bytes;
    de.decryption_success_rate = cstat_success_percent(CS_DECRYPT);
    m.decryption = &de;

    snprintf(sig_size, sizeof(sig_size), "%llu bytes",
             (unsigned long long)(sigs ? K.sig_bytes / (uint64_t)sigs : 0));
    sg.total_signatures = sigs;
    sg.signatures_per_second = rate_i32(CS_SIGN);
    sg.average_signing_time = cstat_avg_ms(CS_SIGN);
    sg.p50_signing_time = cstat_quantile_ms(CS_SIGN, 0.50);
    sg.p95_signing_time = cstat_quantile_ms(CS_SIGN, 0.95);
    sg.p99_signing_time = cstat_quantile_ms(CS_SIGN, 0.99);
    sg.signature_size = sig_size;
    sg.signing_success_rate = cstat_success_percent(CS_SIGN);
    m.signatures = &sg;

    /* false positives/negatives would need ground truth nobody gives us */
    ve.total_verifications = cstat_count(CS_VERIFY);
    ve.verifications_per_second = rate_i32(CS_VERIFY);
    ve.average_verification_time = cstat_avg_ms(CS_VERIFY);
    ve.p50_verification_time = cstat_quantile_ms(CS_VERIFY, 0.50);
    ve.p95_verification_time = cstat_quantile_ms(CS_VERIFY, 0.95);
    ve.p99_verification_time = cstat_quantile_ms(CS_VERIFY, 0.99);
    ve.verification_success_rate = cstat_success_percent(CS_VERIFY);
    m.verification = &ve;

    /* sizes of the parameter sets (FIPS 203 ML-KEM-1024, FIPS 204
     * ML-DSA-87), times measured on the calls that used them */
    ky.algorithm = "CRYSTALS-Kyber-1024";
    ky.security_level = "NIST Level 5";
    ky.public_key_size = "1568 bytes";
    ky.secret_key_size = "3168 bytes";
    ky.ciphertext_size = "1568 bytes";
    ky.encapsulation_time = cstat_avg_ms(CS_KYBER_ENCAP);
    ky.decapsulation_time = cstat_avg_ms(CS_KYBER_DECAP);
    ky.operations_per_second =
        (int32_t)(cstat_rate(CS_KYBER_ENCAP) + cstat_rate(CS_KYBER_DECAP) + 0.5);
    m.kyber_kem = &ky;

    di.algorithm = "CRYSTALS-Dilithium5";
    di.security_level = "NIST Level 5";
    di.public_key_size = "2592 bytes";
    di.secret_key_size = "4896 bytes";
    di.signature_size = "4627 bytes";
    di.signing_time = cstat_avg_ms(CS_DILITHIUM_SIGN);
    di.verification_time = cstat_avg_ms(CS_DILITHIUM_VERIFY);
    di.operations_per_second =
        (int32_t)(cstat_rate(CS_DILITHIUM_SIGN) + cstat_rate(CS_DILITHIUM_VERIFY) + 0.5);
    m.dilithium_signature = &di;

    /* no audits, no certifications: none are claimed */
    se.quantum_resistant = quantum_resistant();
    se.classical_security = "256-bit";
    se.quantum_security = "256-bit";
    se.compliance_level =
        se.quantum_resistant ? "NIST PQC Standard" : "none (post-quantum algorithms unavailable)";
    m.security = &se;

    pe.cpu_utilization = cstat_cpu_percent();
    pe.memory_utilization = cstat_memory_percent();
    pe.cache_hit_rate = cstat_lookup_hit_percent();
    pe.avx2_support = cstat_cpu_has("avx2");
    pe.avx512_support = cstat_cpu_has("avx512f");
    pe.aes_ni_support = cstat_cpu_has("aes");
    pe.hardware_acceleration = pe.aes_ni_support || pe.avx2_support; /* OpenSSL uses both */
    m.performance = &pe;

    er.key_generation_errors = (int32_t)cstat_errors(CS_KEYGEN);
    er.encryption_errors = (int32_t)cstat_errors(CS_ENCRYPT);
    er.decryption_errors = (int32_t)cstat_errors(CS_DECRYPT);
    er.signature_errors = (int32_t)cstat_errors(CS_SIGN);
    er.verification_errors = (int32_t)cstat_errors(CS_VERIFY);
    for (int i = 0; i < CS_N_MAIN; i++)
        errors += cstat_errors((enum cstat_op)i);
    er.total_errors = (int32_t)errors;
    er.error_rate = errors ? (double)errors / (double)(errors + cstat_total()) : 0.0;
    er.last24h_errors = (int32_t)cstat_errors_window(24 * 60);
    m.errors = &er;

    for (int i = 0; i < 3; i++) {
        aurigraph__v11__crypto_metrics__window__init(&w[i]);
        w[i].operations = cstat_total_window(window_min[i]);
        w[i].average_tps =
            (int32_t)((double)w[i].operations / cstat_window_seconds(window_min[i] * 60) + 0.5);
    }
    tr.last1_hour = &w[0];
    tr.last24_hours = &w[1];
    tr.last7_days = &w[2];
    m.trends = &tr;
    reply_ok(r, &m.base);
}

static const struct svc_method methods[] = {
    {"GetStatus", get_status, NULL, NULL},
    {"ListAlgorithms", list_algorithms, NULL, NULL},
    {"GetQuantumSecurityStatus", get_quantum_security_status, NULL, NULL},
    {"GenerateKey", generate_key, NULL, NULL},
    {"Encrypt", encrypt_data, NULL, NULL},
    {"Decrypt", decrypt_data, NULL, NULL},
    {"Sign", sign_data, NULL, NULL},
    {"Verify", verify_signature, NULL, NULL},
    {"RunPerformanceTest", performance_test, NULL, NULL},
    {"GetMetrics", get_metrics, NULL, NULL},
};

const struct svc_service svc_crypto = {
    &aurigraph__v11__quantum_crypto_service__descriptor, methods,
    sizeof(methods) / sizeof(methods[0]), 0,
};
