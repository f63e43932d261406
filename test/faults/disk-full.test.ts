/**
 * The collector's database volume fills up (issue 12 point 3), for real: the collector runs with
 * its data directory on a small tmpfs mounted in its own user + mount namespace, and the test fills
 * that volume with a file (through /proc/<pid>/root, the namespace's view) and deletes it again.
 * A real agent ships to it over mTLS the whole time.
 *
 * Expected: the collector keeps running, /readyz is not ready and says why, alerts already in the
 * outbox are delivered during the outage, the agent keeps its backlog, ingest resumes by itself
 * when space returns and every observation is stored exactly once; a collector started on the
 * full volume starts (not ready) instead of crash-looping.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { packagePath } from '../../common/paths.js';
import { agentCollectorConfig, execEvent, STORED_COUNTS_SQL } from '../helpers/agent-collector.js';
import { makeTestPki } from '../helpers/certs.js';
import { eventually, freePort, spawnCli, type CliProcess } from '../helpers/processes.js';

// Two collector starts and a drained backlog, on a busy machine: more than tap's default.
t.setTimeout(300_000);

const VOLUME = '24m';
/** Observations before the volume fills, during the outage, and after a restart on a full volume. */
const BEFORE = 600;
const DURING = 3000;
const AFTER_RESTART = 300;
/** Workloads that run a denied scanner before the volume fills: one alert each, queued. */
const DENIED = 4;
const SECRET = 'disk-full-test-secret-0123456789';

interface Volume {
  /** The data directory as the test sees it (the namespace's mount, through /proc). */
  seen: string;
  /** Runs a command in the namespace (nsenter prefix for spawnCli). */
  enter: string[];
  /** Runs a read-only query on the collector's database, from inside the namespace. */
  query<T>(sql: string): Promise<T[]>;
  close(): void;
}

/**
 * Answers one SQL query per stdin line with one JSON line. SQLite resolves symbolic links in a
 * database path, so /proc/<pid>/root/… leads it back to the test's own namespace: the database is
 * read from inside the volume's namespace instead.
 */
const QUERY_SCRIPT = `
const Database = require(${JSON.stringify(packagePath('node_modules', 'better-sqlite3'))});
const file = process.argv[1] + '/driftwatch.db';
require('node:readline').createInterface({ input: process.stdin }).on('line', (sql) => {
  let out;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try { out = { rows: db.prepare(sql).all() }; } finally { db.close(); }
  } catch (e) { out = { error: String(e.message) }; }
  process.stdout.write(JSON.stringify(out) + '\\n');
});`;

const MOUNT = (size: string) => `mount -t tmpfs -o size=${size},mode=0700 tmpfs "$1"`;

