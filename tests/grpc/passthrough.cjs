'use strict';
// passthrough.cjs TARGET [--gzip-target T] [--down-target T] [--max-message N] [--timed-ms N] [--only a,b] [--slow-mib N] [--stall-ms N] [--label L]
//
// The gRPC pass-through as @grpc/grpc-js (and, for what grpc-js hides, Node's
// own http2 client) sees it: EchoService (tests/grpc/echo-server.cjs) at
// TARGET, directly or through the gateway. All four call types, deadlines
// (grpc-timeout passed on), cancels both ways, metadata and trailers both
// ways, google.rpc.Status details, gzip both ways (replies from
// GzipEchoService at --gzip-target, tests/grpc/gzip_echo.py), large messages,
// a slow reader both ways, a backend that breaks a stream or drops its
// connection, unknown methods, a backend that is down
// (aurigraph.test.DownService at --down-target must have no live backend),
// and through a gateway: with --max-message N (its grpc.max_message) a
// request message over it refused RESOURCE_EXHAUSTED before the backend,
// with --timed-ms N (timeout_ms of TimedEchoService's cluster) a call with
// no deadline of its own cut at N ms, the deadline passed on.
// One line per check, then "LABEL: N passed, M failed"; exit 1 on a failure.
// Every call has a deadline and every check a bound.
const http2 = require('http2');
const zlib = require('zlib');
const crypto = require('crypto');
const {
  grpc, loaded, types, DETAIL_TYPE_URL, echoService, gzipService, patternPayload, compressiblePayload, crc32, frame, sleep,
} = require('./echo-common.cjs');

const argv = process.argv.slice(2);
const opt = { gzip: null, down: null, only: null, slowMib: 32, label: 'passthrough', maxMessage: 0 };
let target = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--gzip-target') opt.gzip = argv[++i];
  else if (a === '--down-target') opt.down = argv[++i];
  else if (a === '--only') opt.only = new Set(argv[++i].split(','));
  else if (a === '--slow-mib') opt.slowMib = Number(argv[++i]);
  else if (a === '--stall-ms') opt.stallMs = Number(argv[++i]);
  else if (a === '--label') opt.label = argv[++i];
  else if (a === '--max-message') opt.maxMessage = Number(argv[++i]);
  else if (a === '--timed-ms') opt.timedMs = Number(argv[++i]);
  else if (!target && !a.startsWith('--')) target = a;
  else { console.error(`passthrough: unknown argument ${a}`); process.exit(2); }
}
if (!target) { console.error('usage: passthrough.cjs TARGET [--gzip-target T] [--down-target T] [--max-message N] [--timed-ms N] [--only a,b] [--slow-mib N] [--stall-ms N] [--label L]'); process.exit(2); }

const LIMIT = 256 << 20;
const channelOptions = { 'grpc.max_receive_message_length': LIMIT, 'grpc.max_send_message_length': LIMIT };
const insecure = grpc.credentials.createInsecure();
const echo = new loaded.EchoService(target, insecure, channelOptions);
const echoGzip = new loaded.EchoService(target, insecure, { ...channelOptions, 'grpc.default_compression_algorithm': 2 });

