/**
 * A store whose volume is full: writes reject with the typed StorageUnavailableError (never a
 * driver error), a transaction that met one commits nothing even when its function swallowed the
 * error, reads go on, and the state turns available again only when a probe write succeeds.
 *
 * SQLite's own `max_page_count` makes it answer SQLITE_FULL exactly as on a full volume, without
 * needing one (test/faults/disk-full.test.ts fills a real one). The probe's free-space check sees
 * the host's volume here, so the probe's own write is what it finds full.
 */
import t from 'tap';
import { StorageUnavailableError } from '../../../collector/store/contract.js';
import { storageFailureOf } from '../../../collector/store/sqlite/storage.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { processObservation } from '../../helpers/observations.js';

const AGENT = { instanceId: 'n1-1', node: 'n1', cluster: 'c', version: 't', sources: [] };
/** Enough observations to need new pages. */
const batch = (from: number) => Array.from({ length: 200 }, (_, i) => processObservation(from + i));

/** From now on the database may not grow: the next write that needs a page fails with SQLITE_FULL. */
function fillVolume(store: SqliteStore): void {
  store.connection.exec('PRAGMA max_page_count = 1');
}

function freeVolume(store: SqliteStore): void {
  store.connection.exec('PRAGMA max_page_count = 1073741823');
}

t.test('driver errors of the storage are classified; others are not', async (t) => {
  const sqlite = (code: string) => Object.assign(new Error('x'), { code });
  t.equal(storageFailureOf(sqlite('SQLITE_FULL'))?.failure, 'disk-full');
  t.equal(storageFailureOf(sqlite('SQLITE_IOERR_WRITE'))?.failure, 'io-error');
  t.equal(storageFailureOf(sqlite('SQLITE_READONLY_DBMOVED'))?.failure, 'read-only');
  t.equal(storageFailureOf(sqlite('SQLITE_READONLY'))?.code, 'SQLITE_READONLY');
  t.equal(storageFailureOf(sqlite('SQLITE_CONSTRAINT_UNIQUE')), undefined, 'a constraint is the statement, not the storage');
  t.equal(storageFailureOf(sqlite('SQLITE_FULLNESS')), undefined, 'only the code or its extended forms');
  t.equal(storageFailureOf(new Error('plain')), undefined);
});

t.test('a full volume: typed error, whole transactions undone, reads go on, recovery by probe only', async (t) => {
  const store = new SqliteStore({ dataDir: t.testdir() });
  t.teardown(() => store.close());
  await store.agents.hello(AGENT, new Date().toISOString());

  fillVolume(store);
  const err = await store.transaction(async (tx) => tx.observations.insertBatch(AGENT.instanceId, 1, batch(0))).catch((e: unknown) => e);
  t.type(err, StorageUnavailableError, 'the write rejects with StorageUnavailableError');
  t.match(err, { failure: 'disk-full', code: 'SQLITE_FULL', message: /database volume is full/ });
  t.match(store.storage(), { available: false, failure: 'disk-full', code: 'SQLITE_FULL' }, 'the store reports it');

  // A caller that swallows the failure (as the alerter does per event) must not commit the rest.
  const swallowed = store.transaction(async (tx) => {
    await tx.agents.commitSeq(AGENT.instanceId, 7, new Date().toISOString());
    await tx.savepoint(() => tx.observations.insertBatch(AGENT.instanceId, 7, batch(1000))).catch(() => undefined);
    await tx.agents.setCounters(AGENT.instanceId, { after: 'the failure' }, new Date().toISOString());
  });
  await t.rejects(swallowed, StorageUnavailableError, 'the transaction fails as a whole');
  t.equal(await store.agents.lastSeq(AGENT.instanceId), 0, 'nothing of it was committed, not even the writes before the failure');
  t.equal(await store.observations.count(), 0);
  t.match(await store.agents.get(AGENT.instanceId), { node: 'n1' }, 'reads go on');

  t.equal((await store.probeStorage()).available, false, 'a probe while the volume is still full keeps it unavailable');
  freeVolume(store);
  t.equal(store.storage().available, false, 'only a probe turns it available (a single write that fits proves no room)');
  t.same(await store.probeStorage(), { available: true }, 'the probe finds room again');
  t.equal(await store.transaction(async (tx) => (await tx.observations.insertBatch(AGENT.instanceId, 1, batch(0)), tx.observations.count())), 200, 'writes work again');
});
