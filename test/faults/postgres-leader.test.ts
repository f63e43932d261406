/**
 * Two collector replicas (real processes) on one PostgreSQL database: exactly one does the
 * periodic work; when it is killed with -9, the other takes over within 10 s. Neither ever logs the
 * database password (it comes from `collector.store.passwordFile`).
 */
import t from 'tap';
import { startCollectorReplica } from '../helpers/collector-replicas.js';
import { postgresCluster } from '../helpers/postgres.js';
import { eventually } from '../helpers/processes.js';

const LEADS = /leadership: this replica does the periodic work/;

// Two or more collector processes started from the TypeScript sources: 30–50 s each to start on a
// loaded two-core machine, more than the suite's default per-file limit.
t.setTimeout(300_000);

t.test('kill -9 the leader: the other replica does the periodic work within 10 s; the password is never logged', async (t) => {
  const cluster = await postgresCluster(t);
  if (!cluster) return;
  const db = await cluster.database();
  const dir = t.testdir();
  const a = await startCollectorReplica(t, dir, 'a', db);
  t.match(a.process.stderr(), LEADS, 'the first replica leads');
  const b = await startCollectorReplica(t, dir, 'b', db);
  t.equal(await b.leaderGauge(), '0', 'the second follows');
  t.notMatch(b.process.stderr(), LEADS);

  const killedAt = Date.now();
  a.process.child.kill('SIGKILL');
  await b.process.waitForLog(LEADS, 10_000);
  t.comment(`the lead moved ${Date.now() - killedAt} ms after the kill`);
  await eventually(async () => (await b.leaderGauge()) === '1', 'the second replica reports the lead', 10_000);

  for (const p of [a.process, b.process]) {
    t.notOk(p.stderr().includes(cluster.password), 'no log line holds the database password');
    t.match(p.stderr(), /store: PostgreSQL/, 'the store is named, without credentials');
  }
});
