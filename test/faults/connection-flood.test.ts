/**
 * Connection exhaustion (issue 12, point 6): thousands of idle connections from one address must
 * not take a listener from everyone else. Each listener — the collector's HTTP API (with /healthz)
 * and gRPC ingest, the agent's ops listener and its Falco receiver — is flooded from 127.0.0.2
 * while kubelet, agents and Falco (127.0.0.1) keep being served; the flood's connections beyond the
 * per-address cap are refused at once and counted, the rest are closed after the configured idle
 * time; a listener's total cap holds too; a slow-loris request to the Falco receiver is cut at
 * its request timeout. Short timeouts are configured, as a user may.
 */
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { startAgent } from '../../agent/main.js';
import type { FalcoHttpSource } from '../../agent/sources/falco-http.js';
import { startCollector } from '../../collector/main.js';
import { loadConfig } from '../../cli/config.js';
import type { SourceConfig } from '../../common/config/schema.js';
import { OpsServer } from '../../common/ops-server.js';
import { INGEST_SERVICE, observationToWire, type AgentMessage, type CollectorMessage } from '../../common/wire.js';
import { processObservation } from '../helpers/observations.js';
import { eventually } from '../helpers/processes.js';

/** Idle connections per listener (the machine allows 20,000 descriptors; one listener at a time). */
const FLOOD = 2000;
const FLOODER = '127.0.0.2';
const PER_ADDRESS = 50;
const HTTP_LIMITS = { maxConnections: 1000, maxConnectionsPerAddress: PER_ADDRESS, idleTimeout: '1s', headersTimeout: '1s', requestTimeout: '2s' };

interface Flood {
  /** Sockets whose connection the server closed (refused at once, or later as idle). */
  closed(): number;
  /** Sockets the server still holds. */
  open(): number;
}

/**
 * Opens `count` TCP connections from `from` that never send a byte (destroyed at the test's end),
 * in steps the listen backlog holds: each step waits until the server has taken every connection
 * so far (`taken`: accepted or refused), so none sits in the kernel's queue or retries its SYN.
 */
async function flood(t: Test, port: number, taken: () => Promise<number>, count = FLOOD, from = FLOODER): Promise<Flood> {
  const sockets: Socket[] = [];
  let closed = 0;
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const start = await taken();
  for (let opened = 0; opened < count; ) {
    for (const end = Math.min(count, opened + 250); opened < end; opened++) {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from });
      socket.on('error', () => {});
      socket.once('close', () => closed++);
      sockets.push(socket);
    }
    const target = start + opened;
    await eventually(async () => (await taken()) === target, `${target - start} connections taken`);
  }
  return { closed: () => closed, open: () => count - closed };
}

/** GET /healthz on a connection of its own, closed after the answer (as kubelet probes). */
const healthz = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });

/** Connections the server holds open on a listener (driftwatch_connections_open). */
async function held(registry: Registry, listener: string): Promise<number> {
  const metric = registry.getSingleMetric('driftwatch_connections_open');
  return (metric ? (await metric.get()).values : []).find((v) => v.labels.listener === listener)?.value ?? 0;
}

/**
 * The flood is over when the server holds `expected` connections on the listener again: the
 * flooder's sockets never read, so only the server's side tells that it closed them.
 */
async function closedByServer(registry: Registry, listener: string, expected = 0): Promise<void> {
  await eventually(async () => (await held(registry, listener)) === expected, `${listener}: the idle connections closed by the server`);
}

/** The listener's connection counts (driftwatch_connections_total) by result. */
async function counts(registry: Registry, listener: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric('driftwatch_connections_total');
  const values = metric ? (await metric.get()).values : [];
  return Object.fromEntries(values.filter((v) => v.labels.listener === listener).map((v) => [String(v.labels.result), v.value]));
}

/**
 * Floods a listener and checks the books: every connection of the flood was either accepted or
 * refused at once for its address, and counted so. (With a 1 s idle timeout, accepted ones are
 * closed during the flood and free their places: more than the cap may be accepted in all.)
 */
