/**
 * The one read interface over baselines: learning, evaluation, edge push and the API all see a
 * workload generation through a `BaselineView` (kubescape's node-agent keeps learning and rule
 * evaluation apart the same way: they meet at one read interface).
 *
 * Views are a bounded cache over the store (LRU by use). All state lives in the store; a view is
 * rebuilt from it on a miss, and `discard()` drops every view after a rolled-back transaction,
 * because views are updated in place as a transaction writes.
 */
import { generalisationPrefix } from '../../common/cidr.js';
import type { ItemDeriver } from '../../common/items/derive.js';
import { parseNetworkKey, type Item, type NetworkItem, type Peer, type PeerClass } from '../../common/items/keys.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import type { BaselineItemRecord, BaselineRecord } from '../store/baselines.js';
import type { Repositories } from '../store/contract.js';
import { matchRules, type EffectiveDeclared } from './declared.js';

/** One baseline generation of a workload, with its items. */
export interface BaselineView {
  workloadId: number;
  workload: WorkloadId;
  b: BaselineRecord;
  items: Map<string, BaselineItemRecord>;
  /** `<dir>|<proto>|<port>|<prefix>` → learned exact external addresses in that prefix. */
  prefixGroups: Map<string, Set<string>>;
  /** Latest event time seen for this generation (rebuilt from the items' last sightings). */
  maxSeenMs: number;
  /** Digests of older generations → their baseline id (0 = none): pods of a rollout in progress. */
  olderDigests: Map<string, number>;
  /** Run-to-completion workloads: the runs this generation learns from → first seen (loaded on first use, runs.ts). */
  learningRuns?: Map<string, number>;
}

export class BaselineViews {
  /** baseline id → view, least recently used first. */
  private readonly views = new Map<number, BaselineView>();
  /** workload id → current baseline id. */
  private readonly currentIds = new Map<number, number>();

  constructor(private readonly maxCached = 10_000) {}

  /** A generation by id, from the cache or the store. */
  async get(repos: Repositories, baselineId: number): Promise<BaselineView | undefined> {
    const cached = this.views.get(baselineId);
    if (cached) {
      this.views.delete(baselineId);
      this.views.set(baselineId, cached);
      return cached;
    }
    const b = await repos.baselines.get(baselineId);
    if (!b) return undefined;
    const w = await repos.workloads.get(b.workloadId);
    if (!w) return undefined;
    const view: BaselineView = { workloadId: b.workloadId, workload: w.workload, b, items: new Map(), prefixGroups: new Map(), maxSeenMs: b.learningStartMs ?? 0, olderDigests: new Map() };
    for (const it of await repos.baselines.items(b.id)) {
      view.items.set(it.key, it);
      view.maxSeenMs = Math.max(view.maxSeenMs, it.lastSeenMs);
    }
    rebuildPrefixGroups(view);
    return this.put(view);
  }

  /** The workload's current (newest) generation, if it has one. */
  async current(repos: Repositories, workloadId: number): Promise<BaselineView | undefined> {
    const cachedId = this.currentIds.get(workloadId);
    const cached = cachedId !== undefined ? await this.get(repos, cachedId) : undefined;
    if (cached) return cached;
    const current = await repos.baselines.current(workloadId);
    if (!current) return undefined;
    this.currentIds.set(workloadId, current.id);
    return this.get(repos, current.id);
  }

  /** Caches a view (a new generation) and makes it the workload's current one. */
  putCurrent(view: BaselineView): BaselineView {
    this.currentIds.set(view.workloadId, view.b.id);
    return this.put(view);
  }

  /** Forgets a cached generation so that the next read comes from the store (after a concurrent change). */
  forget(baselineId: number): void {
    this.views.delete(baselineId);
  }

  discard(): void {
    this.views.clear();
    this.currentIds.clear();
  }

