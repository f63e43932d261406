import type { DetectionEngine } from '../../collector/contracts.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import type { Observation } from '../../common/model.js';

/** A detection engine that only records what it was given: for transport tests. */
export class RecordingEngine implements DetectionEngine {
  readonly seen: Observation[] = [];
  ingest(observations: readonly Observation[]): void {
    this.seen.push(...observations);
  }
  flushEvents(): void {}
  edgeBaselines(): [] {
    return [];
  }
  onEdgeChange(_listener: (changed: EdgeBaseline[]) => void): () => void {
    return () => undefined;
  }
  tick(): void {}
  discardPending(): void {}
}
