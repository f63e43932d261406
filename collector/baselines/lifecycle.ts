/**
 * A baseline's life in event time: generations (a first one per workload container, a new one on
 * relearn, reject or — by policy — a new image: a release carried forward, releases.ts), phases (learning → active → approved; superseded,
 * rejected) and completeness. Learning itself (the window, items) is `learn.ts`.
 */
import type { BaselinePhase } from '../../common/deviations.js';
import { imageKey } from '../../common/items/keys.js';
import { isRunToCompletion, type Observation } from '../../common/model.js';
import type { ChangeSet } from '../changes.js';
import { FIXED_SEVERITY } from '../deviations/severity.js';
import type { DeviationEvaluator } from '../deviations/evaluate.js';
import type { BaselineUpdate } from '../store/baselines.js';
import type { Repositories } from '../store/contract.js';
import type { ImagePolicy } from '../store/workloads.js';
import type { EffectiveDeclared } from './declared.js';
import { carryForward } from './releases.js';
import { emptyView, type BaselineView, type BaselineViews } from './view.js';
import { learningEnd, type WindowSettings } from './windows.js';

export interface LearningWindows extends WindowSettings {
  extensionMs: number;
  /** Runs a run-to-completion workload learns from (runs.ts). */
  runs: number;
  graceMs: number;
  imagePolicy: ImagePolicy;
}

export interface Decision {
  actor: string;
  comment: string;
}

export class BaselineLifecycle {
  constructor(
    private readonly views: BaselineViews,
    private readonly evaluator: DeviationEvaluator,
    readonly windows: LearningWindows,
  ) {}

  /**
   * The generation an observation belongs to, brought up to date with it: created on a workload's
   * first observation, activated when the observation is past the window, switched by the image
   * policy, marked complete when a fresh container shows the whole start-up.
   */
  async viewFor(tx: Repositories, obs: Observation, decl: EffectiveDeclared, changes: ChangeSet): Promise<BaselineView> {
    const workloadId = await tx.workloads.idOf(obs.workload);
    let view = (await this.views.current(tx, workloadId)) ?? (await this.firstGeneration(tx, workloadId, obs, changes));
    view.maxSeenMs = Math.max(view.maxSeenMs, obs.time);
    if (view.b.phase === 'learning' && view.b.learningUntilMs !== null && obs.time >= view.b.learningUntilMs) await this.activate(tx, view, changes);
    view = await this.applyImagePolicy(tx, view, obs, decl, changes);
    await this.updateCompleteness(tx, view, obs, changes);
    return view;
  }

  isStartup(obs: Observation): boolean {
    // A run is learned as a whole (runs.ts): a short run would otherwise be start-up only.
    if (isRunToCompletion(obs.workload.kind)) return false;
    return obs.containerStart !== null && obs.time >= obs.containerStart && obs.time - obs.containerStart <= this.windows.graceMs;
  }

  /** Learning baselines whose window ended by this event time become active. */
  async tick(tx: Repositories, nowEventMs: number, changes: ChangeSet): Promise<void> {
    // Only a workload's newest generation can be learning (older ones are superseded or rejected).
    for (const b of await tx.baselines.dueForActivation(nowEventMs)) {
      const view = await this.views.get(tx, b.id);
      if (view) await this.activate(tx, view, changes);
    }
  }

  async activate(tx: Repositories, view: BaselineView, changes: ChangeSet): Promise<void> {
    if (view.b.phase !== 'learning') return;
    await this.setPhase(tx, view, 'active', changes);
  }

  async setPhase(tx: Repositories, view: BaselineView, phase: BaselinePhase, changes: ChangeSet, decision?: Decision): Promise<void> {
    const previous = view.b.phase;
    view.b.phase = phase;
    const update: BaselineUpdate = { phase };
    if (decision) {
      view.b.decidedBy = decision.actor;
      view.b.decidedAt = new Date().toISOString();
      view.b.decisionComment = decision.comment;
      Object.assign(update, { decidedBy: view.b.decidedBy, decidedAt: view.b.decidedAt, decisionComment: view.b.decisionComment });
    }
    await tx.baselines.update(view.b.id, update);
    changes.edgeWorkloads.add(view.workloadId);
    await this.announce(tx, view.b.id, previous, changes);
  }

