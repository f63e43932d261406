/**
 * Grouping must not hide what matters: escalations, deny hits, sessions, late members; a severe
 * deviation does not wait; groups do not live for ever. On the shipped grouping settings, with a
 * wall clock the test moves (the grouping wait's bound) and deviations' own event times.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { CollectorBus } from '../../../collector/events.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import type { AlertDocumentV1 } from '../../../collector/sinks/document.js';
import type { Deviation } from '../../../common/deviations.js';
import { alertingConfig, deviation, FAST, readAlertFile, startAlerting, T0, until } from '../../helpers/alerting.js';

async function fileAlerting(t: Test, alerting: Record<string, unknown> = {}) {
  const dir = t.testdir();
  const db = new SqliteStore({ dataDir: dir });
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const path = join(dir, 'out.jsonl');
  const clock = { ms: Date.now(), now: () => clock.ms };
  // The shipped grouping (threshold 5, window 2m, wait 10s, immediateSeverity high); fast retries and updates.
  const component = startAlerting(db, bus, alertingConfig({ retry: FAST.retry, updateInterval: FAST.updateInterval, sinks: [{ name: 'f', type: 'file', path }], ...alerting }), { clock });
  t.teardown(() => component.close());
  await component.start();
  const read = (): AlertDocumentV1[] => readAlertFile(path);
  const emit = (d: Deviation): void => bus.emit({ type: 'deviation.created', deviation: d });
  /** Moves the wall clock by `ms`, takes the decisions due, and reads what was delivered. */
  const settle = async (ms = 0): Promise<AlertDocumentV1[]> => {
    await component.sweep();
    clock.ms += ms;
    await component.sweep();
    await until(async () => (await component.outbox.queueStats()).length === 0);
    return read();
  };
  return { alerting: component, read, emit, settle, clock };
}

t.test('a group of low deviations: later members are told as updates; one that raises the severity at once', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  for (let i = 0; i < 6; i++) emit(deviation({ firstSeenMs: T0 + i * 1000, severity: 'low' }));
  t.equal((await settle()).length, 0, 'waiting for the grouping decision');
  const [group] = await settle(10_000);
  t.match(group, { kind: 'group', severity: 'low', reason: 'new', sequence: 1 });
  t.equal(group!.deviations.length, 6);

  const same = deviation({ firstSeenMs: T0 + 10_000, severity: 'low' });
  emit(same);
  t.equal((await settle()).length, 1, 'a member of the same severity waits for the update interval …');
  const withSame = await settle(200);
  t.equal(withSame.length, 2, '… then the group is updated');
  t.match(withSame[1], { key: group!.key, reason: 'update', sequence: 2 });
  t.ok(withSame[1]!.deviations.some((d) => d.id === same.id), 'listing the new member');

  const high = deviation({ firstSeenMs: T0 + 20_000, severity: 'high', summary: 'new process /usr/bin/nc in payments/api' });
  emit(high);
  await until(() => read().length === 3);
  const escalated = read()[2]!;
  t.match(escalated, { kind: 'group', severity: 'high', status: 'firing', reason: 'update', key: group!.key });
  t.equal(escalated.deviations[0]!.id, high.id, 'the member that raised it is listed first');
  t.equal(escalated.deviations.length + escalated.truncated, 8);
});

t.test('a group past maxListed still lists every member that joins after its first notification', async (t) => {
  const { emit, settle } = await fileAlerting(t, { grouping: { maxListed: 6 } });
  const first = Array.from({ length: 6 }, (_v, i) => deviation({ firstSeenMs: T0 + i * 1000, severity: 'low' }));
  for (const d of first) emit(d);
  await settle(10_000);
  const late = deviation({ firstSeenMs: T0 + 30_000, severity: 'low' });
  emit(late);
  const out = await settle(200);
  t.equal(out.length, 2);
  t.equal(out[1]!.deviations.length, 6, 'still at most maxListed listed');
  t.equal(out[1]!.truncated, 1, 'the one not listed is counted');
  t.ok(out[1]!.deviations.some((d) => d.id === late.id), 'the late member is the one listed, not dropped');
});

