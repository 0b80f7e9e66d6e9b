#!/usr/bin/env bash
# parity_crypto_test: /api/v11/crypto through the gateway as the original's
# CryptoApiResource serves it (proto/README.md, "QuantumCryptoService"):
# one case per route with its status code and the exact field set and JSON
# types of the original's records, the original e2e script's checks
# (deployment/scripts/comprehensive-e2e-tests.sh) as written, real
# sign/verify and encrypt/decrypt with tampering, and bad input per route.
# Every call goes over HTTP/1.1 and h2c (parity_lib.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/parity_lib.sh"
need curl jq
need_binaries
parity_start

# fields S: jq text true when the body has exactly the keys of the JSON
# object S, each of the JSON type S names ("number", "string|null", ...).
fields() {
  printf '. as $o | (keys == (%s | keys)) and ([%s | to_entries[] | ($o[.key] | type) as $t | (.value | split("|") | index($t)) != null] | all)' "$1" "$1"
}
# V11 error shape with the given gRPC code
err() { printf '(%s) and .code == %s and .message == .error' "$(fields '{"error":"string","code":"number","message":"string","details":"array"}')" "$1"; }
int='. == floor'

# --- the original e2e script, its two crypto checks as written ---------------
call GET /api/v11/crypto/status
expect "e2e: Crypto Status" 200 '.quantumCryptoEnabled'
call GET /api/v11/crypto/metrics
expect "e2e: Crypto Metrics" 200

# --- GET /crypto/status: QuantumCryptoService.CryptoStatus ------------------
call GET /api/v11/crypto/status
expect "status fields" 200 \
  "$(fields '{"quantumCryptoEnabled":"boolean","storedKeys":"number","totalOperations":"number","keyGenerations":"number","encryptions":"number","decryptions":"number","signatures":"number","verifications":"number","currentTPS":"number","targetTPS":"number","algorithms":"string","kyberSecurityLevel":"number","dilithiumSecurityLevel":"number","timestamp":"number"}')" \
  '.quantumCryptoEnabled == true and .targetTPS == 10000 and .kyberSecurityLevel == 5 and .dilithiumSecurityLevel == 5' \
  '.algorithms == "CRYSTALS-Kyber + CRYSTALS-Dilithium + SPHINCS+"' \
  "(.storedKeys | $int) and (.totalOperations | $int) and (.timestamp | $int)" \
  '.timestamp > 1700000000000 and .currentTPS >= 0 and .currentTPS <= .targetTPS'
keys0=$(jq -r .storedKeys <<<"$body")

# --- GET /crypto/algorithms: SupportedAlgorithms ----------------------------
call GET /api/v11/crypto/algorithms
expect "algorithms fields" 200 \
  "$(fields '{"algorithms":"array","suite":"string"}')" \
  '.suite == "Post-Quantum Cryptography Suite V11"' \
  "[.algorithms[] | $(fields '{"name":"string","type":"string","securityLevel":"number","available":"boolean"}')] | all" \
  '[.algorithms[:5][] | [.name, .type, .securityLevel]] == [["CRYSTALS-Kyber","Key Encapsulation",5],["CRYSTALS-Dilithium","Digital Signatures",5],["SPHINCS+","Hash-based Signatures",3],["McEliece","Code-based Encryption",3],["NTRU","Lattice-based Encryption",2]]' \
  '.algorithms[3].available == false and .algorithms[4].available == false' \
  '[.algorithms[] | select(.available) | .name] | contains(["Ed25519","ECDSA-P256","RSA-3072"])'
algs=$body
kyber=$(jq -r '.algorithms[0].available' <<<"$body")
dilithium=$(jq -r '.algorithms[1].available' <<<"$body")

