import { api, query } from '../api.js';
import { fill, fmtTime, h, visible } from '../dom.js';
import { auditReport } from './audit-report.js';

function targetLink(e) {
  if (e.targetType === 'deviation') return h('a', { href: `#/deviations/${Number(e.targetId)}`, text: `deviation ${e.targetId}` });
  if (e.targetType === 'baseline') return h('a', { href: `#/baselines/${Number(e.targetId)}`, text: `baseline ${e.targetId}` });
  return visible(`${e.targetType} ${e.targetId}`);
}

/** before → after, only the fields that changed. */
function change(e) {
  const before = e.before ?? {};
  const after = e.after ?? {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return h(
    'ul',
    { class: 'change' },
    keys.map((k) => h('li', {}, h('span', { class: 'key', text: `${k}: ` }), h('del', { text: visible(JSON.stringify(before[k] ?? null)) }), ' → ', h('ins', { text: visible(JSON.stringify(after[k] ?? null)) }))),
  );
}

export async function render(main, ctx) {
  const f = { actor: ctx.params.get('actor') ?? '', action: ctx.params.get('action') ?? '' };
  const cursor = ctx.params.get('cursor') ?? '';
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    h('label', { class: 'field' }, h('span', { text: 'Actor' }), h('input', { name: 'actor', value: f.actor, placeholder: 'token:name', dataset: { search: '' } })),
    h(
      'label',
      { class: 'field' },
      h('span', { text: 'Action' }),
      h(
        'select',
        { name: 'action' },
        [
          '',
          'baseline.approve',
          'baseline.approve.undo',
          'baseline.reject',
          'baseline.relearn',
          'deviation.ack',
          'deviation.ack.undo',
          'deviation.resolve',
          'deviation.resolve.undo',
          'deviation.reopen',
          'deviation.reopen.undo',
          'deviation.add-to-baseline',
          'deviation.add-to-baseline.undo',
          'token.create',
          'token.revoke',
        ].map((a) =>
          h('option', { value: a, text: a || 'Any', selected: a === f.action }),
        ),
      ),
    ),
    h('button', { type: 'submit', class: 'primary', text: 'Apply' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(`#/audit${query(Object.fromEntries(new FormData(form).entries()))}`);
  });
  const page = await api('GET', `/audit${query({ ...f, cursor, limit: 100 })}`);
  fill(main, 
    h('h1', { text: 'Audit log' }),
    auditReport(),
    form,
    h(
      'table',
      { class: 'grid', 'aria-label': 'Audit log' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'Target', 'Comment', 'Change'].map((c) => h('th', { scope: 'col', text: c })))),
      h(
        'tbody',
        {},
        page.items.map((e) =>
          h(
            'tr',
            {},
            h('td', { text: fmtTime(e.at) }),
            h('td', { class: 'mono', text: visible(e.actor) }),
            h('td', { text: e.action }),
            h('td', {}, targetLink(e), e.namespace ? h('span', { class: 'muted', text: ` in ${visible(e.namespace)}` }) : null),
            h('td', { class: 'wrap', text: visible(e.comment ?? '') }),
            h('td', {}, change(e)),
          ),
        ),
      ),
    ),
    page.items.length === 0 ? h('p', { class: 'muted', text: 'Nothing recorded yet.' }) : null,
    h(
      'div',
      { class: 'pager' },
      cursor ? h('button', { type: 'button', text: '← Newest', onclick: () => ctx.navigate(`#/audit${query(f)}`) }) : null,
      page.next ? h('button', { type: 'button', text: 'Older →', onclick: () => ctx.navigate(`#/audit${query({ ...f, cursor: page.next })}`) }) : null,
    ),
  );
}
