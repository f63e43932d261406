import { parseCidr } from '../../common/cidr.js';
import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { dnsLabel, splitItems, unescapeKeyField, workloadPodLabels } from './keys.js';

export interface NetworkPolicyOptions {
  /** Labels selecting the workload's pods; default `app.kubernetes.io/name: <workload name>`. */
  podLabels?: Record<string, string>;
  /** The collector's configured ranges: `class|pod-cidr` / `class|node-cidr` peers become these. */
  podCidrs?: readonly string[];
  nodeCidrs?: readonly string[];
  /** Every range published for a named address set (collector/addresses); none = set unknown. */
  setCidrs?: (set: string) => readonly string[];
}

type Peer = Record<string, unknown>;
interface Port {
  protocol: 'TCP' | 'UDP';
  port?: number;
}
interface Rule {
  ports?: Port[];
  to?: Peer[];
  from?: Peer[];
}

function ipBlock(cidrOrIp: string): Peer[] {
  const c = parseCidr(cidrOrIp);
  return c ? [{ ipBlock: { cidr: c.text } }] : [];
}

/**
 * The peer of a network item as NetworkPolicy peers (empty = the peer cannot be expressed and the
 * rule is skipped; null = any peer).
 */
function peersOf(peer: string, opts: NetworkPolicyOptions): Peer[] | null {
  if (peer.startsWith('ip|')) {
    return ipBlock(peer.slice(3));
  }
  if (peer.startsWith('net|')) {
    return ipBlock(peer.slice(4));
  }
  if (peer.startsWith('wl|')) {
    // The owning workload's namespace is known, its pod labels are not: allow that namespace.
    const ns = unescapeKeyField(peer.slice(3)).split('/')[0] ?? '';
    return ns ? [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }] : [];
  }
  if (peer === 'class|pod-cidr') return opts.podCidrs?.length ? opts.podCidrs.flatMap(ipBlock) : [{ namespaceSelector: {} }];
  if (peer === 'class|node-cidr') return (opts.nodeCidrs ?? []).flatMap(ipBlock);
  if (peer === '-') return null;
  if (peer.startsWith('set|')) {
    // A named set is its published ranges; a set the collector no longer knows falls through to
    // "any peer on the port" like a DNS name, rather than cutting the workload off.
    const cidrs = opts.setCidrs?.(unescapeKeyField(peer.slice(4))) ?? [];
    if (cidrs.length) return cidrs.flatMap(ipBlock);
    return null;
  }
  // A DNS name cannot be written as a NetworkPolicy peer (it has no FQDN peers) and the addresses
  // behind it rotate: the port stays open to any destination rather than cutting the workload off.
  if (peer.startsWith('dns|')) return null;
  return []; // loopback: NetworkPolicy never filters it
}

/**
 * Name resolution through the cluster DNS (kube-dns / CoreDNS, label `k8s-app: kube-dns` in
 * kube-system on kubeadm, EKS, GKE and AKS) is always allowed: a policy applied as-is must not cut
 * the lookups every other egress rule depends on, whether or not learning saw one.
 */
const CLUSTER_DNS: Rule[] = [
  {
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
  },
];

function peerId(p: Peer): string {
  return JSON.stringify(p);
}

/**
 * A Kubernetes NetworkPolicy (networking.k8s.io/v1) allowing exactly the baseline's network items:
 * egress to its peers and ports, ingress on its ports from its observed peers (any peer for a
 * listening port nobody was seen connecting to), and DNS to the cluster resolver always.
 */
export function toNetworkPolicy(baseline: BaselineView, items: readonly BaselineItemView[], opts: NetworkPolicyOptions = {}): Record<string, unknown> {
  const { network } = splitItems(items);
  const w = baseline.workload;
  // Merge peers per (direction, protocol, port) so that the policy reads like the baseline.
  const egress = new Map<string, { port: Port; peers: Map<string, Peer>; any: boolean }>();
  const ingress = new Map<string, { port: Port; peers: Map<string, Peer>; any: boolean }>();
  const listening = new Map<string, Port>();
  for (const n of network) {
    const port: Port = { protocol: n.protocol === 'udp' ? 'UDP' : 'TCP', ...(n.port !== null ? { port: n.port } : {}) };
    const id = `${port.protocol}/${port.port ?? '*'}`;
    if (n.direction === 'listen') {
      listening.set(id, port);
      continue;
    }
    const peers = peersOf(n.peer, opts);
    if (peers !== null && peers.length === 0) continue;
    const table = n.direction === 'egress' ? egress : ingress;
    let e = table.get(id);
    if (!e) table.set(id, (e = { port, peers: new Map(), any: false }));
    if (peers === null) e.any = true;
    else for (const p of peers) e.peers.set(peerId(p), p);
  }
  for (const [id, port] of listening) if (!ingress.has(id)) ingress.set(id, { port, peers: new Map(), any: true });
  const rules = (table: typeof egress, side: 'to' | 'from'): Rule[] =>
    [...table.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => ({ ports: [e.port], ...(e.any ? {} : { [side]: [...e.peers.values()] }) }));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: dnsLabel('driftwatch', w.name, w.container),
      namespace: w.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'driftwatch' },
      annotations: {
        'driftwatch.dev/baseline': `${baseline.id}`,
        'driftwatch.dev/version': `${baseline.version}`,
        'driftwatch.dev/workload': `${w.kind}/${w.name}/${w.container}`,
        'driftwatch.dev/note':
          'Generated from an approved baseline. Check podSelector matches the workload pods. A NetworkPolicy covers the whole pod (every container) and most CNIs match Service traffic after DNAT, so ClusterIP peers may need the backing pods instead.',
      },
    },
    spec: {
      podSelector: { matchLabels: opts.podLabels ?? workloadPodLabels(w.name) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: rules(ingress, 'from'),
      egress: [...rules(egress, 'to'), ...CLUSTER_DNS],
    },
  };
}
