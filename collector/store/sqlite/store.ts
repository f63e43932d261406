import { AsyncLocalStorage } from 'node:async_hooks';
import { Mutex } from 'async-mutex';
import { NO_REPLICAS, SOLE_LEADER, StorageUnavailableError, type RetentionPolicy, type StorageState, type Store, type Transaction } from '../contract.js';
import { sqlRepositories, StoreRepositories, type SqlRepositories } from '../repositories.js';
import { pruneRetention } from '../retention.js';
import type { SqlExecutor, SqlParams } from '../sql.js';
import { SqliteConnection, type OpenOptions } from './database.js';
import { roomShortfall, storageFailureOf } from './storage.js';

export interface SqliteStoreOptions extends OpenOptions {
  now?: () => number;
}

/** Marks the async context of a running transaction; `open` turns false when it ends. */
interface TransactionContext {
  open: boolean;
  /**
   * The storage failed inside this transaction. SQLite may have rolled the whole transaction back
   * already (it does on SQLITE_FULL); statements after that would each commit on their own, so
   * every further statement, savepoint and the commit fail with this error instead.
   */
  failed?: StorageUnavailableError;
}

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
  private readonly mutex = new Mutex();
  private readonly context = new AsyncLocalStorage<TransactionContext>();
  private readonly workloadIds = new Map<string, number>();
  private readonly tx: SqlRepositories & Transaction;
  private savepoints = 0;
  protected readonly outside: SqlRepositories;
  private closed = false;
  private state: StorageState = { available: true };
  private readonly now: () => number;

  constructor(private readonly opts: SqliteStoreOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.connection = new SqliteConnection(opts);
    const repoOptions = { workloadIds: this.workloadIds, now: this.now };
    this.tx = { ...sqlRepositories(this.inTransaction(), repoOptions), savepoint: (fn) => this.savepoint(fn) };
    this.outside = sqlRepositories(this.outsideTransactions(), repoOptions);
  }

  get schemaVersion(): number {
    return this.connection.schemaVersion;
  }


  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    if (this.context.getStore()?.open) throw new Error('store: a transaction is already open in this context (use its tx)');
    return this.mutex.runExclusive(() => {
      const ctx: TransactionContext = { open: true };
      return this.context.run(ctx, async () => {
        if (this.closed) throw new Error('store: closed');
        this.statement(() => this.connection.exec('BEGIN IMMEDIATE'));
        try {
          const result = await fn(this.tx);
          if (ctx.failed) throw ctx.failed;
          this.statement(() => this.connection.exec('COMMIT'));
          return result;
        } catch (err) {
          this.rollback();
          // Ids handed out inside the rolled-back transaction may not exist (and may be reused).
          this.workloadIds.clear();
          throw ctx.failed ?? err;
        } finally {
          ctx.open = false;
        }
      });
    });
  }

  private async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `sp${++this.savepoints}`;
    this.statement(() => this.connection.exec(`SAVEPOINT ${name}`));
    try {
      const result = await fn();
      this.statement(() => this.connection.exec(`RELEASE ${name}`));
      return result;
    } catch (err) {
      // After a storage failure the transaction is lost as a whole: no savepoint to return to.
      const failed = this.context.getStore()?.failed;
      if (failed) throw failed;
      this.statement(() => this.connection.exec(`ROLLBACK TO ${name}`));
      this.statement(() => this.connection.exec(`RELEASE ${name}`));
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
  private statement<T>(run: () => T): T {
    const ctx = this.context.getStore();
    if (ctx?.open && ctx.failed) throw ctx.failed;
    try {
      return run();
    } catch (err) {
      const failure = storageFailureOf(err);
      if (!failure) throw err;
      if (this.state.available) this.state = { available: false, failure: failure.failure, code: failure.code, message: failure.message, sinceMs: this.now() };
      if (ctx?.open) ctx.failed = failure;
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
      await this.transaction(async () => {
        const c = this.connection;
        this.statement(() =>
          c.run(
            "INSERT INTO storage_probe (id, probed_at_ms, room) VALUES (1, @now, printf('%.*c', @bytes, 'x')) ON CONFLICT (id) DO UPDATE SET probed_at_ms = excluded.probed_at_ms, room = excluded.room",
            { now: this.now(), bytes: PROBE_BYTES },
          ),
        );
        this.statement(() => c.run('UPDATE storage_probe SET room = NULL WHERE id = 1'));
      });
      this.state = { available: true };
    } catch (err) {
      const failure = storageFailureOf(err);
      if (!failure) throw err;
      const current = this.state;
      if (!current.available) this.state = { ...current, failure: failure.failure, code: failure.code, message: failure.message };
    }
    return this.state;
  }

  async prune(policy: RetentionPolicy, nowMs: number): Promise<{ observations: number; agents: number }> {
    return this.transaction(() => pruneRetention(this.tx, policy, nowMs));
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
      run: async (sql: string, params?: SqlParams) => this.statement(() => c.run(sql, params)),
      get: async <T>(sql: string, params?: SqlParams) => this.statement(() => c.get<T>(sql, params)),
      all: async <T>(sql: string, params?: SqlParams) => this.statement(() => c.all<T>(sql, params)),
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
      run: async (sql: string, params?: SqlParams) => (await ready(), this.statement(() => c.run(sql, params))),
      get: async <T>(sql: string, params?: SqlParams) => (await ready(), this.statement(() => c.get<T>(sql, params))),
      all: async <T>(sql: string, params?: SqlParams) => (await ready(), this.statement(() => c.all<T>(sql, params))),
    };
  }
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(opts);
}
