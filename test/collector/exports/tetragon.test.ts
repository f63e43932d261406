/**
 * The Tetragon TracingPolicy export: learned, approved and exported through the API, validated
 * against Tetragon's CRD schema (test/helpers/tetragon-crd.ts), and its selector tried the way
 * Tetragon applies it (a selector fires when all its matchArgs hold; `NotEqual` holds when the
 * argument equals none of the values).
 */
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import type { Observation } from '../../../common/model.js';
import { toTracingPolicy } from '../../../collector/exports/tetragon.js';
import { HOUR, net, proc, startHarness, T0, workload, type Harness } from '../../helpers/api-harness.js';
import { tracingPolicyProblems } from '../../helpers/tetragon-crd.js';

interface Selector {
  matchArgs?: { index: number; operator: string; values: string[] }[];
  matchBinaries?: unknown;
  matchActions: { action: string }[];
}
interface Kprobe {
  call: string;
  syscall: boolean;
  args: { index: number; type: string }[];
  selectors: Selector[];
}
interface Policy {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations: Record<string, string> };
  spec: { podSelector?: unknown; containerSelector?: unknown; hostSelector?: unknown; nodeSelector?: unknown; kprobes: Kprobe[] };
}

const web = workload('shop', 'web');
const LEARNED: Observation[] = [
  proc(web, T0, '/usr/sbin/nginx', '-g daemon off;'),
  proc(web, T0 + 1, '/usr/local/bin/healthcheck', '-s localhost'),
  proc(web, T0 + 2, '/opt/app/bin/odd "name"\\here'),
  proc(web, T0 + 3, '/usr/bin/python3', '/opt/app/*.py --workers 4'),
  net(web, T0 + 4, 'egress', '203.0.113.10', 443),
];

/** The action Tetragon takes on an exec of `path`, or null when no selector fires. */
function actionFor(kprobe: Kprobe, path: string): string | null {
  for (const s of kprobe.selectors) {
    const holds = (s.matchArgs ?? []).every((a) => {
      if (a.index !== 0 || kprobe.args[0]?.type !== 'linux_binprm') throw new Error('unexpected argument');
      if (a.operator === 'NotEqual') return !a.values.includes(path);
      throw new Error(`operator ${a.operator} not modelled`);
    });
    if (holds) return s.matchActions[0]?.action ?? 'Post';
  }
  return null;
}

async function approved(t: Test): Promise<{ h: Harness; id: number }> {
  const h = await startHarness(t);
  await h.ingest(...LEARNED);
  await h.endLearning();
  const id = await h.baselineOf(web);
  await h.call('POST', `/api/v1/baselines/${id}/approve`, { body: { version: 1, comment: 'export test' } });
  return { h, id };
}

