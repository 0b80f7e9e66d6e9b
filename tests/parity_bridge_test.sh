#!/usr/bin/env bash
# parity_bridge_test: the gateway's /api/v11/bridge routes against the
# original platform's BridgeApiResource (stats, transfer, supported-chains,
# validate), BridgeStatusResource.getBridgeStatus and
# CrossChainBridgeResource.getSupportedChains
# (Aurigraph-DLT-Corp/aurigraph-dlt-backend): per route the status code, the
# exact field set and JSON types Quarkus' Jackson prints (nulls included),
# BigDecimal digits kept, the original e2e script's checks for these routes
# run as it runs them, and bad input answered in the V11 error shape. Every
# call goes over HTTP/1.1 and h2c (parity_lib's call/expect).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/parity_lib.sh"
source "$(dirname "$0")/parity_shape.sh"
need curl jq
need_binaries
parity_start

stats_spec='{"totalTransactions":"int","totalVolume":"number","averageTime":"number","successRate":"number",
  "totalVolume24h":"number","totalTransactions24h":"int","averageTime24h":"number","successRate24h":"number",
  "failedTransactions":"int","pendingTransactions":"int","totalFees":"null","averageFee":"null",
  "uniqueAddresses":"null","supportedChains":"null","activeValidators":"null","totalLiquidity":"null",
  "chainStats":"null","timestamp":"null"}'

# ---- BridgeApiResource.getBridgeStats: GET /bridge/stats (before any transfer) ----
call GET /api/v11/bridge/stats
expect "stats: fields, the unset ones null" 200 "$(shape "$stats_spec")"
expect "stats: nothing yet, success rate 100 %" 200 \
  '.totalTransactions == 0 and .pendingTransactions == 0 and .totalVolume == 0 and .successRate == 100 and .averageTime == 45'
call POST /api/v11/bridge/stats '{}'
expect "stats: POST is 405" 405 "$(v11_error)"

# ---- BridgeApiResource.initiateCrossChainTransfer: POST /bridge/transfer -----------
transfer_spec='{"transferId":"string","status":"string","sourceChain":"string","targetChain":"string","timestamp":"int"}'
call POST /api/v11/bridge/transfer '{"sourceChain":"ethereum","targetChain":"aurigraph","asset":"USDC","amount":250.00,"recipient":"0xr1"}'
expect "transfer: fields" 200 "$(shape "$transfer_spec")" \
  '.status == "INITIATED" and .sourceChain == "ethereum" and .targetChain == "aurigraph"' \
  '.transferId == "bridge_\(.timestamp)" and (.timestamp / 1000 - now | fabs) < 60'
call POST /api/v11/bridge/transfer '{"sourceChain":"","targetChain":"polygon","amount":"0.5"}'
expect "transfer: \"\" is a chain like any other, the amount as a numeric string" 200 \
  '.sourceChain == "" and .targetChain == "polygon"'
call POST /api/v11/bridge/transfer '{"sourceChain":"bsc","targetChain":"solana"}'
expect "transfer: no amount" 200 "$(shape "$transfer_spec")"
call POST /api/v11/bridge/transfer '{"targetChain":"polygon","amount":1}'
expect "transfer: no sourceChain is 400" 400 "$(v11_error '^sourceChain is required$')"
call POST /api/v11/bridge/transfer '{"sourceChain":"ethereum","targetChain":null,"amount":1}'
expect "transfer: a null targetChain is 400" 400 "$(v11_error '^targetChain is required$')"
call POST /api/v11/bridge/transfer '{"sourceChain":"ethereum","targetChain":"bsc","amount":-5}'
expect "transfer: a negative amount is 400" 400 "$(v11_error '^Bridge amount must be positive$')"
call POST /api/v11/bridge/transfer '{"sourceChain":"ethereum","targetChain":"bsc","amount":"ten"}'
expect "transfer: an amount that is not a number is 400" 400 "$(v11_error amount)"
call POST /api/v11/bridge/transfer '{"sourceChain":"ethereum","targetChain":"bsc","amount":true}'
expect "transfer: a boolean amount is 400" 400 "$(v11_error amount)"
call POST /api/v11/bridge/transfer '["ethereum","bsc"]'
expect "transfer: an array body is 400" 400 "$(v11_error)"
call POST /api/v11/bridge/transfer '{"sourceChain":"ethereum",'
expect "transfer: malformed JSON is 400" 400 "$(v11_error)"
call GET /api/v11/bridge/transfer
expect "transfer: GET is 405" 405 "$(v11_error)"

