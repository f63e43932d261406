/**
 * Observations the collector's wire validation refused, per node and reason: the ingest server
 * records them, the health monitor raises `observations-rejected` alerts from them. Counts only
 * grow (the monitor works on differences); a node's counts are forgotten with its agent.
 */
import type { WireRejectReason } from '../../common/wire.js';

export class WireRejections {
  private readonly byNode = new Map<string, Map<WireRejectReason, number>>();

  record(node: string, reason: WireRejectReason): void {
    let reasons = this.byNode.get(node);
    if (!reasons) this.byNode.set(node, (reasons = new Map()));
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }

  /** Cumulative counts per node and reason. */
  entries(): Iterable<[string, ReadonlyMap<WireRejectReason, number>]> {
    return this.byNode.entries();
  }

  /** Keeps only these nodes (the agents the collector still knows). */
  retain(nodes: ReadonlySet<string>): void {
    for (const node of this.byNode.keys()) if (!nodes.has(node)) this.byNode.delete(node);
  }
}
