/**
 * Learning: what a workload does during its learning window becomes its baseline.
 *
 * Everything is decided in event time and, as far as possible, independently of the order in
 * which the nodes' streams arrive:
 * - an item first seen before the window ended is learned, even when it arrives after the baseline
 *   turned active (and a deviation raised meanwhile for it is resolved);
 * - the window's end only moves forward (start + window, extended by new items up to maxWindow),
 *   and when it moves past deviations already raised, those become learned items;
 * - external addresses generalise to their prefix once enough of one prefix were learned.
 */
import { cidrContains, generalisationPrefix, parseCidr } from '../../common/cidr.js';
import type { ItemDeriver } from '../../common/items/derive.js';
import { networkKey, parseNetworkKey, type Item, type NetworkItem } from '../../common/items/keys.js';
import type { Observation } from '../../common/model.js';
import type { ChangeSet } from '../changes.js';
import { CONVERTIBLE, SYSTEM_ACTOR, setDeviationStatus, type DeviationBook, type DeviationEvaluator } from '../deviations/evaluate.js';
import type { BaselineItemRecord, ItemPhase } from '../store/baselines.js';
import type { Repositories } from '../store/contract.js';
import type { StoredDeviation } from '../store/deviations.js';
import type { BaselineLifecycle } from './lifecycle.js';
import type { RunLearning } from './runs.js';
import { itemRecordDetail, prefixGroupOf, rebuildPrefixGroups, type BaselineView } from './view.js';
import { learningCap, learningEnd } from './windows.js';

export interface LearnerOptions {
  /** Cap on a baseline's items; past it new items are not learned and one overflow deviation says so. */
  maxItems: number;
  /** Distinct learned addresses of one external prefix (same port and direction) that make it the prefix. */
  generaliseAfter: number;
}

const MAX_ARG_PATTERNS = 10;

export class Learner {
  constructor(
    private readonly deriver: ItemDeriver,
    private readonly lifecycle: BaselineLifecycle,
    private readonly evaluator: DeviationEvaluator,
    private readonly opts: LearnerOptions,
    private readonly runs: RunLearning,
  ) {}

  /** Does this observation still belong to the learning window of its baseline? */
  async learns(tx: Repositories, view: BaselineView, obs: Observation, changes: ChangeSet): Promise<boolean> {
    const b = view.b;
    if (b.phase !== 'learning' && b.phase !== 'active') return false;
    if (b.phase === 'learning' && b.learningUntilMs === null) {
      // A relearn or reject starts a generation whose window opens with its first observation.
      b.learningStartMs = obs.time;
      b.learningUntilMs = learningEnd(this.lifecycle.windows, view.workload, obs.time);
      await tx.baselines.update(b.id, { learningStartMs: b.learningStartMs, learningUntilMs: b.learningUntilMs });
    }
    if (b.learningStartMs !== null && obs.time < b.learningStartMs) await this.moveStart(tx, view, obs.time, changes);
    if (this.runs.applies(view)) {
      const verdict = await this.runs.learns(tx, view, obs, changes);
      if (verdict.unlearnFromMs !== null) await this.unlearnFrom(tx, view, verdict.unlearnFromMs, changes);
      return verdict.learns;
    }
    return b.learningUntilMs !== null && obs.time < b.learningUntilMs;
  }

  /** Learns the item an observation shows (an address inside a learned prefix is that prefix). */
  async learn(tx: Repositories, view: BaselineView, item: Item, obs: Observation, startup: boolean, changes: ChangeSet): Promise<void> {
    const phase: ItemPhase = startup ? 'startup' : 'steady';
    const key = this.deriver.candidateKeys(item).find((k) => view.items.has(k)) ?? item.key;
    const existing = view.items.get(key);
    if (existing) await this.touch(tx, existing, obs, phase, item);
    else await this.addItem(tx, view, item, phase, obs.time, obs.time, 1, 'learned', changes);
  }