# --- GET /crypto/security/quantum-status: QuantumSecurityStatus -------------
call GET /api/v11/crypto/security/quantum-status
expect "quantum-status fields" 200 \
  "$(fields '{"quantumCryptoEnabled":"boolean","nistLevel5Compliant":"boolean","quantumResistant":"boolean","kyberSecurityLevel":"number","dilithiumSecurityLevel":"number","algorithmSuite":"string","quantumBitSecurity":"number","timestamp":"number"}')" \
  '.algorithmSuite == "CRYSTALS-Kyber-5 + CRYSTALS-Dilithium-5" and .quantumBitSecurity == 256' \
  ".quantumResistant == ($kyber and $dilithium)"

# --- POST /crypto/keystore/generate: KeyGenerationResult --------------------
gen_fields=$(fields '{"success":"boolean","keyId":"string","algorithm":"string","securityLevel":"number","publicKeySize":"number","privateKeySize":"number","latencyMs":"number","timestamp":"number"}')
call POST /api/v11/crypto/keystore/generate '{"keyId":"p-ed","algorithm":"Ed25519"}'
# Ed25519 as Java's getEncoded() has it: 44-byte SubjectPublicKeyInfo, 48-byte PKCS#8
expect "generate Ed25519" 200 "$gen_fields" \
  '.success == true and .keyId == "p-ed" and .algorithm == "Ed25519" and .securityLevel == 0' \
  '.publicKeySize == 44 and .privateKeySize == 48 and .latencyMs > 0 and .timestamp > 1700000000000'
call POST /api/v11/crypto/keystore/generate '{"keyId":"p-rsa","algorithm":"rsa-3072","ignored":[1]}'
expect "generate RSA-3072 (name as given, unknown field ignored)" 200 "$gen_fields" \
  '.algorithm == "rsa-3072" and .publicKeySize > 384 and .privateKeySize > .publicKeySize'
call POST /api/v11/crypto/keystore/generate '{"keyId":"p-ec","algorithm":"ECDSA-P256"}'
expect "generate ECDSA-P256" 200 "$gen_fields" '.publicKeySize == 91'
for pq in CRYSTALS-Dilithium CRYSTALS-Kyber SPHINCS+; do
  want=$(jq -r --arg n "$pq" '.algorithms[] | select(.name == $n) | .available' <<<"$algs")
  call POST /api/v11/crypto/keystore/generate "{\"keyId\":\"p-$pq\",\"algorithm\":\"$pq\"}"
  if [ "$want" = true ]; then
    expect "generate $pq" 200 "$gen_fields" '.success == true and .securityLevel >= 3'
  else # listed, refused, never imitated
    expect "generate $pq: 501 naming it" 501 "$(err 12)" ".error | contains(\"$pq is not available\")"
  fi
done
# unknown names are CRYSTALS-Dilithium in the original
call POST /api/v11/crypto/keystore/generate '{"keyId":"p-x","algorithm":"ROT13"}'
if [ "$dilithium" = true ]; then
  expect "generate ROT13 = Dilithium" 200 "$gen_fields" '.algorithm == "ROT13" and .securityLevel == 5'
else
  expect "generate ROT13 = Dilithium: 501" 501 "$(err 12)" '.error | test("ROT13") and test("CRYSTALS-Dilithium")'
fi
call POST /api/v11/crypto/keystore/generate '{"algorithm":"Ed25519"}'
expect "generate without keyId" 400 "$(err 3)" '.error == "keyId is required"'
call POST /api/v11/crypto/keystore/generate '{"keyId":'
expect "generate: malformed JSON" 400 "$(err 3)"
call POST /api/v11/crypto/keystore/generate '{"keyId":{"a":1},"algorithm":"Ed25519"}'
expect "generate: keyId an object" 400 "$(err 3)"
call POST /api/v11/crypto/keystore/generate '[1,2]'
expect "generate: an array body" 400 "$(err 3)"

# --- POST /crypto/sign: SignatureResult --------------------------------------
sign_fields=$(fields '{"success":"boolean","signature":"string|null","status":"string","latencyMs":"number"}')
call POST /api/v11/crypto/sign '{"keyId":"p-ed","data":"transfer 12.50 AUR"}'
expect "sign" 200 "$sign_fields" '.success == true and .status == "SUCCESS" and (.signature | test("^[A-Za-z0-9+/]+=*$"))' \
  '.signature | length == 88' # 64 bytes of Ed25519 signature in base64
