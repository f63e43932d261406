/**
 * Workload identity: the naming-convention table, and the Kubernetes API path against a fake API
 * server that speaks list + watch (CronJob runs map to the CronJob; ReplicaSet → Deployment).
 */
import t from 'tap';
import { cronJobByNamePrefix, inferWorkload, jobRunOf } from '../../../common/kube/naming.js';
import { createIdentityResolver, IdentityResolver, type IdentityInput } from '../../../agent/identity/resolver.js';
import { silentLogger } from '../../../common/logger.js';
import type { AgentConfig } from '../../../common/config/schema.js';
import { FakeKubeApi, fakeKubeConfig, fakePod } from '../../helpers/fake-kube-api.js';
import { until } from '../../helpers/agent-support.js';

t.test('naming conventions', async (t) => {
  const table: [string, Record<string, string> | null, string, string][] = [
    ['deathstar-6f87496b94-qdlh8', { 'pod-template-hash': '6f87496b94' }, 'Deployment', 'deathstar'],
    ['alpine-deployment-77789455d6-m7flp', null, 'Deployment', 'alpine-deployment'],
    ['poolmgr-go-default-516098-5bdbf8c8f5-g8gvc', null, 'Deployment', 'poolmgr-go-default-516098'],
    ['coredns-5d78c9869d-2xk7p', { 'pod-template-hash': '5d78c9869d', 'k8s-app': 'kube-dns' }, 'Deployment', 'coredns'],
    ['backup-28391234-x7k2p', null, 'CronJob', 'backup'],
    ['backup-28391235-9qz4c', { 'batch.kubernetes.io/job-name': 'backup-28391235' }, 'CronJob', 'backup'],
    ['report-1712345678-abcde', null, 'CronJob', 'report'],
    ['migrate-x7k2p', { 'job-name': 'migrate' }, 'Job', 'migrate'],
    ['web-0', null, 'StatefulSet', 'web'],
    ['db-12', { 'statefulset.kubernetes.io/pod-name': 'db-12' }, 'StatefulSet', 'db'],
    ['fluent-bit-x7k2p', null, 'DaemonSet', 'fluent-bit'],
    ['kube-proxy-abcde', { 'pod-template-generation': '1', 'controller-revision-hash': '6f9c' }, 'DaemonSet', 'kube-proxy'],
    ['tiefighter', null, 'Pod', 'tiefighter'],
    ['kubecon', {}, 'Pod', 'kubecon'],
  ];
  for (const [pod, labels, kind, name] of table) t.same(inferWorkload(pod, labels), { kind, name }, pod);
});

const input = (over: Partial<IdentityInput>): IdentityInput => ({
  cluster: 'c1',
  node: 'node-a',
  namespace: 'default',
  pod: 'x',
  container: 'main',
  containerId: null,
  ...over,
});

t.test('resolver: source first, host identity, shared frozen ids', async (t) => {
  const r = new IdentityResolver(null);
  const a = r.resolve(input({ pod: 'deathstar-6f87496b94-qdlh8', workload: 'deathstar', workloadKind: 'Deployment' }));
  t.same(a, { workload: { cluster: 'c1', namespace: 'default', kind: 'Deployment', name: 'deathstar', container: 'main' }, identitySource: 'source', run: null });
  t.equal(r.resolve(input({ pod: 'deathstar-6f87496b94-qdlh8', workload: 'deathstar', workloadKind: 'Deployment' })).workload, a.workload, 'interned');
  t.ok(Object.isFrozen(a.workload));
  const job = r.resolve(input({ pod: 'backup-28391234-x7k2p', workload: 'backup-28391234', workloadKind: 'Job' }));
  t.match(job.workload, { kind: 'CronJob', name: 'backup' }, 'a Job named like a CronJob run maps to the CronJob');
  t.equal(job.run, 'backup-28391234', 'its run: the Job (from the pod name when the source gave no labels)');
  const host = r.resolve(input({ namespace: null, pod: null, container: null }));
  t.same(host, { workload: { cluster: 'c1', namespace: '', kind: 'Host', name: 'node-a', container: '' }, identitySource: 'host', run: null });
  const falcoDocker = r.resolve(input({ pod: 'web-0', container: 'k8s_nginx_web-0_default_uid_0' }));
  t.match(falcoDocker, { workload: { kind: 'StatefulSet', name: 'web', container: 'nginx' }, identitySource: 'inferred' });
  t.equal(r.readiness().ready, true);
});

