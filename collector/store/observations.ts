import type { Observation } from '../../common/model.js';
import type { ObservationRepository } from './contract.js';
import type { SqlExecutor, SqlParams } from './sql.js';
import type { SqlWorkloads } from './workloads.js';

/**
 * Rows per INSERT of a batch: 8 parameters each stays far below SQLite's 32,766 and PostgreSQL's
 * 65,535 parameters per statement, and a 500-observation batch is 4 statements.
 */
const ROWS_PER_INSERT = 128;
/** The parameters of one row, in the column order of the INSERT. */
const OBSERVATION_FIELDS = ['agent', 'seq', 'idx', 'wid', 'kind', 'time', 'node', 'data'] as const;

/**
 * Stored observations: what agents sent (after edge filtering, so mostly what was new). Kept for
 * the deviation samples, the what-if of candidate baselines and audits; unique per
 * (agent instance, batch seq, index) so a re-sent batch can never be stored twice.
 */
export class SqlObservations implements ObservationRepository {
  constructor(
    private readonly db: SqlExecutor,
    private readonly workloads: SqlWorkloads,
  ) {}

  /** Multi-row INSERTs of up to ROWS_PER_INSERT rows: one statement (and round trip) per chunk, not per observation. */
  async insertBatch(agent: string, seq: number, observations: readonly Observation[]): Promise<void> {
    const rows: SqlParams[] = [];
    for (const [idx, o] of observations.entries()) {
      rows.push({ agent, seq, idx, wid: await this.workloads.idOf(o.workload), kind: o.kind, time: o.time, node: o.node, data: JSON.stringify(o) });
    }
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      const params: SqlParams = {};
      const values = chunk.map((row, i) => {
        for (const [name, value] of Object.entries(row)) params[`${name}${i}`] = value;
        return `(${OBSERVATION_FIELDS.map((name) => `@${name}${i}`).join(', ')})`;
      });
      await this.db.run(
        `INSERT INTO observations (agent, seq, idx, workload_id, kind, time_ms, node, data) VALUES ${values.join(', ')} ON CONFLICT (agent, seq, idx) DO NOTHING`,
        params,
      );
    }
  }

  async newestOf(workloadId: number): Promise<number | null> {
    return (await this.db.get<{ t: number | null }>('SELECT MAX(time_ms) AS t FROM observations WHERE workload_id = @w', { w: workloadId }))?.t ?? null;
  }

  async since(workloadId: number, sinceMs: number, limit: number): Promise<string[]> {
    const rows = await this.db.all<{ data: string }>(
      'SELECT data FROM observations WHERE workload_id = @workloadId AND time_ms >= @sinceMs ORDER BY time_ms, id LIMIT @limit',
      { workloadId, sinceMs, limit },
    );
    return rows.map((r) => r.data);
  }

  /**
   * Drops observations older than `retentionMs` of event time before the newest one stored
   * (event time, like every window in driftwatch: a replayed recording is kept as long as a
   * lived one). Returns how many were deleted.
   */
  async prune(retentionMs: number): Promise<number> {
    const newest = (await this.db.get<{ t: number | null }>('SELECT MAX(time_ms) AS t FROM observations'))?.t;
    if (newest === null || newest === undefined) return 0;
    return (await this.db.run('DELETE FROM observations WHERE time_ms < @cutoff', { cutoff: newest - retentionMs })).changes;
  }

  async count(): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM observations'))!.n;
  }
}
