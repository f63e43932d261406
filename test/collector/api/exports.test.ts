import t, { type Test } from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { Observation } from '../../../common/model.js';
import { ItemDeriver } from '../../../common/items/derive.js';
import { matchRules, parseDeclaredFile } from '../../../collector/baselines/declared.js';
import { HOUR, net, proc, startHarness, T0, workload, type Harness } from '../../helpers/api-harness.js';

const web = workload('shop', 'web');
const LEARNED: Observation[] = [
  proc(web, T0, '/usr/sbin/nginx', '-g daemon off;'),
  proc(web, T0 + 1, '/usr/local/bin/healthcheck', '-s localhost'),
  proc(web, T0 + 2, '/opt/app/bin/odd "name"\\here'),
  net(web, T0 + 3, 'egress', '203.0.113.10', 443),
  net(web, T0 + 4, 'egress', '10.96.0.10', 53),
  net(web, T0 + 5, 'egress', '10.244.3.7', 5432),
  net(web, T0 + 6, 'listen', null, 8080),
  net(web, T0 + 7, 'ingress', '10.244.9.9', 8080),
  net(web, T0 + 8, 'egress', '127.0.0.1', 6379),
];
const OUTSIDE: Observation[] = [
  proc(web, T0 + 3 * HOUR, '/bin/sh', '-c id'),
  net(web, T0 + 3 * HOUR, 'egress', '203.0.113.10', 22),
  net(web, T0 + 3 * HOUR, 'egress', '198.51.100.1', 443),
  net(web, T0 + 3 * HOUR, 'listen', null, 9000),
];

async function approved(t: Test): Promise<{ h: Harness; id: number }> {
  const h = await startHarness(t);
  await h.ingest(...LEARNED);
  await h.endLearning();
  const id = await h.baselineOf(web);
  t.equal((await h.call('GET', `/api/v1/baselines/${id}/export?format=yaml`)).status, 409, 'not before approval');
  t.equal((await h.call('GET', `/api/v1/baselines/${id}/export?format=yaml`)).body.code, 'DW_ERR_EXPORT_UNAVAILABLE');
  await h.call('POST', `/api/v1/baselines/${id}/approve`, { body: { version: 1, comment: 'export test' } });
  return { h, id };
}

t.test('NetworkPolicy export validates against the Kubernetes schema', async (t) => {
  const { h, id } = await approved(t);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=networkpolicy`, { token: h.tokens.viewer });
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /^application\/yaml/);
  const doc = parse(r.text) as Record<string, unknown>;
  const policy = new NetworkPolicy(doc as ConstructorParameters<typeof NetworkPolicy>[0]);
  t.doesNotThrow(() => policy.validate(), 'valid networking.k8s.io/v1 NetworkPolicy');
  t.equal(policy.metadata?.namespace, 'shop');
  t.equal(policy.metadata?.name, 'driftwatch-web-app');
  t.same(policy.spec?.policyTypes, ['Ingress', 'Egress']);
  const egress = policy.spec?.egress ?? [];
  const egressOf = (port: number) => egress.find((e) => e.ports?.[0]?.port === port);
  t.same(egressOf(443)?.to, [{ ipBlock: { cidr: '203.0.113.10/32' } }, { ipBlock: { cidr: '203.0.113.0/24' } }], 'the address and the /24 it may rotate in');
  t.same(egressOf(53)?.to, [{ ipBlock: { cidr: '10.96.0.10/32' } }]);
  t.same(egressOf(5432)?.to, [{ ipBlock: { cidr: '10.244.0.0/16' } }], 'an unresolved pod peer is the pod network');
  t.notOk(egressOf(6379), 'loopback is never filtered, so not listed');
  t.same(egress[egress.length - 1], {
    ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
  }, 'DNS to the cluster resolver is always allowed');
  const ingress = policy.spec?.ingress ?? [];
  t.equal(ingress.length, 1);
  t.same(ingress[0]?.ports, [{ protocol: 'TCP', port: 8080 }]);
  t.same(ingress[0]?.from, [{ ipBlock: { cidr: '10.244.0.0/16' } }], 'ingress from the observed peers only');
});

t.test('Falco rules export parses as YAML with a list, a macro and a rule', async (t) => {
  const { h, id } = await approved(t);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=falco`);
  t.equal(r.status, 200);
  const docs = parseAllDocuments(r.text);
  t.equal(docs.length, 1);
  t.same(docs[0]!.errors, []);
  const rules = docs[0]!.toJS() as Record<string, unknown>[];
  t.ok(Array.isArray(rules));
  const [list, macro, rule] = rules as [{ list: string; items: string[] }, { macro: string; condition: string }, Record<string, unknown>];
  t.match(list.list, /^driftwatch_shop_web_app_allowed_exes$/);
  t.same(list.items, ['"/opt/app/bin/odd \\"name\\"\\\\here"', '"/usr/local/bin/healthcheck"', '"/usr/sbin/nginx"'], 'paths quoted and escaped for Falco');
  t.match(macro.condition, 'k8s.ns.name = "shop" and container.name = "app" and k8s.pod.name startswith "web-"');
  t.match(rule, { rule: String, desc: String, condition: String, output: String, priority: 'WARNING', source: 'syscall', tags: ['driftwatch', 'baseline', 'process'] });
  t.equal(rule.condition, `evt.type in (execve, execveat) and ${macro.macro} and not proc.exepath in (${list.list})`);
  t.notMatch(r.text, /evt\.dir/, 'no deprecated evt.dir');
  for (const field of ['%proc.exepath', '%proc.args', '%k8s.pod.name', '%container.name']) t.match(rule.output, field);
});

t.test('declared YAML export re-imports to the same baseline', async (t) => {
  const { h, id } = await approved(t);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=yaml`);
  t.equal(r.status, 200);
  const parsed = parseDeclaredFile('exported.yaml', r.text);
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  t.equal(parsed.baselines.length, 1, 'valid against baselines/schema.json');
  const b = parsed.baselines[0]!;
  t.equal(b.mode, 'replace');
  t.ok(b.selector.namespace?.test('shop') && b.selector.workload?.test('web') && b.selector.container?.test('app'));
  t.notOk(b.selector.workload?.test('web2'), 'the selector is exact');

  // Same verdicts as the approved baseline: everything it learned is allowed, nothing else.
  const deriver = new ItemDeriver(h.config.collector.network);
  for (const obs of LEARNED) t.not(matchRules(b.allow, obs, deriver.derive(obs)), null, `allows ${deriver.derive(obs).key}`);
  for (const obs of OUTSIDE) t.equal(matchRules(b.allow, obs, deriver.derive(obs)), null, `does not allow ${deriver.derive(obs).key}`);

  // Loaded by a fresh collector from baselines/: the learned behaviour stays silent, the rest is raised.
  const fresh = await startHarness(t, { baselines: { 'web.yaml': r.text } });
  await fresh.ingest(...LEARNED.map((o) => ({ ...o, time: o.time + 4 * HOUR })));
  t.equal(fresh.store.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM deviations')!.n, 0, 'the approved behaviour raises nothing');
  await fresh.ingest(...OUTSIDE.map((o) => ({ ...o, time: o.time + 4 * HOUR })));
  t.equal(fresh.store.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM deviations')!.n, OUTSIDE.length, 'everything else is a deviation');

  // And as a what-if candidate over what was stored: no deviation.
  const w = await h.call('POST', `/api/v1/baselines/${id}/what-if`, { body: { days: 7, yaml: r.text } });
  t.same(w.body.deviations, []);
});
