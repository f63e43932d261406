// Undo of the last decision on a deviation or a baseline (an approval, an addition to the
// baseline, a status change), offered while collector.api.undoWindow lasts (told by GET /me). The
// API checks everything again: the window, the role, and that nothing changed since.
import { api } from './api.js';
import { fmtTime, h, visible } from './dom.js';

const RANK = { viewer: 0, analyst: 1, approver: 2, admin: 3 };
/** Undoable actions and the role each needs (as collector/api/routes-undo.ts). */
const UNDOABLE = {
  'deviation.ack': ['acknowledgement', 'analyst'],
  'deviation.resolve': ['resolution', 'analyst'],
  'deviation.reopen': ['reopening', 'analyst'],
  'deviation.add-to-baseline': ['addition to the baseline', 'approver'],
  'baseline.approve': ['approval', 'approver'],
};

/**
 * A card offering to undo `entry` (the target's newest audit entry), or null when it cannot be
 * undone: another kind of action, an undo itself, too old, or a role below the action's.
 */
export function undoCard(entry, ctx, onUndone) {
  const known = entry && UNDOABLE[entry.action];
  if (!known) return null;
  const [what, role] = known;
  const until = Date.parse(entry.at) + (ctx.me.undoWindowMs ?? 0);
  if (until <= Date.now() || (RANK[ctx.me.role] ?? 0) < RANK[role]) return null;
  const problem = h('p', { class: 'error', role: 'alert' });
  const button = h('button', {
    type: 'button',
    text: `Undo the ${what}`,
    dataset: { action: 'undo' },
    onclick: async () => {
      button.disabled = true;
      try {
        await api('POST', `/audit/${entry.id}/undo`, {});
        ctx.toast(`The ${what} was undone`, 'ok');
        onUndone();
      } catch (err) {
        problem.textContent = err.message;
        button.disabled = false;
      }
    },
  });
  return h(
    'section',
    { class: 'card undo', 'aria-label': 'Undo' },
    h('p', { text: visible(`${entry.actor} made this ${what} at ${fmtTime(entry.at)}${entry.comment ? `: “${entry.comment}”` : ''}. It can be undone until ${fmtTime(until)}.`) }),
    button,
    problem,
  );
}
