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

t.test('retention prunes old observations (event time) and long-gone agent instances', async (t) => {
  const { ObservationsTable } = await import('../../collector/store/observations.js');
  const { AgentsTable } = await import('../../collector/store/agents.js');
  const db = openDatabase({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const observations = new ObservationsTable(db);
  const day = 86_400_000;
  const base = Date.parse('2026-01-01T00:00:00Z');
  const mk = (time: number) => ({
    kind: 'process' as const,
    source: 'tetragon-json' as const,
    time,
    workload: { cluster: 'c', namespace: 'ns', kind: 'Deployment' as const, name: 'w', container: 'c' },
    identitySource: 'source' as const,
    node: 'n',
    pod: null,
    containerId: null,
    image: { name: null, digest: null },
    containerStart: null,
    preexisting: false,
    process: { exe: '/bin/true', args: '', pid: null, uid: null, user: null, execId: null, parentExe: null, ancestors: [], lineage: 'partial' as const, inInitTree: null, sessionId: null },
  });
  db.transaction(() => observations.insertBatch('a', 1, [mk(base), mk(base + 10 * day), mk(base + 40 * day)]));
  t.equal(observations.prune(30 * day), 1, 'only what is older than 30 days before the newest event');
  t.equal(observations.count(), 2);

  const agents = new AgentsTable(db);
  const now = Date.now();
  agents.hello({ instanceId: 'n-old', node: 'n', cluster: 'c', version: 'v', sources: [] }, new Date(now - 10 * day).toISOString());
  agents.disconnected('n-old', new Date(now - 10 * day).toISOString());
  agents.hello({ instanceId: 'n-live', node: 'n', cluster: 'c', version: 'v', sources: [] }, new Date(now - 10 * day).toISOString());
  t.equal(agents.prune(7 * day, now), 1, 'a disconnected instance is forgotten, a connected one never');
  t.same(agents.list().map((a) => a.instanceId), ['n-live']);
});
