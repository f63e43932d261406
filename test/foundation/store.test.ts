import t from 'tap';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openDatabase } from '../../collector/store/db.js';
import { MIGRATIONS } from '../../collector/store/migrations/index.js';

t.test('a database made by the first schema is migrated to the latest at start-up', async (t) => {
  const dir = t.testdir();
  const old = openDatabase({ dataDir: dir, targetVersion: 1 });
  t.equal(old.schemaVersion, 1);
  old.run(`INSERT INTO agents (instance_id, node, cluster, version, sources, first_seen_at, last_seen_at, last_seq) VALUES ('a-1', 'n1', 'c', '0.0.1', '[]', 'x', 'x', 41)`);
  old.close();

  const db = openDatabase({ dataDir: dir });
  t.equal(db.schemaVersion, MIGRATIONS[MIGRATIONS.length - 1]!.version, 'all migrations applied');
  t.equal(db.get<{ last_seq: number }>(`SELECT last_seq FROM agents WHERE instance_id = 'a-1'`)?.last_seq, 41, 'data kept');
  db.close();

  const raw = new Database(join(dir, 'driftwatch.db'), { readonly: true });
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
  t.same(versions.map((v) => v.version), MIGRATIONS.map((m) => m.version), 'each migration recorded once');
  raw.close();
});

t.test('a database newer than this driftwatch is refused', async (t) => {
  const dir = t.testdir();
  openDatabase({ dataDir: dir }).close();
  const raw = new Database(join(dir, 'driftwatch.db'));
  raw.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')`).run();
  raw.close();
  t.throws(() => openDatabase({ dataDir: dir }), /newer than this driftwatch/);
});

t.test('transactions roll back on error', async (t) => {
  const db = openDatabase({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  t.throws(() =>
    db.transaction(() => {
      db.run(`INSERT INTO audit_log (at, actor, action, target_type, target_id) VALUES ('x', 'me', 'test', 't', '1')`);
      throw new Error('boom');
    }),
  );
  t.equal(db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log')?.n, 0);
});
