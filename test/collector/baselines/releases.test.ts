import t from 'tap';
import { EdgeFilter } from '../../../agent/filter/edge-filter.js';
import type { Deviation } from '../../../common/deviations.js';
import type { Observation } from '../../../common/model.js';
import { DIGEST, MIN, T0, WEB, deviationList, exec, fixture, itemKeys, net, type Fixture } from '../../helpers/detection.js';

const HOUR = 60 * MIN;
const V2 = 'sha256:' + 'b'.repeat(64);
const V3 = 'sha256:' + 'c'.repeat(64);

/** The observation as the image `nginx:<tag>` shows it. */
function tagged<T extends Observation>(obs: T, tag: string): T {
  return { ...obs, image: { ...obs.image, name: `nginx:${tag}` } };
}

async function deviations(f: Fixture): Promise<Deviation[]> {
  const ids = f.store.connection.all<{ id: number }>('SELECT id FROM deviations ORDER BY id').map((r) => r.id);
  return Promise.all(ids.map(async (id) => (await f.engine.getDeviation(id))!));
}

/** A workload that learned nginx, its DNS and `/usr/bin/find`, then turned active (shipped default policy). */
async function learned(f: Fixture): Promise<void> {
  await f.feed(
    tagged(exec('/usr/sbin/nginx', { time: T0 }), '1.0'),
    tagged(exec('/usr/bin/find', { time: T0 + MIN }), '1.0'),
    tagged(net('egress', { time: T0 + MIN, peer: '10.96.0.10', port: 53 }), '1.0'),
  );
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
}

t.test('carry-forward is the default: a release starts as a copy of its predecessor, enforced from its first event', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await learned(f);
  const v1 = (await f.engine.currentBaseline(WEB))!;
  await f.feed(tagged(exec('/usr/sbin/nginx', { time: T0 + 3 * HOUR, digest: V2 }), '1.1'), tagged(net('egress', { time: T0 + 3 * HOUR + 1, peer: '10.96.0.10', port: 53, digest: V2 }), '1.1'));
  const v2 = (await f.engine.currentBaseline(WEB))!;
  t.same([v2.generation, v2.phase, v2.imageDigest, v2.imageName, v2.carriedFrom], [2, 'active', V2, 'nginx:1.1', v1.id], 'a generation of its own, active at once');
  t.equal((await f.store.baselines.summary(v1.id))!.phase, 'superseded');
  t.same(itemKeys(f, v2.id), itemKeys(f, v1.id), 'the same items as its predecessor');
  t.same(deviationList(f), [], 'a release that adds nothing is silent');
  t.ok(f.edges.flat().some((e) => e.phase === 'active' && e.allow.includes(`i|${V2}`) && e.allow.includes('p|/usr/bin/find')), 'the carried baseline is pushed to the edge for the new image');

  await f.feed(tagged(exec('/usr/local/bin/report', { time: T0 + 3 * HOUR + 5000, digest: V2 }), '1.1'));
  const [added] = (await deviations(f));
  t.equal(added?.summary, 'new in this release: new process: /usr/local/bin/report');
  t.same(added?.release, { fromBaselineId: v1.id, toBaselineId: v2.id, from: `nginx:1.0@${DIGEST}`, to: `nginx:1.1@${V2}`, releasedAtMs: T0 + 3 * HOUR }, 'marked with the image change');

  await f.feed(tagged(exec('/usr/bin/curl', { time: T0 + 3 * HOUR + 60_000, digest: V2 }), '1.1'));
  const curl = (await deviations(f)).find((d) => d.itemKey === 'p|/usr/bin/curl');
  t.equal(curl?.release, undefined, 'a high-severity item is never put down to the release: it alerts as itself');
  t.equal(curl?.severity, 'high');

  await f.feed(tagged(exec('/usr/local/bin/later', { time: T0 + 3 * HOUR + 2 * HOUR, digest: V2 }), '1.1'));
  t.equal((await deviations(f)).find((d) => d.itemKey === 'p|/usr/local/bin/later')?.release, undefined, 'past the learning window after the release, new items are ordinary deviations');

  const approved = await f.engine.addToBaseline(added!.id, 'alice', 'the report binary ships with 1.1');
  t.equal(approved.status, 'added-to-baseline');
  t.ok(itemKeys(f, v2.id).includes('p|/usr/local/bin/report steady'), 'approving adds the item to the new release');
  t.notOk(itemKeys(f, v1.id).includes('p|/usr/local/bin/report steady'), 'not to the one before it');

  await f.feed(tagged(exec('/usr/sbin/nginx', { time: T0 + 6 * HOUR, digest: V3 }), '1.2'), tagged(exec('/usr/local/bin/report', { time: T0 + 6 * HOUR + 1, digest: V3 }), '1.2'));
  const v3 = (await f.engine.currentBaseline(WEB))!;
  t.same([v3.generation, v3.carriedFrom], [3, v2.id]);
  t.ok(itemKeys(f, v3.id).includes('p|/usr/local/bin/report steady'), 'what was approved in a release is carried into the next');
  t.equal((await deviations(f)).length, 3, 'nothing new for 1.2');
});

