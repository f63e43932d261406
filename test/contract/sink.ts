/**
 * The contract every sink honours (alertmanager's notify/test RetryTests and
 * AssertNotifyLeaksNoSecret): the status → verdict table, a timeout, connection errors, an inert
 * `<script>`, and no secret in any reason. Run against every sink by test/collector/sinks/contract.test.ts.
 */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { SinkConfig } from '../../common/config/schema.js';
import type { SinkType } from '../../collector/sinks/index.js';
import { sampleNotification } from '../../collector/outbox/sample.js';
import { createSink } from '../../collector/sinks/index.js';
import type { AlertNotification, SinkContext } from '../../collector/sinks/types.js';
import { Receiver } from '../helpers/alerting.js';

export const SECRET = 'S3cr3t-T0ken-xyzzy-0123456789';

export const STATUS_TABLE: readonly [number, 'ok' | 'retry' | 'fail'][] = [
  [200, 'ok'],
  [202, 'ok'],
  [204, 'ok'],
  [400, 'fail'],
  [401, 'fail'],
  [403, 'fail'],
  [404, 'fail'],
  [413, 'fail'],
  [408, 'retry'],
  [429, 'retry'],
  [500, 'retry'],
  [502, 'retry'],
  [503, 'retry'],
];

/** A sink item: the common block and whatever keys its type declares (collector/sinks/*.ts). */
export type SinkItem = SinkConfig & Record<string, unknown>;

/** A 2 s timeout: long enough that a loaded CI machine answers in time, short enough for the never-answers case. */
export function baseSinkConfig(type: SinkType, over: Partial<SinkConfig> & Record<string, unknown> = {}): SinkItem {
  return { name: `${type}-under-test`, type, enabled: true, minSeverity: 'info', namespaces: [], workloads: [], health: true, timeout: '2s', headers: {}, ...over };
}

export function scriptNotification(): AlertNotification {
  const n = sampleNotification({ cluster: 'test', baseUrl: 'https://driftwatch.example', nowMs: Date.parse('2026-11-30T10:00:00Z') });
  const evil = '<script>alert(document.cookie)</script>"><img src=x onerror=alert(1)>';
  return { ...n, summary: `new process /tmp/${evil}`, deviations: n.deviations.map((d) => ({ ...d, summary: evil, itemKey: `process:/tmp/${evil}`, lineage: [`/tmp/x ${evil}`] })) };
}

function ctx(stdout: NodeJS.WritableStream = new PassThrough()): SinkContext {
  return { now: Date.now, hostname: 'collector-test', stdout };
}

export interface HttpSinkSubject {
  type: SinkType;
  /** A configuration POSTing to the receiver at `baseUrl`, with SECRET placed where this type keeps secrets. */
  config(baseUrl: string): SinkConfig;
}

export async function httpSinkContract(t: Test, subject: HttpSinkSubject): Promise<void> {
  const receiver = new Receiver();
  await receiver.start();
  t.teardown(() => receiver.close());
  const sink = createSink(subject.config(receiver.url), ctx());
  t.teardown(() => sink.close());

  await t.test('status → verdict table; reasons carry no secret', async (t) => {
    for (const [status, expected] of STATUS_TABLE) {
      // A hostile receiver echoes what it got (URL with its token, headers) in the error body.
      receiver.respond = (req) => ({ status, body: `echo ${req.path} ${JSON.stringify(req.headers)} ${SECRET}` });
      const verdict = await sink.send([sampleNotification({ cluster: 'test', baseUrl: 'https://d.example', nowMs: Date.now() })]);
      t.equal(verdict.result, expected, `HTTP ${status} → ${expected}`);
      if (verdict.result !== 'ok') {
        t.notMatch(verdict.reason, SECRET, `HTTP ${status}: no secret in the reason`);
        t.match(verdict.reason, `HTTP ${status}`);
      }
    }
  });

  await t.test('a receiver that never answers is a retry after the timeout', async (t) => {
    receiver.respond = () => ({ status: 200, hang: true });
    const verdict = await sink.send([sampleNotification({ cluster: 'test', baseUrl: 'https://d.example', nowMs: Date.now() })]);
    t.equal(verdict.result, 'retry');
    if (verdict.result !== 'ok') {
      t.match(verdict.reason, /timeout/);
      t.notMatch(verdict.reason, SECRET);
    }
    receiver.respond = () => 200;
  });

  await t.test('a <script> in attacker-controlled text arrives inert', async (t) => {
    const before = receiver.requests.length;
    const verdict = await sink.send([scriptNotification()]);
    t.equal(verdict.result, 'ok');
    const bodies = receiver.requests.slice(before).map((r) => r.body.toString('utf8'));
    t.ok(bodies.length > 0);
    for (const b of bodies) {
      t.notMatch(b, /<script|<img/i, 'no raw markup in the body');
      t.doesNotThrow(() => JSON.parse(b), 'valid JSON');
      t.match(b, /script/, 'the text itself is still there, encoded');
    }
  });

  await t.test('an update of an alert is delivered like any notification', async (t) => {
    const before = receiver.requests.length;
    const n = sampleNotification({ cluster: 'test', baseUrl: 'https://d.example', nowMs: Date.now() });
    t.same(await sink.send([{ ...n, reason: 'update', sequence: 2 }]), { result: 'ok' });
    t.ok(receiver.requests.length > before, 'sent');
  });

  await t.test('connection refused is a retry without secrets', async (t) => {
    const dead = new Receiver();
    await dead.start();
    const url = dead.url;
    await dead.close();
    const s = createSink(subject.config(url), ctx());
    const verdict = await s.send([sampleNotification({ cluster: 'test', baseUrl: 'https://d.example', nowMs: Date.now() })]);
    await s.close();
    t.equal(verdict.result, 'retry');
    if (verdict.result !== 'ok') t.notMatch(verdict.reason, SECRET);
  });
}

/** stdout / file: JSON lines, one per notification, markup encoded. */
export async function lineSinkContract(t: Test, subject: { type: 'stdout' | 'file'; dir: string }): Promise<void> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const path = `${subject.dir}/alerts.jsonl`;
  const sink = createSink(baseSinkConfig(subject.type, subject.type === 'file' ? { path } : {}), ctx(out));
  t.teardown(() => sink.close());
  const verdict = await sink.send([scriptNotification(), scriptNotification()]);
  t.same(verdict, { result: 'ok' });
  const text = subject.type === 'file' ? readFileSync(path, 'utf8') : Buffer.concat(chunks).toString('utf8');
  const lines = text.trimEnd().split('\n');
  t.equal(lines.length, 2, 'one line per notification');
  t.notMatch(text, /<script|<img/i);
  for (const l of lines) t.match(JSON.parse(l), { schema: 'driftwatch.alert.v1' });
  // An update of the same alert: its own line, saying so, with a higher sequence.
  const first = scriptNotification();
  t.same(await sink.send([{ ...first, reason: 'update', sequence: 2, idempotencyKey: `${first.idempotencyKey}-2` }]), { result: 'ok' });
  const after = subject.type === 'file' ? readFileSync(path, 'utf8') : Buffer.concat(chunks).toString('utf8');
  t.match(JSON.parse(after.trimEnd().split('\n').at(-1)!), { key: first.alertKey, reason: 'update', sequence: 2 }, 'an update line with its sequence');
}

export { SECRET as CONTRACT_SECRET };
