/**
 * `npm run bench -- e2e`: driftwatch as users run it. The built collector and the built agent run
 * as separate processes (`node dist/cli/main.js collector|agent --config …`); a fake Tetragon of
 * this benchmark (bench/e2e/feeder.ts) serves pre-encoded GetEventsResponse messages shaped like
 * the recorded ones (bench/e2e/events.ts) over a unix socket. Beside the agent, in the same run
 * and alternating round by round, a bare grpc-js client process decodes the same stream
 * (`Type.decode`, and `Type.decode` + `toObject`): the yardstick of what reading Tetragon costs.
 *
 * For 50, 500 and 1,000 workloads × 200 items on the node it measures:
 * - learning: the new items flow agent → collector; collector ingest in new observations/s, its
 *   CPU, the agent's peak ship queue; then the baselines are activated and pushed to the agent;
 * - after learning (everything the agent reads is allowed and dropped at the edge): agent events/s
 *   and CPU µs/event (from /proc/<pid>/stat) against the bare client's, and their ratios;
 * - agent RSS (now and peak, /proc/<pid>/status) with every baseline held and the lineage cache full;
 * at the end: event → alert-file latency percentiles under 10k events/s of background traffic (high
 * severity: at once; medium: beyond the grouping wait),
 * and the SQLite ceiling of the collector's schema (bench/e2e/ceiling.ts) for the ingest ratio.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sqliteCeiling } from './e2e/ceiling.js';
import { LIFECYCLES_PER_WORKLOAD, ITEMS_PER_WORKLOAD, NODE, TetragonTraffic, replay, type Lifecycle } from './e2e/events.js';
import { Feeder } from './e2e/feeder.js';
import { cpuMicros, deployedNodeOptions, forkScript, memory, metric, spawnDriftwatch, until, type Child } from './e2e/procs.js';
import { median } from './measure.js';

const DEFAULT_SCALES = [50, 500, 1000];
const ROUND_EVENTS = 60_000;
const ROUNDS = 3;
const STEADY_POOL = 6_000;
const BATCH_SIZE = 500;
const LATENCY_PROBES = 40;
const BACKGROUND_RATE = 10_000;
const GROUPING_WAIT_MS = 10_000;
const HOUR = 3_600_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A message source over a list of lifecycles, each replayed with a fresh exec_id. */
function stream(pool: readonly Lifecycle[], events: number, generation: { next: number }): () => Buffer | null {
  let left = events;
  let pending: Buffer[] = [];
  let i = 0;
  return () => {
    if (left <= 0) return null;
    if (!pending.length) pending = replay(pool[i++ % pool.length]!, generation.next++);
    left--;
    return pending.shift()!;
  };
}

interface Round {
  eventsPerSec: number;
  cpuUsPerEvent: number;
}

async function measure(feed: Feeder, next: () => Buffer | null, events: number, pid: number, read: () => Promise<number>): Promise<Round> {
  const before = await read();
  const cpu0 = cpuMicros(pid);
  const t0 = performance.now();
  await feed.send(next);
  await until(async () => (await read()) - before >= events, 'the reader to take every event', 120_000, 20);
  const seconds = (performance.now() - t0) / 1000;
  return { eventsPerSec: Math.round(events / seconds), cpuUsPerEvent: Math.round(((cpuMicros(pid) - cpu0) / events) * 100) / 100 };
}

