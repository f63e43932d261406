import t, { type Test } from 'tap';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { Transaction } from '../../../collector/store/contract.js';

const DEADLOCK = /waited 200 ms for the running transaction — a store call inside a transaction deadlocks \(use its tx\)/;

function openStore(t: Test): SqliteStore {
  const store = new SqliteStore({ dataDir: ':memory:', transactionWaitMs: 200 });
  t.teardown(() => store.close());
  return store;
}

t.test("a transaction's tx cannot be used after the transaction ended", async (t) => {
  const store = openStore(t);
  let kept: Transaction | undefined;
  await store.transaction(async (tx) => {
    kept = tx;
    await tx.agents.lastSeq('a');
  });
  await t.rejects(kept!.agents.lastSeq('a'), /tx used after the transaction ended/);
  // A later transaction does not revive the old tx (its statements would land in the new one).
  await store.transaction(async () => {
    await t.rejects(kept!.agents.lastSeq('a'), /tx used after the transaction ended/);
  });
});

t.test('calling the store directly inside a transaction fails with a clear error instead of hanging', async (t) => {
  const store = openStore(t);
  await t.rejects(
    store.transaction(async (tx) => {
      await tx.observations.insertBatch('a', 1, []);
      await store.deviations.find(1, 'p|/bin/sh');
    }),
    DEADLOCK,
  );
  await t.rejects(
    store.transaction(() => store.transaction(async () => 'nested')),
    DEADLOCK,
  );
  // The store is usable afterwards: the failed transactions rolled back and released it.
  t.equal(await store.transaction(async (tx) => tx.agents.lastSeq('a')), 0);
  t.equal(await store.agents.lastSeq('a'), 0);
});

t.test('transactions run one at a time; calls outside wait and see committed rows only', async (t) => {
  const store = openStore(t);
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const first = store.transaction(async (tx) => {
    await tx.declared.save({ file: 'a.yaml', text: 'kind: first', savedAt: '2026-12-06T00:00:00Z' });
    order.push('first wrote');
    await held;
    order.push('first commits');
  });
  const outside = store.declared.all().then((rows) => {
    order.push(`outside read ${rows.length}`);
  });
  const second = store.transaction(async () => {
    order.push('second runs');
  });
  await new Promise((r) => setImmediate(r));
  release();
  await Promise.all([first, outside, second]);
  t.same(order.slice(0, 2), ['first wrote', 'first commits'], 'the second transaction waited for the first');
  // Whether the outside read or the second transaction goes next is the mutex's business.
  t.same([...order.slice(2)].sort(), ['outside read 1', 'second runs'], 'the outside read waited and saw the committed row');
});
