/**
 * `collector.alerting`: sinks, noise control and delivery (collector/outbox, collector/sinks,
 * collector/health). Each sink type declares its own keys next to its code (collector/sinks); this
 * section holds what every sink has — falcosidekick's shape: a common block, then the type's keys.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { SEVERITIES } from '../deviations.js';
import { duration, oneOf, section } from './fields.js';

/** What every `collector.alerting.sinks[]` item has, whatever its type. */
export const sinkCommonFields = {
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 63 }),
  /** One of the types collector/sinks/index.ts registers. */
  type: Type.String({ pattern: '^[a-z][a-z0-9-]*$' }),
  /** false = paused: notifications keep queueing (within retry.maxAge) and nothing is sent. */
  enabled: Type.Boolean({ default: true }),
  minSeverity: oneOf(SEVERITIES, { default: 'low' }),
  /** Globs (`*`, `?`) on the namespace; empty = every namespace. */
  namespaces: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Globs on the workload name or `Kind/name`; empty = every workload. */
  workloads: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Also deliver health alerts (agent disconnected, source silent, events dropped, …). */
  health: Type.Boolean({ default: true }),
  timeout: duration({ default: '5s' }),
  /** Overrides alerting.renotifyInterval (alertmanager: how often open alerts are re-posted, default 1m). */
  renotifyInterval: Type.Optional(duration()),
};

/** The `collector.alerting` section, its sinks' items given (composed with their types' keys). */
export function alertingSection<S extends TSchema>(sink: S) {
  return Type.Object(
    {
      enabled: Type.Boolean({ default: true }),
      /** How often a still-open deviation is notified again (per sink overridable). */
      renotifyInterval: duration({ default: '4h' }),
      /** More than `threshold` new deviations of one workload within `window` (event time) → one grouped notification. */
      grouping: Type.Object(
        {
          threshold: Type.Integer({ minimum: 1, default: 5 }),
          window: duration({ default: '2m' }),
          /**
           * How long a workload's first deviation waits for a burst to follow, in event time (a
           * replay decides as the live stream did); the same span of wall time bounds the wait.
           */
          wait: duration({ default: '10s' }),
          /**
           * A deviation at least this severe in a workload with no open group is notified at once,
           * as a group that later deviations join as updates; `none` = every deviation waits.
           */
          immediateSeverity: oneOf([...SEVERITIES, 'none'], { default: 'high' }),
          /** Deviations listed in one grouped notification; the rest are counted (`truncated`). */
          maxListed: Type.Integer({ minimum: 1, maximum: 200, default: 25 }),
        },
        section,
      ),
      /**
       * A notified alert whose content grows (a session's commands, a group's members) is sent again,
       * same key, as an update: at most once per this interval per alert.
       */
      updateInterval: duration({ default: '30s' }),
      /** Global cap on new firing notifications (refilled in event time); what exceeds it is held back (counted) and sent later. */
      rateLimit: Type.Object({ max: Type.Integer({ minimum: 1, default: 30 }), per: duration({ default: '1m' }) }, section),
      /** Per-sink delivery retries: exponential backoff from `initial` to `max`; rows older than `maxAge` expire. */
      retry: Type.Object({ initial: duration({ default: '1s' }), max: duration({ default: '5m' }), maxAge: duration({ default: '24h' }) }, section),
      /** A sink failing for longer than this is reported not ready (/readyz). */
      unreadyAfter: duration({ default: '5m' }),
      /** Delivered outbox rows are kept this long, then deleted. */
      retention: duration({ default: '7d' }),
      health: Type.Object(
        {
          checkInterval: duration({ default: '30s' }),
          /** An agent disconnected for longer than this raises an alert. */
          disconnectedAfter: duration({ default: '2m' }),
          /** Agents not seen for this long are forgotten (their node is gone): their alerts end. */
          forgetAfter: duration({ default: '24h' }),
          /** A source is silent when no event came for max(silentAfter, silentFactor × its usual gap). */
          silentAfter: duration({ default: '15m' }),
          silentFactor: Type.Number({ minimum: 1, default: 4 }),
          /** Dropped (or malformed) / seen over one check interval above this ratio raises an alert … */
          dropRatio: Type.Number({ minimum: 0, maximum: 1, default: 0.01 }),
          malformedRatio: Type.Number({ minimum: 0, maximum: 1, default: 0.01 }),
          /** … once at least this many were dropped (or malformed) in the interval. */
          minEvents: Type.Integer({ minimum: 1, default: 100 }),
          /** A node that runs workload pods with no agent for this long raises agent-missing. */
          missingAgentAfter: duration({ default: '5m' }),
        },
        section,
      ),
      sinks: Type.Array(sink, { default: [] }),
    },
    section,
  );
}
