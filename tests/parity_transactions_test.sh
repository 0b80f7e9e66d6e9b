#!/usr/bin/env bash
# parity_transactions_test: /api/v11/transactions as the original platform's
# TransactionResource serves it (proto/README.md, "TransactionService"),
# through the real gateway and reference services, every call over
# HTTP/1.1 and h2c. Per route: the status, the field set and JSON types of
# TransactionResponse / the small response classes, the original's error
# texts, and bad input answered in the V11 error shape. The original e2e
# script (deployment/scripts/comprehensive-e2e-tests.sh) checks none of
# these routes. Ends with "N passed, N failed".
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/parity_lib.sh"
need_binaries
need curl jq
parity_start

# TransactionResponse: its 15 fields, always all present (Jackson prints nulls)
TX='def ldt: type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?$");
  def tx: keys == ["amount","blockNumber","confirmationCount","confirmedAt","createdAt","finalityTimeMs","finalizedAt",
                   "fromAddress","id","status","toAddress","totalFee","transactionType","txHash","userId"]
    and (.id | type == "number") and (.txHash | type == "string" and test("^0x[0-9a-f]{64}$"))
    and (.userId | type == "string") and (.fromAddress | type == "string") and (.toAddress | . == null or type == "string")
    and (.amount | type == "number") and (.totalFee | type == "number")
    and (.status | IN("PENDING","VALIDATING","CONFIRMED","FINALIZED","FAILED","CANCELLED","REJECTED"))
    and (.transactionType | IN("TRANSFER","SMART_CONTRACT","GOVERNANCE","ASSET_CREATION","CROSS_CHAIN","INTERNAL"))
    and (.blockNumber | . == null or type == "number") and (.confirmationCount | type == "number")
    and (.finalityTimeMs | . == null or type == "number")
    and (.createdAt | ldt) and (.confirmedAt | . == null or ldt) and (.finalizedAt | . == null or ldt);'
# the V11 error shape, with the original's text in "error"
ERR='def err: (.error | type == "string") and .message == .error and (.code | type == "number") and (.details | type == "array");'

# raw WHAT TEXT: both answers contain TEXT verbatim (BigDecimal digits, which jq would normalise)
raw() {
  if grep -qF -- "$2" <<<"$body" && grep -qF -- "$2" <<<"$body2"; then ok; else bad "$1: no '$2' in: ${body:0:300}"; fi
}

full='{"userId":"alice","fromAddress":"0xa1","toAddress":"0xb2","amount":12.50,"transactionType":"TRANSFER","gasLimit":21000,"gasPrice":0.000000025,"data":"{\"memo\":1}","nonce":7,"block_height":{"x":[1]}}'

# ---- POST /transactions: 202, the entity as built ------------------------------------
call POST /api/v11/transactions "$full"
expect "submit: 202, a PENDING TransactionResponse" 202 "$TX tx" \
  '.userId == "alice" and .fromAddress == "0xa1" and .toAddress == "0xb2" and .status == "PENDING" and .transactionType == "TRANSFER"' \
  '.blockNumber == null and .confirmationCount == 0 and .finalityTimeMs == null and .confirmedAt == null and .finalizedAt == null'
raw "submit: the amount's digits as sent" '"amount":12.50,'
raw "submit: totalFee = gasLimit * gasPrice, BigDecimal scale 0 + 9" '"totalFee":0.000525000,'
check "submit: each call a new id, one more" jqt --argjson a "$body" 'input | .id == $a.id + 1' <<<"$body2"
h1=$(jq -r .txHash <<<"$body")
h2=$(jq -r .txHash <<<"$body2")
check "submit: distinct hashes" [ "$h1" != "$h2" ]

# without gas the fee is amount * 0.001 (BigDecimal.valueOf(0.001): scale 3); no
# toAddress is null; amounts come as JSON numbers or strings
call POST /api/v11/transactions '{"userId":"bob","fromAddress":"0xb1","amount":"12.50","transactionType":"SMART_CONTRACT","gasLimit":5}'
expect "submit without gasPrice: 202" 202 "$TX tx" '.toAddress == null and .transactionType == "SMART_CONTRACT"'
raw "submit without gasPrice: fee amount * 0.001" '"totalFee":0.01250,'
b1=$(jq -r .txHash <<<"$body")
# what the original accepts although it looks odd: empty strings, a negative amount
call POST /api/v11/transactions '{"userId":"","fromAddress":"","amount":-5,"transactionType":"INTERNAL"}'
expect "submit: empty strings and a negative amount are taken" 202 "$TX tx" '.userId == "" and .amount == -5'
raw "submit: negative fee" '"totalFee":-0.005,'

