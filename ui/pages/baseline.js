import { api, query } from '../api.js';
import { confirmation, reasonField } from '../decision.js';
import { append, badge, fill, fmtTime, h, visible, workloadName } from '../dom.js';
import { itemRow } from '../items.js';
import { undoCard } from '../undo.js';
import { releasesSection } from './releases.js';

/** What "partial" means, said where it is shown (lifecycle.ts decides it). */
const PARTIAL =
  'partial: the containers were already running when learning began, so what they do while starting was not seen. ' +
  'Expect start-up deviations when they restart; it becomes full once a container starts during learning.';

const DIFFS = [
  ['previous', 'Previous version'],
  ['approved', 'Last approved'],
  ['declared', 'Declared vs learned'],
];

/** What would a candidate (declared YAML) have raised over the stored observations? */
function whatIf(b) {
  const yaml = h('textarea', { id: 'whatif-yaml', rows: 8, spellcheck: 'false', class: 'mono', placeholder: 'apiVersion: driftwatch.dev/v1\nkind: Baseline\n…' });
  const days = h('input', { id: 'whatif-days', type: 'number', min: 1, max: 365, value: 7, size: 4 });
  const out = h('div', { role: 'status' });
  return h(
    'details',
    { class: 'card' },
    h('summary', { text: 'What if: try a candidate declared baseline against stored observations' }),
    h(
      'form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          fill(out, h('p', { class: 'muted', text: 'Evaluating…' }));
          try {
            const r = await api('POST', `/baselines/${b.id}/what-if`, { days: Number(days.value), yaml: yaml.value });
            fill(
              out,
              h('p', { text: `${r.scanned} observations from ${fmtTime(r.fromMs)} to ${fmtTime(r.toMs)}${r.truncated ? ' (limit reached)' : ''}: ${r.deviations.length} items would be deviations.` }),
              h(
                'ul',
                { class: 'diff' },
                r.deviations.map((d) =>
                  h('li', { class: `item ${d.allowedToday ? 'removed' : 'added'}` }, h('code', { text: visible(d.itemKey) }), h('span', { class: 'muted', text: ` ${d.count}× · ${d.allowedToday ? 'allowed today' : 'a deviation today too'} · ${visible(d.sample)}` })),
                ),
              ),
            );
          } catch (err) {
            fill(out, h('p', { class: 'error', text: err.message }));
          }
        },
      },
      h('label', { for: 'whatif-yaml', text: 'Declared baseline (YAML)' }),
      yaml,
      h(
        'p',
        {},
        h('label', { for: 'whatif-days', text: 'Days ' }),
        days,
        ' ',
        h('button', { type: 'submit', text: 'Evaluate' }),
        ' ',
        h('button', { type: 'button', text: `Diff against v${b.version}`, dataset: { action: 'candidate-diff' }, onclick: () => candidateDiff(b, yaml.value, out) }),
      ),
    ),
    out,
  );
}

/** The baseline's items against the candidate's rules: what it would stop allowing, what it adds. */
async function candidateDiff(b, yaml, out) {
  fill(out, h('p', { class: 'muted', text: 'Comparing…' }));
  try {
    const d = await api('POST', `/baselines/${b.id}/candidate-diff`, { yaml });
    fill(
      out,
      h('section', { class: 'candidate-diff', 'aria-label': 'Candidate diff' },
        h('p', { text: visible(`${d.to.label} → ${d.from.label}: ${d.added.length} learned items the candidate does not allow, ${d.removed.length} candidate rules nothing used, ${d.unchanged} allowed by both.`) }),
        h('h3', { text: 'Learned, not allowed by the candidate (deviations under it in replace mode)' }),
        d.added.length ? h('ul', { class: 'diff' }, d.added.map((i) => itemRow(i, 'removed'))) : h('p', { class: 'muted', text: 'None.' }),
        h('h3', { text: 'Allowed by the candidate, never seen' }),
        d.removed.length ? h('ul', { class: 'diff' }, d.removed.map((i) => h('li', { class: 'item added' }, h('span', { class: 'mark', 'aria-hidden': 'true', text: '+' }), h('code', { text: visible(i.key) })))) : h('p', { class: 'muted', text: 'None.' }),
      ),
    );
  } catch (err) {
    fill(out, h('p', { class: 'error', text: err.message }));
  }
}

