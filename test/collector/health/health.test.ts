/** Health alerts: missing data is raised as distinct alerts and ended when it recovers. */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import type { AgentStatus, CollectorEvent, HealthEvent } from '../../../common/deviations.js';
import { silentLogger } from '../../../common/logger.js';
import { CollectorBus } from '../../../collector/events.js';
import { HealthMonitor, sourceSamples, toCount, type HealthSettings } from '../../../collector/health/monitor.js';
import type { AlertDocumentV1 } from '../../../collector/sinks/document.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { alertingConfig, deviation, FAST, readAlertFile, startAlerting, until, withStatus } from '../../helpers/alerting.js';

const SETTINGS: HealthSettings = {
  checkIntervalMs: 3_600_000,
  disconnectedAfterMs: 60_000,
  forgetAfterMs: 86_400_000,
  silentAfterMs: 600_000,
  silentFactor: 4,
  dropRatio: 0.01,
  malformedRatio: 0.01,
  minEvents: 100,
};

function agent(over: Partial<Omit<AgentStatus, 'sources'>> & { sourceCounters?: unknown[] }, nowMs: number): AgentStatus {
  const { sourceCounters, ...rest } = over;
  return {
    instanceId: 'i-1',
    node: 'node-1',
    cluster: 'test',
    version: '0.1.0',
    sources: ['tetragon'],
    connected: true,
    firstSeenAt: new Date(nowMs - 3_600_000).toISOString(),
    lastSeenAt: new Date(nowMs).toISOString(),
    counters: { sources: sourceCounters ?? [], shipDropped: 0 },
    ...rest,
  };
}

function harness(t: Test, openKeys: string[] = []) {
  let now = Date.parse('2026-11-30T10:00:00Z');
  let agents: AgentStatus[] = [];
  const bus = new CollectorBus();
  const events: HealthEvent[] = [];
  bus.subscribe((e: CollectorEvent) => {
    if (e.type === 'health') events.push(e.health);
  });
  const monitor = new HealthMonitor({ bus, agents: { list: async () => agents }, settings: SETTINGS, now: () => now, openKeys: async () => openKeys, logger: silentLogger() });
  t.teardown(() => monitor.close());
  return {
    bus,
    events,
    monitor,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
    setAgents: (a: AgentStatus[]) => (agents = a),
  };
}

t.test('counters as the collector stores them (numbers, strings, Long objects)', async (t) => {
  t.equal(toCount(5), 5);
  t.equal(toCount('12'), 12);
  t.equal(toCount({ low: 1, high: 1, unsigned: true }), 2 ** 32 + 1);
  t.equal(toCount(null), 0);
  t.same(sourceSamples({ sources: [{ source: 'tetragon', seen: { low: 10, high: 0 }, dropped: 1, malformed: 0, lastEventMs: 99 }], shipDropped: '3' }), {
    sources: [{ source: 'tetragon', seen: 10, dropped: 1, malformed: 0, lastEventMs: 99, rejected: null, sensorLost: 0, sensorEvents: 0, sensorThrottled: 0, sensorGaps: 0, sensorGapMs: 0 }],
    shipDropped: 3,
  });
  t.same(
    sourceSamples({ sources: [{ source: 'falco', rejected: { 'too-large': '2', 'from-the-future': 1, 'also-unknown': { low: 2, high: 0 } }, sensorLost: '7', sensorEvents: 100, sensorThrottled: 1 }] }).sources[0],
    { source: 'falco', seen: 0, dropped: 0, malformed: 0, lastEventMs: 0, rejected: { 'too-large': 2, other: 3 }, sensorLost: 7, sensorEvents: 100, sensorThrottled: 1, sensorGaps: 0, sensorGapMs: 0 },
    'rejections by reason (unknown reasons summed as other: health keys stay bounded) and sensor loss',
  );
});

