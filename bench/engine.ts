/**
 * Engine benchmark.
 * - Agent: 1,000 workloads × 200 allowed items in an EdgeFilter; the per-event cost of the
 *   matching path (the observation is allowed and dropped) beside the bare protobuf decode of a
 *   Tetragon event (the golden kprobe/exec records) measured in the same run, as a ratio; with
 *   WorkloadIds interned (as the identity resolver hands them out) and fresh per event (the
 *   field-by-field fallback). Plus the filter's resident memory.
 * - Collector: deviations per second into the store (file database, WAL), new ones and repeat
 *   sightings of existing ones.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { ROUNDS, median, rate } from './measure.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeFilter } from '../agent/filter/edge-filter.js';
import { sourceProtos, splitLengthPrefixed } from '../agent/sources/protos.js';
import { Detection } from '../collector/detection.js';
import type { EdgeBaseline } from '../common/edge-baseline.js';
import { CollectorBus } from '../collector/events.js';
import { SqliteStore } from '../collector/store/sqlite/store.js';
import { loadConfig } from '../cli/config.js';
import { silentLogger } from '../common/logger.js';
import type { Observation, ProcessContext, WorkloadId } from '../common/model.js';
import { packagePath } from '../common/paths.js';

const WORKLOADS = 1000;
const ITEMS = 200;

function proc(exe: string): ProcessContext {
  return { exe, args: '', pid: 1, uid: 0, user: null, execId: null, parentExe: null, ancestors: [], lineage: 'complete', inInitTree: true, sessionId: null };
}

function workload(i: number): WorkloadId {
  return { cluster: 'bench', namespace: `ns-${i % 50}`, kind: 'Deployment', name: `app-${i}`, container: 'main' };
}

/** 100 exes + 100 network items per workload: exact peers, prefixes, pod range, loopback, listen. */
function allowSet(i: number): string[] {
  const allow: string[] = [];
  for (let k = 0; k < ITEMS / 2; k++) allow.push(`p|/usr/lib/app-${i}/bin/tool-${k}`);
  for (let k = 0; k < ITEMS / 2; k++) {
    const port = 1000 + k;
    const r = k % 4;
    if (r === 0) allow.push(`n|egress|tcp|${port}|ip|10.96.${i % 250}.${k}`);
    else if (r === 1) allow.push(`n|egress|tcp|${port}|net|203.0.${k}.0/24`);
    else if (r === 2) allow.push(`n|ingress|tcp|${port}|net|10.244.0.0/16`);
    else allow.push(`n|listen|tcp|${port}|-`);
  }
  return allow;
}

function matchingObservation(w: WorkloadId, i: number, k: number): Observation {
  const common = {
    source: 'tetragon-grpc' as const,
    time: 1_767_312_000_000 + k,
    workload: w,
    identitySource: 'source' as const,
    node: 'node-a',
    pod: `app-${i}-abc`,
    containerId: 'c0ffee',
    image: { name: 'img', digest: null },
    containerStart: null,
    preexisting: false,
  };
  const n = k % (ITEMS / 2);
  if (k % 2 === 0) return { ...common, kind: 'process', process: proc(`/usr/lib/app-${i}/bin/tool-${n}`) };
  const port = 1000 + n;
  const r = n % 4;
  const direction = r === 2 ? 'ingress' : r === 3 ? 'listen' : 'egress';
  const peerIp = r === 0 ? `10.96.${i % 250}.${n}` : r === 1 ? `203.0.${n}.${(k * 7) % 250}` : r === 2 ? `10.244.${k % 200}.${(k * 3) % 250}` : null;
  return {
    ...common,
    kind: 'network',
    direction,
    protocol: 'tcp',
    localIp: '10.244.1.1',
    localPort: direction === 'egress' ? 40000 + (k % 20000) : port,
    peerIp,
    peerPort: direction === 'egress' ? port : direction === 'ingress' ? 50000 : null,
    peerName: null,
    process: proc('/usr/bin/app'),
  };
}

