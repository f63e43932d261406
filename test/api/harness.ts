/**
 * A collector's console without the rest of the collector: the real store, bus, API, stream and
 * OpsServer mounting, with a small engine stand-in (the BaselineService / DeviationService
 * contracts over the same tables) and helpers that seed workloads, baselines and deviations.
 */
import { Registry } from 'prom-client';
import type { Test } from 'tap';
import { loadConfig } from '../../common/config.js';
import type { BaselinePhase, BaselineSummary, Deviation, DeviationKind, DeviationStatus, Severity } from '../../common/deviations.js';
import { silentLogger } from '../../common/logger.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import { OpsServer } from '../../common/ops-server.js';
import { createApi, type Api } from '../../collector/api/server.js';
import type { CandidateEvaluator } from '../../collector/api/whatif.js';
import type { BaselineService, DeviationService } from '../../collector/contracts.js';
import { CollectorBus } from '../../collector/events.js';
import { openDatabase, type SqlDatabase } from '../../collector/store/db.js';
import { getBaselineView } from '../../collector/store/queries.js';
import type { Role } from '../../collector/store/tokens.js';
import { deriveProcessItem, ItemDeriver } from '../../common/items.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function summaryOf(db: SqlDatabase, id: number): BaselineSummary {
  const v = getBaselineView(db, id);
  if (!v) throw new Error(`no baseline ${id}`);
  return {
    id: v.id,
    workload: v.workload,
    generation: v.generation,
    version: v.version,
    phase: v.phase,
    completeness: v.completeness,
    imageDigest: v.imageDigest,
    learningStartMs: v.learningStartMs,
    learningUntilMs: v.learningUntilMs,
    itemCount: v.itemCount,
    openDeviations: v.openDeviations,
    decidedBy: v.decidedBy,
    decidedAt: v.decidedAt,
    decisionComment: v.decisionComment,
  };
}

/** The engine's contracts, implemented the simplest way over the 001 tables. */
export class FakeEngine implements BaselineService, DeviationService {
  constructor(
    private readonly db: SqlDatabase,
    private readonly bus: CollectorBus,
  ) {}

  listBaselines(): BaselineSummary[] {
    return this.db.all<{ id: number }>('SELECT id FROM baselines ORDER BY id').map((r) => summaryOf(this.db, r.id));
  }
  getBaseline(id: number): BaselineSummary | undefined {
    return getBaselineView(this.db, id) ? summaryOf(this.db, id) : undefined;
  }
  currentBaseline(w: WorkloadId): BaselineSummary | undefined {
    const r = this.db.get<{ id: number }>(
      'SELECT b.id FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE w.namespace = @ns AND w.name = @name AND w.container = @c ORDER BY b.generation DESC LIMIT 1',
      { ns: w.namespace, name: w.name, c: w.container },
    );
    return r ? summaryOf(this.db, r.id) : undefined;
  }
  private decide(id: number, version: number, phase: BaselinePhase, actor: string, comment: string): BaselineSummary {
    const before = summaryOf(this.db, id);
    if (before.version !== version) throw new Error(`version ${version} is not current`);
    if (before.phase === phase) throw new Error(`already ${phase}`);
    this.db.run('UPDATE baselines SET phase = @phase, decided_by = @actor, decided_at = @at, decision_comment = @comment, updated_at = @at WHERE id = @id', {
      id,
      phase,
      actor,
      comment,
      at: iso(Date.now()),
    });
    const after = summaryOf(this.db, id);
    this.bus.emit({ type: 'baseline.changed', baseline: after, previousPhase: before.phase });
    return after;
  }
  approve(id: number, version: number, actor: string, comment: string): BaselineSummary {
    return this.decide(id, version, 'approved', actor, comment);
  }
  reject(id: number, version: number, actor: string, comment: string): BaselineSummary {
    return this.decide(id, version, 'rejected', actor, comment);
  }
  relearn(w: WorkloadId, actor: string, comment: string): BaselineSummary {
    const cur = this.currentBaseline(w)!;
    const wid = getBaselineView(this.db, cur.id)!.workloadId;
    this.db.run("UPDATE baselines SET phase = 'superseded' WHERE id = @id", { id: cur.id });
    const r = this.db.run(
      "INSERT INTO baselines (workload_id, generation, phase, version, decided_by, decision_comment, created_at, updated_at) VALUES (@wid, @g, 'learning', 1, @actor, @comment, @at, @at)",
      { wid, g: cur.generation + 1, actor, comment, at: iso(Date.now()) },
    );
    return summaryOf(this.db, Number(r.lastInsertRowid));
  }

