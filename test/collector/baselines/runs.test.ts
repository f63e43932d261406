import t from 'tap';
import type { Observation, WorkloadId } from '../../../common/model.js';
import { MIN, T0, deviationList, exec, fixture, itemKeys } from '../../helpers/detection.js';

const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NIGHTLY: WorkloadId = { cluster: 'test', namespace: 'batch', kind: 'CronJob', name: 'nightly', container: 'report' };
/** The shipped learning settings (the detection fixture shortens them for the other tests). */
const SHIPPED = { 'collector.learning.window': '24h', 'collector.learning.maxWindow': '72h', 'collector.learning.extension': '6h', 'collector.learning.startupGrace': '2m' };

/** An exec in a run of the CronJob: the run's container started at `runStart`; `at` is since then. */
function inRun(run: string, runStart: number, at: number, exe: string, workload: WorkloadId = NIGHTLY): Observation {
  return { ...exec(exe, { time: runStart + at, workload, pod: `${run}-q7m4z`, containerStart: runStart, digest: null }), run };
}

t.test('a daily CronJob learns from its first three runs, whatever their length, then enforces', async (t) => {
  const f = await fixture({ overrides: SHIPPED });
  t.teardown(() => f.close());
  // Run 1 is short: everything inside the start-up grace. Runs 2 and 3 do more, later in the run.
  await f.feed(inRun('nightly-1', T0, 1000, '/app/report'), inRun('nightly-1', T0, 5000, '/usr/bin/gzip'));
  await f.feed(inRun('nightly-2', T0 + DAY, 1000, '/app/report'), inRun('nightly-2', T0 + DAY, 20 * MIN, '/usr/bin/aws'));
  t.equal((await f.engine.currentBaseline(NIGHTLY))!.phase, 'learning', 'still learning a day later: two runs so far');
  await f.feed(inRun('nightly-3', T0 + 2 * DAY, 1000, '/app/report'), inRun('nightly-3', T0 + 2 * DAY, 40 * MIN, '/usr/bin/gzip'));
  t.same(itemKeys(f), ['p|/app/report steady', 'p|/usr/bin/aws steady', 'p|/usr/bin/gzip steady'], 'no start-up-only items in a run');
  // Run 4, the longest, does what the earlier runs did, later than the start-up grace.
  const run4 = T0 + 3 * DAY + 5 * MIN;
  await f.feed(inRun('nightly-4', run4, 1000, '/app/report'), inRun('nightly-4', run4, 90 * MIN, '/usr/bin/gzip'), inRun('nightly-4', run4, 95 * MIN, '/usr/bin/aws'));
  t.equal((await f.engine.currentBaseline(NIGHTLY))!.phase, 'active', 'the fourth run is enforced');
  t.same(deviationList(f), [], 'silent');
  await f.feed(inRun('nightly-5', T0 + 4 * DAY, 30 * MIN, '/usr/bin/nc'));
  t.same(deviationList(f), ['process p|/usr/bin/nc high open'], 'a new binary in a later run alerts');
});

t.test('time bounds a rarely running CronJob (maxWindow); a learning run arriving late is still learned', async (t) => {
  const f = await fixture({ overrides: SHIPPED });
  t.teardown(() => f.close());
  await f.feed(inRun('weekly-1', T0, 1000, '/app/backup'));
  await f.engine.unitOfWork.tick(T0 + 72 * HOUR);
  t.equal((await f.engine.currentBaseline(NIGHTLY))!.phase, 'learning');
  await f.engine.unitOfWork.tick(T0 + 1000 + 72 * HOUR);
  t.equal((await f.engine.currentBaseline(NIGHTLY))!.phase, 'active', 'one run in 72 h: enforced after maxWindow');

  const g = await fixture({ overrides: { ...SHIPPED, 'collector.learning.runs': 1 } });
  t.teardown(() => g.close());
  await g.feed(inRun('hourly-1', T0, 1000, '/app/sync'));
  await g.feed(inRun('hourly-2', T0 + HOUR, 1000, '/app/sync'), inRun('hourly-2', T0 + HOUR, 2000, '/usr/bin/jq'));
  t.same(deviationList(g), ['process p|/usr/bin/jq medium open'], 'runs: 1 — the second run is enforced');
  t.equal((await g.engine.currentBaseline(NIGHTLY))!.learningUntilMs, T0 + HOUR + 1000, 'learning ended at its first event');
  // Another node's stream, behind: run 1 ran jq too.
  await g.feed({ ...inRun('hourly-1', T0, 50 * MIN, '/usr/bin/jq'), node: 'node-b' });
  t.same(deviationList(g), ['process p|/usr/bin/jq medium resolved'], 'learned from its run, whenever it arrives');
});