async function floodCounted(t: Test, port: number, registry: Registry, listener: string): Promise<void> {
  const before = await counts(registry, listener);
  const taken = async (): Promise<number> => {
    const c = await counts(registry, listener);
    return c.accepted! + c['address-full']! + c['listener-full']!;
  };
  await flood(t, port, taken);
  const after = await counts(registry, listener);
  const accepted = after.accepted! - before.accepted!;
  const refused = after['address-full']! - before['address-full']!;
  t.equal(accepted + refused, FLOOD, `${listener}: each of the ${FLOOD} connections accepted or refused, and counted`);
  t.ok(refused >= FLOOD - 10 * PER_ADDRESS, `${listener}: most refused for their address (${refused})`);
  t.equal(after['listener-full'], 0, `${listener}: the listener itself never full`);
}

const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');

/** A fresh agent stream from 127.0.0.1: hello and one batch, resolved with the acknowledged sequence. */
async function ingestOnce(t: Test, port: number): Promise<number> {
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const call = (client as unknown as { connect(): grpc.ClientDuplexStream<AgentMessage, CollectorMessage> }).connect();
  const acked = new Promise<number>((resolve, reject) => {
    call.on('data', (m: CollectorMessage) => {
      if (m.ack && Number(m.ack.seq) === 1) resolve(1);
    });
    call.on('error', reject);
  });
  call.write({ hello: { node: 'node-p', instanceId: 'node-p-1', cluster: 'lab', agentVersion: 't', sources: [] } });
  call.write({ batch: { seq: 1, observations: [observationToWire(processObservation(1, { time: Date.now() - 1000 }))] } });
  const seq = await acked;
  call.end();
  return seq;
}

t.test('a flood of idle connections from one address leaves health, ingest and Falco reachable, and is closed', async (t) => {
  const dir = t.testdir({});
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'lab',
      'collector.dataDir': join(dir, 'data'),
      'collector.baselinesDir': dir,
      'collector.grpc.listen': '127.0.0.1:0',
      'collector.grpc.connections': { maxConnections: 1000, maxConnectionsPerAddress: PER_ADDRESS, idleTimeout: '1s' },
      'collector.http.listen': '127.0.0.1:0',
      'collector.http.connections': HTTP_LIMITS,
      'collector.kubernetes.mode': 'off',
      'agent.node': 'node-f',
      'agent.http.listen': '127.0.0.1:0',
      'agent.http.connections': HTTP_LIMITS,
      'agent.kubernetes.mode': 'off',
      'agent.ship': { batchSize: 1, flushInterval: '20ms' },
    },
  });
  const collector = await startCollector(config);
  t.teardown(() => collector.close());
  const agent = await startAgent({
    ...config,
    agent: {
      ...config.agent,
      collector: { ...config.agent.collector, address: `127.0.0.1:${collector.grpcPort}` },
      sources: [{ kind: 'falco-http', listen: '127.0.0.1:0', connections: HTTP_LIMITS } as SourceConfig],
    },
  });
  t.teardown(() => agent.close());
  await eventually(() => agent.shipper.isConnected, 'agent connected');
  const falco = agent.sources[0] as unknown as FalcoHttpSource;
  const stored = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${collector.httpPort}/metrics`)).text();
    return Number(/driftwatch_collector_observations_total\{result="stored"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  await t.test('collector HTTP: /healthz answers, the flood is capped and closed when idle', async (t) => {
    await floodCounted(t, collector.httpPort, collector.registry, 'ops-http');
    t.equal(await healthz(collector.httpPort), 200, '/healthz answers during the flood');
    await closedByServer(collector.registry, 'ops-http');
  });

  await t.test('collector gRPC: a new agent stream ingests, the flood is capped and closed when idle', async (t) => {
    await floodCounted(t, collector.grpcPort, collector.registry, 'ingest-grpc');
    const before = await stored();
    t.equal(await ingestOnce(t, collector.grpcPort), 1, 'a batch sent during the flood is acknowledged');
    t.equal(await stored(), before + 1, 'and stored');
    await closedByServer(collector.registry, 'ingest-grpc', 1); // the agent's stream stays
  });

  await t.test('agent ops: /healthz answers during the flood, which is closed when idle', async (t) => {
    await floodCounted(t, agent.httpPort, agent.registry, 'ops-http');
    t.equal(await healthz(agent.httpPort), 200, '/healthz answers during the flood');
    await closedByServer(agent.registry, 'ops-http');
  });

  await t.test('Falco receiver: alerts from Falco still arrive and are shipped during the flood', async (t) => {
    await floodCounted(t, falco.port, agent.registry, 'falco-http:falco-http');
    const before = await stored();
    const alert = { hostname: 'node-f', output: 'exec', priority: 'Notice', rule: 'Spawned process', source: 'syscall', time: new Date().toISOString(), output_fields: { 'evt.type': 'execve', 'proc.exepath': '/bin/sh', 'proc.cmdline': 'sh -c id', 'proc.pid': 42, 'container.id': 'abcdef123456', 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1' } };
    const res = await fetch(`http://127.0.0.1:${falco.port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) });
    t.equal(res.status, 204, 'accepted');
    await eventually(async () => (await stored()) === before + 1, 'the alert reached the collector');
    await closedByServer(agent.registry, 'falco-http:falco-http');
  });

  await t.test('Falco receiver: a slow-loris request is cut at the request timeout', async (t) => {
    const loris = connect({ host: '127.0.0.1', port: falco.port, localAddress: FLOODER });
    t.teardown(() => loris.destroy());
    let answer = '';
    loris.on('data', (d: Buffer) => (answer += d.toString()));
    loris.on('error', () => {});
    const closed = new Promise<void>((resolve) => loris.once('close', () => resolve()));
    loris.write('POST / HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    // One byte every 200 ms: never idle, never done — only the request timeout (2 s) can end it.
    const drip = setInterval(() => loris.write(' '), 200);
    t.teardown(() => clearInterval(drip));
    await closed;
    clearInterval(drip);
    t.match(answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout and closed');
  });
});

