/**
 * `driftwatch report audit` on a seeded store: decisions with who, when and why, handling times
 * (raised → acknowledged → resolved) by severity with medians and the slowest, per namespace and
 * period, as a table, JSON, YAML and CSV. The actions are real API calls; their times are then
 * set to a known quarter so the expected numbers are exact.
 */
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import type { AuditReport } from '../../collector/reports/audit.js';
import { csvCell, parseWhen } from '../../cli/report.js';
import { median } from '../../collector/reports/audit.js';
import { HOUR, learnScene, net, proc, startHarness, T0 } from '../helpers/api-harness.js';
import { run } from '../helpers/cli-run.js';

const MIN = 60_000;
const at = (iso: string, plusMs = 0): string => new Date(Date.parse(iso) + plusMs).toISOString();

t.test('audit report: counts, medians and the slowest per severity; namespace and period respected', async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const raise = (exe: string) => h.raise(proc(web, T0 + 3 * HOUR, exe));
  const d1 = await raise('/usr/bin/nc'); // high: acked after 10 min, resolved after 60
  const d2 = await raise('/bin/bash'); // high: acked after 30 min, never resolved
  const d3 = await raise('/usr/bin/apt-get'); // high: added to the baseline after 120 min
  const d4 = await h.raise(net(web, T0 + 3 * HOUR, 'egress', '198.51.100.23', 443)); // another severity: resolved after 5 min
  const d5 = await raise('/usr/bin/wget'); // raised before the period: not counted
  const post = (path: string, comment: string) => h.call('POST', `/api/v1${path}`, { body: { comment } });
  await post(`/deviations/${d1.id}/ack`, 'looking at it');
  await post(`/deviations/${d1.id}/resolve`, 'pentest, ticket SEC-12');
  await post(`/deviations/${d2.id}/ack`, 'shell in web, escalated');
  await post(`/deviations/${d3.id}/add-to-baseline`, 'image build step in release 42');
  await post(`/deviations/${d4.id}/resolve`, '=HYPERLINK("http://evil")');
  await h.call('POST', `/api/v1/baselines/${await h.baselineOf(worker)}/approve`, { body: { version: 1, comment: 'worker reviewed by team-b' } });

  // Times: the third quarter of 2026.
  const q = '2026-07-01T00:00:00.000Z';
  const raised: [number, string][] = [[d1.id, at(q, 10 * HOUR)], [d2.id, at(q, 34 * HOUR)], [d3.id, at(q, 58 * HOUR)], [d4.id, at(q, 82 * HOUR)], [d5.id, at(q, -HOUR)]];
  for (const [id, when] of raised) h.store.connection.run('UPDATE deviations SET created_at = @when WHERE id = @id', { when, id });
  const actionsAt: [string, number, string][] = [
    ['deviation.ack', d1.id, at(q, 10 * HOUR + 10 * MIN)],
    ['deviation.resolve', d1.id, at(q, 10 * HOUR + 60 * MIN)],
    ['deviation.ack', d2.id, at(q, 34 * HOUR + 30 * MIN)],
    ['deviation.add-to-baseline', d3.id, at(q, 58 * HOUR + 120 * MIN)],
    ['deviation.resolve', d4.id, at(q, 82 * HOUR + 5 * MIN)],
  ];
  for (const [action, id, when] of actionsAt) h.store.connection.run('UPDATE audit_log SET at = @when WHERE action = @action AND target_id = @id', { when, action, id: String(id) });
  h.store.connection.run("UPDATE audit_log SET at = @when WHERE action = 'baseline.approve'", { when: at(q, 90 * HOUR) });

  const json = await run(h, ['report', 'audit', '--namespace', 'team-a', '--from', '2026-07-01', '--to', '2026-10-01', '-o', 'json']);
  t.equal(json.code, 0, json.err);
  const r = JSON.parse(json.out) as AuditReport;
  t.equal(r.from, q);
  t.same(r.actions, { 'deviation.ack': 2, 'deviation.resolve': 2, 'deviation.add-to-baseline': 1 }, 'team-a decisions only (the team-b approval is elsewhere)');
  t.same(r.decisions.map((d) => [d.action, d.targetId, d.actor]), actionsAt.map(([a, id]) => [a, String(id), 'token:admin']), 'in time order, with who');
  t.equal(r.decisions[3]!.comment, 'image build step in release 42', 'and why');
  const sev = d1.severity;
  t.ok([d2, d3].every((d) => d.severity === sev), `the three are ${sev}`);
  t.match(r.handling[sev], {
    raised: 3,
    acknowledged: 2,
    resolved: 2,
    unresolved: 1,
    medianToAcknowledgeMs: 20 * MIN,
    medianToResolveMs: 90 * MIN,
    slowest: { id: d2.id, resolved: false, handlingMs: Date.parse('2026-10-01T00:00:00Z') - Date.parse(at(q, 34 * HOUR)) },
  });
  t.not(d4.severity, sev);
  t.match(r.handling[d4.severity], { raised: 1, acknowledged: 0, resolved: 1, medianToResolveMs: 5 * MIN, slowest: { id: d4.id, resolved: true, handlingMs: 5 * MIN } });
  const total = Object.values(r.handling).reduce((n, x) => n + x.raised, 0);
  t.equal(total, 4, 'the deviation raised before the period is not counted');
  t.ok(r.baselinesByPhase.active! >= 1, 'baselines by phase');

  const other = await run(h, ['report', 'audit', '--namespace', 'team-b', '--from', '2026-07-01', '--to', '2026-10-01', '-o', 'yaml']);
  t.same((parseYaml(other.out) as AuditReport).actions, { 'baseline.approve': 1 });
  t.equal((await run(h, ['report', 'audit', '--from', '2026-08-01', '--to', '2026-10-01', '-o', 'json'])).code, 0);
  t.same(JSON.parse((await run(h, ['report', 'audit', '--from', '2026-08-01', '--to', '2026-10-01', '-o', 'json'])).out).decisions, [], 'the period bounds the decisions');
  const refused = await run(h, ['report', 'audit', '--namespace', 'team-a', '--from', '2026-07-01', '--to', '2026-10-01'], h.tokens.otherViewer);
  t.equal(refused.code, 1);
  t.match(refused.err, /DW_ERR_FORBIDDEN/, 'a token scoped to another namespace gets nothing');

  const csv = await run(h, ['report', 'audit', '--namespace', 'team-a', '--from', '2026-07-01', '--to', '2026-10-01', '-o', 'csv']);
  const lines = csv.out.trimEnd().split('\n');
  t.equal(lines[0], 'record,at,actor,action,target,namespace,comment,severity,raised,acknowledged,resolved,unresolved,median_to_acknowledge_s,median_to_resolve_s,slowest_deviation,slowest_s,phase,baselines');
  t.equal(lines.filter((l) => l.startsWith('decision,')).length, 5);
  t.ok(lines.includes(`handling,,,,,,,${sev},3,2,2,1,1200,5400,${d2.id},${(Date.parse('2026-10-01T00:00:00Z') - Date.parse(at(q, 34 * HOUR))) / 1000},,`), 'the handling row in seconds');
  t.ok(lines.some((l) => l.includes(`"'=HYPERLINK(""http://evil"")"`)), 'a formula in a comment is neutralised for spreadsheets');
  const table = await run(h, ['report', 'audit', '--namespace', 'team-a', '--from', '2026-07-01', '--to', '2026-10-01']);
  t.match(table.out, /SEVERITY\s+RAISED\s+ACKED\s+RESOLVED\s+UNRESOLVED\s+MEDIAN TO ACK\s+MEDIAN TO RESOLVE\s+SLOWEST/);
  t.match(table.out, new RegExp(`${sev}\\s+3\\s+2\\s+2\\s+1\\s+20m\\s+90m\\s+#${d2.id}`));
});

t.test('helpers: dates and durations, medians, CSV cells', async (t) => {
  const now = Date.parse('2026-12-05T00:00:00Z');
  t.equal(parseWhen('--from', '2026-07-01', now), Date.parse('2026-07-01T00:00:00Z'));
  t.equal(parseWhen('--from', '90d', now), now - 90 * 86_400_000);
  t.throws(() => parseWhen('--from', 'last quarter', now), /--from: not a date/);
  t.equal(median([]), null);
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
  t.equal(csvCell('a,b'), '"a,b"');
  t.equal(csvCell('-1+2'), "'-1+2");
  t.equal(csvCell('x\u001b[2Jy'), 'x\\x1b[2Jy', 'terminal escapes are shown, not run');
});