# bad input: 400, the V11 error shape, the original's texts where it has them
call POST /api/v11/transactions '{}'
expect "submit {}: 400, the original's NullPointerException text" 400 "$ERR err" \
  '.error == "Cannot invoke \"java.math.BigDecimal.multiply(java.math.BigDecimal)\" because \"amount\" is null"'
call POST /api/v11/transactions '{"fromAddress":"0xa1","amount":1,"transactionType":"TRANSFER"}'
expect "submit without userId: 400, the NOT NULL column" 400 "$ERR err" \
  '.error == "null value in column \"user_id\" of relation \"transaction\" violates not-null constraint"'
call POST /api/v11/transactions '{"userId":"u","amount":1,"transactionType":"TRANSFER"}'
expect "submit without fromAddress: 400" 400 "$ERR err" '.error | test("\"from_address\"")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","amount":1}'
expect "submit without transactionType: 400" 400 "$ERR err" '.error | test("\"transaction_type\"")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","gasLimit":1,"gasPrice":1,"transactionType":"TRANSFER"}'
expect "submit without amount but with gas: 400, the NOT NULL column" 400 "$ERR err" '.error | test("\"amount\" of relation")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","amount":100000000000000000000,"transactionType":"TRANSFER"}'
expect "submit 10^20: 400, NUMERIC(38,18) overflow" 400 "$ERR err" '.error | test("numeric field overflow")'
call POST /api/v11/transactions "{\"userId\":\"$(printf 'u%.0s' $(seq 256))\",\"fromAddress\":\"0xa1\",\"amount\":1,\"transactionType\":\"TRANSFER\"}"
expect "submit a 256-character userId: 400, VARCHAR(255)" 400 "$ERR err" '.error | test("character varying\\(255\\)")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":'
expect "submit malformed JSON: 400" 400 "$ERR err" '.code == 3'
call POST /api/v11/transactions '[1,2]'
expect "submit an array: 400" 400 "$ERR err" '.code == 3'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","amount":true,"transactionType":"TRANSFER"}'
expect "submit amount true: 400 naming the field" 400 "$ERR err" '.error | test("amount")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","amount":"1x","transactionType":"TRANSFER"}'
expect "submit amount \"1x\": 400 naming the field" 400 "$ERR err" '.error | test("amount")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","amount":1,"transactionType":"TRANSFER","gasLimit":"lots"}'
expect "submit gasLimit \"lots\": 400 naming the field" 400 "$ERR err" '.error | test("gasLimit")'
call POST /api/v11/transactions '{"userId":"u","fromAddress":"0xa1","amount":1,"transactionType":"transfer"}'
expect "submit an unknown transactionType: 400" 400 "$ERR err" '.code == 3'

# ---- GET /transactions/{txHash}: the stored row ---------------------------------------
call GET "/api/v11/transactions/$h1"
expect "get: 200, the same transaction" 200 "$TX tx" \
  "(.txHash == \"$h1\") and .userId == \"alice\" and .status == \"PENDING\" and .amount == 12.5 and .toAddress == \"0xb2\""
raw "get: amount as the NUMERIC(38,18) column returns it" '"amount":12.500000000000000000,'
raw "get: totalFee likewise" '"totalFee":0.000525000000000000,'
call GET /api/v11/transactions/0xdoesnotexist
expect "get an unknown hash: 404, the original's text" 404 "$ERR err" '.error == "Transaction not found" and .code == 5'

# ---- GET /transactions/user/{userId}: a bare array, oldest first ---------------------
call GET /api/v11/transactions/user/alice
expect "user: 200, a bare array of TransactionResponse" 200 "$TX type == \"array\" and length == 2 and all(tx)" \
  "map(.userId) == [\"alice\",\"alice\"] and map(.txHash) == [\"$h1\",\"$h2\"]"
call GET "/api/v11/transactions/user/alice?limit=1&offset=1"
expect "user: no paging in the original, the query is ignored" 200 'length == 2'
call GET /api/v11/transactions/user/nobody-at-all
expect "user without transactions: []" 200 '. == []'

# ---- GET /transactions/pending and /stats ---------------------------------------------
call GET /api/v11/transactions/pending
expect "pending: 200, a bare array, all PENDING, ids ascending" 200 "$TX type == \"array\" and all(tx)" \
  'all(.status == "PENDING") and (map(.id) | . == sort)' "map(.txHash) | index(\"$h1\") != null and index(\"$b1\") != null"
