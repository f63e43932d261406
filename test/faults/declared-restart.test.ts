/**
 * "The last good declared set stays in force" across a restart: a real collector loads a deny
 * list, stops; the file breaks; the restarted collector still enforces it (a real agent's exec of
 * the denied binary is a `denied` deviation) and reports the broken file in /readyz, degraded but
 * ready.
 */
import t from 'tap';
import Database from 'better-sqlite3';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeTestPki } from '../helpers/certs.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';

const DENY = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: no-scanners
spec:
  selector: { namespace: shop }
  deny:
    processes:
      - path: /usr/bin/nmap
`;

/** A Tetragon process_exec in protojson. */
function execEvent(binary: string, i: number): string {
  const at = new Date(Date.now() - 60_000 + i).toISOString();
  const execId = (n: string) => Buffer.from(n).toString('base64');
  return JSON.stringify({
    process_exec: {
      process: {
        exec_id: execId(`node-a:${2000 + i}:${i}`),
        pid: 2000 + i,
        uid: 0,
        cwd: '/',
        binary,
        arguments: '-sS 10.0.0.0/8',
        flags: 'execve clone',
        start_time: at,
        pod: {
          namespace: 'shop',
          name: 'web-7d4b9c8f6d-abcde',
          container: { id: `containerd://${'b'.repeat(64)}`, name: 'main', image: { id: `docker.io/shop/web@sha256:${'2'.repeat(64)}`, name: 'docker.io/shop/web:1.0' }, start_time: '2026-11-30T09:00:00Z', pid: 1 },
          workload: 'web',
          workload_kind: 'Deployment',
        },
        docker: 'b'.repeat(31),
        parent_exec_id: execId('node-a:1:1'),
      },
      parent: { exec_id: execId('node-a:1:1'), pid: 1, binary: '/usr/bin/containerd-shim-runc-v2', flags: 'execve' },
    },
    node_name: 'node-a',
    time: at,
  });
}

function query<T>(dataDir: string, sql: string): T[] {
  const db = new Database(join(dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

t.test('a deny list broken while the collector is down is still enforced after its restart, and reported', async (t) => {
  const dir = t.testdir({ baselines: { 'deny.yaml': DENY } });
  const pki = makeTestPki(dir);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
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
        http: { listen: `127.0.0.1:${httpPort}` },
      },
      agent: {
        node: 'node-a',
        collector: { address: `localhost:${grpcPort}`, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } },
        sources: [{ kind: 'tetragon-json', address: events, follow: true }],
        http: { listen: '127.0.0.1:0' },
        ship: { batchSize: 10, flushInterval: '20ms' },
      },
    }),
  );
  const readyz = async (): Promise<{ status: number; body: { ready: boolean; degraded: boolean; components: { name: string; ready: boolean; detail?: string }[] } }> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    return { status: res.status, body: (await res.json()) as never };
  };

  let collector = spawnCli(['collector', '--config', configFile]);
  t.teardown(() => collector.stop('SIGKILL'));
  await collector.waitForLog(/collector ready/, 120_000);
  const first = await readyz();
  t.match(first.body.components.find((c) => c.name === 'declared-baselines'), { ready: true, detail: '1 declared baseline(s) in force' });
  t.equal(await collector.stop(), 0);

  // The file is broken while the collector is down (a bad merge: a key misspelt on line 7).
  writeFileSync(join(dir, 'baselines', 'deny.yaml'), DENY.replace('  deny:', '  denny:'));
  collector = spawnCli(['collector', '--config', configFile]);
  await collector.waitForLog(/collector ready/, 120_000);
  const after = await readyz();
  t.equal(after.status, 200, 'still ready: ingest and detection go on');
  t.equal(after.body.degraded, true, 'but degraded');
  const component = after.body.components.find((c) => c.name === 'declared-baselines')!;
  t.equal(component.ready, false);
  t.match(component.detail, `${join(dir, 'baselines', 'deny.yaml')}:7:3: `, 'the problem with file:line:column');

  const agent = spawnCli(['agent', '--config', configFile]);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog(/connected to collector/, 120_000);
  appendFileSync(events, execEvent('/usr/bin/nmap', 1) + '\n');
  await eventually(() => query<{ kind: string }>(dataDir, "SELECT kind FROM deviations WHERE kind = 'denied'").length === 1, 'the denied exec to be a deviation', 30_000);
  const [d] = query<{ severity: string; item_key: string }>(dataDir, "SELECT severity, item_key FROM deviations WHERE kind = 'denied'");
  t.match(d, { severity: 'critical', item_key: 'p|/usr/bin/nmap' }, 'the deny list of the last good content is enforced');
});
