import { stringify } from 'yaml';
import type { NetworkScope } from '../../common/items/derive.js';
import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { toDeclaredBaseline } from './declared.js';
import { toFalcoRules } from './falco.js';
import { toNetworkPolicy } from './networkpolicy.js';

export const EXPORT_FORMATS = ['yaml', 'networkpolicy', 'falco'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An approved baseline in the formats the rest of a stack enforces, as YAML text. */
export function exportBaseline(format: ExportFormat, baseline: BaselineView, items: readonly BaselineItemView[], scope: NetworkScope): string {
  switch (format) {
    case 'yaml':
      return stringify(toDeclaredBaseline(baseline, items, scope), { lineWidth: 0 });
    case 'networkpolicy':
      return stringify(toNetworkPolicy(baseline, items, { podCidrs: scope.podCidrs, nodeCidrs: scope.nodeCidrs }), { lineWidth: 0 });
    case 'falco':
      return stringify(toFalcoRules(baseline, items), { lineWidth: 0 });
  }
}
