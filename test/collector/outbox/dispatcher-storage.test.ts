/**
 * Alerts already in the outbox keep going out while the store refuses writes (a full disk):
 * delivering needs only reads; what became of each row is kept in memory, never sent twice, and
 * written when the store takes writes again.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../common/logger.js';
import { SinkDispatcher } from '../../../collector/outbox/dispatcher.js';
import { createAlertingMetrics } from '../../../collector/outbox/metrics.js';
import { sampleNotification } from '../../../collector/outbox/sample.js';
import { StorageUnavailableError, type OutboxRepository } from '../../../collector/store/contract.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { AlertNotification, Sink } from '../../../collector/sinks/types.js';
import { eventually } from '../../helpers/processes.js';

const QUEUED = 3;
const WRITES = new Set<PropertyKey>(['markSent', 'markRetry', 'markFailed']);

/** The real outbox, except that its writes fail while `full.on`; counts looks at the queue. */
function fullDiskOutbox(outbox: OutboxRepository) {
  const full = { on: true };
  const claims = { n: 0 };
  const repo = new Proxy(outbox, {
    get(target, key) {
      if (key === 'claim') claims.n++;
      if (WRITES.has(key) && full.on)
        return async () => {
          throw new StorageUnavailableError('disk-full', 'SQLITE_FULL', 'the database volume is full');
        };
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { repo, full, claims };
}

t.test('queued alerts are delivered once during a store outage and recorded after it', async (t) => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  for (let i = 0; i < QUEUED; i++) await store.outbox.enqueue('hook', sampleNotification({ cluster: 'c', baseUrl: 'https://dw.example', nowMs: Date.now() }), Date.now());
  const { repo, full, claims } = fullDiskOutbox(store.outbox);
  const delivered: string[] = [];
  const sink: Sink = {
    name: 'hook',
    type: 'webhook',
    maxBatch: 1,
    send: async (batch: readonly AlertNotification[]) => (delivered.push(...batch.map((n) => n.idempotencyKey)), { result: 'ok' }),
    close: async () => undefined,
  };
  const metrics = createAlertingMetrics(new Registry(), ['hook'], async () => [], () => new Map(), Date.now);
  const dispatcher = new SinkDispatcher(sink, true, { store: repo, metrics, logger: silentLogger(), now: Date.now, retry: { initialMs: 10, maxMs: 50 }, unreadyAfterMs: 60_000, idlePollMs: 10 });
  dispatcher.start();
  t.teardown(async () => {
    await dispatcher.close();
    await store.close();
  });

  await eventually(() => delivered.length >= QUEUED, 'the queued alerts to be delivered while writes fail');
  const looks = claims.n;
  await eventually(() => claims.n >= looks + 5, 'the loop to look at the queue again several times');
  t.equal(delivered.length, QUEUED, 'each delivered once: rows whose outcome is unwritten are not sent again');
  t.same(
    (await store.outbox.rows('test:sample')).map((r) => r.state),
    Array(QUEUED).fill('pending'),
    'the store has not recorded the deliveries yet',
  );

  full.on = false;
  await eventually(async () => (await store.outbox.rows('test:sample')).every((r) => r.state === 'sent'), 'the deliveries to be recorded once writes work');
  t.equal(delivered.length, QUEUED, 'and nothing was sent twice');
});
