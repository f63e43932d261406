import t from 'tap';
import { DIGEST, MIN, T0, WEB, deviationList, exec, fixture, itemKeys, net } from '../../helpers/detection.js';

const HOUR = 60 * MIN;

t.test('learning → active by event time; everything new is then a deviation', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/usr/sbin/nginx', { time: T0 }), net('egress', { time: T0 + 1, peer: '10.96.0.10', port: 53 }));
  let b = (await f.engine.currentBaseline(WEB))!;
  t.equal(b.phase, 'learning');
  t.equal(b.learningStartMs, T0);
  t.equal(b.learningUntilMs, T0 + HOUR, 'start + window (no new items after the first ones)… ');
  await f.feed(exec('/usr/bin/find', { time: T0 + 50 * MIN }));
  b = (await f.engine.currentBaseline(WEB))!;
  t.equal(b.learningUntilMs, T0 + 65 * MIN, '… extended while new items keep appearing');
  t.same(deviationList(f), [], 'nothing raised while learning');
  await f.feed(exec('/usr/sbin/nginx', { time: T0 + 70 * MIN }), exec('/bin/sh', { time: T0 + 70 * MIN, args: '-c id' }));
  b = (await f.engine.currentBaseline(WEB))!;
  t.equal(b.phase, 'active');
  t.same(deviationList(f), ['process p|/bin/sh high open']);
  const types = f.events.map((e) => e.type);
  t.ok(types.includes('baseline.changed') && types.includes('deviation.created'), 'events emitted on the bus after commit');
  const created = f.events.find((e) => e.type === 'deviation.created');
  t.equal(created?.type === 'deviation.created' && created.deviation.severityReason, 'shell');
  t.same(
    f.edges.flat().filter((e) => e.phase === 'active').map((e) => e.allow),
    [[`i|${DIGEST}`, 'n|egress|tcp|53|ip|10.96.0.10', 'p|/usr/bin/find', 'p|/usr/sbin/nginx']],
    'the agent is told once the baseline is enforced',
  );
});

t.test('the window is capped by maxWindow; tick() ends learning without events', async (t) => {
  const f = await fixture({ overrides: { 'collector.learning.maxWindow': '90m', 'collector.learning.extension': '1h' } });
  t.teardown(() => f.close());
  await f.feed(exec('/a', { time: T0 }));
  await f.feed(exec('/b', { time: T0 + 50 * MIN }));
  t.equal((await f.engine.currentBaseline(WEB))!.learningUntilMs, T0 + 90 * MIN);
  await f.engine.unitOfWork.tick(T0 + 89 * MIN);
  t.equal((await f.engine.currentBaseline(WEB))!.phase, 'learning');
  await f.engine.unitOfWork.tick(T0 + 90 * MIN);
  t.equal((await f.engine.currentBaseline(WEB))!.phase, 'active');
  t.ok(f.edges.flat().some((e) => e.phase === 'active'));
});

t.test('late arrivals: an item first seen inside the window is learned; a deviation raised meanwhile resolves', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/a', { time: T0 }));
  await f.feed(exec('/b', { time: T0 + 2 * HOUR, node: 'node-b' }));
  t.same(deviationList(f), ['process p|/b medium open']);
  await f.feed(exec('/b', { time: T0 + 30 * MIN, node: 'node-c' }));
  t.same(deviationList(f), ['process p|/b medium resolved'], 'another node saw it during learning');
  t.same(itemKeys(f), ['p|/a steady', 'p|/b steady']);
  const status = f.events.find((e) => e.type === 'deviation.status');
  t.equal(status?.type === 'deviation.status' && status.actor, 'driftwatch');
});

t.test('late arrivals that start the workload earlier move the window and un-learn what fell outside', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/late', { time: T0 + 2 * HOUR, node: 'node-c' }));
  t.equal((await f.engine.currentBaseline(WEB))!.phase, 'learning');
  await f.feed(exec('/early', { time: T0, node: 'node-a' }));
  const b = (await f.engine.currentBaseline(WEB))!;
  t.equal(b.learningStartMs, T0);
  t.equal(b.learningUntilMs, T0 + HOUR, 'the window runs from the true start');
  t.equal(b.phase, 'active', 'events up to 2 h were seen: the window is over');
  t.same(deviationList(f), ['process p|/late medium open'], 'first seen after the window: a deviation after all');
  t.same(itemKeys(f), ['p|/early steady']);
});

