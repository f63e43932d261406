/**
 * Acceptance (issue 12, point 2): a command padded past the size limits cannot hide. A real agent
 * (Tetragon gRPC from a protocol-faithful fake, Falco HTTP posts) and a real collector: execs of
 * binaries outside the declared baseline with 20,000 characters of arguments, and with a
 * 5,000-character executable path, become deviations whose samples are cut, marked and flagged.
 * And what an older agent sends too long is cut and flagged by the collector, not refused.
 */
import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startAgent } from '../../agent/main.js';
import { startCollector } from '../../collector/main.js';
import { loadConfig } from '../../cli/config.js';
import type { Deviation } from '../../common/deviations.js';
import { FIELD_LIMITS } from '../../common/field-limits.js';
import { INGEST_SERVICE, observationToWire, type AgentMessage, type CollectorMessage } from '../../common/wire.js';
import { socketDir, until } from '../helpers/agent-support.js';
import { FakeTetragon } from '../helpers/fake-tetragon.js';
import { processObservation } from '../helpers/observations.js';
import { falcoCases, T0, tetragonBytes, tetragonCases } from './corpus.js';

const TOKEN = 'fault-suite-token-long-enough';
const BASELINE = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: shop
spec:
  selector:
    namespace: shop
  mode: replace
  allow:
    processes:
      - path: /usr/bin/tool
