/**
 * A collector's console as it runs, minus gRPC: the real store, bus, detection, API, live stream and
 * OpsServer mounting. Workloads learn from observations during a one-hour learning window (event
 * time from T0); `endLearning()` ticks past it; observations after that raise real deviations.
 */
import { Registry } from 'prom-client';
import type { Test } from 'tap';
import { loadConfig, type DriftwatchConfig } from '../../cli/config.js';
import type { Deviation } from '../../common/deviations.js';
import { silentLogger } from '../../common/logger.js';
import type { NetworkDirection, NetworkObservation, Observation, ProcessObservation, WorkloadId } from '../../common/model.js';
import { OpsServer } from '../../common/ops-server.js';
import { createApi, type Api } from '../../collector/api/server.js';
import { createAlerting, type AlertingComponent } from '../../collector/outbox/index.js';
import { readPipelineStatus } from '../../collector/status.js';
import { CollectorBus } from '../../collector/events.js';
import { Detection } from '../../collector/detection.js';
import { SqliteStore } from '../../collector/store/sqlite/store.js';
import { ItemDeriver, type PeerResolver } from '../../common/items/derive.js';
import type { Role } from '../../collector/store/tokens.js';

export const T0 = 1_700_000_000_000;
export const HOUR = 3_600_000;

export function workload(namespace: string, name: string, container = 'app'): WorkloadId {
  return { cluster: 'test', namespace, kind: 'Deployment', name, container };
}

function common(w: WorkloadId, time: number, pod?: string) {
  return {
    source: 'tetragon-grpc' as const,
    time,
    workload: w,
    identitySource: 'source' as const,
    node: 'node-1',
    pod: pod ?? `${w.name}-7d4b9c-x1`,
    containerId: 'abcdef123456',
    image: { name: `registry.local/${w.name}:1`, digest: 'sha256:aaaa' },
    containerStart: T0 - HOUR,
    preexisting: false,
  };
}

export function proc(w: WorkloadId, time: number, exe: string, args = '', opts: { pod?: string; parent?: string } = {}): ProcessObservation {
  return {
    ...common(w, time, opts.pod),
    kind: 'process',
    process: {
      exe,
      args,
      pid: 4242,
      uid: 0,
      user: 'root',
      execId: `exec-${time}`,
      parentExe: opts.parent ?? '/bin/sh',
      ancestors: [
        { exe: opts.parent ?? '/bin/sh', args: '-c start', pid: 7, execId: 'p1' },
        { exe: '/usr/bin/tini', args: '--', pid: 1, execId: 'p0' },
      ],
      lineage: 'complete',
      inInitTree: true,
      sessionId: null,
    },
  };
}

export function net(w: WorkloadId, time: number, direction: NetworkDirection, peerIp: string | null, port: number, opts: { exe?: string; peerName?: string } = {}): NetworkObservation {
  const egress = direction === 'egress';
  return {
    ...common(w, time),
    kind: 'network',
    direction,
    protocol: 'tcp',
    localIp: '10.244.1.5',
    localPort: egress ? 40000 + (time % 20000) : port,
    peerIp: direction === 'listen' ? null : peerIp,
    peerPort: egress ? port : direction === 'listen' ? null : 50000,
    peerName: opts.peerName ?? null,
    process: proc(w, time, opts.exe ?? '/usr/sbin/nginx').process,
  };
}

export interface Harness {
  store: SqliteStore;
  bus: CollectorBus;
  engine: Detection;
  /** Alerting over the same store and bus; started only when the harness was asked to. */
  alerting: AlertingComponent;
  api: Api;
  ops: OpsServer;
  config: Readonly<DriftwatchConfig>;
  base: string;
  tokens: Record<Role | 'scoped' | 'scopedAnalyst' | 'otherViewer', string>;
  /** Stores (as ingest does) and evaluates observations, then emits the bus events. */
  ingest(...observations: Observation[]): Promise<void>;
  endLearning(): Promise<void>;
  /** Ingests one observation and returns the deviation it raised. */
  raise(obs: Observation): Promise<Deviation>;
  baselineOf(w: WorkloadId): Promise<number>;
  /** fetch against the API with a token (admin unless given; null = none). */
  call(method: string, path: string, opts?: { token?: string | null; body?: unknown }): Promise<Reply>;
}

export interface Reply {
  status: number;
  // Tests read response bodies field by field; the API's shapes are checked by the assertions.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
  text: string;
}

