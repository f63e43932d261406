/**
 * Fuzz-style robustness: truncated and random bytes into both gRPC decoders (through the real
 * sources and fake servers), random JSON into the HTTP source and the normalisers. Nothing
 * throws, nothing disconnects, every input is counted (malformed, or ignored when random bytes
 * happen to form a valid message of an event type driftwatch does not use).
 */
import t, { type Test } from 'tap';
import { Agent, request } from 'node:http';
import { normaliseFalco, type FalcoAlert } from '../../../agent/normalise/falco.js';
import { normaliseTetragon, type TetragonEvent } from '../../../agent/normalise/tetragon.js';
import { FalcoGrpcSource } from '../../../agent/sources/falco-grpc.js';
import { FalcoHttpSource } from '../../../agent/sources/falco-http.js';
import { TetragonGrpcSource } from '../../../agent/sources/tetragon-grpc.js';
import { FakeFalcoGrpc } from '../../helpers/fake-falco-grpc.js';
import { FakeTetragon } from '../../helpers/fake-tetragon.js';
import { binRecords, CollectingSink, fixture, fixtureFiles, newContext, newDeps, until } from '../../helpers/agent-support.js';

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function garbage(records: Buffer[], n: number, rnd: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const base = records[Math.floor(rnd() * records.length)]!;
    if (i % 3 === 0) {
      out.push(base.subarray(0, 1 + Math.floor(rnd() * (base.length - 2)))); // truncated
    } else if (i % 3 === 1) {
      const b = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(rnd() * 8); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256); // flipped bytes
      out.push(b);
    } else {
      const b = Buffer.alloc(1 + Math.floor(rnd() * 300));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256); // random
      out.push(b);
    }
  }
  return out;
}

const tetragonRecords = fixtureFiles('tetragon', '.bin').flatMap((f) => binRecords(fixture('tetragon', f)));
const falcoRecords = fixtureFiles('falco', '.bin').flatMap((f) => binRecords(fixture('falco', f)));

/** Streams `inputs` from a fake server to the real source; every input must be counted, no reconnect. */
async function streamGarbage(
  t: Test,
  inputs: Buffer[],
  server: FakeTetragon | FakeFalcoGrpc,
  makeSource: (address: string) => TetragonGrpcSource | FalcoGrpcSource,
): Promise<void> {
  await server.start();
  t.teardown(() => server.stop());
  const source = makeSource(server.address);
  t.teardown(() => source.close());
  await source.start();
  await until(() => source.counters.seen === inputs.length, 15_000, 'all inputs');
  const c = source.counters;
  t.equal(c.seen, c.malformed + c.ignored + c.observed, 'every input counted once');
  t.ok(c.malformed > inputs.length / 3, `most are malformed (${c.malformed}/${inputs.length})`);
  t.equal(server.connections, 1, 'never disconnected');
}

t.test('tetragon gRPC: garbage messages are counted, the stream survives', async (t) => {
  const inputs = garbage(tetragonRecords, 600, prng(1));
  await streamGarbage(t, inputs, new FakeTetragon({ address: '127.0.0.1:0', messages: inputs }), (address) =>
    new TetragonGrpcSource({ kind: 'tetragon-grpc', address }, newDeps(new CollectingSink())),
  );
});

t.test('falco gRPC: garbage messages are counted, the stream survives', async (t) => {
  const inputs = garbage(falcoRecords, 600, prng(2));
  await streamGarbage(t, inputs, new FakeFalcoGrpc({ address: '127.0.0.1:0', messages: inputs }), (address) =>
    new FalcoGrpcSource({ kind: 'falco-grpc', address }, newDeps(new CollectingSink())),
  );
});

/** Random JSON, biased towards the keys the normalisers look at. */
function randomJson(rnd: () => number, depth = 0): unknown {
  const keys = ['rule', 'output_fields', 'source', 'time', 'hostname', 'evt.type', 'proc.pid', 'fd.name', 'container.id', 'k8s.pod.name', 'k8s.ns.name',
    'process_exec', 'process_kprobe', 'process_exit', 'process', 'parent', 'pod', 'binary', 'exec_id', 'args', 'sock_arg', 'function_name', 'node_name', 'pid', 'uid', 'flags'];
  const r = rnd();
  if (depth > 4 || r < 0.3) {
    const s = rnd();
    if (s < 0.2) return null;
    if (s < 0.4) return Math.floor(rnd() * 1e6) - 1000;
    if (s < 0.5) return rnd() < 0.5;
    if (s < 0.6) return ['execve', 'connect', 'accept4', 'tcp_connect', 'inet_csk_accept', 'procFS', '<NA>', '1.2.3.4:5->6.7.8.9:10'][Math.floor(rnd() * 8)];
    return 'x'.repeat(Math.floor(rnd() * 20));
  }
  if (r < 0.45) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomJson(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(rnd() * 6); i++) o[keys[Math.floor(rnd() * keys.length)]!] = randomJson(rnd, depth + 1);
  return o;
}

t.test('normalisers: random JSON never throws', async (t) => {
  const rnd = prng(3);
  const tctx = newContext('tetragon-json');
  const fctx = newContext('falco-json');
  let n = 0;
  for (let i = 0; i < 5000; i++) {
    const v = randomJson(rnd);
    const a = normaliseTetragon(v as TetragonEvent, tctx);
    const b = normaliseFalco(v as FalcoAlert, fctx);
    if (a && b) n++;
  }
  t.equal(n, 5000, 'every input got a result');
});

t.test('falco HTTP: random JSON posts answer 204 or 400, all counted, server alive', async (t) => {
  const source = new FalcoHttpSource({ kind: 'falco-http', listen: '127.0.0.1:0' }, newDeps(new CollectingSink()));
  await source.start();
  t.teardown(() => source.close());
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());
  const rnd = prng(4);
  const statuses = new Set<number>();
  const N = 400;
  for (let i = 0; i < N; i++) {
    let body = JSON.stringify(randomJson(rnd)) ?? 'null';
    if (i % 5 === 0) body = body.slice(0, Math.floor(rnd() * body.length)); // truncated JSON
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: source.port, method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
    statuses.add(status);
  }
  t.ok([...statuses].every((s) => s === 204 || s === 400), `only 204/400 (${[...statuses].join(',')})`);
  const c = source.counters;
  t.equal(c.seen, N, 'every post counted');
  t.equal(c.seen, c.malformed + c.ignored + c.observed);
  t.ok(c.malformed > 0);
});