  /** Adds an item (learned, converted or added by a person); false when the item cap stopped it. */
  async addItem(
    tx: Repositories,
    view: BaselineView,
    item: Item,
    phase: ItemPhase,
    firstSeenMs: number,
    lastSeenMs: number,
    count: number,
    origin: 'learned' | 'manual',
    changes: ChangeSet,
  ): Promise<boolean> {
    if (view.items.size >= this.opts.maxItems && origin === 'learned') {
      await this.evaluator.raiseOverflow(tx, view, firstSeenMs, this.opts.maxItems, changes);
      return false;
    }
    const rec = await tx.baselines.insertItem({
      baselineId: view.b.id,
      kind: item.kind,
      key: item.key,
      origin,
      phase,
      detail: itemRecordDetail(item),
      count,
      firstSeenMs,
      lastSeenMs,
      addedInVersion: view.b.version,
    });
    view.items.set(item.key, rec);
    if (origin === 'learned') {
      view.b.lastNewItemMs = Math.max(view.b.lastNewItemMs ?? firstSeenMs, firstSeenMs);
      await tx.baselines.update(view.b.id, { lastNewItemMs: view.b.lastNewItemMs });
    }
    if (view.b.phase !== 'learning') {
      // Late learning or a manual addition changes what the edge may drop, and may cover
      // deviations raised meanwhile.
      changes.edgeWorkloads.add(view.workloadId);
      await this.resolveCovered(tx, view, item.key, changes);
    }
    if (item.kind === 'network' && item.peer.class === 'external' && item.peer.ip) await this.generalise(tx, view, item, phase, firstSeenMs, changes);
    if (origin === 'learned') await this.extendWindow(tx, view, firstSeenMs, changes);
    return true;
  }

  private async touch(tx: Repositories, it: BaselineItemRecord, obs: Observation, phase: ItemPhase, item: Item): Promise<void> {
    it.count++;
    it.firstSeenMs = Math.min(it.firstSeenMs, obs.time);
    it.lastSeenMs = Math.max(it.lastSeenMs, obs.time);
    if (phase === 'steady') it.phase = 'steady';
    if (item.kind === 'process') {
      const patterns = (it.detail.args as string[] | undefined) ?? [];
      if (patterns.length < MAX_ARG_PATTERNS && !patterns.includes(item.argsPattern)) it.detail.args = [...patterns, item.argsPattern].sort();
    }
    await tx.baselines.updateItem(it);
  }

  /**
   * Another node's stream shows the workload earlier than we first saw it: the window starts
   * there, its end is recomputed from the items' first sightings (start + window, extended by each
   * new item inside it, capped by maxWindow), and items first seen after the new end are not part
   * of learning after all: they become deviations (and are learned again if an earlier sighting
   * arrives later still).
   */
  private async moveStart(tx: Repositories, view: BaselineView, startMs: number, changes: ChangeSet): Promise<void> {
    if (this.runs.applies(view)) {
      const unlearnFromMs = await this.runs.moveStart(tx, view, startMs, changes);
      if (unlearnFromMs !== null) await this.unlearnFrom(tx, view, unlearnFromMs, changes);
      return;
    }
    const windows = this.lifecycle.windows;
    const b = view.b;
    b.learningStartMs = startMs;
    const cap = learningCap(windows, startMs);
    let until = learningEnd(windows, view.workload, startMs);
    const learned = [...view.items.values()].filter((i) => i.origin === 'learned').sort((x, y) => x.firstSeenMs - y.firstSeenMs);
    const late: BaselineItemRecord[] = [];
    for (const it of learned) {
      if (it.firstSeenMs < until) until = Math.min(cap, Math.max(until, it.firstSeenMs + windows.extensionMs));
      else late.push(it);
    }
    b.learningUntilMs = until;
    await tx.baselines.update(b.id, { learningStartMs: startMs, learningUntilMs: until });
    await this.unlearn(tx, view, late, changes);
    if (b.phase === 'learning' && view.maxSeenMs >= until) await this.lifecycle.activate(tx, view, changes);
  }

  /** Learned items first seen at or after `fromMs` are not part of learning after all (runs.ts). */
  private unlearnFrom(tx: Repositories, view: BaselineView, fromMs: number, changes: ChangeSet): Promise<void> {
    return this.unlearn(tx, view, [...view.items.values()].filter((i) => i.origin === 'learned' && i.firstSeenMs >= fromMs), changes);
  }

