// tests/api_docs_test.sh's checks of /q/openapi, one line each: "ok WHAT"
// or "FAIL WHAT: why" (the shell counts them); exit 1 on a crash.
//
//   node check.cjs DOC.yaml DOC.json ROUTES.txt ROUTE_COUNT GATEWAY_URL
//
// ROUTES.txt: `protoc --decode=google.protobuf.FileDescriptorSet` of the
// gateway's descriptor set, read here with a parser of protobuf's text
// format, so the route table comes from protoc, not from the gateway.
// ROUTE_COUNT: what `aurigraph-gateway --check-config` says it binds.
// GATEWAY_URL: the gateway in front of the reference services: real
// answers of real routes are validated against the document's schemas
// ("-": another contract, no answers to check).
"use strict";
const fs = require("fs");
const url = require("url");
const assert = require("assert");
const YAML = require("yaml");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const [yamlFile, jsonFile, routesFile, routeCount, gw] = process.argv.slice(2);
let failures = 0;
const ok = (what) => console.log(`ok ${what}`);
const fail = (what, why) => {
  failures++;
  console.log(`FAIL ${what}: ${String(why).replace(/\s+/g, " ").slice(0, 600)}`);
};
const check = (what, cond, why) => (cond ? ok(what) : fail(what, why || "false"));

