/**
 * Deviations from a baseline view: an observation × the view → allowed, or a new or repeated
 * deviation with its severity.
 *
 * Merging is order-independent, so that replaying a recording gives the result of living it
 * whatever order the nodes' streams arrive in: first/last seen are min/max, counts add up, pods
 * and nodes are sorted sets, the samples are the earliest five by event time.
 */
import { severityRank, type Deviation, type DeviationKind, type DeviationStatus } from '../../common/deviations.js';
import type { ItemDeriver } from '../../common/items/derive.js';
import { describeItem, type Item } from '../../common/items/keys.js';
import type { Observation } from '../../common/model.js';
import { releaseNoteFor } from '../baselines/releases.js';
import { allows, itemOfRecord, networkDetail, type BaselineView } from '../baselines/view.js';
import { matchRules, type EffectiveDeclared } from '../baselines/declared.js';
import type { ChangeSet } from '../changes.js';
import type { BaselineItemRecord } from '../store/baselines.js';
import type { Repositories } from '../store/contract.js';
import type { DeviationWrite, SessionCommand, StoredDeviation } from '../store/deviations.js';
import { FIXED_SEVERITY, type SeverityRules, type SeverityVerdict } from './severity.js';

/** What one sighting (an observation, or a learned item moved out of the window) adds to a deviation. */
export interface Sighting {
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  pod: string | null;
  node: string | null;
  image: string | null;
  sample: Observation | null;
}

/** Detection bookkeeping stored with a deviation (`detail.engine`), enough to learn it later. */
export interface DeviationBook {
  item: Item;
  /** Seen at least once outside a start-up grace period. */
  steady: boolean;
}

/** How many samples a deviation keeps and the latest one's time: skip loading them when full. */
interface Sampled {
  n: number;
  maxMs: number;
}

export interface DeviationDraft {
  itemKey: string;
  kind: DeviationKind;
  verdict: SeverityVerdict;
  summary: string;
  detail: Record<string, unknown>;
  commands: SessionCommand[] | null;
}

const MAX_SAMPLES = 5;
const MAX_PODS = 50;
export const SYSTEM_ACTOR = 'driftwatch';
/** Deviations whose item can become part of a baseline. */
export const CONVERTIBLE: readonly DeviationKind[] = ['process', 'network'];

export function sightingOf(obs: Observation): Sighting {
  return { firstSeenMs: obs.time, lastSeenMs: obs.time, count: 1, pod: obs.pod, node: obs.node, image: imageText(obs), sample: obs };
}

export class DeviationEvaluator {
  /** `releaseWindowMs`: how long after a release's first event its new items count as "new in this release". */
  constructor(
    private readonly deriver: ItemDeriver,
    private readonly severity: SeverityRules,
    private readonly releaseWindowMs: number,
  ) {}

  /** A declared deny rule matches: always a deviation, learning or not. */
  async denied(tx: Repositories, view: BaselineView, obs: Observation, item: Item, decl: EffectiveDeclared, startup: boolean, changes: ChangeSet): Promise<boolean> {
    const rule = matchRules(decl.deny, obs, item);
    if (rule === null) return false;
    await this.raise(tx, view, obs, item, 'denied', { ...FIXED_SEVERITY.denied, reason: `${FIXED_SEVERITY.denied.reason} (${rule})` }, startup, changes);
    return true;
  }

  /**
   * A learning observation that a high-risk rule finds (severity.ts `whileLearning`): a deviation
   * instead of a learned item — unless this generation already allows it (added by a person) or
   * the generation before it did (the workload did it before this relearn or release).
   */
  async alertWhileLearning(tx: Repositories, view: BaselineView, obs: Observation, item: Item, decl: EffectiveDeclared, startup: boolean, changes: ChangeSet): Promise<boolean> {
    const verdict = this.severity.whileLearning(item, obs);
    if (verdict === null || allows(this.deriver, view, item, obs, decl, startup)) return false;
    if (!(await tx.deviations.find(view.b.id, item.key)) && (await this.previousGenerationHas(tx, view, item))) return false;
    await this.raise(tx, view, obs, item, item.kind, verdict, startup, changes);
    return true;
  }

  private async previousGenerationHas(tx: Repositories, view: BaselineView, item: Item): Promise<boolean> {
    const previous = (await tx.baselines.generations(view.workloadId)).find((g) => g.generation < view.b.generation && g.phase !== 'rejected');
    if (!previous) return false;
    const keys = new Set((await tx.baselines.items(previous.id)).map((i) => i.key));
    return this.deriver.candidateKeys(item).some((k) => keys.has(k));
  }

  /** An enforced observation: allowed by the view, or a deviation. */
  async evaluate(tx: Repositories, view: BaselineView, obs: Observation, item: Item, decl: EffectiveDeclared, startup: boolean, changes: ChangeSet): Promise<'allowed' | 'deviation'> {
    if (allows(this.deriver, view, item, obs, decl, startup)) return 'allowed';
    await this.raise(tx, view, obs, item, item.kind, this.severity.forItem(item, obs.process.exe), startup, changes);
    return 'deviation';
  }