t.test('a Job started by hand from a CronJob is one of its runs; a Job the API names stays itself', async (t) => {
  const f = await fixture({ overrides: SHIPPED });
  t.teardown(() => f.close());
  await f.feed(inRun('nightly-29410560', T0, 1000, '/app/report'));
  const manual: WorkloadId = { ...NIGHTLY, kind: 'Job', name: 'nightly-manual-x7k2p' };
  await f.feed(inRun('nightly-manual-x7k2p', T0 + HOUR, 1000, '/app/report', manual), inRun('nightly-manual-x7k2p', T0 + HOUR, 2000, '/usr/bin/gzip', manual));
  t.equal(await f.engine.currentBaseline(manual), undefined, 'no workload of its own');
  t.same(itemKeys(f), ['p|/app/report steady', 'p|/usr/bin/gzip steady'], 'learned into the CronJob');
  t.same(
    f.store.connection.all<{ run: string }>('SELECT run FROM baseline_runs ORDER BY first_seen_ms').map((r) => r.run),
    ['nightly-29410560', 'nightly-manual-x7k2p'],
    'as a run of its own',
  );
  const standalone: WorkloadId = { ...NIGHTLY, kind: 'Job', name: 'nightly-restore' };
  await f.feed({ ...inRun('nightly-restore', T0 + 2 * HOUR, 1000, '/app/restore', standalone), identitySource: 'kubernetes-api' });
  t.equal((await f.engine.currentBaseline(standalone))?.phase, 'learning', 'the API said it is a Job of its own');
});

t.test('learning.startAt: one cluster-wide learning period; `install` is when the store was created', async (t) => {
  const f = await fixture({ overrides: { ...SHIPPED, 'collector.learning.window': '48h', 'collector.learning.startAt': new Date(T0).toISOString() } });
  t.teardown(() => f.close());
  const early: WorkloadId = { cluster: 'test', namespace: 'shop', kind: 'Deployment', name: 'early', container: 'app' };
  const late: WorkloadId = { ...early, name: 'late' };
  const after: WorkloadId = { ...early, name: 'after' };
  await f.feed(exec('/app/early', { time: T0 - 10 * HOUR, workload: early }));
  await f.feed(exec('/app/late', { time: T0 + 40 * HOUR, workload: late }));
  await f.feed(exec('/app/after', { time: T0 + 50 * HOUR, workload: after }));
  t.equal((await f.engine.currentBaseline(early))!.learningUntilMs, T0 + 48 * HOUR, 'seen before the period: learns to its end');
  t.equal((await f.engine.currentBaseline(late))!.learningUntilMs, T0 + 48 * HOUR, 'seen inside it: the same go-live');
  t.equal((await f.engine.currentBaseline(after))!.learningUntilMs, T0 + 98 * HOUR, 'first seen after it: its own window');

  const g = await fixture({ overrides: { ...SHIPPED, 'collector.learning.startAt': 'install' } });
  t.teardown(() => g.close());
  const installed = (await g.store.learning.installedAtMs())!;
  t.ok(Math.abs(installed - Date.now()) < DAY, 'a new store was installed now');
  const w: WorkloadId = { ...early, name: 'fresh' };
  await g.feed(exec('/app/fresh', { time: installed + 10 * HOUR, workload: w }));
  t.equal((await g.engine.currentBaseline(w))!.learningUntilMs, installed + DAY, 'learns until install + window');
});

t.test("the first runs by start time, whatever the order of the nodes' streams", async (t) => {
  const f = await fixture({ overrides: SHIPPED });
  t.teardown(() => f.close());
  // Node c's stream arrives first: a run of day 3, with a binary the earlier runs never ran.
  await f.feed({ ...inRun('nightly-d3', T0 + 3 * DAY, 1000, '/app/report'), node: 'node-c' }, { ...inRun('nightly-d3', T0 + 3 * DAY, 2000, '/usr/bin/strace'), node: 'node-c' });
  await f.feed(inRun('nightly-d1', T0 + DAY, 1000, '/app/report'), inRun('nightly-d2', T0 + 2 * DAY, 1000, '/app/report'));
  t.same(itemKeys(f), ['p|/app/report steady', 'p|/usr/bin/strace steady'], 'so far, three runs');
  await f.feed(inRun('nightly-d0', T0 + 1000, 1000, '/app/report'));
  t.same(itemKeys(f), ['p|/app/report steady'], 'an earlier run arrived: the day-3 run is not a learning run any more');
  t.same(deviationList(f), ['process p|/usr/bin/strace medium open'], 'what only it did is a deviation');
  t.same(
    f.store.connection.all<{ run: string }>('SELECT run FROM baseline_runs ORDER BY first_seen_ms').map((r) => r.run),
    ['nightly-d0', 'nightly-d1', 'nightly-d2'],
  );
});
