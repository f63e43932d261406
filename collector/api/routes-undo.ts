import type { DeviationStatus } from '../../common/deviations.js';
import { parseDuration } from '../../common/duration.js';
import type { EarlierDecision } from '../baselines/review.js';
import type { ChangeSet } from '../changes.js';
import type { AuditEntry } from '../store/audit.js';
import type { Repositories } from '../store/contract.js';
import type { Role } from '../store/tokens.js';
import { actorOf, inScope, requireRole, visibleOr404 } from './auth.js';
import { ApiError } from './errors.js';
import { commentBody, commentOf, idParams } from './params.js';
import { mutate } from './routes-deviations.js';
import type { ApiContext, RouteSpec } from './server.js';

/** The actions that can be undone, and the role undoing each needs (the role the action needed). */
export const UNDOABLE: Readonly<Record<string, Role>> = {
  'deviation.ack': 'analyst',
  'deviation.resolve': 'analyst',
  'deviation.reopen': 'analyst',
  'deviation.add-to-baseline': 'approver',
  'baseline.approve': 'approver',
};

type RestorableStatus = Exclude<DeviationStatus, 'added-to-baseline'>;

interface StatusState {
  status: DeviationStatus;
}

interface DecisionState extends EarlierDecision {
  version: number;
}

/** The audit action of an undo: the undone action's, so the target's history shows both. */
export function undoAction(action: string): string {
  return `${action}.undo`;
}

/**
 * Undo of a person's decision, for `collector.api.undoWindow` after it: the target goes back to the
 * state the audit entry recorded before the decision, provided it is still in the state the
 * decision left (anything else happened since → 409, decide again instead). The undo is audited
 * like the decision, on the same target, naming the entry it undoes.
 */
export function registerUndoRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  const windowMs = parseDuration(ctx.settings.undoWindow);
  register({
    method: 'POST',
    path: '/audit/{id}/undo',
    summary: 'Undo an approval, an addition to a baseline or a status change, within collector.api.undoWindow of it',
    tag: 'audit',
    role: 'analyst',
    params: idParams,
    body: commentBody,
    returns: '{ undone: AuditEntry id, entry: the audit entry of the undo (id, action, before, after) }',
    handler: async ({ params, body, principal }) => {
      const id = Number(params.id);
      const entry = visibleOr404(
        (await ctx.store.audit.list({ id, limit: 1 }))[0],
        (e) => e.namespace !== null && inScope(principal, e.namespace),
        `no audit entry ${id}`,
      );
      const role = UNDOABLE[entry.action];
      if (!role) throw new ApiError('DW_ERR_CONFLICT', `${entry.action} cannot be undone (only ${Object.keys(UNDOABLE).join(', ')})`);
      requireRole(principal, role);
      if (ctx.now() - Date.parse(entry.at) > windowMs) throw new ApiError('DW_ERR_CONFLICT', `${entry.action} at ${entry.at} is older than the undo window (${ctx.settings.undoWindow}): decide again instead`);
      const done = await ctx.store.audit.list({ action: undoAction(entry.action), targetType: entry.targetType, targetId: entry.targetId, limit: 100 });
      if (done.some((u) => (u.after as { undoes?: unknown } | null)?.undoes === entry.id)) throw new ApiError('DW_ERR_CONFLICT', `audit entry ${entry.id} was already undone`);
      const actor = actorOf(principal);
      const comment = commentOf(body).trim() || `undo of ${entry.action} #${entry.id}`;
      return ctx.reviews.change(async (tx, changes) => {
        const after = await mutate(() => restore(entry, actor, comment, tx, changes));
        const undoId = await tx.audit.append({
          actor,
          action: undoAction(entry.action),
          targetType: entry.targetType,
          targetId: entry.targetId,
          namespace: entry.namespace,
          comment,
          before: entry.after,
          after: { ...after, undoes: entry.id },
        });
        return { undone: entry.id, entry: { id: undoId, action: undoAction(entry.action), before: entry.after, after: { ...after, undoes: entry.id } } };
      });
    },
  });

  /** Puts the target back as the entry's `before` says; returns the state it leaves. */
  async function restore(entry: AuditEntry, actor: string, comment: string, tx: Repositories, changes: ChangeSet): Promise<Record<string, unknown>> {
    const target = Number(entry.targetId);
    if (entry.action === 'baseline.approve') {
      const before = entry.before as DecisionState;
      const after = entry.after as DecisionState;
      if (before.phase !== 'learning' && before.phase !== 'active') throw new ApiError('DW_ERR_CONFLICT', `the approval replaced a ${String(before.phase)} baseline: it cannot be undone`);
      const b = await ctx.reviews.baselineReview.unapprove(tx, changes, target, after.version, before);
      return { phase: b.phase, version: b.version, decidedBy: b.decidedBy, decidedAt: b.decidedAt, decisionComment: b.decisionComment };
    }
    const before = (entry.before as StatusState).status;
    if (before === 'added-to-baseline') throw new ApiError('DW_ERR_CONFLICT', 'the deviation was already in the baseline before');
    const current = (await tx.deviations.get(target))?.deviation;
    const expected = (entry.after as StatusState).status;
    if (current && current.status !== expected) throw new ApiError('DW_ERR_CONFLICT', `deviation ${target} is ${current.status} now, not ${expected}: it changed since, decide again instead`);
    const d =
      entry.action === 'deviation.add-to-baseline'
        ? await ctx.reviews.deviationReview.removeFromBaseline(tx, changes, target, before, actor, comment)
        : await ctx.reviews.deviationReview.setStatus(tx, changes, target, before as RestorableStatus, actor, comment);
    return { status: d.status, statusBy: d.statusBy, statusAt: d.statusAt, statusComment: d.statusComment, baselineId: d.baselineId };
  }
}