  /** Ends a generation (`superseded` or `rejected`) and starts the next one, learning. */
  async newGeneration(
    tx: Repositories,
    view: BaselineView,
    endedAs: 'superseded' | 'rejected',
    startMs: number | null,
    digests: string[],
    completeness: 'full' | 'partial',
    changes: ChangeSet,
    decision?: Decision,
  ): Promise<BaselineView> {
    await this.setPhase(tx, view, endedAs, changes, decision);
    const b = await tx.baselines.insert({
      workloadId: view.workloadId,
      generation: view.b.generation + 1,
      imageDigest: digests[0] ?? null,
      imageDigests: digests,
      phase: 'learning',
      completeness,
      version: 1,
      learningStartMs: startMs,
      learningUntilMs: startMs === null ? null : learningEnd(this.windows, view.workload, startMs),
      lastNewItemMs: null,
    });
    const next = this.views.putCurrent(emptyView(view.workloadId, view.workload, b, startMs ?? 0));
    changes.edgeWorkloads.add(view.workloadId);
    await this.announce(tx, b.id, null, changes);
    return next;
  }

  /** A `baseline.changed` event, with the summary as this transaction leaves it. */
  async announce(tx: Repositories, id: number, previousPhase: BaselinePhase | null, changes: ChangeSet): Promise<void> {
    const summary = await tx.baselines.summary(id);
    if (summary) changes.events.push({ type: 'baseline.changed', baseline: summary, previousPhase });
  }

  private async firstGeneration(tx: Repositories, workloadId: number, obs: Observation, changes: ChangeSet): Promise<BaselineView> {
    const b = await tx.baselines.insert({
      workloadId,
      generation: 1,
      imageDigest: obs.image.digest,
      imageDigests: obs.image.digest ? [obs.image.digest] : [],
      phase: 'learning',
      completeness: this.isFresh(obs, obs.time) ? 'full' : 'partial',
      version: 1,
      learningStartMs: obs.time,
      learningUntilMs: learningEnd(this.windows, obs.workload, obs.time),
      lastNewItemMs: null,
      imageName: obs.image.name,
    });
    const view = this.views.putCurrent(emptyView(workloadId, { ...obs.workload }, b, obs.time));
    changes.edgeWorkloads.add(workloadId);
    await this.announce(tx, b.id, null, changes);
    return view;
  }

  /** A container started (after the window opened, within the grace) while we watched: nothing of it was missed. */
  private isFresh(obs: Observation, learningStart: number): boolean {
    return !obs.preexisting && obs.containerStart !== null && obs.containerStart >= learningStart - this.windows.graceMs;
  }

  private async applyImagePolicy(tx: Repositories, view: BaselineView, obs: Observation, decl: EffectiveDeclared, changes: ChangeSet): Promise<BaselineView> {
    const digest = obs.image.digest;
    const b = view.b;
    if (digest === null || b.imageDigests.includes(digest)) return view;
    if (b.imageDigests.length === 0) {
      await this.addDigest(tx, view, digest, changes);
      return view;
    }
    // Old pods of a rollout keep their generation (remembered: they keep sending during the rollout).
    let olderId = view.olderDigests.get(digest);
    if (olderId === undefined) {
      olderId = (await tx.baselines.generations(view.workloadId)).find((g) => g.id !== b.id && g.imageDigests.includes(digest))?.id ?? 0;
      if (view.olderDigests.size < 64) view.olderDigests.set(digest, olderId);
    }
    if (olderId !== 0) return (await this.views.get(tx, olderId)) ?? view;
    const policy: ImagePolicy = decl.imagePolicy ?? (await tx.workloads.get(view.workloadId))?.imagePolicy ?? this.windows.imagePolicy;
    if (policy === 'carry-forward') return carryForward(tx, this, this.views, view, obs, changes);
    if (policy === 'relearn') return this.newGeneration(tx, view, 'superseded', obs.time, [digest], this.isFresh(obs, obs.time) ? 'full' : 'partial', changes);
    await this.addDigest(tx, view, digest, changes);
    if (policy === 'alert') {
      const summary = `new image ${obs.image.name ?? ''}@${digest}`.trim();
      const draft = { itemKey: imageKey(digest), kind: 'image-change' as const, verdict: FIXED_SEVERITY.imageChange, summary, detail: { digest, image: obs.image.name }, commands: null };
      await this.evaluator.raiseFixed(tx, view, obs, draft, changes);
    }
    return view;
  }

  private async addDigest(tx: Repositories, view: BaselineView, digest: string, changes: ChangeSet): Promise<void> {
    view.b.imageDigests = [...view.b.imageDigests, digest];
    if (view.b.imageDigest === null) view.b.imageDigest = digest;
    await tx.baselines.update(view.b.id, { imageDigests: view.b.imageDigests, imageDigest: view.b.imageDigest });
    changes.edgeWorkloads.add(view.workloadId);
  }

  private async updateCompleteness(tx: Repositories, view: BaselineView, obs: Observation, changes: ChangeSet): Promise<void> {
    const b = view.b;
    if (b.completeness !== 'partial' || b.learningStartMs === null || !this.isFresh(obs, b.learningStartMs)) return;
    b.completeness = 'full';
    await tx.baselines.update(b.id, { completeness: 'full' });
    await this.announce(tx, b.id, b.phase, changes);
  }
}
