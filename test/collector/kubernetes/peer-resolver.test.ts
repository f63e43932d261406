/**
 * The collector's Kubernetes peer resolver against a fake API server: pod addresses → owning
 * workloads (owners followed), ClusterIPs → Services, deletions, address reuse, watch restarts and
 * outages; and the engine learning peers as workloads with it.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { createPeerResolver, type KubePeerResolver } from '../../../collector/kubernetes/peer-resolver.js';
import type { CollectorConfig } from '../../../common/config/schema.js';
import { SERVICE_ACCOUNT_TOKEN } from '../../../common/kube/client.js';
import { silentLogger } from '../../../common/logger.js';
import { FakeKubeApi, fakeKubeConfig, fakePod, fakeService } from '../../helpers/fake-kube-api.js';
import { until } from '../../helpers/agent-support.js';
import { MIN, T0, WEB, deviationList, fixture, itemKeys, net } from '../../helpers/detection.js';

const collectorConfig = (mode: CollectorConfig['kubernetes']['mode']): CollectorConfig => ({ kubernetes: { mode } }) as unknown as CollectorConfig;

/** A cluster: a Deployment, a CronJob run, a StatefulSet, a bare pod, on two nodes. */
async function cluster(t: Test): Promise<FakeKubeApi> {
  const api = new FakeKubeApi();
  await api.start();
  t.teardown(() => api.stop());
  api.addReplicaSet({ metadata: { namespace: 'shop', name: 'cart-7c9f8d6b5', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'cart', uid: 'd1', controller: true }] } });
  api.addJob({ metadata: { namespace: 'ops', name: 'nightly-28391234', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj1', controller: true }] } });
  api.putPod(fakePod({ namespace: 'shop', name: 'cart-7c9f8d6b5-x7k2p', node: 'node-a', ips: ['10.244.1.5', 'fd00:10:244:1::5'], owner: { kind: 'ReplicaSet', name: 'cart-7c9f8d6b5' } }));
  api.putPod(fakePod({ namespace: 'ops', name: 'nightly-28391234-q2w4r', node: 'node-b', ips: ['10.244.2.7'], owner: { kind: 'Job', name: 'nightly-28391234', apiVersion: 'batch/v1' } }));
  api.putPod(fakePod({ namespace: 'db', name: 'pg-0', node: 'node-b', ips: ['10.244.2.9'], owner: { kind: 'StatefulSet', name: 'pg' } }));
  api.putPod(fakePod({ namespace: 'default', name: 'debug', node: 'node-a', ips: ['10.244.1.30'] }));
  api.putPod(fakePod({ namespace: 'kube-system', name: 'kube-proxy-abcde', node: 'node-a', ips: ['192.168.1.10'], hostNetwork: true, owner: { kind: 'DaemonSet', name: 'kube-proxy' } }));
  api.putPod(fakePod({ namespace: 'ops', name: 'once-x1', node: 'node-b', ips: ['10.244.2.40'], phase: 'Succeeded', owner: { kind: 'Job', name: 'once', apiVersion: 'batch/v1' } }));
  api.putService(fakeService({ namespace: 'shop', name: 'cart', ips: ['10.96.0.20', 'fd00:10:96::20'] }));
  api.putService(fakeService({ namespace: 'default', name: 'kubernetes', ips: ['10.96.0.1'] }));
  api.putService(fakeService({ namespace: 'db', name: 'pg-headless', ips: ['None'] }));
  return api;
}

async function started(t: Test, api: FakeKubeApi, opts: { staleGraceMs?: number; now?: () => number } = {}): Promise<KubePeerResolver> {
  const resolver = createPeerResolver(collectorConfig('off'), silentLogger(), { kubeConfig: fakeKubeConfig(api.url), ...opts });
  await resolver.start();
  t.teardown(() => resolver.close());
  await until(() => resolver.readiness().ready, 10_000, 'watches synced');
  return resolver;
}

t.test('pod addresses resolve to the owning workload, ClusterIPs to the Service; cluster-wide', async (t) => {
  const api = await cluster(t);
  const r = await started(t, api);
  await until(() => r.workloadOf('10.244.1.5') !== null && r.workloadOf('10.244.2.7') !== null, 10_000, 'owners looked up');
  t.equal(r.workloadOf('10.244.1.5'), 'shop/Deployment/cart', 'ReplicaSet → Deployment');
  t.equal(r.workloadOf('fd00:10:244:1::5'), 'shop/Deployment/cart', 'every address of a dual-stack pod');
  t.equal(r.workloadOf('10.244.2.7'), 'ops/CronJob/nightly', 'Job → CronJob');
  t.equal(r.workloadOf('10.244.2.9'), 'db/StatefulSet/pg');
  t.equal(r.workloadOf('10.244.1.30'), 'default/Pod/debug', 'a bare pod is its own workload');
  t.equal(r.workloadOf('10.244.1.5'), r.workloadOf('10.244.1.5'), 'same answer');
  t.equal(r.workloadOf('192.168.1.10'), null, "a hostNetwork pod's address is the node's, not the pod's");
  t.equal(r.workloadOf('10.244.2.40'), null, "a finished pod's address is free for reuse");
  t.equal(r.workloadOf('10.244.9.9'), null, 'unknown address');
  t.equal(r.serviceOf('10.96.0.20'), 'shop/cart');
  t.equal(r.serviceOf('fd00:10:96::20'), 'shop/cart', 'spec.clusterIPs');
  t.equal(r.serviceOf('10.96.0.1'), 'default/kubernetes');
  t.equal(r.serviceOf('None'), null, 'headless: no address');
  t.equal(r.serviceOf('10.244.1.5'), null);
  const podRequests = api.requests.filter((q) => q.startsWith('GET /api/v1/pods'));
  t.ok(podRequests.length >= 2 && podRequests.every((q) => !q.includes('fieldSelector')), 'every pod of the cluster, not one node');
  t.ok(api.requests.some((q) => q.startsWith('GET /api/v1/services?') && q.includes('watch=true')), 'services watched');

  // Deletions, and an address reused while its previous pod is still terminating.
  api.deletePod('db', 'pg-0');
  api.deleteService('shop', 'cart');
  await until(() => r.workloadOf('10.244.2.9') === null && r.serviceOf('10.96.0.20') === null, 10_000, 'deletions seen');
  t.equal(r.serviceOf('fd00:10:96::20'), null, 'every address of a deleted Service');
  const old = fakePod({ namespace: 'default', name: 'debug', node: 'node-a', ips: ['10.244.1.30'] });
  api.putPod({ ...old, metadata: { ...old.metadata, deletionTimestamp: '2026-01-10T12:00:00Z' } as typeof old.metadata });
  api.putPod(fakePod({ namespace: 'db', name: 'pg-1', node: 'node-a', ips: ['10.244.1.30'], owner: { kind: 'StatefulSet', name: 'pg' } }));
  await until(() => r.workloadOf('10.244.1.30') === 'db/StatefulSet/pg', 10_000, 'new holder of the address');
  api.putPod({ ...old, metadata: { ...old.metadata, deletionTimestamp: '2026-01-10T12:00:00Z', labels: { late: 'update' } } as typeof old.metadata });
  api.deletePod('default', 'debug');
  api.putService(fakeService({ namespace: 'ops', name: 'marker', ips: ['10.96.0.99'] }));
  await until(() => r.serviceOf('10.96.0.99') !== null, 10_000, 'later events applied');
  t.equal(r.workloadOf('10.244.1.30'), 'db/StatefulSet/pg', 'the terminating pod neither takes the address back nor takes it away when it goes');
});

t.test('a dropped watch re-syncs; an outage: not ready, stale answers for the grace period, then none; recovers', async (t) => {
  const api = await cluster(t);
  let offsetMs = 0;
  const r = await started(t, api, { staleGraceMs: 60_000, now: () => Date.now() + offsetMs });
  await until(() => r.workloadOf('10.244.1.5') !== null, 10_000, 'cart known');

  api.dropWatches();
  api.putPod(fakePod({ namespace: 'db', name: 'pg-1', node: 'node-a', ips: ['10.244.1.31'], owner: { kind: 'StatefulSet', name: 'pg' } }));
  await until(() => r.workloadOf('10.244.1.31') !== null, 10_000, 'pod added across the re-watch');
  t.equal(r.workloadOf('10.244.1.31'), 'db/StatefulSet/pg');

  api.unavailable = true;
  api.dropWatches();
  await until(() => /pods and services/.test(r.readiness().detail ?? ''), 10_000, 'both watches failing');
  t.match(r.readiness(), { name: 'kubernetes-peers', ready: false, detail: /not synced/ }, 'unready during the outage');
  t.equal(r.workloadOf('10.244.1.5'), 'shop/Deployment/cart', 'within the grace period: the last view answers');
  t.equal(r.serviceOf('10.96.0.1'), 'default/kubernetes');
  offsetMs = 2 * 60_000;
  t.equal(r.workloadOf('10.244.1.5'), null, 'after it: unknown (the engine falls back to the pod-cidr class)');
  t.equal(r.serviceOf('10.96.0.1'), null);

  api.putPod(fakePod({ namespace: 'db', name: 'pg-2', node: 'node-b', ips: ['10.244.2.32'], owner: { kind: 'StatefulSet', name: 'pg' } }));
  api.deletePod('db', 'pg-1');
  api.unavailable = false;
  await until(() => r.readiness().ready, 20_000, 'ready again (retried after consecutive failures)');
  await until(() => r.workloadOf('10.244.2.32') !== null && r.workloadOf('10.244.1.31') === null, 10_000, 'what happened during the outage');
  t.equal(r.workloadOf('10.244.1.5'), 'shop/Deployment/cart', 'answers again');
  t.equal(r.workloadOf('10.244.2.32'), 'db/StatefulSet/pg');
});

t.test('no API: mode off, or auto outside a cluster → a resolver that knows nothing and is ready', async (t) => {
  const off = createPeerResolver(collectorConfig('off'), silentLogger());
  await off.start();
  t.equal(off.workloadOf('10.244.1.5'), null);
  t.equal(off.serviceOf('10.96.0.1'), null);
  t.same(off.readiness(), { name: 'kubernetes-peers', ready: true, detail: 'kubernetes API not used' });
  await off.close();
  if (!existsSync(SERVICE_ACCOUNT_TOKEN)) {
    const auto = createPeerResolver(collectorConfig('auto'), silentLogger());
    t.same(auto.readiness(), { name: 'kubernetes-peers', ready: true, detail: 'kubernetes API not used' }, 'auto without a service account token');
    await auto.close();
  }
});

t.test('engine: pod peers learned as workloads; another workload deviates, a new pod of a learned one does not', async (t) => {
  const api = await cluster(t);
  api.addReplicaSet({ metadata: { namespace: 'shop', name: 'api-5d8f7c6b9d', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: 'd2', controller: true }] } });
  api.putPod(fakePod({ namespace: 'shop', name: 'api-5d8f7c6b9d-aaaaa', node: 'node-a', ips: ['10.244.1.50'], owner: { kind: 'ReplicaSet', name: 'api-5d8f7c6b9d' } }));
  const resolver = await started(t, api);
  await until(() => resolver.workloadOf('10.244.1.50') !== null, 10_000, 'api pod known');
  const f = await fixture({ resolver });
  t.teardown(() => f.close());

  await f.feed(net('egress', { time: T0, peer: '10.244.1.50', port: 8080 }), net('egress', { time: T0 + 1, peer: '10.96.0.20', port: 80 }));
  t.same(itemKeys(f), ['n|egress|tcp|8080|wl|shop/Deployment/api steady', 'n|egress|tcp|80|ip|10.96.0.20 steady'], 'the pod is learned as its workload');

  // The api Deployment rolls: its new pod has a new address.
  api.deletePod('shop', 'api-5d8f7c6b9d-aaaaa');
  api.putPod(fakePod({ namespace: 'shop', name: 'api-5d8f7c6b9d-bbbbb', node: 'node-b', ips: ['10.244.2.51'], owner: { kind: 'ReplicaSet', name: 'api-5d8f7c6b9d' } }));
  await until(() => resolver.workloadOf('10.244.2.51') !== null, 10_000, 'new api pod known');
  await f.feed(net('egress', { time: T0 + 70 * MIN, peer: '10.244.2.51', port: 8080 }), net('egress', { time: T0 + 71 * MIN, peer: '10.244.2.9', port: 8080 }));
  t.equal((await f.engine.currentBaseline(WEB))!.phase, 'active');
  t.same(deviationList(f), ['network n|egress|tcp|8080|wl|db/StatefulSet/pg low open'], "another workload's pod in the same range and port is new; the new api pod is not");
});
