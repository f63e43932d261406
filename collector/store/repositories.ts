/**
 * The SQL repositories over one executor: the same portable SQL serves every backend (named
 * `@param`s, `RETURNING`, `ON CONFLICT`, row values). A backend builds one set per connection or
 * transaction; caches that must outlive a set (workload ids) are passed in.
 */
import { SqlAgents } from './agents.js';
import { SqlAudit } from './audit.js';
import { SqlBaselines } from './baselines.js';
import type { Repositories } from './contract.js';
import { SqlDeclaredLastGood } from './declared.js';
import { SqlDeviations } from './deviations.js';
import { SqlLearning } from './learning.js';
import { SqlObservations } from './observations.js';
import { SqlOutbox } from './outbox.js';
import { SqlConsoleQueries } from './queries.js';
import { SqlReports } from './reports.js';
import type { SqlExecutor } from './sql.js';
import { SqlTokens } from './tokens.js';
import { SqlWorkloads } from './workloads.js';

export interface SqlRepositories extends Repositories {
  readonly workloads: SqlWorkloads;
  readonly observations: SqlObservations;
  readonly agents: SqlAgents;
  readonly outbox: SqlOutbox;
}

export interface RepositoryOptions {
  /** Workload ids by key, shared by every set over one database. */
  workloadIds: Map<string, number>;
  /** Wall clock for token expiry and audit times (tests pass their own). */
  now: () => number;
}

export function sqlRepositories(db: SqlExecutor, opts: RepositoryOptions): SqlRepositories {
  const workloads = new SqlWorkloads(db, opts.workloadIds);
  const agents = new SqlAgents(db);
  return {
    workloads,
    baselines: new SqlBaselines(db),
    learning: new SqlLearning(db),
    deviations: new SqlDeviations(db),
    observations: new SqlObservations(db, workloads),
    agents,
    declared: new SqlDeclaredLastGood(db),
    tokens: new SqlTokens(db, opts.now),
    audit: new SqlAudit(db, opts.now),
    outbox: new SqlOutbox(db),
    queries: new SqlConsoleQueries(db),
    reports: new SqlReports(db, agents),
  };
}
