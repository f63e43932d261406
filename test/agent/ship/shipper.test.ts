import t from 'tap';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../cli/config.js';
import { silentLogger } from '../../../common/logger.js';
import type { EdgeBaseline } from '../../../common/edge-baseline.js';
import { CollectorBus } from '../../../collector/events.js';
import { IngestServer } from '../../../collector/ingest/server.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { Shipper, type ShipperOptions } from '../../../agent/ship/shipper.js';
import { RecordingEngine } from '../../helpers/null-engine.js';
import { processObservation } from '../../helpers/observations.js';
import { eventually, freePort, reservePort } from '../../helpers/processes.js';

const workload = { cluster: 'c', namespace: 'ns', kind: 'Deployment' as const, name: 'web', container: 'nginx' };

const obs = (i: number) => processObservation(i, { workload });

function config(port: number, queueLimit = 100_000) {
  return loadConfig({
    env: {},
    overrides: {
      'agent.node': 'n1',
      'agent.collector.address': `127.0.0.1:${port}`,
      'agent.ship.batchSize': 10,
      'agent.ship.flushInterval': 5,
      'agent.ship.queueLimit': queueLimit,
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

function ingest(store: SqliteStore, port: number, engine: RecordingEngine): IngestServer {
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

t.test('a missing client certificate fails start-up with a clear error, not a reconnect loop', async (t) => {
  const c = config(1);
  const shipper = shipperFor({ ...c.agent, collector: { ...c.agent.collector, tls: { ca: '/nonexistent/ca.crt', cert: '/nonexistent/tls.crt', key: '/nonexistent/tls.key' } } });
  await t.rejects(shipper.start(), /cannot read CA \/nonexistent\/ca\.crt: ENOENT/);
  await shipper.close();
});
