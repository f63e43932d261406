/**
 * Accessors shared by the normalisers. Each source arrives in two encodings (protojson / JSON
 * text, and protobuf decoded by protobufjs) and these helpers make both read the same:
 * - a protobuf wrapper (`google.protobuf.UInt32Value`) is `{value}` decoded and a bare number in
 *   protojson; absent (undefined / null) means unknown, never 0;
 * - a Timestamp is `{seconds: Long | number, nanos}` decoded and an RFC 3339 string in protojson;
 * - 64-bit integers are `Long` decoded and decimal strings in protojson;
 * - Falco gRPC renders every output field as a string, `<NA>` meaning unknown.
 */

/** The part of protobufjs's Long that we read (kept structural: no import of the long package). */
export interface LongLike {
  toNumber(): number;
  toString(radix?: number): string;
}

export type Wrapped<T> = T | { value?: T | null } | null | undefined;

export type TimestampLike = string | { seconds?: number | LongLike | null; nanos?: number | null } | null | undefined;

export function unwrapU32(w: Wrapped<number>): number | null {
  if (w === null || w === undefined) return null;
  if (typeof w === 'number') return w;
  const v = w.value;
  // A set wrapper holding 0 is an empty message on the wire: protobufjs gives the default 0.
  return typeof v === 'number' ? v : 0;
}

export function unwrapBool(w: Wrapped<boolean>): boolean | null {
  if (w === null || w === undefined) return null;
  if (typeof w === 'boolean') return w;
  return w.value === true;
}

export function longToNumber(v: number | LongLike | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/** 64-bit ids (socket cookie) as their unsigned decimal text, as protojson prints them. */
export function longToString(v: number | LongLike | string | null | undefined): string | null {
  if (v === null || v === undefined || v === '' || v === 0) return null;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  const s = v.toString();
  return s === '0' ? null : s;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * RFC 3339 → ms since the epoch, truncated (not rounded) to the millisecond so that it equals the
 * value computed from the protobuf Timestamp of the same instant. NaN when unparsable.
 */
export function rfc3339ToMs(s: string): number {
  const m = RFC3339.exec(s);
  if (!m) return Number.NaN;
  const whole = Date.parse(m[1]! + (m[3]!.toUpperCase() === 'Z' ? 'Z' : m[3]!));
  const frac = m[2] ? Number((m[2] + '00').slice(0, 3)) : 0;
  return whole + frac;
}

/** Timestamp (either encoding) → ms; null when absent or unparsable. */
export function timestampToMs(ts: TimestampLike): number | null {
  if (ts === null || ts === undefined) return null;
  if (typeof ts === 'string') {
    if (ts === '') return null;
    const ms = rfc3339ToMs(ts);
    return Number.isNaN(ms) ? null : ms;
  }
  const seconds = longToNumber(ts.seconds);
  const nanos = ts.nanos ?? 0;
  if (seconds === 0 && nanos === 0) return null;
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

/** A Falco field as text; null for unknown (`null` in JSON, `<NA>` on gRPC) or empty. */
export function fieldText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v === '' || v === '<NA>' ? null : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/** A Falco integer field (JSON number, or its decimal text on gRPC); null when unknown. */
export function fieldInt(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  if (typeof v === 'string' && v !== '' && v !== '<NA>') {
    const n = Number(v);
    return Number.isInteger(n) ? n : null;
  }
  return null;
}

/** `containerd://abc…` → `abc…` (also cri-o://, docker://). */
export function stripRuntimePrefix(id: string): string {
  const i = id.indexOf('://');
  return i >= 0 ? id.slice(i + 3) : id;
}

/** `repo@sha256:…` or `docker-pullable://repo@sha256:…` → `sha256:…`; null when there is no digest. */
export function imageDigest(ref: string | null | undefined): string | null {
  if (!ref) return null;
  const i = ref.indexOf('sha256:');
  return i >= 0 ? ref.slice(i) : null;
}