  private put(view: BaselineView): BaselineView {
    this.views.set(view.b.id, view);
    if (this.views.size > this.maxCached) {
      const oldest = this.views.keys().next().value as number;
      const evicted = this.views.get(oldest)!;
      this.views.delete(oldest);
      if (this.currentIds.get(evicted.workloadId) === oldest) this.currentIds.delete(evicted.workloadId);
    }
    return view;
  }
}

/** A fresh, empty view of a generation just inserted. */
export function emptyView(workloadId: number, workload: WorkloadId, b: BaselineRecord, maxSeenMs: number): BaselineView {
  return { workloadId, workload, b, items: new Map(), prefixGroups: new Map(), maxSeenMs, olderDigests: new Map() };
}

/**
 * Does the baseline allow this item? Learned items (a start-up-only item only during start-up) or,
 * unless declared rules replace what was learned, the declared allow rules.
 */
export function allows(deriver: ItemDeriver, view: BaselineView, item: Item, obs: Observation, decl: EffectiveDeclared, startup: boolean): boolean {
  if (decl.mode !== 'replace') {
    for (const key of deriver.candidateKeys(item)) {
      const it = view.items.get(key);
      if (it && (it.phase === 'steady' || startup)) return true;
    }
  }
  return matchRules(decl.allow, obs, item) !== null;
}

/** Groups the view's learned exact external addresses by prefix (the generalisation's input). */
export function rebuildPrefixGroups(view: BaselineView): void {
  view.prefixGroups.clear();
  for (const it of view.items.values()) {
    const parsed = parseNetworkKey(it.key);
    if (!parsed?.peer.startsWith('ip|') || it.detail.peerClass !== 'external') continue;
    const ip = parsed.peer.slice(3);
    const prefix = generalisationPrefix(ip);
    if (!prefix) continue;
    prefixGroupOf(view, `${parsed.direction}|${parsed.protocol}|${parsed.port ?? '*'}|${prefix}`).add(ip);
  }
}

export function prefixGroupOf(view: BaselineView, groupKey: string): Set<string> {
  let group = view.prefixGroups.get(groupKey);
  if (!group) view.prefixGroups.set(groupKey, (group = new Set()));
  return group;
}

/** The item a stored baseline item stands for (its key and detail hold everything). */
export function itemOfRecord(rec: BaselineItemRecord): Item {
  const d = rec.detail;
  if (rec.kind === 'process') return { kind: 'process', key: rec.key, exe: String(d.exe), argsPattern: (d.args as string[] | undefined)?.[0] ?? '' };
  const peer: Peer = { class: d.peerClass as PeerClass };
  if (typeof d.ip === 'string') peer.ip = d.ip;
  if (typeof d.cidr === 'string') peer.cidr = d.cidr;
  if (typeof d.peerName === 'string') peer.name = d.peerName;
  return {
    kind: 'network',
    key: rec.key,
    direction: d.direction as NetworkItem['direction'],
    protocol: d.protocol as NetworkItem['protocol'],
    port: typeof d.port === 'number' ? d.port : null,
    peer,
    peerName: typeof d.dnsName === 'string' ? d.dnsName : null,
  };
}

/** How an item is stored in a baseline: its structured parts (`args` holds the patterns seen). */
export function itemRecordDetail(item: Item): Record<string, unknown> {
  return item.kind === 'process' ? { exe: item.exe, args: [item.argsPattern] } : networkDetail(item);
}

export function networkDetail(item: NetworkItem): Record<string, unknown> {
  return {
    direction: item.direction,
    protocol: item.protocol,
    port: item.port,
    peerClass: item.peer.class,
    ...(item.peer.ip ? { ip: item.peer.ip } : {}),
    ...(item.peer.cidr ? { cidr: item.peer.cidr } : {}),
    ...(item.peer.name ? { peerName: item.peer.name } : {}),
    ...(item.peerName ? { dnsName: item.peerName } : {}),
  };
}
