/**
 * The NetworkPolicy evaluator against the examples of the Kubernetes documentation
 * (concepts/services-networking/network-policies) and the API reference's rules, so that the
 * export tests that rely on it rest on the spec and not on the exporter's own reading.
 */
import t from 'tap';
import { NetworkPolicyEvaluator, policyTypes, selectorMatches, type Endpoint, type NetworkPolicyDoc, type PodEndpoint, type Protocol } from './network-policy-evaluator.js';

const pod = (namespace: string, labels: Record<string, string>, ip: string, namedPorts?: PodEndpoint['namedPorts']): PodEndpoint => ({ kind: 'pod', namespace, labels, ip, ...(namedPorts ? { namedPorts } : {}) });
const external = (ip: string): Endpoint => ({ kind: 'external', ip });
const conn = (from: Endpoint, to: Endpoint, port: number, protocol: Protocol = 'TCP') => ({ from, to, port, protocol });

// The documentation's "test-network-policy".
const TEST_NETWORK_POLICY: NetworkPolicyDoc = {
  metadata: { name: 'test-network-policy', namespace: 'default' },
  spec: {
    podSelector: { matchLabels: { role: 'db' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }, { namespaceSelector: { matchLabels: { project: 'myproject' } } }, { podSelector: { matchLabels: { role: 'frontend' } } }],
        ports: [{ protocol: 'TCP', port: 6379 }],
      },
    ],
    egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] }],
  },
};

t.test('the documentation example: ingress from an ipBlock with except, a namespace and a pod; egress to a CIDR', async (t) => {
  const e = new NetworkPolicyEvaluator([TEST_NETWORK_POLICY], { default: {}, myproject: { project: 'myproject' }, other: {} });
  const db = pod('default', { role: 'db' }, '10.244.0.10');
  t.ok(e.allows(conn(pod('default', { role: 'frontend' }, '10.244.0.11'), db, 6379)), 'a frontend pod of the same namespace');
  t.notOk(e.allows(conn(pod('other', { role: 'frontend' }, '10.244.0.12'), db, 6379)), 'a frontend pod of another namespace: podSelector alone is the policy namespace');
  t.ok(e.allows(conn(pod('myproject', { any: 'thing' }, '10.244.0.13'), db, 6379)), 'any pod of a namespace labelled project=myproject');
  t.ok(e.allows(conn(external('172.17.2.5'), db, 6379)), 'an address inside the ipBlock');
  t.notOk(e.allows(conn(external('172.17.1.5'), db, 6379)), 'an address inside except');
  t.notOk(e.allows(conn(pod('default', { role: 'frontend' }, '10.244.0.11'), db, 6380)), 'another port');
  t.notOk(e.allows(conn(pod('default', { role: 'frontend' }, '10.244.0.11'), db, 6379, 'UDP')), 'another protocol');
  t.ok(e.allows(conn(db, external('10.0.0.7'), 5978)), 'egress to the CIDR on its port');
  t.notOk(e.allows(conn(db, external('10.0.1.7'), 5978)), 'egress outside the CIDR');
  t.notOk(e.allows(conn(db, external('10.0.0.7'), 443)), 'egress on another port');
  const web = pod('default', { role: 'web' }, '10.244.0.20');
  t.ok(e.allows(conn(web, external('192.0.2.1'), 443)), 'a pod no policy selects is not isolated');
  t.same(e.evaluate(conn(pod('default', { role: 'frontend' }, '10.244.0.11'), db, 6379)), { allowed: true, egress: 'not isolated', ingress: 'allowed by test-network-policy' });
});

t.test('namespaceSelector and podSelector in one peer are ANDed; in two peers ORed', async (t) => {
  const and: NetworkPolicyDoc = {
    metadata: { name: 'and', namespace: 'default' },
    spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { user: 'alice' } }, podSelector: { matchLabels: { role: 'client' } } }] }] },
  };
  const or: NetworkPolicyDoc = {
    metadata: { name: 'or', namespace: 'default' },
    spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { user: 'alice' } } }, { podSelector: { matchLabels: { role: 'client' } } }] }] },
  };
  const ns = { default: {}, alice: { user: 'alice' }, bob: {} };
  const target = pod('default', { app: 'x' }, '10.244.1.1');
  const aliceClient = pod('alice', { role: 'client' }, '10.244.1.2');
  const aliceOther = pod('alice', { role: 'other' }, '10.244.1.3');
  const localClient = pod('default', { role: 'client' }, '10.244.1.4');
  const bobClient = pod('bob', { role: 'client' }, '10.244.1.5');
  const a = new NetworkPolicyEvaluator([and], ns);
  t.same([aliceClient, aliceOther, localClient, bobClient].map((p) => a.allows(conn(p, target, 80))), [true, false, false, false]);
  const o = new NetworkPolicyEvaluator([or], ns);
  t.same([aliceClient, aliceOther, localClient, bobClient].map((p) => o.allows(conn(p, target, 80))), [true, true, true, false]);
});

