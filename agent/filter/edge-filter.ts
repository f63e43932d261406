/**
 * The agent's edge filter: drops, in O(1) per event, what the workload's baseline already allows,
 * so that after learning a node's traffic to the collector is proportional to what is new.
 *
 * It is conservative by construction: it only drops what the collector would certainly allow.
 * - Process: the exe is in the allow set (the collector only pushes exes it allows with any
 *   arguments, in steady state). Processes outside the container's init tree (kubectl exec) are
 *   always sent: they make up interactive sessions.
 * - Network: the (direction, protocol, port) has an exact peer address, a range containing it,
 *   the peer's resolved name (`dns|<name>`), loopback, or "no peer" (listen) in the allow set.
 * - An image digest the baseline does not cover is always sent (it may start a new generation).
 * - A workload without a pushed baseline: everything is sent.
 * - The first observation of each run of a Job or CronJob (`Observation.run`) is sent even when
 *   allowed: the collector counts runs to end their learning (collector/baselines/runs.ts).
 * While learning, each distinct raw item (exe; direction/protocol/port/peer address) is sent at
 * most once per `learningDedupWindowMs` of event time; the rest is dropped and counted. Exes the
 * baseline lists in `alwaysSend` are never deduplicated: a declared rule decides their runs by
 * their arguments, which the dedup key leaves out.
 *
 * Compact: a baseline's items are 64-bit keyed hashes (SipHash, siphash.ts) in a flat table
 * (hash-table.ts), not strings in Sets — 1,000 workloads × 200 items take a few MB. The hash is
 * fed from the fields the observation already holds (exe; direction, protocol, port, peer
 * address), so nothing is concatenated per event; the key is random per agent start, so no input
 * can be made to collide with an allowed item on purpose. Ranges (CIDRs), loopback and listen
 * rules stay structured per (direction, protocol, port): they are few. The learning dedup table
 * holds hashes and event times the same way, bounded per workload and in total. Workloads are
 * found through a WeakMap keyed by the WorkloadId object (identity resolvers intern them),
 * falling back to nested Maps by field.
 */
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import { compileGlob, isGlob, type Glob } from '../../common/glob.js';
import { parseCidr, parseIpv4, parseIpv6, isLoopbackIp, type Cidr } from '../../common/cidr.js';
import { normaliseDnsName } from '../../common/items/derive.js';
import { parseNetworkKey } from '../../common/items/keys.js';
import type { L4Protocol, NetworkDirection, NetworkObservation, Observation, WorkloadId } from '../../common/model.js';
import { HashTable64 } from './hash-table.js';
import { SipHasher } from './siphash.js';

/** What one (direction, protocol, port) allows besides exact addresses; parts made only when used. */
interface RangeRule {
  v4: { base: number; mask: number }[] | null;
  v6: { base: bigint; mask: bigint }[] | null;
  loopback: boolean;
  /** `-` peer: listen (any address). */
  noPeer: boolean;
  /** `dns|<name>` peers: the name the workload resolved (the observation's peerName). */
  names: Set<string> | null;
}

interface CompiledBaseline {
  phase: EdgeBaseline['phase'];
  hash: string;
  dedupWindowMs: number;
  /** Hashes of the allowed exes and exact (direction, protocol, port, address) items. */
  items: HashTable64;
  /** portKey(direction, protocol, port) → ranges, loopback, listen; null when the baseline has none. */
  ranges: Map<number, RangeRule> | null;
  /** Never deduplicated while learning: exact exe paths, and exe globs. */
  alwaysSendExes: Set<string>;
  alwaysSendGlobs: Glob[];
  /** Image digests covered; empty = any. */
  images: Set<string>;
}

interface Slot {
  workload: WorkloadId;
  baseline: CompiledBaseline | undefined;
  /** Learning dedup: item hash → last event time sent (created on first use). */
  sent: HashTable64 | null;
}

const DIRECTION_CODES: Readonly<Record<NetworkDirection, number>> = { egress: 1, ingress: 2, listen: 3 };
const PROTOCOL_CODES: Readonly<Record<L4Protocol, number>> = { tcp: 1, udp: 2 };

/** A small integer naming (direction, protocol, port); port -1 = unknown. */
function portKey(direction: NetworkDirection, protocol: L4Protocol, port: number): number {
  return ((DIRECTION_CODES[direction] * 4 + PROTOCOL_CODES[protocol]) << 17) + port + 1;
}