const CALL_MS = 20000; // the deadline of calls that are not about deadlines
const deadline = (ms) => new Date(Date.now() + (ms || CALL_MS));
const tagOf = (name) => `${name}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host'];

class CheckError extends Error {}
function expect(cond, what) { if (!cond) throw new CheckError(what); }
const codeName = (c) => Object.keys(grpc.status).find((k) => grpc.status[k] === c) || String(c);
function expectCode(got, want, what) {
  expect(got === want, `${what}: status ${codeName(got)}, want ${codeName(want)}`);
}

// --- calls: each resolves once its status is in, with what came before it ---

function unary(client, req, { md, deadlineMs, method = 'Unary' } = {}) {
  return new Promise((resolve) => {
    const r = { reply: null, headers: null, status: null, error: null };
    const call = client[method](req, md || new grpc.Metadata(), { deadline: deadline(deadlineMs) }, (err, reply) => {
      r.error = err; r.reply = reply;
    });
    call.on('metadata', (h) => { r.headers = h; });
    call.on('status', (s) => { r.status = s; resolve(r); });
  });
}

// a server stream: onData(reply, call) may cancel or pause it
function serverStream(client, req, { md, deadlineMs, onData, method = 'ServerStream' } = {}) {
  return new Promise((resolve) => {
    const r = { replies: [], headers: null, status: null, error: null, call: null };
    const call = client[method](req, md || new grpc.Metadata(), { deadline: deadline(deadlineMs) });
    r.call = call;
    call.on('metadata', (h) => { r.headers = h; });
    call.on('data', (m) => { r.replies.push(m); if (onData) onData(m, call, r); });
    call.on('error', (e) => { r.error = e; });
    // an OK status can come while a paused reader still has replies to
    // read: done at the end of the replies then, not at the status
    let ended = false;
    call.on('end', () => { ended = true; if (r.status) resolve(r); });
    call.on('status', (s) => {
      r.status = s;
      if (ended || s.code !== grpc.status.OK) setImmediate(() => resolve(r));
    });
  });
}

// a client stream: write(call) sends the requests (it may be async and respect drain)
function clientStream(client, write, { md, deadlineMs } = {}) {
  return new Promise((resolve) => {
    const r = { reply: null, headers: null, status: null, error: null };
    const call = client.ClientStream(md || new grpc.Metadata(), { deadline: deadline(deadlineMs) }, (err, reply) => {
      r.error = err; r.reply = reply;
    });
    call.on('metadata', (h) => { r.headers = h; });
    call.on('status', (s) => { r.status = s; resolve(r); });
    Promise.resolve(write(call)).catch(() => {});
  });
}

function writeDrained(call, msg) {
  if (call.write(msg)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (v) => () => { call.off('drain', onDrain); call.off('status', onEnd); resolve(v); };
    const onDrain = done(true), onEnd = done(false);
    call.on('drain', onDrain); call.on('status', onEnd);
  });
}

async function observe(tag, until, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await unary(echo, { tag }, { method: 'Observe', deadlineMs: 5000 });
    if (r.status.code !== grpc.status.OK) throw new CheckError(`Observe: ${codeName(r.status.code)} ${r.status.details}`);
    if (!until || until(r.reply) || Date.now() >= end) return r.reply;
    await sleep(50);
  }
}

// raw HTTP/2 (Node's client): what grpc-js does not show (grpc-encoding, the compressed flag)
function rawCall(addr, path, body, headers) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${addr}`);
    const timer = setTimeout(() => { session.destroy(); reject(new CheckError('raw call: no answer in 20 s')); }, 20000);
    session.on('error', (e) => { clearTimeout(timer); reject(e); });
    const req = session.request({
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers,
    });
    const r = { headers: null, trailers: {}, chunks: [] };
    req.on('response', (h) => { r.headers = h; });
    req.on('trailers', (t) => { r.trailers = t; });
    req.on('data', (c) => r.chunks.push(c));
    req.on('end', () => { clearTimeout(timer); session.close(); r.body = Buffer.concat(r.chunks); resolve(r); });
    req.on('error', (e) => { clearTimeout(timer); session.destroy(); reject(e); });
    req.end(body);
  });
}
function unframe(body) {
  const out = [];
  for (let i = 0; i + 5 <= body.length;) {
    const len = body.readUInt32BE(i + 1);
    out.push({ compressed: body[i] === 1, bytes: body.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

function mdValues(md, key) { return md ? md.get(key).map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v))) : []; }
const splitJoined = (s) => (s || '').split(',').map((v) => v.trim()).filter((v) => v.length);

// --- the checks ---------------------------------------------------------------

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

check('unary', async () => {
  const payload = crypto.randomBytes(1024);
  const r = await unary(echo, { payload });
  expectCode(r.status.code, grpc.status.OK, 'Unary');
  expect(r.reply.payload.equals(payload), 'the payload came back changed');
  return '1 KiB echoed';
});

check('server-stream', async () => {
  const r = await serverStream(echo, { replies: 20, reply_size: 512 });
  expectCode(r.status.code, grpc.status.OK, 'ServerStream');
  expect(r.replies.length === 20, `${r.replies.length} replies, want 20`);
  r.replies.forEach((m, i) => {
    expect(m.index === i, `reply ${i} has index ${m.index}`);
    expect(m.payload.length === 512 && crc32(m.payload) === m.crc32, `reply ${i}: payload changed`);
  });
  return '20 replies in order, intact';
});

check('client-stream', async () => {
  const sent = [];
  const r = await clientStream(echo, async (call) => {
    for (let i = 0; i < 50; i++) {
      const payload = crypto.randomBytes(100 + i * 37);
      sent.push(payload);
      await writeDrained(call, { payload });
    }
    call.end();
  });
  expectCode(r.status.code, grpc.status.OK, 'ClientStream');
  const all = Buffer.concat(sent);
  expect(r.reply.received === 50, `the server got ${r.reply.received} requests, want 50`);
  expect(r.reply.received_bytes === all.length && r.reply.received_crc32 === crc32(all), 'the server got other bytes');
  return `50 requests, ${all.length} bytes, crc32 matches`;
});

check('bidi', async () => {
  // ping-pong: each request is sent only after the reply to the one before,
  // so a relay that waited for the client's half-close would stall here
  const call = echo.Bidi(new grpc.Metadata(), { deadline: deadline() });
  const replies = [];
  let status = null;
  let wake = null;
  call.on('data', (m) => { replies.push(m); if (wake) wake(); });
  call.on('error', () => {});
  const ended = new Promise((resolve) => call.on('status', (s) => { status = s; if (wake) wake(); resolve(); }));
  const sent = [];
  for (let i = 0; i < 10; i++) {
    const payload = crypto.randomBytes(64 + i);
    sent.push(payload);
    call.write({ payload });
    while (replies.length <= i && !status) await new Promise((r) => { wake = r; });
    expect(!status, `the call ended (${status && codeName(status.code)}) after ${replies.length} replies`);
    expect(replies[i].payload.equals(payload) && replies[i].received === i + 1, `reply ${i} does not answer request ${i}`);
  }
  call.end();
  await ended;
  expectCode(status.code, grpc.status.OK, 'Bidi');
  return '10 requests, each answered before the next was sent';
});

check('bidi-full-duplex', async () => {
  // 16 MiB each way at once: the client writes while replies come back,
  // so neither direction's flow control may wait on the other's
  const call = echo.Bidi(new grpc.Metadata(), { deadline: deadline() });
  const n = 128, size = 128 << 10;
  let got = 0, bad = 0;
  call.on('data', (m) => { if (m.index !== got++ || m.payload.length !== size || crc32(m.payload) !== m.crc32) bad++; });
  call.on('error', () => {});
  const st = new Promise((resolve) => call.on('status', resolve));
  const ended = new Promise((resolve) => call.on('end', resolve));
  for (let i = 0; i < n; i++) await writeDrained(call, { payload: patternPayload(size, i), reply_size: size });
  call.end();
  const s = await st;
  await Promise.race([ended, sleep(5000)]);
  expectCode(s.code, grpc.status.OK, 'a full-duplex bidi');
  expect(got === n && bad === 0, `${got} of ${n} replies, ${bad} bad`);
  return `${n} x 128 KiB each way at once, in order, intact`;
});

check('concurrent-unary', async () => {
  const n = 200;
  const reqs = Array.from({ length: n }, (_, i) => ({ payload: patternPayload(256, i) }));
  const rs = await Promise.all(reqs.map((q) => unary(echo, q)));
  const bad = rs.filter((r, i) => r.status.code !== grpc.status.OK || !r.reply.payload.equals(reqs[i].payload));
  expect(bad.length === 0, `${bad.length} of ${n} calls failed or got another call's answer`);
  return `${n} calls at once on one channel, each got its own answer`;
});

check('deadline-exceeded', async () => {
  const tag = tagOf('deadline');
  const t0 = Date.now();
  const r = await unary(echo, { tag, delay_ms: 10000 }, { deadlineMs: 300 });
  const took = Date.now() - t0;
  expectCode(r.status.code, grpc.status.DEADLINE_EXCEEDED, 'a 300 ms deadline on a 10 s reply');
  expect(took < 300 + 3000, `DEADLINE_EXCEEDED after ${took} ms`);
  const o = await observe(tag, (x) => x.started > 0);
  expect(o.started === 1, 'the call never reached the server');
  // (grpc-timeout may be rounded up to a coarser unit on the wire)
  expect(o.deadline_left_ms > 0 && o.deadline_left_ms <= 330, `the server saw a deadline of ${o.deadline_left_ms} ms, want (0, 330]`);
  return `after ${took} ms; the server saw grpc-timeout (${o.deadline_left_ms} ms left)`;
});

check('deadline-passed-on', async () => {
  const r = await unary(echo, { payload: Buffer.from('x') }, { deadlineMs: 10000 });
  expectCode(r.status.code, grpc.status.OK, 'Unary');
  const left = r.reply.deadline_left_ms;
  expect(left > 0 && left <= 11000, `the server saw ${left} ms left of a 10 s deadline`);
  return `the server saw ${left} ms of a 10 s deadline`;
});

check('deadline-mid-stream', async () => {
  const r = await serverStream(echo, { replies: 50, delay_ms: 100 }, { deadlineMs: 550 });
  expectCode(r.status.code, grpc.status.DEADLINE_EXCEEDED, 'a 550 ms deadline on a 5 s stream');
  expect(r.replies.length >= 1 && r.replies.length < 50, `${r.replies.length} replies before the deadline`);
  return `${r.replies.length} replies, then DEADLINE_EXCEEDED`;
});

check('client-cancel-server-stream', async () => {
  const tag = tagOf('cancel');
  const r = await serverStream(echo, { tag, replies: 100000, delay_ms: 5 }, {
    onData: (m, call, rr) => { if (rr.replies.length === 3) call.cancel(); },
  });
  expectCode(r.status.code, grpc.status.CANCELLED, 'the client side of a cancelled call');
  const o = await observe(tag, (x) => x.cancelled > 0);
  expect(o.cancelled === 1, 'the server never saw the cancel');
  expect(o.finished === 0, 'the server ended the call itself: the cancel did not stop it');
  const later = await observe(tag, null);
  await sleep(200);
  const after = await observe(tag, null);
  expect(after.replies_sent === later.replies_sent, 'the server kept sending after the cancel');
  return `the server saw the cancel after ${o.replies_sent} replies, and stopped`;
});

check('client-cancel-client-stream', async () => {
  const tag = tagOf('cancel-up');
  const r = await clientStream(echo, async (call) => {
    for (let i = 0; i < 5; i++) call.write({ tag, payload: Buffer.alloc(100) });
    await observe(tag, (x) => x.requests_received >= 5);
    call.cancel();
  });
  expectCode(r.status.code, grpc.status.CANCELLED, 'the client side of a cancelled upload');
  const o = await observe(tag, (x) => x.cancelled > 0);
  expect(o.cancelled === 1, 'the server never saw the cancel of the upload');
  expect(o.finished === 0, 'the server ended the call itself: the cancel did not stop it');
  return 'the server saw it';
});

check('client-cancel-bidi', async () => {
  const tag = tagOf('cancel-bidi');
  const call = echo.Bidi(new grpc.Metadata(), { deadline: deadline() });
  call.on('error', () => {});
  const got = new Promise((resolve) => call.once('data', resolve));
  const st = new Promise((resolve) => call.on('status', resolve));
  call.write({ tag, payload: Buffer.from('ping') });
  await got;
  call.cancel();
  expectCode((await st).code, grpc.status.CANCELLED, 'the client side of a cancelled bidi');
  const o = await observe(tag, (x) => x.cancelled > 0);
  expect(o.cancelled === 1, 'the server never saw the bidi cancelled');
  expect(o.finished === 0, 'the server ended the call itself: the cancel did not stop it');
  return 'the server saw it';
});

check('server-abort-stream', async () => {
  const r = await serverStream(echo, { replies: 10, fail_after: 3, status_code: grpc.status.ABORTED, status_message: 'stopped by the server' });
  expectCode(r.status.code, grpc.status.ABORTED, 'a server stream the server ends with ABORTED');
  expect(r.replies.length === 3, `${r.replies.length} replies before the status, want 3`);
  expect(r.status.details === 'stopped by the server', `grpc-message "${r.status.details}"`);
  return '3 replies, then ABORTED with its message';
});

check('server-abort-bidi', async () => {
  const call = echo.Bidi(new grpc.Metadata(), { deadline: deadline() });
  const replies = [];
  call.on('data', (m) => replies.push(m));
  call.on('error', () => {});
  const st = new Promise((resolve) => call.on('status', resolve));
  call.write({ payload: Buffer.from('one') });
  call.write({ status_code: grpc.status.RESOURCE_EXHAUSTED, status_message: 'bidi refused' });
  const s = await st; // the client never half-closes: the server ends it
  expectCode(s.code, grpc.status.RESOURCE_EXHAUSTED, 'a bidi the server ends');
  expect(replies.length === 1 && s.details === 'bidi refused', `${replies.length} replies, message "${s.details}"`);
  call.end();
  return 'the client saw the status while still sending';
});

// the backend breaks a stream after 3 replies: the client must hear of it
// (a status that is not OK), not wait for its deadline
async function brokenStream(reset) {
  const t0 = Date.now();
  const r = await serverStream(echo, { replies: 10, fail_after: 3, reset }, { deadlineMs: 20000 });
  const took = Date.now() - t0;
  expect(r.status.code !== grpc.status.OK && r.status.code !== grpc.status.DEADLINE_EXCEEDED,
    `the client saw ${codeName(r.status.code)} after ${took} ms`);
  expect(r.replies.length === 3, `${r.replies.length} replies before the break, want 3`);
  const after = await unary(echo, { payload: Buffer.from('after') });
  expectCode(after.status.code, grpc.status.OK, 'the next call');
  return `3 replies, then ${codeName(r.status.code)} ("${r.status.details}") after ${took} ms; the next call OK`;
}
check('upstream-reset-stream', () => brokenStream('RESET_STREAM'));
check('upstream-connection-lost', () => brokenStream('RESET_CONNECTION'));

function expectDetails(status, code, message, tag) {
  expectCode(status.code, code, 'the status asked for');
  expect(status.details === message, `grpc-message "${status.details}", want "${message}"`);
  const bins = status.metadata.get('grpc-status-details-bin');
  expect(bins.length === 1, `${bins.length} grpc-status-details-bin trailers`);
  const st = types.Status.decode(bins[0]);
  expect(st.code === code && st.message === message, `google.rpc.Status ${st.code} "${st.message}"`);
  expect(st.details.length === 1 && st.details[0].type_url === DETAIL_TYPE_URL, 'google.rpc.Status has not the EchoDetail');
  const d = types.EchoDetail.decode(st.details[0].value);
  expect(d.text === 'the detail' && d.code === code && d.tag === tag, `EchoDetail ${JSON.stringify(d)}`);
}

check('status-details', async () => {
  const message = 'précondition échouée: ✓ 100% \u{1F512}'; // percent-encoded in grpc-message
  const tag = tagOf('details');
  const r = await unary(echo, { tag, status_code: grpc.status.FAILED_PRECONDITION, status_message: message, status_detail: 'the detail' });
  expectDetails(r.status, grpc.status.FAILED_PRECONDITION, message, tag);
  const s = await serverStream(echo, {
    tag, replies: 5, fail_after: 2, status_code: grpc.status.PERMISSION_DENIED, status_message: 'after two', status_detail: 'the detail',
  });
  expect(s.replies.length === 2, `${s.replies.length} replies before the status`);
  expectDetails(s.status, grpc.status.PERMISSION_DENIED, 'after two', tag);
  return 'google.rpc.Status with its EchoDetail decoded, unary and after 2 stream replies; non-ASCII message intact';
});

check('metadata', async () => {
  const md = new grpc.Metadata();
  const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const long = 'v'.repeat(4000);
  md.add('x-echo-one', '1');
  md.add('x-echo-multi', 'a');
  md.add('x-echo-multi', 'b');
  md.set('x-echo-raw-bin', bin);
  md.set('x-echo-long', long);
  md.set('x-plain', 'seen, not echoed');
  const r = await unary(echo, { payload: Buffer.from('m') }, { md });
  expectCode(r.status.code, grpc.status.OK, 'Unary');
  const seen = r.reply.metadata;
  expect(seen['x-echo-one'] === '1', 'the server did not get x-echo-one');
  expect(splitJoined(seen['x-echo-multi']).join() === 'a,b', `the server got x-echo-multi "${seen['x-echo-multi']}"`);
  expect(seen['x-echo-raw-bin'] === bin.toString('base64'), 'the server got other bytes in x-echo-raw-bin');
  expect(seen['x-echo-long'] === long, 'the server got x-echo-long changed');
  expect(seen['x-plain'] === 'seen, not echoed', 'the server did not get x-plain');
  const hop = HOP_BY_HOP.filter((k) => k in seen);
  expect(hop.length === 0, `hop-by-hop headers reached the server: ${hop}`);
  for (const [where, m] of [['headers', r.headers], ['trailers', r.status.metadata]]) {
    expect(m, `no response ${where}`);
    expect(mdValues(m, 'x-echo-one').join() === '1', `x-echo-one not in the response ${where}`);
    expect(mdValues(m, 'x-echo-multi').flatMap(splitJoined).join() === 'a,b', `x-echo-multi in the response ${where}: ${mdValues(m, 'x-echo-multi')}`);
    expect(mdValues(m, 'x-echo-raw-bin').join() === bin.toString('base64'), `x-echo-raw-bin changed in the response ${where}`);
    expect(mdValues(m, 'x-echo-long').join() === long, `x-echo-long changed in the response ${where}`);
    expect(mdValues(m, 'x-plain').length === 0, `x-plain echoed in the response ${where}`);
    const h = HOP_BY_HOP.filter((k) => m.get(k).length > 0);
    expect(h.length === 0, `hop-by-hop in the response ${where}: ${h}`);
  }
  expect(mdValues(r.headers, 'x-echo-initial').join() === 'headers' && mdValues(r.status.metadata, 'x-echo-initial').length === 0,
    'x-echo-initial is not in the headers alone');
  expect(mdValues(r.status.metadata, 'x-echo-trailer').join() === 'trailers' && mdValues(r.headers, 'x-echo-trailer').length === 0,
    'x-echo-trailer is not in the trailers alone');
  const extra = Object.keys(seen).filter((k) => !k.startsWith('x-echo-') && k !== 'x-plain' && k !== 'user-agent').sort();
  return `request -> server -> headers and trailers (multi-valued, binary, 4000 bytes); no hop-by-hop; other keys the server saw: ${extra.join(' ') || 'none'}`;
});

check('gzip-request', async () => {
  const payload = compressiblePayload(256 << 10);
  const r = await unary(echoGzip, { payload });
  expectCode(r.status.code, grpc.status.OK, 'a gzip request');
  expect(r.reply.payload.equals(payload), 'the payload came back changed');
  const sent = [];
  const c = await clientStream(echoGzip, async (call) => {
    for (let i = 0; i < 20; i++) { const p = compressiblePayload(10000 + i); sent.push(p); await writeDrained(call, { payload: p }); }
    call.end();
  });
  expectCode(c.status.code, grpc.status.OK, 'a gzip client stream');
  const all = Buffer.concat(sent);
  expect(c.reply.received === 20 && c.reply.received_crc32 === crc32(all), 'the server got other bytes');
  // raw: a frame with the compressed flag and grpc-encoding: gzip, as sent
  const req = types.EchoRequest.encode({ payload }).finish();
  const raw = await rawCall(target, '/aurigraph.test.EchoService/Unary', frame(zlib.gzipSync(req), true), { 'grpc-encoding': 'gzip' });
  expect(String(raw.trailers['grpc-status'] ?? raw.headers['grpc-status']) === '0', `raw gzip request: grpc-status ${raw.trailers['grpc-status'] ?? raw.headers['grpc-status']} ${raw.trailers['grpc-message'] || ''}`);
  const frames = unframe(raw.body);
  expect(frames.length === 1, `raw gzip request: ${frames.length} reply frames`);
  const bytes = frames[0].compressed ? zlib.gunzipSync(frames[0].bytes) : frames[0].bytes;
  expect(types.EchoReply.decode(bytes).payload.equals(payload), 'raw gzip request: the payload came back changed');
  return `grpc-js unary 256 KiB and a 20-message client stream, and a raw compressed frame (${frame(zlib.gzipSync(req), true).length} bytes on the wire for ${req.length}), intact`;
});

check('gzip-reply', async () => {
  if (!opt.gzip) throw new CheckError('no --gzip-target (GzipEchoService) given');
  const gz = new loaded.GzipEchoService(opt.gzip, insecure, { ...channelOptions, 'grpc.default_compression_algorithm': 2 });
  try {
    const payload = compressiblePayload(300000);
    const r = await unary(gz, { payload });
    expectCode(r.status.code, grpc.status.OK, 'GzipEchoService.Unary');
    expect(r.reply.payload.equals(payload), 'the payload came back changed');
    const s = await serverStream(gz, { payload });
    expectCode(s.status.code, grpc.status.OK, 'GzipEchoService.ServerStream');
    expect(s.replies.length === 4 && s.replies.every((m) => m.payload.equals(payload)), 'the stream came back changed');
    const req = types.EchoRequest.encode({ payload }).finish();
    const raw = await rawCall(opt.gzip, '/aurigraph.test.GzipEchoService/Unary', frame(req, false), { 'grpc-accept-encoding': 'gzip' });
    expect(raw.headers['grpc-encoding'] === 'gzip', `the reply's grpc-encoding is ${raw.headers['grpc-encoding']}`);
    const frames = unframe(raw.body);
    expect(frames.length === 1 && frames[0].compressed, 'the reply frame is not flagged compressed');
    expect(frames[0].bytes.length < req.length / 4, `the reply frame is ${frames[0].bytes.length} bytes for ${req.length}`);
    expect(types.EchoReply.decode(zlib.gunzipSync(frames[0].bytes)).payload.equals(payload), 'the gunzipped reply differs');
    return `unary and a 4-reply stream of 300 KB; raw: grpc-encoding gzip, flagged frame of ${frames[0].bytes.length} bytes, gunzips to the payload`;
  } finally { gz.close(); }
});

check('large-unary', async () => {
  const payload = crypto.randomBytes(3 << 20);
  const r = await unary(echo, { payload });
  expectCode(r.status.code, grpc.status.OK, '3 MiB unary');
  expect(r.reply.payload.equals(payload), 'the 3 MiB came back changed');
  const r2 = await unary(echo, { reply_size: 3 << 20 });
  expectCode(r2.status.code, grpc.status.OK, '3 MiB reply');
  expect(r2.reply.payload.length === 3 << 20 && crc32(r2.reply.payload) === r2.reply.crc32, 'the 3 MiB reply changed');
  const r3 = await unary(echo, { reply_size: 16 << 20 });
  expectCode(r3.status.code, grpc.status.OK, 'a 16 MiB reply');
  expect(r3.reply.payload.length === 16 << 20 && crc32(r3.reply.payload) === r3.reply.crc32, 'the 16 MiB reply changed');
  return '3 MiB up and back, 3 MiB down, one 16 MiB reply down';
});

check('large-stream', async () => {
  const n = 100;
  let bytes = 0, bad = 0, next = 0;
  const r = await serverStream(echo, { replies: n, reply_size: 1 << 20 }, {
    onData: (m, call, rr) => {
      if (m.index !== next++ || m.payload.length !== 1 << 20 || crc32(m.payload) !== m.crc32) bad++;
      bytes += m.payload.length;
      rr.replies.length = 0; // keep memory flat
    },
  });
  expectCode(r.status.code, grpc.status.OK, '100 MiB server stream');
  expect(next === n && bad === 0 && bytes === n << 20, `${next} replies, ${bad} bad, ${bytes} bytes`);
  return `${n} x 1 MiB in order, intact`;
});

check('slow-reader', async () => {
  const n = opt.slowMib * 16; // 64 KiB each
  let next = 0, bad = 0;
  const t0 = Date.now();
  const r = await serverStream(echo, { replies: n, reply_size: 64 << 10 }, {
    deadlineMs: 120000,
    onData: (m, call, rr) => {
      if (m.index !== next++ || crc32(m.payload) !== m.crc32) bad++;
      rr.replies.length = 0;
      if (next % 16 === 0) { call.pause(); setTimeout(() => call.resume(), next === 16 ? opt.stallMs || 40 : 40); }
    },
  });
  expectCode(r.status.code, grpc.status.OK, 'a slowly read stream');
  expect(next === n && bad === 0, `${next} of ${n} replies, ${bad} bad`);
  // and the other way: the server reads slowly what the client sends fast
  const sent = [];
  const c = await clientStream(echo, async (call) => {
    for (let i = 0; i < 256; i++) {
      const p = patternPayload(64 << 10, i);
      sent.push(crc32(p));
      await writeDrained(call, { payload: p, read_delay_ms: 4 });
    }
    call.end();
  }, { deadlineMs: 120000 });
  expectCode(c.status.code, grpc.status.OK, 'a slowly read upload');
  expect(c.reply.received === 256 && c.reply.received_bytes === 256 * (64 << 10), `the server got ${c.reply.received} of 256`);
  const stall = opt.stallMs ? `, after a ${opt.stallMs} ms stall at 1 MiB` : '';
  return `${opt.slowMib} MiB read at ~1 MiB per 40 ms${stall} (${Date.now() - t0} ms), and 16 MiB read by the server 64 KiB per 4 ms: nothing lost`;
});

function genericUnary(addr, path, ms) {
  const client = new grpc.Client(addr, insecure, channelOptions);
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, echoService.Unary.requestSerialize, echoService.Unary.responseDeserialize,
      { payload: Buffer.from('?') }, new grpc.Metadata(), { deadline: deadline(ms) }, () => {}).on('status', (s) => {
      client.close();
      resolve(s);
    });
  });
}

