/**
 * What the alerter's decisions share: settings, routed sinks, the decision run, phases and the
 * small pure helpers (severity order, workload parsing, idempotency keys).
 */
import { createHash } from 'node:crypto';
import type { Deviation, DeviationKind, HealthEvent, Severity } from '../../common/deviations.js';
import { severityRank } from '../../common/deviations.js';
import { WORKLOAD_KINDS, workloadKey, type WorkloadId } from '../../common/model.js';
import type { Route } from './routing.js';
import type { AlertSnapshot } from '../store/outbox.js';
import { workloadLabel } from '../sinks/text.js';
import type { OutboxRepository, Transaction } from '../store/contract.js';

export interface RoutedSink {
  name: string;
  route: Route;
  /** Re-posted while open even when acknowledged (Alertmanager). */
  keepAlive: boolean;
  intervalMs: number;
}

export interface AlerterSettings {
  cluster: string;
  baseUrl: string;
  renotifyMs: number;
  groupThreshold: number;
  groupWindowMs: number;
  groupWaitMs: number;
  maxListed: number;
  /** A deviation at least this severe, in a workload with no open group, is notified at once; null: never. */
  immediateSeverity: Severity | null;
  /** At most one update (grown content) per alert per this interval. */
  updateIntervalMs: number;
  rateMax: number;
  ratePerMs: number;
  /** While the store refuses writes, kept events are tried again this often. */
  storeRetryMs: number;
}

export const OPEN_PHASES = new Set(['held', 'firing', 'acknowledged']);
export const NOTIFIED_PHASES = new Set(['firing', 'acknowledged']);
export const SWEEP_BATCH = 500;
/** Events decided per transaction. */
export const DRAIN_BATCH = 1000;
/** Events kept for a later decision while the store refuses writes (a full disk); beyond, they are counted as errors. */
export const MAX_WAITING_EVENTS = 10_000;
/**
 * Never folded into a group: a declared `deny` hit or someone running commands in the container
 * is worth a page of its own, even in the middle of a rollout's burst.
 */
export const NEVER_GROUPED: ReadonlySet<DeviationKind> = new Set(['denied', 'interactive-session']);
/**
 * A group takes new members for at most this many grouping windows (event time, from its first
 * member); then a new grouping decision starts. Without it a steady trickle keeps one group open
 * (and silent) for ever.
 */
export const GROUP_LIFETIME_WINDOWS = 4;

export const HEALTH_ALERTNAMES: Record<HealthEvent['kind'], string> = {
  'agent-disconnected': 'DriftwatchAgentDisconnected',
  'source-silent': 'DriftwatchSourceSilent',
  'events-dropped': 'DriftwatchEventsDropped',
  'events-malformed': 'DriftwatchEventsMalformed',
  'baseline-overflow': 'DriftwatchBaselineOverflow',
  'sensor-loss': 'DriftwatchSensorLoss',
  'observations-rejected': 'DriftwatchObservationsRejected',
  'agent-missing': 'DriftwatchAgentMissing',
  'declared-baseline-invalid': 'DriftwatchDeclaredBaselineInvalid',
};

/** One decision run: the outbox of its transaction, and the sinks it queued notifications for. */
export interface DecisionRun {
  o: OutboxRepository;
  q: Set<string>;
  savepoint: Transaction['savepoint'];
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

export function asWorkload(v: unknown): WorkloadId | null {
  if (!v || typeof v !== 'object') return null;
  const w = v as Record<string, unknown>;
  const ok = ['cluster', 'namespace', 'name', 'container'].every((k) => typeof w[k] === 'string') && (WORKLOAD_KINDS as readonly unknown[]).includes(w.kind);
  return ok ? (w as unknown as WorkloadId) : null;
}

/** Stable for one decision, different for every other: receivers deduplicate on it. */
export function idempotencyKey(cluster: string, alertKey: string, status: string, seq: number): string {
  return createHash('sha256').update(`${cluster}\u0000${alertKey}\u0000${status}\u0000${seq}`).digest('hex').slice(0, 32);
}

/** Separates a release's group key from its workload's (workload keys hold no NUL). */
const RELEASE_GROUP = '\u0000release:';

/**
 * The key a deviation is grouped under: its workload, or — for what a release added (`carry-forward`)
 * — its workload and the new image, so that one rollout's additions make one notification.
 */
export function groupingKey(d: Deviation): string {
  return d.release ? `${workloadKey(d.workload)}${RELEASE_GROUP}${d.release.toBaselineId}` : workloadKey(d.workload);
}

/** A release's additions are always one group, however few (the grouping threshold is for bursts). */
export function groupThresholdOf(key: string, s: AlerterSettings): number {
  return key.includes(RELEASE_GROUP) ? 0 : s.groupThreshold;
}

/**
 * The one-line summary of a group alert: how many deviations of which workload within the window;
 * a release's additions name the image change; a group of one (notified at once for its severity)
 * says what that one is.
 */
export function groupSummary(alert: AlertSnapshot, groupWindowMs: number): string {
  const n = alert.deviations.length + alert.truncated;
  const release = alert.deviations[0]?.release;
  if (release) return `${n} new in this release of ${alert.workload ? workloadLabel(alert.workload) : 'one workload'}: ${release.from} → ${release.to}`;
  if (n === 1 && alert.deviations[0]) return alert.deviations[0].summary;
  return `${n} new deviations in ${alert.workload ? workloadLabel(alert.workload) : 'one workload'} within ${Math.round(groupWindowMs / 1000)} s`;
}
