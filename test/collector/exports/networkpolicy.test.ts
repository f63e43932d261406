/**
 * Exported NetworkPolicies tried against a NetworkPolicy evaluator (test/helpers/network-policy-evaluator.ts):
 * baselines learned through the collector (pod peers resolved to workloads, named address sets,
 * names learned by DNS), approved and exported through the API, then every connection the
 * baseline allows must pass the policy, DNS to kube-dns included, and connections it does not
 * allow must not.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { NetworkObservation, Observation, WorkloadId } from '../../../common/model.js';
import type { PeerResolver } from '../../../common/items/derive.js';
import { writeAddressSetFiles } from '../../helpers/address-set-files.js';
import { net, startHarness, T0, workload } from '../../helpers/api-harness.js';
import { NetworkPolicyEvaluator, type Connection, type Endpoint, type NetworkPolicyDoc, type PodEndpoint, type Protocol } from '../../helpers/network-policy-evaluator.js';

/** The cluster the policies are evaluated in: pods by address, as the resolver and the CNI see them. */
const PODS: Record<string, PodEndpoint & { owner: string }> = {
  '10.244.1.5': { kind: 'pod', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'web' }, ip: '10.244.1.5', owner: 'shop/Deployment/web' },
  '10.244.2.5': { kind: 'pod', namespace: 'jobs', labels: { 'app.kubernetes.io/name': 'worker' }, ip: '10.244.2.5', owner: 'jobs/Deployment/worker' },
  '10.244.6.5': { kind: 'pod', namespace: 'payments', labels: { 'app.kubernetes.io/name': 'checkout' }, ip: '10.244.6.5', owner: 'payments/Deployment/checkout' },
  '10.244.7.7': { kind: 'pod', namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' }, ip: '10.244.7.7', owner: 'ingress-nginx/Deployment/ingress-nginx-controller' },
  '10.244.3.7': { kind: 'pod', namespace: 'data', labels: { 'app.kubernetes.io/name': 'postgres' }, ip: '10.244.3.7', owner: 'data/StatefulSet/postgres' },
  '10.244.3.8': { kind: 'pod', namespace: 'data', labels: { 'app.kubernetes.io/name': 'metabase' }, ip: '10.244.3.8', owner: 'data/Deployment/metabase' },
  '10.244.4.4': { kind: 'pod', namespace: 'queue', labels: { 'app.kubernetes.io/name': 'rabbitmq' }, ip: '10.244.4.4', owner: 'queue/Deployment/rabbitmq' },
  '10.244.0.53': { kind: 'pod', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ip: '10.244.0.53', owner: 'kube-system/Deployment/coredns' },
  '10.244.9.9': { kind: 'pod', namespace: 'sandbox', labels: { 'app.kubernetes.io/name': 'debug' }, ip: '10.244.9.9', owner: 'sandbox/Deployment/debug' },
  '10.244.1.6': { kind: 'pod', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'cart' }, ip: '10.244.1.6', owner: 'shop/Deployment/cart' },
};
const NAMESPACES = Object.fromEntries([...new Set(Object.values(PODS).map((p) => p.namespace))].map((n) => [n, {}]));
const RESOLVER: PeerResolver = { workloadOf: (ip) => PODS[ip]?.owner ?? null, serviceOf: (ip) => (ip === '10.96.0.10' ? 'kube-system/kube-dns' : null) };

function endpoint(ip: string): Endpoint {
  const p = PODS[ip];
  return p ? { kind: 'pod', namespace: p.namespace, labels: p.labels, ip: p.ip } : { kind: 'external', ip };
}
const podOf = (w: WorkloadId): PodEndpoint => Object.values(PODS).find((p) => p.owner === `${w.namespace}/${w.kind}/${w.name}`)!;
const tcp = (from: Endpoint, to: Endpoint, port: number): Connection => ({ from, to, port, protocol: 'TCP' });
const udp = (o: NetworkObservation): NetworkObservation => ({ ...o, protocol: 'udp' });

