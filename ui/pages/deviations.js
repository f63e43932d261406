import { api, query } from '../api.js';
import { badge, clear, fmtAgo, fmtTime, h, visible, workloadName } from '../dom.js';

const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
const STATUSES = ['open', 'acknowledged', 'resolved', 'added-to-baseline'];
const KINDS = ['process', 'network', 'interactive-session', 'denied', 'baseline-overflow', 'image-change'];
const SORTS = [
  ['-created', 'Newest'],
  ['-lastSeen', 'Last seen'],
  ['-severity', 'Severity'],
  ['-count', 'Count'],
  ['created', 'Oldest'],
];
// The URL's filter names are the API's (docs/api.md): `severity` is a comma-separated list, so
// `#/deviations?severity=high` and `/api/v1/deviations?severity=high` mean the same thing.
const FILTER_KEYS = ['namespace', 'workload', 'severity', 'status', 'kind', 'q', 'sort', 'since'];
const SINCE = { '': 'Any time', '1h': 'Last hour', '24h': 'Last 24 h', '7d': 'Last 7 days', '30d': 'Last 30 days' };
const SINCE_MS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const PAGE = 50;

function select(name, label, options, value) {
  return h(
    'label',
    { class: 'field' },
    h('span', { text: label }),
    h('select', { name }, options.map(([v, text]) => h('option', { value: v, text, selected: v === value }))),
  );
}

/** Whether a live deviation belongs in the table the filters describe (as the server would decide). */
function matches(d, f) {
  if (f.namespace && !f.namespace.split(',').includes(d.workload.namespace)) return false;
  if (f.workload && d.workload.name !== f.workload) return false;
  if (f.severity && !f.severity.split(',').includes(d.severity)) return false;
  if (f.status && !f.status.split(',').includes(d.status)) return false;
  if (f.kind && !f.kind.split(',').includes(d.kind)) return false;
  if (f.since && d.lastSeenMs < Date.now() - SINCE_MS[f.since]) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (![d.summary, d.itemKey, d.workload.name].some((s) => String(s).toLowerCase().includes(q))) return false;
  }
  return true;
}

export function row(d, { fresh = false } = {}) {
  const link = h('a', { href: `#/deviations/${d.id}`, text: visible(d.summary) });
  const tr = h(
    'tr',
    { class: fresh ? 'fresh' : undefined, dataset: { id: String(d.id) }, tabindex: '-1' },
    h('td', {}, badge('sev', d.severity)),
    h('td', { class: 'summary' }, link),
    h('td', { class: 'mono', text: visible(workloadName(d.workload)) }),
    h('td', { text: d.kind }),
    h('td', {}, badge('status', d.status)),
    h('td', { class: 'num', text: String(d.count) }),
    h('td', { title: fmtTime(d.firstSeenMs), text: fmtAgo(d.firstSeenMs) }),
    h('td', { title: fmtTime(d.lastSeenMs), text: fmtAgo(d.lastSeenMs) }),
  );
  return tr;
}

export function table(rows) {
  return h(
    'table',
    { class: 'grid', 'aria-label': 'Deviations' },
    h('thead', {}, h('tr', {}, ['Severity', 'Summary', 'Workload', 'Kind', 'Status', 'Count', 'First seen', 'Last seen'].map((c) => h('th', { scope: 'col', class: c === 'Count' ? 'num' : undefined, text: c })))),
    h('tbody', {}, rows),
  );
}

/** j / k move between rows, Enter opens: the table is usable without a mouse. */
export function keyboardRows(tbody) {
  const onKey = (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement) return;
    if (e.key !== 'j' && e.key !== 'k') return;
    const rows = [...tbody.querySelectorAll('tr')];
    if (rows.length === 0) return;
    const current = rows.indexOf(document.activeElement?.closest?.('tr'));
    const next = e.key === 'j' ? Math.min(rows.length - 1, current + 1) : Math.max(0, current - 1);
    rows[next].querySelector('a')?.focus();
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  return () => document.removeEventListener('keydown', onKey);
}

/** "high and up" is the list `high,critical`: the select writes the API's `severity` list. */
function severityOptions(current) {
  const options = SEVERITIES.map((s, i) => [SEVERITIES.slice(i).join(','), `${s} and up`]).reverse();
  // A link may name any list (`?severity=high`): shown as it is, not rounded to an "and up".
  if (current && !options.some(([v]) => v === current)) options.unshift([current, `${current.split(',').join(', ')} only`]);
  return [['', 'Any'], ...options];
}

