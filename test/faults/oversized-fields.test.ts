/**
 * Oversized and malformed fields on every source (Tetragon gRPC and JSON, Falco HTTP, gRPC and
 * JSON), through the real source implementations: every input is either an observation — cut to
 * the limits, marked and flagged when it carried oversized text — or a rejection counted with its
 * reason. Counts match exactly; nothing disappears.
 */
import t, { type Test } from 'tap';
import { Agent, request } from 'node:http';
import { FalcoHttpSource } from '../../agent/sources/falco-http.js';
import type { Source } from '../../agent/pipeline.js';
import { FIELD_LIMITS, isClipped, MAX_ANCESTORS } from '../../common/field-limits.js';
import type { Observation, RejectReason } from '../../common/model.js';
import { CollectingSink, newDeps } from '../helpers/agent-support.js';
import { falcoBytes, falcoCases, tetragonBytes, tetragonCases, type Case } from './corpus.js';
import { throughFile, throughGrpc } from './sources.js';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Every text field within its limit, no character split, and a marker wherever something was cut. */
function checkBounded(t: Test, o: Observation, what: string): void {
  const texts: [string | null, number][] = [
    [o.workload.namespace, FIELD_LIMITS.name],
    [o.workload.name, FIELD_LIMITS.name],
    [o.workload.container, FIELD_LIMITS.name],
    [o.node, FIELD_LIMITS.name],
    [o.pod, FIELD_LIMITS.name],
    [o.containerId, FIELD_LIMITS.id],
    [o.image.name, FIELD_LIMITS.image],
    [o.process.exe, FIELD_LIMITS.path],
    [o.process.args, FIELD_LIMITS.args],
    [o.process.user, FIELD_LIMITS.name],
    [o.process.parentExe, FIELD_LIMITS.path],
    ...o.process.ancestors.flatMap((a): [string | null, number][] => [
      [a.exe, FIELD_LIMITS.path],
      [a.args, FIELD_LIMITS.args],
    ]),
    ...(o.kind === 'network' ? ([[o.peerName, FIELD_LIMITS.name]] as [string | null, number][]) : []),
  ];
  const over = texts.filter(([s, max]) => s !== null && s.length > max);
  t.same(over.map(([s]) => s!.length), [], `${what}: every field within its limit`);
  t.notOk(texts.some(([s]) => s !== null && LONE_SURROGATE.test(s)), `${what}: no character split`);
  t.ok(o.process.ancestors.length <= MAX_ANCESTORS);
  const marked = texts.some(([s]) => isClipped(s));
  t.equal(marked, o.truncated === true, `${what}: marked ⇔ flagged`);
}

interface Tally {
  observations: number;
  rejected: Partial<Record<RejectReason, number>>;
  consumed: number;
}

function tally(cases: readonly Case[], extra: RejectReason[]): Tally {
  const out: Tally = { observations: 0, rejected: {}, consumed: 0 };
  for (const c of cases) {
    if ('observation' in c.expect) out.observations++;
    else if ('rejected' in c.expect) out.rejected[c.expect.rejected] = (out.rejected[c.expect.rejected] ?? 0) + 1;
    else out.consumed++;
  }
  for (const r of extra) out.rejected[r] = (out.rejected[r] ?? 0) + 1;
  return out;
}