/** The connection an observed network event was (listen has no peer: nothing to try). */
function connectionOf(o: NetworkObservation): Connection | null {
  const self = podOf(o.workload);
  const protocol: Protocol = o.protocol === 'udp' ? 'UDP' : 'TCP';
  if (o.direction === 'egress') return { from: self, to: endpoint(o.peerIp!), port: o.peerPort!, protocol };
  if (o.direction === 'ingress') return { from: endpoint(o.peerIp!), to: self, port: o.localPort!, protocol };
  return null;
}

/** Learns, approves and exports one workload's baseline; the policy and an evaluator of the cluster with it. */
async function exported(t: Test, w: WorkloadId, learned: Observation[]): Promise<{ policy: NetworkPolicyDoc; evaluator: NetworkPolicyEvaluator }> {
  // Not t.testdir: the harness takes the test's directory for itself.
  const sets = mkdtempSync(join(tmpdir(), 'driftwatch-address-sets-'));
  t.teardown(() => rmSync(sets, { recursive: true, force: true }));
  writeAddressSetFiles(sets);
  const h = await startHarness(t, { resolver: RESOLVER, overrides: { 'collector.network.addressSetsDir': sets } });
  await h.ingest(...learned);
  await h.endLearning();
  const id = await h.baselineOf(w);
  t.equal((await h.call('POST', `/api/v1/baselines/${id}/approve`, { body: { version: 1, comment: 'policy evaluation' } })).status, 200);
  const r = await h.call('GET', `/api/v1/baselines/${id}/export?format=networkpolicy`);
  t.equal(r.status, 200, r.text);
  const policy = parse(r.text) as NetworkPolicyDoc;
  return { policy, evaluator: new NetworkPolicyEvaluator([policy], NAMESPACES) };
}

function everyLearnedConnectionPasses(t: Test, e: NetworkPolicyEvaluator, learned: Observation[]): void {
  for (const o of learned) {
    if (o.kind !== 'network') continue;
    const c = connectionOf(o);
    if (!c) continue;
    const v = e.evaluate(c);
    t.ok(v.allowed, `learned ${o.direction} ${c.from.ip} → ${c.to.ip}:${c.port}/${c.protocol} passes (egress: ${v.egress}, ingress: ${v.ingress})`);
  }
}

function clusterDnsWorks(t: Test, e: NetworkPolicyEvaluator, self: PodEndpoint): void {
  const kubeDns = endpoint('10.244.0.53');
  t.ok(e.allows({ from: self, to: kubeDns, port: 53, protocol: 'UDP' }), 'DNS over UDP to kube-dns');
  t.ok(e.allows({ from: self, to: kubeDns, port: 53, protocol: 'TCP' }), 'DNS over TCP to kube-dns (truncated answers)');
  t.notOk(e.allows({ from: self, to: endpoint('8.8.8.8'), port: 53, protocol: 'UDP' }), 'not to a resolver outside the cluster');
  t.notOk(e.allows({ from: self, to: endpoint('10.244.9.9'), port: 53, protocol: 'UDP' }), 'nor to any pod answering on 53');
}

