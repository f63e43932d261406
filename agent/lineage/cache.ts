/**
 * Process lineage: a bounded cache of the processes a source has told us about, keyed by
 * Tetragon `exec_id` (or `node#pid` for Falco, which has nothing better), from which each
 * process's ancestor chain is rebuilt up to its container's entrypoint.
 *
 * Memory is capped by construction (like Tetragon's own process cache): at most `maxProcesses`
 * records and about `maxBytes` of them, evicted oldest-inserted first. An exit does not delete at
 * once: the record stays for `exitGraceMs` so that late kprobe events of the exiting process still
 * resolve, and an exited parent stays while live children reference it (refcount), so a child's
 * chain does not break because its shell exited first. Eviction under the caps wins over both.
 *
 * On a busy node the cache is full and every new process evicts one: the records form a
 * doubly-linked list in insertion order, so eviction and removal are O(1). (Taking the first
 * entry of a Map is not: V8's iterator steps over every deleted slot at the front of the table.)
 * Strings that many records share (exe paths, container ids, the parent's key) are stored once.
 *
 * Clock: `now()` is injectable (tests); grace is measured on it, never on event time, because it
 * bounds memory, not semantics.
 */
import type { Ancestor } from '../../common/model.js';
import { Interner } from '../intern.js';

export interface ProcessInfo {
  /** exec_id (Tetragon) or `node#pid` (Falco). */
  key: string;
  /** Tetragon exec_id; null for Falco. */
  execId: string | null;
  parentKey: string | null;
  exe: string;
  args: string | null;
  pid: number | null;
  /** Container id (runtime prefix stripped); null for host processes. */
  containerId: string | null;
  /** PID inside the container's PID namespace (Tetragon `container.pid`, Falco `proc.vpid`). */
  containerPid: number | null;
  /** Tetragon `in_init_tree` when present. */
  inInitTree: boolean | null;
  /** Announced by Tetragon's /proc scan (`procFS` flag): predates the sensor. */
  procFs: boolean;
  /** Seen through its own exec event (false = first seen through a later event). */
  fromExec: boolean;
}

/**
 * What one record costs besides its own strings, measured in a heap snapshot of the agent (Node.js
 * 20 x64, no pointer compression): the object 168 bytes (18 fields), its boxed exit time 16, its
 * share of the Map's table ~40, the ancestor view (once built) 56. Used for the byte bound, so
 * rounded up.
 */
const RECORD_OVERHEAD_BYTES = 288;

/**
 * A string of the record's own: V8's 16-byte header plus one byte per character, rounded up to 8.
 * Command lines outside Latin-1 take two bytes per character; they are rare, and field limits
 * (common/field-limits.ts) cap their length.
 */
function stringBytes(s: string | null): number {
  return s === null ? 0 : 16 + ((s.length + 7) & ~7);
}

/** A cached process. A class (one hidden class, fields copied explicitly) because it is made per exec. */
export class ProcessRecord implements ProcessInfo {
  readonly key: string;
  readonly execId: string | null;
  readonly parentKey: string | null;
  readonly exe: string;
  readonly args: string | null;
  readonly pid: number | null;
  readonly containerId: string | null;
  readonly containerPid: number | null;
  readonly inInitTree: boolean | null;
  readonly procFs: boolean;
  readonly fromExec: boolean;
  /** Estimated memory of this record: itself and its own strings (key, parent key, arguments). */
  readonly bytes: number;
  /** 0 while alive; `now()` of the exit otherwise. */
  exitedAt = 0;
  /** Live records whose parentKey is this record (and that counted themselves in). */
  children = 0;
  linkedToParent = false;
  /** Insertion order: the next older / newer record in the cache (null at the ends or once removed). */
  older: ProcessRecord | null = null;
  newer: ProcessRecord | null = null;
  private ancestorView: Readonly<Ancestor> | null = null;

  /** `parentKey`, `exe`, `containerId`: the info's values, or equal strings the cache already holds. */
  constructor(info: ProcessInfo, parentKey = info.parentKey, exe = info.exe, containerId = info.containerId) {
    this.key = info.key;
    this.execId = info.execId;
    this.parentKey = parentKey;
    this.exe = exe;
    this.args = info.args;
    this.pid = info.pid;
    this.containerId = containerId;
    this.containerPid = info.containerPid;
    this.inInitTree = info.inInitTree;
    this.procFs = info.procFs;
    this.fromExec = info.fromExec;
    // exe and containerId are interned (shared by many records); parentKey is counted although it
    // is the cached parent's own key when the parent is known: rather high than low.
    this.bytes = RECORD_OVERHEAD_BYTES + stringBytes(info.key) + stringBytes(info.parentKey) + stringBytes(info.args);
  }

  /** The Ancestor view of this record, built when first needed and shared by every chain that contains it. */
  get asAncestor(): Readonly<Ancestor> {
    return (this.ancestorView ??= { exe: this.exe, args: this.args, pid: this.pid, execId: this.execId });
  }
}

