/**
 * Deviations and baselines as every consumer (alert sinks, API, UI, CLI) sees them.
 * The collector's engine produces them; nobody else writes them.
 */
import type { Observation, WorkloadId } from './model.js';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export const DEVIATION_KINDS = [
  /** A process executable the baseline does not allow. */
  'process',
  /** A network item (direction/protocol/port/peer) the baseline does not allow. */
  'network',
  /** Commands run inside the container from outside its init tree (`kubectl exec`), grouped. */
  'interactive-session',
  /** Something a declared baseline's `deny` list names: always raised, even while learning. */
  'denied',
  /** The per-baseline item cap was reached: learning stopped adding items. */
  'baseline-overflow',
  /** A new image digest for a container under the `alert` image policy. */
  'image-change',
] as const;
export type DeviationKind = (typeof DEVIATION_KINDS)[number];

export const DEVIATION_STATUSES = ['open', 'acknowledged', 'resolved', 'added-to-baseline'] as const;
export type DeviationStatus = (typeof DEVIATION_STATUSES)[number];

/**
 * A session keeps its first commands in full; every later one is counted (`commandsOmitted`), so
 * a scripted loop in a shell cannot grow the row without bound and nobody is told "that was all".
 */
export const MAX_SESSION_COMMANDS = 100;

/** One command of an interactive session, with its own event time and process ancestry. */
export interface SessionCommand {
  exe: string;
  args: string;
  timeMs: number;
  /** Its parents, nearest first, `exe args` each (bounded); absent in sessions stored before it was kept. */
  lineage?: string[];
}

export interface Deviation {
  id: number;
  baselineId: number;
  workload: WorkloadId;
  /** The baseline item key (see common/items.ts): deviations are unique per (baseline, item). */
  itemKey: string;
  kind: DeviationKind;
  severity: Severity;
  /** Why this severity (the rule that fired), shown to people. */
  severityReason: string;
  status: DeviationStatus;
  /** One line, plain text (attacker-controlled parts included: escape when rendering). */
  summary: string;
  /** The item, structured (exe + args pattern, or direction/protocol/port/peer). */
  item: Record<string, unknown>;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  pods: string[];
  nodes: string[];
  image: string | null;
  /** A few sample observations with their full process lineage. */
  samples: Observation[];
  /** For interactive sessions: the commands run, in event-time order (the first MAX_SESSION_COMMANDS). */
  commands?: SessionCommand[];
  /** For interactive sessions: commands run beyond those listed in `commands` (counted, not kept). */
  commandsOmitted?: number;
  /** "New in this release": what a new image does beyond its predecessor (`carry-forward`). */
  release?: ReleaseNote;
  statusBy: string | null;
  statusAt: string | null;
  statusComment: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The image change a "new in this release" deviation came with (images as `name@digest`). */
export interface ReleaseNote {
  fromBaselineId: number;
  toBaselineId: number;
  from: string;
  to: string;
  /** Event time of the new image's first observation. */
  releasedAtMs: number;
}

export const BASELINE_PHASES = ['learning', 'active', 'approved', 'rejected', 'superseded'] as const;
export type BaselinePhase = (typeof BASELINE_PHASES)[number];
export type BaselineCompleteness = 'full' | 'partial';

export interface BaselineSummary {
  id: number;
  workload: WorkloadId;
  generation: number;
  version: number;
  phase: BaselinePhase;
  completeness: BaselineCompleteness;
  imageDigest: string | null;
  /** The image as the workload named it (tag), for display. */
  imageName: string | null;
  /** The generation this one started as a copy of (a release under `carry-forward`); null: learned. */
  carriedFrom: number | null;
  learningStartMs: number | null;
  learningUntilMs: number | null;
  itemCount: number;
  openDeviations: number;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
}

/** Events on the collector's bus (collector/events.ts): alerting and the live stream consume them. */
export type CollectorEvent =
  | { type: 'deviation.created'; deviation: Deviation }
  /** Seen again (count, last seen, pods, nodes changed). */
  | { type: 'deviation.updated'; deviation: Deviation }
  | { type: 'deviation.status'; deviation: Deviation; previous: DeviationStatus; actor: string }
  | { type: 'baseline.changed'; baseline: BaselineSummary; previousPhase: BaselinePhase | null }
  | { type: 'agent.connected' | 'agent.disconnected'; agent: AgentStatus }
  | { type: 'health'; health: HealthEvent };

export interface AgentStatus {
  instanceId: string;
  node: string;
  cluster: string;
  version: string;
  sources: string[];
  connected: boolean;
  firstSeenAt: string;
  lastSeenAt: string;
  counters: Record<string, unknown>;
}

/** Zero deviations must never hide missing data: these are raised through the same sinks. */
export interface HealthEvent {
  kind:
    | 'agent-disconnected'
    | 'source-silent'
    | 'events-dropped'
    | 'events-malformed'
    | 'baseline-overflow'
    /** The sensor (Falco, Tetragon) reported events it lost: the workloads look quieter than they are. */
    | 'sensor-loss'
    /** Input refused by an agent's source or by the collector's validation, by reason. */
    | 'observations-rejected'
    /** A node runs workload pods but no agent of it is connected: nothing there is monitored. */
    | 'agent-missing'
    /** A declared baseline file has a problem: its last good content (or nothing of it) is in force. */
    | 'declared-baseline-invalid';
  /** Stable key: one open health alert per key; `resolved` ends it. */
  key: string;
  severity: Severity;
  summary: string;
  node: string | null;
  /**
   * The namespace of the one workload the event concerns (baseline-overflow); absent for
   * cluster-wide health (nodes, agents, sources). It decides who may see the event: a
   * namespace-scoped token sees its namespaces' events only, never cluster-wide ones.
   */
  namespace?: string;
  resolved: boolean;
  atMs: number;
  detail: Record<string, unknown>;
}
