import { Mutex, withTimeout, type MutexInterface } from 'async-mutex';
import { NO_REPLICAS, SOLE_LEADER, StorageUnavailableError, withLatestFailure, type RetentionPolicy, type StorageState, type Store, type Transaction } from '../contract.js';
import { sqlRepositories, StoreRepositories, type RepositoryOptions, type SqlRepositories } from '../repositories.js';
import { pruneRetention } from '../retention.js';
import type { SqlExecutor, SqlParams } from '../sql.js';
import { SqliteConnection, type OpenOptions } from './database.js';
import { roomShortfall, storageFailureOf } from './storage.js';

export interface SqliteStoreOptions extends OpenOptions {
  now?: () => number;
  /** How long to wait for the running transaction before failing (default 120 s; tests shorten it). */
  transactionWaitMs?: number;
}

/**
 * One running transaction. Its repositories are built for it and bound to it (no async-context
 * lookup: Node 20's AsyncLocalStorage puts a hook on every promise in the process, which cost the
 * ingest path ~10 % of its CPU); `ended` turns true when it commits or rolls back.
 */
interface TransactionContext {
  ended: boolean;
  /**
   * The storage failed inside this transaction. SQLite may have rolled the whole transaction back
   * already (it does on SQLITE_FULL); statements after that would each commit on their own, so
   * every further statement, savepoint and the commit fail with this error instead.
   */
  failed?: StorageUnavailableError;
}

/**
 * How long a transaction, or a call outside one, waits for the running transaction. A batch takes
 * milliseconds and the largest retention prune seconds; waiting this long means a deadlock — code
 * inside a transaction that called the store directly instead of its `tx` — which then fails with
 * an error that says so instead of stalling ingest forever.
 */
const TRANSACTION_WAIT_MS = 120_000;

/** Bytes the storage probe commits: more than a one-page write, which may fit where none else does. */
const PROBE_BYTES = 64 * 1024;
/** The state's code when the volume has too little room, before any write failed. */
const LOW_FREE_SPACE = 'LOW_FREE_SPACE';

/**
 * The embedded backend: one better-sqlite3 connection (one writer, WAL) behind the asynchronous
 * contract. Transactions are serialised by a mutex and hold it across their awaits; calls on the
 * store outside a transaction wait until none is running, so they never see uncommitted rows.
 */
export class SqliteStore extends StoreRepositories implements Store {
  readonly backend = 'sqlite';
  readonly leadership = SOLE_LEADER;
  readonly replicas = NO_REPLICAS;
  /** The raw connection, for migrations tests and benchmarks only. */
  readonly connection: SqliteConnection;
  /** Held by the running transaction; `close()` takes it without the deadlock timeout. */
  private readonly lock = new Mutex();
  private readonly mutex: MutexInterface;
  private readonly workloadIds = new Map<string, number>();
  private readonly repoOptions: RepositoryOptions;
  private savepoints = 0;
  protected readonly outside: SqlRepositories;
  private closed = false;
  private state: StorageState = { available: true };
  private readonly now: () => number;

  constructor(private readonly opts: SqliteStoreOptions) {
    super();
    this.now = opts.now ?? Date.now;
    const waitMs = opts.transactionWaitMs ?? TRANSACTION_WAIT_MS;
    this.mutex = withTimeout(this.lock, waitMs, new Error(`store: waited ${waitMs} ms for the running transaction — a store call inside a transaction deadlocks (use its tx)`));
    this.connection = new SqliteConnection(opts);
    this.repoOptions = { workloadIds: this.workloadIds, now: this.now };
    this.outside = sqlRepositories(this.outsideTransactions(), this.repoOptions);
  }

