import { stringify } from 'yaml';
import type { NetworkScope } from '../../common/items/derive.js';
import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { toDeclaredBaseline } from './declared.js';
import { toFalcoRules } from './falco.js';
import { toNetworkPolicy } from './networkpolicy.js';
import { toTracingPolicy, type TetragonAction } from './tetragon.js';

export { TETRAGON_ACTIONS, type TetragonAction } from './tetragon.js';

export const EXPORT_FORMATS = ['yaml', 'networkpolicy', 'falco', 'tetragon'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** format `tetragon`: report executions outside the baseline (default) or kill them. */
  tetragonAction?: TetragonAction;
  /** format `networkpolicy`: the named address sets in force, so a set peer becomes its ranges. */
  addressSets?: { cidrsOf(set: string): readonly string[] };
}

/** An approved baseline in the formats the rest of a stack enforces, as YAML text. */
export function exportBaseline(format: ExportFormat, baseline: BaselineView, items: readonly BaselineItemView[], scope: NetworkScope, opts: ExportOptions = {}): string {
  switch (format) {
    case 'yaml':
      return stringify(toDeclaredBaseline(baseline, items, scope), { lineWidth: 0 });
    case 'networkpolicy': {
      const sets = opts.addressSets;
      const setCidrs = sets ? (set: string) => sets.cidrsOf(set) : undefined;
      return stringify(toNetworkPolicy(baseline, items, { podCidrs: scope.podCidrs, nodeCidrs: scope.nodeCidrs, ...(setCidrs ? { setCidrs } : {}) }), { lineWidth: 0 });
    }
    case 'falco':
      return stringify(toFalcoRules(baseline, items), { lineWidth: 0 });
    case 'tetragon':
      return stringify(toTracingPolicy(baseline, items, { action: opts.tetragonAction ?? 'audit' }), { lineWidth: 0 });
  }
}
