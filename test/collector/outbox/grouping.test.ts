/** Grouping must not hide what matters: escalations, deny hits, sessions; groups do not live for ever. */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { CollectorBus } from '../../../collector/events.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { AlertDocumentV1 } from '../../../collector/sinks/document.js';
import type { Deviation } from '../../../common/deviations.js';
import { alertingConfig, deviation, FAST, readAlertFile, startAlerting, T0, until } from '../../helpers/alerting.js';

async function fileAlerting(t: Test) {
  const dir = t.testdir();
  const db = new SqliteStore({ dataDir: dir });
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const path = join(dir, 'out.jsonl');
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: [{ name: 'f', type: 'file', path }] }));
  t.teardown(() => alerting.close());
  await alerting.start();
  const read = (): AlertDocumentV1[] => readAlertFile(path);
  const emit = (d: Deviation): void => bus.emit({ type: 'deviation.created', deviation: d });
  /** Lets pending decisions come due and be taken, then reads what was written. */
  const settle = async (): Promise<AlertDocumentV1[]> => {
    await new Promise((r) => setTimeout(r, 100));
    await alerting.sweep();
    await until(async () => (await alerting.outbox.queueStats()).length === 0);
    return read();
  };
  return { alerting, read, emit, settle };
}

t.test('a member that raises the group severity re-notifies the group at once', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  for (let i = 0; i < 6; i++) emit(deviation({ firstSeenMs: T0 + i * 1000, severity: 'low' }));
  await until(() => read().length === 1);
  t.match(read()[0], { kind: 'group', severity: 'low', reason: 'new' });

  const same = deviation({ firstSeenMs: T0 + 10_000, severity: 'low' });
  emit(same);
  t.equal((await settle()).length, 1, 'a member of the same severity joins silently');

  const high = deviation({ firstSeenMs: T0 + 20_000, severity: 'high', summary: 'new process /usr/bin/nc in payments/api' });
  emit(high);
  await until(() => read().length === 2);
  const escalated = read()[1]!;
  t.match(escalated, { kind: 'group', severity: 'high', status: 'firing', reason: 'renotify', key: read()[0]!.key });
  t.equal(escalated.deviations[0]!.id, high.id, 'the member that raised it is listed first');
  t.equal(escalated.deviations.length + escalated.truncated, 8);

  emit(deviation({ firstSeenMs: T0 + 30_000, severity: 'medium' }));
  t.equal((await settle()).length, 2, 'below the group severity: silent again');
});

t.test('denied and interactive-session deviations are never folded into a group', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  const burst = Array.from({ length: 6 }, (_v, i) => deviation({ firstSeenMs: T0 + i * 1000, severity: 'critical' }));
  const deniedInBurst = deviation({ kind: 'denied', firstSeenMs: T0 + 2500, severity: 'critical' });
  for (const d of [...burst.slice(0, 3), deniedInBurst, ...burst.slice(3)]) emit(d);
  await until(() => read().length === 2);
  const first = await settle();
  t.equal(first.length, 2);
  t.match(
    first.find((x) => x.kind === 'deviation'),
    { kind: 'deviation', deviations: [{ id: deniedInBurst.id, kind: 'denied' }] },
    'the deny hit of the burst is its own alert',
  );
  const group = first.find((x) => x.kind === 'group')!;
  t.notOk(
    group.deviations.some((d) => d.id === deniedInBurst.id),
    'and not a group member',
  );

  const denied = deviation({ kind: 'denied', firstSeenMs: T0 + 20_000, severity: 'critical' });
  const session = deviation({ kind: 'interactive-session', firstSeenMs: T0 + 21_000, severity: 'high' });
  emit(denied);
  emit(session);
  await until(() => read().length === 4);
  const later = (await settle()).slice(2);
  t.same(
    later.map((x) => [x.kind, x.deviations[0]!.id]),
    [
      ['deviation', denied.id],
      ['deviation', session.id],
    ],
    'joining an open group of critical ones, each still pages on its own',
  );
});

t.test('a group takes members for at most 4 grouping windows; then a new decision starts', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  for (let i = 0; i < 6; i++) emit(deviation({ firstSeenMs: T0 + i * 1000 }));
  await until(() => read().length === 1);
  const group = read()[0]!;
  t.equal(group.kind, 'group');
  // A trickle, each within one window (1 min) of the previous: it would keep the group open for ever.
  for (let at = 50_000; at <= 200_000; at += 50_000) emit(deviation({ firstSeenMs: T0 + at }));
  t.equal((await settle()).length, 1, 'within 4 windows of the first member: they join silently');
  const late = deviation({ firstSeenMs: T0 + 250_000 });
  emit(late);
  const out = await settle();
  t.equal(out.length, 2, 'past the lifetime: not folded into the old group');
  t.match(out[1], { kind: 'deviation', deviations: [{ id: late.id }] });
});

t.test('what one rollout added is one notification however few, apart from the workload’s other deviations', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  const release = { fromBaselineId: 1, toBaselineId: 2, from: 'registry.example/api:2.0@sha256:aa', to: 'registry.example/api:2.1@sha256:bb', releasedAtMs: T0 };
  const added = [0, 1].map((i) => deviation({ firstSeenMs: T0 + i * 1000, severity: 'medium', release }));
  const attack = deviation({ firstSeenMs: T0 + 1500, severity: 'high' });
  for (const d of [added[0]!, attack, added[1]!]) emit(d);
  await until(() => read().length === 2);
  const sent = await settle();
  t.equal(sent.length, 2, 'two below the grouping threshold still make one release notification; the attack is its own');
  const group = sent.find((a) => a.kind === 'group')!;
  t.same(group.deviations.map((d) => d.id).sort(), added.map((d) => d.id).sort());
  t.equal(group.summary, `2 new in this release of payments/Deployment/api (container app): ${release.from} → ${release.to}`);
  t.same(group.deviations[0]!.release, release, 'each listed deviation carries the image change');
  t.match(sent.find((a) => a.kind === 'deviation'), { deviations: [{ id: attack.id }] });
});