export interface Lineage {
  /** Shared Ancestor objects: read, never mutate. */
  ancestors: Readonly<Ancestor>[];
  complete: boolean;
  inInitTree: boolean | null;
  sessionId: string | null;
}

export interface LineageCacheOptions {
  maxProcesses: number;
  /** Bound on the records' estimated memory (default 8 MiB). */
  maxBytes?: number;
  /** How long an exited process stays resolvable (default 30 s). */
  exitGraceMs?: number;
  /** Containers remembered as pre-existing (default 4096; the older half is forgotten first). */
  maxContainers?: number;
  now?: () => number;
}

export interface LineageStats {
  size: number;
  /** Estimated memory of the records held. */
  bytes: number;
  evicted: number;
  expired: number;
}

/** Longest chain rebuilt; deeper chains are reported as partial. */
const MAX_DEPTH = 32;
export const DEFAULT_LINEAGE_MAX_BYTES = 8 * 1024 * 1024;
/** Distinct exe paths and container ids kept shared (then the pools start over). */
const MAX_INTERNED = 16_384;

export class LineageCache {
  private readonly records = new Map<string, ProcessRecord>();
  /** Ends of the insertion-order list: `oldest` is evicted first. */
  private oldest: ProcessRecord | null = null;
  private newest: ProcessRecord | null = null;
  private readonly exes = new Interner(MAX_INTERNED);
  private readonly containers = new Interner(MAX_INTERNED);
  /** Exited records in exit order: [record, exitedAt]. */
  private exits: ProcessRecord[] = [];
  private exitsHead = 0;
  /** Records in `exits` still in the cache (the others were evicted or replaced meanwhile). */
  private liveExits = 0;
  /** Containers seen to predate this agent: two generations, the older dropped when the newer fills. */
  private preexisting = new Set<string>();
  private preexistingOlder = new Set<string>();
  private readonly maxProcesses: number;
  private readonly maxBytes: number;
  private readonly exitGraceMs: number;
  private readonly maxContainers: number;
  private readonly now: () => number;
  readonly stats: LineageStats = { size: 0, bytes: 0, evicted: 0, expired: 0 };

  constructor(opts: LineageCacheOptions) {
    this.maxProcesses = Math.max(1, opts.maxProcesses);
    this.maxBytes = opts.maxBytes ?? DEFAULT_LINEAGE_MAX_BYTES;
    this.exitGraceMs = opts.exitGraceMs ?? 30_000;
    this.maxContainers = opts.maxContainers ?? 4096;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.records.size;
  }

  get(key: string): ProcessRecord | undefined {
    return this.records.get(key);
  }

  /** Inserts or replaces the record for `info.key` and returns it. */
  upsert(info: ProcessInfo): ProcessRecord {
    this.sweep();
    const old = this.records.get(info.key);
    if (old) {
      // Replaced, not gone: its children keep counting on the new record.
      this.unlinkParent(old, false);
      this.forget(old);
    }
    const parent = info.parentKey !== null ? this.records.get(info.parentKey) : undefined;
    // Shared strings: the parent's own key, one copy per exe path and per container.
    const rec = new ProcessRecord(
      info,
      parent ? parent.key : info.parentKey,
      this.exes.intern(info.exe),
      info.containerId === null ? null : this.containers.intern(info.containerId),
    );
    if (old) rec.children = old.children;
    if (parent) {
      parent.children++;
      rec.linkedToParent = true;
    }
    this.records.set(rec.key, rec);
    this.append(rec);
    while (this.oldest !== null && (this.records.size > this.maxProcesses || (this.stats.bytes > this.maxBytes && this.oldest !== rec))) {
      this.remove(this.oldest, true);
      this.stats.evicted++;
    }
    this.stats.size = this.records.size;
    return rec;
  }

  /** Inserts only when unknown (information from a later event never overrides an exec's). */
  ensure(info: ProcessInfo): ProcessRecord {
    return this.records.get(info.key) ?? this.upsert(info);
  }

  /** The process exited: it stays resolvable for the grace period (or while children live). */
  exit(key: string): void {
    this.sweep();
    const rec = this.records.get(key);
    if (!rec || rec.exitedAt !== 0) return;
    rec.exitedAt = Math.max(1, this.now());
    this.exits.push(rec);
    this.liveExits++;
    this.compactExits();
  }

  markContainerPreexisting(containerId: string | null): void {
    if (!containerId) return;
    const id = containerKey(containerId);
    if (this.preexisting.has(id)) return;
    this.preexisting.add(id);
    this.preexistingOlder.delete(id);
    if (this.preexisting.size >= Math.max(1, this.maxContainers >> 1)) {
      this.preexistingOlder = this.preexisting;
      this.preexisting = new Set();
    }
  }