# ---- the stats again: counted at once, completed after 2-5 s ------------------------
# (each call above went twice, HTTP/1.1 and h2c: six transfers, 2 x 250.00 + 2 x 0.5)
call GET /api/v11/bridge/stats
# (how many are still pending depends on how fast this machine got here;
# the success rate must agree with it either way)
expect "stats: the transfers counted at once" 200 "$(shape "$stats_spec")" \
  '.totalTransactions == 6 and .totalTransactions24h == 6 and .pendingTransactions <= 6' \
  '(.successRate - (.totalTransactions - .pendingTransactions - .failedTransactions) * 100 / .totalTransactions | fabs) < 1e-9'
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ]; do
  call GET /api/v11/bridge/stats
  # both answers: a transfer may complete between the HTTP/1.1 call and the h2c one
  [ "$(jq -r .pendingTransactions <<<"$body")" = 0 ] && [ "$(jq -r .pendingTransactions <<<"$body2")" = 0 ] && break
  sleep 0.2
done
expect "stats: completed, success rate 100 %" 200 \
  '.pendingTransactions == 0 and .failedTransactions == 0 and .successRate == 100 and .successRate24h == 100'
raw_has '"totalVolume":501.00,' # BigDecimal sums keep the larger scale
raw_has '"totalVolume24h":501.00,'

# ---- BridgeApiResource.getSupportedChains: GET /bridge/supported-chains -------------
call GET /api/v11/bridge/supported-chains
expect "supported chains: fields" 200 \
  "$(shape '{"totalChains":"int","activeChains":"int","betaChains":"int","chains":"array","bridgeVersion":"string","lastUpdated":"int"}')" \
  "$(each .chains '{"chainId":"string","chainName":"string","networkType":"string","status":"string","capabilities":"array",
    "supportedAssets":"array","confirmationsRequired":"int","averageBlockTime":"number","maxTransferLimit":"string",
    "minTransferLimit":"string","transferFee":"string","bridgeContract":"string","nativeCurrency":"object"}')" \
  'all(.chains[]; (.nativeCurrency | keys == ["decimals","symbol"] and (.decimals | type) == "number") and all(.capabilities[], .supportedAssets[]; type == "string"))'
expect "supported chains: the original's eight" 200 \
  '.totalChains == 8 and .activeChains == 7 and .betaChains == 1 and .bridgeVersion == "12.0.0"' \
  '[.chains[].chainId] == ["aurigraph","ethereum","bsc","polygon","avalanche","arbitrum","optimism","solana"]' \
  '(.chains[] | select(.chainId == "arbitrum") | .averageBlockTime) == 0.25' \
  '(.chains[] | select(.chainId == "solana") | .status == "BETA" and .nativeCurrency.decimals == 9)'
call POST /api/v11/bridge/supported-chains '{}'
expect "supported chains: POST is 405" 405 "$(v11_error)"

# ---- BridgeApiResource.validateBridgeTransaction: POST /bridge/validate --------------
validate_spec='{"transactionHash":"string|null","isValid":"bool","sourceChain":"string|null","targetChain":"string|null",
  "amount":"string|null","validationStatus":"string","securityScore":"number","warnings":"array","timestamp":"int"}'
call POST /api/v11/bridge/validate '{"transactionHash":"0xabc","sourceChain":"ethereum","targetChain":"aurigraph","amount":"12.50","metadata":"m"}'
expect "validate: fields" 200 "$(shape "$validate_spec")" \
  '.transactionHash == "0xabc" and .sourceChain == "ethereum" and .targetChain == "aurigraph" and .amount == "12.50"' \
  '.isValid == true and .validationStatus == "PASSED" and .securityScore == 98.5 and .warnings == []'
call POST /api/v11/bridge/validate '{}'
expect "validate: what was not sent is null" 200 "$(shape "$validate_spec")" \
  '.transactionHash == null and .sourceChain == null and .targetChain == null and .amount == null'
call POST /api/v11/bridge/validate '{"transactionHash":7,"amount":12.50}'
expect "validate: numbers for Strings are taken as their text, as Jackson does" 200 \
  '.transactionHash == "7" and .amount == "12.50"'
