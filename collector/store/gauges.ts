/**
 * The store's state as Prometheus reads it at scrape time (collector/state-metrics.ts): open
 * deviations by namespace and severity, baselines by phase. Small GROUP BY reads over indexed
 * columns (deviations_status_*, baselines_phase_until); nothing here writes.
 */
import type { BaselinePhase, Severity } from '../../common/deviations.js';
import type { SqlDatabase } from './db.js';

export interface OpenDeviationCount {
  namespace: string;
  severity: Severity;
  count: number;
}

export function countOpenDeviations(db: SqlDatabase): OpenDeviationCount[] {
  return db.all<OpenDeviationCount>(
    `SELECT w.namespace AS namespace, d.severity AS severity, COUNT(*) AS count
       FROM deviations d JOIN workloads w ON w.id = d.workload_id
      WHERE d.status = 'open'
      GROUP BY w.namespace, d.severity`,
  );
}

export function countBaselinesByPhase(db: SqlDatabase): Map<BaselinePhase, number> {
  const rows = db.all<{ phase: BaselinePhase; count: number }>('SELECT phase, COUNT(*) AS count FROM baselines GROUP BY phase');
  return new Map(rows.map((r) => [r.phase, r.count]));
}
