/** Builders for engine tests: observations in a few lines, and an engine on an in-memory store. */
import { loadConfig } from '../../cli/config.js';
import type { CollectorEvent } from '../../common/deviations.js';
import { silentLogger } from '../../common/logger.js';
import type { NetworkObservation, Observation, ProcessContext, ProcessObservation, WorkloadId } from '../../common/model.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import { Detection, type DetectionOptions } from '../../collector/detection.js';
import { CollectorBus } from '../../collector/events.js';
import type { Store } from '../../collector/store/contract.js';
import { SqliteStore } from '../../collector/store/sqlite/store.js';
import type { PeerResolver } from '../../common/items/derive.js';

export const MIN = 60_000;
export const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);

export const WEB: WorkloadId = { cluster: 'test', namespace: 'shop', kind: 'Deployment', name: 'web', container: 'nginx' };
export const DIGEST = 'sha256:' + 'a'.repeat(64);

export function proc(exe: string, args = '', extra: Partial<ProcessContext> = {}): ProcessContext {
  return { exe, args, pid: 100, uid: 0, user: null, execId: null, parentExe: null, ancestors: [], lineage: 'complete', inInitTree: true, sessionId: null, ...extra };
}

interface Common {
  time: number;
  workload?: WorkloadId;
  node?: string;
  pod?: string;
  digest?: string | null;
  containerStart?: number | null;
  preexisting?: boolean;
}

function common(c: Common): Omit<ProcessObservation, 'kind' | 'process'> {
  return {
    source: 'tetragon-grpc',
    time: c.time,
    workload: c.workload ?? WEB,
    identitySource: 'source',
    node: c.node ?? 'node-a',
    pod: c.pod ?? 'web-1',
    containerId: 'c0ffee',
    image: { name: 'nginx:1.27', digest: c.digest === undefined ? DIGEST : c.digest },
    containerStart: c.containerStart === undefined ? T0 - 86_400_000 : c.containerStart,
    preexisting: c.preexisting ?? false,
  };
}

export function exec(exe: string, c: Common & { args?: string; process?: Partial<ProcessContext> }): ProcessObservation {
  return { kind: 'process', ...common(c), process: proc(exe, c.args ?? '', c.process) };
}

export function net(
  direction: NetworkObservation['direction'],
  c: Common & { peer?: string | null; port: number; localPort?: number; exe?: string; peerName?: string; protocol?: 'tcp' | 'udp' },
): NetworkObservation {
  const egress = direction === 'egress';
  return {
    kind: 'network',
    ...common(c),
    direction,
    protocol: c.protocol ?? 'tcp',
    localIp: '10.244.1.10',
    localPort: egress ? (c.localPort ?? 40000 + (c.time % 20000)) : c.port,
    peerIp: direction === 'listen' ? null : (c.peer ?? null),
    peerPort: direction === 'listen' ? null : egress ? c.port : (c.localPort ?? 51000),
    peerName: c.peerName ?? null,
    process: proc(c.exe ?? '/usr/sbin/nginx'),
  };
}

export interface Fixture<S extends Store = SqliteStore> {
  engine: Detection;
  store: S;
  bus: CollectorBus;
  events: CollectorEvent[];
  edges: EdgeBaseline[][];
  /** One batch through the ingest unit of work (a fresh sequence number each time). */
  feed(...obs: Observation[]): Promise<void>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  overrides?: Record<string, unknown>;
  baselinesDir?: string;
  resolver?: PeerResolver;
  engine?: Partial<DetectionOptions>;
}

export function fixture(opts: FixtureOptions = {}): Promise<Fixture> {
  return fixtureOn(new SqliteStore({ dataDir: ':memory:' }), opts);
}

/** The engine on a given store (the backends' parity tests). */
export async function fixtureOn<S extends Store>(store: S, opts: FixtureOptions = {}): Promise<Fixture<S>> {
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'test',
      'collector.baselinesDir': opts.baselinesDir ?? '/nonexistent/driftwatch-test-baselines',
      'collector.learning.window': '1h',
      'collector.learning.maxWindow': '3h',
      'collector.learning.extension': '15m',
      'collector.learning.startupGrace': '2m',
      'collector.learning.edgeDedupWindow': '1m',
      ...opts.overrides,
    },
  });
  const bus = new CollectorBus();
  const events: CollectorEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const engine = new Detection({ store, bus, config: config.collector, logger: silentLogger(), resolver: opts.resolver ?? null, ...opts.engine });
  const edges: EdgeBaseline[][] = [];
  engine.edge.onChange((c) => edges.push(c));
  await engine.start();
  let seq = 0;
  return {
    engine,
    store,
    bus,
    events,
    edges,
    async feed(...obs: Observation[]): Promise<void> {
      await engine.unitOfWork.ingest({ agentInstanceId: 'node-a-test', seq: ++seq, observations: obs });
    },
    async close(): Promise<void> {
      await engine.close();
      await store.close();
    },
  };
}

/** `kind itemKey severity status` of every deviation, sorted. */
export function deviationList(f: Fixture): string[] {
  return f.store.connection
    .all<{ kind: string; item_key: string; severity: string; status: string }>('SELECT kind, item_key, severity, status FROM deviations ORDER BY item_key')
    .map((d) => `${d.kind} ${d.item_key} ${d.severity} ${d.status}`);
}

export function itemKeys(f: Fixture, baselineId?: number): string[] {
  const rows = baselineId === undefined
    ? f.store.connection.all<{ k: string; p: string }>('SELECT item_key AS k, phase AS p FROM baseline_items ORDER BY item_key')
    : f.store.connection.all<{ k: string; p: string }>('SELECT item_key AS k, phase AS p FROM baseline_items WHERE baseline_id = @id ORDER BY item_key', { id: baselineId });
  return rows.map((r) => `${r.k} ${r.p}`);
}
