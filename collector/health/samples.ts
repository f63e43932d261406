/**
 * An agent's counters as the collector stores them (the Counters message, JSON-serialised by
 * collector/ingest: uint64 values arrive as numbers, decimal strings or Long-shaped objects), read
 * into plain numbers for the health checks.
 */
import { REJECT_REASONS, type RejectReason } from '../../common/model.js';

export interface SourceSample {
  source: string;
  seen: number;
  dropped: number;
  malformed: number;
  lastEventMs: number;
  /** `malformed` by reason; null when the agent does not send it (older agents). */
  rejected: Partial<Record<RejectReason | 'other', number>> | null;
  sensorLost: number;
  sensorEvents: number;
  sensorThrottled: number;
  /** Times the agent lost its stream from the sensor and got it back, and how long that took in all. */
  sensorGaps: number;
  sensorGapMs: number;
}

const KNOWN_REASONS: ReadonlySet<string> = new Set(REJECT_REASONS);

export function toCount(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    return (high >>> 0) * 2 ** 32 + (low >>> 0);
  }
  return 0;
}

/** Reasons outside the known set (a newer or hostile agent) are summed as `other`: keys stay bounded. */
function rejectedOf(v: unknown): SourceSample['rejected'] {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Partial<Record<RejectReason | 'other', number>> = {};
  for (const [reason, count] of Object.entries(v as Record<string, unknown>)) {
    const key = KNOWN_REASONS.has(reason) ? (reason as RejectReason) : 'other';
    out[key] = (out[key] ?? 0) + toCount(count);
  }
  return out;
}

export function sourceSamples(counters: Record<string, unknown>): { sources: SourceSample[]; shipDropped: number } {
  const raw = Array.isArray(counters.sources) ? (counters.sources as unknown[]) : [];
  const sources = raw.flatMap((r): SourceSample[] => {
    if (!r || typeof r !== 'object') return [];
    const o = r as Record<string, unknown>;
    const source = typeof o.source === 'string' ? o.source : typeof o.name === 'string' ? o.name : '';
    if (!source) return [];
    return [
      {
        source,
        seen: toCount(o.seen),
        dropped: toCount(o.dropped),
        malformed: toCount(o.malformed),
        lastEventMs: toCount(o.lastEventMs ?? o.last_event_ms),
        rejected: rejectedOf(o.rejected),
        sensorLost: toCount(o.sensorLost ?? o.sensor_lost),
        sensorEvents: toCount(o.sensorEvents ?? o.sensor_events),
        sensorThrottled: toCount(o.sensorThrottled ?? o.sensor_throttled),
        sensorGaps: toCount(o.sensorGaps ?? o.sensor_gaps),
        sensorGapMs: toCount(o.sensorGapMs ?? o.sensor_gap_ms),
      },
    ];
  });
  return { sources, shipDropped: toCount(counters.shipDropped ?? counters.ship_dropped) };
}
