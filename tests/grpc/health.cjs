// health.cjs: grpc.health.v1.Health through the gateway with @grpc/grpc-js
// and @grpc/proto-loader on grpc-proto's health.proto.
//
//   node health.cjs check ADDR SERVICE
//       prints "status SERVING" (the answer) or "error CODE DETAILS"
//   node health.cjs watch ADDR SERVICE SECONDS
//       prints "status X" for each message as it comes, then "end CODE" when
//       the server ends the call, or "cancelled" when SECONDS pass first (it
//       cancels the call then); stdout is flushed line by line, so a shell
//       test can follow it in a file
//
// SERVICE "" is the server as a whole. Env: GRPC_PROTO_INCLUDE.
'use strict';
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [mode, addr, service = '', seconds = '10'] = process.argv.slice(2);
const def = protoLoader.loadSync('grpc/health/v1/health.proto', {
  includeDirs: [process.env.GRPC_PROTO_INCLUDE || '/usr/share/grpc-proto'],
  keepCase: true, enums: String, defaults: true,
});
const { Health } = grpc.loadPackageDefinition(def).grpc.health.v1;
const client = new Health(addr, grpc.credentials.createInsecure());
const say = (line) => process.stdout.write(line + '\n');

if (mode === 'check') {
  client.Check({ service }, { deadline: Date.now() + 5000 }, (err, res) => {
    say(err ? `error ${err.code} ${err.details}` : `status ${res.status}`);
    client.close();
  });
} else if (mode === 'watch') {
  const call = client.Watch({ service });
  let done = false;
  const timer = setTimeout(() => { if (!done) { done = true; say('cancelled'); call.cancel(); client.close(); } },
    Number(seconds) * 1000);
  call.on('data', (m) => say(`status ${m.status}`));
  call.on('status', (s) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    say(`end ${s.code}`);
    client.close();
  });
  call.on('error', () => {}); // the status event says it
} else {
  process.stderr.write('usage: health.cjs check|watch ADDR SERVICE [SECONDS]\n');
  process.exit(2);
}
