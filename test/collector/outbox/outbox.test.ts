/**
 * The alerting pipeline end to end on a real database and bus: decisions, outbox, dispatchers,
 * real HTTP receivers. Timings are small (config), assertions never depend on them.
 */
import t, { type Test } from 'tap';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Registry } from 'prom-client';
import type { HealthEvent } from '../../../common/deviations.js';
import { CollectorBus } from '../../../collector/events.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { AlertDocumentV1 } from '../../../collector/sinks/document.js';
import type { AlertmanagerAlert } from '../../../collector/sinks/alertmanager.js';
import type { SlackMessage } from '../../../collector/sinks/slack.js';
import type { FalcoEvent } from '../../../collector/sinks/falco.js';
import { alertingConfig, deviation, FAST, readAlertFile, Receiver, startAlerting, T0, until, withStatus, WORKLOAD, type Received } from '../../helpers/alerting.js';

const SECRET = 'webhook-shared-secret-0123456789';

function verified(r: Received, secret = SECRET): boolean {
  const sig = String(r.headers['x-driftwatch-signature'] ?? '');
  const expected = `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`;
  return sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
}

function webhookSink(url: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'hook', type: 'webhook', url: `${url}/hook`, secret: SECRET, timeout: '500ms', ...over };
}

function docs(r: Receiver): AlertDocumentV1[] {
  return r.requests.filter((q) => q.path === '/hook').map((q) => JSON.parse(q.body.toString('utf8')) as AlertDocumentV1);
}

function openDb(dir: string): SqliteStore {
  return new SqliteStore({ dataDir: dir });
}

async function receiver(t: Test): Promise<Receiver> {
  const r = new Receiver();
  await r.start();
  t.teardown(() => r.close());
  return r;
}

/** A started alerting component with one webhook sink on a fresh database, closed by the test. */
async function webhookAlerting(t: Test, renotifyInterval: string) {
  const rx = await receiver(t);
  const db = openDb(t.testdir());
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, renotifyInterval, sinks: [webhookSink(rx.url)] }));
  t.teardown(() => alerting.close());
  await alerting.start();
  return { rx, db, bus, alerting };
}

t.test('one notification per new deviation, re-notified while open, ended when resolved', async (t) => {
  const { rx, bus, alerting } = await webhookAlerting(t, '150ms');

  const d = deviation();
  bus.emit({ type: 'deviation.created', deviation: d });
  bus.emit({ type: 'deviation.created', deviation: d }); // a duplicate event changes nothing
  bus.emit({ type: 'deviation.updated', deviation: { ...d, count: 5, lastSeenMs: d.lastSeenMs + 1000 } });
  await rx.waitFor(2);
  const [first, second] = docs(rx);
  t.match(first, { schema: 'driftwatch.alert.v1', kind: 'deviation', status: 'firing', reason: 'new', alertname: 'DriftwatchDeviation', severity: 'medium' });
  t.equal(first!.url, `https://driftwatch.example/ui/deviations/${d.id}`);
  t.equal(second!.reason, 'renotify', 'still open after the interval: notified again');
  t.equal(second!.deviations[0]!.count, 5, 're-notification carries the latest state');
  t.not(first!.idempotencyKey, second!.idempotencyKey);

  bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'resolved'), previous: 'open', actor: 'alice' });
  await until(() => docs(rx).some((x) => x.status === 'resolved'));
  const resolved = docs(rx).find((x) => x.status === 'resolved')!;
  t.equal(resolved.reason, 'resolved');
  t.ok(resolved.endsAt, 'endsAt set');
  const count = rx.requests.length;
  await new Promise((r) => setTimeout(r, 300));
  await alerting.sweep();
  t.equal(rx.requests.length, count, 'no re-notification once resolved');
  t.ok(rx.requests.every((r) => verified(r)), 'every request is signed');
});

