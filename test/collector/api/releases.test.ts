import t from 'tap';
import type { Observation } from '../../../common/model.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../../helpers/api-harness.js';

const V2 = 'sha256:bbbb';

function release<T extends Observation>(obs: T): T {
  return { ...obs, image: { name: `registry.local/${obs.workload.name}:2`, digest: V2 } };
}

t.test('per release: what it added and removed compared to the one before; the deviation says "new in this release"', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  await h.ingest(release(proc(web, T0 + 3 * HOUR, '/usr/sbin/nginx', '-g daemon off;')));
  const added = await h.raise(release(proc(web, T0 + 3 * HOUR + 1000, '/usr/local/bin/thumbnailer')));
  const shown = await h.call('GET', `/api/v1/deviations/${added.id}`, { token: h.tokens.viewer });
  t.equal(shown.status, 200);
  t.match(shown.body.deviation.release, { from: 'registry.local/web:1@sha256:aaaa', to: `registry.local/web:2@${V2}` }, 'the API shows the image change');
  const listed = await h.call('GET', '/api/v1/deviations', { token: h.tokens.viewer });
  t.match(listed.body.items[0].summary, /^new in this release: new process/, 'lists say so in the summary (the image change is on the deviation)');
  t.equal((await h.call('POST', `/api/v1/deviations/${added.id}/add-to-baseline`, { body: { comment: 'ships with release 2' } })).status, 200);

  const { body: workloads } = await h.call('GET', '/api/v1/workloads?namespace=team-a');
  const id = workloads.items[0].id;
  const res = await h.call('GET', `/api/v1/workloads/${id}/releases`, { token: h.tokens.viewer });
  t.equal(res.status, 200);
  const [second, first] = res.body.items;
  t.same([second.baseline.generation, second.baseline.imageName, second.baseline.imageDigest, second.previous.generation], [2, 'registry.local/web:2', V2, 1]);
  t.same(second.added.map((i: { key: string }) => i.key), ['p|/usr/local/bin/thumbnailer'], 'release 2 added the approved item');
  t.same(second.removed, []);
  t.equal(second.unchanged, 5);
  t.same([first.baseline.generation, first.previous, first.added.length], [1, null, 5], 'the first release added everything it learned');
  t.equal(res.body.more, false);
  t.equal((await h.call('GET', `/api/v1/workloads/${id}/releases?limit=1`)).body.items.length, 1);
  t.equal((await h.call('GET', `/api/v1/workloads/${id}/releases`, { token: h.tokens.otherViewer })).status, 404, 'another namespace’s token sees nothing');
  t.equal((await h.call('GET', `/api/v1/workloads/${id}/releases`, { token: null })).status, 401);
  const doc = await h.call('GET', '/api/v1/openapi.json');
  t.ok(doc.body.paths['/workloads/{id}/releases']?.get, 'in the OpenAPI document');
});