t.test('start-up grace period: learned separately from steady state', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  const start = T0 + 10 * MIN;
  await f.feed(exec('/bin/sh', { time: start + 1000, containerStart: start, args: '/entrypoint.sh' }), exec('/app/server', { time: start + 20 * MIN, containerStart: start }));
  t.same(itemKeys(f), ['p|/app/server steady', 'p|/bin/sh startup']);
  const restart = T0 + 3 * HOUR;
  await f.feed(exec('/bin/sh', { time: restart + 5000, containerStart: restart, pod: 'web-2' }));
  t.same(deviationList(f), [], 'a restarted container runs its entrypoint: silent');
  await f.feed(exec('/bin/sh', { time: restart + 10 * MIN, containerStart: restart, pod: 'web-2' }));
  t.same(deviationList(f), ['process p|/bin/sh high open'], 'the same shell in steady state is a deviation');
  await f.feed(exec('/app/server', { time: restart + 30_000, containerStart: restart }));
  t.same(deviationList(f), ['process p|/bin/sh high open'], 'steady items also match during start-up');
});

t.test('pre-existing containers: partial until a fresh container of the workload is seen', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(net('egress', { time: T0, peer: '10.96.0.10', port: 53, preexisting: true }));
  t.equal((await f.engine.currentBaseline(WEB))!.completeness, 'partial');
  await f.feed(exec('/usr/sbin/nginx', { time: T0 + 10 * MIN, containerStart: T0 + 10 * MIN - 500, pod: 'web-new' }));
  t.equal((await f.engine.currentBaseline(WEB))!.completeness, 'full');
});

t.test('by default an address of a /24 (/48) the workload used on that port is allowed: rotation inside a pool is silent', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(net('egress', { time: T0, peer: '203.0.113.10', port: 443 }), net('egress', { time: T0 + 1, peer: '2001:db8:5:1::1', port: 443 }));
  t.ok(itemKeys(f).includes('n|egress|tcp|443|net|203.0.113.0/24 steady'));
  t.ok(itemKeys(f).includes('n|egress|tcp|443|net|2001:db8:5::/48 steady'));
  await f.feed(
    net('egress', { time: T0 + 2 * HOUR, peer: '203.0.113.77', port: 443 }),
    net('egress', { time: T0 + 2 * HOUR, peer: '2001:db8:5:9::3', port: 443 }),
    net('egress', { time: T0 + 2 * HOUR, peer: '203.0.114.1', port: 443 }),
  );
  t.same(deviationList(f), ['network n|egress|tcp|443|ip|203.0.114.1 medium open'], 'only the address outside the learned prefixes');
});

t.test('external addresses: exact, then their /24 (/48) once several were seen on one port (generaliseAfter: 3)', async (t) => {
  const f = await fixture({ overrides: { 'collector.network.generaliseAfter': 3 } });
  t.teardown(() => f.close());
  await f.feed(
    net('egress', { time: T0, peer: '203.0.113.10', port: 443 }),
    net('egress', { time: T0 + 1, peer: '203.0.113.11', port: 443 }),
    net('egress', { time: T0 + 2, peer: '203.0.113.12', port: 80 }),
    net('egress', { time: T0 + 3, peer: '2001:db8:5:1::1', port: 443 }),
    net('egress', { time: T0 + 4, peer: '2001:db8:5:2::1', port: 443 }),
  );
  t.notOk(itemKeys(f).some((k) => k.includes('net|')), 'two per prefix and port: still exact');
  await f.feed(net('egress', { time: T0 + 5, peer: '::ffff:203.0.113.13', port: 443 }), net('egress', { time: T0 + 6, peer: '2001:db8:5:3::9', port: 443 }));
  t.ok(itemKeys(f).includes('n|egress|tcp|443|net|203.0.113.0/24 steady'));
  t.ok(itemKeys(f).includes('n|egress|tcp|443|net|2001:db8:5::/48 steady'));
  await f.feed(net('egress', { time: T0 + 2 * HOUR, peer: '203.0.113.99', port: 443 }), net('egress', { time: T0 + 2 * HOUR, peer: '203.0.113.99', port: 80 }));
  t.same(deviationList(f), ['network n|egress|tcp|80|ip|203.0.113.99 medium open'], 'the prefix is per port');
});

