/**
 * Sensor-side loss is never silent (issue 12, point 10): Tetragon's `rate_limit_info` and
 * `process_throttle`, Falco's `syscall event drop` alerts and metrics snapshots become the
 * source's sensor counters on every transport (exact counts), and at the collector health alerts
 * naming the node and the loss rate. Rejections on both sides raise health alerts by reason.
 */
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { startAgent } from '../../agent/main.js';
import { FalcoHttpSource } from '../../agent/sources/falco-http.js';
import { startCollector } from '../../collector/main.js';
import { loadConfig } from '../../cli/config.js';
import type { SourceConfig } from '../../common/config/schema.js';
import { INGEST_SERVICE, observationToWire, type AgentMessage, type CollectorMessage } from '../../common/wire.js';
import { CollectingSink, newDeps, socketDir, until } from '../helpers/agent-support.js';
import { readAlertFile } from '../helpers/alerting.js';
import { FakeTetragon } from '../helpers/fake-tetragon.js';
import { processObservation } from '../helpers/observations.js';
import { falcoBytes, T0, tetragonBytes } from './corpus.js';
import { throughFile, throughGrpc, type Fed } from './sources.js';

const iso = (i: number): string => new Date(T0 + i).toISOString();

/** Tetragon's loss reports as its JSON export writes them (api/v1/tetragon/events.proto). */
const TETRAGON_REPORTS = [
  { rate_limit_info: { number_of_dropped_process_events: '1234' }, node_name: 'node-f', time: iso(1) },
  { process_throttle: { type: 'THROTTLE_START', cgroup: 'kubepods-burstable-pod1.slice' }, node_name: 'node-f', time: iso(2) },
  { process_throttle: { type: 'THROTTLE_STOP', cgroup: 'kubepods-burstable-pod1.slice' }, node_name: 'node-f', time: iso(3) },
  { rate_limit_info: { number_of_dropped_process_events: '66' }, node_name: 'node-f', time: iso(4) },
];

/** Falco's internal messages as event_drops.cpp and stats_writer.cpp build them. */
function falcoDrop(i: number, drops: number, events: number): Record<string, unknown> {
  const fields: Record<string, unknown> = { n_evts: String(events), n_drops: String(drops), n_drops_buffer_total: String(drops), n_drops_buffer_execve_exit: '0', n_drops_scratch_map: '0', n_drops_page_faults: '0', n_drops_bug: '0', ebpf_enabled: '1' };
  return { hostname: 'node-f', output: `Falco internal: syscall event drop. ${drops} system calls dropped in last second.`, output_fields: fields, priority: 'Debug', rule: 'Falco internal: syscall event drop', source: 'internal', time: iso(i) };
}

function falcoMetrics(i: number, m: { drops: number; dropsPrev: number; evts: number; evtsPrev: number; queue: number }): Record<string, unknown> {
  const fields = {
    'evt.source': 'syscall',
    'falco.version': '0.41.0',
    'falco.outputs_queue_num_drops': m.queue,
    'scap.n_drops': m.drops,
    'scap.n_drops_prev': m.dropsPrev,
    'scap.n_evts': m.evts,
    'scap.n_evts_prev': m.evtsPrev,
    'scap.n_drops_perc': (100 * (m.drops - m.dropsPrev)) / (m.evts - m.evtsPrev),
  };
  return { hostname: 'node-f', output: 'Falco metrics snapshot', output_fields: fields, priority: 'Informational', rule: 'Falco internal: metrics snapshot', source: 'internal', time: iso(i) };
}

/**
 * Drops alerted (500 of 10,000), then metrics snapshots: from the first one on they are the exact
 * count (+1,000 of 50,000, alerts no longer added); the output queue's first value is a starting
 * point (+0), then +3.
 */
