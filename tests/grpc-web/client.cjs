// client.cjs: gRPC-Web calls through the gateway with two clients we did not
// write, for tests/grpc_web_test.sh, which checks what this prints.
//
//   node client.cjs LIBRARY BASE_URL TX_HASH
//
// LIBRARY: "improbable" (@improbable-eng/grpc-web over its Node http
// transport: application/grpc-web+proto on HTTP/1.1) or "grpcweb" (grpc-web's
// runtime, GrpcWebClientBase, in text mode over xhr2:
// application/grpc-web-text). Messages are written and read with
// google-protobuf's BinaryWriter/BinaryReader: these libraries take any
// object with serializeBinary(), so no generated code is needed.
//
// Prints one JSON line per call: {"call": NAME, "code": N, "message": "...",
// ...what it read}. Each call has its own timeout; the process exits when
// every call has ended.
'use strict';

const jspb = require('google-protobuf');

const [, , library, base, txHash] = process.argv;
const SVC = 'aurigraph.v11.TransactionService';

// A message as bytes, with the two methods the clients call.
class Raw {
  constructor(bytes) { this.bytes = bytes; }
  serializeBinary() { return this.bytes; }
  toObject() { return {}; }
  static deserializeBinary(bytes) { return new Raw(bytes); }
}

function encode(fields) { // fields: [[number, 'string'|'int64', value], ...]
  const w = new jspb.BinaryWriter();
  for (const [n, kind, v] of fields) {
    if (kind === 'string') w.writeString(n, v);
    else w.writeInt64(n, v);
  }
  return new Raw(w.getResultBuffer());
}

// The top-level fields of a message: {number: [values]} (strings as text,
// nested messages skipped, varints as numbers).
function decode(raw) {
  const r = new jspb.BinaryReader(raw.bytes);
  const out = {};
  while (r.nextField()) {
    if (r.isEndGroup()) break;
    const n = r.getFieldNumber();
    let v;
    switch (r.getWireType()) {
      case 0: v = r.readInt64(); break;
      case 2: {
        const b = r.readBytes();
        v = Buffer.from(b).toString('utf8');
        break;
      }
      default: r.skipField(); continue;
    }
    (out[n] = out[n] || []).push(v);
  }
  return out;
}

function print(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

let pending = 0;
function started() { pending++; }
function ended() { if (--pending === 0) process.exit(0); }

// ---- @improbable-eng/grpc-web ---------------------------------------------

function improbable() {
  const { grpc } = require('@improbable-eng/grpc-web');
  const { NodeHttpTransport } = require('@improbable-eng/grpc-web-node-http-transport');
  grpc.setDefaultTransport(NodeHttpTransport());
  const method = (name, stream) => ({
    methodName: name, service: { serviceName: SVC }, requestStream: false, responseStream: stream,
    requestType: Raw, responseType: Raw,
  });
  const headersOf = (md) => {
    const h = {};
    md.forEach((k, v) => { h[k] = v.join(','); });
    return h;
  };
  const unary = (call, name, request, metadata) => {
    started();
    grpc.unary(method(name, false), {
      request, host: base, metadata,
      onEnd: (res) => {
        print({ call, code: res.status, message: res.statusMessage, fields: res.message ? decode(res.message) : null,
                headers: headersOf(res.headers), trailers: headersOf(res.trailers) });
        ended();
      },
    });
  };
  unary('stats', 'GetTransactionStats', encode([]), {});
  unary('get', 'GetTransaction', encode([[1, 'string', txHash]]), { 'x-canary': 'never' });
  unary('not_found', 'GetTransaction', encode([[1, 'string', '0xnope']]), {});
  unary('unimplemented', 'NoSuchMethod', encode([]), {});

  // a server stream cut by its deadline: the snapshot's events, then DEADLINE_EXCEEDED
  started();
  const events = [];
  grpc.invoke(method('StreamTransactionEvents', true), {
    request: encode([]), host: base, metadata: { 'grpc-timeout': '1500m' },
    onMessage: (m) => { events.push(decode(m)); },
    onEnd: (code, message) => {
      print({ call: 'stream', code, message, events: events.length,
              types: events.map((e) => (e[1] || [''])[0]) });
      ended();
    },
  });

  // a stream the client closes after its first message: the gateway must
  // cancel the upstream call (the test reads that from the gateway's side)
  started();
  let got = 0;
  const req = grpc.invoke(method('StreamTransactionEvents', true), {
    request: encode([]), host: base, metadata: { 'x-request-id': 'improbable-hangup' },
    onMessage: () => {
      if (++got === 1) {
        req.close();
        print({ call: 'hangup', closed_after: got });
        ended();
      }
    },
    onEnd: (code, message) => { if (got === 0) { print({ call: 'hangup', code, message, closed_after: 0 }); ended(); } },
  });
}

// ---- grpc-web (GrpcWebClientBase, text mode, over xhr2) ---------------------

function grpcweb() {
  global.XMLHttpRequest = require('xhr2');
  const { GrpcWebClientBase, MethodDescriptor, MethodType } = require('grpc-web');
  const client = new GrpcWebClientBase({ format: 'text' });
  const md = (name, type) => new MethodDescriptor(`/${SVC}/${name}`, type, Raw, Raw,
    (m) => m.serializeBinary(), (b) => Raw.deserializeBinary(b));
  const unary = (call, name, request) => {
    started();
    let statusSeen = null;
    client.rpcCall(base + `/${SVC}/${name}`, request, {}, md(name, MethodType.UNARY), (err, res) => {
      if (err) print({ call, code: err.code, message: err.message, metadata: err.metadata || {} });
      else print({ call, code: 0, fields: decode(res), status: statusSeen });
      ended();
    }).on('status', (s) => { statusSeen = s; });
  };
  unary('stats', 'GetTransactionStats', encode([]));
  unary('get', 'GetTransaction', encode([[1, 'string', txHash]]));
  unary('not_found', 'GetTransaction', encode([[1, 'string', '0xnope']]));
  unary('unimplemented', 'NoSuchMethod', encode([]));

  started();
  const events = [];
  let done = false;
  const finish = (code, message) => {
    if (done) return;
    done = true;
    print({ call: 'stream', code, message, events: events.length, types: events.map((e) => (e[1] || [''])[0]) });
    ended();
  };
  const stream = client.serverStreaming(base + `/${SVC}/StreamTransactionEvents`, encode([]),
    { 'grpc-timeout': '1500m' }, md('StreamTransactionEvents', MethodType.SERVER_STREAMING));
  stream.on('data', (m) => events.push(decode(m)));
  stream.on('status', (s) => { if (s.code !== 0) finish(s.code, s.details); });
  stream.on('error', (e) => finish(e.code, e.message));
  stream.on('end', () => finish(0, ''));
}

const timer = setTimeout(() => { print({ call: 'timeout', pending }); process.exit(2); }, 20000);
timer.unref();
if (library === 'improbable') improbable();
else if (library === 'grpcweb') grpcweb();
else { console.error('usage: node client.cjs improbable|grpcweb BASE_URL TX_HASH'); process.exit(2); }
