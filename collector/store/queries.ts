/**
 * Read models for the console (API, UI, CLI): paged, filtered, namespace-scoped views over the
 * engine's tables. Writes go through the engine's services; nothing here mutates.
 *
 * Paging is keyset (a cursor holding the last row's sort key and id), never OFFSET: a page costs
 * the same at row 50 and at row 900,000, and rows that arrive while someone pages neither shift
 * nor duplicate what they see next.
 */
import type { BaselinePhase, BaselineSummary, Deviation, DeviationKind, DeviationStatus, Severity } from '../../common/deviations.js';
import { SEVERITIES } from '../../common/deviations.js';
import type { WorkloadId } from '../../common/model.js';
import { ITEM_COLUMNS, toItem, toSummary, type BaselineSummaryRow, type ItemRow } from './baselines.js';
import type { ConsoleQueryRepository } from './contract.js';
import type { SqlExecutor } from './sql.js';
import { escapeLike, listClause, scopeClause, type Params } from './clauses.js';
import { DEVIATION_LIST_COLUMNS, toDeviation, type DeviationRow } from './deviations.js';
import { JOINED_WORKLOAD_COLUMNS, joinedWorkload, type JoinedWorkloadColumns } from './workloads.js';

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

/** A deviation as lists show it: no item, samples or commands, nor what only its detail view shows. */
export type DeviationListItem = Omit<Deviation, 'severityReason' | 'item' | 'samples' | 'commands' | 'statusComment' | 'createdAt'>;

interface DeviationListRow extends DeviationRow {
  sort_key: number;
}

function toDeviationItem(r: DeviationListRow): DeviationListItem {
  const { severityReason: _reason, item: _item, samples: _samples, commands: _commands, statusComment: _comment, createdAt: _created, ...listed } = toDeviation(r);
  return listed;
}

export interface Page<T, C> {
  items: T[];
  /** Pass back to get the next page; null on the last page. */
  next: C | null;
}

// ---------------------------------------------------------------------------------------------
// Workloads and baselines

export interface BaselineView extends BaselineSummary {
  workloadId: number;
  updatedAt: string;
}

interface BaselineRow extends BaselineSummaryRow {
  workload_id: number;
  updated_at: string;
}

const BASELINE_COLUMNS = `b.id, b.workload_id, b.generation, b.version, b.phase, b.completeness, b.image_digest, b.learning_start_ms,
  b.learning_until_ms, b.decided_by, b.decided_at, b.decision_comment, b.image_name, b.carried_from_id, b.updated_at, ${JOINED_WORKLOAD_COLUMNS},
  (SELECT COUNT(*) FROM baseline_items i WHERE i.baseline_id = b.id AND i.added_in_version <= b.version
     AND (i.removed_in_version IS NULL OR i.removed_in_version > b.version)) AS item_count,
  (SELECT COUNT(*) FROM deviations od WHERE od.baseline_id = b.id AND od.status = 'open') AS open_deviations`;

function toBaselineView(r: BaselineRow): BaselineView {
  // Destructured only to keep the API's field order (id, workloadId, workload, …).
  const { id, ...summary } = toSummary(r);
  return { id, workloadId: r.workload_id, ...summary, updatedAt: r.updated_at };
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

interface WorkloadListRow extends JoinedWorkloadColumns {
  id: number;
  baseline_id: number | null;
  open_deviations: number;
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

interface BaselineItemRow extends ItemRow {
  removed_in_version: number | null;
}

// ---------------------------------------------------------------------------------------------
// Agents and the overview

export class SqlConsoleQueries implements ConsoleQueryRepository {
  constructor(private readonly db: SqlExecutor) {}

  async listDeviations(f: DeviationFilter): Promise<Page<DeviationListItem, DeviationCursor>> {
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
    const sql = `SELECT ${DEVIATION_LIST_COLUMNS}, ${column} AS sort_key FROM deviations d JOIN workloads w ON w.id = d.workload_id${
      where.length ? ' WHERE ' + where.join(' AND ') : ''
    } ORDER BY ${order} LIMIT @limit`;
    const rows = await this.db.all<DeviationListRow>(sql, params);
    const more = rows.length > f.limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { items: rows.map(toDeviationItem), next: more && last ? { key: Number(last.sort_key), id: last.id } : null };
  }

  async deviationNamespace(id: number): Promise<string | undefined> {
    return (await this.db.get<{ namespace: string }>('SELECT w.namespace FROM deviations d JOIN workloads w ON w.id = d.workload_id WHERE d.id = @id', { id }))?.namespace;
  }

  async baselineView(id: number): Promise<BaselineView | undefined> {
    const row = await this.db.get<BaselineRow>(`SELECT ${BASELINE_COLUMNS} FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE b.id = @id`, { id });
    return row ? toBaselineView(row) : undefined;
  }

  /** Every generation of a workload's baselines, newest first. */
  async workloadBaselines(workloadId: number): Promise<BaselineView[]> {
    return (await this.db
      .all<BaselineRow>(`SELECT ${BASELINE_COLUMNS} FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE b.workload_id = @workloadId ORDER BY b.generation DESC`, { workloadId }))
      .map(toBaselineView);
  }

  /** Workloads with their current baseline (the newest generation). */
  async listWorkloads(f: WorkloadFilter): Promise<Page<WorkloadListItem, WorkloadCursor>> {
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
    const sql = `SELECT w.id, ${JOINED_WORKLOAD_COLUMNS}, b.id AS baseline_id,
        (SELECT COUNT(*) FROM deviations od WHERE od.workload_id = w.id AND od.status = 'open') AS open_deviations
      FROM workloads w
      LEFT JOIN baselines b ON b.workload_id = w.id AND b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = w.id)
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY w.namespace, w.name, w.container, w.id LIMIT @limit`;
    const rows = await this.db.all<WorkloadListRow>(sql, params);
    const more = rows.length > f.limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    const items: WorkloadListItem[] = [];
    for (const r of rows) {
      const baseline = r.baseline_id === null ? null : ((await this.baselineView(r.baseline_id)) ?? null);
      items.push({ id: r.id, workload: joinedWorkload(r), baseline, openDeviations: r.open_deviations });
    }
    return {
      items,
      next: more && last ? { namespace: last.namespace, name: last.wname, container: last.container, id: last.id } : null,
    };
  }

  /** Current baselines (newest generation per workload) of a namespace in one phase: bulk approval. */
  async currentBaselinesIn(namespace: string, phase: BaselinePhase): Promise<BaselineView[]> {
    return (await this.db
      .all<BaselineRow>(
        `SELECT ${BASELINE_COLUMNS} FROM baselines b JOIN workloads w ON w.id = b.workload_id
         WHERE w.namespace = @namespace AND b.phase = @phase
           AND b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = b.workload_id)
         ORDER BY w.name, w.container`,
        { namespace, phase },
      ))
      .map(toBaselineView);
  }

  /** The items of one version of a baseline (those added at or before it and not removed by it). */
  async baselineItems(baselineId: number, version: number): Promise<BaselineItemView[]> {
    return (await this.db
      .all<BaselineItemRow>(
        `SELECT ${ITEM_COLUMNS}, removed_in_version
         FROM baseline_items WHERE baseline_id = @baselineId AND added_in_version <= @version
           AND (removed_in_version IS NULL OR removed_in_version > @version)
         ORDER BY kind, item_key`,
        { baselineId, version },
      ))
      .map((r) => {
        // Without the row ids, and in the API's field order (key first).
        const { id: _id, baselineId: _baselineId, kind, key, ...item } = toItem(r);
        return { key, kind, ...item, removedInVersion: r.removed_in_version };
      });
  }
}