const FALCO_REPORTS = [
  falcoDrop(1, 500, 10_000),
  falcoMetrics(2, { drops: 2000, dropsPrev: 1000, evts: 100_000, evtsPrev: 50_000, queue: 7 }),
  falcoDrop(3, 800, 9_000),
  falcoMetrics(4, { drops: 2000, dropsPrev: 2000, evts: 120_000, evtsPrev: 100_000, queue: 10 }),
];
const FALCO_EXPECTED = { sensorLost: 500 + 1000 + 3, sensorEvents: 10_000 + 50_000 + 20_000, sensorThrottled: 0 };
const TETRAGON_EXPECTED = { sensorLost: 1300, sensorEvents: 0, sensorThrottled: 1 };

function checkCounters(t: Test, { source, sink }: Fed, reports: number, expected: typeof FALCO_EXPECTED): void {
  const c = source.counters;
  t.same({ sensorLost: c.sensorLost, sensorEvents: c.sensorEvents, sensorThrottled: c.sensorThrottled }, expected, 'the sensor counters');
  t.equal(c.seen, reports, 'every report read');
  t.equal(c.malformed, 0, 'none refused');
  t.equal(sink.observations.length, 0, 'none is an observation');
}

t.test('Tetragon loss reports: gRPC and the JSON export count the same', async (t) => {
  const viaGrpc = await throughGrpc(t, 'tetragon', TETRAGON_REPORTS.map(tetragonBytes));
  checkCounters(t, viaGrpc, TETRAGON_REPORTS.length, TETRAGON_EXPECTED);
  const viaFile = await throughFile(t, 'tetragon-json', TETRAGON_REPORTS.map((r) => JSON.stringify(r)));
  checkCounters(t, viaFile, TETRAGON_REPORTS.length, TETRAGON_EXPECTED);
});

