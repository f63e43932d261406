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
 * While learning, each distinct raw item (exe; direction/protocol/port/peer address) is sent at
 * most once per `learningDedupWindowMs` of event time; the rest is dropped and counted. Exes the
 * baseline lists in `alwaysSend` are never deduplicated: a declared rule decides their runs by
 * their arguments, which the dedup key leaves out.
 *
 * Lookups use only fields the observation already holds (nested Maps keyed by direction,
 * protocol, port, address): no key is concatenated per event. Workloads are found through a
 * WeakMap keyed by the WorkloadId object (identity resolvers intern them), falling back to nested
 * Maps by field.
 */
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import { compileGlob, isGlob, type Glob } from '../../common/glob.js';
import { parseCidr, parseIpv4, parseIpv6, isLoopbackIp, type Cidr } from '../../common/cidr.js';
import { normaliseDnsName } from '../../common/items/derive.js';
import { parseNetworkKey } from '../../common/items/keys.js';
import type { NetworkObservation, Observation, WorkloadId } from '../../common/model.js';

/** What one (direction, protocol, port) allows; the parts are created only when used (memory). */
interface PortRule {
  ips: Set<string> | null;
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
  exes: Set<string>;
  /** Never deduplicated while learning: exact exe paths, and exe globs. */
  alwaysSendExes: Set<string>;
  alwaysSendGlobs: Glob[];
  /** Image digests covered; empty = any. */
  images: Set<string>;
  /** direction → protocol → port (-1 = unknown) → rule. */
  net: Map<string, Map<string, Map<number, PortRule>>>;
}

interface Slot {
  workload: WorkloadId;
  baseline: CompiledBaseline | undefined;
  /** Learning dedup: exe → last event time sent. */
  sentExe: Map<string, number>;
  /** Learning dedup: direction → protocol → port → peer address → last event time sent. */
  sentNet: Map<string, Map<string, Map<number, Map<string, number>>>>;
  dedupEntries: number;
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
  /** Bound on workloads tracked (beyond it, unknown workloads are simply sent). */
  maxWorkloads?: number;
}

export class EdgeFilter {
  private readonly weak = new WeakMap<WorkloadId, Slot>();
  /** namespace → name → container → kind → cluster → slot. */
  private readonly slots = new Map<string, Map<string, Map<string, Map<string, Map<string, Slot>>>>>();
  private slotCount = 0;
  private baselineCount = 0;
  private readonly maxDedup: number;
  private readonly maxWorkloads: number;
  private readonly counters = { matched: 0, deduplicated: 0, sent: 0 };

  constructor(opts: EdgeFilterOptions = {}) {
    this.maxDedup = opts.maxDedupEntriesPerWorkload ?? 4096;
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
    const digest = obs.image.digest;
    if (digest !== null && b.images.size > 0 && !b.images.has(digest)) return this.send();
    if (obs.kind === 'process') {
      if (obs.process.inInitTree === false) return this.send();
      if (b.exes.has(obs.process.exe)) return this.drop('matched');
      if (b.phase !== 'learning') return this.send();
      return this.dedupProcess(slot, b, obs.process.exe, obs.time);
    }
    const port = (obs.direction === 'egress' ? obs.peerPort : obs.localPort) ?? -1;
    const rule = b.net.get(obs.direction)?.get(obs.protocol)?.get(port);
    if (rule && allows(rule, obs)) return this.drop('matched');
    if (b.phase !== 'learning') return this.send();
    return this.dedupNetwork(slot, b, obs, port);
  }

  stats(): EdgeFilterStats {
    return { ...this.counters, workloads: this.slotCount, baselines: this.baselineCount };
  }

  private send(): boolean {
    this.counters.sent++;
    return true;
  }

  private drop(reason: 'matched' | 'deduplicated'): boolean {
    this.counters[reason]++;
    return false;
  }

  private dedupProcess(slot: Slot, b: CompiledBaseline, exe: string, time: number): boolean {
    const last = slot.sentExe.get(exe);
    // The always-send check runs only for what would be dropped: most exes are never looked up.
    if (last !== undefined && time >= last && time - last < b.dedupWindowMs && !alwaysSends(b, exe)) return this.drop('deduplicated');
    if (last === undefined) this.countDedupEntry(slot);
    slot.sentExe.set(exe, time);
    return this.send();
  }

