/**
 * The storage contract: what the collector needs from a database, per aggregate, all asynchronous.
 * A backend (SQLite today, `sqlite/`; PostgreSQL for several replicas) implements `Store`. Nothing
 * outside `collector/store/` knows SQL or the driver.
 *
 * Rules every caller keeps:
 * - A change that must land whole (an ingest batch, an approval and its audit entry) runs inside
 *   `store.transaction(async (tx) => …)` and uses only `tx` there. Using the store itself inside a
 *   transaction is a programming error (the SQLite backend refuses it rather than deadlock).
 * - Calls on the store outside a transaction each run on their own (reads see committed data).
 * - Caches a backend keeps (workload ids) are its own business: it drops them when a transaction
 *   rolls back. Caches callers keep over what they read (the baseline views) are theirs to drop:
 *   `transaction` rethrows, and the caller discards.
 * - A write the storage cannot take (disk full, I/O error, read-only volume) rejects with
 *   `StorageUnavailableError`, never a driver error; a transaction in which one happened commits
 *   nothing, even if its function caught the error. Reads go on working. `storage()` tells
 *   whether writes fail; it turns available again only after `probeStorage()` succeeded.
 */
import type { AgentStatus, BaselineSummary, DeviationKind, DeviationStatus } from '../../common/deviations.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import type { AlertNotification } from '../sinks/types.js';
import type { AgentCursor } from './agents.js';
import type { AuditEntry, AuditFilter, AuditInput } from './audit.js';
import type { BaselineInsert, BaselineItemRecord, BaselineRecord, BaselineUpdate } from './baselines.js';
import type { DeviationWrite, StoredDeviation } from './deviations.js';
import type { AlertPhase, AlertState, OutboxRow, QueueStats, UndecidedAlerts } from './outbox.js';
import type { AgentView, HandlingQuery, HandlingRow, OpenDeviationCount, Overview, OverviewQuery } from './reports.js';
import type {
  BaselineItemView,
  BaselineView,
  DeviationCursor,
  DeviationFilter,
  DeviationListItem,
  Page,
  WorkloadCursor,
  WorkloadFilter,
  WorkloadListItem,
} from './queries.js';
import type { CreateTokenInput, Principal, TokenInfo } from './tokens.js';
import type { ImagePolicy, WorkloadRecord } from './workloads.js';

/** Workload containers, the scope of a baseline. Rows are never deleted. */
export interface WorkloadRepository {
  /** The id of a workload, created on first sight. */
  idOf(w: WorkloadId): Promise<number>;
  find(w: WorkloadId): Promise<number | undefined>;
  get(id: number): Promise<WorkloadRecord | undefined>;
  all(): Promise<WorkloadRecord[]>;
  setImagePolicy(id: number, policy: ImagePolicy | null): Promise<void>;
}

/** A run (Job) a run-to-completion workload's generation learned from. */
export interface LearningRun {
  run: string;
  /** Event time of the run's first observation. */
  firstSeenMs: number;
}

/** What learning windows are measured against besides event time (collector/baselines/runs.ts, windows.ts). */
export interface LearningRepository {
  /** The runs a generation learned from, first seen first. */
  runs(baselineId: number): Promise<LearningRun[]>;
  /** Adds a run, or sets when an already known one was first seen. */
  putRun(baselineId: number, run: LearningRun): Promise<void>;
  removeRun(baselineId: number, run: string): Promise<void>;
  /** When this store was created (its first migration): what `learning.startAt: install` means. */
  installedAtMs(): Promise<number | null>;
}

/** Baselines (one row per workload generation) and their items. */
export interface BaselineRepository {
  get(id: number): Promise<BaselineRecord | undefined>;
  /** The workload's newest generation. */
  current(workloadId: number): Promise<BaselineRecord | undefined>;
  /** Every generation, newest first. */
  generations(workloadId: number): Promise<BaselineRecord[]>;
  insert(b: BaselineInsert): Promise<BaselineRecord>;
  update(id: number, changes: BaselineUpdate): Promise<void>;
  /** Learning baselines whose window ended at or before `nowMs` (event time). */
  dueForActivation(nowMs: number): Promise<BaselineRecord[]>;
  items(baselineId: number): Promise<BaselineItemRecord[]>;
  insertItem(i: Omit<BaselineItemRecord, 'id'>): Promise<BaselineItemRecord>;
  updateItem(i: BaselineItemRecord): Promise<void>;
  /** Takes an item out from baseline version `version` on (an undone addition); history keeps it. */
  removeItem(id: number, version: number): Promise<void>;
  /** Removes a learned item (never a person's addition). */
  deleteItem(id: number): Promise<void>;
  summary(id: number): Promise<BaselineSummary | undefined>;
  /** Ids of the current (newest generation) baselines, optionally filtered. */
  currentIds(filter?: { namespace?: string; phase?: string }): Promise<number[]>;
}

