/**
 * Baseline items: what an observation *is*, stably enough that restarts, rescheduling, scale-out,
 * ephemeral ports and rotating addresses do not make it new.
 *
 * One item per observation, identified by a string key (deviations are unique per (baseline, key)):
 *
 *   process  `p|<exe path>`                           args are context (generalised patterns)
 *   network  `n|<direction>|<protocol>|<port>|<peer>`  port: the peer's for egress, the local one
 *                                                      for ingress and listen (never ephemeral)
 *   peer     `ip|<address>`     a Service ClusterIP or an external address, exactly
 *            `net|<cidr>`       an external /24 (IPv4) or /48 (IPv6), once generalised; also the
 *                               edge form of a configured range (see edgeKeysForClass)
 *            `wl|<ns>/<kind>/<name>`  a pod IP resolved to its owning workload
 *            `class|pod-cidr`, `class|node-cidr`   a pod / node address nobody could resolve
 *            `lo`               loopback
 *            `-`                no peer (listen)
 *
 * The agent's edge filter holds the same keys (EdgeBaseline.allow) plus `i|<digest>` keys naming
 * the image digests the baseline covers. Keys never contain `|` inside a field: exe paths with a
 * `|` are escaped as `%7C`.
 */
import type { L4Protocol, NetworkDirection, NetworkObservation, Observation, ProcessObservation } from './model.js';
import { normaliseIp } from './model.js';

// ---------------------------------------------------------------------------------------------
// Addresses and ranges

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

// ---------------------------------------------------------------------------------------------
// Arguments

const TEMP_PATH = /(^|[\s=:,])(\/tmp|\/var\/tmp|\/dev\/shm)\/[^\s]+/g;
const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const TIMESTAMP = /\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g;
/** Hex runs of 8+ characters containing at least one digit (hashes, container ids, nonces). */
const HEX = /\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b/g;
const MKTEMP = /\b(tmp|temp)[._-][A-Za-z0-9]{4,}\b/gi;
/** Digit runs not glued to a word (`sha256`, `python3`, `x86_64` keep their digits). */
const NUMBER = /(?<![A-Za-z0-9_])\d+/g;
const STARS = /\*+/g;
export const MAX_ARGS_LENGTH = 512;

/**
 * Generalises an argument string into a glob pattern: numbers, hex hashes, UUIDs, timestamps and
 * temp-file names become `*`, so that the same command on another day, pod or port is one pattern.
 * A literal `*` in the arguments stays a `*` (it matches itself too). Long strings are cut at
 * MAX_ARGS_LENGTH and end with `*`.
 */
export function generaliseArgs(args: string): string {
  let s = args.length > MAX_ARGS_LENGTH ? args.slice(0, MAX_ARGS_LENGTH) + '*' : args;
  s = s.replace(TEMP_PATH, (_m, lead: string, dir: string) => `${lead}${dir}/*`);
  s = s.replace(UUID, '*').replace(TIMESTAMP, '*').replace(HEX, '*').replace(MKTEMP, '$1.*').replace(NUMBER, '*');
  return s.replace(STARS, '*').trim();
}

/** A compiled glob: `*` = any run of characters (newlines included), `?` = one UTF-16 code unit. */
export interface Glob {
  readonly source: string;
  test(text: string): boolean;
}

/**
 * Compiles a glob for argument patterns, path globs and selectors (`**` is the same as `*`: paths
 * are matched as plain strings). Globs come from declared-baseline YAML and from API callers, so
 * matching must not be a RegExp: `*a*a*a…b` backtracks exponentially there. This matcher is
 * O(pattern × text) at worst.
 */
export function compileGlob(source: string): Glob {
  // A run of `*` matches what one `*` matches; collapsing it keeps the backtrack point unique.
  const pattern = source.replace(/\*+/g, '*');
  if (!isGlob(pattern)) return { source, test: (text) => text === pattern };
  return { source, test: (text) => matchGlob(pattern, text) };
}

const STAR = 42;
const QUESTION = 63;

/**
 * Two-pointer wildcard matching. On a mismatch only the most recent `*` absorbs one more character
 * (earlier stars never need to: whatever they could absorb, the latest one can too), so the work
 * is bounded by pattern length × text length.
 */
