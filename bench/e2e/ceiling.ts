/**
 * The SQLite ceiling of the collector's own schema: the rows a real run stored for its new
 * observations (one `observations` row and one learned `baseline_items` row each) copied into a
 * fresh database with the same schema, indexes and pragmas, by a plain insert loop in
 * transactions of one ingest batch. Whatever the store does beyond writing those rows (the engine,
 * JSON building, lookups) is the distance between the collector's ingest rate and this one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteConnection } from '../../collector/store/sqlite/database.js';
import type { SqlValue } from '../../collector/store/sql.js';

/** Parents first (copied untimed), then the tables each new observation writes (timed). */
const PARENT_TABLES = ['workloads', 'baselines'];
const TIMED_TABLES = ['observations', 'baseline_items'];

type Row = Record<string, SqlValue>;

function transaction(db: SqliteConnection, body: () => void): void {
  db.exec('BEGIN');
  try {
    body();
    db.exec('COMMIT');
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

function insertSql(db: SqliteConnection, table: string): { sql: string; columns: string[] } {
  const info = db.all<{ name: string; type: string; pk: number }>(`PRAGMA table_info(${table})`);
  if (!info.length) throw new Error(`the collector schema has no table ${table}: update bench/e2e/ceiling.ts`);
  // An INTEGER PRIMARY KEY is the rowid: let SQLite assign it as the collector's inserts do.
  const columns = info.filter((c) => !(c.pk === 1 && c.type.toUpperCase() === 'INTEGER') || PARENT_TABLES.includes(table)).map((c) => c.name);
  return { sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`, columns };
}

function pick(row: Row, columns: readonly string[]): Row {
  const out: Row = {};
  for (const c of columns) out[c] = row[c] ?? null;
  return out;
}

export interface Ceiling {
  observations: number;
  rowsPerObservation: number;
  /** New observations per second that the plain insert loop writes. */
  observationsPerSec: number;
}

/** Copies `limit` observations (and as many item rows) from the collector's store at `dataDir`. */
export function sqliteCeiling(dataDir: string, batchSize: number, limit = 100_000): Ceiling {
  const source = new SqliteConnection({ dataDir });
  const dir = mkdtempSync(join(tmpdir(), 'dw-ceiling-'));
  const target = new SqliteConnection({ dataDir: dir });
  try {
    for (const table of PARENT_TABLES) {
      const { sql, columns } = insertSql(target, table);
      const rows = source.all<Row>(`SELECT * FROM ${table}`);
      transaction(target, () => {
        for (const r of rows) target.run(sql, pick(r, columns));
      });
    }
    const [obs, items] = TIMED_TABLES.map((table) => ({ ...insertSql(target, table), rows: source.all<Row>(`SELECT * FROM ${table} ORDER BY id LIMIT @limit`, { limit }) })) as [
      { sql: string; columns: string[]; rows: Row[] },
      { sql: string; columns: string[]; rows: Row[] },
    ];
    const obsRows = obs.rows.map((r) => pick(r, obs.columns));
    const itemRows = items.rows.map((r) => pick(r, items.columns));
    const started = performance.now();
    for (let i = 0; i < obsRows.length; i += batchSize) {
      transaction(target, () => {
        for (let k = i; k < Math.min(i + batchSize, obsRows.length); k++) {
          target.run(obs.sql, obsRows[k]!);
          if (k < itemRows.length) target.run(items.sql, itemRows[k]!);
        }
      });
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      observations: obsRows.length,
      rowsPerObservation: Math.round(((obsRows.length + Math.min(itemRows.length, obsRows.length)) / Math.max(1, obsRows.length)) * 100) / 100,
      observationsPerSec: Math.round(obsRows.length / seconds),
    };
  } finally {
    source.close();
    target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
