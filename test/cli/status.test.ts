/** `driftwatch status`: GET /api/v1/status as a table or -o json|yaml; `--wait` until idle. */
import t from 'tap';
import type { PipelineStatus } from '../../collector/status.js';
import { startHarness, T0, HOUR, proc, workload } from '../helpers/api-harness.js';
import { FAST, until } from '../helpers/alerting.js';
import { run } from '../helpers/cli-run.js';

const WEB = workload('team-a', 'web');

t.test('prints every stage, idle or not, and waits for idle with --wait', async (t) => {
  // Alerting on a clock the test moves: the deviation waits for its grouping decision until it says.
  const clock = { ms: Date.now(), now: () => clock.ms };
  const h = await startHarness(t, { alerting: { clock }, overrides: { 'collector.alerting': { ...FAST, grouping: { ...FAST.grouping, wait: '1m', immediateSeverity: 'none' } } } });

  let r = await run(h, ['status']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^STAGE\s+PENDING\s+DETAIL\ningest\s+0\s+0 observations received, not stored\nalerting\s+0\s+.*\noutbox\s+0\s+no sinks\nidle: /);

  await h.ingest(proc(WEB, T0, '/usr/sbin/nginx'));
  await h.endLearning();
  await h.raise(proc(WEB, T0 + 3 * HOUR, '/usr/bin/curl'));
  await until(async () => (await h.alerting.pending()).grouping === 1);
  r = await run(h, ['status', '-o', 'json']);
  const busy = JSON.parse(r.out) as PipelineStatus;
  t.equal(busy.idle, false);
  t.same(busy.alerting, { undecidedEvents: 0, grouping: 1, heldBack: 0, updates: 0 }, 'the deviation waits for its grouping decision');
  t.match((await run(h, ['status', '-o', 'yaml'])).out, /^idle: false$/m);

  r = await run(h, ['status', '--wait', '--timeout', '300ms']);
  t.equal(r.code, 1, 'not idle in time');
  t.match(r.out, /\nbusy\n$/);
  t.match(r.err, /not idle after 300ms/);

  const waiting = run(h, ['status', '--wait', '-o', 'json']);
  clock.ms += 61_000;
  t.equal((await waiting).code, 0);
  t.equal((JSON.parse((await waiting).out) as PipelineStatus).idle, true, 'returned once the grouping decision was taken');
});

t.test('a namespace-scoped token is refused with the reason', async (t) => {
  const h = await startHarness(t);
  const r = await run(h, ['status'], h.tokens.scoped);
  t.equal(r.code, 1);
  t.match(r.err, /needs a token without a namespace scope \(DW_ERR_FORBIDDEN_SCOPE\)/);
});
