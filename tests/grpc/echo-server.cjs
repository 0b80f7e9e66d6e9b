'use strict';
// echo-server.cjs [--listen HOST:PORT]: aurigraph.test.EchoService
// (and TimedEchoService, its Unary under another name; tests/proto/echo.proto) on @grpc/grpc-js, loopback, port 0 unless told.
// Prints "echo-server listening on HOST:PORT" once bound. Each request
// says how to answer (reply size and count, delay, status to end with);
// x-echo-* metadata comes back in headers and trailers; message limits are
// raised to 256 MiB; stream writes wait for 'drain', so a slow reader
// holds the server back through HTTP/2 flow control (through whatever is
// in between), and read_delay_ms makes the server the slow reader.
// gzip-compressed requests are read; grpc-js cannot compress replies (see
// GzipEchoService in echo.proto). grpc.health.v1.Health answers SERVING.
// Stops on SIGTERM/SIGINT.
const http2 = require('http2');
const path = require('path');
const protoLoader = require('@grpc/proto-loader');
const { grpc, echoService, timedService, types, DETAIL_TYPE_URL, patternPayload, crc32, sleep } = require('./echo-common.cjs');

let listen = '127.0.0.1:0';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--listen' && i + 1 < process.argv.length) listen = process.argv[++i];
  else { console.error(`echo-server: unknown argument ${process.argv[i]}`); process.exit(2); }
}

const LIMIT = 256 << 20;
const server = new grpc.Server({
  'grpc.max_receive_message_length': LIMIT,
  'grpc.max_send_message_length': LIMIT,
});

// Observe: what the server saw, per tag (bounded: the oldest tags go)
const seen = new Map();
function observed(tag) {
  let s = seen.get(tag);
  if (!s) {
    if (seen.size >= 10000) seen.delete(seen.keys().next().value);
    s = { started: 0, cancelled: 0, finished: 0, deadline_left_ms: -1, replies_sent: 0, requests_received: 0 };
    seen.set(tag, s);
  }
  return s;
}

function deadlineLeft(call) {
  const d = call.getDeadline();
  const t = d instanceof Date ? d.getTime() : typeof d === 'number' ? d : Infinity;
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : -1;
}

// request metadata as a map (binary values in base64; repeated keys joined by ",")
function metadataMap(md) {
  const out = {};
  for (const [k, vs] of Object.entries(md.toJSON())) {
    out[k] = vs.map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v))).join(',');
  }
  return out;
}

// x-echo-* metadata of the request, for the response's headers and trailers
function echoed(md) {
  const out = new grpc.Metadata();
  for (const [k, vs] of Object.entries(md.toJSON())) {
    if (!k.startsWith('x-echo-')) continue;
    for (const v of vs) out.add(k, v);
  }
  return out;
}

function startCall(call, req) {
  const s = observed(req.tag || '');
  s.started++;
  s.deadline_left_ms = deadlineLeft(call);
  // a cancel counts only while the call runs: not a stream closed oddly
  // after the server ended it
  call.on('cancelled', () => cancelled(call, s));
  const md = echoed(call.metadata);
  md.set('x-echo-initial', 'headers');
  call.sendMetadata(md);
  return s;
}

// the server ends the call itself (a reply and status, or a status)
const endedCalls = new WeakSet();
function serverEnded(call, s) {
  s.finished++;
  endedCalls.add(call);
}
// the call was cancelled (counted once, and only while it ran: not a
// stream closed oddly after the server ended it)
function cancelled(call, s) {
  if (endedCalls.has(call)) return;
  endedCalls.add(call);
  s.cancelled++;
}

function reply(call, req, index, extra) {
  const payload = req.reply_size > 0 ? patternPayload(req.reply_size, index) : req.payload;
  return {
    payload, index, crc32: crc32(payload), deadline_left_ms: deadlineLeft(call),
    metadata: index === 0 ? metadataMap(call.metadata) : {}, ...extra,
  };
}

// The status a request asks to end with, as grpc-js takes it (trailers
// carry the x-echo-* metadata back, and grpc-status-details-bin when asked)
function endStatus(call, req) {
  const trailers = echoed(call.metadata);
  trailers.set('x-echo-trailer', 'trailers');
  if (!req.status_code) return { code: grpc.status.OK, details: 'OK', metadata: trailers };
  if (req.status_detail) {
    const detail = types.EchoDetail.encode({ text: req.status_detail, code: req.status_code, tag: req.tag }).finish();
    const st = types.Status.encode({
      code: req.status_code, message: req.status_message,
      details: [{ type_url: DETAIL_TYPE_URL, value: detail }],
    }).finish();
    trailers.set('grpc-status-details-bin', Buffer.from(st));
  }
  return { code: req.status_code, details: req.status_message, metadata: trailers };
}

// The HTTP/2 stream under a grpc-js server call: grpc-js has no API to
// reset a call, so this reaches into it (call.call is the intercepting
// call, .stream its Http2Stream, when the server has no interceptors).
// Throws when grpc-js is laid out otherwise, rather than answer normally.
function breakCall(call, how) {
  const stream = call.call && call.call.stream;
  if (!stream || typeof stream.close !== 'function') throw new Error('echo-server: no Http2Stream under the grpc-js call');
  // let the replies written so far go out first
  setTimeout(() => {
    if (how === 'RESET_STREAM') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else stream.session.destroy();
  }, 50);
}

