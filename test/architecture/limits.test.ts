/**
 * Structural limits the code base keeps, so they cannot erode one commit at a time:
 * - no hand-written module under agent/, collector/, common/ or cli/ grows past 450 lines (a file
 *   that long holds more than one responsibility);
 * - storage stays behind the store contract: `better-sqlite3` is imported, and SQL is written, only
 *   under collector/store/ — a second backend (PostgreSQL) is then one folder, not a hunt.
 * A violation names the file (and line).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MAX_LINES = 450;
const STORE = 'collector/store/';

function sourceFiles(dir: string, pattern = /\.(ts|js|mjs)$/): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry}`;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path, pattern));
    else if (pattern.test(entry)) out.push(path);
  }
  return out;
}

const HAND_WRITTEN = ['agent', 'collector', 'common', 'cli'].flatMap((d) => sourceFiles(d, /\.ts$/));
const PRODUCTION = [...HAND_WRITTEN, ...sourceFiles('ui')];

/** Statements a store would run; matched in code, so prose in comments that merely names a verb does not count. */
const SQL = /\b(SELECT\s+(?:[\w*(]|DISTINCT)[^;]*\bFROM\b|INSERT\s+(?:OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIRTUAL\s+TABLE|TRIGGER)\b|PRAGMA\s+\w)/;

function codeLines(file: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((text, i) => {
    const trimmed = text.trim();
    if (trimmed.startsWith('//') || trimmed.startsWith('*') || trimmed.startsWith('/*')) return;
    out.push({ line: i + 1, text });
  });
  return out;
}

t.test(`no hand-written module exceeds ${MAX_LINES} lines`, async (t) => {
  const tooLong = HAND_WRITTEN.map((file) => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').trimEnd().split('\n').length }))
    .filter((f) => f.lines > MAX_LINES)
    .map((f) => `${f.file}: ${f.lines} lines`);
  t.same(tooLong, []);
});

t.test('better-sqlite3 is imported only under collector/store/', async (t) => {
  const importers = PRODUCTION.filter((file) => !file.startsWith(STORE))
    .flatMap((file) => codeLines(file).filter((l) => /['"]better-sqlite3['"]/.test(l.text)).map((l) => `${file}:${l.line}`));
  t.same(importers, []);
});

t.test('SQL is written only under collector/store/', async (t) => {
  const writers = PRODUCTION.filter((file) => !file.startsWith(STORE))
    .flatMap((file) => codeLines(file).filter((l) => SQL.test(l.text)).map((l) => `${file}:${l.line}: ${l.text.trim()}`));
  t.same(writers, []);
});

t.test('the SQL detector recognises what stores write', async (t) => {
  for (const sql of ['SELECT id FROM deviations', 'SELECT * FROM t', 'INSERT INTO outbox (a) VALUES (1)', 'INSERT OR IGNORE INTO x', 'UPDATE deviations SET status = 1', 'DELETE FROM observations', 'CREATE TABLE x (a)', 'CREATE UNIQUE INDEX i ON t(a)', 'PRAGMA journal_mode'])
    t.match(sql, SQL, sql);
  for (const prose of ['select a workload from the list', 'update the baseline', 'delete it from the store']) t.notMatch(prose, SQL, prose);
  // Ensure the scan itself sees the store's SQL, i.e. it would catch a leak.
  t.ok(codeLines('collector/store/deviations.ts').some((l) => SQL.test(l.text)));
});