sig=$(jq -r .signature <<<"$body")
call POST /api/v11/crypto/sign '{"keyId":"nope","data":"x"}'
expect "sign, unknown key: the original's success=false answer" 200 "$sign_fields" \
  '. == {"success":false,"signature":null,"status":"Key not found: nope","latencyMs":0}'
call POST /api/v11/crypto/sign '{"keyId":"p-rsa","data":"x"}'
expect "sign with RSA-3072" 200 '.success == true and (.signature | length) == 512'
call POST /api/v11/crypto/sign '{"keyId":"p-ed","data":'
expect "sign: malformed JSON" 400 "$(err 3)"
call POST /api/v11/crypto/sign '{"keyId":"p-ed","data":["x"]}'
expect "sign: data an array" 400 "$(err 3)"

# --- POST /crypto/verify: VerificationResult ---------------------------------
ver_fields=$(fields '{"success":"boolean","isValid":"boolean","status":"string","latencyMs":"number"}')
call POST /api/v11/crypto/verify "{\"keyId\":\"p-ed\",\"data\":\"transfer 12.50 AUR\",\"signature\":\"$sig\"}"
expect "verify" 200 "$ver_fields" '.success == true and .isValid == true and .status == "SIGNATURE_VALID"'
call POST /api/v11/crypto/verify "{\"keyId\":\"p-ed\",\"data\":\"transfer 92.50 AUR\",\"signature\":\"$sig\"}"
expect "verify, tampered data: isValid false, present" 200 "$ver_fields" \
  'has("isValid") and .isValid == false and .success == true and .status == "SIGNATURE_INVALID"'