t.test('default deny, allow all, and policyTypes defaulting', async (t) => {
  const a = pod('default', { app: 'a' }, '10.244.2.1');
  const b = pod('default', { app: 'b' }, '10.244.2.2');
  const denyIngress = new NetworkPolicyEvaluator([{ metadata: { name: 'default-deny-ingress', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } }]);
  t.notOk(denyIngress.allows(conn(a, b, 80)), 'default-deny-ingress isolates every pod for ingress');
  t.ok(denyIngress.allows(conn(a, external('192.0.2.1'), 80)), 'and leaves egress alone');
  const allowAll = new NetworkPolicyEvaluator([
    { metadata: { name: 'default-deny-ingress', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
    { metadata: { name: 'allow-all-ingress', namespace: 'default' }, spec: { podSelector: {}, ingress: [{}] } },
  ]);
  t.ok(allowAll.allows(conn(a, b, 80)), 'an empty rule allows everything, whatever else isolates the pod (union)');
  const denyEgress = new NetworkPolicyEvaluator([{ metadata: { name: 'default-deny-egress', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Egress'] } }]);
  t.notOk(denyEgress.allows(conn(a, external('192.0.2.1'), 443)));
  t.ok(denyEgress.allows(conn(external('192.0.2.1'), a, 443)), 'egress isolation leaves ingress alone');
  const egressOnly: NetworkPolicyDoc = { metadata: { name: 'egress-only', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'a' } }, egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24' } }] }] } };
  t.same(policyTypes(egressOnly), ['Ingress', 'Egress'], 'unset policyTypes: Ingress always, Egress when there are egress rules');
  t.notOk(new NetworkPolicyEvaluator([egressOnly]).allows(conn(b, a, 80)), 'so it also isolates for ingress, with no ingress rule');
  t.same(policyTypes({ metadata: {}, spec: { podSelector: {} } }), ['Ingress']);
  const otherNs = new NetworkPolicyEvaluator([{ metadata: { name: 'deny', namespace: 'other' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }]);
  t.ok(otherNs.allows(conn(a, b, 80)), "a policy applies to its own namespace's pods only");
});

t.test('union of policies: each one adds what it allows', async (t) => {
  const target = pod('default', { app: 'db' }, '10.244.3.1');
  const e = new NetworkPolicyEvaluator([
    { metadata: { name: 'from-api', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 5432 }] }] } },
    { metadata: { name: 'from-backup', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'backup' } } }] }] } },
  ]);
  t.ok(e.allows(conn(pod('default', { app: 'api' }, '10.244.3.2'), target, 5432)));
  t.notOk(e.allows(conn(pod('default', { app: 'api' }, '10.244.3.2'), target, 22)), 'api only on 5432');
  t.ok(e.allows(conn(pod('default', { app: 'backup' }, '10.244.3.3'), target, 22)), 'backup on any port');
  t.notOk(e.allows(conn(pod('default', { app: 'web' }, '10.244.3.4'), target, 5432)));
});

t.test('ports: endPort ranges, named ports, protocol defaulting', async (t) => {
  const src = pod('default', { app: 'client' }, '10.244.4.1');
  const range = new NetworkPolicyEvaluator([
    { metadata: { name: 'multi-port-egress', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }] }] } },
  ]);
  t.same([31999, 32000, 32500, 32768, 32769].map((p) => range.allows(conn(src, external('10.0.0.1'), p))), [false, true, true, true, false]);
  const named = new NetworkPolicyEvaluator([
    { metadata: { name: 'named', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'srv' } }, ingress: [{ ports: [{ port: 'http' }] }] } },
    { metadata: { name: 'named-egress', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'http' }] }] } },
  ]);
  const srv = pod('default', { app: 'srv' }, '10.244.4.2', [{ name: 'http', port: 8080 }]);
  t.ok(named.allows(conn(src, srv, 8080)), "a named port is the destination's container port");
  t.notOk(named.allows(conn(src, srv, 80)));
  t.notOk(named.allows(conn(src, srv, 8080, 'UDP')), 'with its protocol (TCP by default)');
  t.notOk(named.allows(conn(src, external('192.0.2.1'), 8080)), 'a named port never matches an address outside the cluster');
  const udp = new NetworkPolicyEvaluator([{ metadata: { name: 'dns', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] } }]);
  t.ok(udp.allows(conn(src, external('10.96.0.10'), 53, 'UDP')));
  t.notOk(udp.allows(conn(src, external('10.96.0.10'), 53, 'TCP')));
});

t.test('label selectors: matchLabels AND matchExpressions; NotIn and DoesNotExist hold for a missing key', async (t) => {
  t.ok(selectorMatches({}, {}), '{} selects everything');
  t.ok(selectorMatches({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2', '3'] }] }, { a: '1', b: '3' }));
  t.notOk(selectorMatches({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }] }, { a: '1', b: '3' }));
  t.notOk(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }] }, {}), 'In needs the key');
  t.ok(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'NotIn', values: ['2'] }] }, {}), 'NotIn holds for a missing key');
  t.notOk(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'NotIn', values: ['2'] }] }, { b: '2' }));
  t.ok(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'Exists' }] }, { b: '' }));
  t.notOk(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }, { b: '' }));
  const byName = new NetworkPolicyEvaluator([
    { metadata: { name: 'from-monitoring', namespace: 'app' }, spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] }] } },
  ]);
  const target = pod('app', {}, '10.244.5.1');
  t.ok(byName.allows(conn(pod('monitoring', {}, '10.244.5.2'), target, 9090)), 'every namespace carries kubernetes.io/metadata.name');
  t.notOk(byName.allows(conn(pod('default', {}, '10.244.5.3'), target, 9090)));
  t.notOk(byName.allows(conn(pod('app', {}, '10.244.5.4'), target, 9090)), 'not even its own namespace unless selected');
});

t.test('IPv6 ipBlocks and a policy with an invalid CIDR', async (t) => {
  const e = new NetworkPolicyEvaluator([{ metadata: { name: 'v6', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } }] }] } }]);
  const src = pod('default', {}, 'fd00::1');
  t.ok(e.allows(conn(src, external('2001:db8:2::1'), 443)));
  t.notOk(e.allows(conn(src, external('2001:db8:1::1'), 443)));
  const bad = new NetworkPolicyEvaluator([{ metadata: { name: 'bad', namespace: 'default' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: 'not-a-cidr' } }] }] } }]);
  t.throws(() => bad.allows(conn(src, external('192.0.2.1'), 443)), /invalid CIDR in a policy: not-a-cidr/);
});
