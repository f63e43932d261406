import type { Observation, WorkloadId } from '../../common/model.js';
import type { SqlDatabase } from './db.js';

/**
 * Stored observations: what agents sent (after edge filtering, so mostly what was new). Kept for
 * the deviation samples, the what-if of candidate baselines and audits; unique per
 * (agent instance, batch seq, index) so a re-sent batch can never be stored twice.
 */
export class ObservationsTable {
  private readonly workloadIds = new Map<string, number>();

  constructor(private readonly db: SqlDatabase) {}

  workloadId(w: WorkloadId): number {
    const key = `${w.cluster}\u0000${w.namespace}\u0000${w.kind}\u0000${w.name}\u0000${w.container}`;
    const cached = this.workloadIds.get(key);
    if (cached !== undefined) return cached;
    const params = { cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, container: w.container };
    this.db.run(
      `INSERT INTO workloads (cluster, namespace, kind, name, container, created_at) VALUES (@cluster, @namespace, @kind, @name, @container, @at)
       ON CONFLICT (cluster, namespace, kind, name, container) DO NOTHING`,
      { ...params, at: new Date().toISOString() },
    );
    const id = this.db.get<{ id: number }>(
      'SELECT id FROM workloads WHERE cluster = @cluster AND namespace = @namespace AND kind = @kind AND name = @name AND container = @container',
      params,
    )!.id;
    if (this.workloadIds.size > 100_000) this.workloadIds.clear();
    this.workloadIds.set(key, id);
    return id;
  }

  insertBatch(agent: string, seq: number, observations: readonly Observation[]): void {
    observations.forEach((o, idx) => {
      this.db.run(
        `INSERT INTO observations (agent, seq, idx, workload_id, kind, time_ms, node, data)
         VALUES (@agent, @seq, @idx, @wid, @kind, @time, @node, @data) ON CONFLICT (agent, seq, idx) DO NOTHING`,
        { agent, seq, idx, wid: this.workloadId(o.workload), kind: o.kind, time: o.time, node: o.node, data: JSON.stringify(o) },
      );
    });
  }

  count(): number {
    return this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations')!.n;
  }
}
