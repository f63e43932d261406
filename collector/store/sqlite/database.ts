import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, type Migration } from '../migrations/index.js';
import type { RunResult, SqlParams } from '../sql.js';

/** The database file inside collector.dataDir. */
export const DATABASE_FILE = 'driftwatch.db';

export interface OpenOptions {
  /** Directory for `driftwatch.db`; `:memory:` for an in-memory database (tests). */
  dataDir: string;
  /** Apply migrations up to this version only (tests of upgrades). */
  targetVersion?: number;
  migrations?: readonly Migration[];
}

/**
 * One better-sqlite3 connection: WAL, prepared statements cached by their text (the most recently
 * used `MAX_CACHED_STATEMENTS`), migrations applied at open. Synchronous, as the driver is; `SqliteStore` puts the asynchronous contract over it.
 */
/**
 * Prepared statements kept. The repositories' fixed statements are a few hundred; statements whose
 * text varies (IN lists of ids, filter combinations) would otherwise add one entry per distinct
 * text for as long as the collector runs.
 */
export const MAX_CACHED_STATEMENTS = 1000;

export class SqliteConnection {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  constructor(opts: OpenOptions) {
    const file = opts.dataDir === ':memory:' ? ':memory:' : join(opts.dataDir, DATABASE_FILE);
    if (file !== ':memory:') {
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
      // Created owner-only before SQLite opens it: its -wal and -shm files inherit this mode. A
      // file an older version created 0644 is narrowed too (the mode of open() applies to new files only).
      closeSync(openSync(file, 'a', 0o600));
      for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Temporary b-trees (RETURNING's buffered rows, sorts, json_each) stay in memory: on disk they
    // cost ~15 page writes per inserted deviation (measured with strace, 10x the WAL's own writes).
    this.db.pragma('temp_store = MEMORY');
    migrate(this, opts.migrations ?? MIGRATIONS, opts.targetVersion);
  }

  get schemaVersion(): number {
    return this.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')?.v ?? 0;
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /** Prepared statements held now (bounded by MAX_CACHED_STATEMENTS). */
  get cachedStatements(): number {
    return this.statements.size;
  }

  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (st) {
      // Most recently used last: the first entry is the one to drop.
      this.statements.delete(sql);
    } else {
      st = this.db.prepare(sql);
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, st);
    return st;
  }

  run(sql: string, params: SqlParams = {}): RunResult {
    return { changes: this.prepare(sql).run(params).changes };
  }

  get<T>(sql: string, params: SqlParams = {}): T | undefined {
    return this.prepare(sql).get(params) as T | undefined;
  }

  all<T>(sql: string, params: SqlParams = {}): T[] {
    return this.prepare(sql).all(params) as T[];
  }

  /** Multi-statement SQL (migrations, BEGIN/COMMIT). */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }
}

function migrate(db: SqliteConnection, migrations: readonly Migration[], target?: number): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const current = db.schemaVersion;
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > latest) throw new Error(`database schema version ${current} is newer than this driftwatch (${latest}): upgrade driftwatch`);
  for (const m of migrations) {
    if (m.version <= current || (target !== undefined && m.version > target)) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(m.up);
      if (m.sqlite) db.exec(m.sqlite);
      db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @at)', { v: m.version, n: m.name, at: new Date().toISOString() });
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
}
