#!/usr/bin/env bash
# parity_ai_test: the gateway's /api/v11/ai routes against the original
# platform's AIApiResource and AIModelMetricsApiResource
# (Aurigraph-DLT-Corp/aurigraph-dlt-backend, src/main/java/io/aurigraph/v11/api/):
# one case per route, its status code and the exact field set and JSON types
# the original's classes print with Quarkus' Jackson, values in the original's
# units (percent accuracies), the original e2e script's checks for these
# routes, and bad input answered in the V11 error shape. Every call goes over
# HTTP/1.1 and h2c (parity_lib's call/expect).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/parity_lib.sh"
source "$(dirname "$0")/parity_shape.sh"
need curl jq
need_binaries
parity_start

summary_spec='{"modelId":"string","name":"string","type":"string","status":"string","accuracy":"number",
  "version":"string","lastTrainedAt":"instant","trainingEpochs":"int","description":"string"}'
impact_spec='{"consensusLatencyReduction":"number","throughputIncrease":"number","energyEfficiencyGain":"number",
  "predictionAccuracy":"number","anomalyDetectionRate":"number"}'
usage_spec='{"cpuUtilization":"number","memoryUtilization":"number","gpuUtilization":"number",
  "inferenceLatency":"number","trainingQueueSize":"int"}'

# ---- AIApiResource.listModels: GET /ai/models --------------------------------
call GET /api/v11/ai/models
expect "models: fields" 200 \
  "$(shape '{"totalModels":"int","activeModels":"int","models":"array","timestamp":"int"}')" \
  "$(each .models "$summary_spec")"
expect "models: the original's five, four ACTIVE, accuracy in percent" 200 \
  '.totalModels == 5 and .activeModels == 4 and (.models | length) == 5' \
  '([.models[] | select(.status == "ACTIVE")] | length) == .activeModels' \
  'all(.models[]; .accuracy > 1 and .accuracy <= 100)' \
  '[.models[].modelId] | index("consensus-optimizer-v3") != null' \
  '(.timestamp / 1000 - now | fabs) < 60'
model=$(jq -r '.models[1].modelId' <<<"$body")
model_name=$(jq -r '.models[1].name' <<<"$body")
call POST /api/v11/ai/models '{}'
expect "models: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.getModelDetails: GET /ai/models/{id} -------------------------
details_spec='{"modelId":"string","name":"string","type":"string","status":"string","accuracy":"number",
  "version":"string","lastTrainedAt":"instant","nextTrainingAt":"instant","trainingEpochs":"int",
  "trainingDataSize":"int","description":"string","performance":"object","trainingInfo":"object","timestamp":"int"}'
perf_spec='{"latencyReduction":"number","throughputImprovement":"number","energySavings":"number",
  "predictionAccuracy":"number","falsePositiveRate":"number","falseNegativeRate":"number"}'
info_spec='{"algorithm":"string","framework":"string","layers":"int","neurons":"int","learningRate":"number",
  "batchSize":"int","lastTrainingDuration":"int"}'
call GET "/api/v11/ai/models/$model"
expect "model details: fields" 200 "$(shape "$details_spec")" "$(at .performance "$perf_spec")" \
  "$(at .trainingInfo "$info_spec")"
expect "model details: the listed model's own figures" 200 \
  ".modelId == \"$model\" and .name == \"$model_name\"" \
  '(.nextTrainingAt | sub("\\.[0-9]+Z$"; "Z") | fromdate) > now'
# the original never looks the id up: any id answers 200
call GET /api/v11/ai/models/no-such-model
expect "model details: any id answers, as in the original" 200 "$(shape "$details_spec")" \
  '.modelId == "no-such-model" and .name == "HyperRAFT++ Consensus Optimizer"'
call DELETE "/api/v11/ai/models/$model"
expect "model details: DELETE is 405" 405 "$(v11_error)"

# ---- AIApiResource.retrainModel: POST /ai/models/{id}/retrain, 202 ---------------
retrain_spec='{"status":"string","modelId":"string","jobId":"string","estimatedDuration":"string",
  "estimatedCompletion":"instant","epochs":"int","message":"string","timestamp":"int"}'
call POST "/api/v11/ai/models/$model/retrain" '{"epochs":50,"trainingDataSource":"mainnet"}'
expect "retrain: 202 and fields" 202 "$(shape "$retrain_spec")" \
  ".status == \"RETRAINING_INITIATED\" and .modelId == \"$model\" and .epochs == 50" \
  '(.jobId | test("^retrain-job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"))' \
  '.estimatedDuration == "3600 seconds"'