t.test('webhook: 500 three times then 200 → delivered once, by idempotency key', async (t) => {
  const rx = await receiver(t);
  rx.respond = (_req, i) => (i < 3 ? 500 : 200);
  const db = openDb(t.testdir());
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: [webhookSink(rx.url)] }));
  t.teardown(() => alerting.close());
  await alerting.start();
  const d = deviation();
  bus.emit({ type: 'deviation.created', deviation: d });
  await rx.waitFor(4);
  await until(async () => (await alerting.outbox.rows(`deviation:${d.id}`))[0]?.state === 'sent');
  t.ok(rx.requests.every((r) => verified(r)), 'the receiver verified every signature');
  const keys = rx.requests.map((r) => r.headers['idempotency-key']);
  t.equal(new Set(keys).size, 1, 'every attempt carries the same idempotency key');
  t.equal(docs(rx)[0]!.idempotencyKey, keys[0], 'in the body too');
  const accepted = rx.requests.filter((_r, i) => i >= 3);
  t.equal(accepted.length, 1, 'accepted exactly once');
  t.match((await alerting.outbox.rows(`deviation:${d.id}`)), [{ sink: 'hook', state: 'sent', attempts: 4 }]);
});

t.test('collector killed and restarted while the receiver is down: nothing is lost', async (t) => {
  const rx = await receiver(t);
  let up = false;
  const accepted: AlertDocumentV1[] = [];
  rx.respond = (req) => {
    if (!up) return 503;
    if (verified(req)) accepted.push(JSON.parse(req.body.toString('utf8')) as AlertDocumentV1);
    return 200;
  };
  const dir = t.testdir();
  const config = alertingConfig({ ...FAST, sinks: [webhookSink(rx.url)] });

  let db = openDb(dir);
  let bus = new CollectorBus();
  let alerting = startAlerting(db, bus, config);
  await alerting.start();
  const before = [deviation({ workload: { ...WORKLOAD, name: 'a' } }), deviation({ workload: { ...WORKLOAD, name: 'b' } })];
  for (const d of before) bus.emit({ type: 'deviation.created', deviation: d });
  await until(() => rx.requests.length >= 2);
  // One more arrives just before the crash: still waiting for its grouping decision.
  const inFlight = deviation({ workload: { ...WORKLOAD, name: 'c' } });
  bus.emit({ type: 'deviation.created', deviation: inFlight });
  await alerting.close();
  await db.close();

  db = openDb(dir);
  t.teardown(() => db.close());
  bus = new CollectorBus();
  alerting = startAlerting(db, bus, config);
  t.teardown(() => alerting.close());
  await alerting.start();
  const after = deviation({ workload: { ...WORKLOAD, name: 'd' } });
  bus.emit({ type: 'deviation.created', deviation: after });
  await new Promise((r) => setTimeout(r, 100));
  up = true;
  const all = [...before, inFlight, after];
  await until(async () => (await Promise.all(all.map((d) => alerting.outbox.rows(`deviation:${d.id}`)))).every((rows) => rows.every((r) => r.state === 'sent')));
  const ids = accepted.flatMap((x) => x.deviations.map((dv) => dv.id));
  t.same([...new Set(ids)].sort(), all.map((d) => d.id).sort(), 'all four deviations arrived');
  t.equal(new Set(accepted.map((x) => x.idempotencyKey)).size, 4, 'four distinct notifications by idempotency key');
  t.equal(accepted.length, 4, 'each accepted once');
  t.ok(rx.requests.length > 4, 'after failed attempts before and after the restart');
});

