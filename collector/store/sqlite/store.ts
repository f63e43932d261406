import { AsyncLocalStorage } from 'node:async_hooks';
import { Mutex } from 'async-mutex';
import type { RetentionPolicy, Repositories, Store, Transaction } from '../contract.js';
import { sqlRepositories, type SqlRepositories } from '../repositories.js';
import type { SqlExecutor, SqlParams } from '../sql.js';
import { SqliteConnection, type OpenOptions } from './database.js';

export interface SqliteStoreOptions extends OpenOptions {
  now?: () => number;
}

/** Marks the async context of a running transaction; `open` turns false when it ends. */
interface TransactionContext {
  open: boolean;
}

/**
 * The embedded backend: one better-sqlite3 connection (one writer, WAL) behind the asynchronous
 * contract. Transactions are serialised by a mutex and hold it across their awaits; calls on the
 * store outside a transaction wait until none is running, so they never see uncommitted rows.
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  /** The raw connection, for migrations tests and benchmarks only. */
  readonly connection: SqliteConnection;
  private readonly mutex = new Mutex();
  private readonly context = new AsyncLocalStorage<TransactionContext>();
  private readonly workloadIds = new Map<string, number>();
  private readonly tx: SqlRepositories & Transaction;
  private savepoints = 0;
  private readonly outside: SqlRepositories;
  private closed = false;

  constructor(opts: SqliteStoreOptions) {
    this.connection = new SqliteConnection(opts);
    const repoOptions = { workloadIds: this.workloadIds, now: opts.now ?? Date.now };
    this.tx = { ...sqlRepositories(this.inTransaction(), repoOptions), savepoint: (fn) => this.savepoint(fn) };
    this.outside = sqlRepositories(this.outsideTransactions(), repoOptions);
  }

  get schemaVersion(): number {
    return this.connection.schemaVersion;
  }

  get workloads(): SqlRepositories['workloads'] {
    return this.outside.workloads;
  }
  get baselines(): Repositories['baselines'] {
    return this.outside.baselines;
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

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    if (this.context.getStore()?.open) throw new Error('store: a transaction is already open in this context (use its tx)');
    return this.mutex.runExclusive(() => {
      const ctx: TransactionContext = { open: true };
      return this.context.run(ctx, async () => {
        if (this.closed) throw new Error('store: closed');
        this.connection.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(this.tx);
          this.connection.exec('COMMIT');
          return result;
        } catch (err) {
          if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
          // Ids handed out inside the rolled-back transaction may not exist (and may be reused).
          this.workloadIds.clear();
          throw err;
        } finally {
          ctx.open = false;
        }
      });
    });
  }

  private async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `sp${++this.savepoints}`;
    this.connection.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn();
      this.connection.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      this.connection.exec(`ROLLBACK TO ${name}`);
      this.connection.exec(`RELEASE ${name}`);
      throw err;
    }
  }

  async prune(policy: RetentionPolicy, nowMs: number): Promise<{ observations: number; agents: number }> {
    return this.transaction(async () => ({
      observations: await this.tx.observations.prune(policy.observationsMs),
      agents: await this.tx.agents.prune(policy.agentsMs, nowMs),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A running transaction finishes first.
    await this.mutex.runExclusive(() => this.connection.close());
  }

  /** Statements of the running transaction (the mutex is ours). */
  private inTransaction(): SqlExecutor {
    const c = this.connection;
    return {
      run: async (sql: string, params?: SqlParams) => c.run(sql, params),
      get: async <T>(sql: string, params?: SqlParams) => c.get<T>(sql, params),
      all: async <T>(sql: string, params?: SqlParams) => c.all<T>(sql, params),
    };
  }

  /** Statements on their own: they wait for a running transaction, so they see committed rows only. */
  private outsideTransactions(): SqlExecutor {
    const c = this.connection;
    const ready = async (): Promise<void> => {
      while (this.mutex.isLocked()) {
        if (this.context.getStore()?.open) throw new Error('store: used directly inside a transaction (use its tx): that would deadlock');
        await this.mutex.waitForUnlock();
      }
      if (this.closed) throw new Error('store: closed');
    };
    return {
      run: async (sql: string, params?: SqlParams) => (await ready(), c.run(sql, params)),
      get: async <T>(sql: string, params?: SqlParams) => (await ready(), c.get<T>(sql, params)),
      all: async <T>(sql: string, params?: SqlParams) => (await ready(), c.all<T>(sql, params)),
    };
  }
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(opts);
}
