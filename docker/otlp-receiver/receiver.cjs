'use strict';
// A small OTLP/HTTP trace receiver for the staging stack: no OpenTelemetry
// Collector or Jaeger exists in Debian or npm (../../deployment/README.md),
// so this stands in for one. It takes what an OTLP exporter sends to
// POST /v1/traces (application/x-protobuf, decoded with protobufjs and the
// opentelemetry-proto files, or application/json), logs one JSON line per
// span, keeps the last spans in memory, and answers as a collector does.
//
//   node receiver.cjs [HOST:PORT]          serve (default $OTLP_LISTEN or 127.0.0.1:4318)
//   node receiver.cjs send URL [NAME]      send one span to URL/v1/traces (a self-test)
//
//   POST /v1/traces    ExportTraceServiceRequest -> 200 ExportTraceServiceResponse
//   GET  /api/spans    the last spans, newest last (?limit=N, default 100)
//   GET  /metrics      otlp_receiver_requests_total, otlp_receiver_spans_total (Prometheus text)
//   GET  /healthz      200 "ok"
const http = require('http');
const path = require('path');
const crypto = require('crypto');
const protobuf = require('protobufjs');

const PROTO_DIR = process.env.OTLP_PROTO_DIR || path.join(__dirname, 'protos');
const MAX_BODY = 16 * 1024 * 1024;
const KEEP = 1000;

function loadTypes() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false });
  return {
    req: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    res: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
  };
}

const hex = (v) => (v == null ? '' : Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v));

// the spans of a decoded (or JSON) request, flattened for the log
function spansOf(msg) {
  const out = [];
  for (const rs of msg.resourceSpans || []) {
    let service = '';
    for (const a of (rs.resource && rs.resource.attributes) || []) {
      if (a.key === 'service.name' && a.value) service = a.value.stringValue || '';
    }
    for (const ss of rs.scopeSpans || rs.instrumentationLibrarySpans || []) {
      for (const s of ss.spans || []) {
        const start = BigInt(String(s.startTimeUnixNano || 0));
        const end = BigInt(String(s.endTimeUnixNano || 0));
        out.push({
          service,
          name: s.name || '',
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          durationUs: Number((end - start) / 1000n),
        });
      }
    }
  }
  return out;
}

function serve(listen) {
  const types = loadTypes();
  const recent = [];
  let requests = 0;
  let spans = 0;
  let rejected = 0;
  const [host, port] = (() => {
    const i = listen.lastIndexOf(':');
    return [listen.slice(0, i) || '127.0.0.1', Number(listen.slice(i + 1))];
  })();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok\n');
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(
        '# TYPE otlp_receiver_requests_total counter\n' +
          `otlp_receiver_requests_total ${requests}\n` +
          '# TYPE otlp_receiver_spans_total counter\n' +
          `otlp_receiver_spans_total ${spans}\n` +
          '# TYPE otlp_receiver_rejected_total counter\n' +
          `otlp_receiver_rejected_total ${rejected}\n`
      );
    }
    if (req.method === 'GET' && url.pathname === '/api/spans') {
      const limit = Math.max(1, Math.min(KEEP, Number(url.searchParams.get('limit')) || 100));
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ spansTotal: spans, spans: recent.slice(-limit) }) + '\n');
    }
    if (url.pathname !== '/v1/traces') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found\n');
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' });
      return res.end('POST only\n');
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        rejected++;
        res.writeHead(413, { 'content-type': 'text/plain' });
        res.end('too large\n');
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const body = Buffer.concat(chunks);
      const json = (req.headers['content-type'] || '').startsWith('application/json');
      let got;
      try {
        got = spansOf(json ? JSON.parse(body.toString('utf8') || '{}') : types.req.decode(body));
      } catch (e) {
        rejected++;
        res.writeHead(400, { 'content-type': 'text/plain' });
        return res.end(`bad request: ${e.message}\n`);
      }
      requests++;
      spans += got.length;
      for (const s of got) {
        recent.push(s);
        process.stdout.write(JSON.stringify(s) + '\n');
      }
      if (recent.length > KEEP) recent.splice(0, recent.length - KEEP);
      if (json) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end(Buffer.from(types.res.encode(types.res.create({})).finish()));
      }
    });
  });
  server.listen(port, host, () => process.stderr.write(`otlp-receiver listening on ${host}:${server.address().port}\n`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function send(base, name) {
  const types = loadTypes();
  const now = BigInt(Date.now()) * 1000000n;
  const msg = types.req.create({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otlp-receiver-selftest' } }] },
      scopeSpans: [{
        scope: { name: 'selftest' },
        spans: [{
          traceId: crypto.randomBytes(16),
          spanId: crypto.randomBytes(8),
          name,
          kind: 2,
          startTimeUnixNano: (now - 1500000n).toString(),
          endTimeUnixNano: now.toString(),
        }],
      }],
    }],
  });
  const body = Buffer.from(types.req.encode(msg).finish());
  const req = http.request(new URL('/v1/traces', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
  }, (res) => {
    res.resume();
    res.on('end', () => {
      console.log(`POST /v1/traces: ${res.statusCode}`);
      process.exit(res.statusCode === 200 ? 0 : 1);
    });
  });
  req.on('error', (e) => { console.error(e.message); process.exit(1); });
  req.end(body);
}

const args = process.argv.slice(2);
if (args[0] === 'send') send(args[1] || 'http://127.0.0.1:4318', args[2] || 'selftest-span');
else serve(args[0] || process.env.OTLP_LISTEN || '127.0.0.1:4318');
