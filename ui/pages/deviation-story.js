// The parts of a deviation page that tell its story: what exactly happened (the indicators the
// summary generalises away: the full command line, the peer address and port), why it is a
// deviation (which baseline, which version, which rule), and the deviations related to it.
import { api, query } from '../api.js';
import { fmtAgo, fmtTime, h, visible, workloadName } from '../dom.js';
import { describeItem } from '../items.js';

/** The exact indicators of the first sample, one line each. */
export function whatHappened(d) {
  const s = d.samples?.[0];
  if (!s) return null;
  const lines = [];
  if (s.kind === 'process') lines.push(['Command', `${s.process.exe} ${s.process.args ?? ''}`.trim()]);
  else {
    const peer = s.peerIp ? `${s.peerIp.includes(':') ? `[${s.peerIp}]` : s.peerIp}:${s.peerPort ?? '?'}${s.peerName ? ` (${s.peerName})` : ''}` : null;
    lines.push(['Connection', `${s.direction} ${s.protocol}${peer ? ` ${s.direction === 'ingress' ? 'from' : 'to'} ${peer}` : ''}${s.localPort !== null ? ` · local port ${s.localPort}` : ''}`]);
    lines.push(['By', `${s.process.exe} ${s.process.args ?? ''}`.trim()]);
  }
  if (s.process.parentExe) lines.push(['Parent', s.process.parentExe]);
  lines.push(['Where', `pod ${s.pod ?? 'host'} on node ${s.node}`]);
  lines.push(['When (event time)', `${fmtTime(d.firstSeenMs)} first, ${fmtTime(d.lastSeenMs)} last (${fmtAgo(d.lastSeenMs)})`]);
  return h(
    'section',
    { class: 'card story', 'aria-label': 'What happened' },
    h('h2', { text: 'What happened' }),
    h('dl', { class: 'facts' }, lines.map(([k, v]) => [h('dt', { text: k }), h('dd', { class: 'mono wrap', text: visible(v) })])),
  );
}

/** Which baseline did not allow it, at which version, and the rule behind the severity. */
export function whyDeviation(d, baseline) {
  const base = baseline
    ? [
        'Not allowed by the ',
        h('a', { href: `#/baselines/${baseline.id}`, text: `baseline of ${visible(workloadName(d.workload))}` }),
        ` (generation ${baseline.generation}, version ${baseline.version}, ${baseline.phase}${baseline.completeness === 'partial' ? ', partial' : ''}): `,
      ]
    : ['Not allowed by the workload’s baseline: '];
  return h('p', { class: 'why' }, ...base, h('strong', { text: visible(describeItem(d.itemKey, d.item ?? {})) }), ` is not in it. Severity ${d.severity}: ${visible(d.severityReason)}.`);
}

function relatedList(title, items) {
  if (items.length === 0) return null;
  return [
    h('h3', { text: title }),
    h('ul', { class: 'related' }, items.slice(0, 10).map((r) => h('li', {}, h('a', { href: `#/deviations/${r.id}`, text: visible(r.summary) }), ' ', h('span', { class: 'muted', text: `${r.severity} · ${r.status} · ${visible(workloadName(r.workload))} · ${fmtAgo(r.lastSeenMs)}` })))),
  ];
}

/**
 * Deviations in the same pod, of the same image (release) and of the same item in other
 * workloads. Loaded after the page is drawn: the page does not wait for them.
 */
export async function related(d) {
  const [sameWorkload, sameItem] = await Promise.all([
    api('GET', `/deviations${query({ namespace: d.workload.namespace, workload: d.workload.name, limit: 100 })}`),
    api('GET', `/deviations${query({ q: d.itemKey, limit: 100 })}`),
  ]);
  const others = sameWorkload.items.filter((r) => r.id !== d.id);
  const pods = new Set(d.pods);
  const samePod = others.filter((r) => r.pods?.some((p) => pods.has(p)));
  const sameImage = d.image ? others.filter((r) => r.image === d.image && !samePod.includes(r)) : [];
  const elsewhere = sameItem.items.filter((r) => r.id !== d.id && r.itemKey === d.itemKey && workloadName(r.workload) !== workloadName(d.workload));
  const parts = [relatedList('Same pod', samePod), relatedList('Same image (release)', sameImage), relatedList('Same item in other workloads', elsewhere)].filter(Boolean);
  return h('section', { class: 'card', 'aria-label': 'Related deviations' }, h('h2', { text: 'Related deviations' }), parts.length ? parts : h('p', { class: 'muted', text: 'None: no other deviation shares its pod, image or item.' }));
}
