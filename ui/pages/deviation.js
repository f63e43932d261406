import { api, query } from '../api.js';
import { confirmation, reasonField } from '../decision.js';
import { append, badge, fill, fmtTime, h, visible, workloadName } from '../dom.js';
import { undoCard } from '../undo.js';
import { related, whatHappened, whyDeviation } from './deviation-story.js';

const RANK = { viewer: 0, analyst: 1, approver: 2, admin: 3 };

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v instanceof Node ? v : visible(v ?? '—'))]),
  );
}

/** The sample's ancestry, entrypoint first, down to the process itself. */
function processTree(sample) {
  const p = sample.process;
  const chain = [...(p.ancestors ?? [])].reverse();
  let list = h('ul', { class: 'tree' });
  const root = list;
  for (const a of chain) {
    const li = h('li', {}, h('code', { text: visible(a.exe) }), a.args ? h('span', { class: 'args', text: ` ${visible(a.args)}` }) : null, a.pid !== null ? h('span', { class: 'muted', text: ` pid ${a.pid}` }) : null);
    list.append(li);
    const next = h('ul', { class: 'tree' });
    li.append(next);
    list = next;
  }
  list.append(
    h(
      'li',
      { class: 'self' },
      h('code', { text: visible(p.exe) }),
      h('span', { class: 'args', text: ` ${visible(p.args)}` }),
      h('span', { class: 'muted', text: ` pid ${p.pid ?? '?'} · uid ${p.uid ?? '?'}${p.user ? ` (${visible(p.user)})` : ''}` }),
    ),
  );
  const note = p.lineage === 'partial' ? h('p', { class: 'muted', text: 'Lineage is partial: some ancestors were not seen by the sensor.' }) : null;
  const exec = p.inInitTree === false ? h('p', { class: 'warn', text: 'Started outside the container entrypoint tree (kubectl exec or similar).' }) : null;
  const cut = sample.truncated ? h('p', { class: 'warn', text: 'Some text was longer than driftwatch keeps and was cut where it ends with …[truncated N bytes] (padding a command line is a way to hide it).' }) : null;
  return h('div', {}, root, note, exec, cut);
}

function networkPeer(sample) {
  return facts([
    ['Direction', sample.direction],
    ['Protocol', sample.protocol],
    ['Peer', sample.peerIp ? `${sample.peerIp}${sample.peerPort !== null ? `:${sample.peerPort}` : ''}` : '—'],
    ['Peer name', sample.peerName ?? '—'],
    ['Local', sample.localIp ? `${sample.localIp}:${sample.localPort ?? '?'}` : '—'],
    ['Process', `${sample.process.exe} ${sample.process.args}`],
  ]);
}

function samplesTable(samples) {
  return h(
    'table',
    { class: 'grid compact', 'aria-label': 'Sample events' },
    h('thead', {}, h('tr', {}, ['Time', 'Pod', 'Node', 'Event'].map((c) => h('th', { scope: 'col', text: c })))),
    h(
      'tbody',
      {},
      samples.map((s) =>
        h(
          'tr',
          {},
          h('td', { text: fmtTime(s.time) }),
          h('td', { class: 'mono', text: visible(s.pod ?? 'host') }),
          h('td', { class: 'mono', text: visible(s.node) }),
          h('td', { class: 'mono wrap', text: visible(s.kind === 'process' ? `${s.process.exe} ${s.process.args}` : `${s.direction} ${s.protocol} ${s.peerIp ?? ''}:${s.peerPort ?? s.localPort ?? ''} (${s.process.exe})`) }),
        ),
      ),
    ),
  );
}