call POST "/api/v11/ai/models/$model/retrain" '{}'
expect "retrain: epochs default 1000" 202 '.epochs == 1000'
call POST "/api/v11/ai/models/$model/retrain" '{"epochs":"7"}'
expect "retrain: epochs as a numeric string (Jackson coerces it)" 202 '.epochs == 7'
call POST "/api/v11/ai/models/$model/retrain" '{"epochs":"many"}'
expect "retrain: epochs not a number is 400" 400 "$(v11_error epochs)"
call POST "/api/v11/ai/models/$model/retrain" '{"epochs":'
expect "retrain: malformed JSON is 400" 400 "$(v11_error)"

# ---- AIModelMetricsApiResource.getModelMetrics: GET /ai/models/{id}/metrics ------
metrics_spec='{"modelId":"string","timestamp":"int","period":"string","modelName":"string","modelType":"string",
  "version":"string","status":"string","accuracy":"number","precision":"number","recall":"number",
  "f1Score":"number","inferenceLatency":"number","throughput":"number","lastTrainedAt":"instant",
  "trainingEpochs":"int","trainingDuration":"int","trainingDataSize":"int","validationLoss":"number",
  "trainingLoss":"number","memoryUsage":"number","cpuUsage":"number","gpuUsage":"number",
  "totalPredictions":"int","predictions24h":"int","correctPredictions":"int","incorrectPredictions":"int",
  "confidenceDistribution":"object","historicalMetrics":"array","featureImportance":"object"}'
call GET /api/v11/ai/models/tx-predictor-v2/metrics
expect "model metrics: fields" 200 "$(shape "$metrics_spec")" \
  "$(each .historicalMetrics '{"date":"int","accuracy":"number","predictions":"int","latency":"number"}')" \
  '.confidenceDistribution | keys == ["0-20%","20-40%","40-60%","60-80%","80-100%"] and all(.[]; type == "number")' \
  '.featureImportance | length == 5 and all(.[]; type == "number")'
expect "model metrics: period 24h by default, the original's ranges" 200 \
  '.period == "24h" and .modelName == "Transaction Volume Predictor" and .modelType == "PREDICTION"' \
  '.accuracy >= 96.5 and .accuracy <= 99.5 and .cpuUsage >= 45 and .cpuUsage <= 70' \
  '.correctPredictions + .incorrectPredictions == .totalPredictions' \
  '(.historicalMetrics | length) == 7'
call GET '/api/v11/ai/models/custom-x/metrics?period=7d'
expect "model metrics: the period echoed, an unknown model named as the original does" 200 \
  '.period == "7d" and .modelName == "Unknown Model" and .modelType == "CLASSIFICATION"'
call POST /api/v11/ai/models/x/metrics '{}'
expect "model metrics: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.getStatus: GET /ai/status ------------------------------------------
call GET /api/v11/ai/status
expect "status: fields" 200 \
  "$(shape '{"systemStatus":"string","aiEnabled":"bool","mlOptimizationEnabled":"bool","version":"string",
    "totalModels":"int","activeModels":"int","modelsInTraining":"int","averageModelAccuracy":"number",
    "performanceImpact":"object","resourceUsage":"object","healthIndicators":"object","recentActivities":"array",
    "timestamp":"int","lastUpdated":"int"}')" \
  "$(at .performanceImpact "$impact_spec")" "$(at .resourceUsage "$usage_spec")" \
  '.healthIndicators | keys == ["dataQuality","inferenceSpeed","modelHealth","predictionAccuracy","systemStability"] and all(.[]; type == "string")' \
  '.recentActivities | length == 3 and all(.[]; type == "string")'
expect "status: values" 200 '.systemStatus == "OPERATIONAL" and .aiEnabled and .totalModels == 5 and .activeModels == 4 and .modelsInTraining == 0' \
  '.averageModelAccuracy > 1 and .resourceUsage.cpuUtilization <= 100'
call POST /api/v11/ai/status '{}'
expect "status: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.getMetrics: GET /ai/metrics ------------------------------------------
call GET /api/v11/ai/metrics
expect "metrics: fields" 200 \
  "$(shape '{"systemStatus":"string","totalModels":"int","activeModels":"int","modelsInTraining":"int",
    "averageAccuracy":"number","performanceImpact":"object","resourceUsage":"object","predictionsToday":"int",
    "predictionAccuracyToday":"number","anomaliesDetectedToday":"int","timestamp":"int"}')" \
  "$(at .performanceImpact "$impact_spec")" "$(at .resourceUsage "$usage_spec")" \
  '.systemStatus == "OPTIMAL" and .predictionsToday == 1250000'
