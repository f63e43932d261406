/**
 * Alerts analysts can act on, end to end: Tetragon events (the shapes of ../shared/fixtures) →
 * the agent's pipeline (normalise, lineage, identity, edge filter) → the collector (unit of work,
 * detection, alerting) → the file sink, on the shipped defaults plus a learning window that fits
 * the recording and the sink.
 *
 * - a 12-command `kubectl exec` session: one alert, updated as the session grows, whose last
 *   version lists all 12 commands with their times and lineage;
 * - a reverse shell (high): sent without waiting for the grouping window; what follows in the
 *   workload joins it as updates, the download 90 s later included.
 *
 * The same recording through real processes at full speed: test/e2e/alert-grouping-live.test.ts.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SESSION, byKey, recording, replayToFile } from '../helpers/alert-story.js';

const { jsonl, sessionTimes } = recording();

t.test('a session, a reverse shell and a late member through driftwatch replay (event time)', async (t) => {
  const dir = t.testdir({ baselines: {} });
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, jsonl);
  const r = await replayToFile(dir, events);
  t.equal(r.code, 0, r.err);
  const keys = byKey(r.docs);

  await t.test('the 12-command session: one alert, updated, its last version listing every command with its time', async (t) => {
    const session = [...keys.values()].find((list) => list[0]!.deviations[0]?.kind === 'interactive-session')!;
    t.ok(session, 'a session alert');
    t.equal(session[0]!.reason, 'new');
    t.ok(session.length > 1 && session.slice(1).every((d) => d.reason === 'update'), 'then updates of the same alert');
    t.same(session.map((d) => d.sequence), session.map((_d, i) => i + 1), 'numbered in order');
    const last = session[session.length - 1]!.deviations[0]!;
    t.equal(last.commands?.length, 12, 'all twelve commands');
    t.equal(last.commandsMore, 0, 'none left out');
    t.same(last.commands!.map((c) => c.time), sessionTimes.map((ms) => new Date(ms).toISOString()), 'each with its own event time');
    t.same(last.commands!.map((c) => c.exe), ['/bin/bash', ...SESSION.map(([bin]) => bin)]);
    t.equal(last.commands![11]!.args, SESSION[10]![1], 'with its arguments');
    t.match(last.commands![1]!.lineage, ['/bin/bash'], 'and its lineage: the session shell first');
    t.match(last.summary, /interactive session: 12 commands/);
  });

  await t.test('the reverse shell: sent at once, what follows joins it as updates', async (t) => {
    const shell = [...keys.values()].find((list) => list[0]!.workload?.name === 'web')!;
    t.ok(shell, 'an alert for web');
    t.match(shell[0], { kind: 'group', severity: 'high', reason: 'new', sequence: 1 });
    t.same(shell[0]!.deviations.map((d) => d.itemKey), ['p|/bin/sh'], 'the first notification did not wait for the bash and the connection a second later');
    const last = shell[shell.length - 1]!;
    t.equal(last.reason, 'update');
    t.same(last.deviations.map((d) => d.itemKey).sort(), ['n|egress|tcp|4444|ip|198.51.100.66', 'p|/bin/bash', 'p|/bin/sh', 'p|/usr/bin/curl'].sort(), 'every member, the late download included');
    const withCurl = shell.findIndex((d) => d.deviations.some((x) => x.itemKey === 'p|/usr/bin/curl'));
    t.ok(withCurl > 0 && shell[withCurl]!.reason === 'update', 'the late member is told as an update of the alert');
    t.equal([...keys.values()].filter((list) => list[0]!.workload?.name === 'web').length, 1, 'one alert for the workload');
  });

});
