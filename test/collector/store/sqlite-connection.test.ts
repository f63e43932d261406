import t from 'tap';
import { MAX_CACHED_STATEMENTS, SqliteConnection } from '../../../collector/store/sqlite/database.js';

t.test('prepared statements are cached by text, at most MAX_CACHED_STATEMENTS of them', async (t) => {
  const db = new SqliteConnection({ dataDir: ':memory:' });
  t.teardown(() => db.close());
  const before = db.cachedStatements;
  // Statements whose text varies — like the outbox's IN lists of ids — one per distinct text.
  let wrong = 0;
  for (let i = 0; i < MAX_CACHED_STATEMENTS * 3; i++) {
    if (db.get<{ n: number }>(`SELECT ${i} AS n`)?.n !== i) wrong++;
    // A statement used all the time stays usable however many others pass through.
    if (i % 100 === 0 && !(db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')!.v! > 0)) wrong++;
  }
  t.equal(wrong, 0, 'every statement answered');
  t.ok(before < MAX_CACHED_STATEMENTS, `${before} statements after migrating`);
  t.equal(db.cachedStatements, MAX_CACHED_STATEMENTS, 'bounded');
});