/** Item hashes with this filter's key: the same fields always give the same (hi, lo). */
class ItemHasher {
  private readonly h = new SipHasher();

  process(exe: string): SipHasher {
    return this.h.reset().byte(1).string(exe).finish();
  }

  /** peer: the address ('' for none). */
  network(direction: NetworkDirection, protocol: L4Protocol, port: number, peer: string): SipHasher {
    return this.h
      .reset()
      .byte(2)
      .byte(DIRECTION_CODES[direction])
      .byte(PROTOCOL_CODES[protocol])
      .u16(port < 0 ? 0 : port)
      .byte(port < 0 ? 1 : 0)
      .string(peer)
      .finish();
  }
}

export interface EdgeFilterStats {
  /** Dropped because the baseline allows them. */
  matched: number;
  /** Dropped while learning because the same item was sent within the dedup window. */
  deduplicated: number;
  /** Passed to the collector. */
  sent: number;
  workloads: number;
  baselines: number;
}

export interface EdgeFilterOptions {
  /** Per-workload bound of learning-dedup entries (then the table is cleared: fail open). */
  maxDedupEntriesPerWorkload?: number;
  /** Bound of learning-dedup entries over all workloads (beyond it, the growing table is cleared). */
  maxDedupEntries?: number;
  /** Bound on workloads tracked (beyond it, unknown workloads are simply sent). */
  maxWorkloads?: number;
}

/** Runs remembered as sent; far more than the Job pods one node runs between two clears. */
const MAX_RUNS_SENT = 4096;

export class EdgeFilter {
  private readonly weak = new WeakMap<WorkloadId, Slot>();
  /** namespace → name → container → kind → cluster → slot. */
  private readonly slots = new Map<string, Map<string, Map<string, Map<string, Map<string, Slot>>>>>();
  private slotCount = 0;
  private baselineCount = 0;
  private readonly maxDedup: number;
  private readonly maxDedupTotal: number;
  private dedupTotal = 0;
  private readonly maxWorkloads: number;
  private readonly counters = { matched: 0, deduplicated: 0, sent: 0 };
  private readonly hasher = new ItemHasher();
  /** Runs whose first observation was sent (cleared when full: a run's first observation is then sent again, harmless). */
  private readonly runsSent = new Set<string>();

  constructor(opts: EdgeFilterOptions = {}) {
    this.maxDedup = opts.maxDedupEntriesPerWorkload ?? 4096;
    this.maxDedupTotal = opts.maxDedupEntries ?? 262_144;
    this.maxWorkloads = opts.maxWorkloads ?? 20_000;
  }

  /** A snapshot from the collector: replaces every baseline. */
  replaceAll(baselines: readonly EdgeBaseline[]): void {
    const keep = new Set<Slot>();
    for (const b of baselines) {
      const slot = this.slotFor(b.workload, true);
      if (!slot) continue;
      this.install(slot, b);
      keep.add(slot);
    }
    this.forEachSlot((slot) => {
      if (!keep.has(slot)) this.uninstall(slot);
    });
  }

  /** A delta: installs (or replaces) these baselines. */
  upsert(baselines: EdgeBaseline | readonly EdgeBaseline[]): void {
    for (const b of Array.isArray(baselines) ? (baselines as readonly EdgeBaseline[]) : [baselines as EdgeBaseline]) {
      const slot = this.slotFor(b.workload, true);
      if (slot) this.install(slot, b);
    }
  }

  /** A delta: these workloads left the node (their observations are sent again). */
  remove(workloads: WorkloadId | readonly WorkloadId[]): void {
    for (const w of Array.isArray(workloads) ? (workloads as readonly WorkloadId[]) : [workloads as WorkloadId]) {
      const slot = this.slotFor(w, false);
      if (slot) this.uninstall(slot);
    }
  }

  /** The hash of the baseline in force for a workload (to skip unchanged deltas), if any. */
  hashOf(workload: WorkloadId): string | undefined {
    return this.slotFor(workload, false)?.baseline?.hash;
  }

