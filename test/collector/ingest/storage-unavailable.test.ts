/**
 * Ingest while the store cannot take writes (issue 12 point 3), always runnable: SQLite's
 * `max_page_count` makes the real store answer SQLITE_FULL as on a full volume, and a real agent
 * shipper sends. The agent is told UNAVAILABLE, keeps its backlog, and everything is stored exactly
 * once after the store is probed available again. test/faults/disk-full.test.ts does the same with
 * real processes on a real full volume.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { Shipper } from '../../../agent/ship/shipper.js';
import { loadConfig } from '../../../cli/config.js';
import type { AgentStatus } from '../../../common/deviations.js';
import { silentLogger } from '../../../common/logger.js';
import { CollectorBus } from '../../../collector/events.js';
import { AgentPresence } from '../../../collector/ingest/presence.js';
import { IngestServer } from '../../../collector/ingest/server.js';
import { StorageUnavailableError, type AgentRepository } from '../../../collector/store/contract.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { RecordingEngine } from '../../helpers/null-engine.js';
import { processObservation } from '../../helpers/observations.js';
import { eventually, freePort } from '../../helpers/processes.js';

const BEFORE = 50;
const DURING = 500;

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

t.test('a full store: the agent is told UNAVAILABLE, keeps its backlog, and nothing is lost or stored twice', async (t) => {
  const port = await freePort();
  const config = loadConfig({
    env: {},
    overrides: { 'agent.node': 'n1', 'agent.collector.address': `127.0.0.1:${port}`, 'agent.ship.batchSize': 25, 'agent.ship.flushInterval': 5, 'collector.grpc.listen': `127.0.0.1:${port}` },
  });
  const store = new SqliteStore({ dataDir: t.testdir() });
  const engine = new RecordingEngine(store);
  const registry = new Registry();
  const server = new IngestServer({ config: config.collector.grpc, cluster: 'c', store, unitOfWork: engine, edge: engine, bus: new CollectorBus(), logger: silentLogger(), registry });
  await server.start();
  const shipper = new Shipper({ config: config.agent, cluster: 'c', logger: silentLogger(), registry: new Registry(), sources: () => [], counters: () => [], onSnapshot: () => undefined, onDelta: () => undefined });
  await shipper.start();
  t.teardown(async () => {
    await shipper.close();
    await server.close();
    await store.close();
  });

  for (let i = 0; i < BEFORE; i++) shipper.enqueue(processObservation(i));
  await eventually(async () => (await store.observations.count()) === BEFORE && shipper.queued === 0, 'the first observations stored');

  store.connection.exec('PRAGMA max_page_count = 1'); // the volume is full from here on
  for (let i = BEFORE; i < BEFORE + DURING; i++) shipper.enqueue(processObservation(i));
  await eventually(() => !store.storage().available && !shipper.isConnected, 'the store to turn unavailable and the agent to be sent away');
  t.ok((await metric(registry, 'driftwatch_collector_ingest_unavailable_total')) >= 1, 'refusals are counted');
  t.equal(await store.observations.count(), BEFORE, 'no batch partly stored');
  t.equal(shipper.queued, DURING, 'the agent keeps every observation it could not deliver');
  await new Promise((r) => setTimeout(r, 300)); // reconnect attempts meanwhile are refused at hello
  t.equal(await store.observations.count(), BEFORE, 'nothing acknowledged or stored while unavailable');

  store.connection.exec('PRAGMA max_page_count = 1073741823'); // space returns
  t.same(await store.probeStorage(), { available: true }, 'the probe finds the store writable');
  await eventually(() => shipper.queued === 0, 'the backlog to drain', 30_000);
  t.equal(await store.observations.count(), BEFORE + DURING, 'every observation stored');
  t.equal(new Set(engine.seen.map((o) => (o.kind === 'process' ? o.process.execId : ''))).size, BEFORE + DURING, 'each exactly once');
});

/** An agents table that refuses writes while `full`. */
function refusingAgents(): { agents: AgentRepository; full: { on: boolean }; connected: Set<string>; resets: number[] } {
  const full = { on: true };
  const connected = new Set<string>(['a-1', 'a-2']);
  const resets: number[] = [];
  const refuse = () => {
    if (full.on) throw new StorageUnavailableError('disk-full', 'SQLITE_FULL', 'the database volume is full');
  };
  const status = (instanceId: string): AgentStatus => ({ instanceId, connected: connected.has(instanceId) }) as AgentStatus;
  const agents = {
    markAllDisconnected: async () => (refuse(), connected.clear(), void resets.push(Date.now())),
    disconnected: async (id: string) => (refuse(), void connected.delete(id)),
    get: async (id: string) => status(id),
  } as Partial<AgentRepository> as AgentRepository;
  return { agents, full, connected, resets };
}

t.test('what the agents table missed while the store refused writes is recorded before the next agent is accepted', async (t) => {
  const { agents, full, connected, resets } = refusingAgents();
  const bus = new CollectorBus();
  const events: string[] = [];
  bus.subscribe((e) => e.type === 'agent.disconnected' && events.push(e.agent.instanceId));
  const live = new Set<string>();
  const presence = new AgentPresence({ agents, bus, logger: silentLogger(), isConnected: (id) => live.has(id) });

  await t.resolves(presence.reset(), 'a collector started on a full volume starts');
  await t.resolves(presence.disconnected('a-1'), 'a disconnect on a full volume does not throw out of the stream handler');
  await t.rejects(presence.catchUp(), StorageUnavailableError, 'no agent is accepted while it cannot be recorded');
  t.same([...connected].sort(), ['a-1', 'a-2'], 'nothing was written');

  full.on = false;
  await Promise.all([presence.catchUp(), presence.catchUp()]);
  t.equal(resets.length, 1, 'the reset at start is done once, by the first agent accepted');
  t.same([...connected], [], 'no agent is left marked connected');

  // A disconnect during a later outage; the agent reconnects before the store is writable again.
  connected.add('a-3');
  full.on = true;
  await presence.disconnected('a-3');
  live.add('a-3');
  full.on = false;
  await presence.catchUp();
  t.same([...connected], ['a-3'], 'an agent that reconnected meanwhile is not marked gone');
  t.same(events, [], 'and no disconnect is announced for it');
});
