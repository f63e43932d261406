import { parseNetworkKey, type ParsedNetworkKey } from '../../common/items/keys.js';
import type { BaselineItemView } from '../store/queries.js';

/** Inverse of common/items.ts escapeKeyField. */
export function unescapeKeyField(s: string): string {
  return s.includes('%') ? s.replace(/%7C/g, '|').replace(/%25/g, '%') : s;
}

export interface SplitItems {
  /** Executable paths the baseline allows, sorted. */
  processes: { exe: string; argsPattern: string | null }[];
  network: (ParsedNetworkKey & { key: string })[];
}

/** The items of a baseline by kind, parsed from their keys (the key is the contract, not `detail`). */
export function splitItems(items: readonly BaselineItemView[]): SplitItems {
  const processes: SplitItems['processes'] = [];
  const network: SplitItems['network'] = [];
  for (const i of items) {
    if (i.key.startsWith('p|')) {
      const args = i.detail.argsPattern ?? i.detail.args;
      processes.push({ exe: unescapeKeyField(i.key.slice(2)), argsPattern: typeof args === 'string' && args !== '' ? args : null });
    } else {
      const n = parseNetworkKey(i.key);
      if (n) network.push({ ...n, key: i.key });
    }
  }
  processes.sort((a, b) => (a.exe < b.exe ? -1 : a.exe > b.exe ? 1 : 0));
  network.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { processes, network };
}

/** A DNS-1123 label built from parts (lower case, [a-z0-9-], at most 63 characters). */
export function dnsLabel(...parts: string[]): string {
  const s = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return (s.slice(0, 63).replace(/-$/, '') || 'driftwatch');
}

/**
 * The labels a generated policy selects the workload's pods with. The collector knows a workload
 * by owner name, not by its pods' labels, so the exports assume the recommended
 * `app.kubernetes.io/name` label and say so in their note.
 */
export function workloadPodLabels(workloadName: string): Record<string, string> {
  return { 'app.kubernetes.io/name': workloadName };
}