  /** False = the baseline allows it (or it was sent recently while learning): drop and count. */
  shouldSend(obs: Observation): boolean {
    const slot = this.weak.get(obs.workload) ?? this.lookup(obs.workload);
    const b = slot?.baseline;
    if (!slot || !b) return this.send();
    if (obs.run && !this.runsSent.has(obs.run)) {
      if (this.runsSent.size >= MAX_RUNS_SENT) this.runsSent.clear();
      this.runsSent.add(obs.run);
      return this.send();
    }
    const digest = obs.image.digest;
    if (digest !== null && b.images.size > 0 && !b.images.has(digest)) return this.send();
    if (obs.kind === 'process') {
      if (obs.process.inInitTree === false) return this.send();
      const h = this.hasher.process(obs.process.exe);
      if (b.items.has(h.hi, h.lo)) return this.drop('matched');
      if (b.phase !== 'learning') return this.send();
      return this.dedup(slot, b, h, obs.time, obs.process.exe);
    }
    const port = (obs.direction === 'egress' ? obs.peerPort : obs.localPort) ?? -1;
    const peer = obs.peerIp;
    if (peer !== null) {
      const h = this.hasher.network(obs.direction, obs.protocol, port, peer);
      if (b.items.has(h.hi, h.lo)) return this.drop('matched');
    }
    const rule = b.ranges?.get(portKey(obs.direction, obs.protocol, port));
    if (rule && allows(rule, obs)) return this.drop('matched');
    if (b.phase !== 'learning') return this.send();
    return this.dedup(slot, b, this.hasher.network(obs.direction, obs.protocol, port, obs.direction === 'listen' ? '' : (peer ?? '')), obs.time);
  }

  stats(): EdgeFilterStats {
    return { ...this.counters, workloads: this.slotCount, baselines: this.baselineCount };
  }

  /** Baselines held, by phase (for /metrics: shows whether the collector's edge state arrived). */
  phaseCounts(): Record<EdgeBaseline['phase'], number> {
    const counts = { learning: 0, active: 0, approved: 0 };
    this.forEachSlot((slot) => {
      if (slot.baseline) counts[slot.baseline.phase]++;
    });
    return counts;
  }

  private send(): boolean {
    this.counters.sent++;
    return true;
  }

  private drop(reason: 'matched' | 'deduplicated'): boolean {
    this.counters[reason]++;
    return false;
  }

  /**
   * Learning: the item `h` was sent less than a window ago (in event time) → drop it, unless it
   * is the run of an exe the baseline always wants (checked only then: most exes never are).
   */
  private dedup(slot: Slot, b: CompiledBaseline, h: SipHasher, time: number, exe: string | null = null): boolean {
    const sent = (slot.sent ??= new HashTable64(true));
    const last = sent.get(h.hi, h.lo);
    if (last !== undefined && time >= last && time - last < b.dedupWindowMs && (exe === null || !alwaysSends(b, exe))) return this.drop('deduplicated');
    if (last === undefined && (sent.size >= this.maxDedup || this.dedupTotal >= this.maxDedupTotal)) this.forgetSent(slot);
    if (slot.sent!.set(h.hi, h.lo, time)) this.dedupTotal++;
    return this.send();
  }

  /** Empties a workload's dedup table (fail open: its items are sent again). */
  private forgetSent(slot: Slot): void {
    if (!slot.sent) return;
    this.dedupTotal -= slot.sent.size;
    slot.sent.clear();
  }

  private install(slot: Slot, b: EdgeBaseline): void {
    // The hash covers phase, dedup window and allow set: unchanged hash, nothing to do.
    if (slot.baseline?.hash === b.hash) return;
    if (!slot.baseline) this.baselineCount++;
    // A new phase or allow set restarts the learning dedup: what was deduplicated against the old
    // state may be needed by the new one.
    this.forgetSent(slot);
    slot.sent = null;
    slot.baseline = compile(b, this.hasher);
  }

  private uninstall(slot: Slot): void {
    if (slot.baseline) this.baselineCount--;
    slot.baseline = undefined;
    this.forgetSent(slot);
    slot.sent = null;
  }

  private lookup(w: WorkloadId): Slot | undefined {
    const slot = this.slotFor(w, this.slotCount < this.maxWorkloads);
    if (slot) this.weak.set(w, slot);
    return slot;
  }