t.test('a rollback to an earlier image is judged by that image’s own baseline: silent', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await learned(f);
  await f.feed(tagged(exec('/usr/sbin/nginx', { time: T0 + 3 * HOUR, digest: V2 }), '1.1'), tagged(exec('/usr/local/bin/report', { time: T0 + 3 * HOUR + 1, digest: V2 }), '1.1'));
  t.equal((await deviations(f)).length, 1);
  // Rolled back: 1.0 pods start again, and do what 1.0 always did.
  await f.feed(
    tagged(exec('/usr/sbin/nginx', { time: T0 + 4 * HOUR, containerStart: T0 + 4 * HOUR - 1000 }), '1.0'),
    tagged(exec('/usr/bin/find', { time: T0 + 4 * HOUR + 1 }), '1.0'),
    tagged(net('egress', { time: T0 + 4 * HOUR + 2, peer: '10.96.0.10', port: 53 }), '1.0'),
  );
  t.equal((await deviations(f)).length, 1, 'the rollback adds no deviation');
  await f.feed(tagged(exec('/usr/local/bin/report', { time: T0 + 4 * HOUR + 3 }), '1.0'));
  const onOld = (await deviations(f)).filter((d) => d.itemKey === 'p|/usr/local/bin/report');
  t.equal(onOld.length, 2, '1.1’s addition run by a 1.0 pod is a deviation of 1.0’s baseline');
  t.ok(onOld.some((d) => d.release === undefined), 'and no release added it');
});

t.test('a release while the first generation still learns learns on until the same window end', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await f.feed(exec('/usr/sbin/nginx', { time: T0 }));
  const v1 = (await f.engine.currentBaseline(WEB))!;
  await f.feed(exec('/usr/sbin/nginx', { time: T0 + 10 * MIN, digest: V2 }), exec('/usr/bin/find', { time: T0 + 11 * MIN, digest: V2 }));
  const v2 = (await f.engine.currentBaseline(WEB))!;
  t.same([v2.generation, v2.phase, v2.learningStartMs], [2, 'learning', v1.learningStartMs]);
  t.ok(v2.learningUntilMs! >= v1.learningUntilMs!, 'the window goes on (extended by the new item)');
  t.same(itemKeys(f, v2.id), ['p|/usr/bin/find steady', 'p|/usr/sbin/nginx steady']);
  t.same(deviationList(f), []);
});

t.test('relearn stays available as an explicit choice (configuration or a declared baseline)', async (t) => {
  const dir = t.testdir({
    'web.yaml': `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata: { name: web-relearns }
spec:
  selector: { namespace: shop }
  imagePolicy: relearn
`,
  });
  const f = await fixture({ baselinesDir: dir });
  t.teardown(() => f.close());
  await learned(f);
  await f.feed(exec('/usr/sbin/nginx', { time: T0 + 3 * HOUR, digest: V2 }));
  const v2 = (await f.engine.currentBaseline(WEB))!;
  t.same([v2.generation, v2.phase, v2.carriedFrom, v2.itemCount], [2, 'learning', null, 1], 'a fresh learning generation');
});

t.test('the edge: a new image is sent until the carried baseline arrives for it, then filtered like its predecessor', async (t) => {
  const f = await fixture();
  t.teardown(() => f.close());
  await learned(f);
  await f.feed(exec('/usr/sbin/nginx', { time: T0 + 2 * HOUR + 1 }));
  const filter = new EdgeFilter();
  filter.replaceAll(await f.engine.edge.forWorkloads([WEB]));
  const first = exec('/usr/bin/find', { time: T0 + 3 * HOUR, digest: V2 });
  t.ok(filter.shouldSend(first), 'an image the agent was not told about: sent (it may start a release, or be a rollback)');
  t.notOk(filter.shouldSend(exec('/usr/bin/find', { time: T0 + 3 * HOUR })), 'the known image: filtered');
  await f.feed(first);
  filter.replaceAll(await f.engine.edge.forWorkloads([WEB]));
  t.notOk(filter.shouldSend(exec('/usr/bin/find', { time: T0 + 3 * HOUR + 1, digest: V2 })), 'after the push, the release is filtered with the carried items');
  t.ok(filter.shouldSend(exec('/usr/local/bin/new', { time: T0 + 3 * HOUR + 2, digest: V2 })), 'what the release adds reaches the collector');
  t.ok(filter.shouldSend(exec('/usr/bin/find', { time: T0 + 3 * HOUR + 3 })), 'the earlier image (a rollback) is judged centrally by its own generation');
});
