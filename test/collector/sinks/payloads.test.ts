/** The sinks' payload builders are pure: formatting and escaping are tested without network. */
import t from 'tap';
import { createHmac } from 'node:crypto';
import { toBrief } from '../../../collector/outbox/brief.js';
import { sampleNotification } from '../../../collector/outbox/sample.js';
import { toAlertmanagerAlerts, combineVerdicts } from '../../../collector/sinks/alertmanager.js';
import { toAlertDocument, toJsonLines } from '../../../collector/sinks/document.js';
import { falcoTime, toFalcoEvent } from '../../../collector/sinks/falco.js';
import { safeJson } from '../../../collector/sinks/json.js';
import { codeSpan, escapeMrkdwn, toSlackMessage, truncateEscaped } from '../../../collector/sinks/slack.js';
import type { AlertNotification } from '../../../collector/sinks/types.js';
import { signBody, toWebhookRequest } from '../../../collector/sinks/webhook.js';
import { deviation, processSample, T0, WORKLOAD } from '../../helpers/alerting.js';

const EVIL_ARGS = '"><img src=x onerror=alert(1)> <script>alert(1)</script> `whoami` <!channel> <http://evil.example|click> & done\nline2';
const BASE = 'https://driftwatch.example';

function evilNotification(): AlertNotification {
  const d = deviation({ id: 7, summary: `new process /tmp/x ${EVIL_ARGS}`, item: { exe: '/tmp/x', args: EVIL_ARGS }, samples: [processSample('/tmp/x', EVIL_ARGS, T0)] });
  const brief = toBrief(d, BASE);
  return {
    idempotencyKey: 'k-1',
    alertKey: 'deviation:7',
    kind: 'deviation',
    status: 'firing',
    reason: 'new',
    alertname: 'DriftwatchDeviation',
    severity: 'high',
    cluster: 'test',
    summary: d.summary,
    startsAtMs: T0,
    endsAtMs: null,
    url: brief.url,
    workload: WORKLOAD,
    deviations: [brief],
    truncated: 0,
    health: null,
    heldBack: 0,
    decidedAtMs: T0 + 5,
    sequence: 1,
  };
}

