/**
 * GET /api/v1/baselines/declared/status: which declared files are in force as they are, which on
 * their last good content and why (file:line:column). A namespace-scoped token sees only files
 * whose baselines are all in its namespaces, and never the error text (what a broken file says now
 * belongs to no known namespace).
 */
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { startHarness } from '../../helpers/api-harness.js';

const baseline = (name: string, namespace: string | null) => `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: ${name}
spec:
  selector: ${namespace ? `{ namespace: ${namespace} }` : '{ kind: Deployment }'}
  deny:
    processes:
      - path: /usr/bin/nmap
`;

t.test('declared status: problems with file:line:column, last good in force, scoped by namespace', async (t) => {
  const h = await startHarness(t, { baselines: { 'team-a.yaml': baseline('team-a-deny', 'team-a'), 'cluster.yaml': baseline('everywhere', null) } });
  const dir = h.config.collector.baselinesDir;

  let r = await h.call('GET', '/api/v1/baselines/declared/status', { token: h.tokens.viewer });
  t.equal(r.status, 200);
  t.equal(r.body.ok, true);
  t.same(
    r.body.files.map((f: { inForce: string; problem: boolean }) => [f.inForce, f.problem]),
    [
      ['current', false],
      ['current', false],
    ],
  );

  writeFileSync(`${dir}/team-a.yaml`, baseline('team-a-deny', 'team-a').replace('kind: Baseline', 'kind: Baseline\nkind: Again'));
  h.engine.reload();
  r = await h.call('GET', '/api/v1/baselines/declared/status', { token: h.tokens.viewer });
  t.equal(r.body.ok, false);
  const broken = r.body.files.find((f: { file: string }) => f.file.endsWith('team-a.yaml'));
  t.equal(broken.inForce, 'last-good');
  t.same(broken.baselines, [{ name: 'team-a-deny', namespace: 'team-a' }], 'its last good baselines');
  t.equal(broken.problem, true);
  t.match(broken.error, { file: `${dir}/team-a.yaml`, line: 3, column: 1 });
  t.match(broken.error.text, new RegExp(`^${dir}/team-a\\.yaml:3:1: .*[Mm]ap keys must be unique`));

  const scoped = await h.call('GET', '/api/v1/baselines/declared/status', { token: h.tokens.scoped });
  t.equal(scoped.status, 200);
  t.same(
    scoped.body.files.map((f: { file: string; problem: boolean; error: unknown }) => [f.file.split('/').pop(), f.problem, f.error]),
    [['team-a.yaml', true, null]],
    'a team-a token sees its file has a problem, not the cluster-wide file, not the error text',
  );
  t.equal(scoped.body.ok, false);
  const other = await h.call('GET', '/api/v1/baselines/declared/status', { token: h.tokens.otherViewer });
  t.same(other.body, { ok: true, files: [] }, 'a team-b token sees nothing of team-a');

  t.equal((await h.call('GET', '/api/v1/baselines/declared/status', { token: null })).status, 401);
  const openapi = await h.call('GET', '/api/v1/openapi.json', { token: null });
  t.ok(openapi.body.paths['/baselines/declared/status'], 'documented in the OpenAPI document');
});