/** The exact accounting: seen = observed + rejected (+ consumed); each observation as expected. */
function account(t: Test, source: Source, sink: CollectingSink, cases: readonly Case[], extra: RejectReason[]): void {
  const want = tally(cases, extra);
  const c = source.counters;
  const rejectedTotal = Object.values(want.rejected).reduce((a, b) => a + b, 0);
  t.equal(c.seen, cases.length + extra.length, 'every input was seen');
  t.equal(c.observed, want.observations, 'observations');
  t.equal(sink.observations.length, want.observations, 'all of them delivered');
  t.equal(c.malformed, rejectedTotal, 'rejections');
  t.same(c.rejected, want.rejected, 'rejections by reason');
  t.equal(c.seen, c.observed + c.malformed + c.ignored, 'nothing unaccounted for');
  t.equal(c.dropped, 0, 'nothing dropped');
  const expected = cases.filter((k) => 'observation' in k.expect);
  expected.forEach((k, i) => {
    const o = sink.observations[i];
    const e = k.expect as { observation: string; truncated: boolean };
    t.ok(o, k.what);
    if (!o) return;
    t.equal(o.kind, e.observation, `${k.what}: ${e.observation}`);
    t.equal(o.truncated, e.truncated, `${k.what}: truncated ${e.truncated}`);
    checkBounded(t, o, k.what);
  });
  const big = sink.observations.find((o) => o.process.exe === '/usr/bin/evil-args');
  t.ok(big, 'the 20,000-character command is there');
  if (big) {
    const m = /^(A+)…\[truncated (\d+) bytes\]$/.exec(big.process.args);
    t.ok(m, 'its arguments: the head, then the marker');
    if (m) t.equal(m[1]!.length + Number(m[2]), 20_000, 'the marker counts exactly the bytes cut');
  }
}

t.test('tetragon-grpc: oversized fields cut and flagged, malformed messages counted by reason', async (t) => {
  const cases = tetragonCases();
  const { source, sink } = await throughGrpc(t, 'tetragon', [...cases.map((c) => tetragonBytes(c.input)), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
  account(t, source, sink, cases, ['undecodable']);
});

t.test('tetragon-json: the same events as JSON lines, plus broken and oversized lines', async (t) => {
  const cases = tetragonCases();
  const tooLong = JSON.stringify({ process_exec: { process: { binary: '/x', arguments: 'z'.repeat(5 * 1024 * 1024) } } });
  const { source, sink } = await throughFile(t, 'tetragon-json', [...cases.map((c) => JSON.stringify(c.input)), '{"process_exec": ', '[1, 2, 3]', tooLong]);
  account(t, source, sink, cases, ['undecodable', 'not-an-event', 'too-large']);
});

function post(port: number, body: string, contentType = 'application/json', agent?: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/?token=fault-suite-token-long-enough', method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('falco-http: oversized fields cut and flagged; bad posts answered and counted by reason', async (t) => {
  const cases = falcoCases();
  const sink = new CollectingSink();
  const source = new FalcoHttpSource({ kind: 'falco-http', listen: '127.0.0.1:0', token: 'fault-suite-token-long-enough', maxBodyBytes: 256 * 1024 }, newDeps(sink));
  await source.start();
  t.teardown(() => source.close());
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const statuses: number[] = [];
  for (const c of cases) statuses.push(await post(source.port, JSON.stringify(c.input), 'application/json', agent));
  t.same(statuses, cases.map((c) => ('observation' in c.expect ? 204 : 400)), 'observations 204, rejections 400');
  t.equal(await post(source.port, '{"rule": ', 'application/json', agent), 400, 'broken JSON');
  t.equal(await post(source.port, '[1]', 'application/json', agent), 400, 'not an alert');
  t.equal(await post(source.port, JSON.stringify(cases[0]!.input), 'text/plain', agent), 415, 'json_output: false');
  t.equal(await post(source.port, JSON.stringify({ rule: 'x', output_fields: { 'proc.args': 'y'.repeat(300 * 1024) } })), 413, 'over maxBodyBytes');
  account(t, source, sink, cases, ['undecodable', 'not-an-event', 'not-json', 'too-large']);
});

t.test('falco-grpc: the same alerts on the legacy gRPC output, plus undecodable messages', async (t) => {
  // On the wire output_fields is a map: it is never absent, so that case cannot occur here.
  const cases = falcoCases().filter((c) => !('rejected' in c.expect && c.expect.rejected === 'missing-fields'));
  const { source, sink } = await throughGrpc(t, 'falco', [...cases.map((c) => falcoBytes(c.input)), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
  account(t, source, sink, cases, ['undecodable']);
});

t.test('falco-json: the same alerts as JSON lines, plus broken lines', async (t) => {
  const cases = falcoCases();
  const { source, sink } = await throughFile(t, 'falco-json', [...cases.map((c) => JSON.stringify(c.input)), 'Falco internal: not json', '"a string"']);
  account(t, source, sink, cases, ['undecodable', 'not-an-event']);
});