function writeWhenDrained(call, msg) {
  if (call.write(msg)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { call.off('drain', done); call.off('cancelled', done); call.off('error', done); resolve(); };
    call.on('drain', done); call.on('cancelled', done); call.on('error', done);
  });
}

// Reads a client's request stream one message at a time, waiting
// read_delay_ms (of the first request) before each next read. Resolves
// true at the client's half-close, false when the client cancelled.
function readAll(call, onRequest) {
  return new Promise((resolve) => {
    let delay = -1;
    let chain = Promise.resolve();
    call.on('data', (req) => {
      if (delay < 0) delay = req.read_delay_ms || 0;
      if (delay > 0) { call.pause(); setTimeout(() => call.resume(), delay); }
      chain = chain.then(() => onRequest(req));
    });
    // grpc-js ends the request stream of a call the client reset, and says
    // 'cancelled' only ticks later (both from the one RST_STREAM): decide
    // after those ticks whether this end was a half-close
    call.on('end', () => chain.then(() => setTimeout(() => resolve(!call.cancelled), 5)));
    call.on('error', () => chain.then(() => resolve(false)));
    call.on('cancelled', () => chain.then(() => resolve(false)));
  });
}

const handlers = {
  Unary(call, callback) {
    const req = call.request;
    const s = startCall(call, req);
    (async () => {
      if (req.delay_ms) await sleep(req.delay_ms);
      if (call.cancelled) return;
      serverEnded(call, s);
      const st = endStatus(call, req);
      if (st.code !== grpc.status.OK) { callback(st); return; }
      s.replies_sent++;
      callback(null, reply(call, req, 0), st.metadata);
    })();
  },

  ServerStream(call) {
    const req = call.request;
    const s = startCall(call, req);
    const n = req.replies || 1;
    (async () => {
      for (let i = 0; i < n && !call.cancelled; i++) {
        if ((req.status_code || req.reset !== 'RESET_NONE') && req.fail_after === i) break;
        if (req.delay_ms) await sleep(req.delay_ms);
        if (call.cancelled) break;
        await writeWhenDrained(call, reply(call, req, i));
        s.replies_sent++;
      }
      if (call.cancelled) return;
      if (req.reset !== 'RESET_NONE') { breakCall(call, req.reset); serverEnded(call, s); return; }
      serverEnded(call, s);
      const st = endStatus(call, req);
      if (st.code !== grpc.status.OK) call.emit('error', st);
      else call.end(st.metadata);
    })();
  },

  ClientStream(call, callback) {
    let s = null, first = null, count = 0, bytes = 0, crc = 0;
    readAll(call, (req) => {
      if (!first) { first = req; s = startCall(call, req); }
      count++; bytes += req.payload.length; crc = crc32(req.payload, crc);
      s.requests_received++;
    }).then(async (halfClosed) => {
      if (!halfClosed) { if (s) cancelled(call, s); return; }
      if (!first) { first = { tag: '', payload: Buffer.alloc(0) }; s = startCall(call, first); }
      if (first.delay_ms) await sleep(first.delay_ms);
      if (call.cancelled) return;
      serverEnded(call, s);
      const st = endStatus(call, first);
      if (st.code !== grpc.status.OK) { callback(st); return; }
      s.replies_sent++;
      callback(null, reply(call, first, 0, { received: count, received_bytes: bytes, received_crc32: crc }), st.metadata);
    });
  },

  Bidi(call) {
    let s = null, first = null, count = 0, bytes = 0, crc = 0, ended = false, sent = 0;
    readAll(call, async (req) => {
      if (ended || call.cancelled) return;
      if (!first) { first = req; s = startCall(call, req); }
      count++; bytes += req.payload.length; crc = crc32(req.payload, crc);
      s.requests_received++;
      const n = req.replies || 1;
      for (let i = 0; i < n && !call.cancelled; i++) {
        if (req.status_code && req.fail_after === i) break;
        if (req.delay_ms) await sleep(req.delay_ms);
        if (call.cancelled) return;
        await writeWhenDrained(call, reply(call, req, sent++, { received: count, received_bytes: bytes, received_crc32: crc }));
        s.replies_sent++;
      }
      if (req.status_code && !call.cancelled) {
        ended = true;
        serverEnded(call, s);
        call.emit('error', endStatus(call, req));
      }
    }).then((halfClosed) => {
      if (ended) return;
      if (!halfClosed) { if (s) cancelled(call, s); return; }
      if (!first) { first = { tag: '' }; s = startCall(call, first); }
      serverEnded(call, s);
      call.end(endStatus(call, { tag: first.tag }).metadata);
    });
  },

  Observe(call, callback) {
    callback(null, { ...observed(call.request.tag) });
  },
};
server.addService(echoService, handlers);
server.addService(timedService, { Unary: handlers.Unary });

// grpc.health.v1.Health/Check SERVING: the gateway health-checks every target
const health = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [path.join(__dirname, '..', '..', 'proto')] });
server.addService(health['grpc.health.v1.Health'], {
  Check(call, callback) { callback(null, { status: 'SERVING' }); },
  Watch(call) { call.write({ status: 'SERVING' }); },
});

server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) { console.error(`echo-server: ${err.message}`); process.exit(1); }
  const host = listen.slice(0, listen.lastIndexOf(':'));
  console.log(`echo-server listening on ${host}:${port}`);
});

const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