t.test('a web service: ingress from the ingress controller, egress to its database, an external address and a named set', async (t) => {
  const web = workload('shop', 'web');
  const learned: Observation[] = [
    net(web, T0, 'listen', null, 8080),
    net(web, T0 + 1, 'ingress', '10.244.7.7', 8080),
    net(web, T0 + 2, 'egress', '10.244.3.7', 5432),
    net(web, T0 + 3, 'egress', '203.0.113.10', 443),
    net(web, T0 + 4, 'egress', '198.18.7.10', 443),
    udp(net(web, T0 + 5, 'egress', '10.96.0.10', 53)),
  ];
  const { policy, evaluator: e } = await exported(t, web, learned);
  t.same(policy.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'web' } });
  const self = podOf(web);
  t.ok(new NetworkPolicyEvaluator([policy], NAMESPACES).evaluate(tcp(self, endpoint('203.0.113.10'), 443)).egress.startsWith('allowed by'), 'the policy isolates the web pods');
  everyLearnedConnectionPasses(t, e, learned);
  clusterDnsWorks(t, e, self);
  t.ok(e.allows(tcp(endpoint('10.244.7.7'), self, 8080)), 'the ingress controller reaches the web port');
  t.notOk(e.allows(tcp(endpoint('10.244.9.9'), self, 8080)), 'a pod of another namespace does not');
  t.notOk(e.allows(tcp(endpoint('198.51.100.7'), self, 8080)), 'nor an address outside the cluster');
  t.notOk(e.allows(tcp(endpoint('10.244.7.7'), self, 22)), 'the ingress controller only on the observed port');
  t.ok(e.allows(tcp(self, endpoint('198.18.7.200'), 443)), "another address of the named set's published range");
  t.notOk(e.allows(tcp(self, endpoint('198.51.100.1'), 443)), 'an external address in no allowed range or set');
  t.notOk(e.allows(tcp(self, endpoint('203.0.113.10'), 22)), 'the allowed address on another port');
  t.notOk(e.allows(tcp(self, endpoint('10.244.9.9'), 5432)), 'the database port on a pod of another namespace');
  // Documented widening: the collector knows a peer's owning workload, not its pods' labels.
  t.ok(e.allows(tcp(self, endpoint('10.244.3.8'), 5432)), "a workload peer is its namespace: another pod of the database's namespace on that port");
  t.ok(e.allows(tcp(endpoint('10.244.6.5'), endpoint('10.244.9.9'), 80)), 'pods the policy does not select are left alone');
});

t.test('a worker with egress only: every ingress is denied, its egress and DNS work', async (t) => {
  const worker = workload('jobs', 'worker');
  const learned: Observation[] = [net(worker, T0, 'egress', '10.244.4.4', 5672, { exe: '/app/worker' }), net(worker, T0 + 1, 'egress', '52.218.10.20', 443, { exe: '/app/worker' })];
  const { policy, evaluator: e } = await exported(t, worker, learned);
  t.same(policy.spec.ingress, [], 'no ingress rule: the worker accepts no connection');
  const self = podOf(worker);
  everyLearnedConnectionPasses(t, e, learned);
  clusterDnsWorks(t, e, self);
  t.ok(e.allows(tcp(self, endpoint('52.92.1.1'), 443)), "S3 eu-west-1's other published range");
  t.notOk(e.allows(tcp(self, endpoint('54.72.0.1'), 443)), 'EC2 in the same region is not S3');
  t.notOk(e.allows(tcp(self, endpoint('52.218.10.20'), 80)), 'S3 on another port');
  t.notOk(e.allows(tcp(self, endpoint('10.244.3.7'), 5432)), 'a database it never used');
  for (const from of ['10.244.7.7', '10.244.9.9', '198.51.100.7']) t.notOk(e.allows(tcp(endpoint(from), self, 8080)), `no ingress from ${from}`);
});

t.test('a workload learned by DNS name: its port stays open to the name whatever address answers, nothing else', async (t) => {
  const checkout = workload('payments', 'checkout');
  const learned: Observation[] = [net(checkout, T0, 'egress', '203.0.113.50', 443, { peerName: 'api.stripe.com' }), net(checkout, T0 + 1, 'listen', null, 8443)];
  const { evaluator: e } = await exported(t, checkout, learned);
  const self = podOf(checkout);
  everyLearnedConnectionPasses(t, e, learned);
  clusterDnsWorks(t, e, self);
  // NetworkPolicy has no FQDN peer and the addresses behind a name rotate: the learned port is
  // open to any destination (docs/api.md says so), rather than breaking when the name moves.
  t.ok(e.allows(tcp(self, endpoint('192.0.2.99'), 443)), 'the name answering from a new address still works');
  t.notOk(e.allows(tcp(self, endpoint('203.0.113.50'), 22)), 'another port to the same address does not');
  t.ok(e.allows(tcp(endpoint('10.244.9.9'), self, 8443)), 'a listening port nobody was seen connecting to stays open to any peer');
  t.notOk(e.allows(tcp(endpoint('10.244.9.9'), self, 9000)), 'a port it never listened on is closed');
});
