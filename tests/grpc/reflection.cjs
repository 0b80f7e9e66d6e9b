// reflection.cjs ADDR: gRPC server reflection through the gateway, with two
// clients we did not write:
//   v1alpha: grpc-reflection-js (its Client: listServices, fileContainingSymbol,
//            fileByFilename; one stream per question)
//   v1:      @grpc/grpc-js + @grpc/proto-loader on grpc-proto's v1
//            reflection.proto (every request kind on one bidi stream)
// One line per check ("ok ..." / "FAIL ..."), then "N passed, N failed";
// exit status 1 on a failure. Env: GRPC_PROTO_INCLUDE (/usr/share/grpc-proto).
'use strict';
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { Client: ReflectionClient } = require('grpc-reflection-js');
const { FileDescriptorProto } = require('protobufjs/ext/descriptor');

const addr = process.argv[2];
const includeDir = process.env.GRPC_PROTO_INCLUDE || '/usr/share/grpc-proto';
let passed = 0, failed = 0;
function check(what, cond, detail) {
  if (cond) { passed++; console.log('ok ' + what); }
  else { failed++; console.log('FAIL ' + what + (detail === undefined ? '' : ': ' + JSON.stringify(detail))); }
}

const V11 = ['aurigraph.v11.AIOptimizationService', 'aurigraph.v11.ConsensusService',
  'aurigraph.v11.CrossChainBridgeService', 'aurigraph.v11.QuantumCryptoService',
  'aurigraph.v11.TransactionService'];
const OWN = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection'];
const TX_FILES = ['aurigraph/v11/transaction.proto', 'aurigraph/api/options.proto', 'google/api/annotations.proto',
  'google/api/http.proto', 'google/protobuf/descriptor.proto', 'google/protobuf/timestamp.proto',
  'google/protobuf/wrappers.proto', 'google/type/decimal.proto'];
const TX_METHODS = ['SubmitTransaction', 'BatchSubmitTransactions', 'ListPendingTransactions',
  'GetTransactionStats', 'ListUserTransactions', 'GetTransaction', 'ConfirmTransaction',
  'FinalizeTransaction', 'StreamTransactionEvents'];

function sameSet(a, b) { return a.length === b.length && [...a].sort().join() === [...b].sort().join(); }

async function v1alpha() {
  const client = new ReflectionClient(addr, grpc.credentials.createInsecure());
  const services = await client.listServices();
  check('v1alpha list_services: the 5 V11 services and the gateway\'s 3', sameSet(services, [...V11, ...OWN]), services);

  // a Root built from the file and every file it imports
  const root = await client.fileContainingSymbol('aurigraph.v11.TransactionService');
  const svc = root.lookupService('aurigraph.v11.TransactionService');
  const methods = Object.keys(svc.methods);
  check('v1alpha file_containing_symbol TransactionService: its 9 methods', sameSet(methods, TX_METHODS), methods);
  const submit = svc.methods.SubmitTransaction;
  submit.resolve();
  check('v1alpha: SubmitTransaction\'s types resolved across files',
    submit.resolvedRequestType.fullName === '.aurigraph.v11.SubmitTransactionRequest' &&
    submit.resolvedRequestType.fields.amount.resolve().resolvedType.fullName === '.google.type.Decimal',
    submit.resolvedRequestType && submit.resolvedRequestType.fullName);
  const events = svc.methods.StreamTransactionEvents;
  check('v1alpha: StreamTransactionEvents is server streaming', events.responseStream === true && !events.requestStream);
  // every type of every file the Root holds resolves: the imports came back
  let unresolved = null;
  try { root.resolveAll(); } catch (e) { unresolved = String(e); }
  check('v1alpha: the file\'s imports came back (the Root resolves every type)', unresolved === null, unresolved);
  const tx = root.lookupType('aurigraph.v11.Transaction');
  check('v1alpha: Transaction.created_at is a google.protobuf.Timestamp (timestamp.proto)',
    tx.fields.created_at.resolvedType && tx.fields.created_at.resolvedType.fullName === '.google.protobuf.Timestamp');
  const health = await client.fileByFilename('grpc/health/v1/health.proto');
  check('v1alpha file_by_filename grpc/health/v1/health.proto: Health.Watch is server streaming',
    health.lookupService('grpc.health.v1.Health').methods.Watch.responseStream === true);
  let err = null;
  try { await client.fileContainingSymbol('aurigraph.v11.NoSuchThing'); } catch (e) { err = e; }
  check('v1alpha: an unknown symbol is refused', err !== null);
  client.grpcClient.close();
}

