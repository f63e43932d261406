/**
 * The collector trusts no agent input: one agent (or a stolen agent certificate) must not be able
 * to discard another agent's data, move every learning window, or speak for another node when
 * per-node certificates are in use.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../cli/config.js';
import { silentLogger } from '../../../common/logger.js';
import { INGEST_SERVICE, observationToWire, type AgentMessage, type CollectorMessage } from '../../../common/wire.js';
import { CollectorBus } from '../../../collector/events.js';
import { IngestServer } from '../../../collector/ingest/server.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { makeTestPki } from '../../helpers/certs.js';
import { RecordingEngine } from '../../helpers/null-engine.js';
import { processObservation } from '../../helpers/observations.js';
import { eventually } from '../../helpers/processes.js';

const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
type Call = grpc.ClientDuplexStream<AgentMessage, CollectorMessage>;

const obs = (i: number, time = Date.now() - 60_000) =>
  processObservation(i, { time, node: 'some-other-node', workload: { cluster: 'elsewhere', namespace: 'ns', kind: 'Deployment', name: 'web', container: 'app' } });

interface Stream {
  call: Call;
  messages: CollectorMessage[];
  error: () => grpc.ServiceError | undefined;
}

function open(port: number, credentials = grpc.credentials.createInsecure(), target = `127.0.0.1:${port}`): Stream {
  const client = new Client(target, credentials);
  const call = (client as unknown as { connect(): Call }).connect();
  const messages: CollectorMessage[] = [];
  let error: grpc.ServiceError | undefined;
  call.on('data', (m: CollectorMessage) => messages.push(m));
  call.on('error', (e: grpc.ServiceError) => {
    error = e;
    client.close();
  });
  return { call, messages, error: () => error };
}

const hello = (node: string, instanceId: string, cluster = 'prod'): AgentMessage => ({ hello: { node, instanceId, cluster, agentVersion: 't', sources: [] } });

async function setup(t: { teardown(fn: () => Promise<void>): void }, overrides: Record<string, unknown> = {}) {
  const db = new SqliteStore({ dataDir: ':memory:' });
  const engine = new RecordingEngine(db);
  const ticks = engine.ticks;
  const config = loadConfig({ env: {}, overrides: { cluster: 'prod', 'collector.grpc.listen': '127.0.0.1:0', ...overrides } });
  const server = new IngestServer({ config: config.collector.grpc, cluster: 'prod', store: db, unitOfWork: engine, edge: engine, bus: new CollectorBus(), logger: silentLogger(), registry: new Registry() });
  await server.start();
  t.teardown(async () => {
    await server.close();
    await db.close();
  });
  return { db, engine, server, ticks };
}

t.test('a hello must be consistent: node-scoped instance, this cluster, once per stream', async (t) => {
  const { server } = await setup(t);
  const wrongInstance = open(server.port);
  wrongInstance.call.write(hello('node-a', 'node-b-1234'));
  await eventually(() => wrongInstance.error() !== undefined, 'refused');
  t.equal(wrongInstance.error()!.code, grpc.status.FAILED_PRECONDITION, 'an instance id of another node is refused');

  const wrongCluster = open(server.port);
  wrongCluster.call.write(hello('node-a', 'node-a-1234', 'staging'));
  await eventually(() => wrongCluster.error() !== undefined, 'refused');
  t.match(wrongCluster.error()!.details, /cluster "staging"/);

  const twice = open(server.port);
  twice.call.write(hello('node-a', 'node-a-1'));
  twice.call.write(hello('node-a', 'node-a-2'));
  await eventually(() => twice.error() !== undefined, 'refused');
  t.match(twice.error()!.details, /already sent/, 'a second hello on one stream is refused');

  const batchFirst = open(server.port);
  batchFirst.call.write({ batch: { seq: 1, observations: [] } });
  await eventually(() => batchFirst.error() !== undefined, 'refused');
  t.match(batchFirst.error()!.details, /first message must be hello/);
});

t.test('a sequence jump is refused, so it cannot make real batches look like duplicates', async (t) => {
  const { server, engine } = await setup(t);
  const attacker = open(server.port);
  attacker.call.write(hello('node-a', 'node-a-victim'));
  attacker.call.write({ batch: { seq: 9e15, observations: [observationToWire(obs(0))] } });
  await eventually(() => attacker.error() !== undefined, 'refused');
  t.match(attacker.error()!.details, /must not skip/);

  const victim = open(server.port);
  victim.call.write(hello('node-a', 'node-a-victim'));
  victim.call.write({ batch: { seq: 1, observations: [observationToWire(obs(1))] } });
  await eventually(() => victim.messages.some((m) => m.ack), 'acknowledged');
  t.equal(engine.seen.length, 1, "the real agent's batch is stored");
  t.equal(engine.seen[0]!.process.exe, '/bin/x1');
  victim.call.end();
});

t.test('events timed beyond the allowed clock skew are refused and never move event time', async (t) => {
  const { server, engine, ticks } = await setup(t);
  const s = open(server.port);
  s.call.write(hello('node-a', 'node-a-1'));
  const future = Date.now() + 3_600_000;
  s.call.write({ batch: { seq: 1, observations: [observationToWire(obs(1, 9e15)), observationToWire(obs(2, future)), observationToWire(obs(3))] } });
  await eventually(() => s.messages.some((m) => m.ack), 'acknowledged');
  t.equal(engine.seen.length, 1, 'only the observation with a plausible time is kept');
  t.ok(ticks.every((ms) => ms <= Date.now() + 5 * 60_000), 'the learning clock never jumps ahead');
  s.call.end();
});

t.test("what the stream is authenticated as wins over what observations claim", async (t) => {
  const { server, engine } = await setup(t);
  const s = open(server.port);
  s.call.write(hello('node-a', 'node-a-1'));
  s.call.write({ batch: { seq: 1, observations: [observationToWire(obs(1))] } });
  await eventually(() => engine.seen.length === 1, 'stored');
  t.equal(engine.seen[0]!.node, 'node-a', 'node comes from the hello, not the observation');
  t.equal(engine.seen[0]!.workload.cluster, 'prod', 'cluster comes from the collector');
  s.call.end();
});

t.test('with nodeIdentity: certificate, an agent can only speak for the node its certificate names', async (t) => {
  const dir = t.testdir();
  const pki = makeTestPki(dir); // the client certificate's CN is driftwatch-agent
  const { server } = await setup(t, {
    'collector.grpc.tls': { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey },
    'collector.grpc.nodeIdentity': 'certificate',
  });
  const creds = () => grpc.credentials.createSsl(readFileSync(pki.ca), readFileSync(pki.clientKey), readFileSync(pki.clientCert));
  const other = open(server.port, creds(), `localhost:${server.port}`);
  other.call.write(hello('node-b', 'node-b-1'));
  await eventually(() => other.error() !== undefined, 'refused');
  t.equal(other.error()!.code, grpc.status.PERMISSION_DENIED);
  t.match(other.error()!.details, /not issued to node "node-b"/);

  const own = open(server.port, creds(), `localhost:${server.port}`);
  own.call.write(hello('driftwatch-agent', 'driftwatch-agent-1'));
  own.call.write({ workloads: { workloads: [] } });
  await eventually(() => own.messages.length > 0 || own.error() !== undefined, 'answered');
  t.equal(own.error(), undefined, 'the node named by the certificate is accepted');
  t.ok(own.messages[0]?.ack, 'and is answered at once (what is stored of it acknowledged)');
  own.call.end();
});

t.test('a batch is pending (completion signal) from its arrival until it is stored; a refused one stops counting', async (t) => {
  const { server, db } = await setup(t);
  const s = open(server.port);
  s.call.write(hello('node-a', 'node-a-1'));
  await eventually(() => s.messages.length > 0, 'hello answered');
  // A transaction held open: the batch arrives, then waits for the store.
  let release!: () => void;
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => (opened = resolve));
  const held = db.transaction(
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
        opened();
      }),
  );
  await isOpen;
  s.call.write({ batch: { seq: 1, observations: [observationToWire(obs(1)), observationToWire(obs(2))] } });
  await eventually(() => server.pending().batches === 1, 'counted on arrival');
  t.same(server.pending(), { batches: 1, observations: 2 });
  release();
  await held;
  await eventually(() => s.messages.some((m) => m.ack && Number(m.ack.seq) === 1), 'batch 1 acknowledged');
  t.same(server.pending(), { batches: 0, observations: 0 }, 'stored: no longer pending');

  s.call.write({ batch: { seq: 5, observations: [observationToWire(obs(3))] } });
  await eventually(() => s.error() !== undefined, 'refused');
  t.same(server.pending(), { batches: 0, observations: 0 }, 'a refused batch is not pending');
});
