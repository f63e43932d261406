import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { withLatestFailure, type RetentionPolicy, type StorageState, type Store, type Transaction } from '../contract.js';
import { sqlRepositories, StoreRepositories, type SqlRepositories } from '../repositories.js';
import { pruneRetention } from '../retention.js';
import type { RunResult, SqlExecutor, SqlParams } from '../sql.js';
import { LOCK_CLASS, LOCKS, migrate, poolConfig, type PostgresOpenOptions } from './database.js';
import { positionalValues, StatementCache } from './dialect.js';
import { AdvisoryLeadership, LEADER_RETRY_MS } from './leader.js';
import { NotifyChannel } from './notify.js';
import { storageFailureOf } from './storage.js';

export interface PostgresStoreOptions extends PostgresOpenOptions {
  now?: () => number;
  /** How often a follower tries to take the lead (tests shorten it). */
  leaderRetryMs?: number;
}

/** The connection of a running transaction; `open` turns false when it ends. */
interface TransactionContext {
  client: pg.PoolClient;
  open: boolean;
  savepoints: number;
  /** The server failed inside this transaction: nothing of it may commit, whatever fn caught. */
  failed?: ReturnType<typeof storageFailureOf>;
}

/** Bytes the storage probe commits (as the SQLite backend's probe). */
const PROBE_BYTES = 64 * 1024;

/**
 * PostgreSQL behind the asynchronous contract: a pool, one pooled connection per transaction,
 * statements prepared per connection (named by their text), the same repositories as SQLite.
 *
 * Write transactions take one transaction-level advisory lock (LOCKS.writer) right after BEGIN:
 * the engine's read-then-write steps (learning, deviation upserts, alert grouping) were written
 * for one writer at a time, and this keeps exactly that across every replica on the database,
 * while reads (API, WebSocket, edge pushes) run in parallel on every replica. Open with
 * `openPostgresStore` (migrations are asynchronous).
 */
export class PostgresStore extends StoreRepositories implements Store {
  readonly backend = 'postgres';
  readonly pool: pg.Pool;
  readonly leadership: AdvisoryLeadership;
  readonly replicas: NotifyChannel;
  private readonly context = new AsyncLocalStorage<TransactionContext>();
  private readonly statements = new StatementCache();
  private readonly workloadIds = new Map<string, number>();
  protected readonly outside: SqlRepositories;
  private readonly now: () => number;
  private state: StorageState = { available: true };
  private version = 0;
  /** write_generation after this store's latest commit (undefined before its first). */
  private generation: number | undefined;
  private readonly externalWriteListeners = new Set<() => void>();
  private closed = false;

  constructor(opts: PostgresStoreOptions) {
    super();
    this.now = opts.now ?? Date.now;
    const config = poolConfig(opts);
    this.pool = new pg.Pool(config);
    this.leadership = new AdvisoryLeadership(config, opts.leaderRetryMs);
    this.replicas = new NotifyChannel(this.pool, config, opts.leaderRetryMs ?? LEADER_RETRY_MS);
    // An idle pooled connection the server drops (restart, failover) must not crash the process.
    this.pool.on('error', (err) => this.noteFailure(err));
    this.outside = sqlRepositories(this.executor(undefined), this.repoOptions());
  }

  /** Migrates, then competes for the lead; called once by openPostgresStore. */
  async init(opts: PostgresOpenOptions): Promise<void> {
    this.version = await migrate(this.pool, opts.migrations, opts.targetVersion);
    await this.leadership.start();
    await this.replicas.start();
  }

