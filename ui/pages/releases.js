// A workload's releases on its baseline page: per image (a generation of its own under the
// carry-forward policy), what it added and removed compared to the release before it, newest
// first. Image names and items come from the cluster: they go in as text.
import { api } from '../api.js';
import { badge, fmtTime, h, visible } from '../dom.js';
import { itemRow } from '../items.js';

/** Releases shown: enough for a few weeks of daily releases, bounded for the page. */
const SHOWN = 20;

function imageOf(b) {
  return b.imageName ?? b.imageDigest ?? 'unknown image';
}

function release(r, current) {
  const b = r.baseline;
  const heading = h(
    'h3',
    {},
    b.id === current.id ? `generation ${b.generation} (this one)` : h('a', { href: `#/baselines/${b.id}`, text: `generation ${b.generation}` }),
    ' ',
    h('code', { text: visible(imageOf(b)) }),
    ' ',
    badge('phase', b.phase),
  );
  if (!r.previous) {
    return h('li', { class: 'release', dataset: { generation: String(b.generation) } }, heading, h('p', { class: 'muted', text: `first release: ${r.added.length} items learned from ${fmtTime(b.learningStartMs)}` }));
  }
  const how = b.carriedFrom === r.previous.id ? 'carried forward from' : 'compared to';
  return h(
    'li',
    { class: 'release', dataset: { generation: String(b.generation) } },
    heading,
    h('p', { class: 'muted', text: visible(`${how} generation ${r.previous.generation} (${imageOf(r.previous)}): ${r.added.length} added, ${r.removed.length} removed, ${r.unchanged} unchanged`) }),
    r.added.length + r.removed.length > 0 ? h('ul', { class: 'diff' }, r.added.map((i) => itemRow(i, 'added')), r.removed.map((i) => itemRow(i, 'removed'))) : null,
  );
}

/** The "Releases" card of a baseline page (null for a workload with one release only). */
export async function releasesSection(current) {
  let list;
  try {
    list = await api('GET', `/workloads/${current.workloadId}/releases?limit=${SHOWN}`);
  } catch (err) {
    return h('section', { class: 'card', 'aria-label': 'Releases' }, h('h2', { text: 'Releases' }), h('p', { class: 'error', text: err.message }));
  }
  if (list.items.length < 2) return null;
  return h(
    'section',
    { class: 'card', 'aria-label': 'Releases' },
    h('h2', { text: 'Releases: what each image added and removed' }),
    h('ol', { class: 'releases' }, list.items.map((r) => release(r, current))),
    list.more ? h('p', { class: 'muted', text: `Only the newest ${SHOWN} releases are shown.` }) : null,
  );
}
