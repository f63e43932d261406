import t from 'tap';
import { HOUR, learnScene, net, proc, startHarness, T0, workload } from '../../helpers/api-harness.js';

const DECLARED = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: web
spec:
  selector:
    namespace: team-a
    workload: web
  mode: extend
  allow:
    processes:
      - path: /usr/sbin/nginx
      - path: /bin/sh
    network:
      - direction: egress
        protocol: tcp
        ports: [443]
        cidrs: [203.0.113.0/24]
`;

t.test('workloads with baseline state, generations, items with counts and first seen', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/wget'));
  const list = await h.call('GET', '/api/v1/workloads', { token: h.tokens.viewer });
  t.equal(list.status, 200);
  t.same(
    list.body.items.map((w: { workload: { namespace: string; name: string } }) => `${w.workload.namespace}/${w.workload.name}`),
    ['team-a/web', 'team-b/worker'],
  );
  const [webRow, workerRow] = list.body.items;
  t.equal(webRow.baseline.phase, 'active');
  t.equal(webRow.baseline.itemCount, 5);
  t.equal(webRow.openDeviations, 1);
  t.equal(workerRow.baseline.itemCount, 1);
  t.equal((await h.call('GET', '/api/v1/workloads?namespace=team-b')).body.items.length, 1);
  t.equal((await h.call('GET', '/api/v1/workloads?phase=approved')).body.items.length, 0);
  t.equal((await h.call('GET', '/api/v1/workloads?q=WOR')).body.items[0].workload.name, 'worker');
  const p1 = await h.call('GET', '/api/v1/workloads?limit=1');
  const p2 = await h.call('GET', `/api/v1/workloads?limit=1&cursor=${p1.body.next}`);
  t.equal(p2.body.items[0].workload.name, 'worker');
  t.equal(p2.body.next, null);

  const generations = await h.call('GET', `/api/v1/workloads/${webRow.id}/baselines`);
  t.equal(generations.body.items.length, 1);
  const id = webRow.baseline.id;
  const one = await h.call('GET', `/api/v1/baselines/${id}`);
  t.equal(one.body.learningUntilMs, T0 + HOUR);
  const items = await h.call('GET', `/api/v1/baselines/${id}/items`);
  t.same(
    items.body.items.map((i: { key: string }) => i.key),
    ['n|egress|tcp|443|dns|api.example.com', 'n|egress|tcp|53|ip|10.96.0.10', 'n|listen|tcp|8080|-', 'p|/usr/local/bin/healthcheck', 'p|/usr/sbin/nginx'],
  );
  const nginx = items.body.items.find((i: { key: string }) => i.key === 'p|/usr/sbin/nginx');
  t.equal(nginx.origin, 'learned');
  t.equal(nginx.count, 1);
  t.equal(nginx.firstSeenMs, T0);
  t.equal((await h.call('GET', `/api/v1/baselines/${id}/items?kind=process`)).body.items.length, 2);
  t.equal((await h.call('GET', `/api/v1/baselines/${id}/items?version=9`)).status, 404);
  t.equal((await h.call('GET', '/api/v1/baselines/424242')).status, 404);
});

t.test('approve / reject: current version only, with comment, audited with before and after', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const id = await h.baselineOf(web);
  t.equal((await h.call('POST', `/api/v1/baselines/${id}/approve`, { token: h.tokens.approver, body: { version: 7, comment: 'reviewed the items' } })).status, 409, 'a stale version is refused');
  const ok = await h.call('POST', `/api/v1/baselines/${id}/approve`, { token: h.tokens.approver, body: { version: 1, comment: 'reviewed with the web team' } });
  t.equal(ok.status, 200);
  t.equal(ok.body.phase, 'approved');
  t.equal(ok.body.decidedBy, 'token:approver');
  t.equal((await h.call('POST', `/api/v1/baselines/${id}/approve`, { token: h.tokens.approver, body: { version: 1, comment: 'reviewed the items' } })).status, 409, 'already approved');
  const [entry] = (await h.call('GET', `/api/v1/audit?targetType=baseline&targetId=${id}`)).body.items;
  t.equal(entry.action, 'baseline.approve');
  t.equal(entry.comment, 'reviewed with the web team');
  t.same([entry.before.phase, entry.after.phase, entry.after.version], ['active', 'approved', 1]);

  const wid = await h.baselineOf(worker);
  t.equal((await h.call('POST', `/api/v1/baselines/${wid}/reject`, { token: h.tokens.approver, body: { version: 1 } })).status, 400, 'rejecting needs a comment');
  const rejected = await h.call('POST', `/api/v1/baselines/${wid}/reject`, { token: h.tokens.approver, body: { version: 1, comment: 'learned during an incident' } });
  t.equal(rejected.status, 200);
  t.equal(rejected.body.phase, 'rejected');
  t.not((await h.baselineOf(worker)), wid, 'a rejected baseline starts a new generation');
  const gens = await h.call('GET', `/api/v1/workloads/${rejected.body.workloadId}/baselines`);
  t.same(
    gens.body.items.map((g: { phase: string }) => g.phase),
    ['learning', 'rejected'],
  );
  t.equal((await h.call('POST', `/api/v1/baselines/${wid}/approve`, { body: { version: 1, comment: 'reviewed the items' } })).status, 409, 'a superseded generation cannot be approved');

  const relearn = await h.call('POST', `/api/v1/baselines/${id}/relearn`, { token: h.tokens.approver, body: { comment: 'new release' } });
  t.equal(relearn.status, 200);
  t.equal(relearn.body.phase, 'learning');
  t.equal(relearn.body.generation, 2);
  t.equal((await h.call('GET', '/api/v1/audit?action=baseline.relearn')).body.items[0].after.baselineId, relearn.body.id);
});

t.test('bulk approval of a namespace', async (t) => {
  const h = await startHarness(t);
  await learnScene(h);
  const api = workload('team-a', 'api');
  await h.ingest(proc(api, T0 + 10, '/app/server'));
  await h.endLearning();
  const dry = await h.call('POST', '/api/v1/baselines/approve-namespace', { token: h.tokens.approver, body: { namespace: 'team-a', comment: 'release 42', dryRun: true } });
  t.same(
    dry.body.approved.map((b: { workload: { name: string } }) => b.workload.name),
    ['api', 'web'],
  );
  t.equal((await h.call('GET', '/api/v1/workloads?phase=approved')).body.items.length, 0, 'a dry run changes nothing');
  const done = await h.call('POST', '/api/v1/baselines/approve-namespace', { token: h.tokens.approver, body: { namespace: 'team-a', comment: 'release 42' } });
  t.equal(done.body.approved.length, 2);
  t.ok(done.body.approved.every((b: { phase: string }) => b.phase === 'approved'));
  const audit = (await h.call('GET', '/api/v1/audit?action=baseline.approve')).body.items;
  t.equal(audit.length, 2);
  t.ok(audit.every((e: { comment: string; after: { bulk: boolean }; namespace: string }) => e.comment === 'release 42' && e.after.bulk && e.namespace === 'team-a'));
  t.equal((await h.call('POST', '/api/v1/baselines/approve-namespace', { body: { namespace: 'team-a', comment: 'approving it again' } })).body.approved.length, 0, 'nothing left to approve');
  t.equal((await h.call('GET', '/api/v1/workloads?namespace=team-b&phase=active')).body.items.length, 1, 'other namespaces untouched');
});

t.test('relearn a namespace: every enforced current baseline learns again, each audited', async (t) => {
  const h = await startHarness(t);
  await learnScene(h);
  const api = workload('team-a', 'api');
  await h.ingest(proc(api, T0 + 10, '/app/server'));
  await h.endLearning();
  const apiBaseline = await h.baselineOf(api);
  await h.call('POST', `/api/v1/baselines/${apiBaseline}/approve`, { body: { version: 1, comment: 'reviewed the items' } });
  const dry = await h.call('POST', '/api/v1/baselines/relearn-namespace', { token: h.tokens.approver, body: { namespace: 'team-a', comment: 'SEC-12 learn the new jobs', dryRun: true } });
  t.same(dry.body.relearning.map((b: { workload: { name: string }; phase: string }) => `${b.workload.name} ${b.phase}`).sort(), ['api approved', 'web active'], 'active and approved ones');
  t.equal((await h.call('GET', '/api/v1/workloads?phase=learning')).body.items.length, 0, 'a dry run changes nothing');
  const done = await h.call('POST', '/api/v1/baselines/relearn-namespace', { token: h.tokens.approver, body: { namespace: 'team-a', comment: 'SEC-12 learn the new jobs' } });
  t.same(done.body.relearning.map((b: { phase: string; generation: number }) => `${b.phase} ${b.generation}`), ['learning 2', 'learning 2'], 'new generations, learning');
  const audit = (await h.call('GET', '/api/v1/audit?action=baseline.relearn')).body.items;
  t.same(audit.map((e: { namespace: string; comment: string; after: { bulk: boolean } }) => `${e.namespace} ${e.comment} ${e.after.bulk}`), ['team-a SEC-12 learn the new jobs true', 'team-a SEC-12 learn the new jobs true']);
  t.equal((await h.call('GET', '/api/v1/workloads?namespace=team-b&phase=active')).body.items.length, 1, 'other namespaces untouched');
  t.equal((await h.call('POST', '/api/v1/baselines/relearn-namespace', { body: { namespace: 'team-a', comment: 'too short' } })).status, 400, 'a reason is required');
});

t.test('diffs: versions, previous, approved, learned vs declared', async (t) => {
  const h = await startHarness(t, { baselines: { 'web.yaml': DECLARED } });
  const { web } = await learnScene(h);
  const id = await h.baselineOf(web);
  const first = await h.call('GET', `/api/v1/baselines/${id}/diff`);
  t.equal(first.body.from.label, 'empty');
  t.equal(first.body.added.length, 5, 'version 1 against nothing: everything added');

  await h.call('POST', `/api/v1/baselines/${id}/approve`, { body: { version: 1, comment: 'reviewed: ok' } });
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/local/bin/migrate', '--up'));
  await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'migrations run at start' } });
  const prev = await h.call('GET', `/api/v1/baselines/${id}/diff?against=previous`);
  t.same([prev.body.from.label, prev.body.to.label], ['v1', 'v2']);
  t.same(
    prev.body.added.map((i: { key: string }) => i.key),
    ['p|/usr/local/bin/migrate'],
  );
  t.same(prev.body.removed, []);
  t.equal(prev.body.unchanged, 5);
  const approved = await h.call('GET', `/api/v1/baselines/${id}/diff?against=approved`);
  t.equal(approved.body.from.label, 'approved v1');
  t.same(
    approved.body.added.map((i: { key: string }) => i.key),
    ['p|/usr/local/bin/migrate'],
  );
  const reverse = await h.call('GET', `/api/v1/baselines/${id}/diff?against=v2&version=1`);
  t.same(
    reverse.body.removed.map((i: { key: string }) => i.key),
    ['p|/usr/local/bin/migrate'],
  );
  t.equal((await h.call('GET', `/api/v1/baselines/${id}/diff?against=v9`)).status, 404);

  const declared = await h.call('GET', `/api/v1/baselines/${id}/diff?against=declared`);
  t.equal(declared.status, 200, declared.text);
  t.match(declared.body.from.label, /declared \(.*web\.yaml#web\)/);
  t.same(
    declared.body.added.map((i: { key: string }) => i.key).sort(),
    ['n|egress|tcp|443|dns|api.example.com', 'n|egress|tcp|53|ip|10.96.0.10', 'n|listen|tcp|8080|-', 'p|/usr/local/bin/healthcheck', 'p|/usr/local/bin/migrate'],
    'learned, not declared (the peer is learned by the name it resolved, the declaration names a range)',
  );
  t.same(
    declared.body.removed.map((i: { key: string }) => i.key),
    ['process /bin/sh', 'network egress tcp ports 443 cidrs 203.0.113.0/24'],
    'declared, never seen (as a range: the connection was learned by name)',
  );
  const other = await startHarness(t);
  const o = await learnScene(other);
  t.equal((await other.call('GET', `/api/v1/baselines/${await other.baselineOf(o.web)}/diff?against=declared`)).status, 404, 'no declared baseline');
});

t.test('what-if: a candidate item list or declared YAML over the stored observations', async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  await h.ingest(proc(web, T0 + 3 * HOUR, '/usr/local/bin/healthcheck', '-s http://localhost:8080/healthz'), net(web, T0 + 3 * HOUR + 1, 'egress', '203.0.113.99', 443));
  const id = await h.baselineOf(web);
  const items = (await h.call('GET', `/api/v1/baselines/${id}/items`)).body.items.map((i: { key: string }) => i.key) as string[];
  const withoutCurl = items.filter((k) => k !== 'p|/usr/local/bin/healthcheck');
  const r = await h.call('POST', `/api/v1/baselines/${id}/what-if`, { token: h.tokens.viewer, body: { days: 7, items: withoutCurl } });
  t.equal(r.status, 200, r.text);
  t.equal(r.body.scanned, 7, 'five learned, two since');
  const keys = r.body.deviations.map((d: { itemKey: string }) => d.itemKey);
  t.ok(keys.includes('p|/usr/local/bin/healthcheck'), 'removing curl would raise its two runs');
  t.equal(r.body.deviations.find((d: { itemKey: string }) => d.itemKey === 'p|/usr/local/bin/healthcheck').count, 2);
  t.ok(keys.includes('n|egress|tcp|443|ip|203.0.113.99'), 'the new address is a deviation under either');

  const yaml = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata: { name: strict }
spec:
  selector: { namespace: team-a }
  mode: replace
  allow:
    processes: [{ path: /usr/sbin/* }]
    network: [{ direction: egress, ports: [443, 53] }]
`;
  const y = await h.call('POST', `/api/v1/baselines/${id}/what-if`, { body: { days: 7, yaml } });
  t.equal(y.status, 200, y.text);
  t.same(
    y.body.deviations.map((d: { itemKey: string }) => d.itemKey).sort(),
    ['n|listen|tcp|8080|-', 'p|/usr/local/bin/healthcheck'],
  );
  const broken = await h.call('POST', `/api/v1/baselines/${id}/what-if`, { body: { days: 7, yaml: 'apiVersion: driftwatch.dev/v1\nkind: Baseline\nmetadata: { name: x }\nspec:\n  selector: {}\n  mode: sideways\n' } });
  t.equal(broken.status, 400);
  t.equal(broken.body.code, 'DW_ERR_BAD_BASELINE');
  t.match(broken.body.message, /candidate\.yaml:\d+:\d+/);
  t.equal((await h.call('POST', `/api/v1/baselines/${id}/what-if`, { body: { days: 7 } })).status, 400, 'a candidate is required');
  t.equal((await h.call('POST', `/api/v1/baselines/${id}/what-if`, { body: { days: 90, items: [] } })).status, 400, 'days is capped');
});
