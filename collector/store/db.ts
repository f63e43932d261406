import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type SqlValue = string | number | bigint | null | Buffer;
export type SqlParams = Record<string, SqlValue> | SqlValue[];

/**
 * The one seam between driftwatch and its database. Table modules (`*.ts` beside this file) only
 * use these four calls with portable SQL (named `@param`s, no SQLite-only functions), so that a
 * PostgreSQL implementation can sit behind the same interface for multi-replica collectors.
 * No collector state lives outside the database except caches that can be rebuilt from it.
 */
export interface SqlDatabase {
  run(sql: string, params?: SqlParams): { changes: number; lastInsertRowid: number | bigint };
  get<T>(sql: string, params?: SqlParams): T | undefined;
  all<T>(sql: string, params?: SqlParams): T[];
  /** Runs fn in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T;
  close(): void;
  readonly schemaVersion: number;
}

export interface OpenOptions {
  /** Directory for `driftwatch.db`; `:memory:` for an in-memory database (tests). */
  dataDir: string;
  /** Apply migrations up to this version only (tests of upgrades). */
  targetVersion?: number;
  migrations?: readonly Migration[];
}

export class SqliteDatabase implements SqlDatabase {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;

  constructor(opts: OpenOptions) {
    const file = opts.dataDir === ':memory:' ? ':memory:' : join(opts.dataDir, 'driftwatch.db');
    if (opts.dataDir !== ':memory:') mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this, opts.migrations ?? MIGRATIONS, opts.targetVersion);
  }

  get schemaVersion(): number {
    return this.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')?.v ?? 0;
  }

  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  run(sql: string, params: SqlParams = {}): { changes: number; lastInsertRowid: number | bigint } {
    return this.prepare(sql).run(params);
  }

  get<T>(sql: string, params: SqlParams = {}): T | undefined {
    return this.prepare(sql).get(params) as T | undefined;
  }

  all<T>(sql: string, params: SqlParams = {}): T[] {
    return this.prepare(sql).all(params) as T[];
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Multi-statement DDL; only migrations use it. */
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

function migrate(db: SqliteDatabase, migrations: readonly Migration[], target?: number): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const current = db.schemaVersion;
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > latest) throw new Error(`database schema version ${current} is newer than this driftwatch (${latest}): upgrade driftwatch`);
  for (const m of migrations) {
    if (m.version <= current || (target !== undefined && m.version > target)) continue;
    db.transaction(() => {
      db.exec(m.up);
      db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @at)', { v: m.version, n: m.name, at: new Date().toISOString() });
    });
  }
}

export function openDatabase(opts: OpenOptions): SqliteDatabase {
  return new SqliteDatabase(opts);
}