t.test('a rollout: 40 deviations of one workload within a minute → one grouped alert per sink (sent at once for its critical member), updated as members join', async (t) => {
  const rx = await receiver(t);
  const dir = t.testdir();
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
  const db = openDb(dir);
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(
    db,
    bus,
    alertingConfig({
      ...FAST,
      // The shipped wait: the rollout's deviations are a second apart in event time.
      grouping: { ...FAST.grouping, wait: '10s' },
      sinks: [
        webhookSink(rx.url),
        { name: 'slack', type: 'slack', url: `${rx.url}/slack` },
        { name: 'falco', type: 'falco', url: `${rx.url}/falco` },
        { name: 'am', type: 'alertmanager', urls: [`${rx.url}/am`] },
        { name: 'file', type: 'file', path: join(dir, 'alerts.jsonl') },
        { name: 'out', type: 'stdout' },
      ],
    }),
    { stdout: out },
  );
  t.teardown(() => alerting.close());
  await alerting.start();

  const rollout = Array.from({ length: 40 }, (_v, i) => deviation({ firstSeenMs: T0 + i * 1000, severity: i === 7 ? 'critical' : 'medium' }));
  for (const d of rollout) bus.emit({ type: 'deviation.created', deviation: d });
  const paths = ['/hook', '/slack', '/falco', '/am/api/v2/alerts'];
  const fileLines = (): string[] => (existsSync(join(dir, 'alerts.jsonl')) ? readFileSync(join(dir, 'alerts.jsonl'), 'utf8').trimEnd().split('\n') : []);
  // The critical one is sent at once (with the mediums waiting beside it), the rest join as one update.
  await until(() => paths.every((p) => rx.requests.filter((r) => r.path === p).length >= 2) && lines.length >= 2 && fileLines().length >= 2);
  const [first, update] = docs(rx);
  t.match(first, { kind: 'group', alertname: 'DriftwatchDeviationGroup', severity: 'critical', status: 'firing', reason: 'new', sequence: 1 });
  t.equal(first!.deviations[0]!.severity, 'critical', 'most severe first');
  t.match(update, { key: first!.key, kind: 'group', status: 'firing', reason: 'update', sequence: 2 });
  t.equal(update!.deviations.length, 40, 'the update lists every member');
  t.match(update!.summary, /40 new deviations in payments\/Deployment\/api/);
  const amBodies = rx.requests.filter((r) => r.path === '/am/api/v2/alerts').map((r) => JSON.parse(r.body.toString('utf8')) as AlertmanagerAlert[]);
  t.equal(amBodies[0]!.length, 1, 'Alertmanager: one alert');
  t.same(amBodies[1]![0]!.labels, amBodies[0]![0]!.labels, 'Alertmanager: the update is the same alert (same labels) …');
  t.not(amBodies[1]![0]!.annotations.description, amBodies[0]![0]!.annotations.description, '… with its annotations updated');
  t.match(amBodies[0]![0]!.labels, { alertname: 'DriftwatchDeviationGroup', workload: 'api' });
  const slack = rx.requests.filter((r) => r.path === '/slack').map((r) => JSON.parse(r.body.toString('utf8')) as SlackMessage);
  t.match(JSON.stringify(slack[1]!.blocks), /40 new deviations within the grouping window/);
  t.match(slack[1]!.text, /update #2/, 'Slack: an update message says so');
  const falco = JSON.parse(rx.requests.filter((r) => r.path === '/falco')[1]!.body.toString('utf8')) as FalcoEvent;
  t.equal(falco.output_fields['driftwatch.deviations'], 40);
  t.match(JSON.parse(fileLines()[1]!), { reason: 'update', sequence: 2 }, 'file: an update line with its sequence');
  t.match(JSON.parse(lines[1]!), { reason: 'update', sequence: 2 }, 'stdout: the same');

  // A straggler within the window joins the group: the receivers hear of it as an update.
  const straggler = deviation({ firstSeenMs: T0 + 50_000 });
  bus.emit({ type: 'deviation.created', deviation: straggler });
  await until(() => docs(rx).length >= 3);
  t.match(docs(rx)[2], { key: first!.key, reason: 'update', sequence: 3 });
  t.ok(docs(rx)[2]!.deviations.some((d) => d.id === straggler.id), 'the late member is listed');

  // Resolving every member ends the group, once per sink.
  for (const d of [...rollout, straggler]) bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'resolved'), previous: 'open', actor: 'bob' });
  await until(() => docs(rx).some((x) => x.status === 'resolved') && lines.length >= 4);
  await until(() => paths.every((p) => rx.requests.filter((r) => r.path === p).length === 4));
  const ended = docs(rx)[3]!;
  t.match(ended, { kind: 'group', status: 'resolved' });
  t.equal(ended.deviations.length + ended.truncated, 41, 'the straggler was counted in the group');
});

