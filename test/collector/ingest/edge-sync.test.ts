/**
 * Edge baselines reach the agent and stay in step with the collector: in messages of bounded size
 * whatever the node runs (1,000 workloads × 200 items is almost 10 MiB of baselines, past gRPC's
 * 4 MiB receive limit twice over), for workloads seen while the stream is still opening, again after a
 * reconnect (only what changed), and with per-agent metrics that show an agent lagging behind.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../cli/config.js';
import { silentLogger } from '../../../common/logger.js';
import type { EdgeBaseline } from '../../../common/edge-baseline.js';
import { workloadKey, type WorkloadId } from '../../../common/model.js';
import { INGEST_SERVICE, type AgentMessage, type CollectorMessage } from '../../../common/wire.js';
import { CollectorBus } from '../../../collector/events.js';
import { IngestServer } from '../../../collector/ingest/server.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { EdgeFilter } from '../../../agent/filter/edge-filter.js';
import { Shipper } from '../../../agent/ship/shipper.js';
import { RecordingEngine } from '../../helpers/null-engine.js';
import { processObservation } from '../../helpers/observations.js';
import { eventually, freePort } from '../../helpers/processes.js';

const workload = (i: number): WorkloadId => ({ cluster: 'c', namespace: `team-${i % 20}`, kind: 'Deployment', name: `service-${i}`, container: 'main' });

function baseline(w: WorkloadId, items: number, version = 1): EdgeBaseline {
  const allow = Array.from({ length: items }, (_, j) => `p|/usr/local/lib/${w.name}/bin/helper-number-${String(j).padStart(4, '0')}`).sort();
  return { workload: w, hash: `${w.name}-v${version}`, phase: 'active', allow, learningDedupWindowMs: 600_000, alwaysSend: [] };
}

/** The collector's edge baselines, changed at will by the test. */
class EdgeStore extends RecordingEngine {
  readonly baselines = new Map<string, EdgeBaseline>();
  private readonly listeners = new Set<(c: EdgeBaseline[]) => void>();

  set(b: EdgeBaseline): void {
    this.baselines.set(workloadKey(b.workload), b);
    for (const l of this.listeners) l([b]);
  }

  override async forWorkloads(workloads: readonly WorkloadId[]): Promise<EdgeBaseline[]> {
    return workloads.flatMap((w) => this.baselines.get(workloadKey(w)) ?? []);
  }