call POST /api/v11/ai/metrics '{}'
expect "metrics: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.getPredictions: GET /ai/predictions ----------------------------------
call GET /api/v11/ai/predictions
expect "predictions: fields" 200 \
  "$(shape '{"nextBlock":"object","networkForecast":"object","anomalyDetection":"object","consensusForecast":"object","timestamp":"int"}')" \
  "$(at .nextBlock '{"predictedBlockTime":"instant","predictedTransactionCount":"int","predictedBlockSize":"int","predictedGasUsed":"int","confidence":"number"}')" \
  "$(at .networkForecast '{"predictedTPS":"int","predictedCongestion":"string","predictedGasPrice":"number","predictedLatency":"number","confidence":"number","forecastWindow":"string"}')" \
  "$(at .anomalyDetection '{"anomalyScore":"number","riskLevel":"string","suspiciousTransactions":"int","confidence":"number"}')" \
  "$(at .consensusForecast '{"predictedConsensusLatency":"number","predictedFinalizationTime":"int","predictedParticipation":"number","confidence":"number"}')"
raw_has '"predictedGasPrice":1.2,' # BigDecimal("1.2"), its digits as written
call POST /api/v11/ai/predictions '{}'
expect "predictions: POST is 405" 405 "$(v11_error)"

# ---- AIModelMetricsApiResource.getConsensusPredictions: GET /ai/consensus/predictions --
call GET '/api/v11/ai/consensus/predictions?type=GAS_PRICE&horizon=6h'
expect "consensus predictions: fields" 200 \
  "$(shape '{"timestamp":"int","horizon":"string","totalPredictions":"int","averageConfidence":"number","predictions":"array"}')" \
  "$(each .predictions '{"predictionId":"string","type":"string","description":"string","predictedValue":"number","confidence":"number","modelUsed":"string","confidenceInterval":"object"}')" \
  'all(.predictions[]; .confidenceInterval | keys == ["lower","upper"] and .lower < .upper)'
expect "consensus predictions: the horizon echoed, the average computed" 200 \
  '.horizon == "6h" and .totalPredictions == 5 and (.predictions[0].description | endswith("next 6h"))' \
  '(([.predictions[].confidence] | add / length) - .averageConfidence | fabs) < 1e-9'
call GET /api/v11/ai/consensus/predictions
expect "consensus predictions: horizon 1h by default" 200 '.horizon == "1h"'
call POST /api/v11/ai/consensus/predictions '{}'
expect "consensus predictions: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.submitOptimization: POST /ai/optimize, 201 -----------------------------
optimize_spec='{"jobId":"string","status":"string","optimizationType":"string","targetMetric":"string","submittedAt":"int","estimatedDuration":"int"}'
call POST /api/v11/ai/optimize '{"optimizationType":"THROUGHPUT","targetMetric":"latency","parameters":{"batchSize":500,"shards":[1,2],"x":{"y":null}}}'
expect "optimize: 201 and fields" 201 "$(shape "$optimize_spec")" \
  '.status == "SUBMITTED" and .optimizationType == "THROUGHPUT" and .targetMetric == "latency" and .estimatedDuration == 60000' \
  '.jobId == "ai_opt_\(.submittedAt)"'
call POST /api/v11/ai/optimize '{}'
expect "optimize: the original's defaults" 201 '.optimizationType == "consensus" and .targetMetric == "tps"'
call POST /api/v11/ai/optimize '{"optimizationType":"","targetMetric":null}'
expect "optimize: \"\" echoed, null is absent" 201 '.optimizationType == "" and .targetMetric == "tps"'
call POST /api/v11/ai/optimize '{"parameters":"fast"}'
expect "optimize: parameters not an object is 400" 400 "$(v11_error parameters)"
call POST /api/v11/ai/optimize '{"optimizationType":'
expect "optimize: malformed JSON is 400" 400 "$(v11_error)"
call GET /api/v11/ai/optimize
expect "optimize: GET is 405" 405 "$(v11_error)"

# ---- AIApiResource.getPerformanceMetrics: GET /ai/performance -------------------------------
call GET /api/v11/ai/performance
expect "performance: fields" 200 \
  "$(shape '{"totalModels":"int","averageAccuracy":"number","averagePrecision":"number","averageRecall":"number",
    "averageF1Score":"number","averageLatency":"number","totalThroughput":"int","models":"array","responseTime":"number","timestamp":"int"}')" \
  "$(each .models '{"modelId":"string","modelName":"string","accuracy":"number","precision":"number","recall":"number",
    "f1Score":"number","latency":"number","throughput":"int","lastTrainingDate":"instant","dataPoints":"int"}')"
