/**
 * Plain-text renderings shared by the sinks. The text is *unescaped*: every sink escapes or
 * encodes it for its own medium (JSON, Slack mrkdwn, …).
 */
import type { WorkloadId } from '../../common/model.js';
import type { SessionCommand } from '../../common/deviations.js';
import type { AlertNotification, DeviationBrief } from './types.js';

/** Lists in text are capped: pods and nodes can number in the hundreds. */
const MAX_LISTED = 5;

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function workloadLabel(w: WorkloadId): string {
  return `${w.namespace}/${w.kind}/${w.name} (container ${w.container})`;
}

export function listSome(values: readonly string[]): string {
  if (values.length === 0) return '-';
  const shown = values.slice(0, MAX_LISTED).join(', ');
  return values.length > MAX_LISTED ? `${shown} (+${values.length - MAX_LISTED} more)` : shown;
}

/** The facts of one deviation, one `label: value` per entry (description, Slack fields, Falco). */
export function deviationFacts(d: DeviationBrief): [string, string][] {
  const facts: [string, string][] = [['item', d.itemKey]];
  if (d.release) facts.push(['new in this release', `${d.release.from} → ${d.release.to}`]);
  if (d.peer) facts.push(['peer', d.peer]);
  if (d.lineage.length > 0) facts.push(['lineage', d.lineage.join(' ← ')]);
  facts.push(
    ['pods', listSome(d.pods)],
    ['nodes', listSome(d.nodes)],
    ['first seen', isoTime(d.firstSeenMs)],
    ['seen', `${d.count}×`],
    ['severity', `${d.severity} (${d.severityReason})`],
  );
  return facts;
}

/** `<time>  <exe args>  (← parent ← …)`: one command of a session, as every text sink lists it. */
export function commandText(c: SessionCommand): string {
  const line = c.args ? `${c.exe} ${c.args}` : c.exe;
  return `${isoTime(c.timeMs)}  ${line}${c.lineage?.length ? `  (← ${c.lineage.join(' ← ')})` : ''}`;
}

/** A session's listed commands and the count of the rest, one line each (empty for other deviations). */
export function sessionLines(d: DeviationBrief): string[] {
  const lines = (d.commands ?? []).map(commandText);
  if (d.commandsMore) lines.push(`… ${d.commandsMore} more command${d.commandsMore === 1 ? '' : 's'} in driftwatch`);
  return lines;
}

/** The headline's prefix: an update says so (same alert, content grown since it was last sent). */
export function updateLabel(n: AlertNotification): string {
  return n.reason === 'update' ? `update #${n.sequence}: ` : '';
}

/** Multi-line plain description of a notification (Alertmanager `description`, stdout readers). */
export function describe(n: AlertNotification): string {
  const lines: string[] = [];
  if (n.kind === 'health' && n.health) {
    lines.push(n.health.summary);
    if (n.health.node) lines.push(`node: ${n.health.node}`);
    for (const [k, v] of Object.entries(n.health.detail)) lines.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  } else if (n.kind === 'group') {
    lines.push(`${updateLabel(n)}${n.deviations.length + n.truncated} new deviations in ${n.workload ? workloadLabel(n.workload) : 'one workload'} within the grouping window:`);
    for (const d of n.deviations) lines.push(`- [${d.severity}] ${d.summary}`);
    if (n.truncated > 0) lines.push(`- … and ${n.truncated} more`);
  } else {
    const d = n.deviations[0];
    if (d) {
      lines.push(`${updateLabel(n)}${d.summary}`);
      for (const [k, v] of deviationFacts(d)) lines.push(`${k}: ${v}`);
      const commands = sessionLines(d);
      if (commands.length) lines.push('commands:', ...commands.map((c) => `- ${c}`));
    }
  }
  if (n.heldBack > 0) lines.push(`(${n.heldBack} notifications were held back by the rate limit before this one)`);
  return lines.join('\n');
}
