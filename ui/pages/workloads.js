import { api, query } from '../api.js';
import { confirmation, reasonField } from '../decision.js';
import { badge, fill, h, visible, workloadName } from '../dom.js';

const PHASES = ['', 'learning', 'active', 'approved', 'rejected'];

export async function render(main, ctx) {
  const f = { namespace: ctx.params.get('namespace') ?? '', phase: ctx.params.get('phase') ?? '', q: ctx.params.get('q') ?? '' };
  const cursor = ctx.params.get('cursor') ?? '';
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    h('label', { class: 'field grow' }, h('span', { text: 'Search' }), h('input', { name: 'q', type: 'search', value: f.q, placeholder: 'workload name  ( / )', dataset: { search: '' } })),
    h('label', { class: 'field' }, h('span', { text: 'Namespace' }), h('input', { name: 'namespace', value: f.namespace, placeholder: 'any', size: 12 })),
    h('label', { class: 'field' }, h('span', { text: 'Baseline' }), h('select', { name: 'phase' }, PHASES.map((p) => h('option', { value: p, text: p || 'Any state', selected: p === f.phase })))),
    h('button', { type: 'submit', class: 'primary', text: 'Apply' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(`#/workloads${query(Object.fromEntries(new FormData(form).entries()))}`);
  });
  const page = await api('GET', `/workloads${query({ ...f, cursor, limit: 100 })}`);
  const rows = page.items.map((w) =>
    h(
      'tr',
      {},
      h('td', { class: 'mono', text: visible(w.workload.namespace) }),
      h('td', {}, w.baseline ? h('a', { href: `#/baselines/${w.baseline.id}`, text: visible(`${w.workload.name}/${w.workload.container}`) }) : visible(`${w.workload.name}/${w.workload.container}`)),
      h('td', { text: w.workload.kind }),
      h('td', {}, w.baseline ? badge('phase', w.baseline.phase) : '—', w.baseline?.completeness === 'partial' ? h('span', { class: 'muted', text: ' partial' }) : null),
      h('td', { class: 'num', text: w.baseline ? `v${w.baseline.version}` : '—' }),
      h('td', { class: 'num', text: w.baseline ? String(w.baseline.itemCount) : '—' }),
      h('td', { class: 'num' }, w.openDeviations ? h('a', { href: `#/deviations${query({ namespace: w.workload.namespace, workload: w.workload.name, status: 'open' })}`, text: String(w.openDeviations) }) : '0'),
    ),
  );
  const bulk =
    ctx.me.role === 'approver' || ctx.me.role === 'admin'
      ? h(
          'details',
          { class: 'card' },
          h('summary', { text: 'Approve a whole namespace' }),
          bulkForm(ctx),
        )
      : null;
  fill(main, 
    h('h1', { text: 'Workloads' }),
    form,
    bulk,
    h(
      'table',
      { class: 'grid', 'aria-label': 'Workloads' },
      h('thead', {}, h('tr', {}, ['Namespace', 'Workload / container', 'Kind', 'Baseline', 'Version', 'Items', 'Open deviations'].map((c, i) => h('th', { scope: 'col', class: i >= 4 ? 'num' : undefined, text: c })))),
      h('tbody', {}, rows),
    ),
    rows.length === 0 ? h('p', { class: 'muted', text: 'No workloads match.' }) : null,
    h(
      'div',
      { class: 'pager' },
      cursor ? h('button', { type: 'button', text: '← First page', onclick: () => ctx.navigate(`#/workloads${query(f)}`) }) : null,
      page.next ? h('button', { type: 'button', text: 'Next page →', onclick: () => ctx.navigate(`#/workloads${query({ ...f, cursor: page.next })}`) }) : null,
    ),
  );
}

function bulkForm(ctx) {
  const ns = h('input', { id: 'bulk-ns', required: true, pattern: '[a-z0-9]([-a-z0-9]*[a-z0-9])?', placeholder: 'namespace' });
  const reason = reasonField('bulk-comment', ctx.me, 'Reason');
  const out = h('div', { role: 'status' });
  // The preview lists every baseline the bulk approval would decide; nothing is approved before
  // its Confirm.
  return h(
    'form',
    {
      class: 'inline',
      onsubmit: async (e) => {
        e.preventDefault();
        if (!reason.ok()) return (out.textContent = `Give a reason of at least ${reason.min} characters first.`);
        let preview;
        try {
          preview = await api('POST', '/baselines/approve-namespace', { namespace: ns.value, comment: reason.input.value.trim(), dryRun: true });
        } catch (err) {
          return (out.textContent = err.message);
        }
        if (preview.approved.length === 0) return (out.textContent = 'No active baselines to approve in this namespace.');
        const items = preview.approved.reduce((n, b) => n + b.itemCount, 0);
        const panel = confirmation({
          title: `Approve ${preview.approved.length} baselines in ${ns.value}`,
          what: h(
            'div',
            {},
            h('p', { text: visible(`${preview.approved.length} workloads in namespace ${ns.value}, ${items} items in all, will be allowed as learned:`) }),
            h('ul', { class: 'allow mono' }, preview.approved.map((b) => h('li', {}, h('a', { href: `#/baselines/${b.id}`, text: visible(workloadName(b.workload)) }), ` v${b.version} · ${b.itemCount} items`))),
          ),
          reason,
          confirmLabel: `Confirm: approve ${preview.approved.length}`,
          action: 'confirm-bulk',
          onConfirm: async (text) => {
            try {
              const done = await api('POST', '/baselines/approve-namespace', { namespace: ns.value, comment: text });
              ctx.toast(`Approved ${done.approved.length} baselines`, 'ok');
              ctx.navigate(`#/workloads?namespace=${encodeURIComponent(ns.value)}`);
            } catch (err) {
              ctx.toast(err.message, 'error');
            }
          },
          onCancel: () => out.replaceChildren(),
        });
        out.replaceChildren(panel);
      },
    },
    h('label', { for: 'bulk-ns', text: 'Namespace ' }),
    ns,
    ' ',
    h('label', { for: 'bulk-comment', text: 'Reason ' }),
    reason.input,
    reason.count,
    ' ',
    h('button', { type: 'submit', text: 'Preview…', dataset: { action: 'bulk-preview' } }),
    out,
  );
}