if (opt.timedMs) {
  check('gateway-deadline', async () => {
    // no deadline from the client: TimedEchoService's cluster has timeout_ms
    // (--timed-ms), a deadline only the gateway can set and pass on
    const timed = new loaded.TimedEchoService(target, insecure, channelOptions);
    const tag = tagOf('timed');
    const t0 = Date.now();
    const r = await new Promise((resolve) => {
      timed.Unary({ tag, delay_ms: 10000 }, (err) => resolve(err ? err.code : grpc.status.OK));
    });
    const took = Date.now() - t0;
    timed.close();
    expectCode(r, grpc.status.DEADLINE_EXCEEDED, `a call with no deadline to a cluster with timeout_ms ${opt.timedMs}`);
    expect(took < opt.timedMs + 3000, `DEADLINE_EXCEEDED after ${took} ms`);
    const o = await observe(tag, (x) => x.started > 0);
    expect(o.deadline_left_ms > 0 && o.deadline_left_ms <= opt.timedMs * 1.1,
      `the server saw a deadline of ${o.deadline_left_ms} ms, want (0, ${opt.timedMs}]`);
    return `DEADLINE_EXCEEDED after ${took} ms; the gateway passed its deadline on (${o.deadline_left_ms} ms left)`;
  });
}

if (opt.maxMessage) {
  check('message-limit', async () => {
    const tag = tagOf('limit');
    const ok = await unary(echo, { tag, payload: Buffer.alloc(opt.maxMessage - 64) });
    expectCode(ok.status.code, grpc.status.OK, `a request just under the limit (${opt.maxMessage} bytes)`);
    const over = await unary(echo, { tag: `${tag}-over`, payload: Buffer.alloc(opt.maxMessage + 1) });
    expectCode(over.status.code, grpc.status.RESOURCE_EXHAUSTED, 'a request message over the limit');
    const o = await observe(`${tag}-over`, null);
    expect(o.started === 0, 'the message over the limit reached the server');
    return `${opt.maxMessage + 1} bytes: RESOURCE_EXHAUSTED ("${over.status.details}"), kept from the server`;
  });
}