function benchEdgeFilter(): Record<string, unknown> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const filter = new EdgeFilter();
  const ids = Array.from({ length: WORKLOADS }, (_, i) => workload(i));
  const baselines: EdgeBaseline[] = ids.map((w, i) => ({ workload: w, hash: `h${i}`, phase: 'active', allow: allowSet(i), learningDedupWindowMs: 600_000, alwaysSend: [] }));
  filter.replaceAll(baselines);
  baselines.length = 0;
  gc?.();
  const after = process.memoryUsage();

  // Strings as the agent gets them: decoded from the wire (flat), not built by concatenation.
  const wire = (o: Observation): Observation => {
    const flat = (x: string): string => Buffer.from(x).toString();
    const copy = { ...o, process: { ...o.process, exe: flat(o.process.exe) } } as Observation;
    if (copy.kind === 'network' && copy.peerIp !== null) copy.peerIp = flat(copy.peerIp);
    return copy;
  };
  /** Worst case: 20,000 events spread over all 1,000 workloads (every lookup misses the CPU caches). */
  const spread: Observation[] = [];
  for (let k = 0; k < 20_000; k++) {
    const i = (k * 7919) % WORKLOADS;
    spread.push(wire(matchingObservation(ids[i]!, i, k)));
  }
  /** A node's working set: 1,000 events from 50 busy workloads. */
  const node: Observation[] = [];
  for (let k = 0; k < 1000; k++) {
    const i = (k * 7919) % 50;
    node.push(wire(matchingObservation(ids[i]!, i, k)));
  }
  for (const o of [...spread, ...node]) if (filter.shouldSend(o)) throw new Error('bench observation not matched');
  /** Each round gets WorkloadId objects the filter has never seen: the field-by-field path. */
  const freshIds = (): Observation[] => node.map((o) => ({ ...o, workload: { ...o.workload } }) as Observation);

  const { tetragonResponse } = sourceProtos();
  const records = readdirSync(packagePath('..', 'shared', 'fixtures', 'tetragon'))
    .filter((f) => f.endsWith('.bin') && /kprobe_tcp|process_exec/.test(f))
    .flatMap((f) => splitLengthPrefixed(readFileSync(packagePath('..', 'shared', 'fixtures', 'tetragon', f))));

  const contenders: Record<string, () => number> = {
    decode: rate(records, (b: Uint8Array) => tetragonResponse.decode(b)),
    node: rate(node, (o: Observation) => filter.shouldSend(o)),
    spread: rate(spread, (o: Observation) => filter.shouldSend(o)),
    freshIds: () => {
      // Copies made before the clock starts: only the lookups are timed.
      const lists = Array.from({ length: 20 }, freshIds);
      const start = performance.now();
      for (const list of lists) for (const o of list) filter.shouldSend(o);
      return (lists.length * node.length * 1000) / (performance.now() - start);
    },
  };
  const runs: Record<string, number[]> = {};
  for (const [name, fn] of Object.entries(contenders)) (fn(), (runs[name] = []));
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of Object.entries(contenders)) runs[name]!.push(fn());
  const perSec = (name: string): number => median(runs[name]!);
  const ns = (name: string): number => Math.round(1e9 / perSec(name));
  const decodePerSec = perSec('decode');
  return {
    workloads: WORKLOADS,
    itemsPerWorkload: ITEMS,
    bareDecodeNs: ns('decode'),
    matchNodeWorkingSetNs: ns('node'),
    matchNodeWorkingSetCostVsDecode: round2(decodePerSec / perSec('node')),
    matchFreshWorkloadIdsNs: ns('freshIds'),
    matchFreshWorkloadIdsCostVsDecode: round2(decodePerSec / perSec('freshIds')),
    matchSpreadOver1000WorkloadsNs: ns('spread'),
    matchSpreadCostVsDecode: round2(decodePerSec / perSec('spread')),
    filterRssMiB: round2((after.rss - before.rss) / 2 ** 20),
    filterHeapMiB: round2((after.heapUsed - before.heapUsed) / 2 ** 20),
    gcExposed: gc !== undefined,
    processRssMiB: round2(process.memoryUsage().rss / 2 ** 20),
  };
}

/**
 * Deviations through the ingest unit of work (one transaction per batch: the observations, the
 * deviations and the batch's sequence number), as the collector stores an agent's batch.
 */
async function benchDeviations(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-bench-'));
  const store = new SqliteStore({ dataDir: dir });
  try {
    const config = loadConfig({ env: {}, overrides: { 'collector.baselinesDir': join(dir, 'none'), 'collector.learning.window': '1h' } });
    const engine = new Detection({ store, bus: new CollectorBus(), config: config.collector, logger: silentLogger() });
    let seq = 0;
    const ingest = (observations: Observation[]): Promise<boolean> => engine.unitOfWork.ingest({ agentInstanceId: 'node-a-bench', seq: ++seq, observations });
    const t0 = 1_767_312_000_000;
    const ids = Array.from({ length: 100 }, (_, i) => workload(i));
    // A learned, active baseline per workload.
    await ingest(ids.map((w, i) => ({ ...matchingObservation(w, i, 0), time: t0 })));
    await engine.unitOfWork.tick(t0 + 2 * 3_600_000);

    const batch = (offset: number, n: number, distinct: boolean): Observation[] =>
      Array.from({ length: n }, (_, k) => {
        const i = (offset + k) % ids.length;
        const o = matchingObservation(ids[i]!, i, 0);
        return { ...o, time: t0 + 3 * 3_600_000 + offset + k, kind: 'process', process: proc(`/tmp/new-${distinct ? offset + k : k % 500}`) } as Observation;
      });
    const N = 20_000;
    const BATCH = 500;
    let start = performance.now();
    for (let off = 0; off < N; off += BATCH) {
      await ingest(batch(off, BATCH, true));
    }
    const created = (N * 1000) / (performance.now() - start);
    start = performance.now();
    for (let off = 0; off < N; off += BATCH) {
      await ingest(batch(off, BATCH, false));
    }
    const updated = (N * 1000) / (performance.now() - start);
    const total = store.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM deviations')!.n;
    return { newDeviationsPerSec: Math.round(created), repeatSightingsPerSec: Math.round(updated), batch: BATCH, deviationsStored: total };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export async function benchEngine(): Promise<Record<string, unknown>> {
  return { edgeFilter: benchEdgeFilter(), collector: await benchDeviations() };
}
