/**
 * Ingest across replicas, the hard way: two collector processes on one PostgreSQL database, an
 * agent's shipper with both addresses streaming to the first; the first is killed with -9 while
 * batches are in flight. The agent moves to the second and re-sends what was not acknowledged:
 * every observation is stored exactly once, and the agent's sequence ends where it should.
 */
import t from 'tap';
import pg from 'pg';
import { Registry } from 'prom-client';
import { Shipper } from '../../agent/ship/shipper.js';
import { loadConfig } from '../../cli/config.js';
import { poolConfig } from '../../collector/store/postgres/database.js';
import { silentLogger } from '../../common/logger.js';
import { startCollectorReplica } from '../helpers/collector-replicas.js';
import { processObservation } from '../helpers/observations.js';
import { postgresCluster } from '../helpers/postgres.js';
import { eventually } from '../helpers/processes.js';

const OBSERVATIONS = 2000;
const BATCH = 20;

// Two or more collector processes started from the TypeScript sources: 30–50 s each to start on a
// loaded two-core machine, more than the suite's default per-file limit.
t.setTimeout(300_000);

t.test('kill -9 the replica an agent streams to: it moves to the other, every observation stored exactly once', async (t) => {
  const cluster = await postgresCluster(t);
  if (!cluster) return;
  const db = await cluster.database();
  const dir = t.testdir();
  const a = await startCollectorReplica(t, dir, 'a', db);
  const b = await startCollectorReplica(t, dir, 'b', db);
  const sql = new pg.Client(poolConfig(db));
  await sql.connect();
  t.teardown(() => sql.end());
  const count = async (): Promise<{ rows: number; distinct: number }> =>
    (await sql.query<{ rows: number; distinct: number }>('SELECT COUNT(*)::int AS rows, COUNT(DISTINCT (agent, seq, idx))::int AS distinct FROM observations')).rows[0]!;

  const agent = loadConfig({
    env: {},
    overrides: { 'agent.node': 'node-a', 'agent.collector.addresses': [`127.0.0.1:${a.grpcPort}`, `127.0.0.1:${b.grpcPort}`], 'agent.ship.batchSize': BATCH, 'agent.ship.flushInterval': 5 },
  }).agent;
  const shipper = new Shipper({ config: agent, cluster: 'test', logger: silentLogger(), registry: new Registry(), sources: () => ['test'], counters: () => [], onSnapshot: () => undefined, onDelta: () => undefined, instanceId: 'node-a-1' });
  await shipper.start();
  t.teardown(() => shipper.close());
  await eventually(() => shipper.isConnected, 'the agent connected to the first replica', 30_000);

  const workload = { cluster: 'test', namespace: 'shop', kind: 'Deployment' as const, name: 'web', container: 'main' };
  const start = Date.now() - 600_000;
  let accepted = 0;
  for (let i = 0; i < OBSERVATIONS; i++) if (shipper.enqueue(processObservation(i, { time: start + i, workload, node: 'node-a' }))) accepted++;
  t.equal(accepted, OBSERVATIONS, 'the queue took every observation');
  // Mid-stream: some batches stored, the rest queued or in flight.
  await eventually(async () => (await count()).rows > 0, 'the first batches stored', 60_000);
  a.process.child.kill('SIGKILL');
  const atKill = (await count()).rows;
  t.ok(atKill < OBSERVATIONS, `killed mid-stream (${atKill} of ${OBSERVATIONS} stored)`);

  await eventually(() => shipper.queued === 0, 'everything acknowledged by the second replica', 60_000);
  t.same(await count(), { rows: OBSERVATIONS, distinct: OBSERVATIONS }, 'every observation stored exactly once');
  const seq = (await sql.query<{ last_seq: number }>(`SELECT last_seq::int AS last_seq FROM agents WHERE instance_id = 'node-a-1'`)).rows[0]?.last_seq;
  t.equal(seq, OBSERVATIONS / BATCH, 'the sequence ends at the last batch');
});
