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

/**
 * RFC 3339 → ms since the epoch, truncated (not rounded) to the millisecond so that it equals the
 * value computed from the protobuf Timestamp of the same instant. NaN when unparsable.
 * Parsed by position (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`): once per event on the Falco
 * path, where a regex plus Date.parse cost as much as the rest of the normaliser.
 */
export function rfc3339ToMs(s: string): number {
  if (s.length < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return Number.NaN;
  const t = s.charCodeAt(10) | 0x20;
  if (t !== 0x74) return Number.NaN; // 'T' or 't'
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if ((year | month | day | hour | minute | second) < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return Number.NaN;
  }
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    // '.': up to 9 fraction digits, the first three are the milliseconds.
    let n = 0;
    for (i++; i < s.length; i++, n++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (n < 3) ms = ms * 10 + c;
    }
    if (n === 0 || n > 9) return Number.NaN;
    for (; n < 3; n++) ms *= 10;
  }
  let offsetMin = 0;
  const z = s.charCodeAt(i);
  if ((z | 0x20) === 0x7a) i++; // 'Z' or 'z'
  else if ((z === 43 || z === 45) && s.charCodeAt(i + 3) === 58) {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if ((oh | om) < 0) return Number.NaN;
    offsetMin = (z === 43 ? 1 : -1) * (oh * 60 + om);
    i += 6;
  } else return Number.NaN;
  if (i !== s.length) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
}

/** The decimal number in s[i, i+n), or -1 when it is not all digits. */
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
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