  private dedupNetwork(slot: Slot, b: CompiledBaseline, obs: NetworkObservation, port: number): boolean {
    let byProto = slot.sentNet.get(obs.direction);
    if (!byProto) slot.sentNet.set(obs.direction, (byProto = new Map()));
    let byPort = byProto.get(obs.protocol);
    if (!byPort) byProto.set(obs.protocol, (byPort = new Map()));
    let byPeer = byPort.get(port);
    if (!byPeer) byPort.set(port, (byPeer = new Map()));
    const peer = obs.direction === 'listen' ? '' : (obs.peerIp ?? '');
    const last = byPeer.get(peer);
    if (last !== undefined && obs.time >= last && obs.time - last < b.dedupWindowMs) return this.drop('deduplicated');
    if (last === undefined) this.countDedupEntry(slot);
    byPeer.set(peer, obs.time);
    return this.send();
  }

  private countDedupEntry(slot: Slot): void {
    if (++slot.dedupEntries > this.maxDedup) {
      slot.sentExe.clear();
      slot.sentNet.clear();
      slot.dedupEntries = 1;
    }
  }

  private install(slot: Slot, b: EdgeBaseline): void {
    // The hash covers phase, dedup window and allow set: unchanged hash, nothing to do.
    if (slot.baseline?.hash === b.hash) return;
    if (!slot.baseline) this.baselineCount++;
    // A new phase or allow set restarts the learning dedup: what was deduplicated against the old
    // state may be needed by the new one.
    slot.sentExe.clear();
    slot.sentNet.clear();
    slot.dedupEntries = 0;
    slot.baseline = compile(b);
  }

  private uninstall(slot: Slot): void {
    if (slot.baseline) this.baselineCount--;
    slot.baseline = undefined;
    slot.sentExe.clear();
    slot.sentNet.clear();
    slot.dedupEntries = 0;
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
    const slot: Slot = { workload: { ...w }, baseline: undefined, sentExe: new Map(), sentNet: new Map(), dedupEntries: 0 };
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

function allows(rule: PortRule, obs: NetworkObservation): boolean {
  if (rule.noPeer && obs.direction === 'listen') return true;
  if (rule.names && obs.peerName !== null && rule.names.has(normaliseDnsName(obs.peerName))) return true;
  const ip = obs.peerIp;
  if (ip === null) return false;
  if (rule.ips?.has(ip)) return true;
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
export function compile(b: EdgeBaseline): CompiledBaseline {
  const out: CompiledBaseline = {
    phase: b.phase,
    hash: b.hash,
    dedupWindowMs: b.learningDedupWindowMs,
    exes: new Set(),
    alwaysSendExes: new Set(),
    alwaysSendGlobs: [],
    images: new Set(),
    net: new Map(),
  };
  for (const path of b.alwaysSend) {
    if (isGlob(path)) out.alwaysSendGlobs.push(compileGlob(path));
    else out.alwaysSendExes.add(path);
  }
  for (const key of b.allow) {
    if (key.startsWith('p|')) {
      out.exes.add(unescapeKeyField(key.slice(2)));
      continue;
    }
    if (key.startsWith('i|')) {
      out.images.add(key.slice(2));
      continue;
    }
    const parsed = parseNetworkKey(key);
    if (!parsed) continue;
    let byProto = out.net.get(parsed.direction);
    if (!byProto) out.net.set(parsed.direction, (byProto = new Map()));
    let byPort = byProto.get(parsed.protocol);
    if (!byPort) byProto.set(parsed.protocol, (byPort = new Map()));
    const port = parsed.port ?? -1;
    let rule = byPort.get(port);
    if (!rule) byPort.set(port, (rule = { ips: null, v4: null, v6: null, loopback: false, noPeer: false, names: null }));
    const peer = parsed.peer;
    if (peer === '-') rule.noPeer = true;
    else if (peer === 'lo') rule.loopback = true;
    else if (peer.startsWith('ip|')) (rule.ips ??= new Set()).add(peer.slice(3));
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
