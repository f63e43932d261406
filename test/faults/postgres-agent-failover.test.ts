/**
 * The acceptance fault test of the PostgreSQL mode, with real processes end to end: two collector
 * replicas on one database, one real agent (`driftwatch agent`) with both addresses following the
 * recorded cluster (demo/recording/cluster.jsonl). The recording is written in two parts: the first
 * ends a minute after the first attack (web's reverse shell, alerted at once). The webhook receiver
 * holds the first notification unanswered; then the replica the agent streams to, which is also
 * the leader delivering the outbox, is killed with -9: it dies between sending and recording a
 * delivery, mid-stream. The second part is written afterwards. Then:
 * - every observation is stored exactly once (no (agent, seq, idx) twice, and as many rows as the
 *   agent counts acknowledged, with nothing left unacknowledged);
 * - the new leader re-sends the held notification with the same `Idempotency-Key`, and the
 *   receiver, deduplicating on that key as the delivery contract asks (at least once, one key per
 *   notification: docs/alerting.md), holds every outbox entry exactly once;
 * - the deviations (workload, kind, item, severity) equal those of the single SQLite collector.
 *
 * Both runs use the shipped defaults plus what a user replaying the recording configures: the
 * recording's learning and network settings (demo/recording/driftwatch.yaml) and one sink.
 *
 * The recording ends with one marker event (the first exec of a workload nobody else runs: stored,
 * learned, never a deviation) so that "everything the agent read is stored" is a condition to wait
 * for: the agent ships in order and the collectors store each agent's batches in sequence order.
 */
import Database from 'better-sqlite3';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';
import { IDEMPOTENCY_HEADER } from '../../collector/sinks/webhook.js';
import { poolConfig } from '../../collector/store/postgres/database.js';
import { packagePath } from '../../common/paths.js';
import { Receiver } from '../helpers/alerting.js';
import { startCollectorReplica } from '../helpers/collector-replicas.js';
import { postgresCluster } from '../helpers/postgres.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';
import { startRecordingPipeline } from '../helpers/recording-pipeline.js';
import { SCENARIO_COLLECTOR } from '../helpers/scenario.js';

// Four processes started from the TypeScript sources and a PostgreSQL cluster: beyond tap's default.
t.setTimeout(600_000);