t.test('image digest policies', async (t) => {
  const NEW = 'sha256:' + 'b'.repeat(64);
  for (const policy of ['relearn', 'inherit', 'alert'] as const) {
    await t.test(policy, async (t) => {
      const f = await fixture({ overrides: { 'collector.learning.imagePolicy': policy } });
      t.teardown(() => f.close());
      await f.feed(exec('/app/v1', { time: T0 }));
      await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
      await f.feed(exec('/app/v2', { time: T0 + 3 * HOUR, digest: NEW }), exec('/app/v1', { time: T0 + 3 * HOUR + 1 }));
      const list = (await f.engine.listBaselines());
      if (policy === 'relearn') {
        t.same([list[0]!.generation, list[0]!.phase, list[0]!.imageDigest], [2, 'learning', NEW], 'a new generation learns the new version');
        t.equal((await f.store.baselines.summary(list[0]!.id - 1))!.phase, 'superseded', 'the old one is kept for diffing');
        t.same(deviationList(f), [], 'old pods of the rollout keep their generation');
      } else if (policy === 'inherit') {
        t.same([list[0]!.generation, list[0]!.phase], [1, 'active']);
        t.same(deviationList(f), ['process p|/app/v2 medium open']);
      } else {
        t.same(deviationList(f), [`image-change i|${NEW} medium open`, 'process p|/app/v2 medium open']);
      }
    });
  }
});

t.test('approve / reject by version, relearn by hand, statuses, add to baseline', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/a', { time: T0 }));
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
  await f.feed(exec('/b', { time: T0 + 2 * HOUR }));
  const b = (await f.engine.currentBaseline(WEB))!;
  await t.rejects(f.engine.approve(b.id, 7, 'alice', 'ok'), { code: 'DW_ERR_CONFLICT' }, 'stale version');
  await t.rejects(f.engine.approve(999, 1, 'alice', 'ok'), { code: 'DW_ERR_NOT_FOUND' });

  const dev = (await f.engine.getDeviation(1))!;
  t.equal(dev.itemKey, 'p|/b');
  const acked = (await f.engine.setStatus(dev.id, 'acknowledged', 'bob', 'looking'));
  t.same([acked.status, acked.statusBy, acked.statusComment], ['acknowledged', 'bob', 'looking']);
  const added = (await f.engine.addToBaseline(dev.id, 'bob', 'expected'));
  t.equal(added.status, 'added-to-baseline');
  await t.rejects(f.engine.setStatus(dev.id, 'open', 'bob', ''), { code: 'DW_ERR_CONFLICT' }, 'final');
  const v2 = (await f.engine.currentBaseline(WEB))!;
  t.equal(v2.version, 2, 'a person’s addition is a new version');
  t.ok(f.edges.flat().some((e) => e.allow.includes('p|/b')), 'pushed to the edge');
  await f.feed(exec('/b', { time: T0 + 3 * HOUR }));
  t.equal((await f.engine.getDeviation(dev.id))!.count, 1, 'allowed now');

  await t.rejects(f.engine.approve(b.id, 1, 'alice', 'ok'), { code: 'DW_ERR_CONFLICT' }, 'version 1 is no longer current');
  const approved = (await f.engine.approve(b.id, 2, 'alice', 'reviewed'));
  t.same([approved.phase, approved.decidedBy, approved.decisionComment], ['approved', 'alice', 'reviewed']);
  t.ok(f.events.some((e) => e.type === 'baseline.changed' && e.baseline.phase === 'approved' && e.previousPhase === 'active'));

  const fresh = await f.engine.relearn(WEB);
  t.same([fresh.generation, fresh.phase, fresh.learningStartMs], [2, 'learning', null], 'learns again from the next observation');
  t.equal((await f.store.baselines.summary(b.id))!.phase, 'superseded');
  await f.feed(exec('/c', { time: T0 + 4 * HOUR }));
  t.equal((await f.engine.currentBaseline(WEB))!.learningStartMs, T0 + 4 * HOUR);
  const rejected = (await f.engine.reject(fresh.id, 1, 'carol', 'learned during an incident'));
  t.equal(rejected.phase, 'rejected');
  t.equal((await f.engine.currentBaseline(WEB))!.generation, 3);
});