  async raise(tx: Repositories, view: BaselineView, obs: Observation, item: Item, kind: DeviationKind, verdict: SeverityVerdict, startup: boolean, changes: ChangeSet): Promise<void> {
    const existing = await tx.deviations.find(view.b.id, item.key);
    const book: DeviationBook = { item, steady: !startup || ((existing?.detail.engine as DeviationBook | undefined)?.steady ?? false) };
    // Decided once, when the deviation is raised: a release's addition stays one when seen again.
    const release = existing ? existing.deviation.release : await releaseNoteFor(tx, view, verdict.severity, obs.time, this.releaseWindowMs);
    await this.upsert(tx, view, sightingOf(obs), existing, changes, {
      itemKey: item.key,
      // A deny hit makes the deviation a denied one (the high-risk rules may have raised it while learning).
      kind: kind === 'denied' ? kind : (existing?.deviation.kind ?? kind),
      verdict,
      summary: `${release ? 'new in this release: ' : ''}${kindLabel(kind)}: ${describeItem(item)}`,
      detail: { ...deviationDetail(item), ...(release ? { release } : {}), engine: book },
      commands: null,
    });
  }

  /** A learned item first seen after the window's (recomputed) end: it was never part of learning. */
  async raiseUnlearned(tx: Repositories, view: BaselineView, it: BaselineItemRecord, changes: ChangeSet): Promise<void> {
    const item = itemOfRecord(it);
    await this.upsert(
      tx,
      view,
      { firstSeenMs: it.firstSeenMs, lastSeenMs: it.lastSeenMs, count: it.count, pod: null, node: null, image: null, sample: null },
      await tx.deviations.find(view.b.id, it.key),
      changes,
      {
        itemKey: it.key,
        kind: item.kind,
        verdict: this.severity.forItem(item, null),
        summary: `${kindLabel(item.kind)}: ${describeItem(item)}`,
        detail: { ...deviationDetail(item), engine: { item, steady: it.phase === 'steady' } satisfies DeviationBook },
        commands: null,
      },
      'first seen after the learning window',
    );
  }

  /** A deviation with a fixed key and severity (image change, session). */
  async raiseFixed(tx: Repositories, view: BaselineView, obs: Observation, draft: DeviationDraft, changes: ChangeSet): Promise<void> {
    await this.upsert(tx, view, sightingOf(obs), await tx.deviations.find(view.b.id, draft.itemKey), changes, draft);
  }

  /** The baseline reached its item cap: one deviation says so, new items are no longer learned. */
  async raiseOverflow(tx: Repositories, view: BaselineView, timeMs: number, maxItems: number, changes: ChangeSet): Promise<void> {
    const key = 'overflow';
    if (await tx.deviations.find(view.b.id, key)) return;
    const id = await tx.deviations.insert({
      baselineId: view.b.id,
      workloadId: view.workloadId,
      itemKey: key,
      kind: 'baseline-overflow',
      severity: FIXED_SEVERITY.overflow.severity,
      severityReason: FIXED_SEVERITY.overflow.reason,
      summary: `baseline overflow: ${maxItems} items reached, new items are no longer learned`,
      detail: { maxItems },
      firstSeenMs: timeMs,
      lastSeenMs: timeMs,
      count: 1,
      pods: [],
      nodes: [],
      image: null,
      samples: [],
      commands: null,
    });
    changes.created(id, 'baseline-overflow');
  }

  /** Creates or merges a deviation (see the file comment); samples are loaded only when they can change. */
  async upsert(tx: Repositories, view: BaselineView, s: Sighting, existing: StoredDeviation | undefined, changes: ChangeSet, d: DeviationDraft, reopenComment = 'seen again after it was resolved'): Promise<void> {
    const prev = existing?.deviation;
    const verdict = prev && severityRank(prev.severity) > severityRank(d.verdict.severity) ? { severity: prev.severity, reason: prev.severityReason } : d.verdict;
    const sampled = (existing?.detail.engine as { sampled?: Sampled } | undefined)?.sampled ?? { n: 0, maxMs: 0 };
    let samples: Observation[] | null = null;
    if (s.sample && (!prev || sampled.n < MAX_SAMPLES || s.sample.time < sampled.maxMs)) {
      samples = mergeSamples(prev ? await tx.deviations.samplesOf(prev.id) : [], s.sample);
    }
    const nextSampled: Sampled = samples ? { n: samples.length, maxMs: samples[samples.length - 1]!.time } : sampled;
    const book = { ...((d.detail.engine as Record<string, unknown> | undefined) ?? {}), sampled: nextSampled };
    const write: DeviationWrite = {
      baselineId: view.b.id,
      workloadId: view.workloadId,
      itemKey: d.itemKey,
      kind: d.kind,
      severity: verdict.severity,
      severityReason: verdict.reason,
      summary: d.summary,
      detail: { ...d.detail, engine: book },
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
      changes.created(await tx.deviations.insert(write), d.kind);
      return;
    }
    await tx.deviations.updateSighting(prev.id, write);
    if (prev.status === 'resolved') await setDeviationStatus(tx, prev, 'open', SYSTEM_ACTOR, reopenComment, changes);
    changes.updated(prev.id);
  }
}

/** Every status change goes through here: stored, and announced after commit. */
export async function setDeviationStatus(tx: Repositories, d: Deviation, status: DeviationStatus, actor: string, comment: string, changes: ChangeSet): Promise<void> {
  await tx.deviations.setStatus(d.id, status, actor, comment);
  changes.statusChanged(d.id, d.status, actor);
}

function kindLabel(kind: DeviationKind): string {
  return kind === 'denied' ? 'denied' : kind === 'process' ? 'new process' : kind === 'network' ? 'new connection' : kind;
}

/** How a deviation shows its item (the API's `item`). */
function deviationDetail(item: Item): Record<string, unknown> {
  return item.kind === 'process' ? { kind: 'process', exe: item.exe, args: item.argsPattern } : { kind: 'network', ...networkDetail(item) };
}

export function imageText(obs: Observation): string | null {
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