t.test('a per-workload TracingPolicyNamespaced that reports executions outside the baseline, valid against the CRD', async (t) => {
  const { h, id } = await approved(t);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=tetragon`, { token: h.tokens.viewer });
  t.equal(r.status, 200, r.text);
  t.match(r.headers.get('content-type'), /^application\/yaml/);
  t.match(r.headers.get('content-disposition'), `baseline-${id}-v1-tetragon.yaml`);
  const policy = parse(r.text) as Policy;
  t.same(tracingPolicyProblems(policy), [], "valid against Tetragon's CRD schema");
  t.equal(policy.kind, 'TracingPolicyNamespaced', 'namespaced: it can only ever apply to the workload namespace');
  t.equal(policy.metadata.namespace, 'shop');
  t.equal(policy.metadata.name, 'driftwatch-exec-web-app');
  t.same(policy.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'web' } }, 'the pods by label, as the NetworkPolicy export selects them');
  t.same(policy.spec.containerSelector, { matchExpressions: [{ key: 'name', operator: 'In', values: ['app'] }] }, 'only the baseline container');
  t.equal(policy.spec.hostSelector, undefined, 'no host processes');
  t.equal(policy.spec.kprobes.length, 1);
  const kprobe = policy.spec.kprobes[0]!;
  t.match(kprobe, { call: 'security_bprm_check', syscall: false, args: [{ index: 0, type: 'linux_binprm' }] }, 'the exec hook, with the file being executed');
  t.same(kprobe.selectors.length, 1);
  t.same(kprobe.selectors[0]!.matchArgs, [{ index: 0, operator: 'NotEqual', values: ['/opt/app/bin/odd "name"\\here', '/usr/bin/python3', '/usr/local/bin/healthcheck', '/usr/sbin/nginx'] }], 'exactly the baseline executables, byte for byte');
  t.equal(kprobe.selectors[0]!.matchBinaries, undefined, 'matchBinaries would name the caller of execve, not the file executed');
  t.same(kprobe.selectors[0]!.matchActions, [{ action: 'Post' }], 'audit by default');
  const notInArgs = structuredClone(policy);
  notInArgs.spec.kprobes[0]!.selectors[0]!.matchArgs![0]!.operator = 'NotIn';
  t.match(tracingPolicyProblems(notInArgs).join('\n'), /operator: must be equal to one of the allowed values/, 'the schema check bites: NotIn is a matchBinaries operator, not a matchArgs one');
  t.notMatch(r.text, /\*\.py|--workers/, 'argument patterns are context, not written as filters');
  t.match(policy.metadata.annotations, { 'driftwatch.dev/baseline': `${id}`, 'driftwatch.dev/action': 'audit' });

  for (const exe of ['/usr/sbin/nginx', '/usr/local/bin/healthcheck', '/usr/bin/python3', '/opt/app/bin/odd "name"\\here']) t.equal(actionFor(kprobe, exe), null, `${exe} runs unreported`);
  for (const exe of ['/bin/sh', '/usr/bin/curl', '/usr/sbin/nginx2', '/usr/sbin', '/tmp/usr/sbin/nginx']) t.equal(actionFor(kprobe, exe), 'Post', `${exe} is reported`);
});

t.test('Sigkill is opt-in (action=sigkill), only for format=tetragon, and a bad action is a clear 400', async (t) => {
  const { h, id } = await approved(t);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=tetragon&action=sigkill`);
  t.equal(r.status, 200, r.text);
  const policy = parse(r.text) as Policy;
  t.same(tracingPolicyProblems(policy), []);
  const kprobe = policy.spec.kprobes[0]!;
  t.same(kprobe.selectors[0]!.matchActions, [{ action: 'Sigkill' }], 'Sigkill (it still posts the event)');
  t.equal(actionFor(kprobe, '/bin/sh'), 'Sigkill');
  t.equal(actionFor(kprobe, '/usr/sbin/nginx'), null, 'the baseline keeps running');
  t.equal(policy.metadata.annotations['driftwatch.dev/action'], 'sigkill');
  const audit = parse((await h.call('GET', `/api/v1/baselines/${id}/export?format=tetragon&action=audit`)).text) as Policy;
  t.same(audit.spec.kprobes[0]!.selectors[0]!.matchActions, [{ action: 'Post' }]);
  const misplaced = await h.call('GET', `/api/v1/baselines/${id}/export?format=networkpolicy&action=sigkill`);
  t.equal(misplaced.status, 400);
  t.equal(misplaced.body.code, 'DW_ERR_VALIDATION');
  t.match(misplaced.body.message, 'action applies to format=tetragon only');
  const unknown = await h.call('GET', `/api/v1/baselines/${id}/export?format=tetragon&action=kill-everything`);
  t.equal(unknown.status, 400);
  t.equal(unknown.body.code, 'DW_ERR_VALIDATION');
});

t.test('host workloads get a cluster-wide TracingPolicy for that node; an empty process list reports every exec', async (t) => {
  const { h, id } = await approved(t);
  const view = (await h.store.queries.baselineView(id))!;
  const items = await h.store.queries.baselineItems(id, view.version);
  const host = toTracingPolicy({ ...view, workload: { cluster: 'test', namespace: '', kind: 'Host', name: 'node-1', container: '' } }, items) as unknown as Policy;
  t.same(tracingPolicyProblems(host), [], "valid against Tetragon's CRD schema");
  t.equal(host.kind, 'TracingPolicy');
  t.equal(host.metadata.namespace, undefined, 'cluster-scoped');
  t.equal(host.metadata.name, 'driftwatch-exec-host-node-1');
  t.same(host.spec.hostSelector, {}, 'host processes');
  t.same(host.spec.nodeSelector, { matchLabels: { 'kubernetes.io/hostname': 'node-1' } }, 'of that node only');
  t.equal(host.spec.podSelector, undefined, 'no pods');

  const none = toTracingPolicy(view, items.filter((i) => !i.key.startsWith('p|'))) as unknown as Policy;
  t.same(tracingPolicyProblems(none), []);
  t.equal(none.spec.kprobes[0]!.selectors[0]!.matchArgs, undefined, 'no processes in the baseline: no filter');
  t.equal(actionFor(none.spec.kprobes[0]!, '/usr/sbin/nginx'), 'Post', 'every execution is outside it');
});

t.test('only an approved baseline exports', async (t) => {
  const h = await startHarness(t);
  await h.ingest(...LEARNED.map((o) => ({ ...o, time: o.time + HOUR / 2 })));
  const id = await h.baselineOf(web);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=tetragon`);
  t.equal(r.status, 409);
  t.equal(r.body.code, 'DW_ERR_EXPORT_UNAVAILABLE');
});