export async function render(main, ctx) {
  const f = Object.fromEntries(FILTER_KEYS.map((k) => [k, ctx.params.get(k) ?? '']));
  // The API's other name for a threshold (`minSeverity=high`), as older links carry it.
  const min = SEVERITIES.indexOf(ctx.params.get('minSeverity') ?? '');
  if (!f.severity && min >= 0) f.severity = SEVERITIES.slice(min).join(',');
  if (!f.sort) f.sort = '-created';
  const cursor = ctx.params.get('cursor') ?? '';
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    h('label', { class: 'field grow' }, h('span', { text: 'Search' }), h('input', { name: 'q', type: 'search', value: f.q, placeholder: 'summary, item or workload  ( / )', dataset: { search: '' } })),
    h('label', { class: 'field' }, h('span', { text: 'Namespace' }), h('input', { name: 'namespace', value: f.namespace, placeholder: 'any', size: 12 })),
    h('label', { class: 'field' }, h('span', { text: 'Workload' }), h('input', { name: 'workload', value: f.workload, placeholder: 'any', size: 12 })),
    select('severity', 'Severity', severityOptions(f.severity), f.severity),
    select('status', 'Status', [['', 'Any'], ...STATUSES.map((s) => [s, s]), ['open,acknowledged', 'open or acknowledged']], f.status),
    select('kind', 'Kind', [['', 'Any'], ...KINDS.map((s) => [s, s])], f.kind),
    select('since', 'Active', Object.entries(SINCE), f.since),
    select('sort', 'Sort', SORTS, f.sort),
    h('button', { type: 'submit', class: 'primary', text: 'Apply' }),
  );
  const onChange = () => {
    const data = Object.fromEntries(new FormData(form).entries());
    ctx.navigate(`#/deviations${query(data)}`);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onChange();
  });
  for (const s of form.querySelectorAll('select')) s.addEventListener('change', onChange);

  const banner = h('div', { class: 'banner', hidden: true });
  const tbody = h('tbody');
  const status = h('p', { class: 'muted', role: 'status' });
  const pager = h('div', { class: 'pager' });
  main.append(h('h1', { text: 'Deviations' }), form, banner, table([]), status, pager);
  main.querySelector('table tbody').replaceWith(tbody);

  const params = {
    namespace: f.namespace,
    workload: f.workload,
    severity: f.severity,
    status: f.status,
    kind: f.kind,
    q: f.q,
    sort: f.sort,
    from: f.since ? Date.now() - SINCE_MS[f.since] : undefined,
    limit: PAGE,
    cursor,
  };
  const page = await api('GET', `/deviations${query(params)}`);
  clear(tbody).append(...page.items.map((d) => row(d)));
  status.textContent = page.items.length === 0 ? 'No deviations match these filters.' : `${page.items.length} shown${page.next ? ', more on the next page' : ''}.`;
  if (cursor) pager.append(h('button', { type: 'button', text: '← First page', onclick: () => ctx.navigate(`#/deviations${query({ ...f })}`) }));
  if (page.next) pager.append(h('button', { type: 'button', text: 'Next page →', onclick: () => ctx.navigate(`#/deviations${query({ ...f, cursor: page.next })}`) }));

  // Live rows: on the first page of the newest-first order they are inserted at the top; elsewhere
  // a banner counts them (inserting would shift what the reader is looking at).
  let pending = 0;
  const live = cursor === '' && f.sort === '-created';
  ctx.onEvent((e) => {
    if (!e.deviation) return;
    const d = e.deviation;
    const existing = tbody.querySelector(`tr[data-id="${Number(d.id)}"]`);
    if (existing) {
      existing.replaceWith(row(d));
      return;
    }
    if (e.type !== 'deviation.created' || !matches(d, f)) return;
    if (live) {
      tbody.prepend(row(d, { fresh: true }));
      while (tbody.children.length > PAGE) tbody.lastElementChild.remove();
      status.textContent = `${tbody.children.length} shown, live.`;
    } else {
      pending += 1;
      banner.hidden = false;
      clear(banner).append(`${pending} new deviation${pending === 1 ? '' : 's'} since this page loaded. `, h('a', { href: `#/deviations${query({ ...f })}`, text: 'Show the newest' }));
    }
  });
  return keyboardRows(tbody);
}