function matchGlob(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    const c = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (c === STAR) {
      star = p++;
      starText = t;
    } else if (c === QUESTION || (c !== -1 && c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++starText;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
  return p === pattern.length;
}

export function isGlob(text: string): boolean {
  return /[*?]/.test(text);
}

// ---------------------------------------------------------------------------------------------
// Items

export type PeerClass = 'service' | 'workload' | 'pod-cidr' | 'node-cidr' | 'loopback' | 'external' | 'external-prefix' | 'none';

export interface Peer {
  class: PeerClass;
  /** service / external: the address. */
  ip?: string;
  /** external-prefix: the range. */
  cidr?: string;
  /** workload: `<namespace>/<kind>/<name>`. service: `<namespace>/<name>` when resolvable. */
  name?: string;
}

export interface ProcessItem {
  kind: 'process';
  key: string;
  exe: string;
  argsPattern: string;
}

export interface NetworkItem {
  kind: 'network';
  key: string;
  direction: NetworkDirection;
  protocol: L4Protocol;
  /** null when the source did not tell. */
  port: number | null;
  peer: Peer;
  /** DNS name of the peer when the source gave one (context, and declared `dnsNames`). */
  peerName: string | null;
}

export type Item = ProcessItem | NetworkItem;

/** Who owns an in-cluster address: the collector may know it from the Kubernetes API. */
export interface PeerResolver {
  /** A pod IP → its workload as `<namespace>/<kind>/<name>`, or null. */
  workloadOf(ip: string): string | null;
  /** A Service ClusterIP → `<namespace>/<name>`, or null. */
  serviceOf(ip: string): string | null;
}

export interface NetworkScope {
  podCidrs: readonly string[];
  serviceCidrs: readonly string[];
  nodeCidrs: readonly string[];
}

export function escapeKeyField(s: string): string {
  return s.includes('|') || s.includes('%') ? s.replace(/%/g, '%25').replace(/\|/g, '%7C') : s;
}

export function processKey(exe: string): string {
  return `p|${escapeKeyField(exe)}`;
}

export function peerKey(peer: Peer): string {
  switch (peer.class) {
    case 'service':
    case 'external':
      return `ip|${peer.ip}`;
    case 'external-prefix':
      return `net|${peer.cidr}`;
    case 'workload':
      return `wl|${escapeKeyField(peer.name ?? '')}`;
    case 'pod-cidr':
    case 'node-cidr':
      return `class|${peer.class}`;
    case 'loopback':
      return 'lo';
    case 'none':
      return '-';
  }
}

export function networkKey(direction: NetworkDirection, protocol: L4Protocol, port: number | null, peer: Peer | string): string {
  return `n|${direction}|${protocol}|${port ?? '*'}|${typeof peer === 'string' ? peer : peerKey(peer)}`;
}

export function imageKey(digest: string): string {
  return `i|${digest}`;
}

/** The port that identifies a connection: the server side (never the ephemeral client port). */
export function servicePort(obs: NetworkObservation): number | null {
  return obs.direction === 'egress' ? obs.peerPort : obs.localPort;
}

/**
 * Derives items from observations with the collector's knowledge: configured ranges and, when
 * available, a resolver of pod and service addresses.
 */
export class ItemDeriver {
  private readonly pods: CidrList;
  private readonly services: CidrList;
  private readonly nodes: CidrList;

  constructor(
    readonly scope: NetworkScope,
    private readonly resolver: PeerResolver | null = null,
  ) {
    this.pods = new CidrList(scope.podCidrs);
    this.services = new CidrList(scope.serviceCidrs);
    this.nodes = new CidrList(scope.nodeCidrs);
  }

  derive(obs: Observation): Item {
    return obs.kind === 'process' ? deriveProcessItem(obs) : this.deriveNetwork(obs);
  }

  classifyPeer(rawIp: string | null): Peer {
    const ip = normaliseIp(rawIp);
    if (ip === null || ip === '0.0.0.0' || ip === '::') return { class: 'none' };
    if (isLoopbackIp(ip)) return { class: 'loopback' };
    if (this.services.contains(ip)) {
      const name = this.resolver?.serviceOf(ip) ?? null;
      return name ? { class: 'service', ip, name } : { class: 'service', ip };
    }
    if (this.pods.contains(ip)) {
      const owner = this.resolver?.workloadOf(ip) ?? null;
      return owner ? { class: 'workload', name: owner } : { class: 'pod-cidr' };
    }
    if (this.nodes.contains(ip)) return { class: 'node-cidr' };
    return { class: 'external', ip };
  }

  private deriveNetwork(obs: NetworkObservation): NetworkItem {
    const peer = obs.direction === 'listen' ? ({ class: 'none' } as Peer) : this.classifyPeer(obs.peerIp);
    const port = servicePort(obs);
    return {
      kind: 'network',
      key: networkKey(obs.direction, obs.protocol, port, peer),
      direction: obs.direction,
      protocol: obs.protocol,
      port,
      peer,
      peerName: obs.peerName,
    };
  }

  /**
   * Keys that allow this item, most specific first: the item's own key, then the broader keys a
   * baseline may hold instead (the external address's prefix; the pod-cidr class for a pod that
   * a resolver attributed to a workload).
   */
  candidateKeys(item: Item): string[] {
    if (item.kind === 'process') return [item.key];
    const keys = [item.key];
    if (item.peer.class === 'external' && item.peer.ip) {
      const prefix = generalisationPrefix(item.peer.ip);
      if (prefix) keys.push(networkKey(item.direction, item.protocol, item.port, `net|${prefix}`));
    } else if (item.peer.class === 'workload') {
      keys.push(networkKey(item.direction, item.protocol, item.port, 'class|pod-cidr'));
    }
    return keys;
  }

  /**
   * The edge form of a class key: the agent does not know the configured ranges, so a
   * `class|pod-cidr` item is sent as one `net|<cidr>` key per configured pod range. Returns null
   * for keys the agent cannot evaluate safely (resolved workloads): those are always sent.
   */
  edgeKeys(key: string): string[] | null {
    const parsed = parseNetworkKey(key);
    if (!parsed) return key.startsWith('p|') ? [key] : null;
    const { peer } = parsed;
    if (peer.startsWith('wl|')) return null;
    if (peer === 'class|pod-cidr' || peer === 'class|node-cidr') {
      const list = peer === 'class|pod-cidr' ? this.pods : this.nodes;
      return list.texts.map((cidr) => networkKey(parsed.direction, parsed.protocol, parsed.port, `net|${cidr}`));
    }
    return [key];
  }
}

export function deriveProcessItem(obs: ProcessObservation): ProcessItem {
  return { kind: 'process', key: processKey(obs.process.exe), exe: obs.process.exe, argsPattern: generaliseArgs(obs.process.args) };
}

export interface ParsedNetworkKey {
  direction: NetworkDirection;
  protocol: L4Protocol;
  port: number | null;
  /** The peer part, e.g. `ip|1.2.3.4`, `net|10.0.0.0/8`, `lo`, `-`. */
  peer: string;
}

const DIRECTIONS: ReadonlySet<string> = new Set(['egress', 'ingress', 'listen']);
const PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp']);

export function parseNetworkKey(key: string): ParsedNetworkKey | null {
  if (!key.startsWith('n|')) return null;
  const parts = key.split('|');
  if (parts.length < 5) return null;
  const [, direction, protocol, port] = parts as [string, string, string, string];
  if (!DIRECTIONS.has(direction) || !PROTOCOLS.has(protocol)) return null;
  const portNum = port === '*' ? null : Number(port);
  if (portNum !== null && !(Number.isInteger(portNum) && portNum >= 0 && portNum <= 65535)) return null;
  return { direction: direction as NetworkDirection, protocol: protocol as L4Protocol, port: portNum, peer: parts.slice(4).join('|') };
}

/** One line, plain text, for summaries (attacker-controlled parts included: escape on display). */
export function describeItem(item: Item): string {
  if (item.kind === 'process') return item.argsPattern ? `${item.exe} ${item.argsPattern}` : item.exe;
  const port = item.port ?? '*';
  const peer = describePeer(item.peer);
  if (item.direction === 'listen') return `listen ${item.protocol}/${port}`;
  if (item.direction === 'ingress') return `ingress ${item.protocol}/${port} from ${peer}`;
  return `egress ${item.protocol}/${port} to ${peer}${item.peerName ? ` (${item.peerName})` : ''}`;
}

export function describePeer(peer: Peer): string {
  switch (peer.class) {
    case 'service':
      return peer.name ? `service ${peer.name} (${peer.ip})` : `service ${peer.ip}`;
    case 'external':
      return `external ${peer.ip}`;
    case 'external-prefix':
      return `external ${peer.cidr}`;
    case 'workload':
      return `workload ${peer.name}`;
    case 'pod-cidr':
      return 'a pod';
    case 'node-cidr':
      return 'a node';
    case 'loopback':
      return 'loopback';
    case 'none':
      return 'none';
  }
}