/** Why a tmpfs cannot be mounted in a user + mount namespace here, or false when it can. */
function cannotMount(): string | false {
  const dir = mkdtempSync(join(tmpdir(), 'dw-mount-'));
  try {
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', MOUNT('1m'), 'sh', dir], { encoding: 'utf8' });
    if (r.status === 0) return false;
    return `cannot mount a tmpfs in a user + mount namespace here (unshare -rm): ${(r.error?.message ?? r.stderr).trim()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A tmpfs on `dir` in a new user + mount namespace, held open by a sleeping process (so that the volume outlives a collector restart). */
async function mountVolume(dir: string): Promise<Volume> {
  const holder = spawn('unshare', ['-rm', 'sh', '-c', `${MOUNT(VOLUME)} && echo mounted && exec sleep 3600`, 'sh', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  holder.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const mounted = await new Promise<boolean>((resolve) => {
    holder.stdout.on('data', (c: Buffer) => c.toString().includes('mounted') && resolve(true));
    holder.once('exit', () => resolve(false));
    holder.once('error', (e) => ((err += e.message), resolve(false)));
  });
  if (!mounted) throw new Error(`mounting the volume failed: ${err.trim()}`);
  const enter = ['nsenter', '-t', String(holder.pid), '-U', '-m', '--preserve-credentials', `--wd=${packagePath()}`];
  const reader = spawn(enter[0]!, [...enter.slice(1), process.execPath, '-e', QUERY_SCRIPT, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const answers = createInterface({ input: reader.stdout! })[Symbol.asyncIterator]();
  let queue = Promise.resolve();
  const query = <T>(sql: string): Promise<T[]> => {
    const answer = queue.then(async () => {
      reader.stdin!.write(sql.replace(/\s+/g, ' ') + '\n');
      const line = (await answers.next()).value as string;
      const out = JSON.parse(line) as { rows?: T[]; error?: string };
      if (out.error !== undefined) throw new Error(out.error);
      return out.rows!;
    });
    queue = answer.then(() => undefined, () => undefined);
    return answer;
  };
  return {
    seen: `/proc/${holder.pid}/root${dir}`,
    enter,
    query,
    close: () => {
      reader.kill('SIGKILL');
      holder.kill('SIGKILL');
    },
  };
}

/** Writes `file` until the volume has no byte left. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const chunk of [Buffer.alloc(1 << 20), Buffer.alloc(4096), Buffer.alloc(512)]) {
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A webhook receiver that refuses (503) until told to accept; records each accepted idempotency key. */
async function receiver(t: { teardown(fn: () => Promise<void>): void }) {
  const accepted: string[] = [];
  let accepting = false;
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      if (!accepting) return void res.writeHead(503).end();
      accepted.push(String(req.headers['idempotency-key']));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, accepted, accept: () => (accepting = true) };
}

function httpPort(collector: CliProcess): number {
  const line = collector
    .stderr()
    .split('\n')
    .filter((l) => l.includes('collector ready'))
    .pop()!;
  return (JSON.parse(line) as { http: number }).http;
}

async function readyz(port: number): Promise<{ status: number; body: { components: { name: string; ready: boolean; detail?: string }[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { components: { name: string; ready: boolean; detail?: string }[] } };
}

const storageDetail = async (port: number) => (await readyz(port)).body.components.find((c) => c.name === 'storage');

/** The outbox rows of the webhook sink: idempotency key and state. */
const OUTBOX_SQL = `SELECT json_extract(payload, '$.idempotencyKey') AS key, state FROM alert_outbox WHERE sink = 'hook' ORDER BY id`;

t.test('a full database volume: collector up and not ready, outbox delivered, backlog kept, nothing lost', { skip: cannotMount() }, async (t) => {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const volume = await mountVolume(dataDir);
  t.teardown(() => volume.close());

  const pki = makeTestPki(dir);
  const hook = await receiver(t);
  const grpcPort = await freePort();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, '');
  mkdirSync(join(dir, 'baselines'));
  writeFileSync(
    join(dir, 'baselines', 'deny-scanners.yaml'),
    stringify({ apiVersion: 'driftwatch.dev/v1', kind: 'Baseline', metadata: { name: 'deny-scanners' }, spec: { selector: { namespace: '*' }, deny: { processes: [{ path: '/usr/bin/nmap' }] } } }),
  );
  const configFile = join(dir, 'driftwatch.yaml');
  const alerting = { grouping: { wait: '0s' }, retry: { initial: '200ms', max: '1s' }, sinks: [{ name: 'hook', type: 'webhook', url: hook.url, secret: SECRET, health: false }] };
  writeFileSync(configFile, stringify(agentCollectorConfig({ dir, pki, grpcPort, events, dataDir, collector: { alerting } })));

  let collector = spawnCli(['collector', '--config', configFile], {}, volume.enter);
  const agent = spawnCli(['agent', '--config', configFile]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await collector.stop('SIGKILL');
    if (!t.passing()) for (const [name, p] of Object.entries({ collector, agent })) t.comment(`${name} log (end):\n${p.stderr().slice(-4000)}`);
  });
  await collector.waitForLog(/collector ready/, 120_000);
  await agent.waitForLog(/connected to collector/, 120_000);
  let port = httpPort(collector);
  const stored = async () => (await volume.query<{ rows: number; distinct: number }>(STORED_COUNTS_SQL).catch(() => [{ rows: 0, distinct: 0 }]))[0]!;
  const outbox = () => volume.query<{ key: string; state: string }>(OUTBOX_SQL).catch(() => []);
  const lines = Array.from({ length: BEFORE + DURING + AFTER_RESTART }, (_, i) => execEvent(i, i < DENIED ? '/usr/bin/nmap' : undefined));

  // Before: observations stored, one denied-scanner alert per workload queued (the receiver refuses).
  appendFileSync(events, lines.slice(0, BEFORE).join('\n') + '\n');
  await eventually(async () => (await stored()).rows === BEFORE && (await outbox()).length === DENIED, `${BEFORE} observations stored and ${DENIED} alerts queued`, 60_000);
  const queued = await outbox();
  t.same(
    queued.map((r) => r.state),
    Array(DENIED).fill('pending'),
    'the alerts wait in the outbox',
  );

  // The volume fills; the agent keeps producing.
  fill(join(volume.seen, 'filler'));
  appendFileSync(events, lines.slice(BEFORE, BEFORE + DURING).join('\n') + '\n');
  await eventually(async () => (await readyz(port)).status === 503, '/readyz to turn not ready', 60_000);
  t.match(await storageDetail(port), { ready: false, detail: /disk-full since .*database volume is full|disk-full since .*bytes free/ }, '/readyz names the storage and why');
  await t.resolves(collector.waitForLog(/storage unavailable: ingest paused/), 'the collector logs the outage');

  // Alerts queued before the volume filled still go out, while it is full.
  hook.accept();
  await eventually(() => new Set(hook.accepted).size === DENIED, 'the queued alerts to be delivered during the outage', 60_000);
  t.same([...hook.accepted].sort(), queued.map((r) => r.key).sort(), 'each queued alert delivered once');
  t.equal((await readyz(port)).status, 503, 'delivered while the volume was still full');
  t.equal(collector.child.exitCode, null, 'the collector is still running');
  t.ok((await stored()).rows < BEFORE + DURING, 'ingest is paused (the agent holds the rest)');

  // Space returns: ingest resumes by itself, the backlog drains, every observation once.
  const freedAt = Date.now();
  rmSync(join(volume.seen, 'filler'));
  await eventually(async () => (await readyz(port)).status === 200, '/readyz to turn ready again', 60_000);
  const readyAfterMs = Date.now() - freedAt;
  await eventually(async () => (await stored()).rows >= BEFORE + DURING, `all ${BEFORE + DURING} observations to be stored`, 60_000);
  t.comment(`space returned: ready after ${readyAfterMs} ms, backlog of ${DURING} drained after ${Date.now() - freedAt} ms`);
  await eventually(async () => (await outbox()).every((r) => r.state === 'sent'), 'the deliveries to be recorded', 30_000);
  t.same(await stored(), { rows: BEFORE + DURING, distinct: BEFORE + DURING }, 'every observation stored exactly once');
  t.equal(hook.accepted.length, DENIED, 'no alert delivered twice once the outcomes could be written');

  // A collector (re)started on a full volume starts, not ready, and resumes when space returns.
  fill(join(volume.seen, 'filler'));
  t.equal(await collector.stop(), 0, 'the collector stops cleanly on the full volume');
  collector = spawnCli(['collector', '--config', configFile], {}, volume.enter);
  await collector.waitForLog(/collector ready/, 120_000);
  port = httpPort(collector);
  t.match(await storageDetail(port), { ready: false, detail: /disk-full/ }, 'started on a full volume: running, not ready, with the reason');
  appendFileSync(events, lines.slice(BEFORE + DURING).join('\n') + '\n');
  rmSync(join(volume.seen, 'filler'));
  await eventually(async () => (await readyz(port)).status === 200, '/readyz to turn ready after the restart', 60_000);
  await eventually(async () => (await stored()).rows >= lines.length, `all ${lines.length} observations to be stored`, 60_000);
  await new Promise((r) => setTimeout(r, 500)); // a late duplicate would land now
  t.same(await stored(), { rows: lines.length, distinct: lines.length }, 'after the restart too: every observation exactly once');
  t.equal(await agent.stop(), 0, 'the agent exits cleanly');
  t.equal(await collector.stop(), 0, 'the collector exits cleanly');
});
