/**
 * Many agent identities coming and going leave the collector's in-memory state bounded: the ingest
 * server's sessions, the health monitor's timers and counter tracks, the metrics' label sets — and
 * what an agent says about itself (sources, counters) is cut to a bound before it is stored.
 * Entries are counted (not RSS): the state after thousands of identities equals the state after ten.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../cli/config.js';
import { silentLogger } from '../../../common/logger.js';
import { INGEST_SERVICE, type AgentMessage, type CollectorMessage, type WireSourceCounters } from '../../../common/wire.js';
import { CollectorBus } from '../../../collector/events.js';
import { HealthMonitor } from '../../../collector/health/monitor.js';
import { IngestServer } from '../../../collector/ingest/server.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { RecordingEngine } from '../../helpers/null-engine.js';
import { eventually } from '../../helpers/processes.js';

const IDENTITIES = 2500;
/** The documented bound on what one agent may report about itself (collector/ingest/agent-counters.ts). */
const MAX_SOURCES_PER_AGENT = 16;
const PARALLEL = 200;
const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
type Call = grpc.ClientDuplexStream<AgentMessage, CollectorMessage>;

/** An agent that claims more than any agent runs: 40 sources, made-up rejection reasons. */
function counters(i: number): NonNullable<AgentMessage['counters']> {
  const sources = Array.from({ length: 40 }, (_, s) => ({ source: `src-${s}-${'x'.repeat(100)}`, seen: 10 + i, dropped: 0, malformed: 1, rejected: { [`made-up-${i}-${s}`]: 1 }, lastEventMs: Date.now() }) as unknown as WireSourceCounters);
  return { sources, shipDropped: 0 };
}

t.test(`${IDENTITIES} agent identities connecting and leaving: bounded collector state`, async (t) => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  const engine = new RecordingEngine(store);
  const bus = new CollectorBus();
  const registry = new Registry();
  const config = loadConfig({ env: {}, overrides: { cluster: 'prod', 'collector.grpc.listen': '127.0.0.1:0' } });
  const server = new IngestServer({ config: config.collector.grpc, cluster: 'prod', store, unitOfWork: engine, edge: engine, bus, logger: silentLogger(), registry });
  await server.start();
  const h = config.collector.alerting.health;
  const monitor = new HealthMonitor({
    bus,
    agents: store.agents,
    // The shipped defaults (2 min until a disconnect is alerted, 24 h until an agent is forgotten).
    settings: { checkIntervalMs: 3_600_000, disconnectedAfterMs: 120_000, forgetAfterMs: 86_400_000, silentAfterMs: 900_000, silentFactor: h.silentFactor, dropRatio: h.dropRatio, malformedRatio: h.malformedRatio, minEvents: h.minEvents },
    now: Date.now,
    openKeys: async () => [],
    logger: silentLogger(),
  });
  await monitor.start();
  const clients = Array.from({ length: 8 }, () => new Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()));
  t.teardown(async () => {
    for (const c of clients) c.close();
    await monitor.close();
    await server.close();
    await store.close();
  });

  /** One agent identity: hello, counters once acknowledged, then it leaves. */
  const visit = (i: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const call = (clients[i % clients.length] as unknown as { connect(): Call }).connect();
      const node = `node-${i}`;
      call.once('data', () => {
        call.write({ counters: counters(i) });
        call.end();
      });
      call.on('end', resolve);
      call.on('error', () => resolve());
      call.resume();
      call.write({ hello: { node, instanceId: `${node}-1`, cluster: 'prod', agentVersion: 'v'.repeat(500), sources: Array.from({ length: 40 }, (_, s) => `src-${s}`) } });
    });
  const run = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i += PARALLEL) await Promise.all(Array.from({ length: Math.min(PARALLEL, to - i) }, (_, j) => visit(i + j)));
    await eventually(async () => (await store.agents.list()).filter((a) => a.connected).length === 0, 'every stream to have ended');
    await monitor.check();
  };
  const labelSets = async (): Promise<number> => (await registry.getMetricsAsJSON()).reduce((n, m) => n + m.values.length, 0);
  const state = async () => ({ connected: server.readiness().detail, timers: monitor.pendingTimers, tracked: monitor.tracked, labelSets: await labelSets() });

  await run(0, 10);
  const afterTen = await state();
  await run(10, IDENTITIES);
  t.same(await state(), afterTen, `the state after ${IDENTITIES} identities is the state after 10`);
  t.ok(afterTen.timers <= 2, 'one periodic check and at most one pending disconnect confirmation');
  t.equal(afterTen.tracked, 0, 'no counter tracks of agents that are gone');

  const stored = (await store.agents.get('node-42-1'))!;
  t.equal(stored.sources.length, MAX_SOURCES_PER_AGENT, 'hello sources cut to the bound');
  t.equal(stored.version.length, 64, 'version cut');
  const sources = (stored.counters as { sources: { source: string; rejected: Record<string, number> }[] }).sources;
  t.equal(sources.length, MAX_SOURCES_PER_AGENT, 'counters: sources cut to the bound');
  t.ok(sources.every((s) => s.source.length <= 64 && Object.keys(s.rejected).join() === 'other'), 'names cut, unknown reasons summed as other');
  const cuts = (await registry.getSingleMetric('driftwatch_collector_agent_reports_cut_total')!.get()).values;
  t.same(
    Object.fromEntries(cuts.map((v) => [v.labels.what, v.value])),
    { sources: IDENTITIES * (40 - 16 + 40 - 16), reasons: IDENTITIES * 16, labels: IDENTITIES * (1 + 16) },
    'what was cut is counted',
  );
});
