/**
 * The sensors' own reports of events they lost before driftwatch could read them. A sensor that
 * drops events looks like a quiet workload, so these become the source's `sensor*` counters
 * (shipped to the collector, which raises `sensor-loss` health alerts with the loss rate).
 *
 * Tetragon (api/v1/tetragon/events.proto, main @ 4fbfe2d7):
 * - `rate_limit_info` (GetEventsResponse 40001): `number_of_dropped_process_events` dropped by the
 *   export rate limit (`--export-rate-limit`) in the last minute; written to the JSON export file.
 * - `process_throttle` (27): `THROTTLE_START` / `THROTTLE_STOP` for a cgroup whose exec/exit events
 *   Tetragon stops posting (`--cgroup-rate`); no count: each start counts as one throttle.
 * Events a slow gRPC reader loses are only in Tetragon's Prometheus metrics
 * (`tetragon_notify_overflowed_events_total`), never in the stream.
 *
 * Falco (`source: internal`, falco userspace/falco/event_drops.cpp and stats_writer.cpp @ 13074749):
 * - `Falco internal: syscall event drop`: `n_drops` / `n_evts` of the last second, as decimal
 *   strings; at most one per 30 s by default (token bucket), so a lower bound of what was lost.
 * - `Falco internal: metrics snapshot` (metrics.enabled, output_rule): monotonic `scap.n_drops`
 *   with `scap.n_drops_prev` (the previous snapshot's value), `scap.n_evts` / `scap.n_evts_prev`,
 *   and `falco.outputs_queue_num_drops` (alerts Falco dropped from its own output queue).
 *   Exact: once a snapshot with `scap.n_drops` has been seen, drop alerts are no longer added
 *   (they would count the same drops twice).
 */
import type { SourceCounters } from '../../common/model.js';
import type { NormaliseContext, NormaliseResult } from './context.js';
import { fieldInt, longToNumber, type LongLike } from './values.js';

export interface TgRateLimitInfo {
  number_of_dropped_process_events?: number | string | LongLike | null;
}

export interface TgThrottle {
  /** `THROTTLE_START` in protojson, 1 decoded from protobuf. */
  type?: string | number | null;
  cgroup?: string | null;
}

const THROTTLE_START = 1;
export const FALCO_DROP_RULE = 'Falco internal: syscall event drop';
export const FALCO_METRICS_RULE = 'Falco internal: metrics snapshot';

/** Per source: what Falco's metrics snapshots have told so far. */
interface FalcoLossState {
  /** A snapshot carried `scap.n_drops`: it is the exact count from now on. */
  snapshots: boolean;
  /** Last `falco.outputs_queue_num_drops` (monotonic since Falco started); null before the first. */
  queueDrops: number | null;
}

const falcoStates = new WeakMap<NormaliseContext, FalcoLossState>();

export function tetragonLossReport(rateLimit: TgRateLimitInfo | null | undefined, throttle: TgThrottle | null | undefined, ctx: NormaliseContext): NormaliseResult {
  const c = ctx.counters;
  if (rateLimit) {
    const n = longToNumber(rateLimit.number_of_dropped_process_events);
    if (c && Number.isFinite(n) && n > 0) c.sensorLost += n;
    return 'state';
  }
  if (throttle) {
    const start = throttle.type === THROTTLE_START || throttle.type === 'THROTTLE_START';
    if (start && c) c.sensorThrottled++;
    return 'state';
  }
  return 'ignored';
}

export function falcoLossReport(rule: string, f: Readonly<Record<string, unknown>>, ctx: NormaliseContext): NormaliseResult {
  const c = ctx.counters;
  if (rule === FALCO_DROP_RULE) {
    const state = stateOf(ctx);
    if (c && !state.snapshots) add(c, fieldInt(f['n_drops']), fieldInt(f['n_evts']));
    return 'state';
  }
  if (rule !== FALCO_METRICS_RULE) return 'ignored';
  const state = stateOf(ctx);
  const drops = fieldInt(f['scap.n_drops']);
  if (drops !== null) {
    state.snapshots = true;
    if (c) add(c, since(drops, fieldInt(f['scap.n_drops_prev'])), since(fieldInt(f['scap.n_evts']), fieldInt(f['scap.n_evts_prev'])));
  }
  const queue = fieldInt(f['falco.outputs_queue_num_drops']);
  if (queue !== null) {
    // The first value of this agent's life is a starting point (it counts since Falco started,
    // possibly reported by a previous agent already); a smaller one means Falco restarted.
    if (c && state.queueDrops !== null) add(c, queue >= state.queueDrops ? queue - state.queueDrops : queue, null);
    state.queueDrops = queue;
  }
  return 'state';
}

function stateOf(ctx: NormaliseContext): FalcoLossState {
  let s = falcoStates.get(ctx);
  if (!s) falcoStates.set(ctx, (s = { snapshots: false, queueDrops: null }));
  return s;
}

/** current - previous of a monotonic counter; the whole value when previous is unknown or larger (restart). */
function since(current: number | null, previous: number | null): number | null {
  if (current === null) return null;
  return previous !== null && previous <= current ? current - previous : current;
}

function add(c: SourceCounters, lost: number | null, events: number | null): void {
  if (lost !== null && lost > 0) c.sensorLost += lost;
  if (events !== null && events > 0) c.sensorEvents += events;
}
