/** The database holds token hashes and everything observed: owner-only, even a file from before. */
import t from 'tap';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';

t.test('driftwatch.db and its WAL are 0600, a pre-existing 0644 file included', async (t) => {
  const dir = t.testdir({ fresh: {}, old: {} });
  const fresh = join(dir, 'fresh');
  const store = new SqliteStore({ dataDir: fresh });
  await store.close();
  t.equal(statSync(join(fresh, 'driftwatch.db')).mode & 0o777, 0o600, 'a new file');
  const old = join(dir, 'old');
  writeFileSync(join(old, 'driftwatch.db'), '', { mode: 0o644 });
  const reopened = new SqliteStore({ dataDir: old });
  await reopened.close();
  t.equal(statSync(join(old, 'driftwatch.db')).mode & 0o777, 0o600, 'an existing 0644 file is narrowed');
});
