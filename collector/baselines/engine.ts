/**
 * The detection engine: learns one baseline per workload container and raises deviations from it
 * and from the declared baselines.
 *
 * Everything is decided in event time, so that replaying a recording gives the result of living
 * it, and as far as possible independently of the order in which the nodes' streams arrive:
 * - an item first seen before the learning window ended is learned, even when it arrives after
 *   the baseline turned active (and a deviation raised meanwhile for it is resolved);
 * - the window end only moves forward (start + window, extended by new items up to maxWindow),
 *   and when it moves past deviations already raised, those become learned items;
 * - deviations merge by min/max/sum/union, samples keep the earliest events.
 *
 * All state lives in the store; the Maps here are bounded caches rebuilt from it on a miss.
 * After a rolled-back transaction the caller must call `discardPending()`.
 */
import { createHash } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { CollectorConfig } from '../../common/config/schema.js';
import {
  severityRank,
  type BaselinePhase,
  type BaselineSummary,
  type CollectorEvent,
  type Deviation,
  type DeviationKind,
  type DeviationStatus,
} from '../../common/deviations.js';
import { parseDuration } from '../../common/duration.js';
import { cidrsOverlap, generalisationPrefix, parseCidr, cidrContains } from '../../common/cidr.js';
import { describeItem, imageKey, networkKey, parseNetworkKey, type Item, type NetworkItem, type Peer, type PeerClass } from '../../common/items/keys.js';
import { ItemDeriver, type PeerResolver } from '../../common/items/derive.js';
import type { Component } from '../../common/lifecycle.js';
import { once } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { Observation, ProcessContext, WorkloadId } from '../../common/model.js';
import { workloadKey } from '../../common/model.js';
import type { BaselineService, DetectionEngine, DeviationService, IngestContext } from '../contracts.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import { FIXED_SEVERITY, SeverityRules, isShell, type SeverityVerdict } from '../deviations/severity.js';
import type { CollectorBus } from '../events.js';
import { BaselinesTable, type BaselineItemRecord, type BaselineRecord, type ItemPhase } from '../store/baselines.js';
import type { SqlDatabase } from '../store/db.js';
import { DeviationsTable, type DeviationWrite, type SessionCommand, type StoredDeviation } from '../store/deviations.js';
import { WorkloadsTable, type ImagePolicy } from '../store/workloads.js';
import { DeclaredBaselines, formatDeclaredError, matchRules, type DeclaredError, type EffectiveDeclared, type ReloadResult, type RuleSet } from './declared.js';

export interface EngineOptions {
  db: SqlDatabase;
  bus: CollectorBus;
  config: Readonly<CollectorConfig>;
  /** The cluster name (config `cluster`). */
  cluster: string;
  logger: Logger;
  registry?: Registry;
  /** Resolves pod and service addresses (Kubernetes API watcher); without it pods are a class. */
  resolver?: PeerResolver | null;
  /** Cached baselines (default 10,000). */
  maxCachedBaselines?: number;
}

export interface Engine extends DetectionEngine, BaselineService, DeviationService, Component {
  /** Re-reads the declared baselines now (the directory is also watched). */
  reload(): ReloadResult;
  /** Problems of the declared baselines' last reload (file:line:column + reason). */
  declaredErrors(): DeclaredError[];
}

