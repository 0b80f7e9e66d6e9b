// reflection_stream.cjs ADDR SECONDS: one grpc.reflection.v1 ServerReflectionInfo
// stream, held open the way a tool that browses a server holds it (no
// half-close), with @grpc/grpc-js + @grpc/proto-loader on grpc-proto's v1
// reflection.proto. It asks list_services once, then prints
//   "services N" for the answer (N services listed),
//   "end CODE DETAILS" when the server ends the call,
//   "cancelled" when SECONDS pass first (it cancels the call then),
// line by line on stdout, for a shell test to follow. Env: GRPC_PROTO_INCLUDE.
'use strict';
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [addr, seconds = '30'] = process.argv.slice(2);
const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
  includeDirs: [process.env.GRPC_PROTO_INCLUDE || '/usr/share/grpc-proto'],
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const { ServerReflection } = grpc.loadPackageDefinition(def).grpc.reflection.v1;
const client = new ServerReflection(addr, grpc.credentials.createInsecure());
const say = (line) => process.stdout.write(line + '\n');

const call = client.ServerReflectionInfo();
let done = false;
const timer = setTimeout(() => { if (!done) { done = true; say('cancelled'); call.cancel(); client.close(); } },
  Number(seconds) * 1000);
call.on('data', (m) => {
  const list = m.list_services_response;
  say(list ? `services ${list.service.length}` : `answer ${m.message_response}`);
});
call.on('status', (s) => {
  if (done) return;
  done = true;
  clearTimeout(timer);
  say(`end ${s.code} ${s.details}`);
  client.close();
});
call.on('error', () => {}); // the status event says it
call.write({ host: '', list_services: '*' });
