import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../cli/config.js';
import { silentLogger } from '../../../common/logger.js';
import type { EdgeBaseline } from '../../../common/edge-baseline.js';
import { CollectorBus } from '../../../collector/events.js';
import { IngestServer } from '../../../collector/ingest/server.js';
import type { Store } from '../../../collector/store/contract.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { Shipper, type ShipperOptions } from '../../../agent/ship/shipper.js';
import { INGEST_SERVICE, decodeAgentMessage, encodeAgentMessage, encodeBatchMessage, encodeObservationMessage, observationToWire, toNumber, type AgentMessage, type CollectorMessage } from '../../../common/wire.js';
import { RecordingEngine } from '../../helpers/null-engine.js';
import { processObservation } from '../../helpers/observations.js';
import { eventually, freePort, reservePort } from '../../helpers/processes.js';
import { postgresCluster } from '../../helpers/postgres.js';
import { openPostgresStore } from '../../../collector/store/postgres/store.js';

const workload = { cluster: 'c', namespace: 'ns', kind: 'Deployment' as const, name: 'web', container: 'nginx' };

const obs = (i: number) => processObservation(i, { workload });

function config(port: number, queueLimit = 100_000, queueBytes = 33_554_432) {
  return loadConfig({
    env: {},
    overrides: {
      'agent.node': 'n1',
      'agent.collector.address': `127.0.0.1:${port}`,
      'agent.ship.batchSize': 10,
      'agent.ship.flushInterval': 5,
      'agent.ship.queueLimit': queueLimit,
      'agent.ship.queueBytes': queueBytes,
      'collector.grpc.listen': `127.0.0.1:${port}`,
    },
  });
}

/** A shipper with no sources; `opts` overrides what a test cares about. */
function shipperFor(agent: ShipperOptions['config'], opts: Partial<ShipperOptions> = {}): Shipper {
  return new Shipper({
    config: agent,
    cluster: 'c',
    logger: silentLogger(),
    registry: new Registry(),
    sources: () => [],
    counters: () => [],
    onSnapshot: () => undefined,
    onDelta: () => undefined,
    ...opts,
  });
}

class EdgeEngine extends RecordingEngine {
  listeners: ((c: EdgeBaseline[]) => void)[] = [];
  override onChange(l: (c: EdgeBaseline[]) => void): () => void {
    this.listeners.push(l);
    return () => undefined;
  }
}

function ingest(store: Store, port: number, engine: RecordingEngine): IngestServer {
  return new IngestServer({ config: config(port).collector.grpc, cluster: 'c', store, unitOfWork: engine, edge: engine, bus: new CollectorBus(), logger: silentLogger(), registry: new Registry() });
}