  get schemaVersion(): number {
    return this.version;
  }


  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.sqlTransaction(fn);
  }

  private async sqlTransaction<T>(fn: (tx: SqlRepositories & Transaction) => Promise<T>): Promise<T> {
    if (this.context.getStore()?.open) throw new Error('store: a transaction is already open in this context (use its tx)');
    if (this.closed) throw new Error('store: closed');
    const client = await this.guard(() => this.pool.connect());
    const ctx: TransactionContext = { client, open: true, savepoints: 0 };
    let broken = false;
    try {
      return await this.context.run(ctx, async () => {
        await this.exec(ctx, 'BEGIN');
        await this.exec(ctx, `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${LOCKS.writer})`);
        const generation = await this.nextGeneration(ctx);
        const tx: SqlRepositories & Transaction = { ...sqlRepositories(this.executor(ctx), this.repoOptions()), savepoint: (f) => this.savepoint(ctx, f) };
        try {
          const result = await fn(tx);
          if (ctx.failed) throw ctx.failed;
          await this.exec(ctx, 'COMMIT');
          this.generation = generation;
          return result;
        } catch (err) {
          broken = !(await this.rollback(client));
          // Ids handed out inside the rolled-back transaction do not exist.
          this.workloadIds.clear();
          throw ctx.failed ?? err;
        }
      });
    } finally {
      ctx.open = false;
      // A connection whose rollback failed is in an unknown state: the pool closes it.
      client.release(broken || ctx.failed !== undefined);
    }
  }

  /**
   * Counts this transaction in `write_generation` (under the writer lock, so counts are serial);
   * when the count moved since this store's own last commit, another replica wrote in between and
   * the external-write listeners drop their caches before the transaction's function reads them.
   */
  private async nextGeneration(ctx: TransactionContext): Promise<number> {
    const r = await this.statement(ctx, () => ctx.client.query<{ generation: number }>('UPDATE write_generation SET generation = generation + 1 WHERE id = 1 RETURNING generation'));
    const generation = r.rows[0]!.generation;
    if (generation - 1 !== this.generation) for (const l of this.externalWriteListeners) l();
    return generation;
  }

  onExternalWrite(listener: () => void): () => void {
    this.externalWriteListeners.add(listener);
    return () => this.externalWriteListeners.delete(listener);
  }

  private async savepoint<T>(ctx: TransactionContext, fn: () => Promise<T>): Promise<T> {
    const name = `sp${++ctx.savepoints}`;
    await this.exec(ctx, `SAVEPOINT ${name}`);
    try {
      const result = await fn();
      await this.exec(ctx, `RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      if (ctx.failed) throw ctx.failed;
      await this.exec(ctx, `ROLLBACK TO SAVEPOINT ${name}`);
      await this.exec(ctx, `RELEASE SAVEPOINT ${name}`);
      throw err;
    }
  }

  /** Whether the rollback went through; its own failure must not hide why it was needed. */
  private async rollback(client: pg.PoolClient): Promise<boolean> {
    try {
      await client.query('ROLLBACK');
      return true;
    } catch {
      return false;
    }
  }

  private exec(ctx: TransactionContext, sql: string): Promise<unknown> {
    return this.statement(ctx, () => ctx.client.query(sql));
  }

  /**
   * Runs one statement: a storage or server failure becomes StorageUnavailableError, makes the
   * store unavailable and, inside a transaction, fails that transaction as a whole.
   */
  private async statement<T>(ctx: TransactionContext | undefined, run: () => Promise<T>): Promise<T> {
    if (ctx?.failed) throw ctx.failed;
    try {
      return await run();
    } catch (err) {
      const failure = this.noteFailure(err);
      if (!failure) throw err;
      if (ctx) ctx.failed = failure;
      throw failure;
    }
  }

  private guard<T>(run: () => Promise<T>): Promise<T> {
    return this.statement(undefined, run);
  }

  private noteFailure(err: unknown): ReturnType<typeof storageFailureOf> {
    const failure = storageFailureOf(err);
    if (failure && this.state.available) this.state = { available: false, failure: failure.failure, code: failure.code, message: failure.message, sinceMs: this.now() };
    return failure;
  }

  storage(): StorageState {
    return this.state;
  }

  /** A transaction writing PROBE_BYTES must commit; until it does, the store stays unavailable with the latest reason. */
  async probeStorage(): Promise<StorageState> {
    if (this.closed) return this.state;
    try {
      await this.transaction(async () => {
        const ctx = this.context.getStore()!;
        await this.statement(ctx, () =>
          ctx.client.query(
            "INSERT INTO storage_probe (id, probed_at_ms, room) VALUES (1, $1, repeat('x', $2)) ON CONFLICT (id) DO UPDATE SET probed_at_ms = excluded.probed_at_ms, room = excluded.room",
            [Math.trunc(this.now()), PROBE_BYTES],
          ),
        );
        await this.statement(ctx, () => ctx.client.query('UPDATE storage_probe SET room = NULL WHERE id = 1'));
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
    return this.sqlTransaction((tx) => pruneRetention(tx, policy, nowMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.leadership.close();
    await this.replicas.close();
    // Waits for checked-out connections (running transactions) to be released.
    await this.pool.end();
  }

  private repoOptions(): { workloadIds: Map<string, number>; now: () => number } {
    return { workloadIds: this.workloadIds, now: this.now };
  }

  /** Statements on the transaction's connection, or (ctx undefined) each on a pooled one, committed on its own. */
  private executor(ctx: TransactionContext | undefined): SqlExecutor {
    const query = async <R extends pg.QueryResultRow>(sql: string, params: SqlParams = {}): Promise<pg.QueryResult<R>> => {
      if (!ctx) {
        if (this.context.getStore()?.open) throw new Error('store: used directly inside a transaction (use its tx)');
        if (this.closed) throw new Error('store: closed');
      } else if (!ctx.open) throw new Error('store: the transaction has ended');
      const st = this.statements.get(sql);
      const config: pg.QueryConfig = { text: st.text, values: positionalValues(st, params), ...(st.name && { name: st.name }) };
      return this.statement(ctx, () => (ctx ? ctx.client.query<R>(config) : this.pool.query<R>(config)));
    };
    return {
      run: async (sql: string, params?: SqlParams): Promise<RunResult> => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
      get: async <T>(sql: string, params?: SqlParams) => (await query(sql, params)).rows[0] as T | undefined,
      all: async <T>(sql: string, params?: SqlParams) => (await query(sql, params)).rows as T[],
    };
  }
}

/** Connects, migrates (once across replicas starting together) and returns the store. */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const store = new PostgresStore(opts);
  try {
    await store.init(opts);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