t.test('routing: minimum severity, namespace and workload globs, health on/off', async (t) => {
  const dir = t.testdir();
  const db = openDb(dir);
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const file = (name: string): string => join(dir, `${name}.jsonl`);
  const alerting = startAlerting(
    db,
    bus,
    alertingConfig({
      ...FAST,
      sinks: [
        { name: 'all', type: 'file', path: file('all') },
        { name: 'critical', type: 'file', path: file('critical'), minSeverity: 'critical', health: false },
        { name: 'prod', type: 'file', path: file('prod'), namespaces: ['prod-*'] },
        { name: 'web', type: 'file', path: file('web'), workloads: ['Deployment/web-?'] },
      ],
    }),
  );
  t.teardown(() => alerting.close());
  await alerting.start();
  const w = (namespace: string, name: string): typeof WORKLOAD => ({ ...WORKLOAD, namespace, name });
  bus.emit({ type: 'deviation.created', deviation: deviation({ workload: w('prod-eu', 'web-1'), severity: 'critical' }) });
  bus.emit({ type: 'deviation.created', deviation: deviation({ workload: w('dev', 'web-2'), severity: 'low' }) });
  bus.emit({ type: 'deviation.created', deviation: deviation({ workload: w('prod-us', 'db'), severity: 'medium' }) });
  const health: HealthEvent = { kind: 'agent-disconnected', key: 'agent-disconnected/test/node-9', severity: 'high', summary: 'agent on node-9 is disconnected', node: 'node-9', resolved: false, atMs: Date.now(), detail: {} };
  bus.emit({ type: 'health', health });
  const count = (name: string): number => {
    try {
      return readFileSync(file(name), 'utf8').trimEnd().split('\n').filter(Boolean).length;
    } catch {
      return 0;
    }
  };
  await until(() => count('all') === 4);
  await until(async () => (await alerting.outbox.queueStats()).length === 0);
  t.equal(count('critical'), 1, 'critical only, no health');
  t.equal(count('prod'), 3, 'prod-* namespaces, plus the node-level health alert');
  t.equal(count('web'), 3, 'Deployment/web-? workloads, plus the health alert');
});

t.test('global rate limit: held back, counted, sent later', async (t) => {
  const dir = t.testdir();
  const db = openDb(dir);
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const path = join(dir, 'out.jsonl');
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, rateLimit: { max: 2, per: '400ms' }, sinks: [{ name: 'f', type: 'file', path }] }));
  t.teardown(() => alerting.close());
  await alerting.start();
  for (const name of ['a', 'b', 'c', 'd']) bus.emit({ type: 'deviation.created', deviation: deviation({ workload: { ...WORKLOAD, name } }) });
  const read = (): AlertDocumentV1[] => readAlertFile(path);
  await until(() => read().length === 4);
  const got = read();
  t.same(got.slice(0, 2).map((d) => d.heldBack), [0, 0]);
  t.equal(got[2]!.heldBack, 2, 'the first notification after the hold reports how many were held back');
  t.equal(got[3]!.heldBack, 0);
});

