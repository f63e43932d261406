/**
 * Agent → collector: observations per second end to end (Shipper.enqueue → gRPC → IngestServer →
 * one SQLite transaction per batch with the detection engine → ack), against encoding + decoding
 * the same observations alone, measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig } from '../cli/config.js';
import type { Observation, ProcessObservation } from '../common/model.js';
import { decodeAgentMessage, encodeAgentMessage, observationFromWire, observationToWire } from '../common/wire.js';
import { Shipper } from '../agent/ship/shipper.js';
import { startCollector } from '../collector/main.js';
import { silentLogger } from '../common/logger.js';
import { sleep } from '../common/backoff.js';

function observation(i: number, workloads: readonly ProcessObservation['workload'][]): ProcessObservation {
  return {
    kind: 'process',
    source: 'tetragon-grpc',
    time: Date.parse('2026-11-30T10:00:00Z') + i,
    workload: workloads[i % workloads.length]!,
    identitySource: 'source',
    node: 'bench-node',
    pod: `svc-${i % workloads.length}-7d4b9c8f6d-abcde`,
    containerId: 'a1b2c3d4e5f6',
    image: { name: 'docker.io/shop/svc:1.0', digest: `sha256:${'1'.repeat(64)}` },
    containerStart: Date.parse('2026-11-30T09:00:00Z'),
    preexisting: false,
    process: {
      exe: `/usr/local/bin/tool-${i}`,
      args: `--run ${i} --config /etc/svc/config.yaml`,
      pid: 1000 + i,
      uid: 1000,
      user: null,
      execId: `bench:${i}`,
      parentExe: '/bin/sh',
      ancestors: [{ exe: '/bin/sh', args: '-c run', pid: 999, execId: 'bench:parent' }],
      lineage: 'complete',
      inInitTree: true,
      sessionId: null,
    },
  };
}

export async function benchShip(total = 40_000): Promise<Record<string, unknown>> {
  const workloads = Array.from({ length: 50 }, (_, w) => ({ cluster: 'bench', namespace: 'shop', kind: 'Deployment' as const, name: `svc-${w}`, container: 'main' }));
  const observations: Observation[] = Array.from({ length: total }, (_, i) => observation(i, workloads));

  // 1. Encode + decode alone, in batches of the shipper's size.
  const batchSize = 500;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += batchSize) {
    const wire = observations.slice(i, i + batchSize).map(observationToWire);
    const bytes = encodeAgentMessage({ batch: { seq: i, observations: wire } });
    const back = decodeAgentMessage(bytes);
    for (const w of back.batch!.observations) observationFromWire(w);
  }
  const codecSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

  // 2. End to end, with the real store and engine.
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-bench-'));
  const config = loadConfig({
    env: {},
    overrides: {
      'collector.dataDir': dir,
      'collector.grpc.listen': '127.0.0.1:0',
      'collector.http.listen': '127.0.0.1:0',
      'collector.baselinesDir': join(dir, 'baselines'),
      'collector.learning.maxItemsPerBaseline': total,
      'agent.node': 'bench-node',
    },
  });
  const collector = await startCollector(config, { logger: silentLogger() });
  const shipper = new Shipper({
    config: { ...config.agent, collector: { ...config.agent.collector, address: `127.0.0.1:${collector.grpcPort}` }, ship: { ...config.agent.ship, batchSize, flushInterval: 5, queueLimit: 20_000 } },
    cluster: config.cluster,
    logger: silentLogger(),
    registry: new Registry(),
    sources: () => ['bench'],
    counters: () => [],
    onSnapshot: () => undefined,
    onDelta: () => undefined,
  });
  await shipper.start();
  while (!shipper.isConnected) await sleep(10);
  t0 = process.hrtime.bigint();
  for (const o of observations) {
    while (!shipper.enqueue(o)) await shipper.waitForCapacity();
  }
  while (shipper.queued > 0) await sleep(2);
  const e2eSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stored = await collector.store.observations.count();
  await shipper.close();
  await collector.close();
  rmSync(dir, { recursive: true, force: true });

  const codecRate = total / codecSeconds;
  const e2eRate = total / e2eSeconds;
  return {
    observations: total,
    stored,
    codec_obs_per_s: Math.round(codecRate),
    end_to_end_obs_per_s: Math.round(e2eRate),
    ratio_end_to_end_vs_codec: Number((e2eRate / codecRate).toFixed(3)),
  };
}
