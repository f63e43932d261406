/**
 * When a generation's learning window ends, before new items extend it:
 * - a long-running workload learns `window` from its first event;
 * - a run-to-completion workload (Job, CronJob) learns from its first `learning.runs` runs
 *   (runs.ts); time only bounds it, at `maxWindow`, so a rare CronJob is not learning forever;
 * - with a cluster-wide learning period (`learning.startAt` for `window`), a generation that starts
 *   learning before the period ends learns until its end: one go-live for everything running then
 *   (new items near the end still extend it, up to the generation's own maxWindow); a Job or
 *   CronJob learns every run that starts inside the period, and at least `learning.runs`.
 */
import { isRunToCompletion, type WorkloadId } from '../../common/model.js';

export interface WindowSettings {
  windowMs: number;
  maxWindowMs: number;
  /** End of the cluster-wide learning period (`learning.startAt` + window); null: none. */
  clusterWindowEndMs: number | null;
}

/** The learning end of a generation that starts learning at `startMs`, before extensions. */
export function learningEnd(w: WindowSettings, workload: WorkloadId, startMs: number): number {
  if (isRunToCompletion(workload.kind)) return learningCap(w, startMs);
  return inClusterWindow(w, startMs) ? w.clusterWindowEndMs! : startMs + w.windowMs;
}

/** How far extensions (and runs) may carry learning: maxWindow, or the cluster-wide period if it ends later. */
export function learningCap(w: WindowSettings, startMs: number): number {
  return Math.max(startMs + w.maxWindowMs, clusterEndFor(w, startMs));
}

/** Is the cluster-wide learning period still open at this event time? */
export function inClusterWindow(w: WindowSettings, timeMs: number): boolean {
  return w.clusterWindowEndMs !== null && timeMs < w.clusterWindowEndMs;
}

function clusterEndFor(w: WindowSettings, startMs: number): number {
  return inClusterWindow(w, startMs) ? w.clusterWindowEndMs! : 0;
}

/**
 * `learning.startAt` → the start of the cluster-wide period (ms): an ISO time as written, or
 * `install`, the time this store was created (so neither a restart nor an upgrade of an existing
 * store opens a new period: there, "from install" has long ended). Unset: null.
 */
export function clusterWindowStart(startAt: string | undefined, installedAtMs: number | null): number | null {
  if (startAt === undefined) return null;
  if (startAt === 'install') return installedAtMs;
  const ms = Date.parse(startAt);
  if (!Number.isFinite(ms)) throw new Error(`collector.learning.startAt: not a time: ${startAt}`);
  return ms;
}