  /** Takes items out of the baseline; each becomes a deviation (resolved again if an earlier sighting arrives). */
  private async unlearn(tx: Repositories, view: BaselineView, items: readonly BaselineItemRecord[], changes: ChangeSet): Promise<void> {
    for (const it of items) {
      await tx.baselines.deleteItem(it.id);
      view.items.delete(it.key);
      changes.edgeWorkloads.add(view.workloadId);
      await this.evaluator.raiseUnlearned(tx, view, it, changes);
    }
    if (items.length) rebuildPrefixGroups(view);
  }

  private async generalise(tx: Repositories, view: BaselineView, item: NetworkItem, phase: ItemPhase, timeMs: number, changes: ChangeSet): Promise<void> {
    const prefix = generalisationPrefix(item.peer.ip!);
    if (!prefix) return;
    const group = prefixGroupOf(view, `${item.direction}|${item.protocol}|${item.port ?? '*'}|${prefix}`);
    group.add(item.peer.ip!);
    const prefixKey = networkKey(item.direction, item.protocol, item.port, `net|${prefix}`);
    if (group.size < this.opts.generaliseAfter || view.items.has(prefixKey)) return;
    const generalised: NetworkItem = { ...item, key: prefixKey, peer: { class: 'external-prefix', cidr: prefix } };
    if (await this.addItem(tx, view, generalised, phase, timeMs, timeMs, 0, 'learned', changes)) {
      const rec = view.items.get(prefixKey)!;
      rec.detail.generalisedFrom = [...group].sort();
      await tx.baselines.updateItem(rec);
    }
  }

  /** A new item moves the window end forward (never back), up to start + maxWindow. */
  private async extendWindow(tx: Repositories, view: BaselineView, firstSeenMs: number, changes: ChangeSet): Promise<void> {
    const b = view.b;
    // Runs, not new items, end a run-to-completion workload's learning (runs.ts).
    if (b.learningStartMs === null || b.learningUntilMs === null || this.runs.applies(view)) return;
    const windows = this.lifecycle.windows;
    const until = Math.min(learningCap(windows, b.learningStartMs), Math.max(b.learningUntilMs, firstSeenMs + windows.extensionMs));
    if (until <= b.learningUntilMs) return;
    b.learningUntilMs = until;
    await tx.baselines.update(b.id, { learningUntilMs: until });
    if (b.phase !== 'active') return;
    // Deviations first seen before the new end were part of learning after all.
    for (const d of await tx.deviations.firstSeenBefore(b.id, until, CONVERTIBLE)) await this.learnFromDeviation(tx, view, d, changes);
  }

  private async learnFromDeviation(tx: Repositories, view: BaselineView, d: StoredDeviation, changes: ChangeSet): Promise<void> {
    const book = d.detail.engine as DeviationBook | undefined;
    if (!book || view.items.has(d.deviation.itemKey)) return;
    await this.addItem(tx, view, book.item, book.steady ? 'steady' : 'startup', d.deviation.firstSeenMs, d.deviation.lastSeenMs, d.deviation.count, 'learned', changes);
  }

  /** Resolves open deviations the baseline now allows (same key, or an address in a new prefix). */
  private async resolveCovered(tx: Repositories, view: BaselineView, key: string, changes: ChangeSet): Promise<void> {
    const direct = await tx.deviations.find(view.b.id, key);
    const covered: StoredDeviation[] = direct ? [direct] : [];
    const parsed = parseNetworkKey(key);
    if (parsed?.peer.startsWith('net|')) {
      const cidr = parseCidr(parsed.peer.slice(4));
      const prefix = networkKey(parsed.direction, parsed.protocol, parsed.port, 'ip|');
      if (cidr) {
        for (const d of await tx.deviations.firstSeenBefore(view.b.id, Number.MAX_SAFE_INTEGER, ['network'])) {
          if (d.deviation.itemKey.startsWith(prefix) && cidrContains(cidr, d.deviation.itemKey.slice(prefix.length))) covered.push(d);
        }
      }
    }
    for (const d of covered) {
      if (d.deviation.status !== 'open' && d.deviation.status !== 'acknowledged') continue;
      if (!CONVERTIBLE.includes(d.deviation.kind)) continue;
      await setDeviationStatus(tx, d.deviation, 'resolved', SYSTEM_ACTOR, 'learned: first seen within the learning window (arrived late)', changes);
    }
  }
}