n_pending=$(jq length <<<"$body")
call GET /api/v11/transactions/stats
expect "stats: 200, {pendingTransactions} only, a number" 200 'keys == ["pendingTransactions"]' \
  ".pendingTransactions == $n_pending"

# ---- POST /transactions/{txHash}/confirm ---------------------------------------------
call POST "/api/v11/transactions/$h1/confirm?blockNumber=42&blockHash=0xbeef"
expect "confirm: 200 {message}" 200 '. == {"message":"Transaction confirmed"}'
call GET "/api/v11/transactions/$h1"
expect "confirm: the row is CONFIRMED in block 42" 200 "$TX tx" \
  '.status == "CONFIRMED" and .blockNumber == 42 and .confirmationCount == 1 and .confirmedAt != null and .finalizedAt == null'
call GET /api/v11/transactions/stats
expect "confirm: one fewer pending" 200 ".pendingTransactions == $((n_pending - 1))"
call POST "/api/v11/transactions/$b1/confirm"
expect "confirm without blockNumber: 200" 200 '.message == "Transaction confirmed"'
call GET "/api/v11/transactions/$b1"
expect "confirm without blockNumber: blockNumber null" 200 '.status == "CONFIRMED" and .blockNumber == null'
call POST /api/v11/transactions/0xnope/confirm
expect "confirm an unknown hash: 400, the original's text" 400 "$ERR err" '.error == "Transaction not found" and .code == 3'
call POST "/api/v11/transactions/$h1/confirm?blockNumber=forty-two"
expect "confirm blockNumber not a number: 400 naming it" 400 "$ERR err" '.error | test("blockNumber")'
call POST "/api/v11/transactions/$h1/confirm?blockHash=$(printf 'h%.0s' $(seq 256))"
expect "confirm a 256-character blockHash: 400, VARCHAR(255)" 400 "$ERR err" '.error | test("blockHash")'

# ---- POST /transactions/{txHash}/finalize --------------------------------------------
call POST "/api/v11/transactions/$h1/finalize"
expect "finalize: 200 {message}" 200 '. == {"message":"Transaction finalized"}'
call GET "/api/v11/transactions/$h1"
expect "finalize: the row is FINALIZED, finalityTimeMs null (the original sets it only after validation)" 200 "$TX tx" \
  '.status == "FINALIZED" and .finalizedAt != null and .finalityTimeMs == null and .blockNumber == 42'
# no state checks in the original: a PENDING one finalizes, a FINALIZED one confirms again
call POST "/api/v11/transactions/$h2/finalize"
expect "finalize a PENDING transaction: 200" 200 '.message == "Transaction finalized"'
call POST "/api/v11/transactions/$h1/confirm?blockNumber=43"
expect "confirm a FINALIZED transaction: 200" 200 '.message == "Transaction confirmed"'
call GET "/api/v11/transactions/$h1"
expect "... it is CONFIRMED again, finalizedAt kept" 200 '.status == "CONFIRMED" and .blockNumber == 43 and .finalizedAt != null'
call POST /api/v11/transactions/0xnope/finalize
expect "finalize an unknown hash: 400, the original's text" 400 "$ERR err" '.error == "Transaction not found" and .code == 3'

# ---- the extensions, and the original paths they must not shadow ---------------------
call POST '/api/v11/transactions:batch' "{\"batchId\":\"b-1\",\"transactions\":[$full,{\"userId\":\"x\"}]}"
expect "extension POST /transactions:batch: 202, invalid entries skipped" 202 \
  '.batchId == "b-1" and .requestedCount == 2 and .acceptedCount == 1 and (.txHashes | length) == 1'
call GET /api/v11/transactions/batch
expect "GET /transactions/batch is GET /{txHash}, as in the original" 404 "$ERR err" '.error == "Transaction not found"'
call GET /api/v11/transactions/events
expect "GET /transactions/events is GET /{txHash}, as in the original" 404 "$ERR err" '.error == "Transaction not found"'
call POST /api/v11/transactions/batch '{}'
expect "POST /transactions/batch: 405, as in the original" 405
curl -s -N --max-time 2 "$gw/api/v11/transactions:events?userId=bob" >"$work/events" 2>/dev/null
check "extension GET /transactions:events: bob's pending transaction replayed as NDJSON" \
  jqt -s "input | length >= 1 and all(.eventType == \"SUBMITTED\" and .transaction.userId == \"bob\")" "$work/events"

summary
