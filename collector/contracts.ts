/**
 * The surface the engine (collector/baselines + collector/deviations) offers to ingest, the API,
 * the CLI and alerting. Written down first so that each side can be built and tested alone.
 * Everything is synchronous: better-sqlite3 is, and each call is one transaction.
 */
import type { BaselineSummary, Deviation, DeviationStatus } from '../common/deviations.js';
import type { EdgeBaseline } from '../common/edge-baseline.js';
import type { Observation, WorkloadId } from '../common/model.js';

export interface IngestContext {
  agentInstanceId: string;
  node: string;
}

export interface DetectionEngine {
  /**
   * Learns from / evaluates a batch. Called inside the ingest transaction (the caller commits the
   * batch's sequence number in the same transaction, so a batch counts exactly once).
   * Returns the workloads whose edge baseline changed (to push to agents) — events are emitted on
   * the bus after commit via `flushEvents()`.
   */
  ingest(observations: readonly Observation[], ctx: IngestContext): void;
  /** Emits the events of committed transactions on the bus (called by ingest after commit). */
  flushEvents(): void;
  /** Edge baselines for these workloads (what an agent on a node gets as a snapshot). */
  edgeBaselines(workloads: readonly WorkloadId[]): EdgeBaseline[];
  /** Subscribe to edge-baseline changes (learning ended, approval, item added, declared change). */
  onEdgeChange(listener: (changed: EdgeBaseline[]) => void): () => void;
  /** Advances event-time driven state (ends learning windows) up to this event time. */
  tick(nowEventMs: number): void;
  /** Forgets caches and unflushed events after the caller's transaction rolled back. */
  discardPending(): void;
}

export interface BaselineService {
  listBaselines(filter?: { namespace?: string; phase?: string }): BaselineSummary[];
  getBaseline(id: number): BaselineSummary | undefined;
  currentBaseline(workload: WorkloadId): BaselineSummary | undefined;
  approve(id: number, version: number, actor: string, comment: string): BaselineSummary;
  reject(id: number, version: number, actor: string, comment: string): BaselineSummary;
  relearn(workload: WorkloadId, actor: string, comment: string): BaselineSummary;
}

export interface DeviationService {
  getDeviation(id: number): Deviation | undefined;
  setStatus(id: number, status: Exclude<DeviationStatus, 'added-to-baseline'>, actor: string, comment: string): Deviation;
  /** Adds the deviation's item to its baseline (new baseline version) and marks it added-to-baseline. */
  addToBaseline(id: number, actor: string, comment: string): Deviation;
}
