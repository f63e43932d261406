// A security decision (approve, add to a baseline, bulk approve) in two steps: the reason, then a
// confirmation that shows exactly what will be allowed and where. Nothing is sent before Confirm,
// and Confirm stays disabled until the reason has the collector's minimum length (the API refuses
// shorter ones too: collector.api.minReasonLength, told by GET /me).
import { h } from './dom.js';

/** A reason field with a live "n / min characters" count. */
export function reasonField(id, me, placeholder = 'Why (kept in the audit log)') {
  const min = me.minReasonLength ?? 1;
  const input = h('textarea', { id, rows: 2, maxlength: 2000, placeholder: `${placeholder}: at least ${min} characters`, 'aria-describedby': `${id}-count` });
  const count = h('span', { id: `${id}-count`, class: 'muted' });
  const update = () => {
    const n = input.value.trim().length;
    count.textContent = n >= min ? `${n} characters` : `${n} / ${min} characters needed`;
  };
  input.addEventListener('input', update);
  update();
  return { input, count, min, ok: () => input.value.trim().length >= min };
}

/**
 * The confirmation step: `what` (nodes) says what will be allowed and for which workloads; Confirm
 * runs `onConfirm(reason)`. Returns the section to show in place of the action's button.
 */
export function confirmation({ title, what, reason, confirmLabel, action, onConfirm, onCancel }) {
  const confirm = h('button', { type: 'button', class: 'primary', text: confirmLabel, dataset: { action } });
  const problem = h('p', { class: 'error', role: 'alert' });
  const sync = () => {
    confirm.disabled = !reason.ok();
    problem.textContent = reason.ok() ? '' : `Give a reason of at least ${reason.min} characters first.`;
  };
  reason.input.addEventListener('input', sync);
  sync();
  confirm.addEventListener('click', async () => {
    if (!reason.ok()) return sync();
    confirm.disabled = true;
    try {
      await onConfirm(reason.input.value.trim());
    } finally {
      confirm.disabled = !reason.ok();
    }
  });
  return h(
    'section',
    { class: 'card confirm', role: 'group', 'aria-label': title },
    h('h2', { text: title }),
    what,
    problem,
    h('div', { class: 'buttons' }, confirm, h('button', { type: 'button', text: 'Cancel', dataset: { action: 'cancel' }, onclick: onCancel })),
  );
}