/** Every string anywhere in a JSON value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

t.test('safeJson: no raw markup characters, same value; invisible characters shown as escapes', async (t) => {
  const v = { s: EVIL_ARGS, u: '\u2028' };
  const text = safeJson(v);
  t.notMatch(text, /[<>&\u2028]/);
  t.same(JSON.parse(text), { s: EVIL_ARGS, u: '\\u2028' });
});

t.test('slack: attacker text is escaped and stays inside code spans', async (t) => {
  t.equal(escapeMrkdwn('<!channel> & <http://x|y>'), '&lt;!channel&gt; &amp; &lt;http://x|y&gt;');
  t.equal(codeSpan('a`b\nc'), '`aˋb ⏎ c`');
  const msg = toSlackMessage(evilNotification());
  const raw = safeJson(msg);
  t.notMatch(raw, /<script|<img|<!channel>/i);
  const texts = strings(JSON.parse(raw));
  for (const s of texts) {
    // Only driftwatch's own link may use <…|…>; nothing from the workload opens a tag or mention.
    const withoutOwnLink = s.replace(`<${BASE}/ui/deviations/7|open in driftwatch>`, '');
    t.notMatch(withoutOwnLink, /[<>]/, `no raw angle bracket in ${JSON.stringify(s.slice(0, 60))}`);
    t.notMatch(s, /<!channel>|<!here>/);
  }
  // Code spans are balanced in every mrkdwn text: the workload's backtick cannot close one.
  for (const s of texts) t.equal((s.match(/`/g) ?? []).length % 2, 0, 'balanced backticks');
  const section = JSON.stringify(msg.blocks);
  t.match(section, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  t.match(section, /ˋwhoamiˋ/);
  t.match(msg.blocks[0], { type: 'header' });
});

t.test('slack: grouped and resolved messages', async (t) => {
  const n = evilNotification();
  const group: AlertNotification = { ...n, kind: 'group', alertKey: 'group:x:1', deviations: Array.from({ length: 20 }, () => n.deviations[0]!), truncated: 20 };
  const msg = toSlackMessage(group);
  t.match(JSON.stringify(msg.blocks), /40 new deviations/);
  t.match(JSON.stringify(msg.blocks), /and 25 more/);
  const resolved = toSlackMessage({ ...n, status: 'resolved', endsAtMs: T0 + 1000 });
  t.match(resolved.text, /^Resolved/);
});

t.test('slack: escaping never pushes a section over its 3000-character limit', async (t) => {
  const amps = '&'.repeat(400);
  const span = codeSpan(amps);
  t.ok(span.length <= 302, `a code span stays within its bound after escaping (${span.length})`);
  t.match(span, /^`(&amp;)+…`$/, 'cut between entities, never inside one');
  t.equal(truncateEscaped('ab&lt;cd', 5), 'ab…', 'an entity that does not fit is left out whole');
  t.equal(truncateEscaped('abc&lt;d', 8), 'abc&lt;d', 'short enough: unchanged');
  t.equal(truncateEscaped('a\u{1F600}b', 3), 'a…', 'a surrogate pair is not split');

  const args = `${amps} <${amps}>`;
  const member = (i: number) => {
    const d = deviation({ id: 100 + i, summary: `new process /tmp/x${i} ${args}`, item: { exe: `/tmp/x${i}`, args }, pods: [`${amps}-${i}`, `<${amps}>`], samples: [processSample(`/tmp/x${i}`, args, T0)] });
    return toBrief(d, BASE);
  };
  const single = evilNotification();
  const notifications: [string, AlertNotification][] = [
    ['a deviation', { ...single, summary: member(0).summary, deviations: [member(0)] }],
    ['a 40-member group', { ...single, kind: 'group', alertKey: 'group:x:1', summary: '40 new deviations', deviations: Array.from({ length: 40 }, (_v, i) => member(i)), truncated: 0 }],
    ['a health alert', { ...single, kind: 'health', deviations: [], health: { kind: 'source-silent', key: 'k', severity: 'medium', summary: args, node: amps, resolved: false, atMs: T0, detail: Object.fromEntries(Array.from({ length: 30 }, (_v, i) => [`k${i}`, args])) } }],
  ];
  for (const [what, n] of notifications) {
    const msg = toSlackMessage(n);
    t.ok(msg.blocks.length <= 50, `${what}: ${msg.blocks.length} blocks`);
    for (const b of msg.blocks) {
      const texts = [b.text, ...((b.fields as unknown[]) ?? []), ...((b.elements as unknown[]) ?? [])].map((x) => (x as { text?: string } | undefined)?.text).filter((x): x is string => typeof x === 'string');
      for (const text of texts) {
        t.ok(text.length <= 2900, `${what}: a ${String(b.type)} text of ${text.length} characters`);
        t.equal((text.match(/`/g) ?? []).length % 2, 0, `${what}: balanced backticks`);
        t.notMatch(text.replace(/&(amp|lt|gt);/g, ''), /&/, `${what}: no entity cut in half`);
      }
    }
    t.ok(msg.text.length <= 1100, `${what}: fallback text of ${msg.text.length} characters`);
  }
  const group = JSON.stringify(toSlackMessage(notifications[1]![1]).blocks);
  t.match(group, /40 new deviations within the grouping window/);
  const shown = (group.match(/• medium|• high/g) ?? []).length;
  t.ok(shown > 0 && shown < 15, `${shown} members listed`);
  t.match(group, new RegExp(`and ${40 - shown} more`), 'the rest is counted');
});

t.test('webhook: HMAC-SHA256 over the exact body bytes, versioned document', async (t) => {
  const n = evilNotification();
  const secret = 'a-very-secret-shared-key';
  const { body, headers } = toWebhookRequest(n, secret, T0 + 10_000);
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  t.equal(headers['x-driftwatch-signature'], expected);
  t.equal(signBody(body, secret), expected);
  t.equal(headers['x-driftwatch-timestamp'], String(Math.floor((T0 + 10_000) / 1000)));
  t.equal(headers['idempotency-key'], 'k-1');
  t.notMatch(body.toString('utf8'), /[<>]/, 'markup characters are \\u-encoded');
  const doc = JSON.parse(body.toString('utf8')) as ReturnType<typeof toAlertDocument>;
  t.equal(doc.schema, 'driftwatch.alert.v1');
  t.equal(doc.idempotencyKey, 'k-1');
  t.equal(doc.sentAt, new Date(T0 + 10_000).toISOString());
  t.equal(doc.deviations[0]!.item.args, EVIL_ARGS, 'the value itself is intact');
  t.equal(doc.deviations[0]!.firstSeen, new Date(T0).toISOString());
  t.equal(doc.workload?.name, 'api');
  t.equal(toJsonLines([n, n], T0).split('\n').length, 3, 'JSON lines end with a newline');
});

t.test('falco: Falco-compatible event', async (t) => {
  t.equal(falcoTime(Date.parse('2023-05-25T13:44:05.478Z')), '2023-05-25T13:44:05.478000000Z');
  const e = toFalcoEvent(evilNotification(), { hostname: 'collector-0' });
  t.equal(e.source, 'driftwatch');
  t.equal(e.priority, 'Error');
  t.equal(e.rule, 'Driftwatch deviation: process');
  t.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  t.equal(e.hostname, 'node-1');
  t.same(e.tags, ['driftwatch', 'deviation', 'process']);
  t.equal(e.output_fields['k8s.ns.name'], 'payments');
  t.equal(e.output_fields['proc.exepath'], '/tmp/x');
  t.equal(e.output_fields['driftwatch.deviation_id'], 7);
  t.notMatch(e.output, /\n/, 'output is one line');
  t.notMatch(safeJson(e), /<script/);
});

t.test('alertmanager: labels, annotations, startsAt / endsAt', async (t) => {
  const n = evilNotification();
  const [firing] = toAlertmanagerAlerts([n], { nowMs: T0 + 60_000, refreshMs: 60_000 });
  t.same(firing!.labels, {
    alertname: 'DriftwatchDeviation',
    severity: 'high',
    cluster: 'test',
    namespace: 'payments',
    workload: 'api',
    workload_kind: 'Deployment',
    container: 'app',
    deviation_kind: 'process',
    deviation_id: '7',
  });
  t.equal(firing!.startsAt, new Date(T0).toISOString());
  t.equal(firing!.endsAt, new Date(T0 + 60_000 + 4 * 60_000).toISOString(), 'stays firing a few refresh intervals');
  t.equal(firing!.annotations.url, `${BASE}/ui/deviations/7`);
  t.match(firing!.annotations.description, /lineage: \/tmp\/x/);
  t.match(firing!.annotations.description, /pods: api-5d9c7-abcde/);
  t.match(firing!.annotations.description, /first seen: 2026-11-30T10:00:00.000Z/);
  const [resolved] = toAlertmanagerAlerts([{ ...n, status: 'resolved', endsAtMs: T0 + 5000 }], { nowMs: T0 + 60_000, refreshMs: 60_000 });
  t.equal(resolved!.endsAt, new Date(T0 + 5000).toISOString());
  t.same(combineVerdicts([{ result: 'retry', reason: 'a' }, { result: 'ok' }]), { result: 'ok' });
  t.equal(combineVerdicts([{ result: 'fail', reason: 'a' }, { result: 'retry', reason: 'b' }]).result, 'retry');
  t.equal(combineVerdicts([{ result: 'fail', reason: 'a' }]).result, 'fail');
});

t.test('sample notification is a valid deviation alert', async (t) => {
  const n = sampleNotification({ cluster: 'c', baseUrl: BASE, nowMs: T0 });
  t.equal(n.reason, 'test');
  t.ok(toAlertmanagerAlerts([n], { nowMs: T0, refreshMs: 1000 })[0]!.labels.alertname);
});

/** An interactive session's alert, updated: its commands with their times and parents, a higher sequence. */
function sessionUpdate(): AlertNotification {
  const commands = Array.from({ length: 12 }, (_v, i) => ({ exe: i === 0 ? '/bin/bash' : `/usr/bin/cmd-${i}`, args: i === 3 ? '<script>x</script>' : '', timeMs: T0 + i * 10_000, lineage: i === 0 ? ['/usr/bin/runc exec'] : ['/bin/bash', '/usr/bin/runc exec'] }));
  const d = deviation({ id: 9, kind: 'interactive-session', summary: 'interactive session: 64 commands (/bin/bash, …)', commands, commandsOmitted: 52 });
  const brief = toBrief(d, BASE);
  return { ...evilNotification(), alertKey: 'deviation:9', summary: d.summary, deviations: [brief], reason: 'update', sequence: 3, idempotencyKey: 'k-9' };
}