t.test('agent disconnected: raised after the grace period, ended on reconnect', async (t) => {
  const h = harness(t);
  await h.monitor.start();
  h.setAgents([agent({ connected: false }, h.now)]);
  await h.monitor.check();
  t.equal(h.events.length, 0, 'within the grace period: nothing yet');
  h.advance(61_000);
  await h.monitor.check();
  await h.monitor.check();
  t.match(h.events, [{ kind: 'agent-disconnected', key: 'agent-disconnected/test/node-1', node: 'node-1', resolved: false, severity: 'high' }], 'raised once');
  h.bus.emit({ type: 'agent.connected', agent: agent({}, h.now) });
  t.match(h.events[1], { kind: 'agent-disconnected', resolved: true });
});

t.test('a source silent for longer than usual; recovers', async (t) => {
  const h = harness(t);
  await h.monitor.start();
  const src = (lastEventMs: number, seen: number) => [{ source: 'tetragon', seen, dropped: 0, malformed: 0, lastEventMs }];
  let last = h.now;
  let seen = 0;
  for (let i = 0; i < 5; i++) {
    h.advance(30_000);
    last += 30_000;
    seen += 10;
    h.setAgents([agent({ sourceCounters: src(last, seen) }, h.now)]);
    await h.monitor.check();
  }
  t.equal(h.events.length, 0, 'regular events: healthy');
  h.advance(11 * 60_000);
  h.setAgents([agent({ sourceCounters: src(last, seen) }, h.now)]);
  await h.monitor.check();
  t.match(h.events, [{ kind: 'source-silent', key: 'source-silent/test/node-1/tetragon', resolved: false, detail: { source: 'tetragon' } }]);
  h.advance(30_000);
  h.setAgents([agent({ sourceCounters: src(h.now, seen + 1) }, h.now)]);
  await h.monitor.check();
  t.match(h.events[1], { kind: 'source-silent', resolved: true });
});

t.test('events dropped / malformed above the threshold; ended when they stop', async (t) => {
  const h = harness(t);
  await h.monitor.start();
  const src = (seen: number, dropped: number, malformed: number) => [{ source: 'falco', seen, dropped, malformed, lastEventMs: h.now }];
  h.setAgents([agent({ sourceCounters: src(1000, 0, 0) }, h.now)]);
  await h.monitor.check();
  h.advance(30_000);
  h.setAgents([agent({ sourceCounters: src(11_000, 500, 5) }, h.now)]);
  await h.monitor.check();
  t.match(h.events, [{ kind: 'events-dropped', key: 'events-dropped/test/node-1/falco', resolved: false, detail: { dropped: 500, seen: 10_000 } }], 'malformed 5 < minEvents: not raised');
  h.advance(30_000);
  h.setAgents([agent({ sourceCounters: src(11_000, 500, 5) }, h.now)]);
  await h.monitor.check();
  t.equal(h.events.length, 1, 'no new counters: undecided, still open');
  h.advance(30_000);
  h.setAgents([agent({ sourceCounters: src(21_000, 500, 1005) }, h.now)]);
  await h.monitor.check();
  t.match(h.events.slice(1), [{ kind: 'events-malformed', resolved: false }, { kind: 'events-dropped', resolved: true }]);
  h.advance(30_000);
  h.setAgents([agent({ counters: { sources: src(31_000, 500, 1005), shipDropped: 400 } }, h.now)]);
  await h.monitor.check();
  h.advance(30_000);
  h.setAgents([agent({ counters: { sources: src(41_000, 500, 1005), shipDropped: 9000 } }, h.now)]);
  await h.monitor.check();
  t.ok(h.events.some((e) => e.key === 'events-dropped/test/node-1/shipper' && !e.resolved), 'the shipper dropping is raised too');
});

