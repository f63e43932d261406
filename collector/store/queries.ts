/**
 * Read models for the console (API, UI, CLI): paged, filtered, namespace-scoped views over the
 * engine's tables. Writes go through the engine's services; nothing here mutates.
 *
 * Paging is keyset (a cursor holding the last row's sort key and id), never OFFSET: a page costs
 * the same at row 50 and at row 900,000, and rows that arrive while someone pages neither shift
 * nor duplicate what they see next.
 */
import type { BaselineCompleteness, BaselinePhase, DeviationKind, DeviationStatus, Severity, AgentStatus } from '../../common/deviations.js';
import { SEVERITIES } from '../../common/deviations.js';
import type { WorkloadId, WorkloadKind } from '../../common/model.js';
import type { SqlDatabase, SqlValue } from './db.js';

type Params = Record<string, SqlValue>;

/** `alias.namespace IN (…)` for a scoped reader; '' for an unscoped one. */
function scopeClause(column: string, namespaces: readonly string[] | null | undefined, params: Params, prefix: string): string {
  if (!namespaces) return '';
  if (namespaces.length === 0) return '1 = 0';
  const names = namespaces.map((ns, i) => {
    params[`${prefix}${i}`] = ns;
    return `@${prefix}${i}`;
  });
  return `${column} IN (${names.join(', ')})`;
}

function listClause(column: string, values: readonly string[] | undefined, params: Params, prefix: string): string {
  if (!values || values.length === 0) return '';
  const names = values.map((v, i) => {
    params[`${prefix}${i}`] = v;
    return `@${prefix}${i}`;
  });
  return values.length === 1 ? `${column} = ${names[0]!}` : `${column} IN (${names.join(', ')})`;
}