  /** The workload's slot by its fields (no allocation when it exists). */
  private slotFor(w: WorkloadId, create: boolean): Slot | undefined {
    const found = this.slots.get(w.namespace)?.get(w.name)?.get(w.container)?.get(w.kind)?.get(w.cluster);
    if (found || !create) return found;
    let byName = this.slots.get(w.namespace);
    if (!byName) this.slots.set(w.namespace, (byName = new Map()));
    let byContainer = byName.get(w.name);
    if (!byContainer) byName.set(w.name, (byContainer = new Map()));
    let byKind = byContainer.get(w.container);
    if (!byKind) byContainer.set(w.container, (byKind = new Map()));
    let byCluster = byKind.get(w.kind);
    if (!byCluster) byKind.set(w.kind, (byCluster = new Map()));
    const slot: Slot = { workload: { ...w }, baseline: undefined, sent: null };
    byCluster.set(w.cluster, slot);
    this.slotCount++;
    return slot;
  }

  private forEachSlot(fn: (slot: Slot) => void): void {
    for (const a of this.slots.values()) for (const b of a.values()) for (const c of b.values()) for (const d of c.values()) for (const s of d.values()) fn(s);
  }
}

function alwaysSends(b: CompiledBaseline, exe: string): boolean {
  return b.alwaysSendExes.has(exe) || b.alwaysSendGlobs.some((g) => g.test(exe));
}

function allows(rule: RangeRule, obs: NetworkObservation): boolean {
  if (rule.noPeer && obs.direction === 'listen') return true;
  if (rule.names && obs.peerName !== null && rule.names.has(normaliseDnsName(obs.peerName))) return true;
  const ip = obs.peerIp;
  if (ip === null) return false;
  if (rule.loopback && isLoopbackIp(ip)) return true;
  if (rule.v4) {
    const v = parseIpv4(ip);
    if (v !== null) for (const c of rule.v4) if (((v & c.mask) >>> 0) === c.base) return true;
  }
  if (rule.v6 && ip.includes(':')) {
    const v = parseIpv6(ip);
    if (v !== null) for (const c of rule.v6) if ((v & c.mask) === c.base) return true;
  }
  return false;
}

/** Compiles allow keys into lookup tables; keys the filter does not understand are ignored (sent). */
function compile(b: EdgeBaseline, hasher: ItemHasher): CompiledBaseline {
  const out: CompiledBaseline = {
    phase: b.phase,
    hash: b.hash,
    dedupWindowMs: b.learningDedupWindowMs,
    items: new HashTable64(false, b.allow.length),
    ranges: null,
    alwaysSendExes: new Set(),
    alwaysSendGlobs: [],
    images: new Set(),
  };
  for (const path of b.alwaysSend) {
    if (isGlob(path)) out.alwaysSendGlobs.push(compileGlob(path));
    else out.alwaysSendExes.add(path);
  }
  for (const key of b.allow) {
    if (key.startsWith('p|')) {
      const h = hasher.process(unescapeKeyField(key.slice(2)));
      out.items.set(h.hi, h.lo);
      continue;
    }
    if (key.startsWith('i|')) {
      out.images.add(key.slice(2));
      continue;
    }
    const parsed = parseNetworkKey(key);
    if (!parsed) continue;
    const port = parsed.port ?? -1;
    const peer = parsed.peer;
    if (peer.startsWith('ip|')) {
      const h = hasher.network(parsed.direction, parsed.protocol, port, peer.slice(3));
      out.items.set(h.hi, h.lo);
      continue;
    }
    const pk = portKey(parsed.direction, parsed.protocol, port);
    let rule = (out.ranges ??= new Map()).get(pk);
    if (!rule) out.ranges.set(pk, (rule = { v4: null, v6: null, loopback: false, noPeer: false, names: null }));
    if (peer === '-') rule.noPeer = true;
    else if (peer === 'lo') rule.loopback = true;
    else if (peer.startsWith('dns|')) (rule.names ??= new Set()).add(unescapeKeyField(peer.slice(4)));
    else if (peer.startsWith('net|')) {
      const c: Cidr | null = parseCidr(peer.slice(4));
      if (c?.v === 4) (rule.v4 ??= []).push({ base: c.base, mask: c.mask });
      else if (c?.v === 6) (rule.v6 ??= []).push({ base: c.base, mask: c.mask });
    }
  }
  return out;
}

function unescapeKeyField(s: string): string {
  return s.includes('%') ? s.replace(/%7C/g, '|').replace(/%25/g, '%') : s;
}
