/**
 * Addresses and ranges: IPv4/IPv6 parsing, CIDRs, and the generalisation prefix of an external
 * address. Pure functions, shared by the agent (edge keys) and the collector (items, peers).
 */
import { normaliseIp } from './model.js';

/** A parsed CIDR: IPv4 as a 32-bit number, IPv6 as a bigint. */
export type Cidr = { v: 4; base: number; mask: number; text: string } | { v: 6; base: bigint; mask: bigint; text: string };

export function parseIpv4(ip: string): number | null {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return null;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0 || part > 255) return null;
  return value * 256 + part;
}

export function parseIpv6(ip: string): bigint | null {
  if (!ip.includes(':')) return null;
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups.
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const h of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(h)) return null;
      out.push(parseInt(h, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return null;
  const known = head.length + rest.length;
  let groups: number[];
  if (halves.length === 2) {
    if (known > 7) return null;
    groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  } else {
    if (known !== 8) return null;
    groups = head;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

const V6_ALL = (1n << 128n) - 1n;

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = normaliseIp(slash === -1 ? text : text.slice(0, slash));
  if (addr === null) return null;
  const bitsText = slash === -1 ? null : text.slice(slash + 1);
  if (bitsText !== null && !/^\d{1,3}$/.test(bitsText)) return null;
  const v4 = parseIpv4(addr);
  if (v4 !== null) {
    const bits = bitsText === null ? 32 : Number(bitsText);
    if (bits > 32) return null;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { v: 4, base: (v4 & mask) >>> 0, mask, text: `${formatIpv4((v4 & mask) >>> 0)}/${bits}` };
  }
  const v6 = parseIpv6(addr);
  if (v6 === null) return null;
  const bits = bitsText === null ? 128 : Number(bitsText);
  if (bits > 128) return null;
  const mask = bits === 0 ? 0n : (V6_ALL << BigInt(128 - bits)) & V6_ALL;
  return { v: 6, base: v6 & mask, mask, text: `${formatIpv6(v6 & mask)}/${bits}` };
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 does.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) (best = i), (bestLen = j - i);
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** True when `ip` (normalised) lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  if (cidr.v === 4) {
    const v = parseIpv4(ip);
    return v !== null && ((v & cidr.mask) >>> 0) === cidr.base;
  }
  const v = parseIpv6(ip);
  return v !== null && (v & cidr.mask) === cidr.base;
}

/** True when the two ranges share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.v === 4 && b.v === 4) {
    const mask = (a.mask & b.mask) >>> 0;
    return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
  }
  if (a.v === 6 && b.v === 6) {
    const mask = a.mask & b.mask;
    return (a.base & mask) === (b.base & mask);
  }
  return false;
}

export function isLoopbackIp(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** The generalisation prefix of an external address: its /24 (IPv4) or /48 (IPv6). */
export function generalisationPrefix(ip: string): string | null {
  const v4 = parseIpv4(ip);
  if (v4 !== null) return `${formatIpv4((v4 & 0xffffff00) >>> 0)}/24`;
  const v6 = parseIpv6(ip);
  if (v6 === null) return null;
  return `${formatIpv6(v6 & (V6_ALL << 80n) & V6_ALL)}/48`;
}

/** A few compiled ranges; membership is a linear scan (configured CIDR lists are short). */
export class CidrList {
  readonly cidrs: readonly Cidr[];
  constructor(texts: readonly string[]) {
    const out: Cidr[] = [];
    for (const t of texts) {
      const c = parseCidr(t);
      if (!c) throw new Error(`not a CIDR: ${JSON.stringify(t)}`);
      out.push(c);
    }
    this.cidrs = out;
  }
  contains(ip: string): boolean {
    for (const c of this.cidrs) if (cidrContains(c, ip)) return true;
    return false;
  }
  get texts(): string[] {
    return this.cidrs.map((c) => c.text);
  }
}