expect "performance: aggregates of the models" 200 \
  '.totalModels == (.models | length) and .totalThroughput == ([.models[].throughput] | add)' \
  '(([.models[].accuracy] | add / length) - .averageAccuracy | fabs) < 1e-9'
call POST /api/v11/ai/performance '{}'
expect "performance: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.getConfidenceScores: GET /ai/confidence ------------------------------------
call GET /api/v11/ai/confidence
expect "confidence: fields" 200 \
  "$(shape '{"predictions":"array","averageConfidence":"number","anomaliesDetected":"int","totalPredictions":"int",
    "highConfidencePredictions":"int","mediumConfidencePredictions":"int","lowConfidencePredictions":"int",
    "averageAnomalyScore":"number","anomalyDetectionRate":"number","responseTime":"number","timestamp":"int"}')" \
  "$(each .predictions '{"predictionId":"string","confidence":"number","threshold":"number","anomalyScore":"number","timestamp":"instant","isAnomaly":"bool"}')"
expect "confidence: 13 predictions, the counts consistent" 200 \
  '.totalPredictions == 13 and .anomaliesDetected == ([.predictions[] | select(.isAnomaly)] | length)' \
  '.highConfidencePredictions + .mediumConfidencePredictions + .lowConfidencePredictions == .totalPredictions' \
  'all(.predictions[-3:][]; .isAnomaly and (.predictionId | startswith("pred_anom_")))'
call POST /api/v11/ai/confidence '{}'
expect "confidence: POST is 405" 405 "$(v11_error)"

# ---- AIApiResource.getOptimizationMetrics: GET /ai/optimization-metrics --------------------------
call GET /api/v11/ai/optimization-metrics
expect "optimization metrics: fields" 200 \
  "$(shape '{"tpsMetrics":"object","mlMetrics":"object","consensusOptimization":"object","resourceEfficiency":"object",
    "impactAnalysis":"object","optimizationHistory":"array","activeOptimizations":"array","recommendations":"array",
    "responseTime":"number","timestamp":"int","lastOptimizationRun":"instant","nextOptimizationScheduled":"instant"}')" \
  "$(at .tpsMetrics '{"baselineTPS":"int","currentTPS":"int","targetTPS":"int","improvement":"number","targetAchievementPercentage":"number"}')" \
  "$(at .mlMetrics '{"consensusOptimizerAccuracy":"number","transactionPredictorAccuracy":"number","anomalyDetectorAccuracy":"number",
    "averageConfidence":"number","anomalyDetectionRate":"number","falsePositiveRate":"number","falseNegativeRate":"number"}')" \
  "$(at .consensusOptimization '{"latencyReduction":"number","finalizationTimeReduction":"number","participationImprovement":"number",
    "baselineLatency":"number","optimizedLatency":"number","baselineFinalizationTime":"number","optimizedFinalizationTime":"number"}')" \
  "$(at .resourceEfficiency '{"energySavings":"number","cpuUtilizationReduction":"number","memoryOptimization":"number","networkBandwidthSavings":"number","costSavings":"number"}')" \
  "$(at .impactAnalysis '{"overallImpact":"string","performanceGrade":"string","roiPercentage":"number","timeToOptimization":"string","stabilityScore":"number","predictabilityScore":"number"}')" \
  "$(each .optimizationHistory '{"timestamp":"instant","tps":"int","latency":"number","confidence":"number","anomaliesDetected":"int"}')" \
  "$(each .recommendations '{"id":"string","recommendation":"string","priority":"string","impact":"string","confidence":"number"}')"
expect "optimization metrics: values" 200 \
  '(.optimizationHistory | length) == 24 and (.activeOptimizations | length) == 5 and (.recommendations | length) == 3' \
  '(.tpsMetrics.improvement - 138.4020618556701 | fabs) < 1e-9 and .tpsMetrics.targetAchievementPercentage == 92.5'
call POST /api/v11/ai/optimization-metrics '{}'
expect "optimization metrics: POST is 405" 405 "$(v11_error)"

# ---- the original e2e script's AI checks (status 200, no field check) --------------------------
for p in status metrics predictions; do
  call GET "/api/v11/ai/$p"
  expect "e2e script: AI $p 200" 200
done

# ---- called by the portal, not served by the original ------------------------------------------
call GET /api/v11/ai/optimization
expect "portal-only GET /ai/optimization: 404, as in the original" 404 "$(v11_error)"
call POST /api/v11/ai/optimization/enable '{}'
expect "portal-only POST /ai/optimization/enable: 404" 404 "$(v11_error)"

summary
