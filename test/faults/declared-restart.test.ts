/**
 * "The last good declared set stays in force" across a restart: a real collector loads a deny
 * list, stops; the file breaks; the restarted collector still enforces it (an agent's exec of the
 * denied binary, sent over mTLS gRPC, is a `denied` deviation) and reports the broken file in
 * /readyz, degraded but ready.
 */
import t from 'tap';
import { DENY_NMAP } from '../helpers/declared-files.js';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { INGEST_SERVICE, observationToWire, toNumber, type AgentMessage, type CollectorMessage } from '../../common/wire.js';
import { makeTestPki } from '../helpers/certs.js';
import { processObservation } from '../helpers/observations.js';
import { eventually, freePort, spawnCli } from '../helpers/processes.js';


const Client = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
type Call = grpc.ClientDuplexStream<AgentMessage, CollectorMessage>;

/** What an agent on node-a sends for one exec of `exe` in shop/web: hello, then one batch (mTLS). */
function shipExec(port: number, pki: { ca: string; clientCert: string; clientKey: string }, exe: string): { acked: () => boolean; close: () => void } {
  const client = new Client(`localhost:${port}`, grpc.credentials.createSsl(readFileSync(pki.ca), readFileSync(pki.clientKey), readFileSync(pki.clientCert)));
  const call = (client as unknown as { connect(): Call }).connect();
  let acked = false;
  call.on('data', (m: CollectorMessage) => {
    if (toNumber(m.ack?.seq ?? 0) === 1) acked = true;
  });
  call.on('error', () => undefined);
  const obs = processObservation(1, { time: Date.now() - 60_000, node: 'node-a', workload: { cluster: 'test', namespace: 'shop', kind: 'Deployment', name: 'web', container: 'main' } });
  obs.process.exe = exe;
  call.write({ hello: { node: 'node-a', instanceId: 'node-a-1', cluster: 'test', agentVersion: 'test', sources: ['tetragon-json'] } });
  call.write({ batch: { seq: 1, observations: [observationToWire(obs)] } });
  return {
    acked: () => acked,
    close: () => {
      call.end();
      client.close();
    },
  };
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
  const dir = t.testdir({ baselines: { 'deny.yaml': DENY_NMAP } });
  const pki = makeTestPki(dir);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
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
  writeFileSync(join(dir, 'baselines', 'deny.yaml'), DENY_NMAP.replace('  deny:', '  denny:'));
  collector = spawnCli(['collector', '--config', configFile]);
  await collector.waitForLog(/collector ready/, 120_000);
  const after = await readyz();
  t.equal(after.status, 200, 'still ready: ingest and detection go on');
  t.equal(after.body.degraded, true, 'but degraded');
  const component = after.body.components.find((c) => c.name === 'declared-baselines')!;
  t.equal(component.ready, false);
  t.match(component.detail, `${join(dir, 'baselines', 'deny.yaml')}:7:3: `, 'the problem with file:line:column');

  const agent = shipExec(grpcPort, pki, '/usr/bin/nmap');
  t.teardown(() => agent.close());
  await eventually(() => agent.acked(), 'the batch to be stored');
  await eventually(() => query<{ kind: string }>(dataDir, "SELECT kind FROM deviations WHERE kind = 'denied'").length === 1, 'the denied exec to be a deviation', 30_000);
  const [d] = query<{ severity: string; item_key: string }>(dataDir, "SELECT severity, item_key FROM deviations WHERE kind = 'denied'");
  t.match(d, { severity: 'critical', item_key: 'p|/usr/bin/nmap' }, 'the deny list of the last good content is enforced');
});