export async function startHarness(
  t: Test,
  opts: { baselines?: Record<string, string>; authFailuresPerMinute?: number; overrides?: Record<string, unknown>; resolver?: PeerResolver; alerting?: { clock: { now(): number } } } = {},
): Promise<Harness> {
  const dir = t.testdir({ baselines: opts.baselines ?? {} });
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'test',
      'collector.baselinesDir': `${dir}/baselines`,
      'collector.learning.window': '1h',
      'collector.learning.maxWindow': '1h',
      'collector.learning.startupGrace': '0',
      'collector.api.authFailuresPerMinute': opts.authFailuresPerMinute ?? 10_000,
      ...opts.overrides,
    },
  });
  const store = new SqliteStore({ dataDir: ':memory:' });
  const bus = new CollectorBus();
  const engine = new Detection({ store, bus, config: config.collector, logger: silentLogger(), ...(opts.resolver ? { resolver: opts.resolver } : {}) });
  await engine.start();
  const alerting = createAlerting({ store, bus, config, logger: silentLogger(), registry: new Registry(), ...(opts.alerting ? { clock: opts.alerting.clock } : {}) });
  if (opts.alerting) await alerting.start();
  const status = () => readPipelineStatus({ ingest: engine.unitOfWork, alerting });
  const api = createApi({ store, bus, reviews: engine, declared: engine.declared, config, logger: silentLogger(), streamReverifyMs: 200, status });
  await api.start();
  const ops = new OpsServer('127.0.0.1:0', new Registry());
  ops.setFallback(api.handle);
  await ops.start();
  api.attachStream(ops.httpServer!);
  t.teardown(async () => {
    await api.close();
    await ops.close();
    await alerting.close();
    await engine.close();
    await store.close();
  });
  const make = async (name: string, role: Role, namespaces?: string[]): Promise<string> => (await store.tokens.create({ name, role, namespaces: namespaces ?? null, createdBy: 'test' })).token;
  const tokens = {
    viewer: await make('viewer', 'viewer'),
    analyst: await make('analyst', 'analyst'),
    approver: await make('approver', 'approver'),
    admin: await make('admin', 'admin'),
    scoped: await make('team-a', 'approver', ['team-a']),
    scopedAnalyst: await make('team-a-analyst', 'analyst', ['team-a']),
    otherViewer: await make('team-b-viewer', 'viewer', ['team-b']),
  };
  const deriver = new ItemDeriver(config.collector.network);
  let seq = 0;
  const base = `http://127.0.0.1:${ops.port}`;
  const h: Harness = {
    store,
    bus,
    engine,
    alerting,
    api,
    ops,
    config,
    base,
    tokens,
    async ingest(...list) {
      await engine.unitOfWork.ingest({ agentInstanceId: 'node-1-agent', seq: ++seq, observations: list });
    },
    async endLearning() {
      await engine.unitOfWork.tick(T0 + 2 * HOUR);
    },
    async raise(obs) {
      await h.ingest(obs);
      const key = deriver.derive(obs).key;
      const found = await store.deviations.find(await h.baselineOf(obs.workload), key);
      if (!found) throw new Error(`no deviation for ${key}`);
      return (await engine.getDeviation(found.deviation.id))!;
    },
    async baselineOf(w) {
      return (await engine.currentBaseline(w))!.id;
    },
    async call(method, path, o = {}) {
      const headers: Record<string, string> = {};
      const token = o.token === undefined ? tokens.admin : o.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(base + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON (exports, UI files)
      }
      return { status: res.status, body, headers: res.headers, text };
    },
  };
  return h;
}

/**
 * The standard scene: team-a/web (nginx, a health-check curl, egress to an API and DNS, listens on
 * 8080) and team-b/worker learn, then learning ends. Returns the workloads.
 */
export async function learnScene(h: Harness): Promise<{ web: WorkloadId; worker: WorkloadId }> {
  const web = workload('team-a', 'web');
  const worker = workload('team-b', 'worker');
  await h.ingest(
    proc(web, T0, '/usr/sbin/nginx', '-g daemon off;'),
    proc(web, T0 + 1000, '/usr/local/bin/healthcheck', '-s http://localhost:8080/healthz'),
    net(web, T0 + 2000, 'egress', '203.0.113.10', 443, { peerName: 'api.example.com' }),
    net(web, T0 + 3000, 'egress', '10.96.0.10', 53),
    net(web, T0 + 4000, 'listen', null, 8080),
    proc(worker, T0 + 5000, '/usr/local/bin/worker', '--queue jobs'),
  );
  await h.endLearning();
  return { web, worker };
}
