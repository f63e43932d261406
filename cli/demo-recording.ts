/**
 * The demo's recording moved to the present. Its events are dated when it was recorded; replayed
 * as they are, a fresh demo would show every deviation "days ago" and an empty 24 h chart. Every
 * timestamp is shifted by the same amount so the last event falls at `endAtMs`: the order, the
 * gaps and everything event time decides (learning windows, start-up grace) stay exactly as
 * recorded.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** A whole JSON string that is an RFC 3339 UTC time, as Tetragon writes them (`time`, `start_time`). */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function shiftValue(value: unknown, shiftMs: number): unknown {
  if (typeof value === 'string') return TIMESTAMP.test(value) ? new Date(Date.parse(value) + shiftMs).toISOString() : value;
  if (Array.isArray(value)) return value.map((v) => shiftValue(v, shiftMs));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shiftValue(v, shiftMs)]));
  return value;
}

function parsed(line: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(line) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Writes `source` to `target` with every timestamp moved so that the latest event `time` is
 * `endAtMs` (rounded down to a whole second). Lines that are not JSON objects are copied as they
 * are: the agent counts them as malformed, as it would in the original. Null, and nothing written,
 * when no event has a time (an empty recording): there is nothing to move.
 */
export function shiftRecording(source: string, target: string, endAtMs: number): { shiftMs: number; events: number } | null {
  const lines = readFileSync(source, 'utf8').split('\n');
  const events = lines.map(parsed);
  let last = -Infinity;
  for (const e of events) {
    const t = typeof e?.time === 'string' ? Date.parse(e.time) : NaN;
    if (!Number.isNaN(t)) last = Math.max(last, t);
  }
  if (last === -Infinity) return null;
  const shiftMs = Math.floor((endAtMs - last) / 1000) * 1000;
  const out = lines.map((line, i) => (events[i] ? JSON.stringify(shiftValue(events[i], shiftMs)) : line));
  writeFileSync(target, out.join('\n'), { mode: 0o600 });
  return { shiftMs, events: events.filter(Boolean).length };
}