export async function render(main, ctx) {
  const [{ deviation: d, baseline }, history] = await Promise.all([
    api('GET', `/deviations/${ctx.id}`),
    api('GET', `/audit${query({ targetType: 'deviation', targetId: String(ctx.id), limit: 50 })}`).catch(() => ({ items: [] })),
  ]);
  const role = RANK[ctx.me.role] ?? 0;
  const reason = reasonField('comment', ctx.me);
  const comment = reason.input;
  // Our own change comes back on the stream too: no "it changed" notice for it.
  let acting = false;
  const send = async (path, label, text) => {
    acting = true;
    try {
      await api('POST', `/deviations/${d.id}/${path}`, { comment: text });
      ctx.toast(`${label}: done`, 'ok');
      ctx.navigate(`#/deviations/${d.id}?t=${Date.now()}`);
    } catch (err) {
      ctx.toast(err.message, 'error');
      acting = false;
      throw err;
    }
  };
  const act = (path, label) =>
    h('button', {
      type: 'button',
      text: label,
      dataset: { action: path },
      onclick: async (e) => {
        e.target.disabled = true;
        await send(path, label, comment.value.trim()).catch(() => (e.target.disabled = false));
      },
    });
  // Adding to the baseline allows the item from now on: it asks for a reason and shows what and
  // where before anything is sent.
  const buttons = h('div', { class: 'buttons' });
  const addToBaseline = () =>
    h('button', {
      type: 'button',
      text: 'Add to baseline…',
      dataset: { action: 'add-to-baseline' },
      onclick: () => {
        const panel = confirmation({
          title: 'Add to the baseline',
          what: h(
            'div',
            {},
            h('p', { text: 'From now on this will be allowed without a deviation:' }),
            h('ul', { class: 'allow' }, h('li', {}, h('code', { text: visible(d.itemKey) }))),
            h('p', {
              text: visible(
                `For one workload only: ${workloadName(d.workload)} (namespace ${d.workload.namespace}). ` +
                  (baseline ? `Its baseline (generation ${baseline.generation}) goes from version ${baseline.version} to ${baseline.version + 1}.` : ''),
              ),
            }),
            h('p', { class: 'muted', text: 'The reason above is kept in the audit log with your name.' }),
          ),
          reason,
          confirmLabel: 'Confirm: add to baseline',
          action: 'confirm-add-to-baseline',
          onConfirm: (text) => send('add-to-baseline', 'Add to baseline', text),
          onCancel: () => panel.replaceWith(buttons),
        });
        buttons.replaceWith(panel);
        comment.focus();
      },
    });
  const final = d.status === 'added-to-baseline';
  const actions =
    role >= 1 && !final
      ? h(
          'section',
          { class: 'card actions', 'aria-label': 'Actions' },
          h('label', { for: 'comment', text: 'Comment (a reason: required to add to the baseline)' }),
          comment,
          reason.count,
          append(buttons, [
            d.status !== 'acknowledged' ? act('ack', 'Acknowledge') : null,
            d.status !== 'resolved' ? act('resolve', 'Resolve') : null,
            d.status !== 'open' ? act('reopen', 'Reopen') : null,
            role >= 2 ? addToBaseline() : null,
          ]),
        )
      : null;

  const sample = d.samples?.[0];
  const detail = !sample
    ? h('p', { class: 'muted', text: 'No sample events were kept.' })
    : sample.kind === 'process'
      ? h('section', { class: 'card' }, h('h2', { text: 'Process tree' }), processTree(sample))
      : h('section', { class: 'card' }, h('h2', { text: 'Network peer' }), networkPeer(sample));

  const timeline = [
    { at: d.firstSeenMs, text: 'First seen' },
    ...history.items.map((a) => ({ at: Date.parse(a.at), text: `${a.action.replace('deviation.', '')} by ${a.actor}${a.comment ? `: ${a.comment}` : ''}` })),
    { at: d.lastSeenMs, text: `Last seen (${d.count === 1 ? 'once' : `${d.count} times`})` },
  ].sort((a, b) => a.at - b.at);

  const relatedSlot = h('section', { class: 'card', 'aria-label': 'Related deviations', 'aria-busy': 'true' }, h('h2', { text: 'Related deviations' }), h('p', { class: 'muted', text: 'Loading…' }));
  fill(main, 
    h('p', { class: 'crumbs' }, h('a', { href: '#/deviations', text: '← Deviations' })),
    h('h1', { class: 'wrap' }, badge('sev', d.severity), ' ', visible(d.summary)),
    whyDeviation(d, baseline),
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        {},
        whatHappened(d),
        h(
          'section',
          { class: 'card' },
          facts([
            ['Status', badge('status', d.status)],
            ['Workload', baseline ? h('a', { href: `#/baselines/${baseline.id}`, text: visible(workloadName(d.workload)) }) : workloadName(d.workload)],
            ['Kind', d.kind],
            ['Item', h('code', { text: visible(d.itemKey) })],
            ['Why this severity', d.severityReason],
            ['First seen', fmtTime(d.firstSeenMs)],
            ['Last seen', fmtTime(d.lastSeenMs)],
            ['Count', String(d.count)],
            ['Image', d.image ?? '—'],
            d.release ? ['New in this release', `${d.release.from} → ${d.release.to} (released ${fmtTime(d.release.releasedAtMs)})`] : null,
            d.statusBy ? ['Status set by', `${d.statusBy} at ${fmtTime(d.statusAt)}`] : null,
            d.statusComment ? ['Comment', d.statusComment] : null,
          ]),
        ),
        detail,
        d.commands?.length ? sessionCommands(d) : null,
        d.samples?.length ? h('section', { class: 'card' }, h('h2', { text: 'Sample events' }), samplesTable(d.samples)) : null,
      ),
      h(
        'div',
        {},
        undoCard(history.items[0], ctx, () => {
          acting = true;
          ctx.navigate(`#/deviations/${d.id}?t=${Date.now()}`);
        }),
        actions,
        h('section', { class: 'card' }, h('h2', { text: 'Pods' }), h('ul', { class: 'mono' }, d.pods.map((p) => h('li', { text: visible(p) })))),
        h('section', { class: 'card' }, h('h2', { text: 'Nodes' }), h('ul', { class: 'mono' }, d.nodes.map((n) => h('li', { text: visible(n) })))),
        relatedSlot,
        h('section', { class: 'card' }, h('h2', { text: 'Timeline' }), h('ol', { class: 'timeline' }, timeline.map((e) => h('li', {}, h('time', { text: fmtTime(e.at) }), ' ', visible(e.text))))),
      ),
    ),
  );
  related(d).then(
    (section) => relatedSlot.replaceWith(section),
    () => relatedSlot.remove(),
  );
  ctx.onEvent((e) => {
    if (!acting && e.deviation?.id === d.id && e.type !== 'deviation.created') ctx.toast('This deviation changed: reload to see it.', 'info');
  });
}

/** Every command of a session with its own time, arguments and parents; what was not kept is counted. */
function sessionCommands(d) {
  const items = d.commands.map((c) =>
    h(
      'li',
      {},
      h('time', { datetime: new Date(c.timeMs).toISOString(), text: fmtTime(c.timeMs) }),
      h('span', { class: 'command', text: `  ${visible(c.exe)}${c.args ? ` ${visible(c.args)}` : ''}` }),
      c.lineage?.length ? h('span', { class: 'lineage muted', text: `  ← ${c.lineage.map(visible).join(' ← ')}` }) : null,
    ),
  );
  const omitted = d.commandsOmitted ?? 0;
  return h(
    'section',
    { class: 'card', 'aria-label': 'Commands in this session' },
    h('h2', { text: `Commands in this session (${d.commands.length + omitted})` }),
    h('ol', { class: 'mono' }, items),
    omitted > 0 ? h('p', { class: 'muted', text: `… and ${omitted} more command${omitted === 1 ? '' : 's'}, counted but not kept` }) : null,
  );
}