/** Deviations, unique per (baseline, item key). */
export interface DeviationRepository {
  get(id: number): Promise<StoredDeviation | undefined>;
  /** Several by id in one read (announcing a committed batch); ids not found are absent. */
  getMany(ids: readonly number[]): Promise<Map<number, StoredDeviation>>;
  /** Without the samples (see samplesOf). */
  find(baselineId: number, itemKey: string): Promise<StoredDeviation | undefined>;
  samplesOf(id: number): Promise<Observation[]>;
  /** Open or acknowledged deviations of a baseline first seen before `beforeMs`, of these kinds. */
  firstSeenBefore(baselineId: number, beforeMs: number, kinds: readonly DeviationKind[]): Promise<StoredDeviation[]>;
  insert(d: DeviationWrite): Promise<number>;
  updateSighting(id: number, d: DeviationWrite): Promise<void>;
  setStatus(id: number, status: DeviationStatus, actor: string, comment: string | null): Promise<void>;
}

/** What agents sent, unique per (agent instance, batch seq, index). */
export interface ObservationRepository {
  insertBatch(agent: string, seq: number, observations: readonly Observation[]): Promise<void>;
  /** The newest event time stored for a workload (what-if windows end there). */
  newestOf(workloadId: number): Promise<number | null>;
  /** Stored observations (JSON) of a workload since an event time, oldest first. */
  since(workloadId: number, sinceMs: number, limit: number): Promise<string[]>;
  count(): Promise<number>;
}

/** Agent instances and the last batch sequence stored for each. */
export interface AgentRepository {
  /** Registers (or re-registers) an instance; returns its last stored seq. */
  hello(a: { instanceId: string; node: string; cluster: string; version: string; sources: string[] }, at: string): Promise<number>;
  lastSeq(instanceId: string): Promise<number>;
  /** Inside the batch's transaction: that is what makes a batch count once. */
  commitSeq(instanceId: string, seq: number, at: string): Promise<void>;
  setCounters(instanceId: string, counters: Record<string, unknown>, at: string): Promise<void>;
  disconnected(instanceId: string, at: string): Promise<void>;
  markAllDisconnected(): Promise<void>;
  get(instanceId: string): Promise<AgentStatus | undefined>;
  /** Every instance (by node, newest first): the health monitor's walk. */
  list(): Promise<AgentStatus[]>;
  /** Keyset pages in (node, instance id) order. */
  page(after: AgentCursor | undefined, limit: number): Promise<Page<AgentStatus, AgentCursor>>;
  /** Instances by health: connected and seen since `freshSince` (ok), connected but not (stale), disconnected. */
  countByHealth(freshSince: string): Promise<{ ok: number; stale: number; disconnected: number }>;
}

/** One declared-baseline file's last text that loaded without an error. */
export interface LastGoodFile {
  /** The file's name in the baselines directory. */
  file: string;
  text: string;
  savedAt: string;
}

/**
 * The last good content of each declared-baseline file, so that a file that is broken or empty
 * when the collector starts keeps what was in force before (collector/baselines/declared.ts).
 */
export interface DeclaredLastGoodRepository {
  all(): Promise<LastGoodFile[]>;
  /** Replaces the file's last good text. */
  save(f: LastGoodFile): Promise<void>;
}

/** API bearer tokens (only hashes are stored). */
export interface TokenRepository {
  create(input: CreateTokenInput): Promise<{ token: string; info: TokenInfo }>;
  get(id: number): Promise<TokenInfo | undefined>;
  list(): Promise<TokenInfo[]>;
  revoke(id: number): Promise<TokenInfo | undefined>;
  verify(presented: string): Promise<Principal | undefined>;
}