  get schemaVersion(): number {
    return this.connection.schemaVersion;
  }


  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.runTransaction((tx) => fn(tx));
  }

  /** A transaction whose function also gets its context, for raw statements of the store itself. */
  private runTransaction<T>(fn: (tx: SqlRepositories & Transaction, ctx: TransactionContext) => Promise<T>): Promise<T> {
    return this.mutex.runExclusive(async () => {
      if (this.closed) throw new Error('store: closed');
      const ctx: TransactionContext = { ended: false };
      const tx: SqlRepositories & Transaction = { ...sqlRepositories(this.inTransaction(ctx), this.repoOptions), savepoint: (f) => this.savepoint(ctx, f) };
      this.statement(ctx, () => this.connection.exec('BEGIN IMMEDIATE'));
      try {
        const result = await fn(tx, ctx);
        if (ctx.failed) throw ctx.failed;
        this.statement(ctx, () => this.connection.exec('COMMIT'));
        return result;
      } catch (err) {
        this.rollback();
        // Ids handed out inside the rolled-back transaction may not exist (and may be reused).
        this.workloadIds.clear();
        throw ctx.failed ?? err;
      } finally {
        ctx.ended = true;
      }
    });
  }

  private async savepoint<T>(ctx: TransactionContext, fn: () => Promise<T>): Promise<T> {
    const name = `sp${++this.savepoints}`;
    this.statement(ctx, () => this.connection.exec(`SAVEPOINT ${name}`));
    try {
      const result = await fn();
      this.statement(ctx, () => this.connection.exec(`RELEASE ${name}`));
      return result;
    } catch (err) {
      // After a storage failure the transaction is lost as a whole: no savepoint to return to.
      if (ctx.failed) throw ctx.failed;
      this.statement(ctx, () => this.connection.exec(`ROLLBACK TO ${name}`));
      this.statement(ctx, () => this.connection.exec(`RELEASE ${name}`));
      throw err;
    }
  }

  /** Rolls back what is still open; a rollback that fails must not hide why it was needed. */
  private rollback(): void {
    try {
      if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
    } catch {
      // SQLite ends the transaction when a ROLLBACK fails; the original error is what matters.
    }
  }

  /**
   * Runs one statement on the connection: a storage failure becomes StorageUnavailableError,
   * makes the store unavailable and, inside a transaction, fails that transaction as a whole.
   */
  /** Runs one statement; a storage failure marks the store unavailable and fails `ctx` as a whole. */
  private statement<T>(ctx: TransactionContext | undefined, run: () => T): T {
    if (ctx?.failed) throw ctx.failed;
    try {
      return run();
    } catch (err) {
      const failure = storageFailureOf(err);
      if (!failure) throw err;
      if (this.state.available) this.state = { available: false, failure: failure.failure, code: failure.code, message: failure.message, sinceMs: this.now() };
      if (ctx) ctx.failed = failure;
      throw failure;
    }
  }

  /** One collector per database file: no other process writes what the caches hold. */
  onExternalWrite(): () => void {
    return () => undefined;
  }

  storage(): StorageState {
    return this.state;
  }

  /**
   * The volume must have room (roomShortfall: SQLite reuses space it already holds, so a write
   * alone can succeed on a full volume), and a transaction writing PROBE_BYTES must commit; until
   * both hold the store is unavailable, with the latest reason.
   */
  async probeStorage(): Promise<StorageState> {
    const before = this.state;
    if (this.closed) return before;
    const shortfall = this.opts.dataDir === ':memory:' ? undefined : roomShortfall(this.opts.dataDir);
    if (shortfall) {
      this.state = before.available ? { available: false, failure: 'disk-full', code: LOW_FREE_SPACE, message: shortfall, sinceMs: this.now() } : { ...before, message: shortfall };
      return this.state;
    }
    try {
      await this.runTransaction(async (_tx, ctx) => {
        const c = this.connection;
        this.statement(ctx, () =>
          c.run(
            "INSERT INTO storage_probe (id, probed_at_ms, room) VALUES (1, @now, printf('%.*c', @bytes, 'x')) ON CONFLICT (id) DO UPDATE SET probed_at_ms = excluded.probed_at_ms, room = excluded.room",
            { now: this.now(), bytes: PROBE_BYTES },
          ),
        );
        this.statement(ctx, () => c.run('UPDATE storage_probe SET room = NULL WHERE id = 1'));
      });
      this.state = { available: true };
    } catch (err) {
      const failure = storageFailureOf(err);
      if (!failure) throw err;
      this.state = withLatestFailure(this.state, failure);
    }
    return this.state;
  }

  async prune(policy: RetentionPolicy, nowMs: number): Promise<{ observations: number; agents: number }> {
    return this.runTransaction((tx) => pruneRetention(tx, policy, nowMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A running transaction finishes first.
    await this.lock.runExclusive(() => this.connection.close());
  }

  /** Statements of this transaction (the mutex is ours while it runs). */
  private inTransaction(ctx: TransactionContext): SqlExecutor {
    const c = this.connection;
    const live = (): TransactionContext => {
      if (ctx.ended) throw new Error('store: a transaction\'s tx used after the transaction ended');
      return ctx;
    };
    return {
      run: async (sql: string, params?: SqlParams) => this.statement(live(), () => c.run(sql, params)),
      get: async <T>(sql: string, params?: SqlParams) => this.statement(live(), () => c.get<T>(sql, params)),
      all: async <T>(sql: string, params?: SqlParams) => this.statement(live(), () => c.all<T>(sql, params)),
    };
  }

  /** Statements on their own: they wait for a running transaction, so they see committed rows only. */
  private outsideTransactions(): SqlExecutor {
    const c = this.connection;
    const ready = async (): Promise<void> => {
      while (this.mutex.isLocked()) await this.mutex.waitForUnlock();
      if (this.closed) throw new Error('store: closed');
    };
    return {
      run: async (sql: string, params?: SqlParams) => (await ready(), this.statement(undefined, () => c.run(sql, params))),
      get: async <T>(sql: string, params?: SqlParams) => (await ready(), this.statement(undefined, () => c.get<T>(sql, params))),
      all: async <T>(sql: string, params?: SqlParams) => (await ready(), this.statement(undefined, () => c.all<T>(sql, params))),
    };
  }
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(opts);
}
