/**
 * A node that runs workloads but has no agent is a health alert (issue 12, point 10): the
 * collector's pod watch against a fake Kubernetes API server, the health monitor on a fake clock.
 * DaemonSet pods, static pods, driftwatch's own pods and finished pods do not make a node need an
 * agent; the alert waits `missingAgentAfter` (from the monitor's start at the earliest) and ends
 * when an agent connects or the workloads leave.
 */
import t, { type Test } from 'tap';
import { createPeerResolver } from '../../collector/kubernetes/peer-resolver.js';
import { CollectorBus } from '../../collector/events.js';
import { HealthMonitor, type HealthSettings } from '../../collector/health/monitor.js';
import type { CollectorConfig } from '../../common/config/schema.js';
import type { AgentStatus, HealthEvent } from '../../common/deviations.js';
import { silentLogger } from '../../common/logger.js';
import { until } from '../helpers/agent-support.js';
import { FakeKubeApi, fakeKubeConfig, fakePod } from '../helpers/fake-kube-api.js';

const MIN = 60_000;
const SETTINGS: HealthSettings = { checkIntervalMs: 3_600_000, disconnectedAfterMs: 2 * MIN, forgetAfterMs: 24 * 60 * MIN, silentAfterMs: 15 * MIN, silentFactor: 4, dropRatio: 0.01, malformedRatio: 0.01, minEvents: 100 };

function agentOn(node: string, now: number, connected = true): AgentStatus {
  const at = new Date(now).toISOString();
  return { instanceId: `${node}-1`, node, cluster: 'lab', version: 't', sources: [], connected, firstSeenAt: at, lastSeenAt: at, counters: {} };
}

async function setup(t: Test) {
  const api = new FakeKubeApi();
  await api.start();
  t.teardown(() => api.stop());
  // node-a: a Deployment's pod, no agent.
  api.putPod(fakePod({ namespace: 'shop', name: 'cart-7c9f8d6b5-x7k2p', node: 'node-a', owner: { kind: 'ReplicaSet', name: 'cart-7c9f8d6b5' } }));
  api.putPod(fakePod({ namespace: 'kube-system', name: 'kube-proxy-aaaaa', node: 'node-a', owner: { kind: 'DaemonSet', name: 'kube-proxy' } }));
  // node-b: nothing that needs an agent (DaemonSets, a static pod, the collector, a finished job).
  api.putPod(fakePod({ namespace: 'kube-system', name: 'kube-proxy-bbbbb', node: 'node-b', owner: { kind: 'DaemonSet', name: 'kube-proxy' } }));
  api.putPod(fakePod({ namespace: 'kube-system', name: 'etcd-node-b', node: 'node-b', owner: { kind: 'Node', name: 'node-b', apiVersion: 'v1' } }));
  const mirror = fakePod({ namespace: 'kube-system', name: 'kube-apiserver-node-b', node: 'node-b' });
  mirror.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc123' };
  api.putPod(mirror);
  api.putPod(fakePod({ namespace: 'driftwatch', name: 'driftwatch-collector-5f6d7c8b9-q1w2e', node: 'node-b', labels: { 'app.kubernetes.io/name': 'driftwatch', 'app.kubernetes.io/component': 'collector' }, owner: { kind: 'ReplicaSet', name: 'driftwatch-collector-5f6d7c8b9' } }));
  api.putPod(fakePod({ namespace: 'ops', name: 'once-x1', node: 'node-b', phase: 'Succeeded', owner: { kind: 'Job', name: 'once', apiVersion: 'batch/v1' } }));
  // node-c: workloads and a connected agent.
  api.putPod(fakePod({ namespace: 'db', name: 'pg-0', node: 'node-c', owner: { kind: 'StatefulSet', name: 'pg' } }));

  const resolver = createPeerResolver({ kubernetes: { mode: 'off' } } as unknown as CollectorConfig, silentLogger(), { kubeConfig: fakeKubeConfig(api.url) });
  await resolver.start();
  t.teardown(() => resolver.close());
  const pods = resolver.podsView()!;
  await until(() => pods.synced && [...pods.all()].length === 8, 10_000, 'pods listed');

  let now = Date.parse('2026-12-01T10:00:00Z');
  let agents: AgentStatus[] = [agentOn('node-c', now)];
  const bus = new CollectorBus();
  const events: HealthEvent[] = [];
  bus.subscribe((e) => e.type === 'health' && events.push(e.health));
  const monitor = new HealthMonitor({ bus, agents: { list: async () => agents }, settings: SETTINGS, now: () => now, openKeys: async () => [], logger: silentLogger(), inputs: { cluster: 'lab', pods, missingAgentAfterMs: 5 * MIN } });
  await monitor.start();
  t.teardown(() => monitor.close());
  return {
    api,
    pods,
    monitor,
    events,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
    setAgents: (a: AgentStatus[]) => (agents = a),
  };
}

t.test('a node with workloads and no agent: alerted after the grace period, ended when its agent connects', async (t) => {
  const h = await setup(t);
  await h.monitor.check();
  h.advance(4 * MIN);
  await h.monitor.check();
  t.same(h.events, [], 'within missingAgentAfter (counted from the start): nothing');
  h.advance(2 * MIN);
  await h.monitor.check();
  t.equal(h.events.length, 1, 'one alert');
  t.match(h.events[0], {
    kind: 'agent-missing',
    key: 'agent-missing/lab/node-a',
    node: 'node-a',
    severity: 'high',
    resolved: false,
    detail: { pods: 1, examplePod: 'shop/cart-7c9f8d6b5-x7k2p' },
  });
  t.match(h.events[0]!.summary, /node node-a runs 1 workload pod/);
  h.setAgents([agentOn('node-c', h.now), agentOn('node-a', h.now)]);
  await h.monitor.check();
  t.match(h.events[1], { key: 'agent-missing/lab/node-a', resolved: true }, 'ended when the agent is there');
});

t.test('a new node gets its grace period; workloads leaving end the alert; a disconnected agent is agent-disconnected, not missing', async (t) => {
  const h = await setup(t);
  h.setAgents([agentOn('node-c', h.now), agentOn('node-a', h.now)]);
  h.advance(10 * MIN);
  await h.monitor.check();
  t.same(h.events, [], 'every node with workloads has an agent');
  h.api.putPod(fakePod({ namespace: 'shop', name: 'web-6b7c8d9f0-abcde', node: 'node-d', owner: { kind: 'ReplicaSet', name: 'web-6b7c8d9f0' } }));
  await until(() => [...h.pods.all()].some((p) => p.node === 'node-d'), 10_000, 'the new pod');
  await h.monitor.check();
  h.advance(3 * MIN);
  await h.monitor.check();
  t.same(h.events, [], 'a new node: its agent has missingAgentAfter to connect');
  h.advance(3 * MIN);
  await h.monitor.check();
  t.match(h.events, [{ key: 'agent-missing/lab/node-d', resolved: false }]);
  h.api.deletePod('shop', 'web-6b7c8d9f0-abcde');
  await until(() => ![...h.pods.all()].some((p) => p.node === 'node-d'), 10_000, 'the pod gone');
  await h.monitor.check();
  t.match(h.events[1], { key: 'agent-missing/lab/node-d', resolved: true }, 'no workloads left: ended');

  h.setAgents([agentOn('node-c', h.now), agentOn('node-a', h.now, false)]);
  h.advance(10 * MIN);
  await h.monitor.check();
  t.same(
    h.events.slice(2).map((e) => e.key),
    ['agent-disconnected/lab/node-a'],
    'an agent gone for less than forgetAfter: agent-disconnected covers the node',
  );
});
