import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { dnsLabel, splitItems } from './keys.js';

/** Provisional until the engine's declared-baseline format lands: replaced to match baselines/schema.json. */
export function toDeclaredBaseline(baseline: BaselineView, items: readonly BaselineItemView[]): Record<string, unknown> {
  const w = baseline.workload;
  const { processes, network } = splitItems(items);
  return {
    name: dnsLabel(w.namespace, w.name, w.container),
    selector: { namespace: w.namespace, workload: w.name, container: w.container },
    mode: 'replace',
    allow: {
      processes: processes.map((p) => ({ path: p.exe })),
      network: network.map((n) => ({ direction: n.direction, protocol: n.protocol, port: n.port, peer: n.peer })),
    },
  };
}
