/**
 * A real agent and a real collector, as separate processes, over gRPC with mTLS: the collector is
 * killed (SIGKILL) mid-stream and restarted, and every observation must end up stored exactly once.
 */
import t from 'tap';
import Database from 'better-sqlite3';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeTestPki } from '../helpers/certs.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';

const TOTAL = 2400;
const WORKLOADS = 24;

/** A Tetragon process_exec in protojson, every one a distinct item so edge de-duplication keeps it. */
function execEvent(i: number): string {
  const w = i % WORKLOADS;
  const t0 = Date.parse('2026-11-30T10:00:00Z') + i * 10;
  return JSON.stringify({
    process_exec: {
      process: {
        exec_id: Buffer.from(`node-a:${1000 + i}:${i}`).toString('base64'),
        pid: 1000 + i,
        uid: 1000,
        cwd: '/',
        binary: `/usr/local/bin/tool-${i}`,
        arguments: `--run ${i}`,
        flags: 'execve clone',
        start_time: new Date(t0).toISOString(),
        pod: {
          namespace: 'shop',
          name: `svc-${w}-7d4b9c8f6d-abcde`,
          container: {
            id: `containerd://${w.toString(16).padStart(64, 'a')}`,
            name: 'main',
            image: { id: `docker.io/shop/svc@sha256:${'1'.repeat(64)}`, name: 'docker.io/shop/svc:1.0' },
            start_time: '2026-11-30T09:00:00Z',
            pid: 1,
          },
          workload: `svc-${w}`,
          workload_kind: 'Deployment',
        },
        docker: w.toString(16).padStart(31, 'a'),
        parent_exec_id: Buffer.from(`node-a:1:1`).toString('base64'),
      },
      parent: { exec_id: Buffer.from(`node-a:1:1`).toString('base64'), pid: 1, binary: '/usr/bin/containerd-shim-runc-v2', flags: 'execve' },
    },
    node_name: 'node-a',
    time: new Date(t0).toISOString(),
  });
}

function storedCounts(dataDir: string): { rows: number; distinct: number } {
  const db = new Database(join(dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  try {
    const r = db
      .prepare(`SELECT COUNT(*) AS rows, COUNT(DISTINCT json_extract(data, '$.process.execId')) AS distinct_ FROM observations`)
      .get() as { rows: number; distinct_: number };
    return { rows: r.rows, distinct: r.distinct_ };
  } catch {
    return { rows: 0, distinct: 0 };
  } finally {
    db.close();
  }
}

t.test('agent → collector over mTLS survives a collector kill: every observation stored exactly once', async (t) => {
  const dir = t.testdir();
  const pki = makeTestPki(dir);
  const grpcPort = await freePort();
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, '');
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'driftwatch.yaml');
  writeFileSync(
    configFile,
    stringify({
      cluster: 'test',
      log: { level: 'info', format: 'json' },
      collector: {
        dataDir,
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${grpcPort}`, tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey } },
        http: { listen: '127.0.0.1:0' },
        learning: { maxItemsPerBaseline: 10000 },
      },
      agent: {
        node: 'node-a',
        collector: { address: `localhost:${grpcPort}`, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } },
        sources: [{ kind: 'tetragon-json', address: events, follow: true }],
        http: { listen: '127.0.0.1:0' },
        ship: { batchSize: 50, flushInterval: '20ms', countersInterval: '1s' },
      },
    }),
  );

  let collector = spawnCli(['collector', '--config', configFile]);
  const agent = spawnCli(['agent', '--config', configFile]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await collector.stop('SIGKILL');
  });
  await collector.waitForLog(/collector ready/);
  await agent.waitForLog(/connected to collector/);

  const lines = Array.from({ length: TOTAL }, (_, i) => execEvent(i));
  appendFileSync(events, lines.slice(0, TOTAL / 2).join('\n') + '\n');
  await eventually(() => storedCounts(dataDir).rows > TOTAL / 8, 'the first observations to be stored');

  // Kill the collector mid-stream (no drain, no flush), keep the agent producing, restart.
  await collector.stop('SIGKILL');
  appendFileSync(events, lines.slice(TOTAL / 2).join('\n') + '\n');
  await new Promise((r) => setTimeout(r, 500));
  collector = spawnCli(['collector', '--config', configFile]);
  await collector.waitForLog(/collector ready/);

  await eventually(() => storedCounts(dataDir).rows >= TOTAL, `all ${TOTAL} observations to be stored`, 60_000);
  await new Promise((r) => setTimeout(r, 500)); // any late duplicate would land now
  const counts = storedCounts(dataDir);
  t.equal(counts.rows, TOTAL, 'no observation stored twice');
  t.equal(counts.distinct, TOTAL, 'no observation lost');

  t.equal(await agent.stop(), 0, 'agent exits cleanly on SIGTERM');
  t.equal(await collector.stop(), 0, 'collector exits cleanly on SIGTERM');
  t.match(agent.stderr(), /resent|reconnect|collector stream lost/i, 'the agent noticed the outage');
});