t.test('the caps are exact: per address, then for the listener; refused at once, counted, and freed when idle', async (t) => {
  // Idle timeouts longer than the test: what is open is what the caps let in.
  const ops = new OpsServer('127.0.0.1:0', new Registry(), undefined, undefined, { maxConnections: 80, maxConnectionsPerAddress: PER_ADDRESS, idleTimeout: '5s', headersTimeout: '5s', requestTimeout: '5s' });
  await ops.start();
  t.teardown(() => ops.close());
  const guard = ops.connectionGuard!;
  const taken = async (): Promise<number> => guard.accepted + guard.refused['address-full'] + guard.refused['listener-full'];
  const fromFlooder = await flood(t, ops.port, taken, 200);
  await eventually(() => fromFlooder.open() === PER_ADDRESS, `all but ${PER_ADDRESS} closed at once`);
  t.same(guard.refused, { 'address-full': 150, 'listener-full': 0 }, '150 refused for their address');
  t.equal(await healthz(ops.port), 200, 'another address is served');
  await eventually(() => guard.openConnections === PER_ADDRESS, 'the probe connection closed');
  const third = await flood(t, ops.port, taken, 100, '127.0.0.3');
  await eventually(() => third.open() === 80 - PER_ADDRESS, 'a third address fills the listener');
  t.same(guard.refused, { 'address-full': 150, 'listener-full': 70 }, 'the rest refused: the listener is full');
  await eventually(() => fromFlooder.open() === 0 && third.open() === 0, 'all closed when idle (5 s)');
  t.equal(await healthz(ops.port), 200, 'the listener serves again');
});

t.test('a headers timeout above the request timeout is refused (Node.js would ignore the request timeout)', async (t) => {
  const ops = new OpsServer('127.0.0.1:0', new Registry(), undefined, undefined, { ...HTTP_LIMITS, headersTimeout: '80s', requestTimeout: '30s' });
  await t.rejects(ops.start(), /headersTimeout \(80s\) must not exceed connections\.requestTimeout \(30s\)/);
});