check('unknown-method', async () => {
  const m = await genericUnary(target, '/aurigraph.test.EchoService/NoSuchMethod');
  expectCode(m.code, grpc.status.UNIMPLEMENTED, 'an unknown method of a known service');
  const s = await genericUnary(target, '/aurigraph.test.NoSuchService/Unary');
  expectCode(s.code, grpc.status.UNIMPLEMENTED, 'an unknown service');
  return 'UNIMPLEMENTED for an unknown method and an unknown service';
});

check('backend-down', async () => {
  if (!opt.down) throw new CheckError('no --down-target given');
  const t0 = Date.now();
  const s = await genericUnary(opt.down, '/aurigraph.test.DownService/Unary', 10000);
  expectCode(s.code, grpc.status.UNAVAILABLE, 'a call to a service whose backend is down');
  return `UNAVAILABLE after ${Date.now() - t0} ms ("${s.details}")`;
});

(async () => {
  let passed = 0, failed = 0;
  const t0 = Date.now();
  for (const c of checks) {
    if (opt.only && !opt.only.has(c.name)) continue;
    const t = Date.now();
    let timer;
    try {
      const detail = await Promise.race([c.fn(), new Promise((_, rej) => { timer = setTimeout(() => rej(new CheckError('no result in 150 s')), 150000); })]);
      passed++;
      console.log(`ok   ${c.name}: ${detail} [${Date.now() - t} ms]`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${c.name}: ${e instanceof CheckError ? e.message : (e && e.stack) || e} [${Date.now() - t} ms]`);
    } finally { clearTimeout(timer); }
  }
  echo.close(); echoGzip.close();
  console.log(`${opt.label}: ${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  process.exit(failed ? 1 : 0);
})();