/** Every decision, attributed. Append inside the transaction of the change it records. */
export interface AuditRepository {
  append(e: AuditInput): Promise<number>;
  list(f: AuditFilter): Promise<AuditEntry[]>;
}

/** Alerting: what was decided per alert (`alert_state`) and the per-sink delivery queue. */
export interface OutboxRepository {
  get(alertKey: string): Promise<AlertState | undefined>;
  put(s: AlertState, nowMs: number): Promise<void>;
  due(phase: AlertPhase, nowMs: number, limit: number): Promise<AlertState[]>;
  /** Notified alerts whose update (grown content) is due. */
  dueUpdates(nowMs: number, limit: number): Promise<AlertState[]>;
  /** The earliest wall-clock due time of any decision (grouping bound, held, re-notify, update). */
  nextDecisionMs(): Promise<number | undefined>;
  /** Workloads whose grouping wait has reached its wall-clock bound. */
  workloadsDue(nowMs: number, limit: number): Promise<string[]>;
  pendingOfWorkload(workloadKey: string): Promise<AlertState[]>;
  countDecidedWithin(workloadKey: string, fromEventMs: number, toEventMs: number): Promise<number>;
  openGroup(workloadKey: string, eventMs: number, windowMs: number, lifetimeMs: number): Promise<AlertState | undefined>;
  members(groupKey: string): Promise<AlertState[]>;
  openHealthKeys(): Promise<string[]>;
  /** Open deviations changed since `sinceIso` that alerting has no state for (a crash between commits). */
  unseenOpenDeviations(sinceIso: string, limit: number): Promise<number[]>;
  /** Deviations that ended while their alert is still open (a missed status event). */
  endedWhileOpen(limit: number): Promise<number[]>;
  /** Queues one notification for one sink; a second enqueue of the same key is a no-op. */
  enqueue(sink: string, n: AlertNotification, nowMs: number): Promise<boolean>;
  hasPending(sink: string, alertKey: string): Promise<boolean>;
  lastQueued(alertKey: string): Promise<Map<string, number>>;
  claim(sink: string, nowMs: number, limit: number): Promise<OutboxRow[]>;
  nextDue(sink: string): Promise<number | undefined>;
  markSent(ids: readonly number[], nowMs: number): Promise<void>;
  markRetry(ids: readonly number[], nextAttemptMs: number, error: string): Promise<void>;
  markFailed(ids: readonly number[], nowMs: number, error: string): Promise<void>;
  expire(createdBeforeMs: number, nowMs: number): Promise<Map<string, number>>;
  prune(beforeMs: number): Promise<void>;
  /** Undelivered notifications per sink (pending, including those being sent). */
  queueStats(): Promise<QueueStats[]>;
  /** Alerts not yet decided: waiting for grouping, held back by the rate limit. */
  undecided(): Promise<UndecidedAlerts>;
  rows(alertKey: string): Promise<{ sink: string; state: string; attempts: number; reason: string }[]>;
}

/** The console's read side: paged (keyset), filtered, namespace-scoped views across aggregates. */
export interface ConsoleQueryRepository {
  listDeviations(f: DeviationFilter): Promise<Page<DeviationListItem, DeviationCursor>>;
  deviationNamespace(id: number): Promise<string | undefined>;
  baselineView(id: number): Promise<BaselineView | undefined>;
  workloadBaselines(workloadId: number): Promise<BaselineView[]>;
  listWorkloads(f: WorkloadFilter): Promise<Page<WorkloadListItem, WorkloadCursor>>;
  currentBaselinesIn(namespace: string, phase: BaselineSummary['phase']): Promise<BaselineView[]>;
  baselineItems(baselineId: number, version: number): Promise<BaselineItemView[]>;
}

/** Reports across aggregates: the overview, agents with their health, state gauges. */
export interface ReportRepository {
  /** A page of agents with their health, in (node, instance id) order. */
  listAgents(nowMs: number, after: AgentCursor | undefined, limit: number): Promise<Page<AgentView, AgentCursor>>;
  overview(q: OverviewQuery): Promise<Overview>;
  openDeviationCounts(): Promise<OpenDeviationCount[]>;
  baselinesByPhase(): Promise<Map<BaselineSummary['phase'], number>>;
  /** Deviations raised in a period with when they were first acknowledged and resolved (audit report). */
  deviationHandling(q: HandlingQuery): Promise<HandlingRow[]>;
}

