import type { LearningRepository, LearningRun } from './contract.js';
import type { SqlExecutor } from './sql.js';

/** What learning windows are measured against besides event time: runs, and the store's installation. */
export class SqlLearning implements LearningRepository {
  constructor(private readonly db: SqlExecutor) {}

  async runs(baselineId: number): Promise<LearningRun[]> {
    return (await this.db.all<{ run: string; first_seen_ms: number }>('SELECT run, first_seen_ms FROM baseline_runs WHERE baseline_id = @baselineId ORDER BY first_seen_ms, run', { baselineId })).map(
      (r) => ({ run: r.run, firstSeenMs: r.first_seen_ms }),
    );
  }

  async putRun(baselineId: number, run: LearningRun): Promise<void> {
    await this.db.run(
      `INSERT INTO baseline_runs (baseline_id, run, first_seen_ms) VALUES (@baselineId, @run, @firstSeenMs)
       ON CONFLICT (baseline_id, run) DO UPDATE SET first_seen_ms = excluded.first_seen_ms`,
      { baselineId, run: run.run, firstSeenMs: run.firstSeenMs },
    );
  }

  async removeRun(baselineId: number, run: string): Promise<void> {
    await this.db.run('DELETE FROM baseline_runs WHERE baseline_id = @baselineId AND run = @run', { baselineId, run });
  }

  async installedAtMs(): Promise<number | null> {
    const r = await this.db.get<{ applied_at: string }>('SELECT applied_at FROM schema_migrations WHERE version = 1');
    const ms = r ? Date.parse(r.applied_at) : NaN;
    return Number.isFinite(ms) ? ms : null;
  }
}
