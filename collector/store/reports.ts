/**
 * Reports across aggregates: the overview (deviations over time, by namespace and status,
 * baselines by phase, agents by health), the agents with their health, and the state gauges
 * Prometheus reads at scrape time (bounded labels: namespace × severity, phase).
 */
import { BASELINE_PHASES, SEVERITIES, type AgentStatus, type BaselinePhase, type DeviationStatus, type Severity } from '../../common/deviations.js';
import type { AgentCursor, SqlAgents } from './agents.js';
import { listClause, scopeClause, type Params } from './clauses.js';
import type { ReportRepository } from './contract.js';
import type { Page } from './queries.js';
import type { SqlExecutor } from './sql.js';

export type AgentHealth = 'ok' | 'stale' | 'disconnected';

export interface AgentView extends AgentStatus {
  health: AgentHealth;
}

/** An agent that is connected but silent this long is shown as stale (it ships counters every 15 s). */
const AGENT_STALE_MS = 120_000;

export interface OverviewQuery {
  fromMs: number;
  toMs: number;
  buckets: number;
  /** The caller's namespaces (null = every namespace). */
  scope: readonly string[] | null;
  nowMs: number;
  /** Narrows the time series only. */
  namespaces?: readonly string[];
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

export interface HandlingQuery {
  /** Raised at or after / before (ISO 8601 wall-clock times, as `created_at` is stored). */
  fromAt: string;
  toAt: string;
  /** Namespaces to report on (null = every namespace). */
  scope: readonly string[] | null;
}

/** One deviation and the first time it was acknowledged and resolved (from the audit log). */
export interface HandlingRow {
  id: number;
  namespace: string;
  severity: Severity;
  status: DeviationStatus;
  summary: string;
  raisedAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
}

/** The first audit entry of these actions on a deviation (target ids are stored as text). */
/**
 * When a deviation was first acknowledged / resolved: the first such audit entry that was not
 * undone. An undo (`<action>.undo`) undoes the latest entry of its action before it (the API
 * refuses it once anything changed since), so an entry is undone when an undo follows it with no
 * entry of the same action in between.
 */
function firstAudit(actions: string): string {
  return `(SELECT MIN(a.at) FROM audit_log a WHERE a.target_type = 'deviation' AND a.target_id = CAST(d.id AS TEXT) AND a.action IN (${actions})
     AND NOT EXISTS (SELECT 1 FROM audit_log u WHERE u.target_type = 'deviation' AND u.target_id = a.target_id AND u.action = a.action || '.undo' AND u.id > a.id
       AND NOT EXISTS (SELECT 1 FROM audit_log b WHERE b.target_type = 'deviation' AND b.target_id = a.target_id AND b.action = a.action AND b.id > a.id AND b.id < u.id)))`;
}

function zeroSeverities(): Record<Severity, number> {
  return Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
}

/** The console's read side: paged, filtered, namespace-scoped views across the aggregates. */

export interface OpenDeviationCount {
  namespace: string;
  severity: Severity;
  count: number;
}

export class SqlReports implements ReportRepository {
  constructor(
    private readonly db: SqlExecutor,
    private readonly agents: SqlAgents,
  ) {}

  async deviationHandling(q: HandlingQuery): Promise<HandlingRow[]> {
    const params: Params = { fromAt: q.fromAt, toAt: q.toAt };
    const scope = scopeClause('w.namespace', q.scope, params, 'scope');
    return this.db.all<HandlingRow>(
      `SELECT d.id AS "id", w.namespace AS "namespace", d.severity AS "severity", d.status AS "status", d.summary AS "summary", d.created_at AS "raisedAt",
         ${firstAudit("'deviation.ack'")} AS "acknowledgedAt",
         ${firstAudit("'deviation.resolve', 'deviation.add-to-baseline'")} AS "resolvedAt"
       FROM deviations d JOIN workloads w ON w.id = d.workload_id
       WHERE d.created_at >= @fromAt AND d.created_at < @toAt${scope ? ` AND ${scope}` : ''}
       ORDER BY d.id`,
      params,
    );
  }

  async listAgents(nowMs: number, after: AgentCursor | undefined, limit: number): Promise<Page<AgentView, AgentCursor>> {
    const page = await this.agents.page(after, limit);
    const items = page.items.map((a): AgentView => {
      const stale = nowMs - Date.parse(a.lastSeenAt) > AGENT_STALE_MS;
      return { ...a, health: !a.connected ? 'disconnected' : stale ? 'stale' : 'ok' };
    });
    return { items, next: page.next };
  }