  getDeviation(id: number): Deviation | undefined {
    const r = this.db.get<Record<string, string | number | null>>(
      'SELECT d.*, w.cluster, w.namespace, w.kind AS wkind, w.name AS wname, w.container FROM deviations d JOIN workloads w ON w.id = d.workload_id WHERE d.id = @id',
      { id },
    );
    if (!r) return undefined;
    const detail = JSON.parse(String(r.detail)) as { item: Record<string, unknown>; severityReason: string; statusComment?: string | null; commands?: Deviation['commands'] };
    return {
      id: Number(r.id),
      baselineId: Number(r.baseline_id),
      workload: { cluster: String(r.cluster), namespace: String(r.namespace), kind: String(r.wkind) as WorkloadId['kind'], name: String(r.wname), container: String(r.container) },
      itemKey: String(r.item_key),
      kind: String(r.kind) as DeviationKind,
      severity: String(r.severity) as Severity,
      severityReason: detail.severityReason,
      status: String(r.status) as DeviationStatus,
      summary: String(r.summary),
      item: detail.item,
      firstSeenMs: Number(r.first_seen_ms),
      lastSeenMs: Number(r.last_seen_ms),
      count: Number(r.count),
      pods: JSON.parse(String(r.pods)) as string[],
      nodes: JSON.parse(String(r.nodes)) as string[],
      image: r.image === null ? null : String(r.image),
      samples: JSON.parse(String(r.samples)) as Observation[],
      ...(detail.commands ? { commands: detail.commands } : {}),
      statusBy: r.status_by === null ? null : String(r.status_by),
      statusAt: r.status_at === null ? null : String(r.status_at),
      statusComment: detail.statusComment ?? null,
      createdAt: String(r.created_at),
      updatedAt: String(r.updated_at),
    };
  }
  setStatus(id: number, status: Exclude<DeviationStatus, 'added-to-baseline'>, actor: string, comment: string): Deviation {
    const before = this.getDeviation(id)!;
    const detail = JSON.parse(this.db.get<{ detail: string }>('SELECT detail FROM deviations WHERE id = @id', { id })!.detail) as Record<string, unknown>;
    detail.statusComment = comment;
    this.db.run('UPDATE deviations SET status = @status, status_by = @actor, status_at = @at, detail = @detail, updated_at = @at WHERE id = @id', {
      id,
      status,
      actor,
      at: iso(Date.now()),
      detail: JSON.stringify(detail),
    });
    const after = this.getDeviation(id)!;
    this.bus.emit({ type: 'deviation.status', deviation: after, previous: before.status, actor });
    return after;
  }
  addToBaseline(id: number, actor: string, comment: string): Deviation {
    const d = this.getDeviation(id)!;
    const b = getBaselineView(this.db, d.baselineId)!;
    const v = b.version + 1;
    this.db.run('UPDATE baselines SET version = @v, updated_at = @at WHERE id = @id', { id: b.id, v, at: iso(Date.now()) });
    this.db.run(
      "INSERT INTO baseline_items (baseline_id, kind, item_key, origin, detail, count, first_seen_ms, last_seen_ms, added_in_version) VALUES (@b, @kind, @key, 'added', @detail, @count, @f, @l, @v)",
      { b: b.id, kind: d.kind === 'network' ? 'network' : 'process', key: d.itemKey, detail: JSON.stringify(d.item), count: d.count, f: d.firstSeenMs, l: d.lastSeenMs, v },
    );
    this.db.run("UPDATE deviations SET status = 'added-to-baseline', status_by = @actor, status_at = @at, updated_at = @at WHERE id = @id", { id, actor, at: iso(Date.now()) });
    const after = this.getDeviation(id)!;
    this.bus.emit({ type: 'deviation.status', deviation: after, previous: d.status, actor });
    void comment;
    return after;
  }
}

