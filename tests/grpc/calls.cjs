'use strict';
// calls.cjs: gRPC calls from @grpc/grpc-js for the shell tests' release
// cases (each bounded; exit 1 when a call failed).
//
//   calls.cjs inflight TARGET [N]
//     N EchoService server streams (8 replies, 200 ms apart) and N unary
//     calls answered after 1.5 s; prints "in flight" once every one has
//     reached the server (so a drain started then has them all in flight),
//     then "inflight: K calls, K OK" when they are done.
//   calls.cjs load TARGET SECONDS CONCURRENCY
//     TransactionService/GetTransactionStats (empty request, reply not
//     decoded) on CONCURRENCY streams, 5 ms between calls, for SECONDS; prints
//     "load: calling" once the first is answered, then "load: N calls, codes
//     OK=N ..., versions TAG=n ..." (x-version-tag of the answers: which
//     version served them).
const crypto = require('crypto');
const { grpc, loaded, sleep } = require('./echo-common.cjs');

const [mode, target, ...rest] = process.argv.slice(2);
const insecure = grpc.credentials.createInsecure();
const codeName = (c) => Object.keys(grpc.status).find((k) => grpc.status[k] === c) || String(c);
const bound = setTimeout(() => { console.log(`${mode}: not done within 120 s`); process.exit(1); }, 120000);

async function inflight(n) {
  const echo = new loaded.EchoService(target, insecure);
  const tag = `inflight-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const deadline = () => new Date(Date.now() + 60000);
  let firstReplies = 0;
  const results = [];
  for (let i = 0; i < n; i++) {
    results.push(new Promise((resolve) => {
      const call = echo.ServerStream({ tag, replies: 8, delay_ms: 200 }, { deadline: deadline() });
      let got = 0;
      call.on('data', () => { if (++got === 1) firstReplies++; });
      call.on('error', () => {});
      call.on('status', (s) => resolve({ what: 'stream', code: s.code, details: s.details, ok: s.code === 0 && got === 8, got }));
    }));
    results.push(new Promise((resolve) => {
      echo.Unary({ tag, delay_ms: 1500, payload: Buffer.from('inflight') }, { deadline: deadline() }, (err) => {
        resolve({ what: 'unary', code: err ? err.code : 0, details: err ? err.details : '', ok: !err });
      });
    }));
  }
  // every call at the server (streams: a reply back; unary: Observe counts them)
  const end = Date.now() + 20000;
  for (;;) {
    const started = await new Promise((resolve) => echo.Observe({ tag }, { deadline: deadline() }, (e, r) => resolve(e ? -1 : r.started)));
    if (started >= 2 * n && firstReplies >= n) break;
    if (Date.now() > end) { console.log(`inflight: only ${started} of ${2 * n} calls reached the server`); process.exit(1); }
    await sleep(20);
  }
  console.log(`in flight: ${2 * n} calls`);
  const rs = await Promise.all(results);
  for (const r of rs.filter((x) => !x.ok)) console.log(`  ${r.what}: ${codeName(r.code)} ${r.details}${r.what === 'stream' ? ` after ${r.got} of 8 replies` : ''}`);
  const ok = rs.filter((x) => x.ok).length;
  console.log(`inflight: ${rs.length} calls, ${ok} OK`);
  return ok === rs.length;
}

async function load(seconds, concurrency) {
  const client = new grpc.Client(target, insecure);
  const path = '/aurigraph.v11.TransactionService/GetTransactionStats';
  const id = (x) => x;
  const codes = {}, versions = {};
  const end = Date.now() + seconds * 1000;
  let calls = 0;
  const one = () => new Promise((resolve) => {
    const call = client.makeUnaryRequest(path, id, id, Buffer.alloc(0), new grpc.Metadata(),
      { deadline: new Date(Date.now() + 10000) }, () => {});
    call.on('metadata', (md) => { const v = md.get('x-version-tag')[0] || '-'; versions[v] = (versions[v] || 0) + 1; });
    call.on('status', (s) => {
      codes[codeName(s.code)] = (codes[codeName(s.code)] || 0) + 1;
      if (++calls === 1) console.log('load: calling');
      resolve();
    });
  });
  // a pause between calls: load beside h2load's, not a flood on 2 cores
  await Promise.all(Array.from({ length: concurrency }, async () => { while (Date.now() < end) { await one(); await sleep(5); } }));
  const fmt = (o) => Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`load: ${calls} calls, codes ${fmt(codes)}, versions ${fmt(versions)}`);
  client.close();
  return calls > 0 && codes.OK === calls;
}

(async () => {
  let ok;
  if (mode === 'inflight' && target) ok = await inflight(Number(rest[0] || 4));
  else if (mode === 'load' && target && rest.length === 2) ok = await load(Number(rest[0]), Number(rest[1]));
  else { console.error('usage: calls.cjs inflight TARGET [N] | calls.cjs load TARGET SECONDS CONCURRENCY'); process.exit(2); }
  clearTimeout(bound);
  process.exit(ok ? 0 : 1);
})();