t.test('un-acked batches are re-sent after the collector restarts, and stored once', async (t) => {
  const port = await freePort();
  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const engine = new RecordingEngine(db);
  let server = ingest(db, port, engine);
  await server.start();
  const shipper = shipperFor(config(port).agent, { sources: () => ['test'], instanceId: 'n1-fixed' });
  await shipper.start();
  t.teardown(() => shipper.close());
  shipper.announceWorkload(workload, 'w');
  await eventually(() => shipper.isConnected, 'connected');
  for (let i = 0; i < 100; i++) shipper.enqueue(obs(i));
  await eventually(() => shipper.queued === 0, 'first 100 acknowledged');
  t.equal(engine.seen.length, 100);

  await server.close();
  await eventually(() => !shipper.isConnected, 'disconnect noticed');
  let accepted = 0;
  for (let i = 100; i < 250; i++) if (shipper.enqueue(obs(i))) accepted++;
  t.equal(accepted, 150, 'accepted while disconnected');
  t.equal(shipper.queued, 150, 'queued while the collector is away');

  server = ingest(db, port, engine);
  await server.start();
  t.teardown(() => server.close());
  await eventually(() => shipper.queued === 0, 'everything acknowledged after restart', 20_000);
  t.equal(engine.seen.length, 250, 'each observation evaluated exactly once');
  t.equal(db.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations')!.n, 250);
  t.equal(db.connection.get<{ last_seq: number }>(`SELECT last_seq FROM agents WHERE instance_id = 'n1-fixed'`)!.last_seq, 25);
});

t.test('a re-sent batch the collector already stored is acknowledged, not stored again', async (t) => {
  const port = await freePort();
  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const engine = new EdgeEngine(db);
  const server = ingest(db, port, engine);
  await server.start();
  t.teardown(() => server.close());
  const make = () =>
    shipperFor(config(port).agent, { instanceId: 'n1-same-instance' });
  const a = make();
  await a.start();
  await eventually(() => a.isConnected, 'connected');
  for (let i = 0; i < 30; i++) a.enqueue(obs(i));
  await eventually(() => a.queued === 0, 'acknowledged');
  await a.close();
  // Same instance, same sequence numbers (as after a lost ack): the collector keeps the first copy.
  const b = make();
  await b.start();
  t.teardown(() => b.close());
  await eventually(() => b.isConnected, 'connected again');
  for (let i = 0; i < 30; i++) b.enqueue(obs(i));
  await eventually(() => b.queued === 0, 'acknowledged again');
  t.equal(engine.seen.length, 30, 'duplicates never reach the engine');
  t.equal(db.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations')!.n, 30);
});

t.test('the queue is bounded: enqueue refuses beyond queueLimit and capacity returns after acks', async (t) => {
  const reserved = await reservePort();
  const port = reserved.port;
  const shipper = shipperFor(config(port, 100).agent);
  await shipper.start();
  t.teardown(() => shipper.close());
  let accepted = 0;
  for (let i = 0; i < 150; i++) if (shipper.enqueue(obs(i))) accepted++;
  t.equal(accepted, 100, 'no more than queueLimit while the collector is unreachable');
  let resumed = false;
  void shipper.waitForCapacity().then(() => (resumed = true));

  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  await reserved.release();
  const server = ingest(db, port, new RecordingEngine(db));
  await server.start();
  t.teardown(() => server.close());
  await eventually(() => resumed, 'back-pressure released once the collector acknowledged', 20_000);
  t.pass();
});

t.test('a batch framed from encoded observations decodes as the same AgentMessage', async (t) => {
  const wire = [obs(1), obs(2), obs(3)].map(observationToWire);
  const framed = encodeBatchMessage(7, wire.map((w) => encodeObservationMessage(w)));
  t.same(decodeAgentMessage(framed), decodeAgentMessage(encodeAgentMessage({ batch: { seq: 7, observations: wire } })));
  t.equal(Buffer.compare(framed, encodeAgentMessage({ batch: { seq: 7, observations: wire } })), 0, 'byte for byte');
});

t.test('the queue is bounded in bytes: what it refuses is counted by the caller, everything accepted is stored once', async (t) => {
  const reserved = await reservePort();
  const port = reserved.port;
  const limit = 64 * 1024;
  const shipper = shipperFor(config(port, 100_000, limit).agent);
  await shipper.start();
  t.teardown(() => shipper.close());
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 2_000; i++) {
    if (shipper.enqueue(obs(i))) accepted++;
    else refused++;
  }
  t.equal(accepted + refused, 2_000);
  t.ok(refused > 0, `${refused} refused while the collector is unreachable`);
  t.equal(shipper.queued, accepted, 'every accepted observation is queued');
  t.ok(shipper.queuedBytes >= limit && shipper.queuedBytes < limit + 1_000, `queued bytes ${shipper.queuedBytes} stop at the bound (one observation over at most)`);

  const db = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const engine = new RecordingEngine(db);
  await reserved.release();
  const server = ingest(db, port, engine);
  await server.start();
  t.teardown(() => server.close());
  await eventually(() => shipper.queued === 0, 'all acknowledged', 20_000);
  t.equal(engine.seen.length, accepted, 'stored = accepted');
  t.equal(shipper.queuedBytes, 0, 'byte accounting returns to zero');
});

/** A collector that answers the hello, then stops reading its stream (HTTP/2 flow control fills). */
async function stalledCollector(port: number): Promise<{ received: () => number[]; observations: () => number; resume(): void; close(): Promise<void> }> {
  const server = new grpc.Server();
  const seqs: number[] = [];
  let observations = 0;
  let stream: grpc.ServerDuplexStream<AgentMessage, CollectorMessage> | undefined;
  server.addService(INGEST_SERVICE, {
    connect: (call: grpc.ServerDuplexStream<AgentMessage, CollectorMessage>) => {
      stream = call;
      call.on('data', (m: AgentMessage) => {
        if (m.hello) {
          call.write({ snapshot: { version: 1, baselines: [] } });
          call.pause();
        }
        if (m.batch) {
          seqs.push(toNumber(m.batch.seq));
          observations += m.batch.observations?.length ?? 0;
          call.write({ ack: { seq: m.batch.seq } });
        }
      });
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return { received: () => seqs, observations: () => observations, resume: () => stream?.resume(), close: () => new Promise((r) => server.tryShutdown(() => r())) };
}

t.test('honours the stream back-pressure: batches wait in the queue (counted) until the collector reads again', async (t) => {
  const port = await freePort();
  const collector = await stalledCollector(port);
  t.teardown(() => collector.close());
  const shipper = shipperFor(config(port).agent);
  await shipper.start();
  t.teardown(() => shipper.close());
  await eventually(() => shipper.isConnected, 'connected');
  // 2 KB each: the HTTP/2 window fills after a few batches.
  const big = (i: number) => ({ ...obs(i), process: { ...obs(i).process, args: 'x'.repeat(2_000) } });
  let accepted = 0;
  for (let i = 0; i < 4_000; i++) {
    if (shipper.enqueue(big(i))) accepted++;
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  await eventually(() => shipper.blocked, 'the stream asked the shipper to wait');
  t.equal(accepted, 4_000);
  t.equal(shipper.queued, accepted, 'nothing acknowledged, nothing lost: all counted in the queue');
  collector.resume();
  await eventually(() => shipper.queued === 0, 'everything acknowledged once the collector reads', 20_000);
  const seqs = collector.received();
  t.equal(collector.observations(), accepted, 'every observation arrived');
  t.same(seqs, seqs.map((_, i) => i + 1), 'batches in order, each once');
  t.notOk(shipper.blocked);
});

t.test('what is not acknowledged when the agent stops is counted as shipDropped and sent with the last counters', async (t) => {
  const reserved = await reservePort();
  t.teardown(() => reserved.release());
  const shipper = shipperFor(config(reserved.port).agent);
  await shipper.start();
  for (let i = 0; i < 25; i++) shipper.enqueue(obs(i));
  await shipper.close();
  t.equal(shipper.shipDropped, 25);
});

t.test('a missing client certificate fails start-up with a clear error, not a reconnect loop', async (t) => {
  const c = config(1);
  const shipper = shipperFor({ ...c.agent, collector: { ...c.agent.collector, tls: { ca: '/nonexistent/ca.crt', cert: '/nonexistent/tls.crt', key: '/nonexistent/tls.key' } } });
  await t.rejects(shipper.start(), /cannot read CA \/nonexistent\/ca\.crt: ENOENT/);
  await shipper.close();
});

t.test('with several collector addresses the agent moves to the next replica when its own goes away: every observation stored once', async (t) => {
  const cluster = await postgresCluster(t);
  if (!cluster) return;
  const db = await cluster.database();
  const [portA, portB] = [await freePort(), await freePort()];
  const replicas = await Promise.all(
    [portA, portB].map(async (port) => {
      const store = await openPostgresStore(db);
      const engine = new RecordingEngine(store);
      const server = ingest(store, port, engine);
      await server.start();
      t.teardown(async () => (await server.close(), await store.close()));
      return { store, engine, server };
    }),
  );
  const agent = loadConfig({ env: {}, overrides: { 'agent.node': 'n1', 'agent.collector.addresses': [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`], 'agent.ship.batchSize': 10, 'agent.ship.flushInterval': 5 } }).agent;
  const shipper = shipperFor(agent, { instanceId: 'n1-replicas' });
  await shipper.start();
  t.teardown(() => shipper.close());
  await eventually(() => shipper.isConnected, 'connected');
  for (let i = 0; i < 100; i++) shipper.enqueue(obs(i));
  await eventually(() => shipper.queued === 0, 'first 100 acknowledged');
  t.equal(replicas[0]!.engine.seen.length, 100, 'the first address streams');
  // Mid-stream: batches queued and in flight when the replica goes.
  for (let i = 100; i < 250; i++) shipper.enqueue(obs(i));
  await replicas[0]!.server.close();
  await eventually(() => shipper.queued === 0, 'everything acknowledged by the other replica', 20_000);
  t.ok(replicas[1]!.engine.seen.length > 0, 'the second replica took over');
  t.equal(await replicas[1]!.store.observations.count(), 250, 'each observation stored exactly once');
  t.equal(await replicas[1]!.store.agents.lastSeq('n1-replicas'), 25);
});

t.test('a replica that starts leaves the agents connected to another replica connected', async (t) => {
  const cluster = await postgresCluster(t);
  if (!cluster) return;
  const db = await cluster.database();
  const [portA, portB] = [await freePort(), await freePort()];
  const storeA = await openPostgresStore(db);
  const serverA = ingest(storeA, portA, new RecordingEngine(storeA));
  await serverA.start();
  t.teardown(async () => (await serverA.close(), await storeA.close()));
  const shipper = shipperFor(config(portA).agent, { instanceId: 'n1-on-a' });
  await shipper.start();
  t.teardown(() => shipper.close());
  await eventually(async () => (await storeA.agents.get('n1-on-a'))?.connected === true, 'connected to replica a');
  const storeB = await openPostgresStore(db);
  const serverB = ingest(storeB, portB, new RecordingEngine(storeB));
  await serverB.start();
  t.teardown(async () => (await serverB.close(), await storeB.close()));
  t.equal((await storeB.agents.get('n1-on-a'))?.connected, true, 'still connected (to replica a)');
});