const agentConfig = { node: 'node-a', kubernetes: { mode: 'off' } } as unknown as AgentConfig;

t.test('kubernetes API: watches this node only, follows owners, CronJob runs map to the CronJob', async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  t.teardown(() => api.stop());
  api.addReplicaSet({ metadata: { namespace: 'shop', name: 'cart-7c9f8d6b5', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'cart', uid: 'd1', controller: true }] } });
  for (const run of ['nightly-28391234', 'nightly-28392674']) {
    api.addJob({ metadata: { namespace: 'ops', name: run, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj1', controller: true }] } });
  }
  api.putPod(fakePod({ namespace: 'shop', name: 'cart-7c9f8d6b5-x7k2p', node: 'node-a', labels: { 'pod-template-hash': '7c9f8d6b5' }, owner: { kind: 'ReplicaSet', name: 'cart-7c9f8d6b5' } }));
  api.putPod(fakePod({ namespace: 'ops', name: 'nightly-28391234-q2w4r', node: 'node-a', owner: { kind: 'Job', name: 'nightly-28391234', apiVersion: 'batch/v1' } }));
  api.putPod(fakePod({ namespace: 'shop', name: 'elsewhere-0', node: 'node-b', owner: { kind: 'StatefulSet', name: 'elsewhere' } }));

  const resolver = createIdentityResolver(agentConfig, silentLogger(), { kubeConfig: fakeKubeConfig(api.url) });
  await resolver.start();
  t.teardown(() => resolver.close());
  await until(() => resolver.readiness().ready, 10_000, 'pod watch synced');

  const resolve = (namespace: string, pod: string, container: string | null = 'main', containerId: string | null = null) =>
    resolver.resolve(input({ namespace, pod, container, containerId }));
  await until(() => resolve('shop', 'cart-7c9f8d6b5-x7k2p').identitySource === 'kubernetes-api', 10_000, 'cart pod known');
  await until(() => resolve('ops', 'nightly-28391234-q2w4r').identitySource === 'kubernetes-api', 10_000, 'nightly pod known');
  t.same(resolve('shop', 'cart-7c9f8d6b5-x7k2p').workload, { cluster: 'c1', namespace: 'shop', kind: 'Deployment', name: 'cart', container: 'main' });
  t.match(resolve('ops', 'nightly-28391234-q2w4r'), { workload: { kind: 'CronJob', name: 'nightly' }, identitySource: 'kubernetes-api' });

  // A later run arrives through the watch: same CronJob, never a workload per run.
  api.putPod(fakePod({ namespace: 'ops', name: 'nightly-28392674-z9x8c', node: 'node-a', owner: { kind: 'Job', name: 'nightly-28392674', apiVersion: 'batch/v1' }, containerId: 'a'.repeat(64) }));
  await until(() => resolve('ops', 'nightly-28392674-z9x8c', null, 'a'.repeat(12)).identitySource === 'kubernetes-api', 10_000, 'watched pod');
  const second = resolve('ops', 'nightly-28392674-z9x8c', null, 'a'.repeat(12));
  t.same(second.workload, { cluster: 'c1', namespace: 'ops', kind: 'CronJob', name: 'nightly', container: 'main' }, 'container name from the pod status (Falco gives only the id)');

  t.equal(resolve('shop', 'elsewhere-0').identitySource, 'inferred', "another node's pod is not watched");
  const podRequests = api.requests.filter((r) => r.includes('/api/v1/pods'));
  t.ok(podRequests.length >= 2, 'list + watch');
  t.ok(podRequests.every((r) => r.includes('fieldSelector=spec.nodeName%3Dnode-a')), 'every pod request selects this node');
  t.ok(api.requests.some((r) => r.includes('watch=true')), 'watches');

  // Deleted pods are forgotten (falls back to inference).
  api.deletePod('shop', 'cart-7c9f8d6b5-x7k2p');
  await until(() => resolve('shop', 'cart-7c9f8d6b5-x7k2p').identitySource === 'inferred', 10_000, 'deleted');
  t.match(resolve('shop', 'cart-7c9f8d6b5-x7k2p').workload, { kind: 'Deployment', name: 'cart' }, 'inference agrees');
});

t.test('kubernetes API: owner lookups denied → naming rules on the owner reference; watch re-established', async (t) => {
  const api = new FakeKubeApi();
  api.denyOwnerLookups = true;
  await api.start();
  t.teardown(() => api.stop());
  api.putPod(fakePod({ namespace: 'ops', name: 'nightly-28391234-q2w4r', node: 'node-a', owner: { kind: 'Job', name: 'nightly-28391234', apiVersion: 'batch/v1' } }));
  api.putPod(fakePod({ namespace: 'shop', name: 'cart-7c9f8d6b5-x7k2p', node: 'node-a', labels: { 'pod-template-hash': '7c9f8d6b5' }, owner: { kind: 'ReplicaSet', name: 'cart-7c9f8d6b5' } }));
  const resolver = createIdentityResolver(agentConfig, silentLogger(), { kubeConfig: fakeKubeConfig(api.url) });
  await resolver.start();
  t.teardown(() => resolver.close());
  const r = (ns: string, pod: string) => resolver.resolve(input({ namespace: ns, pod }));
  await until(() => r('ops', 'nightly-28391234-q2w4r').identitySource === 'kubernetes-api', 10_000, 'pod known');
  t.match(r('ops', 'nightly-28391234-q2w4r').workload, { kind: 'CronJob', name: 'nightly' });
  await until(() => r('shop', 'cart-7c9f8d6b5-x7k2p').identitySource === 'kubernetes-api', 10_000, 'pod known');
  t.match(r('shop', 'cart-7c9f8d6b5-x7k2p').workload, { kind: 'Deployment', name: 'cart' });

  api.dropWatches();
  api.putPod(fakePod({ namespace: 'db', name: 'pg-1', node: 'node-a', owner: { kind: 'StatefulSet', name: 'pg' } }));
  await until(() => r('db', 'pg-1').identitySource === 'kubernetes-api', 15_000, 'pod after re-watch');
  t.match(r('db', 'pg-1').workload, { kind: 'StatefulSet', name: 'pg' });
});

t.test('kubernetes API on demand: events that name their workload and container never start the pod watch', async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  t.teardown(() => api.stop());
  api.putPod(fakePod({ namespace: 'shop', name: 'cart-7c9f8d6b5-x7k2p', node: 'node-a', labels: { 'pod-template-hash': '7c9f8d6b5' }, owner: { kind: 'ReplicaSet', name: 'cart-7c9f8d6b5' } }));
  const resolver = createIdentityResolver(agentConfig, silentLogger(), { kubeConfig: fakeKubeConfig(api.url) });
  await resolver.start();
  t.teardown(() => resolver.close());
  // What Tetragon sends: workload, kind and container name.
  for (let i = 0; i < 100; i++) resolver.resolve(input({ namespace: 'shop', pod: `cart-7c9f8d6b5-p${i}`, container: 'main', workload: 'cart', workloadKind: 'Deployment' }));
  t.equal(resolver.readiness().ready, true);
  t.match(resolver.readiness().detail, /not needed/);
  t.same(api.requests, [], 'no request reached the API');
  // An event without its workload (Falco without k8smeta): the watch starts and answers.
  const falco = () => resolver.resolve(input({ namespace: 'shop', pod: 'cart-7c9f8d6b5-x7k2p', container: 'main' }));
  t.equal(falco().identitySource, 'inferred', 'answered at once from the naming rules meanwhile');
  await until(() => falco().identitySource === 'kubernetes-api', 10_000, 'the pod watch answers');
  t.ok(api.requests.length > 0);
  // The list's pods are answerable a moment before the watch marks itself synced.
  await until(() => resolver.readiness().ready, 10_000, 'ready once the pod watch synced');
  t.pass('ready');
});

