import type { NetworkScope } from '../../common/items/derive.js';
import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { dnsLabel, splitItems, unescapeKeyField } from './keys.js';

type NetworkRuleDoc = Record<string, unknown>;

/**
 * The peer part of a network item as declared-baseline peer fields (baselines/schema.json):
 * exact addresses and prefixes as `cidrs`; loopback as its ranges; an in-cluster workload or
 * class as the configured pod / node ranges (the declared format has no workload peers, so a
 * resolved workload widens to the pod network — said in the rule's comment). `{}` = any peer.
 */
function peerFields(peer: string, scope: NetworkScope): { fields: NetworkRuleDoc; widened: string | null } {
  if (peer.startsWith('ip|')) return { fields: { cidrs: [peer.slice(3)] }, widened: null };
  if (peer.startsWith('net|')) return { fields: { cidrs: [peer.slice(4)] }, widened: null };
  if (peer.startsWith('dns|')) return { fields: { dnsNames: [unescapeKeyField(peer.slice(4))] }, widened: null };
  if (peer.startsWith('set|')) return { fields: {}, widened: `named set ${unescapeKeyField(peer.slice(4))} (any peer on its port)` };
  if (peer === 'lo') return { fields: { cidrs: ['127.0.0.0/8', '::1/128'] }, widened: null };
  if (peer.startsWith('wl|') || peer === 'class|pod-cidr') {
    const why = peer.startsWith('wl|') ? `workload ${unescapeKeyField(peer.slice(3))}` : null;
    return scope.podCidrs.length ? { fields: { cidrs: [...scope.podCidrs] }, widened: why } : { fields: {}, widened: why ?? 'a pod' };
  }
  if (peer === 'class|node-cidr') return scope.nodeCidrs.length ? { fields: { cidrs: [...scope.nodeCidrs] }, widened: null } : { fields: {}, widened: 'a node' };
  return { fields: {}, widened: null };
}

/**
 * An approved baseline as a declared baseline (`mode: replace`) that, loaded from baselines/,
 * allows exactly what the baseline allows: one process rule per executable, one network rule per
 * network item. Learned argument patterns are context, not constraints (the learned baseline does
 * not match on them either), so no `args` are written.
 */
export function toDeclaredBaseline(baseline: BaselineView, items: readonly BaselineItemView[], scope: NetworkScope): Record<string, unknown> {
  const w = baseline.workload;
  const { processes, network } = splitItems(items);
  const widened: string[] = [];
  const rules = network.map((n) => {
    const { fields, widened: why } = peerFields(n.peer, scope);
    if (why) widened.push(why);
    return { direction: n.direction, protocol: n.protocol, ...(n.port !== null ? { ports: [n.port] } : {}), ...fields };
  });
  return {
    apiVersion: 'driftwatch.dev/v1',
    kind: 'Baseline',
    metadata: {
      name: dnsLabel(w.namespace, w.name, w.container),
      description:
        `Exported from ${baseline.phase} driftwatch baseline ${baseline.id} v${baseline.version} (generation ${baseline.generation})` +
        (baseline.decidedBy ? `, approved by ${baseline.decidedBy}` : '') +
        (widened.length ? `. Widened to the pod or node network: ${[...new Set(widened)].join(', ')}.` : '.'),
    },
    spec: {
      selector: { cluster: w.cluster, namespace: w.namespace, kind: w.kind, workload: w.name, container: w.container },
      mode: 'replace',
      allow: {
        processes: processes.map((p) => ({ path: p.exe })),
        network: rules,
      },
    },
  };
}
