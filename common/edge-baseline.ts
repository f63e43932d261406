/**
 * The contract between the collector and the agent's edge filter: what a workload's effective
 * baseline allows, in the form the agent can check in O(1) per event.
 */
import type { WorkloadId } from './model.js';

/** What the agent needs to filter at the edge (mirrors proto driftwatch.v1.EdgeBaseline). */
export interface EdgeBaseline {
  workload: WorkloadId;
  hash: string;
  phase: 'learning' | 'active' | 'approved';
  allow: string[];
  learningDedupWindowMs: number;
  /**
   * Exe path globs (common/items.ts syntax) that an argument-sensitive declared rule names (a deny
   * rule, or a replace-mode allow rule, with `args`): every run may be decided by its arguments, so
   * the agent never deduplicates them while learning.
   */
  alwaysSend: string[];
}