const RECORDING = readFileSync(packagePath('demo', 'recording', 'cluster.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
const MARKER_WORKLOAD = 'end-of-recording';
const MARKER_BINARY = '/usr/local/bin/end-of-recording';

/** The recording's last exec, moved to a workload of its own one second after the last event. */
function markerEvent(): string {
  const lastTime = Date.parse((JSON.parse(RECORDING.at(-1)!) as { time: string }).time);
  const exec = [...RECORDING].reverse().find((l) => l.includes('"process_exec"'))!;
  const e = JSON.parse(exec) as { process_exec: { process: Record<string, unknown> & { pod: Record<string, unknown> & { container: Record<string, unknown> } } }; time: string };
  const time = new Date(lastTime + 1000).toISOString();
  const p = e.process_exec.process;
  Object.assign(p, { exec_id: Buffer.from(`marker:${time}`).toString('base64'), binary: MARKER_BINARY, arguments: '', start_time: time });
  Object.assign(p.pod, { name: `${MARKER_WORKLOAD}-5f7c9d8b6-x2x2x`, workload: MARKER_WORKLOAD, workload_kind: 'Deployment' });
  Object.assign(p.pod.container, { id: `containerd://${'e'.repeat(64)}`, start_time: time });
  e.time = time;
  return JSON.stringify(e);
}

const lines = (events: readonly string[]): string => events.map((l) => `${l}\n`).join('');
/** A minute after web's reverse shell (10:30:01), the first attack of the recording's test phase. */
const SPLIT = RECORDING.findIndex((l) => (JSON.parse(l) as { time: string }).time >= '2026-11-30T10:31:00.000Z');
const FIRST_PART = lines(RECORDING.slice(0, SPLIT));
const SECOND_PART = lines([...RECORDING.slice(SPLIT), markerEvent()]);

/** One row per deviation, the same SQL on both engines. */
const DEVIATIONS_SQL = `SELECT w.cluster || '/' || w.namespace || '/' || w.kind || '/' || w.name || '/' || w.container AS workload, d.kind, d.item_key, d.severity
  FROM deviations d JOIN workloads w ON w.id = d.workload_id`;
/** Both engines: PostgreSQL's COUNT is a bigint the client reads as a string unless cast. */
const MARKER_STORED_SQL = `SELECT CAST(COUNT(*) AS INTEGER) AS n FROM observations WHERE data LIKE '%${MARKER_BINARY}%'`;

interface DeviationRow {
  workload: string;
  kind: string;
  item_key: string;
  severity: string;
}

/** Sessions' item keys embed a generated id; everything else compares exactly. */
function deviationKeys(rows: readonly DeviationRow[]): string[] {
  return rows.map((r) => `${r.workload} ${r.kind} ${r.kind === 'interactive-session' ? 's|' : r.item_key} ${r.severity}`).sort();
}

/** The ports of the collectors the agent logged connecting to, in order. */
function connectedPort(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => l.includes('connected to collector'))
    .map((l) => /"address":"127\.0\.0\.1:(\d+)"/.exec(l)?.[1] ?? '?');
}

/** What a single SQLite collector makes of the same recording (the same agent configuration, one address). */
async function sqliteReference(t: Test): Promise<{ observations: number; deviations: string[] }> {
  const pipeline = await startRecordingPipeline(t, FIRST_PART + SECOND_PART, SCENARIO_COLLECTOR);
  pipeline.startAgent();
  const db = (): Database.Database => new Database(join(pipeline.dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  const read = <T>(sql: string): T[] => {
    const d = db();
    try {
      return d.prepare(sql).all() as T[];
    } finally {
      d.close();
    }
  };
  await eventually(() => read<{ n: number }>(MARKER_STORED_SQL)[0]!.n > 0, 'the SQLite collector stored the whole recording', 180_000);
  const result = { observations: read<{ n: number }>('SELECT COUNT(*) AS n FROM observations')[0]!.n, deviations: deviationKeys(read<DeviationRow>(DEVIATIONS_SQL)) };
  await pipeline.stop();
  return result;
}

t.test('two PostgreSQL replicas, a real agent on the recording, kill -9 of its replica mid-stream: stored once, alerted once, same deviations as SQLite', async (t) => {
  const cluster = await postgresCluster(t);
  if (!cluster) return;
  const reference = await sqliteReference(t);
  t.ok(reference.deviations.length > 0, `the SQLite reference: ${reference.observations} observations, ${reference.deviations.length} deviations`);

  const receiver = new Receiver();
  // The first notification is held unanswered until its sender is killed; then all are accepted.
  let holding = true;
  receiver.respond = () => (holding ? { status: 200, hang: true } : 200);
  await receiver.start();
  t.teardown(() => receiver.close());
  const db = await cluster.database();
  const dir = t.testdir();
  const collector = { ...SCENARIO_COLLECTOR, alerting: { sinks: [{ name: 'hook', type: 'webhook', url: `${receiver.url}/hook`, secret: 'replica-kill-webhook-secret-0123' }] } };
  const replicas = [await startCollectorReplica(t, dir, 'a', db, collector), await startCollectorReplica(t, dir, 'b', db, collector)];
  const sql = new pg.Client(poolConfig(db));
  await sql.connect();
  t.teardown(() => sql.end());
  const query = async <T extends object>(text: string): Promise<T[]> => (await sql.query<T>(text)).rows;

  const events = join(dir, 'events.jsonl');
  // Followed like Tetragon's export file: read from where it stood when the agent opened it.
  writeFileSync(events, '');
  const agentConfig = join(dir, 'agent.yaml');
  const agentHttpPort = await freePort();
  const agentMetric = async (name: string): Promise<number> =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${agentHttpPort}/metrics`)).text())?.[1] ?? NaN);
  writeFileSync(
    agentConfig,
    stringify({
      cluster: 'test',
      log: { level: 'info', format: 'json' },
      agent: {
        node: 'node-a',
        collector: { addresses: replicas.map((r) => `127.0.0.1:${r.grpcPort}`) },
        sources: [{ kind: 'tetragon-json', address: events, follow: true }],
        http: { listen: `127.0.0.1:${agentHttpPort}` },
        kubernetes: { mode: 'off' },
      },
    }),
  );
  const agent = spawnCli(['agent', '--config', agentConfig]);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/connected to collector/, 120_000);
  appendFileSync(events, FIRST_PART);

  await eventually(() => receiver.requests.length > 0, 'the first notification sent', 120_000).catch((e: unknown) => {
    throw new Error(`${String(e)}; the agent logged:\n${agent.stderr().slice(-4000)}`);
  });
  const held = String(receiver.requests[0]!.headers[IDEMPOTENCY_HEADER]);
  const connected = connectedPort(agent.stderr()).at(-1);
  const victim = replicas.findIndex((r) => String(r.grpcPort) === connected);
  t.ok(victim >= 0, `the agent names the replica it streams to (${connected})`);
  t.equal(await replicas[victim]!.leaderGauge(), '1', 'it is also the leader, sending the held notification');
  replicas[victim]!.process.child.kill('SIGKILL');
  await eventually(() => replicas[victim]!.process.child.exitCode !== null || replicas[victim]!.process.child.signalCode !== null, 'the replica gone', 10_000);
  holding = false;
  const survivor = replicas[1 - victim]!;
  appendFileSync(events, SECOND_PART);
  t.comment(`killed replica ${'ab'[victim]} with ${(await query<{ n: number }>('SELECT COUNT(*)::int AS n FROM observations'))[0]!.n} of ${reference.observations} observations stored`);

  await eventually(async () => (await query<{ n: number }>(MARKER_STORED_SQL))[0]!.n > 0, 'the whole recording stored', 180_000);
  t.equal(connectedPort(agent.stderr()).at(-1), String(survivor.grpcPort), 'the agent moved to the other replica');
  const stored = (await query<{ rows: number; distinct: number }>('SELECT COUNT(*)::int AS rows, COUNT(DISTINCT (agent, seq, idx))::int AS distinct FROM observations'))[0]!;
  await eventually(async () => (await agentMetric('driftwatch_agent_ship_queue_observations')) === 0, 'the agent has nothing unacknowledged', 60_000);
  const shipped = await agentMetric('driftwatch_agent_shipped_observations_total');
  t.same(stored, { rows: shipped, distinct: shipped }, `every observation the agent shipped stored exactly once (${shipped}; ${await agentMetric('driftwatch_agent_resent_batches_total')} batches re-sent after the kill)`);
  // Not equal to the reference's count: how much the agent filters at the edge depends on when the
  // learned baselines reach it, and this run pauses between the parts of the recording.
  t.comment(`observations: ${shipped} here, ${reference.observations} from the SQLite collector fed the recording at once`);
  t.same(deviationKeys(await query<DeviationRow>(DEVIATIONS_SQL)), reference.deviations, 'the same deviations as the single SQLite collector');

  // Alerts: everything decided is in the outbox, everything in the outbox delivered.
  const outboxKeys = async (): Promise<{ key: string; state: string }[]> => query<{ key: string; state: string }>("SELECT idempotency_key AS key, state FROM alert_outbox WHERE sink = 'hook'");
  const receivedKeys = (): string[] => receiver.requests.map((r) => String(r.headers[IDEMPOTENCY_HEADER]));
  const alerted = (): Set<string> => new Set(receiver.requests.flatMap((r) => (JSON.parse(r.body.toString('utf8')) as AlertDocumentV1).deviations.map((d) => d.itemKey)));
  const deviationItems = (await query<{ item_key: string }>('SELECT item_key FROM deviations')).map((r) => r.item_key);
  await eventually(() => deviationItems.every((k) => alerted().has(k)), 'an alert for every deviation', 120_000);
  await eventually(async () => {
    const outbox = await outboxKeys();
    const received = new Set(receivedKeys());
    return outbox.every((o) => o.state === 'sent' && received.has(o.key));
  }, 'every outbox entry sent and received', 60_000);
  const outbox = await outboxKeys();
  const deduplicated = [...new Set(receivedKeys())].sort();
  t.same(deduplicated, outbox.map((o) => o.key).sort(), 'after deduplication by Idempotency-Key the receiver holds each alert exactly once');
  t.ok(receivedKeys().filter((k) => k === held).length >= 2, 'the new leader re-sent the held notification with the same idempotency key');
  t.comment(`${outbox.length} notifications; ${receivedKeys().length - deduplicated.length} re-sent under the same key after the kill`);
});
