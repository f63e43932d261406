import type { Observation } from '../../common/model.js';
import type { SqlDatabase } from './db.js';
import { WorkloadsTable } from './workloads.js';

/**
 * Stored observations: what agents sent (after edge filtering, so mostly what was new). Kept for
 * the deviation samples, the what-if of candidate baselines and audits; unique per
 * (agent instance, batch seq, index) so a re-sent batch can never be stored twice.
 */
export class ObservationsTable {
  /** Its own id cache: the ingest path resolves a workload per observation. */
  private readonly workloads: WorkloadsTable;

  constructor(private readonly db: SqlDatabase) {
    this.workloads = new WorkloadsTable(db);
  }

  insertBatch(agent: string, seq: number, observations: readonly Observation[]): void {
    observations.forEach((o, idx) => {
      this.db.run(
        `INSERT INTO observations (agent, seq, idx, workload_id, kind, time_ms, node, data)
         VALUES (@agent, @seq, @idx, @wid, @kind, @time, @node, @data) ON CONFLICT (agent, seq, idx) DO NOTHING`,
        { agent, seq, idx, wid: this.workloads.idOf(o.workload), kind: o.kind, time: o.time, node: o.node, data: JSON.stringify(o) },
      );
    });
  }

  /** Call after the batch's transaction rolled back. */
  discardPending(): void {
    this.workloads.forgetCached();
  }

  /**
   * Drops observations older than `retentionMs` of event time before the newest one stored
   * (event time, like every window in driftwatch: a replayed recording is kept as long as a
   * lived one). Returns how many were deleted.
   */
  prune(retentionMs: number): number {
    const newest = this.db.get<{ t: number | null }>('SELECT MAX(time_ms) AS t FROM observations')?.t;
    if (newest === null || newest === undefined) return 0;
    return this.db.run('DELETE FROM observations WHERE time_ms < @cutoff', { cutoff: newest - retentionMs }).changes;
  }

  count(): number {
    return this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations')!.n;
  }
}