t.test('a disabled sink keeps its queue; a failing sink is not ready and does not slow the others', async (t) => {
  const good = await receiver(t);
  const bad = await receiver(t);
  bad.respond = () => ({ status: 503, body: `upstream says ${SECRET}` });
  const dir = t.testdir();
  const db = openDb(dir);
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const sinks = (pausedEnabled: boolean): Record<string, unknown>[] => [
    webhookSink(good.url, { name: 'good' }),
    webhookSink(bad.url, { name: 'bad' }),
    webhookSink(good.url, { name: 'paused', enabled: pausedEnabled, url: `${good.url}/paused` }),
  ];
  let alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: sinks(false) }));
  await alerting.start();
  const ds = ['a', 'b', 'c'].map((name) => deviation({ workload: { ...WORKLOAD, name } }));
  for (const d of ds) bus.emit({ type: 'deviation.created', deviation: d });
  await good.waitFor(3);
  t.equal(good.requests.filter((r) => r.path === '/hook').length, 3, 'the healthy sink got everything');
  await until(() => alerting.readiness().some((r) => !r.ready));
  const ready = alerting.readiness();
  const badReady = ready.find((r) => r.name === 'alert-sink:bad')!;
  t.equal(badReady.ready, false);
  t.match(badReady.detail, /HTTP 503/);
  t.notMatch(badReady.detail, SECRET, 'no secret in /readyz');
  t.match(ready.find((r) => r.name === 'alert-sink:good'), { ready: true });
  t.match(ready.find((r) => r.name === 'alert-sink:paused'), { ready: true, detail: /disabled/ });
  const depth = new Map((await alerting.outbox.queueStats()).map((q) => [q.sink, q.depth]));
  t.equal(depth.get('paused'), 3, 'the disabled sink kept its queue');
  t.ok((depth.get('bad') ?? 0) >= 1, 'the failing sink keeps retrying its queue');
  t.equal(good.requests.filter((r) => r.path === '/paused').length, 0);
  await alerting.close();

  alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: sinks(true) }));
  t.teardown(() => alerting.close());
  await alerting.start();
  await until(() => good.requests.filter((r) => r.path === '/paused').length === 3);
  t.pass('enabled again: the queue is delivered');
});

t.test('acknowledged stops re-notification; health alerts fire and end', async (t) => {
  const { rx, bus } = await webhookAlerting(t, '100ms');
  const d = deviation();
  bus.emit({ type: 'deviation.created', deviation: d });
  await rx.waitFor(1);
  bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'acknowledged'), previous: 'open', actor: 'alice' });
  const n = rx.requests.length;
  await new Promise((r) => setTimeout(r, 300));
  t.equal(rx.requests.length, n, 'acknowledged: no re-notification');

  const h: HealthEvent = { kind: 'source-silent', key: 'source-silent/test/node-1/tetragon', severity: 'medium', summary: 'source tetragon on node node-1 is silent', node: 'node-1', resolved: false, atMs: Date.now(), detail: { source: 'tetragon' } };
  bus.emit({ type: 'health', health: h });
  bus.emit({ type: 'health', health: h });
  await until(() => docs(rx).some((x) => x.kind === 'health'));
  bus.emit({ type: 'health', health: { ...h, resolved: true, severity: 'info' } });
  await until(() => docs(rx).some((x) => x.kind === 'health' && x.status === 'resolved'));
  const health = docs(rx).filter((x) => x.kind === 'health');
  t.same(
    health.map((x) => [x.status, x.alertname, x.severity]),
    [
      ['firing', 'DriftwatchSourceSilent', 'medium'],
      ['resolved', 'DriftwatchSourceSilent', 'medium'],
    ],
  );
  t.match(health[0]!.health, { kind: 'source-silent', node: 'node-1' });
});

t.test('Alertmanager keep-alive: open alerts are re-posted, acknowledged ones too; webhook is not', async (t) => {
  const rx = await receiver(t);
  const db = openDb(t.testdir());
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(
    db,
    bus,
    alertingConfig({ ...FAST, renotifyInterval: '1h', sinks: [webhookSink(rx.url), { name: 'am', type: 'alertmanager', urls: [`${rx.url}/am`], renotifyInterval: '60ms' }] }),
  );
  t.teardown(() => alerting.close());
  await alerting.start();
  const d = deviation();
  bus.emit({ type: 'deviation.created', deviation: d });
  const amPosts = (): number => rx.requests.filter((r) => r.path === '/am/api/v2/alerts').length;
  await until(() => amPosts() >= 2);
  bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'acknowledged'), previous: 'open', actor: 'alice' });
  const afterAck = amPosts();
  await until(() => amPosts() >= afterAck + 2);
  t.equal(rx.requests.filter((r) => r.path === '/hook').length, 1, 'the webhook heard once (re-notify interval 1h)');
  const last = JSON.parse(rx.requests.filter((r) => r.path === '/am/api/v2/alerts').at(-1)!.body.toString('utf8')) as AlertmanagerAlert[];
  t.ok(Date.parse(last[0]!.endsAt) > Date.now(), 'each re-post pushes endsAt ahead');
});