  /**
   * The overview. `namespaces` narrows the time series (deviations over time in those namespaces);
   * the other counts are always over the caller's whole scope.
   */
  async overview(opts: OverviewQuery): Promise<Overview> {
    const bucketMs = Math.max(1, Math.ceil((opts.toMs - opts.fromMs) / opts.buckets));
    const params: Params = { fromMs: opts.fromMs, toMs: opts.toMs, bucketMs };
    const seriesWhere = [scopeClause('w.namespace', opts.scope, params, 'scope'), listClause('w.namespace', opts.namespaces, params, 'ns')].filter(Boolean);
    const and = seriesWhere.map((c) => ` AND ${c}`).join('');
    const series = Object.fromEntries(SEVERITIES.map((s) => [s, new Array<number>(opts.buckets).fill(0)])) as Record<Severity, number[]>;
    const rows = await this.db.all<{ b: number; severity: string; n: number }>(
      // FLOOR, not CAST … AS INTEGER: SQLite's cast truncates, PostgreSQL's rounds.
      `SELECT FLOOR((d.first_seen_ms - @fromMs) / @bucketMs) AS b, d.severity, COUNT(*) AS n
       FROM deviations d JOIN workloads w ON w.id = d.workload_id
       WHERE d.first_seen_ms >= @fromMs AND d.first_seen_ms < @toMs${and}
       GROUP BY FLOOR((d.first_seen_ms - @fromMs) / @bucketMs), d.severity`,
      params,
    );
    for (const r of rows) {
      const s = series[r.severity as Severity];
      if (s && r.b >= 0 && r.b < opts.buckets) s[r.b] = (s[r.b] ?? 0) + r.n;
    }
    const scopeOnly: Params = {};
    const scope2 = scopeClause('w.namespace', opts.scope, scopeOnly, 'scope');
    const nsRows = await this.db.all<{ namespace: string; severity: string; n: number }>(
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
    for (const r of (await this.db.all<{ status: string; n: number }>(
      `SELECT d.status, COUNT(*) AS n FROM deviations d JOIN workloads w ON w.id = d.workload_id${scope2 ? ` WHERE ${scope2}` : ''} GROUP BY d.status`,
      scopeOnly,
    ))) {
      if (r.status in byStatus) byStatus[r.status as DeviationStatus] = r.n;
    }
    const baselinesByPhase: Record<string, number> = { learning: 0, active: 0, approved: 0, rejected: 0 };
    for (const r of (await this.db.all<{ phase: string; n: number }>(
      `SELECT b.phase, COUNT(*) AS n FROM baselines b JOIN workloads w ON w.id = b.workload_id
       WHERE b.generation = (SELECT MAX(b2.generation) FROM baselines b2 WHERE b2.workload_id = b.workload_id)${scope2 ? ` AND ${scope2}` : ''}
       GROUP BY b.phase`,
      scopeOnly,
    ))) {
      baselinesByPhase[r.phase] = r.n;
    }
    // Counted in the database: the fleet's history is not loaded to count it.
    const agents: Record<AgentHealth, number> = await this.agents.countByHealth(new Date(opts.nowMs - AGENT_STALE_MS).toISOString());
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

  /** Open deviations by namespace and severity (the `driftwatch_deviations_open` gauge). */
  async openDeviationCounts(): Promise<OpenDeviationCount[]> {
    return this.db.all<OpenDeviationCount>(
      `SELECT w.namespace AS namespace, d.severity AS severity, COUNT(*) AS count
         FROM deviations d JOIN workloads w ON w.id = d.workload_id
        WHERE d.status = 'open'
        GROUP BY w.namespace, d.severity`,
    );
  }

  /** Baselines (every generation) by phase, each phase present (the `driftwatch_baselines` gauge). */
  async baselinesByPhase(): Promise<Map<BaselinePhase, number>> {
    const rows = await this.db.all<{ phase: BaselinePhase; count: number }>('SELECT phase, COUNT(*) AS count FROM baselines GROUP BY phase');
    const counts = new Map<BaselinePhase, number>(BASELINE_PHASES.map((p) => [p, 0]));
    for (const r of rows) counts.set(r.phase, r.count);
    return counts;
  }
}