t.test('Falco loss reports: HTTP, legacy gRPC and JSON count the same', async (t) => {
  const sink = new CollectingSink();
  const http = new FalcoHttpSource({ kind: 'falco-http', listen: '127.0.0.1:0' }, newDeps(sink));
  await http.start();
  t.teardown(() => http.close());
  for (const r of FALCO_REPORTS) {
    const res = await fetch(`http://127.0.0.1:${http.port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r) });
    t.equal(res.status, 204);
  }
  checkCounters(t, { source: http, sink }, FALCO_REPORTS.length, FALCO_EXPECTED);
  checkCounters(t, await throughGrpc(t, 'falco', FALCO_REPORTS.map(falcoBytes)), FALCO_REPORTS.length, FALCO_EXPECTED);
  checkCounters(t, await throughFile(t, 'falco-json', FALCO_REPORTS.map((r) => JSON.stringify(r))), FALCO_REPORTS.length, FALCO_EXPECTED);
});

t.test('end to end: sensor loss and rejections become health alerts naming the node, the rate and the reason', async (t) => {
  const dir = t.testdir();
  const alerts = join(dir, 'alerts.jsonl');
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'lab',
      'collector.dataDir': join(dir, 'data'),
      'collector.baselinesDir': dir,
      'collector.grpc.listen': '127.0.0.1:0',
      'collector.grpc.insecure': true,
      'collector.http.listen': '127.0.0.1:0',
      'collector.kubernetes.mode': 'off',
      'collector.alerting.health.checkInterval': '100ms',
      'collector.alerting.retry': { initial: '20ms', max: '100ms', maxAge: '1h' },
      'collector.alerting.sinks': [{ name: 'f', type: 'file', path: alerts }],
      'agent.node': 'node-f',
      'agent.http.listen': '127.0.0.1:0',
      'agent.kubernetes.mode': 'off',
      'agent.collector.insecure': true,
      'agent.ship': { batchSize: 10, flushInterval: '20ms', countersInterval: '100ms' },
    },
  });
  const collector = await startCollector(config);
  t.teardown(() => collector.close());
  const tetragon = new FakeTetragon({ address: `unix://${join(socketDir(t), 'tetragon.sock')}` });
  await tetragon.start();
  t.teardown(() => tetragon.stop());
  const agent = await startAgent({
    ...config,
    agent: {
      ...config.agent,
      collector: { ...config.agent.collector, address: `127.0.0.1:${collector.grpcPort}` },
      // Kind-specific keys are declared by each source (agent/sources), not by the shared type.
      sources: [{ kind: 'tetragon-grpc', address: tetragon.address } as SourceConfig, { kind: 'falco-http', listen: '127.0.0.1:0' } as SourceConfig],
    },
  });
  t.teardown(() => agent.close());
  await until(() => agent.shipper.isConnected && tetragon.activeCalls > 0, 15_000, 'agent connected');

  tetragon.push([TETRAGON_REPORTS[0]!, TETRAGON_REPORTS[1]!].map(tetragonBytes));
  const falco = agent.sources.find((s) => s.kind === 'falco-http') as unknown as { port: number };
  const postFalco = (body: string): Promise<Response> => fetch(`http://127.0.0.1:${falco.port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.equal((await postFalco(JSON.stringify(falcoDrop(1, 500, 10_000)))).status, 204);
  t.equal((await postFalco('{"rule": "broken')).status, 400);

  // An agent that sends an observation dated 1990: the collector refuses it, and says so.
  const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
  const client = new Client(`127.0.0.1:${collector.grpcPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const call = (client as unknown as { connect(): grpc.ClientDuplexStream<AgentMessage, CollectorMessage> }).connect();
  call.on('error', () => {});
  call.write({ hello: { node: 'node-g', instanceId: 'node-g-1', cluster: 'lab', agentVersion: 't', sources: [] } });
  call.write({ batch: { seq: 1, observations: [observationToWire(processObservation(1, { time: Date.parse('1990-01-01T00:00:00Z') }))] } });

  const health = () => readAlertFile(alerts).filter((a) => a.kind === 'health' && a.status === 'firing');
  const byKey = (key: string) => health().find((a) => a.health?.key === key);
  await until(
    () =>
      ['sensor-loss/lab/node-f/tetragon-grpc', 'sensor-loss/lab/node-f/falco-http', 'observations-rejected/lab/node-f/falco-http/undecodable', 'observations-rejected/lab/node-g/collector/bad-event-time'].every((k) => byKey(k)),
    20_000,
    'the four health alerts',
  );
  const falcoLoss = byKey('sensor-loss/lab/node-f/falco-http')!;
  t.match(falcoLoss, { alertname: 'DriftwatchSensorLoss', severity: 'high', health: { node: 'node-f', detail: { lost: 500, sensorEvents: 10_000, lossPercent: 5 } } }, 'Falco: 500 of 10,000 = 5 %');
  t.match(falcoLoss.health!.summary, /node node-f reported 500 events lost .*\(5\.00 % of 10000 events the sensor handled/);
  const tetragonLoss = byKey('sensor-loss/lab/node-f/tetragon-grpc')!;
  t.match(tetragonLoss.health, { node: 'node-f', detail: { lost: 1234, throttled: 1 } }, 'Tetragon: the rate limit count and the throttle');
  t.match(byKey('observations-rejected/lab/node-f/falco-http/undecodable'), { alertname: 'DriftwatchObservationsRejected', health: { node: 'node-f', detail: { reason: 'undecodable', count: 1 } } });
  t.match(byKey('observations-rejected/lab/node-g/collector/bad-event-time'), { health: { node: 'node-g', detail: { source: 'collector', reason: 'bad-event-time', count: 1 } } });
  const metrics = await (await fetch(`http://127.0.0.1:${collector.httpPort}/metrics`)).text();
  t.match(metrics, /driftwatch_collector_observations_total\{result="invalid",reason="bad-event-time"\} 1/, 'the collector metric counts it by reason');
  const agentMetrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
  t.match(agentMetrics, /driftwatch_source_sensor_lost_events_total\{source="falco-http",kind="falco-http"\} 500/, 'agent metric: sensor loss');
  t.match(agentMetrics, /driftwatch_source_sensor_throttles_total\{source="tetragon-grpc",kind="tetragon-grpc"\} 1/, 'agent metric: throttles');
  t.match(agentMetrics, /driftwatch_source_rejected_total\{source="falco-http",kind="falco-http",reason="undecodable"\} 1/, 'agent metric: rejections by reason');
  call.end();
});
