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

/**
 * A backend's repositories outside transactions (each statement on its own), as the store's own
 * properties: `store.workloads`, `store.deviations`, …
 */
export abstract class StoreRepositories implements Repositories {
  protected abstract readonly outside: SqlRepositories;

  get workloads(): SqlRepositories['workloads'] {
    return this.outside.workloads;
  }
  get baselines(): Repositories['baselines'] {
    return this.outside.baselines;
  }
  get learning(): Repositories['learning'] {
    return this.outside.learning;
  }
  get deviations(): Repositories['deviations'] {
    return this.outside.deviations;
  }
  get observations(): SqlRepositories['observations'] {
    return this.outside.observations;
  }
  get agents(): SqlRepositories['agents'] {
    return this.outside.agents;
  }
  get declared(): Repositories['declared'] {
    return this.outside.declared;
  }
  get tokens(): Repositories['tokens'] {
    return this.outside.tokens;
  }
  get audit(): Repositories['audit'] {
    return this.outside.audit;
  }
  get outbox(): SqlRepositories['outbox'] {
    return this.outside.outbox;
  }
  get queries(): Repositories['queries'] {
    return this.outside.queries;
  }
  get reports(): Repositories['reports'] {
    return this.outside.reports;
  }
}