export class EngineError extends Error {
  constructor(
    readonly code: 'DW_ERR_NOT_FOUND' | 'DW_ERR_CONFLICT',
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export function createEngine(opts: EngineOptions): Engine {
  return new BaselineEngine(opts);
}

/** The engine's cache of one baseline generation. */
interface View {
  workloadId: number;
  workload: WorkloadId;
  b: BaselineRecord;
  items: Map<string, BaselineItemRecord>;
  /** `<dir>|<proto>|<port>|<prefix>` → learned exact external addresses in that prefix. */
  prefixGroups: Map<string, Set<string>>;
  /** Latest event time seen for this generation (cache; rebuilt from items' last sightings). */
  maxSeenMs: number;
  /** Digests of older generations → their baseline id (0 = none): pods of a rollout in progress. */
  olderDigests: Map<string, number>;
}

/** What one sighting (an observation, or a learned item moved out of the window) adds to a deviation. */
interface Sighting {
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  pod: string | null;
  node: string | null;
  image: string | null;
  sample: Observation | null;
}

/** How many samples a deviation keeps and the latest one's time: skip loading them when full. */
interface Sampled {
  n: number;
  maxMs: number;
}

function sightingOf(obs: Observation): Sighting {
  return { firstSeenMs: obs.time, lastSeenMs: obs.time, count: 1, pod: obs.pod, node: obs.node, image: imageText(obs), sample: obs };
}

/** Engine bookkeeping stored with a deviation (`detail.engine`), enough to learn it later. */
interface DeviationBook {
  item: Item;
  /** Seen at least once outside a start-up grace period. */
  steady: boolean;
}

const MAX_SAMPLES = 5;
const MAX_PODS = 50;
const MAX_COMMANDS = 100;
const MAX_ARG_PATTERNS = 10;
const SYSTEM_ACTOR = 'driftwatch';
const CONVERTIBLE: readonly DeviationKind[] = ['process', 'network'];

class BaselineEngine implements Engine {
  readonly name = 'engine';
  private readonly db: SqlDatabase;
  private readonly workloads: WorkloadsTable;
  private readonly baselines: BaselinesTable;
  private readonly deviations: DeviationsTable;
  private readonly deriver: ItemDeriver;
  private readonly severity: SeverityRules;
  private readonly declared: DeclaredBaselines;
  private readonly windowMs: number;
  private readonly maxWindowMs: number;
  private readonly extensionMs: number;
  private readonly graceMs: number;
  private readonly dedupMs: number;
  private readonly maxItems: number;
  private readonly generaliseAfter: number;
  private readonly maxCached: number;
  /** baseline id → view (LRU by insertion order). */
  private readonly views = new Map<number, View>();
  /** workload id → current baseline id. */
  private readonly currentIds = new Map<number, number>();
  private readonly pendingDeviations = new Map<number, 'created' | 'updated'>();
  private readonly pendingOther: CollectorEvent[] = [];
  private readonly pendingStatus: { id: number; previous: DeviationStatus; actor: string }[] = [];
  private readonly pendingEdge = new Set<number>();
  private readonly edgeListeners = new Set<(changed: EdgeBaseline[]) => void>();
  private readonly metrics: { observations: Counter<'result'>; deviations: Counter<'kind'> };

  constructor(private readonly opts: EngineOptions) {
    const c = opts.config;
    this.db = opts.db;
    this.workloads = new WorkloadsTable(this.db);
    this.baselines = new BaselinesTable(this.db);
    this.deviations = new DeviationsTable(this.db);
    this.deriver = new ItemDeriver(c.network, opts.resolver ?? null);
    this.severity = new SeverityRules({ serviceCidrs: c.network.serviceCidrs });
    this.windowMs = parseDuration(c.learning.window);
    this.maxWindowMs = Math.max(this.windowMs, parseDuration(c.learning.maxWindow));
    // Never longer than the window itself: the first item must not set the minimum learning time.
    this.extensionMs = Math.min(this.windowMs, parseDuration(c.learning.extension ?? '6h'));
    this.graceMs = parseDuration(c.learning.startupGrace);
    this.dedupMs = parseDuration(c.learning.edgeDedupWindow ?? '10m');
    this.maxItems = c.learning.maxItemsPerBaseline;
    this.generaliseAfter = c.network.generaliseAfter ?? 3;
    this.maxCached = opts.maxCachedBaselines ?? 10_000;
    this.declared = new DeclaredBaselines({
      dir: c.baselinesDir,
      onChange: () => this.onDeclaredChange(),
      onError: (errors) => {
        for (const e of errors) this.opts.logger.warn('declared baseline rejected; its last good version stays in force', { error: formatDeclaredError(e) });
      },
    });
    const registers = opts.registry ? [opts.registry] : [];
    this.metrics = {
      observations: new Counter({
        name: 'driftwatch_engine_observations_total',
        help: 'Observations evaluated by the engine, by result',
        labelNames: ['result'],
        registers,
      }),
      deviations: new Counter({ name: 'driftwatch_engine_deviations_created_total', help: 'Deviations created, by kind', labelNames: ['kind'], registers }),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Component

  async start(): Promise<void> {
    this.declared.reload();
    this.declared.watch();
  }

  close = once(async () => {
    this.declared.close();
    this.edgeListeners.clear();
  });

  reload(): ReloadResult {
    return this.declared.reload();
  }

  declaredErrors(): DeclaredError[] {
    return this.declared.errors();
  }

  discardPending(): void {
    this.views.clear();
    this.currentIds.clear();
    this.workloads.invalidate();
    this.pendingDeviations.clear();
    this.pendingOther.length = 0;
    this.pendingStatus.length = 0;
    this.pendingEdge.clear();
  }

  // -------------------------------------------------------------------------------------------
  // DetectionEngine

  ingest(observations: readonly Observation[], _ctx: IngestContext): void {
    try {
      this.db.transaction(() => {
        for (const obs of observations) this.observe(obs);
      });
    } catch (err) {
      this.discardPending();
      throw err;
    }
  }

  flushEvents(): void {
    const bus = this.opts.bus;
    for (const e of this.pendingOther.splice(0)) bus.emit(e);
    const created = [...this.pendingDeviations];
    this.pendingDeviations.clear();
    for (const [id, what] of created) {
      const d = this.deviations.get(id)?.deviation;
      if (d) bus.emit({ type: what === 'created' ? 'deviation.created' : 'deviation.updated', deviation: d });
    }
    for (const s of this.pendingStatus.splice(0)) {
      const d = this.deviations.get(s.id)?.deviation;
      if (d) bus.emit({ type: 'deviation.status', deviation: d, previous: s.previous, actor: s.actor });
    }
    this.flushEdge();
  }

  edgeBaselines(workloads: readonly WorkloadId[]): EdgeBaseline[] {
    const ids: number[] = [];
    for (const w of workloads) {
      const id = this.workloads.find(w);
      if (id !== undefined) ids.push(id);
    }
    return this.edgeFor(ids);
  }

  onEdgeChange(listener: (changed: EdgeBaseline[]) => void): () => void {
    this.edgeListeners.add(listener);
    return () => this.edgeListeners.delete(listener);
  }

  tick(nowEventMs: number): void {
    this.db.transaction(() => {
      // Only a workload's newest generation can be learning (older ones are superseded or rejected).
      for (const b of this.baselines.dueForActivation(nowEventMs)) {
        const view = this.viewOf(b.id);
        if (view) this.activate(view);
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Evaluation

  private observe(obs: Observation): void {
    const workloadId = this.workloads.idOf(obs.workload);
    const decl = this.declared.forWorkload(obs.workload);
    let view = this.currentView(workloadId, obs);
    view.maxSeenMs = Math.max(view.maxSeenMs, obs.time);
    if (view.b.phase === 'learning' && view.b.learningUntilMs !== null && obs.time >= view.b.learningUntilMs) this.activate(view);
    view = this.applyImagePolicy(view, obs, decl);
    this.updateCompleteness(view, obs);

    const item = this.deriver.derive(obs);
    const startup = this.isStartup(obs);
    const denied = matchRules(decl.deny, obs, item);
    if (denied !== null) {
      this.raise(view, obs, item, 'denied', { ...FIXED_SEVERITY.denied, reason: `${FIXED_SEVERITY.denied.reason} (${denied})` }, startup);
      return this.count('denied');
    }

    const learns = this.learns(view, obs);
    const enforced = !learns || decl.mode === 'replace';
    if (obs.kind === 'process' && obs.process.inInitTree === false && obs.process.sessionId !== null) {
      // Commands exec'd into the container. An interactive shell always opens a session deviation,
      // even while learning (an operator's debugging must not teach the baseline to accept the
      // next `kubectl exec -- bash`). Other exec'd commands (exec probes) are learned like any
      // other and pass while allowed; from the first one the baseline does not allow, the whole
      // session is one deviation.
      const sessionKey = `s|${obs.process.sessionId}`;
      if (this.deviations.find(view.b.id, sessionKey) || isInteractiveShell(obs.process) || (enforced && !this.allowed(view, item, obs, decl, startup))) {
        this.raiseSession(view, obs, sessionKey);
        return this.count('session');
      }
      if (enforced) return this.count('allowed');
    }
    if (learns) this.learn(view, item, obs, startup);
    if (!enforced) return this.count('learned');
    if (this.allowed(view, item, obs, decl, startup)) return this.count('allowed');
    this.raise(view, obs, item, item.kind, this.severity.forItem(item, obs.process.exe), startup);
    this.count('deviation');
  }

  private count(result: string): void {
    this.metrics.observations.inc({ result });
  }

  private isStartup(obs: Observation): boolean {
    return obs.containerStart !== null && obs.time >= obs.containerStart && obs.time - obs.containerStart <= this.graceMs;
  }

  private isFresh(obs: Observation, learningStart: number): boolean {
    return !obs.preexisting && obs.containerStart !== null && obs.containerStart >= learningStart - this.graceMs;
  }

  /** Does this observation still belong to the learning window of its baseline? */
  private learns(view: View, obs: Observation): boolean {
    const b = view.b;
    if (b.phase !== 'learning' && b.phase !== 'active') return false;
    if (b.phase === 'learning' && b.learningUntilMs === null) {
      // A relearn or reject starts a generation whose window opens with its first observation.
      b.learningStartMs = obs.time;
      b.learningUntilMs = obs.time + this.windowMs;
      this.baselines.update(b.id, { learningStartMs: b.learningStartMs, learningUntilMs: b.learningUntilMs });
    }
    if (b.learningStartMs !== null && obs.time < b.learningStartMs) this.moveStart(view, obs.time);
    return b.learningUntilMs !== null && obs.time < b.learningUntilMs;
  }

  /**
   * Another node's stream shows the workload earlier than we first saw it: the window starts
   * there, its end is recomputed from the items' first sightings (start + window, extended by each
   * new item inside it, capped by maxWindow), and items first seen after the new end are not part
   * of learning after all: they become deviations (and are learned again if an earlier sighting
   * arrives later still).
   */
  private moveStart(view: View, startMs: number): void {
    const b = view.b;
    b.learningStartMs = startMs;
    const cap = startMs + this.maxWindowMs;
    let until = Math.min(cap, startMs + this.windowMs);
    const learned = [...view.items.values()].filter((i) => i.origin === 'learned').sort((x, y) => x.firstSeenMs - y.firstSeenMs);
    const late: BaselineItemRecord[] = [];
    for (const it of learned) {
      if (it.firstSeenMs < until) until = Math.min(cap, Math.max(until, it.firstSeenMs + this.extensionMs));
      else late.push(it);
    }
    b.learningUntilMs = until;
    this.baselines.update(b.id, { learningStartMs: startMs, learningUntilMs: until });
    for (const it of late) this.unlearn(view, it);
    if (late.length) this.rebuildPrefixGroups(view);
    if (b.phase === 'learning' && view.maxSeenMs >= until) this.activate(view);
  }

  private unlearn(view: View, it: BaselineItemRecord): void {
    this.baselines.deleteItem(it.id);
    view.items.delete(it.key);
    this.pendingEdge.add(view.workloadId);
    const item = itemOfRecord(it);
    this.upsertDeviation(
      view,
      { firstSeenMs: it.firstSeenMs, lastSeenMs: it.lastSeenMs, count: it.count, pod: null, node: null, image: null, sample: null },
      this.deviations.find(view.b.id, it.key),
      {
        itemKey: it.key,
        kind: item.kind,
        verdict: this.severity.forItem(item, null),
        summary: `${kindLabel(item.kind)}: ${describeItem(item)}`,
        detail: { ...itemDetail(item), engine: { item, steady: it.phase === 'steady' } satisfies DeviationBook },
        commands: null,
      },
      'first seen after the learning window',
    );
  }

  private rebuildPrefixGroups(view: View): void {
    view.prefixGroups.clear();
    for (const it of view.items.values()) {
      const parsed = parseNetworkKey(it.key);
      if (!parsed?.peer.startsWith('ip|') || it.detail.peerClass !== 'external') continue;
      const ip = parsed.peer.slice(3);
      const prefix = generalisationPrefix(ip);
      if (!prefix) continue;
      const groupKey = `${parsed.direction}|${parsed.protocol}|${parsed.port ?? '*'}|${prefix}`;
      let group = view.prefixGroups.get(groupKey);
      if (!group) view.prefixGroups.set(groupKey, (group = new Set()));
      group.add(ip);
    }
  }

  private allowed(view: View, item: Item, obs: Observation, decl: EffectiveDeclared, startup: boolean): boolean {
    if (decl.mode !== 'replace') {
      for (const key of this.deriver.candidateKeys(item)) {
        const it = view.items.get(key);
        if (it && (it.phase === 'steady' || startup)) return true;
      }
    }
    return matchRules(decl.allow, obs, item) !== null;
  }

  private learn(view: View, item: Item, obs: Observation, startup: boolean): void {
    const phase: ItemPhase = startup ? 'startup' : 'steady';
    const candidates = this.deriver.candidateKeys(item);
    // An address inside a learned prefix is that prefix.
    const key = candidates.find((k) => view.items.has(k)) ?? item.key;
    const existing = view.items.get(key);
    if (existing) {
      this.touch(existing, obs, phase, item);
      return;
    }
    this.addItem(view, item, phase, obs.time, obs.time, 1, 'learned');
  }

  private touch(it: BaselineItemRecord, obs: Observation, phase: ItemPhase, item: Item): void {
    it.count++;
    it.firstSeenMs = Math.min(it.firstSeenMs, obs.time);
    it.lastSeenMs = Math.max(it.lastSeenMs, obs.time);
    if (phase === 'steady') it.phase = 'steady';
    if (item.kind === 'process') {
      const patterns = (it.detail.args as string[] | undefined) ?? [];
      if (patterns.length < MAX_ARG_PATTERNS && !patterns.includes(item.argsPattern)) it.detail.args = [...patterns, item.argsPattern].sort();
    }
    this.baselines.updateItem(it);
  }

  /** Adds an item (learned, converted or manual); returns false when the cap stopped it. */
  private addItem(view: View, item: Item, phase: ItemPhase, firstSeenMs: number, lastSeenMs: number, count: number, origin: 'learned' | 'manual'): boolean {
    if (view.items.size >= this.maxItems && origin === 'learned') {
      this.raiseOverflow(view, firstSeenMs);
      return false;
    }
    const detail: Record<string, unknown> = item.kind === 'process' ? { exe: item.exe, args: [item.argsPattern] } : networkDetail(item);
    const rec = this.baselines.insertItem({
      baselineId: view.b.id,
      kind: item.kind,
      key: item.key,
      origin,
      phase,
      detail,
      count,
      firstSeenMs,
      lastSeenMs,
      addedInVersion: view.b.version,
    });
    view.items.set(item.key, rec);
    if (origin === 'learned') {
      view.b.lastNewItemMs = Math.max(view.b.lastNewItemMs ?? firstSeenMs, firstSeenMs);
      this.baselines.update(view.b.id, { lastNewItemMs: view.b.lastNewItemMs });
    }
    if (view.b.phase !== 'learning') {
      // Late learning or a manual addition changes what the edge may drop, and may cover
      // deviations raised meanwhile.
      this.pendingEdge.add(view.workloadId);
      this.resolveCovered(view, item.key);
    }
    if (item.kind === 'network' && item.peer.class === 'external' && item.peer.ip) this.generalise(view, item, phase, firstSeenMs);
    if (origin === 'learned') this.extendWindow(view, firstSeenMs);
    return true;
  }

  private generalise(view: View, item: NetworkItem, phase: ItemPhase, timeMs: number): void {
    const prefix = generalisationPrefix(item.peer.ip!);
    if (!prefix) return;
    const groupKey = `${item.direction}|${item.protocol}|${item.port ?? '*'}|${prefix}`;
    let group = view.prefixGroups.get(groupKey);
    if (!group) view.prefixGroups.set(groupKey, (group = new Set()));
    group.add(item.peer.ip!);
    const prefixKey = networkKey(item.direction, item.protocol, item.port, `net|${prefix}`);
    if (group.size < this.generaliseAfter || view.items.has(prefixKey)) return;
    const generalised: NetworkItem = { ...item, key: prefixKey, peer: { class: 'external-prefix', cidr: prefix } };
    if (this.addItem(view, generalised, phase, timeMs, timeMs, 0, 'learned')) {
      const rec = view.items.get(prefixKey)!;
      rec.detail.generalisedFrom = [...group].sort();
      this.baselines.updateItem(rec);
    }
  }

  /** A new item moves the window end forward (never back), up to start + maxWindow. */
  private extendWindow(view: View, firstSeenMs: number): void {
    const b = view.b;
    if (b.learningStartMs === null || b.learningUntilMs === null) return;
    const until = Math.min(b.learningStartMs + this.maxWindowMs, Math.max(b.learningUntilMs, firstSeenMs + this.extensionMs));
    if (until <= b.learningUntilMs) return;
    b.learningUntilMs = until;
    this.baselines.update(b.id, { learningUntilMs: until });
    if (b.phase === 'active') {
      // Deviations first seen before the new end were part of learning after all.
      for (const d of this.deviations.firstSeenBefore(b.id, until, CONVERTIBLE)) this.learnFromDeviation(view, d);
    }
  }

  private learnFromDeviation(view: View, d: StoredDeviation): void {
    const book = d.detail.engine as DeviationBook | undefined;
    if (!book || view.items.has(d.deviation.itemKey)) return;
    this.addItem(view, book.item, book.steady ? 'steady' : 'startup', d.deviation.firstSeenMs, d.deviation.lastSeenMs, d.deviation.count, 'learned');
  }

  /** Resolves open deviations the baseline now allows (same key, or an address in a new prefix). */
  private resolveCovered(view: View, key: string): void {
    const direct = this.deviations.find(view.b.id, key);
    const covered: StoredDeviation[] = direct ? [direct] : [];
    const parsed = parseNetworkKey(key);
    if (parsed?.peer.startsWith('net|')) {
      const cidr = parseCidr(parsed.peer.slice(4));
      const prefix = networkKey(parsed.direction, parsed.protocol, parsed.port, 'ip|');
      if (cidr) {
        for (const d of this.deviations.firstSeenBefore(view.b.id, Number.MAX_SAFE_INTEGER, ['network'])) {
          if (d.deviation.itemKey.startsWith(prefix) && cidrContains(cidr, d.deviation.itemKey.slice(prefix.length))) covered.push(d);
        }
      }
    }
    for (const d of covered) {
      if (d.deviation.status !== 'open' && d.deviation.status !== 'acknowledged') continue;
      if (!CONVERTIBLE.includes(d.deviation.kind)) continue;
      this.setStatusInternal(d.deviation, 'resolved', SYSTEM_ACTOR, 'learned: first seen within the learning window (arrived late)');
    }
  }

  private activate(view: View): void {
    if (view.b.phase !== 'learning') return;
    this.setPhase(view, 'active');
  }

  private setPhase(view: View, phase: BaselinePhase, decision?: { actor: string; comment: string }): void {
    const previous = view.b.phase;
    view.b.phase = phase;
    const changes: Parameters<BaselinesTable['update']>[1] = { phase };
    if (decision) {
      view.b.decidedBy = decision.actor;
      view.b.decidedAt = new Date().toISOString();
      view.b.decisionComment = decision.comment;
      Object.assign(changes, { decidedBy: view.b.decidedBy, decidedAt: view.b.decidedAt, decisionComment: view.b.decisionComment });
    }
    this.baselines.update(view.b.id, changes);
    this.pendingEdge.add(view.workloadId);
    this.emitBaselineChanged(view.b.id, previous);
  }

  private emitBaselineChanged(id: number, previousPhase: BaselinePhase | null): void {
    const summary = this.baselines.summary(id);
    if (summary) this.pendingOther.push({ type: 'baseline.changed', baseline: summary, previousPhase });
  }

  private applyImagePolicy(view: View, obs: Observation, decl: EffectiveDeclared): View {
    const digest = obs.image.digest;
    const b = view.b;
    if (digest === null || b.imageDigests.includes(digest)) return view;
    if (b.imageDigests.length === 0) {
      this.addDigest(view, digest);
      return view;
    }
    // Old pods of a rollout keep their generation (remembered: they keep sending during the rollout).
    let olderId = view.olderDigests.get(digest);
    if (olderId === undefined) {
      olderId = this.baselines.generations(view.workloadId).find((g) => g.id !== b.id && g.imageDigests.includes(digest))?.id ?? 0;
      if (view.olderDigests.size < 64) view.olderDigests.set(digest, olderId);
    }
    if (olderId !== 0) return this.viewOf(olderId) ?? view;
    const policy: ImagePolicy = decl.imagePolicy ?? this.workloads.get(view.workloadId)?.imagePolicy ?? this.opts.config.learning.imagePolicy;
    if (policy === 'relearn') {
      const next = this.newGeneration(view, 'superseded', obs.time, [digest], this.isFresh(obs, obs.time) ? 'full' : 'partial');
      return next;
    }
    this.addDigest(view, digest);
    if (policy === 'alert') {
      const key = imageKey(digest);
      this.raiseFixed(view, obs, key, 'image-change', FIXED_SEVERITY.imageChange, `new image ${obs.image.name ?? ''}@${digest}`.trim(), { digest, image: obs.image.name });
    }
    return view;
  }

  private addDigest(view: View, digest: string): void {
    view.b.imageDigests = [...view.b.imageDigests, digest];
    if (view.b.imageDigest === null) view.b.imageDigest = digest;
    this.baselines.update(view.b.id, { imageDigests: view.b.imageDigests, imageDigest: view.b.imageDigest });
    this.pendingEdge.add(view.workloadId);
  }

  private updateCompleteness(view: View, obs: Observation): void {
    const b = view.b;
    if (b.completeness !== 'partial' || b.learningStartMs === null || !this.isFresh(obs, b.learningStartMs)) return;
    b.completeness = 'full';
    this.baselines.update(b.id, { completeness: 'full' });
    this.emitBaselineChanged(b.id, b.phase);
  }

  // -------------------------------------------------------------------------------------------
  // Deviations

  private raise(view: View, obs: Observation, item: Item, kind: DeviationKind, verdict: SeverityVerdict, startup: boolean): void {
    const existing = this.deviations.find(view.b.id, item.key);
    const book: DeviationBook = { item, steady: !startup || ((existing?.detail.engine as DeviationBook | undefined)?.steady ?? false) };
    const detail = { ...itemDetail(item), engine: book };
    this.upsertDeviation(view, sightingOf(obs), existing, {
      itemKey: item.key,
      kind: existing?.deviation.kind ?? kind,
      verdict,
      summary: `${kindLabel(kind)}: ${describeItem(item)}`,
      detail,
      commands: null,
    });
  }

  private raiseSession(view: View, obs: Observation, key: string): void {
    if (obs.kind !== 'process') return;
    const existing = this.deviations.find(view.b.id, key);
    const commands: SessionCommand[] = [...(existing?.deviation.commands ?? []), { exe: obs.process.exe, args: obs.process.args, timeMs: obs.time }]
      .sort((a, b) => a.timeMs - b.timeMs || a.exe.localeCompare(b.exe) || a.args.localeCompare(b.args))
      .slice(0, MAX_COMMANDS);
    const names = [...new Set(commands.map((c) => c.exe))];
    this.upsertDeviation(view, sightingOf(obs), existing, {
      itemKey: key,
      kind: 'interactive-session',
      verdict: FIXED_SEVERITY.interactiveSession,
      summary: `interactive session: ${commands.length} command${commands.length === 1 ? '' : 's'} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`,
      detail: { sessionId: obs.process.sessionId, entry: commands[0]?.exe ?? obs.process.exe },
      commands,
    });
  }

  private raiseOverflow(view: View, timeMs: number): void {
    const key = 'overflow';
    const existing = this.deviations.find(view.b.id, key);
    if (existing) return;
    const id = this.deviations.insert({
      baselineId: view.b.id,
      workloadId: view.workloadId,
      itemKey: key,
      kind: 'baseline-overflow',
      severity: FIXED_SEVERITY.overflow.severity,
      severityReason: FIXED_SEVERITY.overflow.reason,
      summary: `baseline overflow: ${this.maxItems} items reached, new items are no longer learned`,
      detail: { maxItems: this.maxItems },
      firstSeenMs: timeMs,
      lastSeenMs: timeMs,
      count: 1,
      pods: [],
      nodes: [],
      image: null,
      samples: [],
      commands: null,
    });
    this.created(id, 'baseline-overflow');
  }

  private raiseFixed(view: View, obs: Observation, key: string, kind: DeviationKind, verdict: SeverityVerdict, summary: string, detail: Record<string, unknown>): void {
    const existing = this.deviations.find(view.b.id, key);
    this.upsertDeviation(view, sightingOf(obs), existing, { itemKey: key, kind, verdict, summary, detail, commands: null });
  }

  /**
   * Creates or merges a deviation. Merging is order-independent: first/last seen are min/max,
   * counts add up, pods and nodes are sorted sets, the samples are the earliest five (loaded and
   * rewritten only when the new sighting can change them).
   */
  private upsertDeviation(
    view: View,
    s: Sighting,
    existing: StoredDeviation | undefined,
    d: { itemKey: string; kind: DeviationKind; verdict: SeverityVerdict; summary: string; detail: Record<string, unknown>; commands: SessionCommand[] | null },
    reopenComment = 'seen again after it was resolved',
  ): void {
    const prev = existing?.deviation;
    const verdict = prev && severityRank(prev.severity) > severityRank(d.verdict.severity) ? { severity: prev.severity, reason: prev.severityReason } : d.verdict;
    const sampled = (existing?.detail.engine as { sampled?: Sampled } | undefined)?.sampled ?? { n: 0, maxMs: 0 };
    let samples: Observation[] | null = null;
    if (s.sample && (!prev || sampled.n < MAX_SAMPLES || s.sample.time < sampled.maxMs)) {
      samples = mergeSamples(prev ? this.deviations.samplesOf(prev.id) : [], s.sample);
    }
    const nextSampled: Sampled = samples ? { n: samples.length, maxMs: samples[samples.length - 1]!.time } : sampled;
    const engineBook = { ...((d.detail.engine as Record<string, unknown> | undefined) ?? {}), sampled: nextSampled };
    const write: DeviationWrite = {
      baselineId: view.b.id,
      workloadId: view.workloadId,
      itemKey: d.itemKey,
      kind: d.kind,
      severity: verdict.severity,
      severityReason: verdict.reason,
      summary: d.summary,
      detail: { ...d.detail, engine: engineBook },
      firstSeenMs: prev ? Math.min(prev.firstSeenMs, s.firstSeenMs) : s.firstSeenMs,
      lastSeenMs: prev ? Math.max(prev.lastSeenMs, s.lastSeenMs) : s.lastSeenMs,
      count: (prev?.count ?? 0) + s.count,
      pods: mergeList(prev?.pods ?? [], s.pod),
      nodes: mergeList(prev?.nodes ?? [], s.node),
      image: prev?.image ?? s.image,
      samples,
      commands: d.commands,
    };
    if (!prev) {
      this.created(this.deviations.insert(write), d.kind);
      return;
    }
    this.deviations.updateSighting(prev.id, write);
    if (prev.status === 'resolved') this.setStatusInternal(prev, 'open', SYSTEM_ACTOR, reopenComment);
    if (!this.pendingDeviations.has(prev.id)) this.pendingDeviations.set(prev.id, 'updated');
  }

  private created(id: number, kind: DeviationKind): void {
    this.pendingDeviations.set(id, 'created');
    this.metrics.deviations.inc({ kind });
  }

  private setStatusInternal(d: Deviation, status: DeviationStatus, actor: string, comment: string): void {
    this.deviations.setStatus(d.id, status, actor, comment);
    // A deviation created in this batch is announced once, in its final state.
    if (this.pendingDeviations.get(d.id) === 'created') return;
    this.pendingStatus.push({ id: d.id, previous: d.status, actor });
  }

  // -------------------------------------------------------------------------------------------
  // Views (caches over the store)

  private currentView(workloadId: number, obs: Observation): View {
    const cachedId = this.currentIds.get(workloadId);
    const cached = cachedId !== undefined ? this.viewOf(cachedId) : undefined;
    if (cached) return cached;
    const current = this.baselines.current(workloadId);
    if (current) {
      this.currentIds.set(workloadId, current.id);
      return this.viewOf(current.id)!;
    }
    const b = this.baselines.insert({
      workloadId,
      generation: 1,
      imageDigest: obs.image.digest,
      imageDigests: obs.image.digest ? [obs.image.digest] : [],
      phase: 'learning',
      completeness: this.isFresh(obs, obs.time) ? 'full' : 'partial',
      version: 1,
      learningStartMs: obs.time,
      learningUntilMs: obs.time + this.windowMs,
      lastNewItemMs: null,
    });
    this.currentIds.set(workloadId, b.id);
    const view = this.cacheView({ workloadId, workload: { ...obs.workload }, b, items: new Map(), prefixGroups: new Map(), maxSeenMs: obs.time, olderDigests: new Map() });
    this.pendingEdge.add(workloadId);
    this.emitBaselineChanged(b.id, null);
    return view;
  }

  private viewOf(baselineId: number): View | undefined {
    const cached = this.views.get(baselineId);
    if (cached) {
      this.views.delete(baselineId);
      this.views.set(baselineId, cached);
      return cached;
    }
    const b = this.baselines.get(baselineId);
    if (!b) return undefined;
    const w = this.workloads.get(b.workloadId);
    if (!w) return undefined;
    const view: View = { workloadId: b.workloadId, workload: w.workload, b, items: new Map(), prefixGroups: new Map(), maxSeenMs: b.learningStartMs ?? 0, olderDigests: new Map() };
    for (const it of this.baselines.items(b.id)) {
      view.items.set(it.key, it);
      view.maxSeenMs = Math.max(view.maxSeenMs, it.lastSeenMs);
    }
    this.rebuildPrefixGroups(view);
    return this.cacheView(view);
  }

  private cacheView(view: View): View {
    this.views.set(view.b.id, view);
    if (this.views.size > this.maxCached) {
      const oldest = this.views.keys().next().value as number;
      const evicted = this.views.get(oldest)!;
      this.views.delete(oldest);
      if (this.currentIds.get(evicted.workloadId) === oldest) this.currentIds.delete(evicted.workloadId);
    }
    return view;
  }

  private newGeneration(view: View, previousPhase: 'superseded' | 'rejected', startMs: number | null, digests: string[], completeness: 'full' | 'partial', decision?: { actor: string; comment: string }): View {
    this.setPhase(view, previousPhase, decision);
    const b = this.baselines.insert({
      workloadId: view.workloadId,
      generation: view.b.generation + 1,
      imageDigest: digests[0] ?? null,
      imageDigests: digests,
      phase: 'learning',
      completeness,
      version: 1,
      learningStartMs: startMs,
      learningUntilMs: startMs === null ? null : startMs + this.windowMs,
      lastNewItemMs: null,
    });
    this.currentIds.set(view.workloadId, b.id);
    const next = this.cacheView({ workloadId: view.workloadId, workload: view.workload, b, items: new Map(), prefixGroups: new Map(), maxSeenMs: startMs ?? 0, olderDigests: new Map() });
    this.pendingEdge.add(view.workloadId);
    this.emitBaselineChanged(b.id, null);
    return next;
  }

  // -------------------------------------------------------------------------------------------
  // Edge baselines

  private edgeFor(workloadIds: readonly number[]): EdgeBaseline[] {
    const out: EdgeBaseline[] = [];
    for (const workloadId of workloadIds) {
      let baselineId = this.currentIds.get(workloadId);
      if (baselineId === undefined) {
        baselineId = this.baselines.current(workloadId)?.id;
        if (baselineId === undefined) continue;
        this.currentIds.set(workloadId, baselineId);
      }
      const view = this.viewOf(baselineId);
      if (view) out.push(this.edgeOf(view));
    }
    return out;
  }

  private edgeOf(view: View): EdgeBaseline {
    const decl = this.declared.forWorkload(view.workload);
    const keys = new Set<string>();
    for (const d of view.b.imageDigests) keys.add(imageKey(d));
    const add = (key: string): void => {
      if (!denyMayMatch(decl.deny, key)) keys.add(key);
    };
    if (decl.mode !== 'replace') {
      for (const it of view.items.values()) {
        if (it.phase !== 'steady') continue;
        for (const k of this.deriver.edgeKeys(it.key) ?? []) add(k);
      }
    }
    for (const k of declaredEdgeKeys(decl.allow)) add(k);
    const phase: EdgeBaseline['phase'] = view.b.phase === 'learning' ? 'learning' : view.b.phase === 'approved' ? 'approved' : 'active';
    const allow = [...keys].sort();
    const alwaysSend = argumentSensitivePaths(decl);
    const hash = createHash('sha256').update(`${phase}\n${this.dedupMs}\n${allow.join('\n')}\n\n${alwaysSend.join('\n')}`).digest('hex').slice(0, 16);
    return { workload: view.workload, hash, phase, allow, learningDedupWindowMs: this.dedupMs, alwaysSend };
  }

  private onDeclaredChange(): void {
    // Every workload's effective baseline may have changed: push them all (agents skip unchanged hashes).
    for (const w of this.workloads.all()) this.pendingEdge.add(w.id);
    this.flushEdge();
  }

  private flushEdge(): void {
    if (!this.pendingEdge.size) return;
    const ids = [...this.pendingEdge];
    this.pendingEdge.clear();
    const changed = this.edgeFor(ids);
    if (changed.length) for (const l of this.edgeListeners) l(changed);
  }

  // -------------------------------------------------------------------------------------------
  // BaselineService

  listBaselines(filter: { namespace?: string; phase?: string } = {}): BaselineSummary[] {
    return this.baselines.currentIds(filter).flatMap((id) => this.baselines.summary(id) ?? []);
  }

  getBaseline(id: number): BaselineSummary | undefined {
    return this.baselines.summary(id);
  }

  currentBaseline(workload: WorkloadId): BaselineSummary | undefined {
    const wid = this.workloads.find(workload);
    const b = wid === undefined ? undefined : this.baselines.current(wid);
    return b ? this.baselines.summary(b.id) : undefined;
  }

  approve(id: number, version: number, actor: string, comment: string): BaselineSummary {
    return this.decide(id, version, actor, comment, 'approved');
  }

  reject(id: number, version: number, actor: string, comment: string): BaselineSummary {
    return this.decide(id, version, actor, comment, 'rejected');
  }

  private decide(id: number, version: number, actor: string, comment: string, verdict: 'approved' | 'rejected'): BaselineSummary {
    const result = this.mutate(() => {
      const view = this.requireCurrent(id);
      if (view.b.version !== version) throw new EngineError('DW_ERR_CONFLICT', `baseline ${id} is at version ${view.b.version}, not ${version}`);
      if (view.b.phase !== 'learning' && view.b.phase !== 'active' && !(verdict === 'rejected' && view.b.phase === 'approved')) {
        throw new EngineError('DW_ERR_CONFLICT', `baseline ${id} is ${view.b.phase}: it cannot be ${verdict}`);
      }
      if (verdict === 'approved') this.setPhase(view, 'approved', { actor, comment });
      // A rejected baseline is not trusted: the workload learns again from its next observation.
      else this.newGeneration(view, 'rejected', null, view.b.imageDigests, 'partial', { actor, comment });
      return this.baselines.summary(id)!;
    });
    return result;
  }

  relearn(workload: WorkloadId, _actor: string, _comment: string): BaselineSummary {
    return this.mutate(() => {
      const wid = this.workloads.find(workload);
      const current = wid === undefined ? undefined : this.baselines.current(wid);
      if (!current) throw new EngineError('DW_ERR_NOT_FOUND', `no baseline for ${workloadKey(workload)}`);
      const view = this.viewOf(current.id)!;
      // Who asked is in the audit log; the old generation keeps its own decision (e.g. an approval).
      const next = this.newGeneration(view, 'superseded', null, view.b.imageDigests, 'partial');
      return this.baselines.summary(next.b.id)!;
    });
  }

  private requireCurrent(id: number): View {
    const b = this.baselines.get(id);
    if (!b) throw new EngineError('DW_ERR_NOT_FOUND', `no baseline ${id}`);
    const current = this.baselines.current(b.workloadId);
    if (current?.id !== id) throw new EngineError('DW_ERR_CONFLICT', `baseline ${id} is not the current generation (a newer one exists)`);
    // Read the row fresh: the cache may hold an older copy after a concurrent change.
    this.views.delete(id);
    this.currentIds.set(b.workloadId, id);
    return this.viewOf(id)!;
  }

  /** Runs a change in its own transaction and emits its events after commit. */
  private mutate<T>(fn: () => T): T {
    let result: T;
    try {
      result = this.db.transaction(fn);
    } catch (err) {
      this.discardPending();
      throw err;
    }
    this.flushEvents();
    return result;
  }

  // -------------------------------------------------------------------------------------------
  // DeviationService

  getDeviation(id: number): Deviation | undefined {
    return this.deviations.get(id)?.deviation;
  }

  setStatus(id: number, status: Exclude<DeviationStatus, 'added-to-baseline'>, actor: string, comment: string): Deviation {
    return this.mutate(() => {
      const d = this.deviations.get(id)?.deviation;
      if (!d) throw new EngineError('DW_ERR_NOT_FOUND', `no deviation ${id}`);
      if (d.status === 'added-to-baseline') throw new EngineError('DW_ERR_CONFLICT', `deviation ${id} was added to the baseline; its status is final`);
      if (!(['open', 'acknowledged', 'resolved'] as const).includes(status)) throw new EngineError('DW_ERR_CONFLICT', `unknown status ${String(status)}`);
      this.setStatusInternal(d, status, actor, comment);
      return this.deviations.get(id)!.deviation;
    });
  }

  addToBaseline(id: number, actor: string, comment: string): Deviation {
    return this.mutate(() => {
      const stored = this.deviations.get(id);
      if (!stored) throw new EngineError('DW_ERR_NOT_FOUND', `no deviation ${id}`);
      const d = stored.deviation;
      if (d.status === 'added-to-baseline') throw new EngineError('DW_ERR_CONFLICT', `deviation ${id} is already in the baseline`);
      const book = stored.detail.engine as DeviationBook | undefined;
      if (!book || !CONVERTIBLE.includes(d.kind)) throw new EngineError('DW_ERR_CONFLICT', `a ${d.kind} deviation cannot be added to a baseline`);
      const view = this.viewOf(d.baselineId);
      if (!view) throw new EngineError('DW_ERR_NOT_FOUND', `no baseline ${d.baselineId}`);
      if (view.items.has(d.itemKey)) throw new EngineError('DW_ERR_CONFLICT', `the baseline already holds ${d.itemKey}`);
      // A person's addition is a new version of the baseline (approvals name the version they saw).
      view.b.version++;
      this.baselines.update(view.b.id, { version: view.b.version });
      this.setStatusInternal(d, 'added-to-baseline', actor, comment);
      this.addItem(view, book.item, 'steady', d.firstSeenMs, d.lastSeenMs, d.count, 'manual');
      this.pendingEdge.add(view.workloadId);
      this.emitBaselineChanged(view.b.id, view.b.phase);
      return this.deviations.get(id)!.deviation;
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A shell started without a command (`bash`, `sh -i`, `bash -il`): someone typing. */
function isInteractiveShell(p: ProcessContext): boolean {
  return isShell(p.exe) && !/(^|\s)-[a-z]*c/.test(p.args);
}

function kindLabel(kind: DeviationKind): string {
  return kind === 'denied' ? 'denied' : kind === 'process' ? 'new process' : kind === 'network' ? 'new connection' : kind;
}

/** The item a stored baseline item stands for (its key and detail hold everything). */
function itemOfRecord(rec: BaselineItemRecord): Item {
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

function networkDetail(item: NetworkItem): Record<string, unknown> {
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

function itemDetail(item: Item): Record<string, unknown> {
  return item.kind === 'process' ? { kind: 'process', exe: item.exe, args: item.argsPattern } : { kind: 'network', ...networkDetail(item) };
}

function imageText(obs: Observation): string | null {
  if (obs.image.name && obs.image.digest) return `${obs.image.name}@${obs.image.digest}`;
  return obs.image.name ?? obs.image.digest;
}

function mergeList(list: string[], value: string | null): string[] {
  if (value === null || list.includes(value)) return list;
  if (list.length >= MAX_PODS) return list;
  return [...list, value].sort();
}

/** Keeps the earliest samples by event time, so the result does not depend on arrival order. */
function mergeSamples(samples: Observation[], obs: Observation): Observation[] {
  if (samples.length >= MAX_SAMPLES && samples[samples.length - 1]!.time <= obs.time) return samples;
  return [...samples, obs].sort((a, b) => a.time - b.time || a.node.localeCompare(b.node)).slice(0, MAX_SAMPLES);
}

/** Could a deny rule match something this edge key lets through? Then the edge must not drop it. */
function denyMayMatch(deny: RuleSet, key: string): boolean {
  if (key.startsWith('i|')) return false;
  if (key.startsWith('p|')) {
    const exe = key.slice(2).replace(/%7C/g, '|').replace(/%25/g, '%');
    return deny.processes.some((r) => r.pathGlob.test(exe));
  }
  const parsed = parseNetworkKey(key);
  if (!parsed) return true;
  const keyCidr = parsed.peer.startsWith('ip|') ? parseCidr(parsed.peer.slice(3)) : parsed.peer.startsWith('net|') ? parseCidr(parsed.peer.slice(4)) : parsed.peer === 'lo' ? parseCidr('127.0.0.0/8') : null;
  for (const r of deny.network) {
    if (r.direction && r.direction !== parsed.direction) continue;
    if (r.protocol && r.protocol !== parsed.protocol) continue;
    if (r.ports && parsed.port !== null && !r.ports.some(([lo, hi]) => parsed.port! >= lo && parsed.port! <= hi)) continue;
    if (!r.cidrs && !r.services && !r.dnsNames) return true;
    if (r.services || r.dnsNames) return true;
    if (parsed.peer === '-') continue;
    if (!keyCidr || r.cidrs!.some((c) => cidrsOverlap(c, keyCidr)) || (parsed.peer === 'lo' && r.cidrs!.some((c) => c.v === 6))) return true;
  }
  return false;
}

/**
 * Exe globs whose every run the collector must see, even while learning: a deny rule with args
 * fires on some runs of an exe and not others, and so does an allow rule with args when the
 * declared set is the whole baseline (replace). The edge's learning dedup keys on the exe alone,
 * so without this a harmless run would hide the next, denied one.
 */
function argumentSensitivePaths(decl: EffectiveDeclared): string[] {
  const paths = new Set<string>();
  for (const r of decl.deny.processes) if (r.args) paths.add(r.path);
  if (decl.mode === 'replace') for (const r of decl.allow.processes) if (r.args) paths.add(r.path);
  return [...paths].sort();
}

/** The declared allow rules the edge can hold exactly: exact paths without args, CIDRs with ports. */
function declaredEdgeKeys(allow: RuleSet): string[] {
  const keys: string[] = [];
  for (const p of allow.processes) if (p.exact && !p.args) keys.push(`p|${p.path.replace(/%/g, '%25').replace(/\|/g, '%7C')}`);
  for (const n of allow.network) {
    if (!n.direction || !n.ports || n.services || n.dnsNames) continue;
    const ports: number[] = [];
    for (const [lo, hi] of n.ports) for (let p = lo; p <= hi && ports.length <= 64; p++) ports.push(p);
    if (ports.length > 64) continue;
    const peers = n.direction === 'listen' ? ['-'] : n.cidrs ? n.cidrs.map((c) => `net|${c.text}`) : null;
    if (!peers) continue;
    for (const proto of n.protocol ? [n.protocol] : (['tcp', 'udp'] as const)) for (const port of ports) for (const peer of peers) keys.push(networkKey(n.direction, proto, port, peer));
  }
  return keys;
}

