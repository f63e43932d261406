/**
 * An offline evaluator of Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics, for tests
 * that check what an exported policy lets through. No npm or Debian package evaluates
 * NetworkPolicy offline (cyclonus and np-guard's netpol-analyzer are Go programs), so this follows
 * the API reference and the concepts page (kubernetes.io/docs/concepts/services-networking/network-policies):
 *
 * - A connection is allowed when the source pod may send it (egress) and the destination pod may
 *   receive it (ingress); an endpoint outside the cluster is never isolated.
 * - A pod is isolated for a direction only when some policy in its namespace selects it
 *   (`podSelector`) and lists that direction in `policyTypes`. Unset `policyTypes` means
 *   `Ingress`, plus `Egress` when the policy has egress rules (the API server's defaulting).
 * - An isolated pod allows the union of the rules of every policy that isolates it: a rule allows
 *   a connection when one of its ports matches (none = every port) and one of its peers matches
 *   (none = every peer).
 * - Peers: `podSelector` alone = pods of the policy's namespace; `namespaceSelector` alone = every
 *   pod of matching namespaces; both = matching pods in matching namespaces; `ipBlock` = addresses
 *   in `cidr` and in none of `except`. Selectors: `matchLabels` AND `matchExpressions` (In, NotIn,
 *   Exists, DoesNotExist); `{}` selects everything.
 * - Ports: `protocol` defaults to TCP; `port` a number, a range up to `endPort`, or a named port of
 *   the destination pod's containers (a named port never matches an endpoint outside the cluster).
 *
 * Deliberately out of scope (none of them appears in what driftwatch exports): host-network pods,
 * traffic to the node itself, SCTP specifics, and whether a CNI applies `ipBlock` to pod addresses
 * (modelled as matching the endpoint's address, which is what Calico and Cilium do for pod IPs).
 */
import { cidrContains, parseCidr } from '../../common/cidr.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicyDoc {
  metadata: { name?: string; namespace?: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
    egress?: { to?: PolicyPeer[]; ports?: PolicyPort[] }[];
  };
}

export interface PodEndpoint {
  kind: 'pod';
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  /** Named container ports (`containerPort` with a `name`). */
  namedPorts?: { name: string; port: number; protocol?: Protocol }[];
}

export interface ExternalEndpoint {
  kind: 'external';
  ip: string;
}

export type Endpoint = PodEndpoint | ExternalEndpoint;

export interface Connection {
  from: Endpoint;
  to: Endpoint;
  protocol: Protocol;
  port: number;
}

export interface Verdict {
  allowed: boolean;
  /** Why, per direction: `not isolated`, `allowed by <policy>` or `denied`. */
  egress: string;
  ingress: string;
}

export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

function ipBlockMatches(block: { cidr: string; except?: string[] }, ip: string): boolean {
  const within = (text: string): boolean => {
    const c = parseCidr(text);
    if (!c) throw new Error(`invalid CIDR in a policy: ${text}`);
    return cidrContains(c, ip);
  };
  return within(block.cidr) && !(block.except ?? []).some(within);
}

export class NetworkPolicyEvaluator {
  private readonly namespaceLabels = new Map<string, Record<string, string>>();

  /** `namespaces`: labels of each namespace (`kubernetes.io/metadata.name` is added, as the API server does). */
  constructor(
    private readonly policies: readonly NetworkPolicyDoc[],
    namespaces: Record<string, Record<string, string>> = {},
  ) {
    for (const [name, labels] of Object.entries(namespaces)) this.namespaceLabels.set(name, { ...labels, 'kubernetes.io/metadata.name': name });
  }

  evaluate(c: Connection): Verdict {
    const egress = c.from.kind === 'pod' ? this.direction('Egress', c.from, c) : 'not isolated';
    const ingress = c.to.kind === 'pod' ? this.direction('Ingress', c.to, c) : 'not isolated';
    return { allowed: egress !== 'denied' && ingress !== 'denied', egress, ingress };
  }

  allows(c: Connection): boolean {
    return this.evaluate(c).allowed;
  }

  /** The verdict for one side: the pod whose namespace's policies decide (`subject`). */
  private direction(type: 'Ingress' | 'Egress', subject: PodEndpoint, c: Connection): string {
    const isolating = this.policies.filter((p) => (p.metadata.namespace ?? 'default') === subject.namespace && selectorMatches(p.spec.podSelector, subject.labels) && policyTypes(p).includes(type));
    if (!isolating.length) return 'not isolated';
    const peer = type === 'Ingress' ? c.from : c.to;
    for (const p of isolating) {
      const rules = type === 'Ingress' ? (p.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (p.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
      for (const r of rules) {
        if (this.portsMatch(r.ports, c) && this.peersMatch(r.peers, peer, p.metadata.namespace ?? 'default')) return `allowed by ${p.metadata.name ?? '?'}`;
      }
    }
    return 'denied';
  }

  private portsMatch(ports: PolicyPort[] | undefined, c: Connection): boolean {
    if (!ports?.length) return true;
    return ports.some((p) => {
      if ((p.protocol ?? 'TCP') !== c.protocol) return false;
      if (p.port === undefined) return true;
      if (typeof p.port === 'number') return p.endPort !== undefined ? c.port >= p.port && c.port <= p.endPort : c.port === p.port;
      // A named port is the destination pod's: its number and protocol come from the container.
      if (c.to.kind !== 'pod') return false;
      return (c.to.namedPorts ?? []).some((n) => n.name === p.port && n.port === c.port && (n.protocol ?? 'TCP') === c.protocol);
    });
  }

  private peersMatch(peers: PolicyPeer[] | undefined, peer: Endpoint, policyNamespace: string): boolean {
    if (!peers?.length) return true;
    return peers.some((p) => {
      if (p.ipBlock) return ipBlockMatches(p.ipBlock, peer.ip);
      if (peer.kind !== 'pod') return false;
      const nsLabels = this.namespaceLabels.get(peer.namespace) ?? { 'kubernetes.io/metadata.name': peer.namespace };
      const nsOk = p.namespaceSelector ? selectorMatches(p.namespaceSelector, nsLabels) : peer.namespace === policyNamespace;
      const podOk = p.podSelector ? selectorMatches(p.podSelector, peer.labels) : true;
      return nsOk && podOk;
    });
  }
}

/** `policyTypes` as the API server defaults it. */
export function policyTypes(p: NetworkPolicyDoc): ('Ingress' | 'Egress')[] {
  if (p.spec.policyTypes?.length) return p.spec.policyTypes;
  return p.spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress'];
}
