/**
 * Through the collector as `driftwatch collector` wires it (collector/main.ts): a deviation on
 * the collector's bus reaches a real Alertmanager, /readyz lists the sink, /metrics counts it.
 */
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../cli/config.js';
import { startCollector } from '../../../collector/main.js';
import { alerts, BINARY, installed, poll, startAlertmanagers } from '../../helpers/alertmanager-process.js';
import { deviation, FAST, withStatus } from '../../helpers/alerting.js';

t.test('collector → Alertmanager', { skip: installed ? false : `${BINARY} is not installed` }, async (t) => {
  const dir = t.testdir();
  const { ams, stop } = await startAlertmanagers(dir, ['am']);
  t.teardown(stop);
  mkdirSync(join(dir, 'baselines'));
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'lab',
      'collector.dataDir': join(dir, 'data'),
      'collector.baselinesDir': join(dir, 'baselines'),
      'collector.grpc.listen': '127.0.0.1:0',
      'collector.grpc.insecure': true,
      'collector.http.listen': '127.0.0.1:0',
      'collector.alerting': { ...FAST, sinks: [{ name: 'am', type: 'alertmanager', urls: [ams[0]!.url] }] },
    },
  });
  const collector = await startCollector(config);
  t.teardown(() => collector.close());

  const d = deviation({ workload: { cluster: 'lab', namespace: 'shop', kind: 'StatefulSet', name: 'db', container: 'postgres' } });
  collector.bus.emit({ type: 'deviation.created', deviation: d });
  await poll(async () => (await alerts(ams[0]!.url)).some((a) => a.labels.deviation_id === String(d.id)));
  const [got] = (await alerts(ams[0]!.url)).filter((a) => a.labels.deviation_id === String(d.id));
  t.match(got!.labels, { alertname: 'DriftwatchDeviation', cluster: 'lab', namespace: 'shop', workload: 'db', workload_kind: 'StatefulSet', container: 'postgres' });
  t.match(got!.annotations.url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/ui/deviations/${d.id}$`), 'no externalUrl: the HTTP listener');

  const ready = (await (await fetch(`http://127.0.0.1:${collector.httpPort}/readyz`)).json()) as { components: { name: string; ready: boolean }[] };
  t.ok(ready.components.some((c) => c.name === 'alert-sink:am' && c.ready), '/readyz lists the sink');
  const metrics = await (await fetch(`http://127.0.0.1:${collector.httpPort}/metrics`)).text();
  t.match(metrics, /driftwatch_sink_sends_total\{sink="am",result="ok"\} [1-9]/);

  collector.bus.emit({ type: 'deviation.status', deviation: withStatus(d, 'resolved'), previous: 'open', actor: 'alice' });
  await poll(async () => {
    const a = (await alerts(ams[0]!.url)).find((x) => x.labels.deviation_id === String(d.id));
    return !a || Date.parse(a.endsAt) <= Date.now();
  });
  t.pass('resolving ends the alert in Alertmanager');
});