/** Candidate evaluation the way the engine's would do for item lists: derive the key, look it up. */
export const itemListEvaluator: CandidateEvaluator = {
  compile(_w, candidate) {
    if (!('items' in candidate)) throw new Error('line 1: only item lists in this test');
    const allowed = new Set(candidate.items);
    const deriver = new ItemDeriver({ podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeCidrs: [] });
    return (obs) => {
      const key = obs.kind === 'process' ? deriveProcessItem(obs).key : deriver.derive(obs).key;
      return allowed.has(key) ? null : key;
    };
  },
};

export interface Seeder {
  workload(ns: string, name: string, container?: string): number;
  baseline(workloadId: number, opts?: { phase?: BaselinePhase; generation?: number; version?: number }): number;
  item(baselineId: number, key: string, opts?: { origin?: string; addedIn?: number; removedIn?: number; count?: number; detail?: Record<string, unknown> }): void;
  deviation(baselineId: number, opts?: Partial<{ key: string; kind: DeviationKind; severity: Severity; status: DeviationStatus; summary: string; firstSeenMs: number; lastSeenMs: number; count: number; samples: Observation[]; pods: string[] }>): number;
  observation(workloadId: number, obs: Observation): void;
}

export function seeder(db: SqlDatabase, bus?: CollectorBus, engine?: FakeEngine): Seeder {
  let seq = 0;
  let itemSeq = 0;
  return {
    workload(ns, name, container = 'app') {
      db.run("INSERT INTO workloads (cluster, namespace, kind, name, container, created_at) VALUES ('test', @ns, 'Deployment', @name, @container, @at)", { ns, name, container, at: iso(Date.now()) });
      return db.get<{ id: number }>('SELECT id FROM workloads WHERE namespace = @ns AND name = @name AND container = @container', { ns, name, container })!.id;
    },
    baseline(workloadId, opts = {}) {
      const r = db.run(
        'INSERT INTO baselines (workload_id, generation, phase, version, learning_start_ms, learning_until_ms, created_at, updated_at) VALUES (@w, @g, @p, @v, 1000, 2000, @at, @at)',
        { w: workloadId, g: opts.generation ?? 1, p: opts.phase ?? 'active', v: opts.version ?? 1, at: iso(Date.now()) },
      );
      return Number(r.lastInsertRowid);
    },
    item(baselineId, key, opts = {}) {
      itemSeq += 1;
      db.run(
        'INSERT INTO baseline_items (baseline_id, kind, item_key, origin, detail, count, first_seen_ms, last_seen_ms, added_in_version, removed_in_version) VALUES (@b, @kind, @key, @origin, @detail, @count, @f, @f, @a, @r)',
        {
          b: baselineId,
          kind: key.startsWith('p|') ? 'process' : 'network',
          key,
          origin: opts.origin ?? 'learned',
          detail: JSON.stringify(opts.detail ?? {}),
          count: opts.count ?? 3,
          f: 1_700_000_000_000 + itemSeq,
          a: opts.addedIn ?? 1,
          r: opts.removedIn ?? null,
        },
      );
    },
    deviation(baselineId, o = {}) {
      seq += 1;
      const wid = db.get<{ workload_id: number }>('SELECT workload_id FROM baselines WHERE id = @id', { id: baselineId })!.workload_id;
      const first = o.firstSeenMs ?? 1_700_000_000_000 + seq * 1000;
      const r = db.run(
        `INSERT INTO deviations (baseline_id, workload_id, item_key, kind, severity, status, summary, detail, first_seen_ms, last_seen_ms, count, pods, nodes, samples, created_at, updated_at)
         VALUES (@b, @w, @key, @kind, @sev, @status, @summary, @detail, @f, @l, @count, @pods, '["node-1"]', @samples, @at, @at)`,
        {
          b: baselineId,
          w: wid,
          key: o.key ?? `p|/usr/bin/tool-${seq}`,
          kind: o.kind ?? 'process',
          sev: o.severity ?? 'medium',
          status: o.status ?? 'open',
          summary: o.summary ?? `process /usr/bin/tool-${seq}`,
          detail: JSON.stringify({ item: { exe: `/usr/bin/tool-${seq}` }, severityReason: 'new process' }),
          f: first,
          l: o.lastSeenMs ?? first,
          count: o.count ?? 1,
          pods: JSON.stringify(o.pods ?? ['web-7d4b9c-abcde']),
          samples: JSON.stringify(o.samples ?? []),
          at: iso(Date.now()),
        },
      );
      const id = Number(r.lastInsertRowid);
      if (bus && engine) bus.emit({ type: 'deviation.created', deviation: engine.getDeviation(id)! });
      return id;
    },
    observation(workloadId, obs) {
      seq += 1;
      db.run("INSERT INTO observations (agent, seq, idx, workload_id, kind, time_ms, node, data) VALUES ('a1', @seq, 0, @w, @kind, @t, @node, @data)", {
        seq,
        w: workloadId,
        kind: obs.kind,
        t: obs.time,
        node: obs.node,
        data: JSON.stringify(obs),
      });
    },
  };
}

