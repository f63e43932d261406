import { api, query } from '../api.js';
import { badge, fill, fmtAgo, fmtTime, h, visible } from '../dom.js';

/** Agent instances per page: a fleet's history can hold many thousands (the API pages it). */
const PAGE = 100;

export async function render(main, ctx) {
  const cursor = ctx.params.get('cursor') ?? '';
  const page = await api('GET', `/agents${query({ limit: PAGE, cursor })}`);
  const pager = h('div', { class: 'pager' });
  if (cursor) pager.append(h('button', { type: 'button', text: '← First page', onclick: () => ctx.navigate('#/agents') }));
  if (page.next) pager.append(h('button', { type: 'button', text: 'Next page →', onclick: () => ctx.navigate(`#/agents${query({ cursor: page.next })}`) }));
  fill(main, 
    h('h1', { text: 'Agents' }),
    h(
      'table',
      { class: 'grid', 'aria-label': 'Agents' },
      h('thead', {}, h('tr', {}, ['Node', 'Health', 'Version', 'Sources', 'Last seen', 'Counters'].map((c) => h('th', { scope: 'col', text: c })))),
      h(
        'tbody',
        {},
        page.items.map((a) =>
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
    page.items.length === 0 && !cursor ? h('p', { class: 'muted', text: 'No agent has connected yet.' }) : null,
    h('p', { class: 'muted', role: 'status', text: page.items.length ? `${page.items.length} shown${page.next ? ', more on the next page' : ''}.` : '' }),
    pager,
  );
}