function summarise(rounds: Round[]): Round {
  return { eventsPerSec: median(rounds.map((r) => r.eventsPerSec)), cpuUsPerEvent: median(rounds.map((r) => r.cpuUsPerEvent)) };
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/** `scales`: workloads on the node at each step (default 50, 500, 1,000). */
export async function benchE2e(scales: readonly number[] = DEFAULT_SCALES): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-e2e-'));
  const [grpcPort, httpPort, agentPort] = [await freePort(), await freePort(), await freePort()];
  const alerts = join(dir, 'alerts.jsonl');
  const dataDir = join(dir, 'data');
  mkdirSync(join(dir, 'baselines'));
  const configFile = join(dir, 'driftwatch.yaml');
  const agentSocket = `unix://${join(dir, 'tetragon.sock')}`;
  writeFileSync(
    configFile,
    stringify({
      cluster: 'bench',
      log: { level: 'info', format: 'json' },
      collector: {
        dataDir,
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${grpcPort}` },
        http: { listen: `127.0.0.1:${httpPort}` },
        kubernetes: { mode: 'off' },
        // Learning windows run in event time: each scale's items are learned at its own base time
        // and activated by one event an hour later.
        learning: { window: '30m', maxWindow: '40m', extension: '1s' },
        alerting: {
          grouping: { wait: `${GROUPING_WAIT_MS}ms` },
          rateLimit: { max: 100_000, per: '1m' },
          sinks: [{ name: 'bench-file', type: 'file', path: alerts }],
        },
      },
      agent: {
        node: NODE,
        collector: { address: `127.0.0.1:${grpcPort}` },
        sources: [{ kind: 'tetragon-grpc', address: agentSocket }],
        http: { listen: `127.0.0.1:${agentPort}` },
        kubernetes: { mode: 'off' },
        ship: { batchSize: BATCH_SIZE, countersInterval: '1s' },
      },
    }),
  );

  const agentFeed = new Feeder(agentSocket);
  const bareFeed = new Feeder(`unix://${join(dir, 'bare.sock')}`);
  const children: Child[] = [];
  const results: Record<string, unknown> = {};
  try {
    await agentFeed.start();
    await bareFeed.start();
    const collector = spawnDriftwatch(['collector', '--config', configFile], [], deployedNodeOptions('collector/deployment.yaml'));
    children.push(collector);
    await collector.waitForLog(/collector ready/);
    // Profiling: BENCH_AGENT_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (or --heap-prof);
    // BENCH_AGENT_HEAP_SNAPSHOTS=/dir writes an agent heap snapshot after each memory reading.
    const snapshots = process.env.BENCH_AGENT_HEAP_SNAPSHOTS;
    const nodeArgs = [...(process.env.BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`] : [])];
    const agentNodeOptions = deployedNodeOptions('agent/daemonset.yaml');
    results.agentNodeOptions = agentNodeOptions;
    const agent = spawnDriftwatch(['agent', '--config', configFile], nodeArgs, agentNodeOptions);
    children.push(agent);
    await agent.waitForLog(/agent started/);
    await agentFeed.connected();
    const bare = forkScript('e2e/bare-client.js', [bareFeed.address]);
    children.push(bare);
    let bareCount = 0;
    const countWaiters: (() => void)[] = [];
    const bareReady = new Promise<void>((resolve) =>
      bare.child.on('message', (m: { ready?: boolean; count?: number }) => {
        if (m.ready) resolve();
        if (m.count !== undefined) {
          bareCount = m.count;
          for (const w of countWaiters.splice(0)) w();
        }
      }),
    );
    await bareReady;
    const readBare = (): Promise<number> =>
      new Promise((resolve) => {
        countWaiters.push(() => resolve(bareCount));
        bare.child.send({ count: true });
      });
    const agentPid = agent.child.pid!;
    const collectorPid = collector.child.pid!;
    const agentMetric = (name: string, filter?: (labels: string) => boolean): Promise<number> => metric(agentPort, name, filter);
    const readAgent = (): Promise<number> => agentMetric('driftwatch_source_events_total', (l) => !l.includes('result="dropped"'));
    const stored = (): Promise<number> => metric(httpPort, 'driftwatch_collector_observations_total', (l) => l.includes('result="stored"'));

    const start = Date.now() - 12 * HOUR;
    const traffic = new TetragonTraffic(start - HOUR);
    const generation = { next: 1 };
    const rows: Record<string, unknown>[] = [];
    let previous = 0;
    let storedSoFar = 0;
    for (const [s, workloads] of scales.entries()) {
      const base = start + s * 3 * HOUR;
      // ---- learning: every new (workload, item) once, flat out; the agent ships each one.
      const fresh = workloads - previous;
      const expected = fresh * ITEMS_PER_WORKLOAD;
      let k = 0;
      let pending: Buffer[] = [];
      const learnNext = (): Buffer | null => {
        if (!pending.length) {
          if (k >= fresh * LIFECYCLES_PER_WORKLOAD) return null;
          const w = previous + (k % fresh);
          const j = Math.floor(k / fresh);
          pending = traffic.lifecycle(w, j, generation.next++, base + k * 3).messages;
          k++;
        }
        return pending.shift()!;
      };
      let peakQueue = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peakQueue = Math.max(peakQueue, await agentMetric('driftwatch_agent_ship_queue_observations'));
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const cpu0 = cpuMicros(collectorPid);
      const t0 = performance.now();
      await agentFeed.send(learnNext);
      await until(async () => (await stored()) - storedSoFar >= expected, `${expected} new observations stored`, 600_000, 100);
      const learnSeconds = (performance.now() - t0) / 1000;
      const collectorCpu = (cpuMicros(collectorPid) - cpu0) / 1e6 / learnSeconds;
      sampling = false;
      await sampler;
      storedSoFar = await stored();
      const learnAgentMemory = memory(agentPid);

      // ---- activation: one event an hour later ends every new learning window.
      await agentFeed.send(stream([traffic.lifecycle(0, 0, generation.next++, base + HOUR, `activate-${s}`)], 3, generation));
      let active = 0;
      try {
        await until(async () => (active = await agentMetric('driftwatch_agent_edge_baselines', (l) => l.includes('phase="active"'))) >= workloads, `${workloads} active baselines at the agent`, 120_000, 250);
      } catch {
        // Reported below: the agent then ships what it should have dropped.
      }

      // ---- after learning: alternate agent / bare decode / bare decode + toObject.
      const pool: Lifecycle[] = [];
      const poolSize = Math.min(STEADY_POOL, workloads * LIFECYCLES_PER_WORKLOAD);
      for (let i = 0; i < poolSize; i++) {
        const w = i % workloads;
        const j = (Math.floor(i / workloads) * 37 + w) % LIFECYCLES_PER_WORKLOAD;
        pool.push(traffic.lifecycle(w, j, 0, base + HOUR + 1000 + i));
      }
      const agentRounds: Round[] = [];
      const decodeRounds: Round[] = [];
      const toObjectRounds: Round[] = [];
      const shippedBefore = await agentMetric('driftwatch_agent_shipped_observations_total');
      for (let r = 0; r < ROUNDS; r++) {
        agentRounds.push(await measure(agentFeed, stream(pool, ROUND_EVENTS, generation), ROUND_EVENTS, agentPid, readAgent));
        bare.child.send({ mode: 'decode' });
        decodeRounds.push(await measure(bareFeed, stream(pool, ROUND_EVENTS, generation), ROUND_EVENTS, bare.child.pid!, readBare));
        bare.child.send({ mode: 'toObject' });
        toObjectRounds.push(await measure(bareFeed, stream(pool, ROUND_EVENTS, generation), ROUND_EVENTS, bare.child.pid!, readBare));
      }
      const shippedAfterLearning = (await agentMetric('driftwatch_agent_shipped_observations_total')) - shippedBefore;
      // ---- a full lineage cache, then memory.
      await until(
        async () => {
          // Full = evicting: whichever bound (records or bytes) is reached first.
          if ((await agentMetric('driftwatch_lineage_evictions_total')) > 0) return true;
          await agentFeed.send(stream(pool, 30_000, generation));
          return false;
        },
        'a full lineage cache',
        300_000,
      );
      const a = summarise(agentRounds);
      const d = summarise(decodeRounds);
      const o = summarise(toObjectRounds);
      const row = {
        workloads,
        items: workloads * ITEMS_PER_WORKLOAD,
        learning: {
          newObservations: expected,
          seconds: Math.round(learnSeconds * 10) / 10,
          collectorIngestPerSec: Math.round(expected / learnSeconds),
          collectorCpu: Math.round(collectorCpu * 100) / 100,
          agentPeakShipQueue: peakQueue,
          agentMemory: learnAgentMemory,
        },
        activeBaselinesAtAgent: active,
        afterLearning: {
          agent: a,
          bareDecode: d,
          bareDecodeToObject: o,
          shippedObservations: shippedAfterLearning,
          rateVsBare: ratio(a.eventsPerSec, d.eventsPerSec),
          cpuVsBare: ratio(a.cpuUsPerEvent, d.cpuUsPerEvent),
          rateVsBareToObject: ratio(a.eventsPerSec, o.eventsPerSec),
          cpuVsBareToObject: ratio(a.cpuUsPerEvent, o.cpuUsPerEvent),
        },
        agentMemoryFullLineage: memory(agentPid),
        agentHeapMiB: {
          total: Math.round((await agentMetric('nodejs_heap_size_total_bytes')) / 2 ** 20),
          used: Math.round((await agentMetric('nodejs_heap_size_used_bytes')) / 2 ** 20),
          external: Math.round((await agentMetric('nodejs_external_memory_bytes')) / 2 ** 20),
        },
        lineageProcesses: await agentMetric('driftwatch_lineage_processes'),
      };
      process.stderr.write(`  e2e ${workloads} workloads: ${JSON.stringify(row)}\n`);
      if (snapshots) {
        const before = readdirSync(snapshots).length;
        process.kill(agentPid, 'SIGUSR2');
        await until(() => readdirSync(snapshots).length > before, 'the heap snapshot', 300_000, 500);
        await new Promise((r) => setTimeout(r, 5_000));
      }
      rows.push(row);
      previous = workloads;
    }
    results.scales = rows;
    results.latency = await latency(agentFeed, traffic, alerts, start + (scales.length - 1) * 3 * HOUR + 2 * HOUR, scales[scales.length - 1]!, generation);
    results.collectorMemory = memory(collectorPid);
    results.collectorStoredObservations = await stored();
  } catch (err) {
    for (const c of children) process.stderr.write(`--- ${c.child.spawnargs.slice(-3).join(' ')} (exit ${c.child.exitCode ?? c.child.signalCode ?? 'running'}):\n${c.log().slice(-4000)}\n`);
    throw err;
  } finally {
    for (const c of children.reverse()) await c.stop();
    await agentFeed.close();
    await bareFeed.close();
  }
  try {
    const ceiling = sqliteCeiling(dataDir, BATCH_SIZE);
    const measured = results.scales as { learning: { collectorIngestPerSec: number } }[];
    results.sqliteCeiling = { ...ceiling, ingestVsCeiling: measured.map((s) => ratio(s.learning.collectorIngestPerSec, ceiling.observationsPerSec)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/**
 * Event → alert latency: background traffic the baselines allow at BACKGROUND_RATE, with one new
 * executable (a deviation) in a different workload every 100 ms; the time from writing its exec
 * event to its line appearing in the file sink. Half the probes run from /tmp (high severity:
 * notified at once, without waiting for the grouping window); the other half from the workload's
 * own directory (medium: decided when the grouping wait ends), reported as the time beyond it.
 */
async function latency(feed: Feeder, traffic: TetragonTraffic, alerts: string, timeMs: number, workloads: number, generation: { next: number }): Promise<Record<string, number>> {
  const background: Lifecycle[] = [];
  for (let i = 0; i < 3000; i++) background.push(traffic.lifecycle(i % workloads, (i * 7) % LIFECYCLES_PER_WORKLOAD, 0, timeMs + i));
  const isHigh = (k: number): boolean => k % 2 === 0;
  const probes = Array.from({ length: LATENCY_PROBES }, (_, k) => {
    const w = (k * 23) % workloads;
    return traffic.lifecycle(w, 0, generation.next++, timeMs + 10_000 + k, `probe-${k}-x`, isHigh(k) ? '/tmp' : `/opt/svc-${w}/bin`);
  });
  const sentAt = new Map<number, number>();
  const every = BACKGROUND_RATE / 10;
  const total = every * (LATENCY_PROBES + 1);
  const bg = stream(background, total, generation);
  let n = 0;
  let probeMessages: Buffer[] = [];
  const next = (): Buffer | null => {
    if (probeMessages.length) return probeMessages.shift()!;
    n++;
    if (n % every === 0 && n / every <= LATENCY_PROBES) {
      const k = n / every - 1;
      probeMessages = [...probes[k]!.messages];
      sentAt.set(k, Date.now());
      return probeMessages.shift()!;
    }
    return bg();
  };
  const seenAt = new Map<number, number>();
  let offset = 0;
  let text = '';
  const poll = setInterval(() => {
    if (!existsSync(alerts)) return;
    const fd = openSync(alerts, 'r');
    const buf = Buffer.alloc(1 << 20);
    for (let got = readSync(fd, buf, 0, buf.length, offset); got > 0; got = readSync(fd, buf, 0, buf.length, offset)) {
      offset += got;
      text += buf.subarray(0, got).toString('utf8');
    }
    closeSync(fd);
    const now = Date.now();
    for (const k of sentAt.keys()) if (!seenAt.has(k) && text.includes(`probe-${k}-x`)) seenAt.set(k, now);
  }, 5);
  try {
    await feed.send(next, BACKGROUND_RATE);
    await until(() => seenAt.size >= LATENCY_PROBES, 'every probe alert in the file sink', GROUPING_WAIT_MS + 60_000, 50);
  } catch {
    // Reported as the number of probes that arrived.
  } finally {
    clearInterval(poll);
  }
  const latencies = (high: boolean): number[] =>
    [...seenAt]
      .filter(([k]) => isHigh(k) === high)
      .map(([k, at]) => at - sentAt.get(k)!)
      .sort((a, b) => a - b);
  const pct = (lat: readonly number[], p: number): number => lat[Math.min(lat.length - 1, Math.floor((lat.length * p) / 100))] ?? NaN;
  const high = latencies(true);
  const grouped = latencies(false);
  return {
    probes: LATENCY_PROBES,
    arrived: seenAt.size,
    backgroundEventsPerSec: BACKGROUND_RATE,
    groupingWaitMs: GROUPING_WAIT_MS,
    // High severity: sent without waiting for the grouping window.
    highP50Ms: pct(high, 50),
    highP99Ms: pct(high, 99),
    // Medium: decided when the grouping wait ends; what matters is the time beyond it.
    groupedP50Ms: pct(grouped, 50),
    groupedP99Ms: pct(grouped, 99),
    p50BeyondWaitMs: pct(grouped, 50) - GROUPING_WAIT_MS,
    p99BeyondWaitMs: pct(grouped, 99) - GROUPING_WAIT_MS,
    maxBeyondWaitMs: (grouped[grouped.length - 1] ?? NaN) - GROUPING_WAIT_MS,
  };
}