// ---- protobuf text format (protoc --decode) --------------------------------
function parseTextFormat(src) {
  const toks = [];
  const re = /\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|(\[[\w.]+\])|([{}:])|([^\s{}:"\[]+))/gy;
  let m;
  while (re.lastIndex < src.length && (m = re.exec(src)) !== null) {
    if (m[1]) continue;
    if (m[2]) toks.push({ s: JSON.parse(m[2].replace(/\\([0-7]{3})/g, (_, o) => "\\u00" + parseInt(o, 8).toString(16).padStart(2, "0")).replace(/\\'/g, "'")) });
    else if (m[3] || m[5]) toks.push({ id: m[3] || m[5] });
    else if (m[4]) toks.push({ p: m[4] });
    if (m[0].length === 0) break;
  }
  let i = 0;
  function fields(end) {
    const out = [];
    while (i < toks.length && !(toks[i].p === "}" && end)) {
      const name = toks[i++].id;
      if (toks[i] && toks[i].p === ":") i++;
      if (toks[i] && toks[i].p === "{") {
        i++;
        out.push({ name, children: fields(true) });
        i++; // }
      } else {
        const t = toks[i++];
        out.push({ name, value: t.s !== undefined ? t.s : t.id });
      }
    }
    return out;
  }
  return fields(false);
}
const kids = (n, name) => (n.children || []).filter((c) => c.name === name);
const val = (n, name) => {
  const c = (n.children || []).find((c) => c.name === name);
  return c ? c.value : undefined;
};

function routeTable(text) {
  const routes = [];
  for (const file of parseTextFormat(text).filter((n) => n.name === "file")) {
    const pkg = val(file, "package");
    for (const svc of kids(file, "service")) {
      const sname = (pkg ? pkg + "." : "") + val(svc, "name");
      for (const m of kids(svc, "method")) {
        const opts = kids(m, "options")[0];
        if (!opts) continue;
        const status = Number(val(opts, "[aurigraph.api.success_status]") || 200);
        for (const rule of kids(opts, "[google.api.http]")) {
          const all = [rule, ...kids(rule, "additional_bindings")];
          all.forEach((r, k) => {
            let method, path;
            for (const verb of ["get", "put", "post", "delete", "patch"]) if (val(r, verb)) [method, path] = [verb, val(r, verb)];
            const custom = kids(r, "custom")[0];
            if (custom) [method, path] = [val(custom, "kind").toLowerCase(), val(custom, "path")];
            routes.push({ method, template: path, path: path.replace(/\{([^}=]+)=[^}]*\}/g, "{$1}"), status, grpc: `/${sname}/${val(m, "name")}`, rule: k });
          });
        }
      }
    }
  }
  return routes;
}

// ---- the document -----------------------------------------------------------
function pointer(doc, ref) {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((o, k) => (o === undefined ? undefined : o[k]), doc);
}
const esc = (s) => s.replace(/~/g, "~0").replace(/\//g, "~1");

function walk(node, fn, path = "#") {
  if (node && typeof node === "object") {
    fn(node, path);
    for (const [k, v] of Object.entries(node)) walk(v, fn, `${path}/${esc(k)}`);
  }
}

async function main() {
  const yamlText = fs.readFileSync(yamlFile, "utf8");
  const jsonText = fs.readFileSync(jsonFile, "utf8");
  const doc = JSON.parse(jsonText);
  const fromYaml = YAML.parse(yamlText, { schema: "core", uniqueKeys: true });
  try {
    assert.deepStrictEqual(fromYaml, doc);
    ok("YAML and JSON forms are one document");
  } catch (e) {
    fail("YAML and JSON forms are one document", e.message);
  }

  // an ES module: import() does not read NODE_PATH, require.resolve does
  const { Validator } = await import(url.pathToFileURL(require.resolve("@seriousme/openapi-schema-validator")));
  for (const [what, spec] of [["JSON", doc], ["YAML", yamlText]]) {
    const v = new Validator();
    const res = await v.validate(spec);
    check(`the ${what} form is a valid OpenAPI ${doc.openapi} document (@seriousme/openapi-schema-validator)`,
      res.valid && v.version === "3.1", JSON.stringify(res.errors || v.version));
  }

  {
    /* a control: the validator must be able to say no */
    const broken = JSON.parse(jsonText);
    delete broken.paths["/q/metrics"].get.responses["200"].description;
    const v = new Validator();
    const res = await v.validate(broken);
    check("the validator rejects a copy with a response that has no description", !res.valid);
  }

  // every $ref resolves; operationIds unique; every path variable declared
  const dangling = [];
  walk(doc, (n, at) => { if (typeof n.$ref === "string" && pointer(doc, n.$ref) === undefined) dangling.push(`${at}: ${n.$ref}`); });
  check("every $ref resolves", dangling.length === 0, dangling.slice(0, 5).join(", "));
  const ids = new Map();
  const undeclared = [];
  let operations = 0;
  for (const [p, item] of Object.entries(doc.paths)) {
    const vars = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(item)) {
      if (!p.startsWith("/q/")) operations++;
      ids.set(op.operationId, (ids.get(op.operationId) || 0) + 1);
      const declared = (op.parameters || []).filter((x) => x.in === "path" && x.required).map((x) => x.name);
      for (const v of vars) if (!declared.includes(v)) undeclared.push(`${method} ${p}: ${v}`);
    }
  }
  const dup = [...ids].filter(([, n]) => n > 1).map(([id]) => id);
  check("operationIds are unique", dup.length === 0, dup.join(", "));
  check("every path variable is a required path parameter", undeclared.length === 0, undeclared.join(", "));

  // ---- against the route table -----------------------------------------------
  const routes = routeTable(fs.readFileSync(routesFile, "utf8"));
  const undescribed = doc["x-aurigraph-undescribed"] || [];
  check(`the descriptor set's ${routes.length} routes are --check-config's ${routeCount}`, routes.length === Number(routeCount));
  check(`every route is an operation (${operations}) or listed as undescribed (${undescribed.length})`,
    operations + undescribed.length === routes.length, `${operations} + ${undescribed.length} != ${routes.length}`);
  const missing = [];
  for (const r of routes) {
    const op = doc.paths[r.path] && doc.paths[r.path][r.method];
    const listed = undescribed.some((u) => u.startsWith(`${r.method.toUpperCase()} ${r.template} `));
    if (listed) continue;
    if (!op) missing.push(`${r.method} ${r.path}: no operation`);
    else if (!op.responses[String(r.status)]) missing.push(`${r.method} ${r.path}: no ${r.status}`);
    else if (op["x-grpc-method"] !== r.grpc) missing.push(`${r.method} ${r.path}: ${op["x-grpc-method"]} != ${r.grpc}`);
    else if (Object.keys(op.responses).some((s) => /^2/.test(s) && s !== String(r.status))) missing.push(`${r.method} ${r.path}: another 2xx`);
  }
  check("each route's method and path are there, with its success status (only) and gRPC method", missing.length === 0, missing.slice(0, 5).join("; "));

  if (gw === "-") return;

  // ---- real answers against the schemas ---------------------------------------
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const f of ["int32", "int64", "uint32", "uint64", "float", "double"]) ajv.addFormat(f, true);
  ajv.addSchema(doc, "openapi.json", undefined, false);
  const validators = new Map();
  function schemaAt(ptr) {
    if (!validators.has(ptr)) validators.set(ptr, ajv.compile({ $ref: `openapi.json${ptr}` }));
    return validators.get(ptr);
  }
  function responsePointer(p, method, status, type) {
    const op = doc.paths[p][method];
    let key = op.responses[status] ? status : "default";
    let base = `#/paths/${esc(p)}/${method}/responses/${key}`;
    const r = op.responses[key];
    if (r.$ref) base = r.$ref;
    const resp = pointer(doc, base);
    if (!resp.content || !resp.content[type]) return null;
    return `${base}/content/${esc(type)}/schema`;
  }
  let answered = 0;
  async function call(what, method, openapiPath, url, body, expect, contentType) {
    const headers = {};
    if (body !== undefined) headers["content-type"] = contentType || "application/json";
    let res, text;
    try {
      res = await fetch(gw + url, { method: method.toUpperCase(), headers, body, signal: AbortSignal.timeout(10000) });
      text = await res.text();
    } catch (e) {
      return fail(what, e.message);
    }
    answered++;
    if (expect && res.status !== expect) return fail(what, `status ${res.status}, expected ${expect}: ${text.slice(0, 200)}`);
    const op = doc.paths[openapiPath] && doc.paths[openapiPath][method];
    if (!op) return fail(what, `no operation ${method} ${openapiPath}`);
    let sent;
    try {
      sent = body !== undefined && !contentType ? JSON.parse(body) : undefined;
    } catch (e) {
      sent = undefined; /* bad JSON on purpose */
    }
    if (sent !== undefined && op.requestBody) {
      const v = schemaAt(`#/paths/${esc(openapiPath)}/${method}/requestBody/content/application~1json/schema`);
      check(`${what}: the request body sent matches its schema`, v(sent), ajv.errorsText(v.errors));
    }
    const type = (res.headers.get("content-type") || "").split(";")[0];
    const ptr = responsePointer(openapiPath, method, String(res.status), type);
    if (!ptr) return fail(what, `${res.status} ${type} is not documented`);
    const v = schemaAt(ptr);
    const data = JSON.parse(text);
    check(`${what}: ${res.status} answer matches its schema`, v(data), ajv.errorsText(v.errors) + " in " + text.slice(0, 300));
    return data;
  }

  {
    /* a control: the answer schemas must be able to say no */
    const v = schemaAt(responsePointer("/api/v11/transactions/stats", "get", "200", "application/json"));
    check("the answer schemas reject {\"pendingTransactions\": \"7\"} (int64 under v11 is a number)",
      !v({ pendingTransactions: "7" }) && v({ pendingTransactions: 7 }));
  }

  // every GET that takes nothing and is no stream: its real answer
  for (const [p, item] of Object.entries(doc.paths)) {
    const op = item.get;
    if (!op || p.includes("{") || p.startsWith("/q/metrics")) continue;
    if ((op.parameters || []).some((x) => x.required)) continue;
    const success = Object.keys(op.responses).find((s) => /^2/.test(s));
    if (op.responses[success].content && op.responses[success].content["application/x-ndjson"]) continue;
    await call(`GET ${p}`, "get", p, p, undefined, p.startsWith("/q/") ? 200 : Number(success));
  }
  // a transaction's life, the gateway's errors, a few POSTs
  const T = "/api/v11/transactions";
  const tx = await call("POST transactions", "post", T, T,
    JSON.stringify({ userId: "alice", fromAddress: "0xa1", toAddress: "0xb2", amount: 12.5, transactionType: "TRANSFER", gasLimit: 21000, gasPrice: 0.000000025 }), 202);
  if (tx && tx.txHash) {
    await call("GET transactions/{tx_hash}", "get", `${T}/{tx_hash}`, `${T}/${tx.txHash}`, undefined, 200);
    await call("POST transactions/{tx_hash}/confirm?blockNumber&blockHash", "post", `${T}/{tx_hash}/confirm`,
      `${T}/${tx.txHash}/confirm?blockNumber=42&blockHash=0xbeef`, undefined, 200);
    const confirmed = await call("GET a confirmed transaction", "get", `${T}/{tx_hash}`, `${T}/${tx.txHash}`, undefined, 200);
    check("a confirmed transaction has its blockNumber (null until then)", confirmed && Number(confirmed.blockNumber) === 42);
  }
  await call("GET transactions/user/{user_id}", "get", `${T}/user/{user_id}`, `${T}/user/alice`, undefined, 200);
  await call("GET an unknown transaction: the service's NOT_FOUND", "get", `${T}/{tx_hash}`, `${T}/0xnope`, undefined, 404);
  await call("POST transactions with bad JSON: 400", "post", T, T, "{", 400);
  await call("POST transactions as text/plain: 415", "post", T, T, "x", 415, "text/plain");
  await call("POST transactions:batch", "post", `${T}:batch`, `${T}:batch`,
    JSON.stringify({ batchId: "b-1", transactions: [{ userId: "bob", fromAddress: "0xb1", toAddress: "0xc1", amount: 1, transactionType: "TRANSFER" }] }), 202);
  await call("POST consensus/propose", "post", "/api/v11/consensus/propose", "/api/v11/consensus/propose", JSON.stringify({ proposalId: "p-1", data: "block-data" }), 200);
  await call("POST crypto/keystore/generate", "post", "/api/v11/crypto/keystore/generate", "/api/v11/crypto/keystore/generate", JSON.stringify({ keyId: "k1", algorithm: "Ed25519" }), 200);
  await call("POST crypto/sign", "post", "/api/v11/crypto/sign", "/api/v11/crypto/sign", JSON.stringify({ keyId: "k1", data: "hello" }), 200);
  await call("POST ai/optimize", "post", "/api/v11/ai/optimize", "/api/v11/ai/optimize", JSON.stringify({ optimizationType: "THROUGHPUT", targetMetric: "tps", parameters: { batchSize: 500 } }), 201);
  await call("POST ai/models/{model_id}/retrain", "post", "/api/v11/ai/models/{model_id}/retrain", "/api/v11/ai/models/tx-predictor-v2/retrain", JSON.stringify({ epochs: 50 }), 202);
  await call("POST bridge/transfer", "post", "/api/v11/bridge/transfer", "/api/v11/bridge/transfer", JSON.stringify({ sourceChain: "ethereum", targetChain: "aurigraph", asset: "USDC", amount: 250.0, recipient: "0xr1" }), 200);
  check(`real answers checked: ${answered}`, answered >= 20, `only ${answered}`);
}

main()
  .then(() => process.exit(failures ? 1 : 0))
  .catch((e) => {
    console.log(`FAIL check.cjs crashed: ${e.stack}`);
    process.exit(1);
  });