t.test('interactive sessions: one deviation per session, listing its commands', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/usr/bin/pg_isready', { time: T0, process: { inInitTree: false, sessionId: 'probe-1' } }));
  await f.feed(
    exec('/bin/sh', { time: T0 + 1000, args: '-c /healthz.sh', process: { inInitTree: false, sessionId: 'probe-2' } }),
    exec('/bin/bash', { time: T0 + 2000, process: { inInitTree: false, sessionId: 'debug-1' } }),
    exec('/usr/bin/top', { time: T0 + 3000, process: { inInitTree: false, sessionId: 'debug-1' } }),
  );
  t.same(deviationList(f), ['interactive-session s|debug-1 high open'], 'an interactive shell is a session even while learning; probes are learned');
  t.same(itemKeys(f), ['p|/bin/sh steady', 'p|/usr/bin/pg_isready steady'], 'nothing of the session was learned');
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
  const at = T0 + 3 * HOUR;
  await f.feed(exec('/usr/bin/pg_isready', { time: at, process: { inInitTree: false, sessionId: 'probe-9' } }));
  t.same(deviationList(f), ['interactive-session s|debug-1 high open'], 'a learned exec probe stays silent');
  await f.feed(
    exec('/usr/bin/id', { time: at + 1000, process: { inInitTree: false, sessionId: 'sess-1' } }),
    exec('/bin/bash', { time: at + 2000, args: '-c pg_isready', process: { inInitTree: false, sessionId: 'sess-1' } }),
    exec('/usr/bin/pg_isready', { time: at + 3000, process: { inInitTree: false, sessionId: 'sess-1' } }),
  );
  t.same(deviationList(f), ['interactive-session s|debug-1 high open', 'interactive-session s|sess-1 high open']);
  const d = (await f.engine.getDeviation(2))!;
  t.same(d.commands!.map((c) => c.exe), ['/usr/bin/id', '/bin/bash', '/usr/bin/pg_isready'], 'from the first command not allowed on');
  t.equal(d.count, 3);
});

t.test('item cap: one overflow deviation, learning stops adding', async (t) => {
  const f = await fixture({ overrides: { 'collector.learning.maxItemsPerBaseline': 10 } });
  t.teardown(() => f.close());
  for (let i = 0; i < 25; i++) await f.feed(exec(`/bin/tool-${i}`, { time: T0 + i }));
  t.equal(itemKeys(f).length, 10);
  t.same(deviationList(f), ['baseline-overflow overflow medium open']);
});

t.test('deviations merge order-independently: min/max, sets, earliest samples', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/a', { time: T0 }));
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
  const times = [9, 3, 7, 1, 8, 2, 6];
  for (const [i, m] of times.entries()) await f.feed(exec('/x', { time: T0 + 2 * HOUR + m * MIN, pod: `web-${i % 3}`, node: `node-${i % 2}` }));
  const d = (await f.engine.getDeviation(1))!;
  t.same([d.count, d.firstSeenMs, d.lastSeenMs], [7, T0 + 2 * HOUR + MIN, T0 + 2 * HOUR + 9 * MIN]);
  t.same(d.pods, ['web-0', 'web-1', 'web-2']);
  t.same(d.nodes, ['node-0', 'node-1']);
  t.same(d.samples.map((s) => (s.time - T0 - 2 * HOUR) / MIN), [1, 2, 3, 6, 7], 'the five earliest');
  t.ok(f.events.filter((e) => e.type === 'deviation.updated').length >= 1);
});

t.test('a rolled-back transaction leaves no stale cache or event', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  // The batch's last write fails: everything before it in the transaction must vanish with it.
  // Each transaction builds its own repositories: the failure goes on their class.
  const agents = Object.getPrototypeOf(await f.store.transaction(async (tx) => tx.agents)) as { commitSeq: (...args: unknown[]) => Promise<void> };
  const commitSeq = agents.commitSeq;
  agents.commitSeq = async () => {
    throw new Error('seq write failed');
  };
  t.teardown(() => {
    agents.commitSeq = commitSeq;
  });
  await t.rejects(f.feed(exec('/a', { time: T0 })), /seq write failed/);
  agents.commitSeq = commitSeq;
  t.same(f.events, []);
  await f.feed(exec('/a', { time: T0 }));
  t.equal((await f.engine.currentBaseline(WEB))!.generation, 1);
});
