/**
 * What every sink receives and returns. The outbox decides *what* to notify; a sink only turns
 * notifications into its receiver's format (a pure function, tested without network) and says
 * how the attempt went. Retries, backoff and metrics belong to the outbox dispatcher.
 */
import type { Deviation, HealthEvent, SessionCommand, Severity } from '../../common/deviations.js';
import type { WorkloadId } from '../../common/model.js';
import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { SinkConfig } from '../../common/config/schema.js';

/** The versioned document of webhook bodies and JSON-lines sinks (docs/alerting.md). */
export const ALERT_SCHEMA = 'driftwatch.alert.v1';

/** A deviation as alerts show it: plain data, attacker-controlled strings unescaped (sinks escape). */
export interface DeviationBrief
  extends Pick<Deviation, 'id' | 'kind' | 'severity' | 'severityReason' | 'status' | 'itemKey' | 'summary' | 'item' | 'firstSeenMs' | 'lastSeenMs' | 'count' | 'pods' | 'nodes' | 'image' | 'release'> {
  /** Process ancestry of the first sample, the process itself first: `exe args` per element. */
  lineage: string[];
  /** Network deviations: the peer, `ip:port` or `name (ip:port)`; null otherwise. */
  peer: string | null;
  url: string;
  /** Interactive sessions: the commands, each with its event time, arguments and lineage (the first ones, bounded). */
  commands?: SessionCommand[];
  /** Interactive sessions: commands run and not listed in `commands` (say "N more"). */
  commandsMore?: number;
}

export type AlertKind = 'deviation' | 'group' | 'health';
/**
 * new: first notification · update: the same alert, its content grown (a session's commands, a
 * group's members), sent again under its key · renotify: still open · resolved: ended.
 */
export type NotifyReason = 'new' | 'update' | 'renotify' | 'resolved' | 'test';

/** One notification of one alert, as queued in the outbox (one row per sink). */
export interface AlertNotification {
  /** Same decision → same key: receivers deduplicate on it (at-least-once delivery). */
  idempotencyKey: string;
  /** `deviation:<id>`, `group:<workload>:<ms>` or `health:<key>`. */
  alertKey: string;
  kind: AlertKind;
  status: 'firing' | 'resolved';
  reason: NotifyReason;
  /** Alertmanager `alertname`; also the Falco rule name's basis. */
  alertname: string;
  severity: Severity;
  cluster: string;
  /** One line, plain text. */
  summary: string;
  startsAtMs: number;
  endsAtMs: number | null;
  url: string | null;
  workload: WorkloadId | null;
  /** One for a deviation alert, the listed members for a group, none for health. */
  deviations: DeviationBrief[];
  /** Group members counted but not listed (beyond grouping.maxListed). */
  truncated: number;
  health: HealthEvent | null;
  /** New notifications held back by the global rate limit since the previous one was sent. */
  heldBack: number;
  /** When driftwatch decided this notification (wall clock). */
  decidedAtMs: number;
  /**
   * 1 for an alert's first notification, +1 for each later one (update, re-notify, resolution):
   * a receiver keeps the highest per `alertKey` and ignores a late, older one.
   */
  sequence: number;
}

export type SendVerdict =
  | { result: 'ok' }
  /** Worth trying again later (timeouts, 408, 429, 5xx, connection errors). */
  | { result: 'retry'; reason: string }
  /** Will never succeed as it is (other 4xx, payload rejected): dropped, counted, logged. */
  | { result: 'fail'; reason: string };

export interface Sink {
  readonly name: string;
  readonly type: SinkType;
  /** Notifications per send(); 1 = one request per notification. */
  readonly maxBatch: number;
  /** Must not throw: every failure is a verdict, with a reason free of secrets. */
  send(batch: readonly AlertNotification[], signal?: AbortSignal): Promise<SendVerdict>;
  close(): Promise<void>;
}

export interface SinkContext {
  /** Wall clock, ms. */
  now(): number;
  /** Shown as the sender (Falco `hostname`); the collector's host name. */
  hostname: string;
  stdout: NodeJS.WritableStream;
}

/** A sink type, as registered by collector/sinks/index.ts (the one list of them). */
export type SinkType = string;

/** A sink item as a type with these keys receives it: the common block and its own keys. */
export type SinkConfigOf<F extends TProperties> = SinkConfig & Static<TObject<F>>;

export interface SinkDefinition {
  readonly type: SinkType;
  /**
   * The type's own keys under `collector.alerting.sinks[]`, as TypeBox schemas (optional or
   * defaulted, common/config/kinds.ts): the keys it accepts beyond the common block.
   */
  readonly fields: TProperties;
  /** Of its own keys, those it requires: one of each inner list. */
  readonly requireOneOf: readonly (readonly string[])[];
  /**
   * Receivers that time alerts out (Alertmanager): open alerts are re-posted at the sink's
   * interval — acknowledged ones too, outside the rate limit — so they stay firing there.
   */
  keepAlive: boolean;
  /** Default re-notify interval for this type (ms); undefined = alerting.renotifyInterval. */
  defaultRenotifyMs?: number;
  create(config: SinkConfig, ctx: SinkContext): Sink;
}

/**
 * Declares a sink type. `create` sees its own keys typed from the same declaration that validates
 * them: the registry hands it only items of its type that passed the schema composed from
 * `fields` and validateSinks — which is what makes the one narrowing below sound.
 */
export function defineSink<F extends TProperties>(
  def: Omit<SinkDefinition, 'fields' | 'requireOneOf' | 'create'> & {
    fields: F;
    requireOneOf: readonly (readonly (keyof F & string)[])[];
    create(config: SinkConfigOf<F>, ctx: SinkContext): Sink;
  },
): SinkDefinition {
  return { ...def, create: (config, ctx) => def.create(config as SinkConfigOf<F>, ctx) };
}