export interface Repositories {
  readonly workloads: WorkloadRepository;
  readonly baselines: BaselineRepository;
  readonly learning: LearningRepository;
  readonly deviations: DeviationRepository;
  readonly observations: ObservationRepository;
  readonly agents: AgentRepository;
  readonly declared: DeclaredLastGoodRepository;
  readonly tokens: TokenRepository;
  readonly audit: AuditRepository;
  readonly outbox: OutboxRepository;
  readonly queries: ConsoleQueryRepository;
  readonly reports: ReportRepository;
}

/** What a transaction's function works with: the repositories on its connection, and savepoints. */
export interface Transaction extends Repositories {
  /** Runs `fn` so that, if it throws, what it wrote is undone and the transaction goes on. */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
}

export interface RetentionPolicy {
  /** Observations older than this much event time before the newest one stored. */
  observationsMs: number;
  /** Agent instances disconnected for longer than this (wall clock). */
  agentsMs: number;
}

/**
 * Why writes fail: the volume is full, the device errs, the volume, file or database is read-only,
 * or the database server cannot be reached (PostgreSQL).
 */
export type StorageFailure = 'disk-full' | 'io-error' | 'read-only' | 'unreachable';

/** A write the storage could not take. Retryable: nothing of it was stored. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  constructor(
    readonly failure: StorageFailure,
    /** The backend's own code (e.g. SQLITE_FULL; LOW_FREE_SPACE from a probe), for the log and /readyz. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type StorageState = { available: true } | { available: false; failure: StorageFailure; code: string; message: string; sinceMs: number };

/**
 * The state after a probe's write failed: an unavailable store keeps its start time and takes the
 * latest reason (an available one is left as it is — the failure is reported by whoever wrote).
 */
export function withLatestFailure(state: StorageState, failure: StorageUnavailableError): StorageState {
  return state.available ? state : { ...state, failure: failure.failure, code: failure.code, message: failure.message };
}

/**
 * Whether this process does the periodic work every collector on one database shares (alert
 * sweeps and re-notification, outbox delivery and housekeeping, retention): exactly one at a time.
 */
export interface Leadership {
  isLeader(): boolean;
  /** Called when this process takes or loses the lead; returns the unsubscribe. */
  onChange(listener: (leading: boolean) => void): () => void;
}

/**
 * Messages between the collector replicas on one database (what a committed transaction changed,
 * so that every replica pushes edge baselines and streams events promptly). Best effort: nothing
 * durable travels this way. Each replica hears the others, never itself.
 */
export interface ReplicaChannel {
  /** At most MAX_REPLICA_MESSAGE_BYTES of UTF-8. */
  publish(message: string): Promise<void>;
  subscribe(listener: (message: string) => void): () => void;
}

/** Room for one replica message (PostgreSQL's NOTIFY takes under 8000 bytes, with the sender's id). */
export const MAX_REPLICA_MESSAGE_BYTES = 7800;

/** One collector on its database (SQLite): nobody to tell. */
export const NO_REPLICAS: ReplicaChannel = { publish: async () => undefined, subscribe: () => () => undefined };

/** The one process on its database (SQLite: one collector per file) always leads. */
export const SOLE_LEADER: Leadership = { isLeader: () => true, onChange: () => () => undefined };

export interface Store extends Repositories {
  readonly backend: 'sqlite' | 'postgres';
  readonly leadership: Leadership;
  readonly replicas: ReplicaChannel;
  readonly schemaVersion: number;
  /** Whether writes currently fail (since the first that failed, until a probe succeeds). */
  storage(): StorageState;
  /** Checks that the volume has room and a write commits (the only way back to available); returns the new state. */
  probeStorage(): Promise<StorageState>;
  /**
   * Registers a listener called at the start of a transaction, before its function, when another
   * process committed to the database since this store's previous transaction (replicas on one
   * PostgreSQL database): caches over the store must be read again. Returns the unsubscribe.
   */
  onExternalWrite(listener: () => void): () => void;
  /** Runs `fn` in one transaction: everything it wrote commits together, or nothing (it rethrows). */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Applies the retention policy; returns what was deleted. */
  prune(policy: RetentionPolicy, nowMs: number): Promise<{ observations: number; agents: number }>;
  /** Idempotent. */
  close(): Promise<void>;
}
