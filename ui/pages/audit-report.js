// The audit report in the console (GET /reports/audit, as `driftwatch report audit`): decisions by
// action with who / when / why, deviation handling times by severity (medians and the slowest),
// and baselines by phase, for a namespace and a period.
import { api, query } from '../api.js';
import { fill, fmtTime, h, visible } from '../dom.js';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

/** 95 min → "1h 35m"; null → "—". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const m = Math.round(ms / 60000);
  if (m < 60) return `${m}m`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours}h ${m % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

const day = (offset) => new Date(Date.now() + offset * 86400e3).toISOString().slice(0, 10);

function handlingTable(handling) {
  return h(
    'table',
    { class: 'grid compact', 'aria-label': 'Handling times' },
    h('thead', {}, h('tr', {}, ['Severity', 'Raised', 'Acknowledged', 'Resolved', 'Unresolved', 'Median to acknowledge', 'Median to resolve', 'Slowest'].map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      SEVERITIES.filter((s) => handling[s]?.raised > 0).map((s) => {
        const x = handling[s];
        const slow = x.slowest;
        return h(
          'tr',
          { dataset: { severity: s } },
          h('td', { text: s }),
          ...[x.raised, x.acknowledged, x.resolved, x.unresolved].map((n) => h('td', { class: 'num', text: String(n) })),
          h('td', { text: duration(x.medianToAcknowledgeMs) }),
          h('td', { text: duration(x.medianToResolveMs) }),
          h('td', {}, slow ? [h('a', { href: `#/deviations/${Number(slow.id)}`, text: visible(slow.summary) }), ` ${duration(slow.handlingMs)}${slow.resolved ? '' : ' (unresolved)'}`] : '—'),
        );
      }),
    ),
  );
}

function decisionsTable(decisions) {
  return h(
    'table',
    { class: 'grid compact', 'aria-label': 'Decisions' },
    h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'Target', 'Why'].map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      decisions.map((d) =>
        h('tr', {}, h('td', { text: fmtTime(d.at) }), h('td', { class: 'mono', text: visible(d.actor) }), h('td', { text: d.action }), h('td', { text: visible(`${d.targetType} ${d.targetId} in ${d.namespace ?? '—'}`) }), h('td', { class: 'wrap', text: visible(d.comment ?? '') })),
      ),
    ),
  );
}

/** A folded card: namespace and period, then the report. */
export function auditReport() {
  const ns = h('input', { id: 'report-ns', name: 'namespace', placeholder: 'every namespace of yours', pattern: '[a-z0-9]([-a-z0-9]*[a-z0-9])?', size: 16 });
  const from = h('input', { id: 'report-from', name: 'from', type: 'date', value: day(-90), required: true });
  const to = h('input', { id: 'report-to', name: 'to', type: 'date', value: day(1), required: true });
  const out = h('div', { role: 'status' });
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: async (e) => {
        e.preventDefault();
        fill(out, h('p', { class: 'muted', text: 'Building the report…' }));
        try {
          const r = await api('GET', `/reports/audit${query({ namespace: ns.value.trim(), from: Date.parse(from.value), to: Date.parse(to.value) })}`);
          const actions = Object.entries(r.actions).sort(([a], [b]) => a.localeCompare(b));
          fill(
            out,
            h('section', { class: 'report', 'aria-label': 'Audit report' },
              h('p', { text: visible(`${r.namespace ?? 'Every namespace of this token'}, ${fmtTime(r.from)} → ${fmtTime(r.to)}: ${r.decisions.length} decisions.`) }),
              h('h3', { text: 'Decisions by action' }),
              actions.length ? h('ul', { class: 'actions' }, actions.map(([a, n]) => h('li', { dataset: { action: a }, text: `${a}: ${n}` }))) : h('p', { class: 'muted', text: 'None in this period.' }),
              h('h3', { text: 'Handling times (raised → acknowledged → resolved)' }),
              handlingTable(r.handling),
              h('h3', { text: 'Baselines by phase (now)' }),
              h('p', { class: 'phases', text: Object.entries(r.baselinesByPhase).map(([p, n]) => `${p} ${n}`).join(' · ') || '—' }),
              h('h3', { text: 'Who decided what, when, why' }),
              decisionsTable(r.decisions),
            ),
          );
        } catch (err) {
          fill(out, h('p', { class: 'error', text: err.message }));
        }
      },
    },
    h('label', { class: 'field' }, h('span', { text: 'Namespace' }), ns),
    h('label', { class: 'field' }, h('span', { text: 'From' }), from),
    h('label', { class: 'field' }, h('span', { text: 'To (exclusive)' }), to),
    h('button', { type: 'submit', class: 'primary', text: 'Build the report', dataset: { action: 'audit-report' } }),
  );
  return h('details', { class: 'card' }, h('summary', { text: 'Audit report: decisions, handling times, baselines by phase' }), form, out);
}
