import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { toFalcoRules } from './falco.js';
import { toNetworkPolicy } from './networkpolicy.js';
import { toDeclaredBaseline } from './declared.js';
import { stringify } from 'yaml';

export const EXPORT_FORMATS = ['yaml', 'networkpolicy', 'falco'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An approved baseline in the formats the rest of a stack enforces, as YAML text. */
export function exportBaseline(format: ExportFormat, baseline: BaselineView, items: readonly BaselineItemView[]): string {
  switch (format) {
    case 'yaml':
      return stringify(toDeclaredBaseline(baseline, items), { lineWidth: 0 });
    case 'networkpolicy':
      return stringify(toNetworkPolicy(baseline, items), { lineWidth: 0 });
    case 'falco':
      return stringify(toFalcoRules(baseline, items), { lineWidth: 0 });
  }
}
