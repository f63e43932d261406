/**
 * GET /api/v1/status, the completion signal: its counts move as a batch is stored, a deviation
 * waits for and gets its grouping decision, and its notification is delivered; tokens as documented.
 */
import t, { type Test } from 'tap';
import { startHarness, T0, HOUR, proc, workload, type Harness } from '../../helpers/api-harness.js';
import { FAST, Receiver, until } from '../../helpers/alerting.js';
import { readPipelineStatus, type PipelineStatus } from '../../../collector/status.js';

const WEB = workload('team-a', 'web');

async function status(h: Harness, token?: string): Promise<PipelineStatus> {
  const r = await h.call('GET', '/api/v1/status', token ? { token } : {});
  if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`);
  return r.body as PipelineStatus;
}

async function scene(t: Test): Promise<{ h: Harness; receiver: Receiver; clock: { ms: number; now(): number } }> {
  const receiver = new Receiver();
  receiver.respond = () => 503;
  await receiver.start();
  t.teardown(() => receiver.close());
  // Alerting on a clock the test moves: the grouping wait and the retry backoff end when it says.
  const clock = { ms: Date.now(), now: () => clock.ms };
  const h = await startHarness(t, {
    alerting: { clock },
    overrides: {
      'collector.alerting': { ...FAST, grouping: { ...FAST.grouping, wait: '1m', immediateSeverity: 'none' }, sinks: [{ name: 'hook', type: 'webhook', url: `${receiver.url}/hook`, secret: 's'.repeat(32) }] },
    },
  });
  return { h, receiver, clock };
}

t.test('counts move as a deviation waits for grouping, is decided and its notification delivered', async (t) => {
  const { h, receiver, clock } = await scene(t);
  t.same(await status(h), { idle: true, ingest: { batches: 0, observations: 0 }, alerting: { undecidedEvents: 0, grouping: 0, heldBack: 0, updates: 0 }, outbox: { pending: 0, sinks: { hook: 0 } } }, 'idle at start, every configured sink listed');

  await h.ingest(proc(WEB, T0, '/usr/sbin/nginx'));
  await h.endLearning();
  await h.raise(proc(WEB, T0 + 3 * HOUR, '/usr/bin/curl'));
  await until(async () => (await status(h)).alerting.grouping === 1);
  let s = await status(h);
  t.equal(s.idle, false, 'a deviation in its grouping wait is not done');
  t.same(s.alerting, { undecidedEvents: 0, grouping: 1, heldBack: 0, updates: 0 });
  t.equal(s.outbox.pending, 0, 'nothing decided, nothing queued');

  clock.ms += 61_000;
  await h.alerting.sweep();
  s = await status(h);
  t.same(s.alerting, { undecidedEvents: 0, grouping: 0, heldBack: 0, updates: 0 }, 'decided once the grouping wait is over');
  t.same(s.outbox, { pending: 1, sinks: { hook: 1 } }, 'its notification waits in the outbox');
  await receiver.waitFor(1);
  t.equal((await status(h)).outbox.pending, 1, 'a refused delivery stays pending (it will be retried)');

  receiver.respond = () => 200;
  clock.ms += 1_000;
  await until(async () => (await status(h)).idle);
  t.same((await status(h)).outbox, { pending: 0, sinks: { hook: 0 } }, 'delivered: idle');
});

t.test('events on the bus count until they are decided; a batch counts until it commits', async (t) => {
  const { h } = await scene(t);
  await h.ingest(proc(WEB, T0, '/usr/sbin/nginx'));
  await h.endLearning();
  const d = await h.raise(proc(WEB, T0 + 3 * HOUR, '/usr/bin/curl'));
  await until(async () => (await h.alerting.pending()).grouping === 1);
  h.bus.emit({ type: 'deviation.updated', deviation: d });
  t.equal((await h.alerting.pending()).undecidedEvents, 1, 'received, not yet decided');
  await until(async () => (await h.alerting.pending()).undecidedEvents === 0);

  // A transaction held open keeps the batch from committing.
  let release!: () => void;
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => (opened = resolve));
  const held = h.store.transaction(
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
        opened();
      }),
  );
  await isOpen;
  const ingesting = h.ingest(proc(WEB, T0 + 3 * HOUR + 1, '/usr/bin/wget'), proc(WEB, T0 + 3 * HOUR + 2, '/usr/bin/nc'));
  t.same(h.engine.unitOfWork.pending(), { batches: 1, observations: 2 });
  const during = readPipelineStatus({ ingest: h.engine.unitOfWork, alerting: h.alerting });
  release();
  await held;
  t.same((await during).ingest, { batches: 1, observations: 2 }, 'the status reports the batch not yet stored');
  t.equal((await during).idle, false);
  await ingesting;
  t.same(h.engine.unitOfWork.pending(), { batches: 0, observations: 0 }, 'stored');
});

t.test('any role may read it; a namespace-scoped token may not; no token is a 401', async (t) => {
  const { h } = await scene(t);
  t.equal((await status(h, h.tokens.viewer)).idle, true);
  const none = await h.call('GET', '/api/v1/status', { token: null });
  t.equal(none.status, 401);
  const scoped = await h.call('GET', '/api/v1/status', { token: h.tokens.otherViewer });
  t.equal(scoped.status, 403);
  t.equal(scoped.body.code, 'DW_ERR_FORBIDDEN_SCOPE');
  const doc = (await h.call('GET', '/api/v1/openapi.json')).body;
  t.equal(doc.paths['/status'].get['x-driftwatch-role'], 'viewer', 'documented in the OpenAPI document');
});