call POST /api/v11/bridge/validate '{"transactionHash":{"x":1}}'
expect "validate: an object for a string is 400" 400 "$(v11_error transactionHash)"
call POST /api/v11/bridge/validate '{"transactionHash":'
expect "validate: malformed JSON is 400" 400 "$(v11_error)"

# ---- BridgeStatusResource.getBridgeStatus: GET /bridge/status -------------------------
call GET /api/v11/bridge/status
e2e_jq '.overall_status' # comprehensive-e2e-tests.sh: "Bridge Status" 200 ".overall_status"
expect "status: fields (snake_case, as the original's @JsonProperty names)" 200 \
  "$(shape '{"timestamp":"instant","overall_status":"string","bridges":"array","statistics":"object","performance":"object","alerts":"array"}')" \
  "$(each .bridges '{"bridge_id":"string","source_chain":"string","target_chain":"string","status":"string","bridge_type":"string","health":"object","capacity":"object","last_transfer":"instant"}')" \
  'all(.bridges[]; .health | keys == ["average_latency_ms","error_rate","pending_transfers","stuck_transfers","success_rate","uptime_seconds"] and (.uptime_seconds, .pending_transfers, .stuck_transfers | . == floor))' \
  'all(.bridges[]; .capacity | keys == ["available_liquidity_usd","max_transfer_amount_usd","supported_assets","total_locked_value_usd","utilization_percent"])' \
  "$(at .statistics '{"total_bridges":"int","active_bridges":"int","total_transfers":"int","total_volume_usd":"number","transfers_24h":"int","volume_24h_usd":"number","unique_users_24h":"int","chain_distribution":"object"}')" \
  "$(at .performance '{"average_transfer_time_seconds":"number","fastest_transfer_seconds":"number","slowest_transfer_seconds":"number","transfers_per_hour":"number","gas_efficiency":"object"}')" \
  "$(at .performance.gas_efficiency '{"average_gas_cost_usd":"number","total_gas_spent_24h_usd":"number","gas_optimization_percent":"number"}')" \
  'all(.alerts[]; keys == ["acknowledged","alert_id","bridge_id","message","severity","timestamp"] and .acknowledged == false)'
expect "status: the original's four bridges and ranges" 200 \
  '.overall_status == "healthy" and ([.bridges[].bridge_id] | sort) == ["bridge-avax-001","bridge-bsc-001","bridge-eth-001","bridge-matic-001"]' \
  'all(.bridges[]; .status == "active" and .health.success_rate >= 0.998 and .health.success_rate <= 1 and .health.average_latency_ms >= 15000 and .health.average_latency_ms <= 25000)' \
  '.statistics.total_transfers >= 50000 and .statistics.total_transfers < 60000 and (.statistics.chain_distribution | keys) == ["Avalanche","BSC","Ethereum","Polygon"]' \
  '(.alerts | length) == ([.bridges[] | (if .health.stuck_transfers > 0 then 1 else 0 end) + (if .health.pending_transfers > 30 then 1 else 0 end)] | add)'
call POST /api/v11/bridge/status '{}'
expect "status: POST is 405" 405 "$(v11_error)"

# ---- CrossChainBridgeResource.getSupportedChains: GET /bridge/chains -------------------
call GET /api/v11/bridge/chains
expect "chains: fields" 200 "$(shape '{"totalChains":"int","chains":"array"}')" \
  "$(each .chains '{"chainId":"string","name":"string","symbol":"string","type":"string","status":"string","explorerUrl":"string"}')" \
  '.totalChains == 4 and [.chains[].chainId] == ["aurigraph-mainnet-1","1","56","137"]'
call POST /api/v11/bridge/chains '{}'
expect "chains: POST is 405" 405 "$(v11_error)"

# ---- the original e2e script's other bridge checks (status 200, no field check) ----------
call GET /api/v11/bridge/stats
expect "e2e script: Bridge Stats 200" 200
call GET /api/v11/bridge/supported-chains
expect "e2e script: Supported Chains 200" 200

# ---- the first-cut spec's transfer lookups: the original serves no such route --------------
call GET /api/v11/bridge/transfers/bridge_1
expect "GET /bridge/transfers/{id}: 404, as in the original" 404 "$(v11_error)"
call GET /api/v11/bridge/transfer/bridge_1
expect "GET /bridge/transfer/{id}: 404, as in the original" 404 "$(v11_error)"

summary
