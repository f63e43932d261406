import { api } from '../api.js';
import { badge, fill, fmtAgo, fmtTime, h, visible } from '../dom.js';

export async function render(main) {
  const { items } = await api('GET', '/agents');
  fill(main, 
    h('h1', { text: 'Agents' }),
    h(
      'table',
      { class: 'grid', 'aria-label': 'Agents' },
      h('thead', {}, h('tr', {}, ['Node', 'Health', 'Version', 'Sources', 'Last seen', 'Counters'].map((c) => h('th', { scope: 'col', text: c })))),
      h(
        'tbody',
        {},
        items.map((a) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono', text: visible(a.node) }),
            h('td', {}, badge('health', a.health)),
            h('td', { text: visible(a.version) }),
            h('td', { text: visible(a.sources.join(', ')) }),
            h('td', { title: fmtTime(a.lastSeenAt), text: fmtAgo(a.lastSeenAt) }),
            h('td', { class: 'mono small wrap', text: visible(JSON.stringify(a.counters)) }),
          ),
        ),
      ),
    ),
    items.length === 0 ? h('p', { class: 'muted', text: 'No agent has connected yet.' }) : null,
  );
}
