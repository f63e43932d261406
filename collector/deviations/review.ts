/**
 * People's decisions on deviations: acknowledge, resolve, reopen, and add to the baseline (a new
 * baseline version holding the deviation's item). Inside the caller's transaction, like
 * `baselines/review.ts`.
 */
import type { Deviation, DeviationStatus } from '../../common/deviations.js';
import type { Learner } from '../baselines/learn.js';
import type { BaselineLifecycle } from '../baselines/lifecycle.js';
import { ReviewError } from '../baselines/review.js';
import type { BaselineViews } from '../baselines/view.js';
import type { ChangeSet } from '../changes.js';
import type { Repositories } from '../store/contract.js';
import { CONVERTIBLE, setDeviationStatus, type DeviationBook } from './evaluate.js';

export class DeviationReview {
  constructor(
    private readonly views: BaselineViews,
    private readonly lifecycle: BaselineLifecycle,
    private readonly learner: Learner,
  ) {}

  async setStatus(tx: Repositories, changes: ChangeSet, id: number, status: Exclude<DeviationStatus, 'added-to-baseline'>, actor: string, comment: string): Promise<Deviation> {
    const d = (await tx.deviations.get(id))?.deviation;
    if (!d) throw new ReviewError('DW_ERR_NOT_FOUND', `no deviation ${id}`);
    if (d.status === 'added-to-baseline') throw new ReviewError('DW_ERR_CONFLICT', `deviation ${id} was added to the baseline; its status is final`);
    if (!(['open', 'acknowledged', 'resolved'] as const).includes(status)) throw new ReviewError('DW_ERR_CONFLICT', `unknown status ${String(status)}`);
    await setDeviationStatus(tx, d, status, actor, comment, changes);
    return (await tx.deviations.get(id))!.deviation;
  }

  /** Adds the deviation's item to its baseline (a new baseline version) and marks it added-to-baseline. */
  async addToBaseline(tx: Repositories, changes: ChangeSet, id: number, actor: string, comment: string): Promise<Deviation> {
    const stored = await tx.deviations.get(id);
    if (!stored) throw new ReviewError('DW_ERR_NOT_FOUND', `no deviation ${id}`);
    const d = stored.deviation;
    if (d.status === 'added-to-baseline') throw new ReviewError('DW_ERR_CONFLICT', `deviation ${id} is already in the baseline`);
    const book = stored.detail.engine as DeviationBook | undefined;
    if (!book || !CONVERTIBLE.includes(d.kind)) throw new ReviewError('DW_ERR_CONFLICT', `a ${d.kind} deviation cannot be added to a baseline`);
    const view = await this.views.get(tx, d.baselineId);
    if (!view) throw new ReviewError('DW_ERR_NOT_FOUND', `no baseline ${d.baselineId}`);
    if (view.items.has(d.itemKey)) throw new ReviewError('DW_ERR_CONFLICT', `the baseline already holds ${d.itemKey}`);
    // A person's addition is a new version of the baseline (approvals name the version they saw).
    view.b.version++;
    await tx.baselines.update(view.b.id, { version: view.b.version });
    await setDeviationStatus(tx, d, 'added-to-baseline', actor, comment, changes);
    await this.learner.addItem(tx, view, book.item, 'steady', d.firstSeenMs, d.lastSeenMs, d.count, 'manual', changes);
    changes.edgeWorkloads.add(view.workloadId);
    await this.lifecycle.announce(tx, view.b.id, view.b.phase, changes);
    return (await tx.deviations.get(id))!.deviation;
  }

  /**
   * Undoes an addition to the baseline: the item leaves the baseline in a new version (earlier
   * versions still show it) and the deviation gets back the status it had (`status`).
   */
  async removeFromBaseline(tx: Repositories, changes: ChangeSet, id: number, status: Exclude<DeviationStatus, 'added-to-baseline'>, actor: string, comment: string): Promise<Deviation> {
    const d = (await tx.deviations.get(id))?.deviation;
    if (!d) throw new ReviewError('DW_ERR_NOT_FOUND', `no deviation ${id}`);
    if (d.status !== 'added-to-baseline') throw new ReviewError('DW_ERR_CONFLICT', `deviation ${id} is ${d.status}, not added to the baseline`);
    const view = await this.views.get(tx, d.baselineId);
    const item = view?.items.get(d.itemKey);
    if (!view || item?.origin !== 'manual') throw new ReviewError('DW_ERR_CONFLICT', `the baseline no longer holds ${d.itemKey} as a person's addition`);
    view.b.version++;
    await tx.baselines.update(view.b.id, { version: view.b.version });
    await tx.baselines.removeItem(item.id, view.b.version);
    view.items.delete(d.itemKey);
    await setDeviationStatus(tx, d, status, actor, comment, changes);
    changes.edgeWorkloads.add(view.workloadId);
    await this.lifecycle.announce(tx, view.b.id, view.b.phase, changes);
    return (await tx.deviations.get(id))!.deviation;
  }
}