function v1Client() {
  const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto',
    { includeDirs: [includeDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def);
  return new pkg.grpc.reflection.v1.ServerReflection(addr, grpc.credentials.createInsecure());
}

// All requests on one stream, half-close, collect every answer and the status.
function exchange(client, requests) {
  return new Promise((resolve) => {
    const answers = [];
    const call = client.ServerReflectionInfo();
    call.on('data', (m) => answers.push(m));
    call.on('error', (e) => resolve({ answers, status: e.code, details: e.details }));
    call.on('status', (s) => { if (s.code === 0) resolve({ answers, status: 0 }); });
    for (const r of requests) call.write(r);
    call.end();
  });
}

async function v1() {
  const client = v1Client();
  const host = 'gateway.test';
  const requests = [
    { host, list_services: '*' },
    { host, file_containing_symbol: 'aurigraph.v11.TransactionService' },
    { host, file_by_filename: 'no/such.proto' },
    { host, file_containing_symbol: 'aurigraph.v11.TransactionService.GetTransaction' },
    { host, file_containing_extension: { containing_type: 'google.protobuf.MethodOptions', extension_number: 72295728 } },
    { host, all_extension_numbers_of_type: 'google.protobuf.MethodOptions' },
    { host, file_containing_symbol: 'grpc.reflection.v1alpha.ServerReflection' },
  ];
  const { answers, status, details } = await exchange(client, requests);
  check('v1: one stream, OK at the end', status === 0, { status, details });
  check('v1: one answer per request, in order', answers.length === requests.length &&
    answers.every((a, i) => a.original_request && a.original_request.message_request === Object.keys(requests[i])[1]),
    answers.map(a => a.original_request && a.original_request.message_request));
  check('v1: valid_host echoed', answers.every(a => a.valid_host === host));
  const list = answers[0] && answers[0].list_services_response;
  const names = list ? list.service.map(s => s.name) : [];
  check('v1 list_services', sameSet(names, [...V11, ...OWN]), names);

  const decode = (a) => (a && a.file_descriptor_response ? a.file_descriptor_response.file_descriptor_proto : [])
    .map(b => FileDescriptorProto.decode(b));
  const tx = decode(answers[1]);
  const txNames = tx.map(f => f.name);
  check('v1 file_containing_symbol TransactionService: transaction.proto first, then its imports, each once',
    txNames[0] === 'aurigraph/v11/transaction.proto' && sameSet(txNames, TX_FILES), txNames);
  check('v1: every import of every file is in the answer',
    tx.every(f => (f.dependency || []).every(d => txNames.includes(d))));
  const txService = tx[0] && (tx[0].service || []).find(s => s.name === 'TransactionService');
  check('v1: the file describes TransactionService\'s 9 methods',
    txService && sameSet(txService.method.map(m => m.name), TX_METHODS));

  const nf = answers[2] && answers[2].error_response;
  check('v1 file_by_filename unknown: NOT_FOUND (5), and the stream goes on',
    nf && nf.error_code === 5 && /no\/such\.proto/.test(nf.error_message) && answers.length > 3, nf);
  check('v1 file_containing_symbol of a method', decode(answers[3])[0] &&
    decode(answers[3])[0].name === 'aurigraph/v11/transaction.proto');
  const ext = decode(answers[4]).map(f => f.name);
  check('v1 file_containing_extension google.api.http', ext[0] === 'google/api/annotations.proto', ext);
  const nums = answers[5] && answers[5].all_extension_numbers_response;
  check('v1 all_extension_numbers_of_type MethodOptions', nums &&
    nums.base_type_name === 'google.protobuf.MethodOptions' &&
    sameSet(nums.extension_number.map(String), ['51102', '72295728']), nums);
  const alpha = decode(answers[6]).map(f => f.name);
  check('v1 resolves the v1alpha service too', alpha[0] === 'grpc/reflection/v1alpha/reflection.proto', alpha);
  client.close();
}

// A client that sends and does not read: the gateway holds its requests
// only so far (64 KiB of them past a full answer queue), then ends the call
// RESOURCE_EXHAUSTED instead of buffering without bound. Node's own HTTP/2
// client, so the reading can be stopped.
function slowReader() {
  const http2 = require('http2');
  const name = Buffer.from('aurigraph/v11/transaction.proto');
  const msg = Buffer.concat([Buffer.from([0x1a, name.length]), name]); // file_by_filename = 3
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  const requests = 4000; // 4000 x 37 bytes: past the 64 KiB held
  return new Promise((resolve) => {
    const session = http2.connect('http://' + addr);
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      'content-type': 'application/grpc', te: 'trailers' });
    let received = Buffer.alloc(0), trailers = null;
    stream.on('trailers', (t) => { trailers = t; });
    stream.on('data', (d) => { received = Buffer.concat([received, d]); });
    stream.pause();
    stream.write(Buffer.concat(Array(requests).fill(frame)));
    stream.end();
    // read nothing for a while, then everything
    setTimeout(() => stream.resume(), 1500);
    stream.on('close', () => {
      let answers = 0;
      for (let off = 0; off + 5 <= received.length; off += 5 + received.readUInt32BE(off + 1)) answers++;
      session.close();
      resolve({ answers, status: trailers && trailers['grpc-status'], message: trailers && trailers['grpc-message'] });
    });
  });
}

async function bound() {
  const r = await slowReader();
  check('a client that does not read: RESOURCE_EXHAUSTED (8) once 64 KiB of requests wait, some answered first',
    r.status === '8' && r.answers > 0 && r.answers < 4000, r);
}

(async () => {
  try { await v1alpha(); } catch (e) { check('v1alpha client ran', false, String(e && (e.stack || e))); }
  try { await v1(); } catch (e) { check('v1 client ran', false, String(e && (e.stack || e))); }
  try { await bound(); } catch (e) { check('the slow reader ran', false, String(e && (e.stack || e))); }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