t.test('tracks of pruned, forgotten or replaced agents are dropped', async (t) => {
  const h = harness(t);
  await h.monitor.start();
  const src = [{ source: 'tetragon', seen: 10, dropped: 0, malformed: 0, lastEventMs: h.now }];
  const fleet = (n: number, over: Partial<AgentStatus> = {}) => Array.from({ length: n }, (_v, i) => agent({ instanceId: `i-${i}`, node: `node-${i}`, sourceCounters: src, ...over }, h.now));
  h.setAgents(fleet(3));
  await h.monitor.check();
  t.equal(h.monitor.tracked, 9, 'per agent: one source and one shipper track, and one input-loss track per source');
  h.setAgents(fleet(3).slice(0, 2));
  await h.monitor.check();
  t.equal(h.monitor.tracked, 6, 'an agent row pruned from the table: its tracks go');
  h.setAgents([agent({ instanceId: 'i-0b', node: 'node-0', sourceCounters: src }, h.now), fleet(2)[1]!]);
  await h.monitor.check();
  t.equal(h.monitor.tracked, 6, 'a new instance on a node replaces the old one');
  const stale = [agent({ instanceId: 'i-1', node: 'node-1', connected: false, sourceCounters: src }, h.now)];
  h.setAgents(stale);
  h.advance(3_600_000);
  await h.monitor.check();
  t.equal(h.monitor.tracked, 0, 'a disconnected agent keeps no tracks (it starts over when it is back): as many as the connected agents');
  h.advance(SETTINGS.forgetAfterMs);
  await h.monitor.check();
  t.equal(h.monitor.tracked, 0, 'forgotten after health.forgetAfter: nothing is kept');
});

t.test('baseline overflow deviation → health alert; open alerts from before a restart end when cleared', async (t) => {
  const h = harness(t, ['source-silent/test/node-1/tetragon', 'something-else/by-another-producer']);
  await h.monitor.start();
  const d = deviation({ kind: 'baseline-overflow', severity: 'medium', summary: 'baseline full' });
  h.bus.emit({ type: 'deviation.created', deviation: d });
  t.match(h.events[0], { kind: 'baseline-overflow', key: 'baseline-overflow/test/payments/Deployment/api/app', namespace: 'payments', resolved: false, detail: { workload: { name: 'api' } } });
  h.bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'resolved'), previous: 'open', actor: 'alice' });
  t.match(h.events[1], { kind: 'baseline-overflow', resolved: true });
  h.setAgents([agent({ sourceCounters: [{ source: 'tetragon', seen: 1, dropped: 0, malformed: 0, lastEventMs: h.now }] }, h.now)]);
  await h.monitor.check();
  t.match(h.events[2], { key: 'source-silent/test/node-1/tetragon', resolved: true }, 'seeded open alert ended');
  t.equal(h.events.length, 3, 'keys of other producers are left alone');
});

t.test('through the alerting component: a disconnected agent in the agents table reaches the sinks', async (t) => {
  const dir = t.testdir();
  const db = new SqliteStore({ dataDir: dir });
  t.teardown(() => db.close());
  const agents = db.agents;
  let now = Date.now();
  const at = (): string => new Date(now).toISOString();
  await agents.hello({ instanceId: 'i-9', node: 'node-9', cluster: 'test', version: '0.1.0', sources: ['tetragon'] }, at());
  await agents.disconnected('i-9', at());
  const bus = new CollectorBus();
  const path = join(dir, 'alerts.jsonl');
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, health: { disconnectedAfter: '1m' }, sinks: [{ name: 'f', type: 'file', path }] }), { clock: { now: () => now } });
  t.teardown(() => alerting.close());
  await alerting.start();
  const read = (): AlertDocumentV1[] => readAlertFile(path);
  await alerting.checkHealth();
  now += 30_000;
  await alerting.checkHealth();
  t.equal((await alerting.outbox.queueStats()).length, 0, 'within the grace period: nothing queued');
  now += 60_000;
  await alerting.checkHealth();
  await until(() => read().length === 1);
  t.match(read()[0], { kind: 'health', alertname: 'DriftwatchAgentDisconnected', status: 'firing', severity: 'high', health: { node: 'node-9' } });
  await agents.hello({ instanceId: 'i-10', node: 'node-9', cluster: 'test', version: '0.1.0', sources: ['tetragon'] }, at());
  bus.emit({ type: 'agent.connected', agent: (await agents.get('i-10'))! });
  await until(() => read().length === 2);
  t.match(read()[1], { alertname: 'DriftwatchAgentDisconnected', status: 'resolved' });
});