t.test('a session update: each sink says it is an update of the same alert and lists the commands with their times', async (t) => {
  const n = sessionUpdate();
  t.equal(n.deviations[0]!.commands!.length, 12);
  t.equal(n.deviations[0]!.commandsMore, 52);

  const doc = toAlertDocument(n, T0);
  t.match(doc, { key: 'deviation:9', reason: 'update', sequence: 3 });
  t.same(doc.deviations[0]!.commands![1], { time: new Date(T0 + 10_000).toISOString(), exe: '/usr/bin/cmd-1', args: '', lineage: ['/bin/bash', '/usr/bin/runc exec'] });
  t.equal(doc.deviations[0]!.commandsMore, 52);

  const [am] = toAlertmanagerAlerts([n], { nowMs: T0, refreshMs: 60_000 });
  const [amFirst] = toAlertmanagerAlerts([{ ...n, reason: 'new', sequence: 1 }], { nowMs: T0, refreshMs: 60_000 });
  t.same(am!.labels, amFirst!.labels, 'alertmanager: the same labels, so the same alert …');
  t.equal(am!.annotations.sequence, '3', '… with its version in the annotations');
  t.match(am!.annotations.description, `${new Date(T0 + 20_000).toISOString()}  /usr/bin/cmd-2  (← /bin/bash ← /usr/bin/runc exec)`, 'every command with its time and parents');
  t.match(am!.annotations.description, '… 52 more commands in driftwatch');

  const slack = toSlackMessage(n);
  t.match(slack.blocks[0], { text: { text: /\(update #3\)$/ } }, 'slack: an update message, said in its header');
  const commands = JSON.stringify(slack.blocks.find((b) => JSON.stringify(b).includes('*Commands*')));
  t.match(commands, new Date(T0 + 110_000).toISOString(), 'the commands, with their times');
  t.match(commands, /and 52 more in driftwatch/);
  t.notMatch(commands, /<script/, 'escaped');
});

t.test('a group update keeps its Alertmanager labels as members of other kinds join', async (t) => {
  const member = (id: number, kind: 'process' | 'network') => toBrief(deviation({ id, kind }), BASE);
  const group: AlertNotification = { ...evilNotification(), kind: 'group', alertKey: 'group:test/payments/Deployment/api/app:1000', alertname: 'DriftwatchDeviationGroup', deviations: [member(1, 'process')] };
  const grown: AlertNotification = { ...group, reason: 'update', sequence: 2, deviations: [member(1, 'process'), member(2, 'network')] };
  const [a, b] = toAlertmanagerAlerts([group, grown], { nowMs: T0, refreshMs: 60_000 });
  t.same(b!.labels, a!.labels);
  t.equal(b!.annotations.deviation_kinds, 'network,process');
});
