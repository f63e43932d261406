/**
 * Two collector replicas (real processes) on one PostgreSQL database: exactly one does the
 * periodic work; when it is killed with -9, the other takes over within 10 s. Neither ever logs the
 * database password (it comes from `collector.store.passwordFile`).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { postgresCluster } from '../helpers/postgres.js';
import { eventually, freePort, spawnCli, type CliProcess } from '../helpers/processes.js';

const LEADS = /leadership: this replica does the periodic work/;

t.test('kill -9 the leader: the other replica does the periodic work within 10 s; the password is never logged', async (t) => {
  const cluster = await postgresCluster(t);
  if (!cluster) return;
  const db = await cluster.database();
  const dir = t.testdir();
  const replica = async (name: string): Promise<{ process: CliProcess; httpPort: number }> => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const configFile = join(dir, `${name}.yaml`);
    writeFileSync(
      configFile,
      stringify({
        cluster: 'test',
        log: { level: 'info', format: 'json' },
        collector: {
          dataDir: join(dir, name),
          baselinesDir: join(dir, 'baselines'),
          grpc: { listen: `127.0.0.1:${grpcPort}` },
          http: { listen: `127.0.0.1:${httpPort}` },
          store: { kind: 'postgres', url: db.url, passwordFile: db.passwordFile },
        },
      }),
    );
    const process = spawnCli(['collector', '--config', configFile]);
    t.teardown(() => process.stop('SIGKILL'));
    // Started from the TypeScript sources: slow on a loaded machine.
    await process.waitForLog(/collector ready/, 120_000);
    return { process, httpPort };
  };
  const leaderGauge = async (httpPort: number): Promise<string | undefined> =>
    /^driftwatch_collector_leader (\d)/m.exec(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text())?.[1];

  const a = await replica('a');
  t.match(a.process.stderr(), LEADS, 'the first replica leads');
  const b = await replica('b');
  t.equal(await leaderGauge(b.httpPort), '0', 'the second follows');
  t.notMatch(b.process.stderr(), LEADS);

  const killedAt = Date.now();
  a.process.child.kill('SIGKILL');
  await b.process.waitForLog(LEADS, 10_000);
  t.comment(`the lead moved ${Date.now() - killedAt} ms after the kill`);
  await eventually(async () => (await leaderGauge(b.httpPort)) === '1', 'the second replica reports the lead', 10_000);

  for (const p of [a.process, b.process]) {
    t.notOk(p.stderr().includes(cluster.password), 'no log line holds the database password');
    t.match(p.stderr(), /store: PostgreSQL/, 'the store is named, without credentials');
  }
});
