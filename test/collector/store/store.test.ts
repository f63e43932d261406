import t from 'tap';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SqliteConnection } from '../../../collector/store/sqlite/database.js';
import { MIGRATIONS } from '../../../collector/store/migrations/index.js';
import { STORE_BACKENDS, storeOpener } from '../../helpers/postgres.js';

t.test('a database made by the first schema is migrated to the latest at start-up', async (t) => {
  const dir = t.testdir();
  const old = new SqliteConnection({ dataDir: dir, targetVersion: 1 });
  t.equal(old.schemaVersion, 1);
  old.run(`INSERT INTO agents (instance_id, node, cluster, version, sources, first_seen_at, last_seen_at, last_seq) VALUES ('a-1', 'n1', 'c', '0.0.1', '[]', 'x', 'x', 41)`);
  old.close();

  const db = new SqliteConnection({ dataDir: dir });
  t.equal(db.schemaVersion, MIGRATIONS[MIGRATIONS.length - 1]!.version, 'all migrations applied');
  t.equal(db.get<{ last_seq: number }>(`SELECT last_seq FROM agents WHERE instance_id = 'a-1'`)?.last_seq, 41, 'data kept');
  // 2 = MEMORY: temporary b-trees on disk made every inserted deviation cost ~15 page writes.
  t.equal(db.get<{ temp_store: number }>('PRAGMA temp_store')?.temp_store, 2, 'temporary b-trees in memory');
  db.close();

  const raw = new Database(join(dir, 'driftwatch.db'), { readonly: true });
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
  t.same(versions.map((v) => v.version), MIGRATIONS.map((m) => m.version), 'each migration recorded once');
  raw.close();
});

t.test('a database newer than this driftwatch is refused', async (t) => {
  const dir = t.testdir();
  new SqliteConnection({ dataDir: dir }).close();
  const raw = new Database(join(dir, 'driftwatch.db'));
  raw.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')`).run();
  raw.close();
  t.throws(() => new SqliteConnection({ dataDir: dir }), /newer than this driftwatch/);
});

for (const backend of STORE_BACKENDS) t.test(`the store contract on ${backend}`, async (t) => {
  const open = await storeOpener(t, backend);
  if (!open) return;
  t.test('transactions roll back on error', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    await t.rejects(
      store.transaction(async (tx) => {
        await tx.audit.append({ actor: 'me', action: 'test', targetType: 't', targetId: '1', namespace: null });
        throw new Error('boom');
      }),
    );
    t.same(await store.audit.list({ limit: 10 }), [], 'nothing of the transaction is stored');
  });

  t.test('retention prunes old observations (event time) and long-gone agent instances', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
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
    await store.transaction((tx) => tx.observations.insertBatch('a', 1, [mk(base), mk(base + 10 * day), mk(base + 40 * day)]));
    const agents = store.agents;
    const now = Date.now();
    await agents.hello({ instanceId: 'n-old', node: 'n', cluster: 'c', version: 'v', sources: [] }, new Date(now - 10 * day).toISOString());
    await agents.disconnected('n-old', new Date(now - 10 * day).toISOString());
    await agents.hello({ instanceId: 'n-live', node: 'n', cluster: 'c', version: 'v', sources: [] }, new Date(now - 10 * day).toISOString());
    t.same(
      await store.prune({ observationsMs: 30 * day, agentsMs: 7 * day }, now),
      { observations: 1, agents: 1 },
      'observations older than 30 days before the newest event; a disconnected instance is forgotten, a connected one never',
    );
    t.equal(await store.observations.count(), 2);
    t.same((await agents.list()).map((a) => a.instanceId), ['n-live']);
  });

  t.test('declared last good: one text per file, replaced on save', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    t.same(await store.declared.all(), []);
    await store.declared.save({ file: 'b.yaml', text: 'b1', savedAt: '2026-12-01T00:00:00.000Z' });
    await store.declared.save({ file: 'a.yaml', text: 'a1', savedAt: '2026-12-01T00:00:01.000Z' });
    await store.declared.save({ file: 'b.yaml', text: 'b2', savedAt: '2026-12-01T00:00:02.000Z' });
    t.same(await store.declared.all(), [
      { file: 'a.yaml', text: 'a1', savedAt: '2026-12-01T00:00:01.000Z' },
      { file: 'b.yaml', text: 'b2', savedAt: '2026-12-01T00:00:02.000Z' },
    ]);
  });

  t.test('agents: keyset pages in (node, instance id) order, and counts by health', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const now = Date.now();
    for (const [id, node] of [['n2-b', 'n2'], ['n1-z', 'n1'], ['n2-a', 'n2'], ['n1-a', 'n1'], ['n3-a', 'n3']] as const) await store.agents.hello({ instanceId: id, node, cluster: 'c', version: 'v', sources: [] }, new Date(now).toISOString());
    await store.agents.disconnected('n3-a', new Date(now).toISOString());
    await store.agents.setCounters('n2-b', {}, new Date(now - 600_000).toISOString());
    const first = await store.agents.page(undefined, 2);
    t.same(first.items.map((a) => a.instanceId), ['n1-a', 'n1-z']);
    t.same(first.next, { node: 'n1', instanceId: 'n1-z' });
    const second = await store.agents.page(first.next!, 2);
    t.same(second.items.map((a) => a.instanceId), ['n2-a', 'n2-b']);
    const last = await store.agents.page(second.next!, 2);
    t.same(last.items.map((a) => a.instanceId), ['n3-a']);
    t.equal(last.next, null, 'no next after the last page');
    t.same(await store.agents.countByHealth(new Date(now - 120_000).toISOString()), { ok: 3, stale: 1, disconnected: 1 });
  });
});

t.test('migration 008: what Jobs and CronJobs learned as start-up only becomes steady (a run is learned whole)', async (t) => {
  const dir = t.testdir();
  const old = new SqliteConnection({ dataDir: dir, targetVersion: 6 });
  const at = '2026-12-01T00:00:00Z';
  for (const [id, kind] of [[1, 'CronJob'], [2, 'Deployment']] as const) {
    old.run(`INSERT INTO workloads (id, cluster, namespace, kind, name, container, created_at) VALUES (${id}, 'c', 'ns', '${kind}', 'w${id}', 'main', '${at}')`);
    old.run(`INSERT INTO baselines (id, workload_id, generation, phase, created_at, updated_at) VALUES (${id}, ${id}, 1, 'active', '${at}', '${at}')`);
    old.run(`INSERT INTO baseline_items (baseline_id, kind, item_key, origin, phase, detail, first_seen_ms, last_seen_ms) VALUES (${id}, 'process', 'p|/bin/sh', 'learned', 'startup', '{}', 1, 1)`);
  }
  old.close();
  const db = new SqliteConnection({ dataDir: dir });
  t.teardown(() => db.close());
  t.same(
    db.all<{ baseline_id: number; phase: string }>('SELECT baseline_id, phase FROM baseline_items ORDER BY baseline_id'),
    [
      { baseline_id: 1, phase: 'steady' },
      { baseline_id: 2, phase: 'startup' },
    ],
    "the CronJob's item is steady, the Deployment's stays start-up only",
  );
  t.same(db.all('SELECT * FROM baseline_runs'), [], 'no runs recorded before: a generation that was learning keeps the end it had');
});
