/**
 * Alerting while the store refuses writes (a full disk). Alerts already in the outbox keep going
 * out: delivering needs only reads; what became of each row is kept in memory, never sent twice,
 * and written when the store takes writes again. Alerts raised meanwhile (an agent gone) wait for
 * the store instead of being lost.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HealthEvent } from '../../../common/deviations.js';
import { CollectorBus } from '../../../collector/events.js';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../common/logger.js';
import { SinkDispatcher } from '../../../collector/outbox/dispatcher.js';
import { createAlertingMetrics } from '../../../collector/outbox/metrics.js';
import { sampleNotification } from '../../../collector/outbox/sample.js';
import { StorageUnavailableError, type OutboxRepository, type Store } from '../../../collector/store/contract.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { AlertNotification, Sink } from '../../../collector/sinks/types.js';
import { alertingConfig, FAST, startAlerting } from '../../helpers/alerting.js';
import { eventually } from '../../helpers/processes.js';

const QUEUED = 3;
const OUTBOX_WRITES = new Set<PropertyKey>(['markSent', 'markRetry', 'markFailed']);

/** `target`, except that the methods named `writes` reject as on a full disk while `full.on`; counts calls by name. */
function failingWrites<T extends object>(target: T, writes: ReadonlySet<PropertyKey>) {
  const full = { on: true };
  const calls = new Map<PropertyKey, number>();
  const proxy = new Proxy(target, {
    get(object, key) {
      calls.set(key, (calls.get(key) ?? 0) + 1);
      if (writes.has(key) && full.on)
        return async () => {
          throw new StorageUnavailableError('disk-full', 'SQLITE_FULL', 'the database volume is full');
        };
      const value = Reflect.get(object, key) as unknown;
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
  return { proxy, full, calls: (key: PropertyKey) => calls.get(key) ?? 0 };
}

t.test('queued alerts are delivered once during a store outage and recorded after it', async (t) => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  for (let i = 0; i < QUEUED; i++) await store.outbox.enqueue('hook', sampleNotification({ cluster: 'c', baseUrl: 'https://dw.example', nowMs: Date.now() }), Date.now());
  const { proxy: repo, full, calls } = failingWrites<OutboxRepository>(store.outbox, OUTBOX_WRITES);
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
  const looks = calls('claim');
  await eventually(() => calls('claim') >= looks + 5, 'the loop to look at the queue again several times');
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

t.test('an alert raised while the store refuses writes is decided and sent once it takes them again', async (t) => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  const { proxy, full, calls } = failingWrites<Store>(store, new Set(['transaction']));
  const bus = new CollectorBus();
  const file = join(t.testdir(), 'alerts.jsonl');
  const alerting = startAlerting(proxy, bus, alertingConfig({ ...FAST, sinks: [{ name: 'file', type: 'file', path: file }] }));
  full.on = false;
  await alerting.start();
  t.teardown(async () => {
    await alerting.close();
    await store.close();
  });
  const sent = (): string[] => {
    try {
      return readFileSync(file, 'utf8').trimEnd().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  full.on = true;
  const health: HealthEvent = { kind: 'agent-disconnected', key: 'agent-disconnected/test/node-9', severity: 'high', summary: 'agent on node-9 is disconnected', node: 'node-9', resolved: false, atMs: Date.now(), detail: {} };
  bus.emit({ type: 'health', health });
  const tries = calls('transaction');
  await eventually(() => calls('transaction') >= tries + 5, 'the alerter to try several times');
  t.same(sent(), [], 'nothing can be decided while the store refuses writes');

  full.on = false;
  await eventually(() => sent().length > 0, 'the alert to go out once the store takes writes');
  t.match(JSON.parse(sent()[0]!), { key: 'health:agent-disconnected/test/node-9', health: { kind: 'agent-disconnected' } }, 'the alert raised during the outage');
});
