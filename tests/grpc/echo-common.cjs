'use strict';
// What the echo server and its clients share: tests/proto/echo.proto loaded
// twice (@grpc/proto-loader for grpc-js's service definitions, protobufjs
// for the messages a client encodes itself: google.rpc.Status in
// grpc-status-details-bin, raw HTTP/2 frames), and the reply payload.
const path = require('path');
const zlib = require('zlib');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const testProto = path.join(__dirname, '..', 'proto');
const contractProto = path.join(__dirname, '..', '..', 'proto');

const loaderOptions = { keepCase: true, longs: Number, enums: String, defaults: true, bytes: Buffer };
const packageDef = protoLoader.loadSync(['echo.proto'], { ...loaderOptions, includeDirs: [testProto] });
const loaded = grpc.loadPackageDefinition(packageDef).aurigraph.test;

const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  for (const dir of [testProto, contractProto]) {
    const p = path.join(dir, target);
    try { require('fs').accessSync(p); return p; } catch (e) { /* next */ }
  }
  return protobuf.util.path.resolve(origin, target); // protobufjs' own google/protobuf/*.proto
};
root.loadSync(['echo.proto', 'google/rpc/status.proto']);
const types = {
  EchoRequest: root.lookupType('aurigraph.test.EchoRequest'),
  EchoReply: root.lookupType('aurigraph.test.EchoReply'),
  EchoDetail: root.lookupType('aurigraph.test.EchoDetail'),
  Status: root.lookupType('google.rpc.Status'),
};
const DETAIL_TYPE_URL = 'type.googleapis.com/aurigraph.test.EchoDetail';

// A reply payload of SIZE bytes that differs with INDEX (its first four
// bytes), so a message lost, doubled or swapped in a stream shows.
let base = Buffer.alloc(0);
function patternPayload(size, index) {
  if (base.length < size) {
    base = Buffer.alloc(size);
    let x = 0x9e3779b9;
    for (let i = 0; i < size; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; base[i] = x & 0xff; }
  }
  const p = Buffer.from(base.subarray(0, size));
  if (size >= 4) p.writeUInt32BE(index >>> 0, 0);
  return p;
}

// Compressible bytes (text that repeats), for the compression checks.
function compressiblePayload(size) {
  const line = Buffer.from('aurigraph gzip check 0123456789 abcdefghijklmnopqrstuvwxyz\n');
  const p = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(p, i);
  return p;
}

// zlib.crc32 where Node has it (20.15+), else the same sum in JavaScript
// (Debian 12's Node is 18)
let table = null;
function crc32js(buf, prev) {
  if (!table) {
    table = new Int32Array(256);
    for (let i = 0; i < 256; i++) { let c = i; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; table[i] = c; }
  }
  let c = ~(prev || 0);
  for (let i = 0; i < buf.length; i++) c = table[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
const crc32 = zlib.crc32 ? (buf, prev) => zlib.crc32(buf, prev || 0) : crc32js;

// A gRPC message frame: compressed flag, length, bytes.
function frame(bytes, compressed) {
  const h = Buffer.alloc(5);
  h[0] = compressed ? 1 : 0;
  h.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([h, bytes]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = {
  crc32js, grpc, packageDef, loaded, types, DETAIL_TYPE_URL, patternPayload, compressiblePayload, crc32, frame, sleep,
  echoService: packageDef['aurigraph.test.EchoService'],
  gzipService: packageDef['aurigraph.test.GzipEchoService'],
  timedService: packageDef['aurigraph.test.TimedEchoService'],
};