t.test('undeliverable notifications expire after retry.maxAge; metrics count every outcome', async (t) => {
  const rx = await receiver(t);
  rx.respond = () => 503;
  const db = openDb(t.testdir());
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  let skew = 0; // the clock jumps ahead by maxAge later
  const registry = new Registry();
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, retry: { initial: '10ms', max: '20ms', maxAge: '1h' }, sinks: [webhookSink(rx.url)] }), {
    clock: { now: () => Date.now() + skew },
    registry,
  });
  t.teardown(() => alerting.close());
  await alerting.start();
  const d = deviation();
  bus.emit({ type: 'deviation.created', deviation: d });
  await rx.waitFor(2);
  let text = await registry.metrics();
  t.match(text, /driftwatch_sink_queue_depth\{sink="hook"\} 1/);
  t.match(text, /driftwatch_sink_sends_total\{sink="hook",result="ok"\} 0/, 'series exist from the start');
  t.match(text, /driftwatch_sink_sends_total\{sink="hook",result="retry"\} [1-9]/);
  t.match(text, /driftwatch_alert_notifications_total\{kind="deviation",reason="new"\} 1/);
  skew = 2 * 3_600_000;
  await alerting.housekeeping();
  await until(async () => (await alerting.outbox.rows(`deviation:${d.id}`))[0]?.state === 'expired');
  text = await registry.metrics();
  t.match(text, /driftwatch_sink_sends_total\{sink="hook",result="expired"\} 1/);
  t.match(text, /driftwatch_sink_queue_depth\{sink="hook"\} 0/);
  t.match(text, /driftwatch_sink_failing\{sink="hook"\} 1/);
});

t.test('events missed in a crash are caught up from the deviations table at start', async (t) => {
  const dir = t.testdir();
  const db = openDb(dir);
  t.teardown(() => db.close());
  const at = new Date().toISOString();
  db.connection.run("INSERT INTO workloads (id, cluster, namespace, kind, name, container, created_at) VALUES (1, 'test', 'payments', 'Deployment', 'api', 'app', @at)", { at });
  db.connection.run("INSERT INTO baselines (id, workload_id, generation, phase, created_at, updated_at) VALUES (1, 1, 1, 'active', @at, @at)", { at });
  const insert = (d: ReturnType<typeof deviation>): void => {
    db.connection.run(
      `INSERT INTO deviations (id, baseline_id, workload_id, item_key, kind, severity, status, summary, detail, first_seen_ms, last_seen_ms, created_at, updated_at)
       VALUES (@id, 1, 1, @key, @kind, @sev, @status, @summary, '{}', @t, @t, @at, @at)`,
      { id: d.id, key: d.itemKey, kind: d.kind, sev: d.severity, status: d.status, summary: d.summary, t: d.firstSeenMs, at },
    );
  };
  const known = new Map<number, ReturnType<typeof deviation>>();
  const missed = deviation();
  known.set(missed.id, missed);
  insert(missed);
  const path = join(dir, 'out.jsonl');
  const config = alertingConfig({ ...FAST, sinks: [{ name: 'f', type: 'file', path }] });
  const service = { getDeviation: async (id: number) => known.get(id) };
  const read = (): AlertDocumentV1[] => readAlertFile(path);

  let alerting = startAlerting(db, new CollectorBus(), config, { deviations: service });
  await alerting.start();
  await until(() => read().length === 1);
  t.match(read()[0], { kind: 'deviation', status: 'firing', deviations: [{ id: missed.id }] }, 'the missed deviation is notified');
  await alerting.close();

  // Resolved while alerting was down: ended at the next start.
  db.connection.run("UPDATE deviations SET status = 'resolved' WHERE id = @id", { id: missed.id });
  known.set(missed.id, withStatus(missed, 'resolved'));
  alerting = startAlerting(db, new CollectorBus(), config, { deviations: service });
  t.teardown(() => alerting.close());
  await alerting.start();
  await until(() => read().length === 2);
  t.match(read()[1], { status: 'resolved', key: `deviation:${missed.id}` });
});