mid=$((${#sig} / 2))
c=${sig:$mid:1}; [ "$c" = A ] && c=B || c=A
call POST /api/v11/crypto/verify "{\"keyId\":\"p-ed\",\"data\":\"transfer 12.50 AUR\",\"signature\":\"${sig:0:$mid}$c${sig:$((mid + 1))}\"}"
expect "verify, tampered signature" 200 "$ver_fields" '.isValid == false and .status == "SIGNATURE_INVALID"'
call POST /api/v11/crypto/verify '{"keyId":"p-ed","data":"x","signature":"not base64!"}'
expect "verify, signature not base64: invalid, not an error" 200 "$ver_fields" '.isValid == false and .success == true'
call POST /api/v11/crypto/verify '{"keyId":"nope","data":"x","signature":"QUJD"}'
expect "verify, unknown key" 200 '. == {"success":false,"isValid":false,"status":"Key not found: nope","latencyMs":0}'
call POST /api/v11/crypto/verify '{"keyId":"p-ed","data":"x","signature":{"b64":"QUJD"}}'
expect "verify: signature an object" 400 "$(err 3)"
call POST /api/v11/crypto/verify '{"keyId":"p-ed"'
expect "verify: malformed JSON" 400 "$(err 3)"

# --- POST /crypto/encrypt and /crypto/decrypt --------------------------------
enc_fields=$(fields '{"success":"boolean","ciphertext":"string|null","status":"string","latencyMs":"number"}')
dec_fields=$(fields '{"success":"boolean","plaintext":"string|null","status":"string","latencyMs":"number"}')
call POST /api/v11/crypto/encrypt '{"keyId":"p-rsa","plaintext":"wire 12.50 to 0xr1 \u20ac"}'
expect "encrypt" 200 "$enc_fields" '.success == true and .status == "SUCCESS" and (.ciphertext | test("^[A-Za-z0-9+/]+=*$"))'
ct=$(jq -r .ciphertext <<<"$body")
check "encrypt: a fresh secret per call" [ "$ct" != "$(jq -r .ciphertext <<<"$body2")" ]
call POST /api/v11/crypto/decrypt "{\"keyId\":\"p-rsa\",\"ciphertext\":\"$ct\"}"
expect "decrypt" 200 "$dec_fields" '.success == true and .status == "SUCCESS" and .plaintext == "wire 12.50 to 0xr1 €"'
mid=$((${#ct} / 2))
c=${ct:$mid:1}; [ "$c" = A ] && c=B || c=A
call POST /api/v11/crypto/decrypt "{\"keyId\":\"p-rsa\",\"ciphertext\":\"${ct:0:$mid}$c${ct:$((mid + 1))}\"}"
expect "decrypt, tampered: the original's 500" 500 "$(err 13)" '.error == "Decryption failed"'
call POST /api/v11/crypto/decrypt '{"keyId":"p-rsa","ciphertext":"%%%"}'
expect "decrypt, not base64" 500 "$(err 13)" '.error == "Decryption failed"'
call POST /api/v11/crypto/encrypt '{"keyId":"nope","plaintext":"x"}'
expect "encrypt, unknown key" 200 '. == {"success":false,"ciphertext":null,"status":"Key not found: nope","latencyMs":0}'
call POST /api/v11/crypto/decrypt '{"keyId":"nope","ciphertext":"QUJD"}'
expect "decrypt, unknown key" 200 '. == {"success":false,"plaintext":null,"status":"Key not found: nope","latencyMs":0}'
call POST /api/v11/crypto/encrypt '{"keyId":"p-ed","plaintext":"x"}'
expect "encrypt with a signature-only key" 400 "$(err 9)" '.error | test("Ed25519")'
call POST /api/v11/crypto/encrypt '{"keyId":"p-rsa","plaintext":["x"]}'
expect "encrypt: plaintext an array" 400 "$(err 3)"
call POST /api/v11/crypto/decrypt 'ciphertext'
expect "decrypt: not JSON" 400 "$(err 3)"

# --- POST /crypto/performance: CryptoPerformanceResult ------------------------
call POST /api/v11/crypto/performance '{"operations":5}'
if [ "$kyber" = true ]; then
  expect "performance (5 -> 100 operations)" 200 \
    "$(fields '{"totalOperations":"number","successfulOperations":"number","totalTimeMs":"number","operationsPerSecond":"number","averageLatencyMs":"number","targetAchieved":"boolean","operationType":"string","timestamp":"number"}')" \
    '.totalOperations == 100 and .successfulOperations == 100 and .operationType == "Quantum-resistant encryption/decryption"'
else
  expect "performance: runs on CRYSTALS-Kyber, unavailable: 501" 501 "$(err 12)" '.error | test("CRYSTALS-Kyber")'
fi
call POST /api/v11/crypto/performance '{"operations":"many"}'
expect "performance: operations not a number" 400 "$(err 3)"
call POST /api/v11/crypto/performance '{"operations":{"n":5}}'
expect "performance: operations an object" 400 "$(err 3)"

# --- GET /crypto/metrics: the AV11-368 map -----------------------------------
call GET /api/v11/crypto/metrics
w='{"operations":"number","averageTPS":"number"}'
expect "metrics fields" 200 \
  "$(fields '{"cryptoSystem":"string","version":"string","status":"string","algorithms":"object","keyManagement":"object","encryption":"object","decryption":"object","signatures":"object","verification":"object","kyberKEM":"object","dilithiumSignature":"object","security":"object","performance":"object","errors":"object","trends":"object","timestamp":"number","metricsCollectionInterval":"string"}')" \
  ".algorithms | $(fields '{"keyEncapsulation":"string","digitalSignature":"string","hashBased":"string","nistLevel":"number","quantumSecurity":"string"}')" \
  ".keyManagement | $(fields '{"totalKeysGenerated":"number","activeKeys":"number","expiredKeys":"number","revokedKeys":"number","keyRotationLast24h":"number","averageKeyLifetime":"number"}')" \
  ".encryption | $(fields '{"totalEncryptionOps":"number","encryptionOpsPerSecond":"number","averageEncryptionTime":"number","p50EncryptionTime":"number","p95EncryptionTime":"number","p99EncryptionTime":"number","totalBytesEncrypted":"string","encryptionSuccessRate":"number"}')" \
  ".decryption | $(fields '{"totalDecryptionOps":"number","decryptionOpsPerSecond":"number","averageDecryptionTime":"number","p50DecryptionTime":"number","p95DecryptionTime":"number","p99DecryptionTime":"number","totalBytesDecrypted":"string","decryptionSuccessRate":"number"}')" \
  ".signatures | $(fields '{"totalSignatures":"number","signaturesPerSecond":"number","averageSigningTime":"number","p50SigningTime":"number","p95SigningTime":"number","p99SigningTime":"number","signatureSize":"string","signingSuccessRate":"number"}')" \
  ".verification | $(fields '{"totalVerifications":"number","verificationsPerSecond":"number","averageVerificationTime":"number","p50VerificationTime":"number","p95VerificationTime":"number","p99VerificationTime":"number","verificationSuccessRate":"number","falsePositives":"number","falseNegatives":"number"}')" \
  ".kyberKEM | $(fields '{"algorithm":"string","securityLevel":"string","publicKeySize":"string","secretKeySize":"string","ciphertextSize":"string","encapsulationTime":"number","decapsulationTime":"number","operationsPerSecond":"number"}')" \
  ".dilithiumSignature | $(fields '{"algorithm":"string","securityLevel":"string","publicKeySize":"string","secretKeySize":"string","signatureSize":"string","signingTime":"number","verificationTime":"number","operationsPerSecond":"number"}')" \
  ".security | $(fields '{"quantumResistant":"boolean","classicalSecurity":"string","quantumSecurity":"string","vulnerabilitiesDetected":"number","securityAudits":"number","lastAuditDate":"number","complianceLevel":"string","certifications":"array"}')" \
  ".performance | $(fields '{"cpuUtilization":"number","memoryUtilization":"number","cacheHitRate":"number","hardwareAcceleration":"boolean","avx2Support":"boolean","avx512Support":"boolean","aesNiSupport":"boolean"}')" \
  ".errors | $(fields '{"totalErrors":"number","keyGenerationErrors":"number","encryptionErrors":"number","decryptionErrors":"number","signatureErrors":"number","verificationErrors":"number","errorRate":"number","last24hErrors":"number"}')" \
  ".trends | $(fields "{\"last1Hour\":\"object\",\"last24Hours\":\"object\",\"last7Days\":\"object\"}")" \
  "[.trends[] | $(fields "$w")] | all" \
  '.kyberKEM.algorithm == "CRYSTALS-Kyber-1024" and .dilithiumSignature.algorithm == "CRYSTALS-Dilithium5"' \
  ".security.quantumResistant == ($kyber and $dilithium)"
# measured, not constants: what this test did shows up
m=$body
check "metrics: signatures counted" jqt 'input | .signatures.totalSignatures >= 4 and .signatures.signatureSize != "0 bytes"' <<<"$m"
check "metrics: unknown-key calls counted as errors" jqt 'input | .errors.signatureErrors >= 2 and .errors.encryptionErrors >= 2 and .errors.decryptionErrors >= 6' <<<"$m"
check "metrics: latency quantiles in order" jqt 'input | .verification.p50VerificationTime <= .verification.p95VerificationTime and .verification.p95VerificationTime <= .verification.p99VerificationTime and .verification.averageVerificationTime > 0' <<<"$m"
check "metrics: trends count this hour's operations" jqt 'input | .trends.last1Hour.operations > 0 and .trends.last1Hour.operations == .trends.last7Days.operations' <<<"$m"
call GET /api/v11/crypto/status
expect "status counts what happened" 200 \
  ".storedKeys > $keys0 and .signatures >= 4 and .verifications >= 8 and .encryptions >= 2 and .decryptions >= 2" \
  '.totalOperations == .keyGenerations + .encryptions + .decryptions + .signatures + .verifications' \
  '.currentTPS > 0'

# routes the original does not have stay 404/405
call GET /api/v11/crypto/keystore
expect "no GET /crypto/keystore" 404
call GET /api/v11/crypto/sign
expect "GET /crypto/sign is 405" 405

summary