export async function render(main, ctx) {
  const against = ctx.params.get('against') ?? 'previous';
  const b = await api('GET', `/baselines/${ctx.id}`);
  const [items, diff, generations, history, releases] = await Promise.all([
    api('GET', `/baselines/${b.id}/items`),
    api('GET', `/baselines/${b.id}/diff${query({ against })}`).catch((err) => ({ error: err.message })),
    api('GET', `/workloads/${b.workloadId}/baselines`),
    api('GET', `/audit${query({ targetType: 'baseline', targetId: String(b.id), limit: 1 })}`).catch(() => ({ items: [] })),
    releasesSection(b),
  ]);
  const canDecide = ctx.me.role === 'approver' || ctx.me.role === 'admin';
  const reason = reasonField('decision-comment', ctx.me, 'Reason for the decision');
  let acting = false;
  const buttons = h('div', { class: 'buttons' });
  // Approving or rejecting is confirmed against what it decides: the version's items, the workload.
  const decide = (verb, label) =>
    h('button', {
      type: 'button',
      class: verb === 'approve' ? 'primary' : 'danger',
      text: `${label}…`,
      dataset: { action: verb },
      onclick: () => {
        const panel = confirmation({
          title: `${label} version ${b.version}`,
          what: h(
            'div',
            {},
            h('p', {
              text: visible(
                verb === 'approve'
                  ? `For one workload, ${workloadName(b.workload)} (namespace ${b.workload.namespace}), these ${items.items.length} items will be allowed and everything else raises deviations:`
                  : `${workloadName(b.workload)} (namespace ${b.workload.namespace}): version ${b.version} with these ${items.items.length} items is rejected.`,
              ),
            }),
            h('ul', { class: 'diff allow' }, items.items.map((i) => itemRow(i, diff.added?.some((a) => a.key === i.key) ? 'added' : 'same'))),
            diff.added ? h('p', { class: 'muted', text: `${diff.added.length} added and ${diff.removed.length} removed since ${diff.from.label}.` }) : null,
          ),
          reason,
          confirmLabel: `Confirm: ${label.toLowerCase()} v${b.version}`,
          action: `confirm-${verb}`,
          onConfirm: async (text) => {
            acting = true;
            try {
              await api('POST', `/baselines/${b.id}/${verb}`, { version: b.version, comment: text });
              ctx.toast(`${label}d v${b.version}`, 'ok');
              ctx.navigate(`#/baselines/${b.id}?t=${Date.now()}`);
            } catch (err) {
              ctx.toast(err.message, 'error');
              acting = false;
            }
          },
          onCancel: () => panel.replaceWith(buttons),
        });
        buttons.replaceWith(panel);
        reason.input.focus();
      },
    });
  const decision =
    canDecide && (b.phase === 'active' || b.phase === 'learning' || b.phase === 'rejected')
      ? h(
          'section',
          { class: 'card actions', 'aria-label': 'Decision' },
          h('h2', { text: `Decide on version ${b.version}` }),
          h('label', { for: 'decision-comment', text: 'Reason' }),
          reason.input,
          reason.count,
          append(buttons, [decide('approve', 'Approve'), b.phase !== 'rejected' ? decide('reject', 'Reject') : null]),
        )
      : null;

  const diffSection = h(
    'section',
    { class: 'card', 'aria-label': 'Diff' },
    h('h2', { text: 'What changed' }),
    h(
      'div',
      { class: 'tabs', role: 'tablist' },
      DIFFS.map(([v, label]) => h('a', { href: `#/baselines/${b.id}?against=${v}`, role: 'tab', 'aria-selected': String(v === against), text: label })),
    ),
    diff.error
      ? h('p', { class: 'muted', text: diff.error })
      : [
          h('p', { class: 'muted', text: `${diff.from.label} → ${diff.to.label}: ${diff.added.length} added, ${diff.removed.length} removed, ${diff.unchanged} unchanged.` }),
          h('ul', { class: 'diff' }, diff.added.map((i) => itemRow(i, 'added')), diff.removed.map((i) => itemRow(i, 'removed'))),
        ],
  );
  const exportLinks =
    b.phase === 'approved'
      ? h(
          'p',
          {},
          'Export: ',
          ['yaml', 'networkpolicy', 'falco', 'tetragon'].map((f) =>
            h('button', {
              type: 'button',
              class: 'link',
              text: f,
              onclick: async () => {
                const text = await api('GET', `/baselines/${b.id}/export?format=${f}`);
                const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
                const a = h('a', { download: `baseline-${b.id}-${f}.yaml` });
                a.href = url;
                a.click();
                URL.revokeObjectURL(url);
              },
            }),
          ),
        )
      : null;

  fill(main, 
    h('p', { class: 'crumbs' }, h('a', { href: '#/workloads', text: '← Workloads' })),
    h('h1', { class: 'wrap' }, visible(workloadName(b.workload)), ' ', badge('phase', b.phase)),
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        {},
        diffSection,
        releases,
        h(
          'section',
          { class: 'card' },
          h('h2', { text: `Items of version ${items.version} (${items.items.length})` }),
          h('ul', { class: 'diff' }, items.items.map((i) => itemRow(i, 'same', items.version))),
        ),
        whatIf(b),
      ),
      h(
        'div',
        {},
        undoCard(history.items[0], ctx, () => {
          acting = true;
          ctx.navigate(`#/baselines/${b.id}?t=${Date.now()}`);
        }),
        decision,
        h(
          'section',
          { class: 'card' },
          h(
            'dl',
            { class: 'facts' },
            [
              ['Generation', String(b.generation)],
              ['Version', String(b.version)],
              ['Completeness', b.completeness === 'partial' ? PARTIAL : 'full: learned from containers that started while driftwatch watched'],
              ['Image', b.imageName && b.imageDigest ? `${b.imageName} @ ${b.imageDigest}` : (b.imageDigest ?? b.imageName ?? '—')],
              ['Learning', `${fmtTime(b.learningStartMs)} → ${fmtTime(b.learningUntilMs)}`],
              ['Open deviations', String(b.openDeviations)],
              ['Decided', b.decidedBy ? `${b.decidedBy} at ${fmtTime(b.decidedAt)}` : '—'],
              ['Comment', b.decisionComment ?? '—'],
            ].map(([k, v]) => [h('dt', { text: k }), h('dd', { text: visible(v) })]),
          ),
          exportLinks,
        ),
        generations.items.length > 1
          ? h(
              'section',
              { class: 'card' },
              h('h2', { text: 'Generations' }),
              h('ul', {}, generations.items.map((g) => h('li', {}, h('a', { href: `#/baselines/${g.id}`, text: `generation ${g.generation} v${g.version}` }), ' ', badge('phase', g.phase)))),
            )
          : null,
      ),
    ),
  );
  ctx.onEvent((e) => {
    if (!acting && e.type === 'baseline.changed' && e.baseline.id === b.id) ctx.toast('This baseline changed: reload to see it.', 'info');
  });
}
