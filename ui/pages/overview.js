import { api, query } from '../api.js';
import { fill, h, svg, visible } from '../dom.js';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

/** Stacked bars of deviations first seen per bucket, one colour per severity (plus a legend). */
function chart(o) {
  const n = o.series.info.length;
  const totals = Array.from({ length: n }, (_, i) => SEVERITIES.reduce((s, sev) => s + o.series[sev][i], 0));
  const max = Math.max(1, ...totals);
  const W = 720;
  const H = 160;
  const bw = W / n;
  const bars = [];
  for (let i = 0; i < n; i++) {
    let y = H;
    for (const sev of SEVERITIES.slice().reverse()) {
      const v = o.series[sev][i];
      if (!v) continue;
      const bh = (v / max) * (H - 10);
      y -= bh;
      bars.push(svg('rect', { x: i * bw + 1, y, width: Math.max(1, bw - 2), height: bh, class: `sev-${sev}` }, svg('title', { text: `${v} ${sev}` })));
    }
  }
  const start = new Date(o.fromMs).toISOString().slice(0, 16).replace('T', ' ');
  const end = new Date(o.toMs).toISOString().slice(0, 16).replace('T', ' ');
  return h(
    'figure',
    { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Deviations per ${Math.round(o.bucketMs / 60000)} minutes, peak ${max}` }, bars),
    h('figcaption', {}, h('span', { text: `${start}Z` }), h('span', { class: 'legend' }, SEVERITIES.map((s) => h('span', { class: `key sev-${s}`, text: s }))), h('span', { text: `${end}Z` })),
  );
}

function counts(title, entries, link) {
  return h(
    'section',
    { class: 'card stat' },
    h('h2', { text: title }),
    h(
      'dl',
      { class: 'counts' },
      entries.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, link ? h('a', { href: link(k), text: String(v) }) : String(v))]),
    ),
  );
}

async function draw(main, ctx) {
  const namespace = ctx.params.get('namespace') ?? '';
  const o = await api('GET', `/overview${query({ buckets: 24, namespace })}`);
  const picker = h(
    'select',
    { 'aria-label': 'Namespace of the chart', onchange: (e) => ctx.navigate(`#/overview${query({ namespace: e.target.value })}`) },
    h('option', { value: '', text: 'All namespaces' }),
    [...new Set([namespace, ...o.byNamespace.map((r) => r.namespace)].filter(Boolean))].map((ns) => h('option', { value: ns, text: visible(ns), selected: ns === namespace })),
  );
  const nsRows = o.byNamespace.map((r) =>
    h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/deviations${query({ namespace: r.namespace, status: 'open' })}`, text: visible(r.namespace) })),
      SEVERITIES.map((s) => h('td', { class: `num ${r.bySeverity[s] ? `sev-text-${s}` : 'muted'}`, text: String(r.bySeverity[s]) })),
      h('td', { class: 'num', text: String(r.open) }),
    ),
  );
  fill(main, 
    h('h1', { text: 'Overview' }),
    h(
      'div',
      { class: 'stats' },
      counts('Deviations', Object.entries(o.byStatus), (k) => `#/deviations?status=${encodeURIComponent(k)}`),
      counts('Baselines', Object.entries(o.baselinesByPhase), (k) => `#/workloads?phase=${encodeURIComponent(k)}`),
      counts('Agents', Object.entries(o.agents), () => '#/agents'),
    ),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', { text: `New deviations, last 24 hours${namespace ? ` in ${visible(namespace)}` : ''}` }), picker), chart(o)),
    h(
      'section',
      { class: 'card' },
      h('h2', { text: 'Open deviations by namespace' }),
      nsRows.length
        ? h(
            'table',
            { class: 'grid compact', 'aria-label': 'Open deviations by namespace' },
            h('thead', {}, h('tr', {}, ['Namespace', ...SEVERITIES, 'Open'].map((c, i) => h('th', { scope: 'col', class: i ? 'num' : undefined, text: c })))),
            h('tbody', {}, nsRows),
          )
        : h('p', { class: 'muted', text: 'No open deviations.' }),
    ),
  );
}

export async function render(main, ctx) {
  await draw(main, ctx);
  // Redraw at most every 2 s while events arrive, not once per event.
  let timer = null;
  ctx.onEvent((e) => {
    if ((!e.type.startsWith('deviation') && e.type !== 'baseline.changed') || timer) return;
    timer = setTimeout(() => {
      timer = null;
      draw(main, ctx).catch(() => {});
    }, 2000);
  });
  return () => clearTimeout(timer);
}
