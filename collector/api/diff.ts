import type { BaselineItemView } from '../store/queries.js';

export interface BaselineDiff {
  added: BaselineItemView[];
  removed: BaselineItemView[];
  unchanged: number;
}

/** Set difference on item keys: what `to` allows that `from` does not, and the reverse. */
export function diffItems(from: readonly BaselineItemView[], to: readonly BaselineItemView[]): BaselineDiff {
  const fromKeys = new Set(from.map((i) => i.key));
  const toKeys = new Set(to.map((i) => i.key));
  const added = to.filter((i) => !fromKeys.has(i.key));
  const removed = from.filter((i) => !toKeys.has(i.key));
  return { added, removed, unchanged: to.length - added.length };
}