  override onChange(l: (c: EdgeBaseline[]) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

/** What a test needs to close what it opened. */
type Closes = { teardown(fn: () => unknown): void };

function config(port: number) {
  return loadConfig({
    env: {},
    overrides: { 'agent.node': 'n1', 'agent.collector.address': `127.0.0.1:${port}`, 'agent.ship.flushInterval': 5, 'collector.grpc.listen': `127.0.0.1:${port}` },
  });
}

async function collector(t: Closes, port: number, edge: EdgeStore, db: SqliteStore) {
  const registry = new Registry();
  const server = new IngestServer({ config: config(port).collector.grpc, cluster: 'c', store: db, unitOfWork: edge, edge, bus: new CollectorBus(), logger: silentLogger(), registry });
  await server.start();
  t.teardown(() => server.close());
  const gauge = async (name: string): Promise<number> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return Number(m?.values.find((v) => v.labels.node === 'n1')?.value ?? NaN);
  };
  return { server, registry, gauge };
}

/** A real agent shipper wired to a real edge filter, as agent/main.ts wires them. */
async function agent(t: Closes, port: number) {
  const filter = new EdgeFilter();
  const registry = new Registry();
  const upserted: EdgeBaseline[] = [];
  const shipper = new Shipper({
    config: config(port).agent,
    cluster: 'c',
    logger: silentLogger(),
    registry,
    sources: () => ['test'],
    counters: () => [],
    onSnapshot: (b) => filter.replaceAll(b),
    onDelta: (up, removed) => {
      upserted.push(...up);
      filter.upsert(up);
      filter.remove(removed);
    },
    heldHash: (w) => filter.hashOf(w),
    instanceId: 'n1-edge',
  });
  await shipper.start();
  t.teardown(() => shipper.close());
  const reconnects = async (): Promise<number> => Number((await registry.getSingleMetric('driftwatch_agent_collector_reconnects_total')!.get()).values[0]!.value);
  return { filter, shipper, upserted, reconnects };
}

t.test('1,000 workloads × 200 items (twice the 4 MiB gRPC limit in baselines) reach the agent, whose stream stays up', async (t) => {
  const port = await freePort();
  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const edge = new EdgeStore(db);
  const workloads = Array.from({ length: 1000 }, (_, i) => workload(i));
  for (const w of workloads) edge.set(baseline(w, 200));
  const bytes = [...edge.baselines.values()].reduce((n, b) => n + b.allow.reduce((m, k) => m + k.length, 0), 0);
  t.ok(bytes > 2 * 4 * 2 ** 20, `the node's baselines hold ${(bytes / 2 ** 20).toFixed(1)} MiB of items`);
  const { gauge } = await collector(t, port, edge, db);

  const a = await agent(t, port);
  // Announced at once, while the stream is still opening.
  for (const w of workloads) a.shipper.announceWorkload(w, workloadKey(w));
  await eventually(() => a.filter.stats().baselines === 1000, 'every baseline in force at the agent', 60_000);
  for (const w of workloads) if (a.filter.hashOf(w) !== edge.baselines.get(workloadKey(w))!.hash) t.fail(`${w.name}: agent holds another version`);
  t.equal(await a.reconnects(), 1, 'one stream, never re-opened');
  a.shipper.enqueue(processObservation(1, { workload: workloads[0]! }));
  await eventually(() => a.shipper.queued === 0, 'the stream still carries batches');
  await eventually(async () => (await gauge('driftwatch_collector_agent_edge_pending_baselines')) === 0, 'the collector sees the agent in step');
  t.ok((await gauge('driftwatch_collector_agent_edge_version')) >= 10, 'sent in many bounded deltas, each acknowledged');
});

t.test('workloads seen before the collector first answers are announced; changes converge across a collector restart', async (t) => {
  const port = await freePort();
  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const edge = new EdgeStore(db);
  const [w1, w2, w3] = [workload(1), workload(2), workload(3)];
  for (const w of [w1, w2, w3]) edge.set(baseline(w, 5));
  let c = await collector(t, port, edge, db);
  const a = await agent(t, port);
  for (const w of [w1, w2, w3]) a.shipper.announceWorkload(w, workloadKey(w));
  await eventually(() => a.filter.stats().baselines === 3, 'all three baselines arrived');

  // An activation while connected: pushed within the stream.
  edge.set(baseline(w1, 6, 2));
  await eventually(() => a.filter.hashOf(w1) === 'service-1-v2', 'a change reaches the agent');

  // The collector goes away; meanwhile one baseline changes and one disappears (relearn from scratch).
  await c.server.close();
  await eventually(() => !a.shipper.isConnected, 'disconnect noticed');
  edge.set(baseline(w2, 7, 2));
  edge.baselines.delete(workloadKey(w3));
  const before = a.upserted.length;
  c = await collector(t, port, edge, db);
  await eventually(() => a.filter.hashOf(w2) === 'service-2-v2' && a.filter.hashOf(w3) === undefined, 'the agent converges after reconnecting', 20_000);
  t.same(
    a.upserted.slice(before).map((b) => b.hash),
    ['service-2-v2'],
    'only the changed baseline is sent again',
  );
  await eventually(async () => (await c.gauge('driftwatch_collector_agent_edge_pending_baselines')) === 0, 'in step');
});

t.test('an agent that does not acknowledge its edge baselines shows as pending and lagging', async (t) => {
  const port = await freePort();
  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const edge = new EdgeStore(db);
  edge.set(baseline(workload(1), 5));
  const { gauge } = await collector(t, port, edge, db);
  const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const call = (client as unknown as { connect(): grpc.ClientDuplexStream<AgentMessage, CollectorMessage> }).connect();
  const got: CollectorMessage[] = [];
  call.on('data', (m: CollectorMessage) => got.push(m));
  call.on('error', () => undefined);
  t.teardown(() => call.cancel());
  call.write({ hello: { node: 'n1', instanceId: 'n1-old', cluster: 'c', agentVersion: 'old', sources: [] } });
  call.write({ workloads: { workloads: [workload(1)] } });
  await eventually(() => got.some((m) => m.delta), 'the delta was sent');
  await new Promise((r) => setTimeout(r, 1100));
  t.equal(await gauge('driftwatch_collector_agent_edge_pending_baselines'), 1, 'one baseline not in force at that agent');
  t.ok((await gauge('driftwatch_collector_agent_edge_lag_seconds')) >= 1, 'for as long as it has been sent');
  call.write({ edgeAck: { version: 1 } });
  await eventually(async () => (await gauge('driftwatch_collector_agent_edge_pending_baselines')) === 0, 'acknowledged: in step');
  t.equal(await gauge('driftwatch_collector_agent_edge_lag_seconds'), 0);
});