export interface Harness {
  db: SqlDatabase;
  bus: CollectorBus;
  engine: FakeEngine;
  api: Api;
  ops: OpsServer;
  base: string;
  seed: Seeder;
  tokens: Record<Role | 'scoped' | 'scopedAnalyst', string>;
  /** fetch against the API with a token (or none). */
  call(method: string, path: string, opts?: { token?: string | null; body?: unknown }): Promise<{ status: number; body: any; headers: Headers; text: string }>;
}

export async function startHarness(t: Test, opts: { uiDir?: boolean } = {}): Promise<Harness> {
  const db = openDatabase({ dataDir: ':memory:' });
  const bus = new CollectorBus();
  const engine = new FakeEngine(db, bus);
  const config = loadConfig({ env: {}, overrides: { 'collector.api.ui': opts.uiDir ?? true } });
  const api = createApi({ db, bus, baselines: engine, deviations: engine, config, logger: silentLogger(), whatIf: itemListEvaluator });
  await api.start();
  const ops = new OpsServer('127.0.0.1:0', new Registry());
  ops.setFallback(api.handle);
  await ops.start();
  api.attachStream(ops.httpServer!);
  t.teardown(async () => {
    await api.close();
    await ops.close();
    db.close();
  });
  const make = (name: string, role: Role, namespaces?: string[]): string => api.tokens.create({ name, role, namespaces: namespaces ?? null, createdBy: 'test' }).token;
  const tokens = {
    viewer: make('viewer', 'viewer'),
    analyst: make('analyst', 'analyst'),
    approver: make('approver', 'approver'),
    admin: make('admin', 'admin'),
    scoped: make('team-a', 'approver', ['team-a']),
    scopedAnalyst: make('team-a-analyst', 'analyst', ['team-a']),
  };
  const base = `http://127.0.0.1:${ops.port}`;
  return {
    db,
    bus,
    engine,
    api,
    ops,
    base,
    seed: seeder(db, bus, engine),
    tokens,
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
        // not JSON (exports, UI)
      }
      return { status: res.status, body, headers: res.headers, text };
    },
  };
}
