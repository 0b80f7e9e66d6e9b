'use strict';
// receiver.cjs: the OTLP/HTTP receiver of tests/trace_test.sh. It decodes
// POST /v1/traces (application/x-protobuf) with protobufjs and the
// opentelemetry-proto files of the npm package
// @opentelemetry/otlp-grpc-exporter-base (build/protos/), not the gateway's
// vendored copy, and writes each span as one JSON line to OUT:
//   {traceId, spanId, parentSpanId, traceState, name, kind, start, end,
//    status, attrs: {key: value}, resource: {key: value}, scope}
// ids in hex, times as decimal strings (ns), int attributes as numbers.
// It answers 200 with an empty ExportTraceServiceResponse, as a collector.
//
//   node receiver.cjs OUT        prints "otlp-receiver listening on PORT"
const http = require('http');
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const out = process.argv[2];
const protoDir = path.join(path.dirname(require.resolve('@opentelemetry/otlp-grpc-exporter-base/package.json')),
  'build', 'protos');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, target);
root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
const Req = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const Res = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');

const hex = (b) => (b && b.length ? Buffer.from(b).toString('hex') : '');
// the oneof's set member (protobufjs names it in v.value; unset members
// read as their defaults, so they cannot be tested one by one)
function value(v) {
  if (v == null || !v.value) return null;
  const x = v[v.value];
  if (v.value === 'intValue') return Number(String(x));
  if (v.value === 'stringValue' || v.value === 'boolValue' || v.value === 'doubleValue') return x;
  return JSON.stringify(x);
}
function attrs(list) {
  const o = {};
  for (const a of list || []) o[a.key] = value(a.value);
  return o;
}

let requests = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces' ||
        req.headers['content-type'] !== 'application/x-protobuf') {
      res.writeHead(404);
      return res.end();
    }
    let msg;
    try {
      msg = Req.decode(Buffer.concat(chunks));
    } catch (e) {
      process.stderr.write(`undecodable export: ${e.message}\n`);
      res.writeHead(400);
      return res.end();
    }
    requests++;
    const lines = [];
    for (const rs of msg.resourceSpans) {
      const resource = attrs(rs.resource && rs.resource.attributes);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          lines.push(JSON.stringify({
            traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId),
            traceState: s.traceState || '', name: s.name, kind: s.kind,
            start: String(s.startTimeUnixNano), end: String(s.endTimeUnixNano),
            status: s.status ? s.status.code || 0 : 0, attrs: attrs(s.attributes), resource,
            scope: ss.scope ? ss.scope.name : '', request: requests,
          }));
        }
      }
    }
    if (lines.length) fs.appendFileSync(out, lines.join('\n') + '\n');
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    res.end(Buffer.from(Res.encode(Res.create({})).finish()));
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(`otlp-receiver listening on ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
