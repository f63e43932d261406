/**
 * People's decisions on baselines: approve, reject (the workload learns again), relearn. Each runs
 * inside the caller's transaction (the API appends its audit entry to the same one) and records
 * what changed for announcement after commit.
 */
import type { BaselineSummary } from '../../common/deviations.js';
import { workloadKey, type WorkloadId } from '../../common/model.js';
import type { ChangeSet } from '../changes.js';
import type { Repositories } from '../store/contract.js';
import type { BaselineLifecycle } from './lifecycle.js';
import type { BaselineView, BaselineViews } from './view.js';

/** A refused decision: the API answers it with its code (404 / 409), never as a server error. */
export class ReviewError extends Error {
  constructor(
    readonly code: 'DW_ERR_NOT_FOUND' | 'DW_ERR_CONFLICT',
    message: string,
  ) {
    super(message);
    this.name = 'ReviewError';
  }
}

/** What an approval replaced: restored when it is undone. */
export interface EarlierDecision {
  phase: 'learning' | 'active';
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
}

export class BaselineReview {
  constructor(
    private readonly views: BaselineViews,
    private readonly lifecycle: BaselineLifecycle,
  ) {}

  approve(tx: Repositories, changes: ChangeSet, id: number, version: number, actor: string, comment: string): Promise<BaselineSummary> {
    return this.decide(tx, changes, id, version, actor, comment, 'approved');
  }

  reject(tx: Repositories, changes: ChangeSet, id: number, version: number, actor: string, comment: string): Promise<BaselineSummary> {
    return this.decide(tx, changes, id, version, actor, comment, 'rejected');
  }

  /**
   * Undoes an approval: the baseline goes back to the phase and decision it had before (`earlier`),
   * provided it is still the approved current generation at the version that was approved.
   */
  async unapprove(tx: Repositories, changes: ChangeSet, id: number, version: number, earlier: EarlierDecision): Promise<BaselineSummary> {
    const view = await this.requireCurrent(tx, id);
    if (view.b.phase !== 'approved' || view.b.version !== version) {
      throw new ReviewError('DW_ERR_CONFLICT', `baseline ${id} is ${view.b.phase} at version ${view.b.version} now, not approved at version ${version}: the approval cannot be undone`);
    }
    const decision = { decidedBy: earlier.decidedBy, decidedAt: earlier.decidedAt, decisionComment: earlier.decisionComment };
    Object.assign(view.b, decision);
    await tx.baselines.update(id, decision);
    // The phase last: its announcement carries the restored decision.
    await this.lifecycle.setPhase(tx, view, earlier.phase, changes);
    return (await tx.baselines.summary(id))!;
  }

  /** A new generation of the workload's baseline, learning from its next observation. */
  async relearn(tx: Repositories, changes: ChangeSet, workload: WorkloadId): Promise<BaselineSummary> {
    const wid = await tx.workloads.find(workload);
    const current = wid === undefined ? undefined : await tx.baselines.current(wid);
    if (!current) throw new ReviewError('DW_ERR_NOT_FOUND', `no baseline for ${workloadKey(workload)}`);
    const view = (await this.views.get(tx, current.id))!;
    // Who asked is in the audit log; the old generation keeps its own decision (e.g. an approval).
    const next = await this.lifecycle.newGeneration(tx, view, 'superseded', null, view.b.imageDigests, 'partial', changes);
    return (await tx.baselines.summary(next.b.id))!;
  }

  private async decide(tx: Repositories, changes: ChangeSet, id: number, version: number, actor: string, comment: string, verdict: 'approved' | 'rejected'): Promise<BaselineSummary> {
    const view = await this.requireCurrent(tx, id);
    if (view.b.version !== version) throw new ReviewError('DW_ERR_CONFLICT', `baseline ${id} is at version ${view.b.version}, not ${version}`);
    if (view.b.phase !== 'learning' && view.b.phase !== 'active' && !(verdict === 'rejected' && view.b.phase === 'approved')) {
      throw new ReviewError('DW_ERR_CONFLICT', `baseline ${id} is ${view.b.phase}: it cannot be ${verdict}`);
    }
    if (verdict === 'approved') await this.lifecycle.setPhase(tx, view, 'approved', changes, { actor, comment });
    // A rejected baseline is not trusted: the workload learns again from its next observation.
    else await this.lifecycle.newGeneration(tx, view, 'rejected', null, view.b.imageDigests, 'partial', changes, { actor, comment });
    return (await tx.baselines.summary(id))!;
  }

  private async requireCurrent(tx: Repositories, id: number): Promise<BaselineView> {
    const b = await tx.baselines.get(id);
    if (!b) throw new ReviewError('DW_ERR_NOT_FOUND', `no baseline ${id}`);
    const current = await tx.baselines.current(b.workloadId);
    if (current?.id !== id) throw new ReviewError('DW_ERR_CONFLICT', `baseline ${id} is not the current generation (a newer one exists)`);
    // Read the row fresh: the cache may hold an older copy after a concurrent change.
    this.views.forget(id);
    const view = (await this.views.get(tx, id))!;
    return this.views.putCurrent(view);
  }
}
