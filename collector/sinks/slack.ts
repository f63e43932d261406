/**
 * Slack incoming webhook with a readable Block Kit message. Everything that came from a workload
 * (arguments, paths, peers, pod names) is escaped for mrkdwn (`&`, `<`, `>` → entities, so
 * `<!channel>` and `<http://x|y>` stay text) and shown inside code spans that cannot be closed
 * early (backticks are replaced, lines joined). The message is built by a pure function.
 */
import type { Severity } from '../../common/deviations.js';
import { jsonRequest, PostEachSink, sinkHttpClient } from './http.js';
import { deviationFacts, isoTime, listSome, workloadLabel } from './text.js';
import type { AlertNotification, SinkDefinition } from './types.js';

/** Slack caps a section's text at 3000 characters and a message at 50 blocks. */
const MAX_CODE_CHARS = 300;
const MAX_GROUP_LINES = 15;

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code that the text cannot break out of: no backtick, no newline, bounded length. */
export function codeSpan(text: string, max = MAX_CODE_CHARS): string {
  let flat = text.replace(/`/g, 'ˋ').replace(/[\r\n\t]+/g, ' ⏎ ');
  if (flat.length > max) flat = `${flat.slice(0, max - 1)}…`;
  return `\`${escapeMrkdwn(flat || ' ')}\``;
}

const SEVERITY_ICON: Record<Severity, string> = { info: ':information_source:', low: ':large_blue_circle:', medium: ':large_orange_circle:', high: ':red_circle:', critical: ':rotating_light:' };

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

function mrkdwn(text: string): Record<string, unknown> {
  return { type: 'mrkdwn', text };
}

/** Pure: the message for one notification. */
export function toSlackMessage(n: AlertNotification): SlackMessage {
  const resolved = n.status === 'resolved';
  const what = n.kind === 'health' ? 'health alert' : n.kind === 'group' ? 'grouped deviations' : 'deviation';
  const title = `${resolved ? 'Resolved' : n.severity.toUpperCase()}: driftwatch ${what}`;
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    { type: 'section', text: mrkdwn(`${resolved ? ':white_check_mark:' : SEVERITY_ICON[n.severity]} ${codeSpan(n.summary)}`) },
  ];
  const fields: string[] = [`*Cluster*\n${codeSpan(n.cluster)}`];
  if (n.workload) fields.push(`*Workload*\n${codeSpan(workloadLabel(n.workload))}`);
  if (n.health?.node) fields.push(`*Node*\n${codeSpan(n.health.node)}`);
  blocks.push({ type: 'section', fields: fields.map(mrkdwn) });

  if (n.kind === 'deviation' && n.deviations[0]) {
    const lines = deviationFacts(n.deviations[0]).map(([k, v]) => `*${k}*: ${codeSpan(v)}`);
    blocks.push({ type: 'section', text: mrkdwn(lines.join('\n')) });
  } else if (n.kind === 'group') {
    const shown = n.deviations.slice(0, MAX_GROUP_LINES);
    const more = n.deviations.length - shown.length + n.truncated;
    const lines = shown.map((d) => `• ${d.severity} ${codeSpan(d.summary, 150)} on ${codeSpan(listSome(d.pods), 80)}`);
    if (more > 0) lines.push(`• … and ${more} more`);
    blocks.push({ type: 'section', text: mrkdwn(`*${shown.length + more} new deviations within the grouping window*\n${lines.join('\n')}`) });
  } else if (n.health) {
    const lines = Object.entries(n.health.detail).map(([k, v]) => `*${escapeMrkdwn(k)}*: ${codeSpan(typeof v === 'string' ? v : JSON.stringify(v))}`);
    if (lines.length) blocks.push({ type: 'section', text: mrkdwn(lines.join('\n')) });
  }
  const context = [`started ${isoTime(n.startsAtMs)}`];
  if (n.endsAtMs !== null) context.push(`ended ${isoTime(n.endsAtMs)}`);
  if (n.heldBack > 0) context.push(`${n.heldBack} notifications held back by the rate limit before this one`);
  if (n.url) context.push(`<${escapeMrkdwn(n.url)}|open in driftwatch>`);
  blocks.push({ type: 'context', elements: [mrkdwn(context.join(' · '))] });
  return { text: `${title}: ${escapeMrkdwn(n.summary.replace(/[\r\n]+/g, ' '))}`, blocks };
}

export const slackSink: SinkDefinition = {
  type: 'slack',
  schema: { requireOneOf: [['url']], accepts: ['url', 'headers', 'tls', 'timeout'] },
  keepAlive: false,
  create: (config) => new PostEachSink('slack', config.name, config.url!, sinkHttpClient(config), (n) => jsonRequest(toSlackMessage(n))),
};