t.test('a Job started by hand from a CronJob: the source names the Job, the API its CronJob; the run comes from the pod labels', async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  t.teardown(() => api.stop());
  // What `kubectl create job nightly-manual-x7k2p --from=cronjob/nightly` creates.
  api.addJob({
    metadata: {
      namespace: 'ops',
      name: 'nightly-manual-x7k2p',
      annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj1', controller: true }],
    },
  });
  api.addJob({ metadata: { namespace: 'ops', name: 'restore-db' } });
  const jobLabels = (job: string, uid: string) => ({ 'batch.kubernetes.io/job-name': job, 'job-name': job, 'batch.kubernetes.io/controller-uid': uid, 'controller-uid': uid });
  api.putPod(fakePod({ namespace: 'ops', name: 'nightly-manual-x7k2p-b8k2d', node: 'node-a', labels: jobLabels('nightly-manual-x7k2p', 'uid-run-m'), owner: { kind: 'Job', name: 'nightly-manual-x7k2p', apiVersion: 'batch/v1' } }));
  api.putPod(fakePod({ namespace: 'ops', name: 'restore-db-w2c4f', node: 'node-a', labels: jobLabels('restore-db', 'uid-run-r'), owner: { kind: 'Job', name: 'restore-db', apiVersion: 'batch/v1' } }));
  const resolver = createIdentityResolver(agentConfig, silentLogger(), { kubeConfig: fakeKubeConfig(api.url) });
  await resolver.start();
  t.teardown(() => resolver.close());
  // What Tetragon sends: its workload is the pod's owner, the Job.
  const tetragon = (pod: string, job: string, labels: Record<string, string>) =>
    resolver.resolve(input({ namespace: 'ops', pod, container: 'main', workload: job, workloadKind: 'Job', labels }));
  const manual = () => tetragon('nightly-manual-x7k2p-b8k2d', 'nightly-manual-x7k2p', jobLabels('nightly-manual-x7k2p', 'uid-run-m'));
  t.match(manual(), { workload: { kind: 'Job', name: 'nightly-manual-x7k2p' }, identitySource: 'source', run: 'uid-run-m' }, 'the source meanwhile');
  await until(() => manual().identitySource === 'kubernetes-api', 10_000, 'the pod watch answers');
  t.match(manual(), { workload: { kind: 'CronJob', name: 'nightly', container: 'main' }, run: 'uid-run-m' }, 'a run of its CronJob');
  const restore = () => tetragon('restore-db-w2c4f', 'restore-db', jobLabels('restore-db', 'uid-run-r'));
  await until(() => restore().identitySource === 'kubernetes-api', 10_000, 'the pod watch answers');
  t.match(restore(), { workload: { kind: 'Job', name: 'restore-db' }, run: 'uid-run-r' }, 'a Job of its own stays one (and says so: the collector does not guess)');
  t.equal(resolver.resolve(input({ namespace: 'shop', pod: 'cart-7c9f8d6b5-x7k2p', container: 'main', workload: 'cart', workloadKind: 'Deployment' })).run, null, 'no run for a Deployment');
});

t.test('the run of a Job pod: the Job uid, else its name, else the pod name without the controller suffix', async (t) => {
  t.equal(jobRunOf({ 'controller-uid': 'u1', 'job-name': 'j' }, 'j-b8k2d'), 'u1');
  t.equal(jobRunOf({ 'batch.kubernetes.io/job-name': 'nightly-29410560' }, 'nightly-29410560-b8k2d'), 'nightly-29410560');
  t.equal(jobRunOf(null, 'nightly-29410560-b8k2d'), 'nightly-29410560');
  t.equal(cronJobByNamePrefix('db-backup-manual-1', (n) => n === 'db' || n === 'db-backup'), 'db-backup', 'the longest known prefix');
  t.equal(cronJobByNamePrefix('restore', () => true), null, 'no prefix, no CronJob');
});
