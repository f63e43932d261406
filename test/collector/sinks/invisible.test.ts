/**
 * Invisible and reordering characters in what a workload controls (arguments, paths, pod and node
 * names) reach no receiver raw: every sink, through its real request or write, carries them as
 * visible escapes (`\u202e`), in every string of its payload.
 */
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { toBrief } from '../../../collector/outbox/brief.js';
import { createSink, SINKS, type AlertNotification, type SinkType } from '../../../collector/sinks/index.js';
import { baseSinkConfig } from '../../contract/sink.js';
import { deviation, processSample, Receiver, T0, until, WORKLOAD } from '../../helpers/alerting.js';

/** One of each class common/text.ts names, and the examples of the issue. */
const HIDDEN = ['\u2060', '\ufeff', '\u061c', '\u00ad', '\u3164', '\ufe0f', '\u{e0041}', '\u202e', '\u2067', '\u200b', '\u00a0', '\u2028', '\u0085'];
const INVISIBLE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]|[^\P{Zs} ]/u;
const ARGS = `-c ${HIDDEN.join('x')} \u202egnp.exe`;
const EXE = '/tmp/\u202etxt.exe';
const POD = 'web\u200b-1';
const NODE = 'node\u3164-1';

function notification(kind: 'deviation' | 'health'): AlertNotification {
  const d = deviation({ id: 9, summary: `new process ${EXE} ${ARGS}`, item: { exe: EXE, args: ARGS }, pods: [POD], nodes: [NODE], samples: [processSample(EXE, ARGS, T0)] });
  const brief = toBrief(d, 'https://driftwatch.example');
  const base = { idempotencyKey: `k-${kind}`, alertKey: `${kind}:9`, status: 'firing' as const, reason: 'new' as const, severity: 'high' as const, cluster: 'test', startsAtMs: T0, endsAtMs: null, url: brief.url, workload: WORKLOAD, truncated: 0, heldBack: 0, decidedAtMs: T0, sequence: 1 };
  if (kind === 'deviation') return { ...base, kind, alertname: 'DriftwatchDeviation', summary: d.summary, deviations: [brief], health: null };
  return {
    ...base,
    kind,
    alertname: 'DriftwatchHealth',
    summary: `source silent on ${NODE}`,
    deviations: [],
    health: { kind: 'source-silent', key: `source-silent/test/${NODE}/x`, severity: 'medium', summary: `source silent on ${NODE}`, node: NODE, resolved: false, atMs: T0, detail: { source: ARGS } },
  };
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

t.test('every sink shows invisible characters escaped', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.close());
  const dir = t.testdir();
  const bodies: Record<string, string[]> = {};
  // The syslog sink writes octet-counted frames to a TCP receiver.
  let syslogBytes = Buffer.alloc(0);
  const syslogServer = createServer((socket) => socket.on('data', (c: Buffer) => (syslogBytes = Buffer.concat([syslogBytes, c]))));
  await new Promise<void>((resolve) => syslogServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => syslogServer.close(() => resolve())));
  const syslogPort = (syslogServer.address() as AddressInfo).port;
  const syslogFrames = (): string[] => {
    const frames: string[] = [];
    for (let at = 0; at < syslogBytes.length; ) {
      const space = syslogBytes.indexOf(0x20, at);
      const length = Number(syslogBytes.subarray(at, space).toString('ascii'));
      if (space < 0 || space + 1 + length > syslogBytes.length) break;
      frames.push(syslogBytes.subarray(space + 1, space + 1 + length).toString('utf8'));
      at = space + 1 + length;
    }
    return frames;
  };
  const types = Object.keys(SINKS) as SinkType[];
  for (const type of types) {
    const stdout = new PassThrough();
    let written = '';
    stdout.on('data', (c: Buffer) => (written += c.toString('utf8')));
    const file = join(dir, `${type}.jsonl`);
    const extra: Record<SinkType, Record<string, unknown>> = {
      alertmanager: { urls: [rx.url] },
      webhook: { url: `${rx.url}/hook`, secret: 'a-very-secret-shared-key' },
      slack: { url: `${rx.url}/slack` },
      falco: { url: `${rx.url}/falco` },
      stdout: {},
      file: { path: file },
      otlp: { url: `${rx.url}/v1/logs`, encoding: 'json' },
      syslog: { address: `127.0.0.1:${syslogPort}`, protocol: 'tcp' },
    };
    const sink = createSink(baseSinkConfig(type, { ...extra[type], timeout: '2s' }), { now: () => T0, hostname: 'collector', stdout });
    const before = rx.requests.length;
    for (const kind of ['deviation', 'health'] as const) t.equal((await sink.send([notification(kind)])).result, 'ok', `${type}: ${kind} delivered`);
    await sink.close();
    if (type === 'syslog') await until(() => syslogFrames().length >= 2);
    bodies[type] =
      type === 'stdout' ? [written]
      : type === 'file' ? [readFileSync(file, 'utf8')]
      // A syslog frame is `LEN <PRI>1 … [structured data] {document}`: the document is what is shown.
      : type === 'syslog' ? syslogFrames().map((f) => f.slice(f.indexOf(' {') + 1))
      : rx.requests.slice(before).map((r) => r.body.toString('utf8'));
  }
  t.same(Object.keys(bodies).sort(), [...types].sort(), 'every registered sink type is covered');
  for (const [type, list] of Object.entries(bodies)) {
    t.ok(list.length > 0 && list.every((b) => b.length > 0), `${type}: something was sent`);
    const values = list.flatMap((b) => b.trim().split('\n').flatMap((line) => strings(JSON.parse(line))));
    const raw = values.filter((s) => INVISIBLE.test(s));
    t.same(raw, [], `${type}: no string of the payload holds a raw invisible character`);
    const all = values.join('\n');
    t.match(all, '\\u202egnp.exe', `${type}: the override is shown as \\u202e`);
    t.match(all, '\\u3164', `${type}: the Hangul filler of the node name is shown`);
    t.notMatch(list.join(''), INVISIBLE, `${type}: nor do the bytes on the wire`);
  }
});