t.test('a high deviation in a workload without an open group is sent at once; later ones join it as updates', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  const shell = deviation({ firstSeenMs: T0, severity: 'high', summary: 'new process /bin/sh in payments/api' });
  emit(shell);
  // No clock movement: nothing waits for the grouping window.
  await until(() => read().length === 1);
  t.match(read()[0], { kind: 'group', severity: 'high', reason: 'new', summary: 'new process /bin/sh in payments/api', deviations: [{ id: shell.id }] });
  const connect = deviation({ firstSeenMs: T0 + 2000, severity: 'medium' });
  emit(connect);
  const out = await settle(200);
  t.equal(out.length, 2);
  t.match(out[1], { key: read()[0]!.key, reason: 'update', sequence: 2 });
  t.same(out[1]!.deviations.map((d) => d.id), [shell.id, connect.id]);
});

t.test('grouping.immediateSeverity none: a high deviation waits for the grouping decision like any other', async (t) => {
  const { emit, settle } = await fileAlerting(t, { grouping: { immediateSeverity: 'none' } });
  emit(deviation({ firstSeenMs: T0, severity: 'high' }));
  t.equal((await settle()).length, 0);
  t.match(await settle(10_000), [{ kind: 'deviation', severity: 'high' }]);
});

t.test('denied and interactive-session deviations are never folded into a group', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  const burst = Array.from({ length: 6 }, (_v, i) => deviation({ firstSeenMs: T0 + i * 1000, severity: 'medium' }));
  const deniedInBurst = deviation({ kind: 'denied', firstSeenMs: T0 + 2500, severity: 'critical' });
  for (const d of [...burst.slice(0, 3), deniedInBurst, ...burst.slice(3)]) emit(d);
  const first = await settle(10_000);
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
    'joining an open group, each still pages on its own',
  );
});

t.test('a group takes members for at most 4 grouping windows; then a new decision starts', async (t) => {
  const { emit, settle } = await fileAlerting(t);
  for (let i = 0; i < 6; i++) emit(deviation({ firstSeenMs: T0 + i * 1000 }));
  const [group] = await settle(10_000);
  t.equal(group!.kind, 'group');
  // A trickle, each within one window (2 min) of the previous: it would keep the group open for ever.
  for (let at = 100_000; at <= 400_000; at += 100_000) emit(deviation({ firstSeenMs: T0 + at }));
  const joined = await settle(200);
  t.ok(joined.every((x) => x.key === group!.key), 'within 4 windows of the first member: they join the group (as updates)');
  const late = deviation({ firstSeenMs: T0 + 500_000 });
  emit(late);
  const out = (await settle(10_000)).filter((x) => x.key !== group!.key);
  t.equal(out.length, 1, 'past the lifetime: not folded into the old group');
  t.match(out[0], { kind: 'deviation', deviations: [{ id: late.id }] });
});

t.test("a delayed node's deviations hours apart in event time are not bundled, however fast they arrive", async (t) => {
  const { emit, settle } = await fileAlerting(t);
  // Six deviations, one hour apart (event time), all arriving within the same moment.
  const spread = Array.from({ length: 6 }, (_v, i) => deviation({ firstSeenMs: T0 + i * 3_600_000 }));
  for (const d of spread) emit(d);
  const out = await settle(10_000);
  t.same(out.map((x) => x.kind), Array(6).fill('deviation'), 'one notification each, no group');
});

t.test('what one rollout added is one notification however few, apart from the workload’s other deviations', async (t) => {
  const { read, emit, settle } = await fileAlerting(t);
  const release = { fromBaselineId: 1, toBaselineId: 2, from: 'registry.example/api:2.0@sha256:aa', to: 'registry.example/api:2.1@sha256:bb', releasedAtMs: T0 };
  const added = [0, 1].map((i) => deviation({ firstSeenMs: T0 + i * 1000, severity: 'medium', release }));
  const attack = deviation({ firstSeenMs: T0 + 1500, severity: 'high' });
  for (const d of [added[0]!, attack, added[1]!]) emit(d);
  await until(() => read().length === 1);
  t.match(read()[0], { kind: 'group', severity: 'high', deviations: [{ id: attack.id }] }, 'the attack: sent at once, on its own');
  const sent = await settle(10_000);
  t.equal(sent.length, 2, 'two below the grouping threshold still make one release notification; the attack is its own');
  const group = sent.find((a) => a.deviations.some((d) => d.id === added[0]!.id))!;
  t.equal(group.kind, 'group');
  t.same(group.deviations.map((d) => d.id).sort(), added.map((d) => d.id).sort());
  t.equal(group.summary, `2 new in this release of payments/Deployment/api (container app): ${release.from} → ${release.to}`);
  t.same(group.deviations[0]!.release, release, 'each listed deviation carries the image change');
  t.notOk(group.deviations.some((d) => d.id === attack.id), 'the attack is not part of the release');
});
