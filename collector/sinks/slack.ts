/**
 * Slack incoming webhook with a readable Block Kit message. Everything that came from a workload
 * (arguments, paths, peers, pod names) is escaped for mrkdwn (`&`, `<`, `>` → entities, so
 * `<!channel>` and `<http://x|y>` stay text) and shown inside code spans that cannot be closed
 * early (backticks are replaced, lines joined). The message is built by a pure function.
 */
import type { Severity } from '../../common/deviations.js';
import { jsonRequest, PostEachSink, postEachSinkFields, sinkHttpClient } from './http.js';
import { commandText, deviationFacts, isoTime, listSome, workloadLabel } from './text.js';
import { defineSink, type AlertNotification } from './types.js';

/**
 * Slack refuses (HTTP 400, never delivered) a section text over 3000 characters and a message
 * over 50 blocks. This message has at most six blocks; every section text is kept under
 * MAX_SECTION_CHARS, whatever the workload put into its arguments.
 */
const MAX_CODE_CHARS = 300;
const MAX_SECTION_CHARS = 2900;
/** The fallback `text` (notifications, screen readers) needs only the gist. */
const MAX_FALLBACK_CHARS = 1000;
const MAX_GROUP_LINES = 15;

export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Shortens already-escaped mrkdwn to `max` characters, ellipsis included, never cutting an
 * entity (`&amp;` …) or a surrogate pair in half: escaping after cutting would grow the text
 * past the limit again, and half an entity would show as garbage.
 */
export function truncateEscaped(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  let cut = max - 1;
  const amp = escaped.lastIndexOf('&', cut - 1);
  if (amp >= 0 && escaped.indexOf(';', amp) >= cut) cut = amp;
  const last = escaped.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${escaped.slice(0, cut)}…`;
}

/** Inline code that the text cannot break out of: no backtick, no newline, bounded length (escaped). */
export function codeSpan(text: string, max = MAX_CODE_CHARS): string {
  const flat = text.replace(/`/g, 'ˋ').replace(/[\r\n\t]+/g, ' ⏎ ');
  return `\`${truncateEscaped(escapeMrkdwn(flat || ' '), max)}\``;
}

/**
 * A section text of whole lines within MAX_SECTION_CHARS. Lines are kept in order until the next
 * one would not fit (a line is never cut, so its code spans stay balanced); what is left out,
 * plus `unlisted` items that had no line, is counted in one closing line.
 */
function fitLines(head: string | null, lines: readonly string[], more: (omitted: number) => string, unlisted = 0): string {
  const kept = head === null ? [] : [head];
  let length = head?.length ?? -1;
  // Room for the closing line with the largest count it can carry.
  const reserve = 1 + more(lines.length + unlisted).length;
  let shown = 0;
  for (const line of lines) {
    const closing = shown + 1 < lines.length || unlisted > 0 ? reserve : 0;
    if (length + 1 + line.length + closing > MAX_SECTION_CHARS) break;
    kept.push(line);
    length += 1 + line.length;
    shown += 1;
  }
  const omitted = lines.length - shown + unlisted;
  if (omitted > 0) kept.push(more(omitted));
  return kept.join('\n');
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
  // Incoming webhooks cannot edit a message: an update is a new message that says which alert it updates.
  const update = n.reason === 'update' ? ` (update #${n.sequence})` : '';
  const title = `${resolved ? 'Resolved' : n.severity.toUpperCase()}: driftwatch ${what}${update}`;
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: title, emoji: true } },
    { type: 'section', text: mrkdwn(`${resolved ? ':white_check_mark:' : SEVERITY_ICON[n.severity]} ${codeSpan(n.summary)}`) },
  ];
  const fields: string[] = [`*Cluster*\n${codeSpan(n.cluster)}`];
  if (n.workload) fields.push(`*Workload*\n${codeSpan(workloadLabel(n.workload))}`);
  if (n.health?.node) fields.push(`*Node*\n${codeSpan(n.health.node)}`);
  blocks.push({ type: 'section', fields: fields.map(mrkdwn) });

  if (n.kind === 'deviation' && n.deviations[0]) {
    const d = n.deviations[0];
    const lines = deviationFacts(d).map(([k, v]) => `*${k}*: ${codeSpan(v)}`);
    blocks.push({ type: 'section', text: mrkdwn(fitLines(null, lines, (k) => `… ${k} more in driftwatch`)) });
    if (d.commands?.length) {
      const commands = d.commands.map((c) => `• ${codeSpan(commandText(c), 200)}`);
      blocks.push({ type: 'section', text: mrkdwn(fitLines('*Commands*', commands, (k) => `• … and ${k} more in driftwatch`, d.commandsMore ?? 0)) });
    }
  } else if (n.kind === 'group') {
    const total = n.deviations.length + n.truncated;
    const shown = n.deviations.slice(0, MAX_GROUP_LINES);
    const lines = shown.map((d) => `• ${d.severity} ${codeSpan(d.summary, 150)} on ${codeSpan(listSome(d.pods), 80)}`);
    const head = `*${total} new deviations within the grouping window*`;
    blocks.push({ type: 'section', text: mrkdwn(fitLines(head, lines, (k) => `• … and ${k} more`, total - shown.length)) });
  } else if (n.health) {
    const lines = Object.entries(n.health.detail).map(([k, v]) => `*${escapeMrkdwn(k)}*: ${codeSpan(typeof v === 'string' ? v : JSON.stringify(v))}`);
    if (lines.length) blocks.push({ type: 'section', text: mrkdwn(fitLines(null, lines, (k) => `… ${k} more in driftwatch`)) });
  }
  const context = [`started ${isoTime(n.startsAtMs)}`];
  if (n.endsAtMs !== null) context.push(`ended ${isoTime(n.endsAtMs)}`);
  if (n.heldBack > 0) context.push(`${n.heldBack} notifications held back by the rate limit before this one`);
  if (n.url) context.push(`<${escapeMrkdwn(n.url)}|open in driftwatch>`);
  blocks.push({ type: 'context', elements: [mrkdwn(context.join(' · '))] });
  return { text: `${title}: ${truncateEscaped(escapeMrkdwn(n.summary.replace(/[\r\n]+/g, ' ')), MAX_FALLBACK_CHARS)}`, blocks };
}

export const slackSink = defineSink({
  type: 'slack',
  fields: postEachSinkFields,
  requireOneOf: [['url']],
  keepAlive: false,
  create: (config) => new PostEachSink('slack', config.name, config.url!, sinkHttpClient(config), (n) => jsonRequest(toSlackMessage(n))),
});