`;

async function collectorFor(t: Test) {
  const dir = t.testdir();
  mkdirSync(join(dir, 'baselines'));
  writeFileSync(join(dir, 'baselines', 'shop.yaml'), BASELINE);
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'lab',
      'collector.dataDir': join(dir, 'data'),
      'collector.baselinesDir': join(dir, 'baselines'),
      'collector.grpc.listen': '127.0.0.1:0',
      'collector.grpc.insecure': true,
      'collector.http.listen': '127.0.0.1:0',
      'collector.kubernetes.mode': 'off',
    },
  });
  const collector = await startCollector(config);
  t.teardown(() => collector.close());
  const deviations = new Map<number, Deviation>();
  collector.bus.subscribe((e) => {
    if (e.type === 'deviation.created' || e.type === 'deviation.updated') deviations.set(e.deviation.id, e.deviation);
  });
  return { collector, deviations };
}

t.test('padded commands from Tetragon and Falco become flagged deviations, end to end', async (t) => {
  const { collector, deviations } = await collectorFor(t);
  const byName = new Map(tetragonCases().map((c) => [c.what, c]));
  const tetragonEvents = ['an exec with 20,000 characters of arguments', 'an exec with a 5,000-character exe path', 'an ordinary exec'].map((w) => byName.get(w)!.input);
  // Falco's padded execs name other binaries than Tetragon's, so each is a deviation of its own.
  const falcoBase = new Map(falcoCases().map((c) => [c.what, c.input]));
  const falcoExec = (what: string, exe: string): Record<string, unknown> => {
    const alert = falcoBase.get(what)!;
    return { ...alert, output_fields: { ...(alert.output_fields as Record<string, unknown>), 'proc.exepath': exe } };
  };
  const falcoAlerts = [falcoExec('an exec with 20,000 characters of arguments', '/usr/bin/evil-falco'), falcoExec('an exec with a 5,000-character exe path', `/${'f'.repeat(4999)}`)];

  const tetragon = new FakeTetragon({ address: `unix://${join(socketDir(t), 'tetragon.sock')}` });
  await tetragon.start();
  t.teardown(() => tetragon.stop());
  const agentConfig = loadConfig({
    env: {},
    overrides: {
      cluster: 'lab',
      'agent.node': 'node-f',
      'agent.collector.address': `127.0.0.1:${collector.grpcPort}`,
      'agent.collector.insecure': true,
      'agent.http.listen': '127.0.0.1:0',
      'agent.kubernetes.mode': 'off',
      'agent.sources': [
        { kind: 'tetragon-grpc', address: tetragon.address },
        { kind: 'falco-http', listen: '127.0.0.1:0', token: TOKEN },
      ],
      'agent.ship': { batchSize: 10, flushInterval: '20ms', countersInterval: '100ms' },
    },
  });
  const agent = await startAgent(agentConfig);
  t.teardown(() => agent.close());
  await until(() => agent.shipper.isConnected && tetragon.activeCalls > 0, 15_000, 'agent connected to Tetragon and the collector');

  tetragon.push(tetragonEvents.map(tetragonBytes));
  const falco = agent.sources.find((s) => s.kind === 'falco-http') as unknown as { port: number };
  for (const alert of falcoAlerts) {
    const r = await fetch(`http://127.0.0.1:${falco.port}/?token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) });
    t.equal(r.status, 204, 'Falco post accepted');
  }

  const padded = (d: Deviation): boolean => d.kind === 'process' && d.samples.some((s) => s.truncated === true);
  await until(() => [...deviations.values()].filter(padded).length >= 4, 20_000, 'four deviations of padded execs');
  const found = [...deviations.values()].filter(padded);
  for (const d of found) {
    const stored = (await collector.detection.getDeviation(d.id))!;
    const sample = stored.samples[0]!;
    t.equal(sample.truncated, true, `${d.itemKey.slice(0, 40)}…: the stored sample is flagged`);
    t.ok(sample.process.exe.length <= FIELD_LIMITS.path && sample.process.args.length <= FIELD_LIMITS.args, 'within the limits');
    t.match(`${sample.process.exe} ${sample.process.args}`, /…\[truncated \d+ bytes\]/, 'and marked');
  }
  const exes: string[] = [];
  for (const d of found) exes.push((await collector.detection.getDeviation(d.id))!.samples[0]!.process.exe);
  exes.sort();
  t.ok(exes.includes('/usr/bin/evil-args') && exes.includes('/usr/bin/evil-falco'), 'the 20,000-character commands of both sources');
  t.equal(exes.filter((e) => /^\/(b+|f+)…\[truncated \d+ bytes\]$/.test(e)).length, 2, 'the 5,000-character paths of both sources, cut and marked');

  const metrics = await (await fetch(`http://127.0.0.1:${collector.httpPort}/metrics`)).text();
  t.notMatch(metrics, /driftwatch_collector_observations_total\{result="invalid",reason="[^"]+"\} [1-9]/, 'the collector refused nothing');
});

t.test('an older agent that sends oversized text: the collector cuts and flags it, never refuses it', async (t) => {
  const { collector, deviations } = await collectorFor(t);
  const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
  const client = new Client(`127.0.0.1:${collector.grpcPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const call = (client as unknown as { connect(): grpc.ClientDuplexStream<AgentMessage, CollectorMessage> }).connect();
  const acks: number[] = [];
  call.on('data', (m: CollectorMessage) => m.ack && acks.push(Number(m.ack.seq)));
  call.on('error', () => {});
  const workload = { cluster: 'lab', namespace: 'shop', kind: 'Deployment' as const, name: 'web', container: 'main' };
  const long = processObservation(1, { time: T0, node: 'node-old', workload });
  long.process.exe = `/${'e'.repeat(6000)}`;
  long.process.args = 'a'.repeat(40_000);
  long.pod = 'p'.repeat(400);
  long.process.ancestors = Array.from({ length: 100 }, (_v, i) => ({ exe: `/bin/a${i}`, args: 'x'.repeat(i === 0 ? 20_000 : 1), pid: i, execId: null }));
  call.write({ hello: { node: 'node-old', instanceId: 'node-old-1', cluster: 'lab', agentVersion: 'old', sources: [] } });
  call.write({ batch: { seq: 1, observations: [observationToWire(long)] } });
  await until(() => acks.includes(1), 10_000, 'batch acknowledged');
  await until(() => [...deviations.values()].some((d) => d.samples[0]?.node === 'node-old'), 10_000, 'its deviation');
  const d = [...deviations.values()].find((x) => x.samples[0]?.node === 'node-old')!;
  const s = (await collector.detection.getDeviation(d.id))!.samples[0]!;
  t.equal(s.truncated, true, 'flagged');
  t.ok(s.process.exe.length <= FIELD_LIMITS.path && s.process.args.length <= FIELD_LIMITS.args && (s.pod?.length ?? 0) <= FIELD_LIMITS.name, 'cut to the limits');
  t.equal(s.process.ancestors.length, 64, 'ancestors beyond 64 cut');
  t.equal(s.process.lineage, 'partial', 'so the lineage is partial');
  t.ok(s.process.ancestors[0]!.args!.length <= FIELD_LIMITS.args, "an ancestor's arguments cut");
  call.end();
});