t.test('sensor loss and rejections: raised on any increase, with the rate; ended after a quiet period', async (t) => {
  const h = harness(t);
  await h.monitor.start();
  const src = (seen: number, malformed: number, sensorLost: number) => [{ source: 'falco', seen, dropped: 0, malformed, lastEventMs: h.now, rejected: malformed ? { 'too-large': malformed } : {}, sensorLost, sensorEvents: 0, sensorThrottled: 0 }];
  h.advance(1000);
  const fresh = (counters: unknown[]) => agent({ firstSeenAt: new Date(h.now - 500).toISOString(), sourceCounters: counters }, h.now);
  h.setAgents([fresh(src(900, 2, 100))]);
  await h.monitor.check();
  t.match(
    h.events,
    [
      { kind: 'sensor-loss', key: 'sensor-loss/test/node-1/falco', node: 'node-1', severity: 'high', detail: { lost: 100, received: 900, lossPercent: 10 } },
      { kind: 'observations-rejected', key: 'observations-rejected/test/node-1/falco/too-large', severity: 'medium', detail: { reason: 'too-large', count: 2 } },
    ],
    'an agent that connected after the monitor started: its first counters count from zero',
  );
  t.notOk(h.events.some((e) => e.kind === 'events-malformed'), 'rejections by reason replace the malformed ratio alert');
  // Quiet period: max(2 check intervals, 10 min) = 2 h with this harness's hourly checks.
  h.advance(30 * 60_000);
  h.setAgents([fresh(src(1900, 3, 150))]);
  await h.monitor.check();
  h.advance(100 * 60_000);
  h.setAgents([fresh(src(2900, 3, 150))]);
  await h.monitor.check();
  t.equal(h.events.length, 2, 'still open while losses keep coming within the quiet period');
  h.advance(21 * 60_000);
  await h.monitor.check();
  t.match(h.events.slice(2), [{ kind: 'sensor-loss', resolved: true }, { kind: 'observations-rejected', resolved: true }], 'ended a quiet period after the last increase');
});

t.test('sensor gaps (the agent lost its stream from Tetragon and got it back) are sensor loss, with their duration', async (t) => {
  const h = harness(t);
  await h.monitor.start();
  const src = (sensorGaps: number, sensorGapMs: string) => [{ source: 'tetragon-grpc', seen: 100, dropped: 0, malformed: 0, lastEventMs: h.now, rejected: {}, sensorLost: 0, sensorEvents: 0, sensorThrottled: 0, sensorGaps, sensorGapMs }];
  h.advance(1000);
  const fresh = (counters: unknown[]) => agent({ firstSeenAt: new Date(h.now - 500).toISOString(), sourceCounters: counters }, h.now);
  h.setAgents([fresh(src(0, '0'))]);
  await h.monitor.check();
  t.same(h.events, [], 'no gap, no alert');
  h.advance(60_000);
  h.setAgents([fresh(src(2, '3500'))]);
  await h.monitor.check();
  t.match(h.events, [{ kind: 'sensor-loss', key: 'sensor-loss/test/node-1/tetragon-grpc', node: 'node-1', severity: 'high', summary: /out of reach 2 time\(s\) for 3\.5 s/, detail: { gaps: 2, gapSeconds: 3.5, lost: 0 } }]);
});

t.test('after a collector restart, counts already there are a starting point, not a new loss', async (t) => {
  const h = harness(t, ['sensor-loss/test/node-1/falco']);
  await h.monitor.start();
  const counters = [{ source: 'falco', seen: 10, dropped: 0, malformed: 1, lastEventMs: h.now, rejected: { undecodable: 1 }, sensorLost: 50, sensorEvents: 0, sensorThrottled: 0 }];
  h.setAgents([agent({ sourceCounters: counters }, h.now)]);
  await h.monitor.check();
  t.same(h.events, [], 'an agent known before the restart: nothing raised again, the open alert is kept for its quiet period');
  h.advance(121 * 60_000);
  h.setAgents([agent({ sourceCounters: counters }, h.now)]);
  await h.monitor.check();
  t.match(h.events.filter((e) => e.kind === 'sensor-loss'), [{ key: 'sensor-loss/test/node-1/falco', resolved: true }], 'then it ends');
});