  isContainerPreexisting(containerId: string | null): boolean {
    if (containerId === null) return false;
    const id = containerKey(containerId);
    return this.preexisting.has(id) || this.preexistingOlder.has(id);
  }

  /**
   * Rebuilds the chain above `rec`, nearest parent first, up to the container entrypoint: the
   * walk stops at a parent outside the container (containerd-shim, runc, conmon…) or at the
   * container's PID 1. For host processes it stops at PID 1. `complete` is false when a link is
   * missing from the cache (agent restarted, evicted) or the chain is deeper than MAX_DEPTH.
   */
  resolve(rec: ProcessRecord): Lineage {
    const ancestors: Readonly<Ancestor>[] = [];
    const inContainer = rec.containerId !== null;
    let top: ProcessRecord = rec;
    let complete = false;
    let cur: ProcessRecord = rec;
    for (let depth = 0; ; depth++) {
      if (isEntrypoint(cur, inContainer)) {
        complete = true;
        break;
      }
      if (cur.parentKey === null || depth >= MAX_DEPTH) break;
      const parent = this.records.get(cur.parentKey);
      if (!parent) break;
      if (inContainer && parent.containerId !== rec.containerId) {
        complete = true;
        break;
      }
      ancestors.push(parent.asAncestor);
      top = parent;
      cur = parent;
    }
    let inInitTree = rec.inInitTree;
    if (inInitTree === null && inContainer && complete && top.containerPid !== null) inInitTree = top.containerPid === 1;
    // Outside the init tree, so are all its in-container ancestors: the topmost one entered the
    // container (kubectl exec) and names the session.
    const sessionId = inInitTree === false ? top.key : null;
    return { ancestors, complete, inInitTree, sessionId };
  }

  /** Drops exited records whose grace has passed (and that no live child holds). */
  sweep(): void {
    if (this.exitsHead === this.exits.length) return;
    const cutoff = this.now() - this.exitGraceMs;
    while (this.exitsHead < this.exits.length) {
      const rec = this.exits[this.exitsHead]!;
      if (rec.exitedAt > cutoff) break;
      this.exitsHead++;
      if (this.records.get(rec.key) === rec && rec.children === 0) {
        this.remove(rec, true);
        this.stats.expired++;
      }
    }
    this.compactExits();
    this.stats.size = this.records.size;
  }

  /**
   * Keeps the exit queue as long as the exited records the cache still holds (plus slack):
   * records evicted before their grace ended must not stay reachable from it.
   */
  private compactExits(): void {
    const stale = this.exits.length - this.exitsHead - this.liveExits;
    // Compacting costs the queue's length: waiting for a quarter of stale entries keeps it O(1) per exit.
    if (stale > (this.liveExits >> 2) + 1024) {
      this.exits = this.exits.slice(this.exitsHead).filter((r) => r.exitedAt !== 0 && this.records.get(r.key) === r);
      this.exitsHead = 0;
    } else if (this.exitsHead > 1024 && this.exitsHead * 2 > this.exits.length) {
      this.exits.splice(0, this.exitsHead);
      this.exitsHead = 0;
    }
  }

  private remove(rec: ProcessRecord, expireParent: boolean): void {
    this.forget(rec);
    this.unlinkParent(rec, expireParent);
  }

  /** Takes a record out of the map and the insertion-order list. */
  private forget(rec: ProcessRecord): void {
    this.records.delete(rec.key);
    if (rec.exitedAt !== 0) this.liveExits--;
    if (rec.older) rec.older.newer = rec.newer;
    else if (this.oldest === rec) this.oldest = rec.newer;
    if (rec.newer) rec.newer.older = rec.older;
    else if (this.newest === rec) this.newest = rec.older;
    rec.older = rec.newer = null;
    this.stats.bytes -= rec.bytes;
  }

  private append(rec: ProcessRecord): void {
    rec.older = this.newest;
    if (this.newest) this.newest.newer = rec;
    else this.oldest = rec;
    this.newest = rec;
    this.stats.bytes += rec.bytes;
  }

  private unlinkParent(rec: ProcessRecord, expireParent: boolean): void {
    if (!rec.linkedToParent || rec.parentKey === null) return;
    rec.linkedToParent = false;
    const parent = this.records.get(rec.parentKey);
    if (!parent) return;
    parent.children = Math.max(0, parent.children - 1);
    // An exited parent that only stayed for this child goes with it once its own grace passed.
    if (expireParent && parent.children === 0 && parent.exitedAt !== 0 && parent.exitedAt <= this.now() - this.exitGraceMs) {
      this.remove(parent, true);
      this.stats.expired++;
    }
  }
}

function isEntrypoint(rec: ProcessRecord, inContainer: boolean): boolean {
  return inContainer ? rec.containerPid === 1 : rec.pid === 1;
}

/** Container ids are compared on their first 12 hex characters (Falco gives only those). */
function containerKey(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}