function parseList(text: string | null): string[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

function parseObject(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function escapeLike(text: string): string {
  return text.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c);
}

interface WorkloadColumns {
  cluster: string;
  namespace: string;
  wkind: string;
  wname: string;
  container: string;
}

function workloadOf(r: WorkloadColumns): WorkloadId {
  return { cluster: r.cluster, namespace: r.namespace, kind: r.wkind as WorkloadKind, name: r.wname, container: r.container };
}

// ---------------------------------------------------------------------------------------------
// Deviations

export const DEVIATION_SORTS = ['created', 'lastSeen', 'firstSeen', 'count', 'severity'] as const;
export type DeviationSortKey = (typeof DEVIATION_SORTS)[number];

/** Severity as a number; migration 004 indexes exactly this expression (keep the two identical). */
export const SEVERITY_RANK_EXPRESSION = `CASE severity ${SEVERITIES.map((s, i) => `WHEN '${s}' THEN ${i}`).join(' ')} ELSE -1 END`;
const SEVERITY_RANK_SQL = `(${SEVERITY_RANK_EXPRESSION.replace('CASE severity', 'CASE d.severity')})`;

const SORT_COLUMN: Record<DeviationSortKey, string> = {
  created: 'd.id',
  lastSeen: 'd.last_seen_ms',
  firstSeen: 'd.first_seen_ms',
  count: 'd.count',
  severity: SEVERITY_RANK_SQL,
};

export interface DeviationCursor {
  /** The sort key value of the last row of the previous page. */
  key: number;
  id: number;
}

export interface DeviationFilter {
  namespaces?: readonly string[];
  workload?: string;
  container?: string;
  baselineId?: number;
  severities?: readonly Severity[];
  statuses?: readonly DeviationStatus[];
  kinds?: readonly DeviationKind[];
  /** Active in [fromMs, toMs] (event time): last seen at or after from, first seen at or before to. */
  fromMs?: number;
  toMs?: number;
  /** Case-insensitive substring of the summary, the item key or the workload name. */
  text?: string;
  /** The caller's namespace scope (null = all). */
  scope?: readonly string[] | null;
  sort: DeviationSortKey;
  descending: boolean;
  after?: DeviationCursor;
  limit: number;
}

/** A deviation as lists show it: everything but the samples and commands. */
export interface DeviationListItem {
  id: number;
  baselineId: number;
  workload: WorkloadId;
  itemKey: string;
  kind: DeviationKind;
  severity: Severity;
  status: DeviationStatus;
  summary: string;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  pods: string[];
  nodes: string[];
  image: string | null;
  statusBy: string | null;
  statusAt: string | null;
  updatedAt: string;
}

interface DeviationListRow extends WorkloadColumns {
  id: number;
  baseline_id: number;
  item_key: string;
  kind: string;
  severity: string;
  status: string;
  summary: string;
  first_seen_ms: number;
  last_seen_ms: number;
  count: number;
  pods: string;
  nodes: string;
  image: string | null;
  status_by: string | null;
  status_at: string | null;
  updated_at: string;
  sort_key: number;
}

const DEVIATION_COLUMNS = `d.id, d.baseline_id, d.item_key, d.kind, d.severity, d.status, d.summary, d.first_seen_ms, d.last_seen_ms, d.count,
  d.pods, d.nodes, d.image, d.status_by, d.status_at, d.updated_at,
  w.cluster, w.namespace, w.kind AS wkind, w.name AS wname, w.container`;

function toDeviationItem(r: DeviationListRow): DeviationListItem {
  return {
    id: r.id,
    baselineId: r.baseline_id,
    workload: workloadOf(r),
    itemKey: r.item_key,
    kind: r.kind as DeviationKind,
    severity: r.severity as Severity,
    status: r.status as DeviationStatus,
    summary: r.summary,
    firstSeenMs: r.first_seen_ms,
    lastSeenMs: r.last_seen_ms,
    count: r.count,
    pods: parseList(r.pods),
    nodes: parseList(r.nodes),
    image: r.image,
    statusBy: r.status_by,
    statusAt: r.status_at,
    updatedAt: r.updated_at,
  };
}

export interface Page<T, C> {
  items: T[];
  /** Pass back to get the next page; null on the last page. */
  next: C | null;
}

export function listDeviations(db: SqlDatabase, f: DeviationFilter): Page<DeviationListItem, DeviationCursor> {
  const params: Params = { limit: f.limit + 1 };
  const where = [
    scopeClause('w.namespace', f.scope, params, 'scope'),
    listClause('w.namespace', f.namespaces, params, 'ns'),
    listClause('d.severity', f.severities, params, 'sev'),
    listClause('d.status', f.statuses, params, 'st'),
    listClause('d.kind', f.kinds, params, 'kind'),
  ].filter(Boolean);
  // A workload is a handful of rows of `workloads`: resolving it first lets the store walk the
  // (workload_id, …) indexes instead of filtering every deviation through the join.
  if (f.workload !== undefined || f.container !== undefined) {
    const sub = ['1 = 1'];
    if (f.workload !== undefined) (sub.push('ww.name = @workload'), (params.workload = f.workload));
    if (f.container !== undefined) (sub.push('ww.container = @container'), (params.container = f.container));
    where.push(`d.workload_id IN (SELECT ww.id FROM workloads ww WHERE ${sub.join(' AND ')})`);
  }
  if (f.baselineId !== undefined) (where.push('d.baseline_id = @baselineId'), (params.baselineId = f.baselineId));
  if (f.fromMs !== undefined) (where.push('d.last_seen_ms >= @fromMs'), (params.fromMs = f.fromMs));
  if (f.toMs !== undefined) (where.push('d.first_seen_ms <= @toMs'), (params.toMs = f.toMs));
  if (f.text !== undefined && f.text !== '') {
    where.push(`(LOWER(d.summary) LIKE @text ESCAPE '\\' OR LOWER(d.item_key) LIKE @text ESCAPE '\\' OR LOWER(w.name) LIKE @text ESCAPE '\\')`);
    params.text = `%${escapeLike(f.text)}%`;
  }
  const column = SORT_COLUMN[f.sort];
  const cmp = f.descending ? '<' : '>';
  const dir = f.descending ? 'DESC' : 'ASC';
  if (f.after) {
    if (f.sort === 'created') where.push(`d.id ${cmp} @afterId`);
    // A row-value comparison, not `a < x OR (a = x AND id < y)`: stores turn it into an index range.
    else where.push(`(${column}, d.id) ${cmp} (@afterKey, @afterId)`);
    params.afterKey = f.after.key;
    params.afterId = f.after.id;
    if (f.sort === 'created') delete params.afterKey;
  }
  const order = f.sort === 'created' ? `d.id ${dir}` : `${column} ${dir}, d.id ${dir}`;
  const sql = `SELECT ${DEVIATION_COLUMNS}, ${column} AS sort_key FROM deviations d JOIN workloads w ON w.id = d.workload_id${
    where.length ? ' WHERE ' + where.join(' AND ') : ''
  } ORDER BY ${order} LIMIT @limit`;
  const rows = db.all<DeviationListRow>(sql, params);
  const more = rows.length > f.limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return { items: rows.map(toDeviationItem), next: more && last ? { key: Number(last.sort_key), id: last.id } : null };
}

export function deviationNamespace(db: SqlDatabase, id: number): string | undefined {
  return db.get<{ namespace: string }>('SELECT w.namespace FROM deviations d JOIN workloads w ON w.id = d.workload_id WHERE d.id = @id', { id })?.namespace;
}

// ---------------------------------------------------------------------------------------------
// Workloads and baselines

export interface BaselineView {
  id: number;
  workloadId: number;
  workload: WorkloadId;
  generation: number;
  version: number;
  phase: BaselinePhase;
  completeness: BaselineCompleteness;
  imageDigest: string | null;
  learningStartMs: number | null;
  learningUntilMs: number | null;
  itemCount: number;
  openDeviations: number;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
  updatedAt: string;
}

interface BaselineRow extends WorkloadColumns {
  id: number;
  workload_id: number;
  generation: number;
  version: number;
  phase: string;
  completeness: string;
  image_digest: string | null;
  learning_start_ms: number | null;
  learning_until_ms: number | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_comment: string | null;
  updated_at: string;
  item_count: number;
  open_deviations: number;
}

const BASELINE_COLUMNS = `b.id, b.workload_id, b.generation, b.version, b.phase, b.completeness, b.image_digest, b.learning_start_ms,
  b.learning_until_ms, b.decided_by, b.decided_at, b.decision_comment, b.updated_at,
  w.cluster, w.namespace, w.kind AS wkind, w.name AS wname, w.container,
  (SELECT COUNT(*) FROM baseline_items i WHERE i.baseline_id = b.id AND i.added_in_version <= b.version
     AND (i.removed_in_version IS NULL OR i.removed_in_version > b.version)) AS item_count,
  (SELECT COUNT(*) FROM deviations od WHERE od.baseline_id = b.id AND od.status = 'open') AS open_deviations`;

function toBaselineView(r: BaselineRow): BaselineView {
  return {
    id: r.id,
    workloadId: r.workload_id,
    workload: workloadOf(r),
    generation: r.generation,
    version: r.version,
    phase: r.phase as BaselinePhase,
    completeness: r.completeness as BaselineCompleteness,
    imageDigest: r.image_digest,
    learningStartMs: r.learning_start_ms,
    learningUntilMs: r.learning_until_ms,
    itemCount: r.item_count,
    openDeviations: r.open_deviations,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionComment: r.decision_comment,
    updatedAt: r.updated_at,
  };
}

export function getBaselineView(db: SqlDatabase, id: number): BaselineView | undefined {
  const row = db.get<BaselineRow>(`SELECT ${BASELINE_COLUMNS} FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE b.id = @id`, { id });
  return row ? toBaselineView(row) : undefined;
}

/** Every generation of a workload's baselines, newest first. */
export function workloadBaselines(db: SqlDatabase, workloadId: number): BaselineView[] {
  return db
    .all<BaselineRow>(`SELECT ${BASELINE_COLUMNS} FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE b.workload_id = @workloadId ORDER BY b.generation DESC`, { workloadId })
    .map(toBaselineView);
}

export interface WorkloadCursor {
  namespace: string;
  name: string;
  container: string;
  id: number;
}

export interface WorkloadFilter {
  namespaces?: readonly string[];
  phases?: readonly BaselinePhase[];
  text?: string;
  scope?: readonly string[] | null;
  after?: WorkloadCursor;
  limit: number;
}

export interface WorkloadListItem {
  id: number;
  workload: WorkloadId;
  /** The workload's current (newest generation) baseline; null before its first observation. */
  baseline: BaselineView | null;
  openDeviations: number;
}

interface WorkloadListRow extends WorkloadColumns {
  id: number;
  baseline_id: number | null;
  open_deviations: number;
}

/** Workloads with their current baseline (the newest generation). */
export function listWorkloads(db: SqlDatabase, f: WorkloadFilter): Page<WorkloadListItem, WorkloadCursor> {
  const params: Params = { limit: f.limit + 1 };
  const where = [scopeClause('w.namespace', f.scope, params, 'scope'), listClause('w.namespace', f.namespaces, params, 'ns')].filter(Boolean);
  if (f.phases && f.phases.length) where.push(listClause('b.phase', f.phases, params, 'ph'));
  if (f.text) {
    where.push(`LOWER(w.name) LIKE @text ESCAPE '\\'`);
    params.text = `%${escapeLike(f.text)}%`;
  }
  if (f.after) {
    where.push('(w.namespace, w.name, w.container, w.id) > (@aNs, @aName, @aContainer, @aId)');
    Object.assign(params, { aNs: f.after.namespace, aName: f.after.name, aContainer: f.after.container, aId: f.after.id });
  }
  const sql = `SELECT w.id, w.cluster, w.namespace, w.kind AS wkind, w.name AS wname, w.container, b.id AS baseline_id,
      (SELECT COUNT(*) FROM deviations od WHERE od.workload_id = w.id AND od.status = 'open') AS open_deviations
    FROM workloads w
    LEFT JOIN baselines b ON b.workload_id = w.id AND b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = w.id)
    ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY w.namespace, w.name, w.container, w.id LIMIT @limit`;
  const rows = db.all<WorkloadListRow>(sql, params);
  const more = rows.length > f.limit;
  if (more) rows.pop();
  const last = rows[rows.length - 1];
  return {
    items: rows.map((r) => ({
      id: r.id,
      workload: workloadOf(r),
      baseline: r.baseline_id === null ? null : (getBaselineView(db, r.baseline_id) ?? null),
      openDeviations: r.open_deviations,
    })),
    next: more && last ? { namespace: last.namespace, name: last.wname, container: last.container, id: last.id } : null,
  };
}

/** Current baselines (newest generation per workload) of a namespace in one phase: bulk approval. */
export function currentBaselinesIn(db: SqlDatabase, namespace: string, phase: BaselinePhase): BaselineView[] {
  return db
    .all<BaselineRow>(
      `SELECT ${BASELINE_COLUMNS} FROM baselines b JOIN workloads w ON w.id = b.workload_id
       WHERE w.namespace = @namespace AND b.phase = @phase
         AND b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = b.workload_id)
       ORDER BY w.name, w.container`,
      { namespace, phase },
    )
    .map(toBaselineView);
}

export interface BaselineItemView {
  key: string;
  kind: string;
  /** learned | declared | added (from a deviation) — as the engine records it. */
  origin: string;
  /** startup (the start-up grace period) or steady. */
  phase: string;
  detail: Record<string, unknown>;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  addedInVersion: number;
  removedInVersion: number | null;
}

interface BaselineItemRow {
  kind: string;
  item_key: string;
  origin: string;
  phase: string;
  detail: string;
  count: number;
  first_seen_ms: number;
  last_seen_ms: number;
  added_in_version: number;
  removed_in_version: number | null;
}

/** The items of one version of a baseline (those added at or before it and not removed by it). */
export function baselineItems(db: SqlDatabase, baselineId: number, version: number): BaselineItemView[] {
  return db
    .all<BaselineItemRow>(
      `SELECT kind, item_key, origin, phase, detail, count, first_seen_ms, last_seen_ms, added_in_version, removed_in_version
       FROM baseline_items WHERE baseline_id = @baselineId AND added_in_version <= @version
         AND (removed_in_version IS NULL OR removed_in_version > @version)
       ORDER BY kind, item_key`,
      { baselineId, version },
    )
    .map((r) => ({
      key: r.item_key,
      kind: r.kind,
      origin: r.origin,
      phase: r.phase,
      detail: parseObject(r.detail),
      count: r.count,
      firstSeenMs: r.first_seen_ms,
      lastSeenMs: r.last_seen_ms,
      addedInVersion: r.added_in_version,
      removedInVersion: r.removed_in_version,
    }));
}

// ---------------------------------------------------------------------------------------------
// Agents and the overview

export type AgentHealth = 'ok' | 'stale' | 'disconnected';

export interface AgentView extends AgentStatus {
  health: AgentHealth;
}

interface AgentRow {
  instance_id: string;
  node: string;
  cluster: string;
  version: string;
  sources: string;
  connected: number;
  first_seen_at: string;
  last_seen_at: string;
  counters: string;
}

/** An agent that is connected but silent this long is shown as stale (it ships counters every 15 s). */
const AGENT_STALE_MS = 120_000;

export function listAgents(db: SqlDatabase, nowMs: number): AgentView[] {
  return db.all<AgentRow>('SELECT * FROM agents ORDER BY node, instance_id').map((r) => {
    const connected = r.connected !== 0;
    const stale = nowMs - Date.parse(r.last_seen_at) > AGENT_STALE_MS;
    return {
      instanceId: r.instance_id,
      node: r.node,
      cluster: r.cluster,
      version: r.version,
      sources: parseList(r.sources),
      connected,
      firstSeenAt: r.first_seen_at,
      lastSeenAt: r.last_seen_at,
      counters: parseObject(r.counters),
      health: !connected ? 'disconnected' : stale ? 'stale' : 'ok',
    };
  });
}

export interface Overview {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  /** Deviations first seen per bucket and severity: `series[severity][i]` for bucket i. */
  series: Record<Severity, number[]>;
  byNamespace: { namespace: string; open: number; bySeverity: Record<Severity, number> }[];
  byStatus: Record<DeviationStatus, number>;
  baselinesByPhase: Record<string, number>;
  agents: Record<AgentHealth, number>;
}

function zeroSeverities(): Record<Severity, number> {
  return Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
}

/**
 * The overview. `namespaces` narrows the time series (deviations over time in those namespaces);
 * the other counts are always over the caller's whole scope.
 */
export function overview(
  db: SqlDatabase,
  opts: { fromMs: number; toMs: number; buckets: number; scope: readonly string[] | null; nowMs: number; namespaces?: readonly string[] },
): Overview {
  const bucketMs = Math.max(1, Math.ceil((opts.toMs - opts.fromMs) / opts.buckets));
  const params: Params = { fromMs: opts.fromMs, toMs: opts.toMs, bucketMs };
  const seriesWhere = [scopeClause('w.namespace', opts.scope, params, 'scope'), listClause('w.namespace', opts.namespaces, params, 'ns')].filter(Boolean);
  const and = seriesWhere.map((c) => ` AND ${c}`).join('');
  const series = Object.fromEntries(SEVERITIES.map((s) => [s, new Array<number>(opts.buckets).fill(0)])) as Record<Severity, number[]>;
  const rows = db.all<{ b: number; severity: string; n: number }>(
    `SELECT CAST((d.first_seen_ms - @fromMs) / @bucketMs AS INTEGER) AS b, d.severity, COUNT(*) AS n
     FROM deviations d JOIN workloads w ON w.id = d.workload_id
     WHERE d.first_seen_ms >= @fromMs AND d.first_seen_ms < @toMs${and}
     GROUP BY CAST((d.first_seen_ms - @fromMs) / @bucketMs AS INTEGER), d.severity`,
    params,
  );
  for (const r of rows) {
    const s = series[r.severity as Severity];
    if (s && r.b >= 0 && r.b < opts.buckets) s[r.b] = (s[r.b] ?? 0) + r.n;
  }
  const scopeOnly: Params = {};
  const scope2 = scopeClause('w.namespace', opts.scope, scopeOnly, 'scope');
  const nsRows = db.all<{ namespace: string; severity: string; n: number }>(
    `SELECT w.namespace, d.severity, COUNT(*) AS n FROM deviations d JOIN workloads w ON w.id = d.workload_id
     WHERE d.status = 'open'${scope2 ? ` AND ${scope2}` : ''} GROUP BY w.namespace, d.severity`,
    scopeOnly,
  );
  const byNs = new Map<string, { namespace: string; open: number; bySeverity: Record<Severity, number> }>();
  for (const r of nsRows) {
    let e = byNs.get(r.namespace);
    if (!e) byNs.set(r.namespace, (e = { namespace: r.namespace, open: 0, bySeverity: zeroSeverities() }));
    e.open += r.n;
    if (r.severity in e.bySeverity) e.bySeverity[r.severity as Severity] += r.n;
  }
  const byStatus = { open: 0, acknowledged: 0, resolved: 0, 'added-to-baseline': 0 } as Record<DeviationStatus, number>;
  for (const r of db.all<{ status: string; n: number }>(
    `SELECT d.status, COUNT(*) AS n FROM deviations d JOIN workloads w ON w.id = d.workload_id${scope2 ? ` WHERE ${scope2}` : ''} GROUP BY d.status`,
    scopeOnly,
  )) {
    if (r.status in byStatus) byStatus[r.status as DeviationStatus] = r.n;
  }
  const baselinesByPhase: Record<string, number> = { learning: 0, active: 0, approved: 0, rejected: 0 };
  for (const r of db.all<{ phase: string; n: number }>(
    `SELECT b.phase, COUNT(*) AS n FROM baselines b JOIN workloads w ON w.id = b.workload_id
     WHERE b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = b.workload_id)${scope2 ? ` AND ${scope2}` : ''}
     GROUP BY b.phase`,
    scopeOnly,
  )) {
    baselinesByPhase[r.phase] = r.n;
  }
  const agents: Record<AgentHealth, number> = { ok: 0, stale: 0, disconnected: 0 };
  for (const a of listAgents(db, opts.nowMs)) agents[a.health] += 1;
  return {
    fromMs: opts.fromMs,
    toMs: opts.toMs,
    bucketMs,
    series,
    byNamespace: [...byNs.values()].sort((a, b) => b.open - a.open || a.namespace.localeCompare(b.namespace)).slice(0, 20),
    byStatus,
    baselinesByPhase,
    agents,
  };
}

/** The stored observations of a workload since a time (event ms), oldest first, at most `limit`. */
export function observationsSince(db: SqlDatabase, workloadId: number, sinceMs: number, limit: number): string[] {
  return db
    .all<{ data: string }>('SELECT data FROM observations WHERE workload_id = @workloadId AND time_ms >= @sinceMs ORDER BY time_ms, id LIMIT @limit', {
      workloadId,
      sinceMs,
      limit,
    })
    .map((r) => r.data);
}
