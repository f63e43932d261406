/** `collector.alerting`: defaults from the schema, clear errors for wrong sinks. */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../cli/config.js';
import { validateSinks } from '../../../collector/sinks/index.js';

function load(t: Test, yaml: string) {
  const file = join(t.testdir(), 'c.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env: {} });
}

t.test('defaults', async (t) => {
  const c = loadConfig({ env: {} }).collector.alerting;
  t.match(c, { enabled: true, renotifyInterval: '4h', grouping: { threshold: 5, window: '2m', wait: '10s' }, rateLimit: { max: 30, per: '1m' }, retry: { initial: '1s', max: '5m', maxAge: '24h' }, sinks: [] });
  t.match(c.health, { disconnectedAfter: '2m', silentAfter: '15m', dropRatio: 0.01 });
});

t.test('sink defaults and errors', async (t) => {
  const c = load(t, 'collector:\n  alerting:\n    sinks:\n      - name: am\n        type: alertmanager\n        urls: [http://127.0.0.1:9093]\n');
  t.match(c.collector.alerting.sinks[0], { enabled: true, minSeverity: 'low', namespaces: [], health: true, timeout: '5s', headers: {} });
  t.throws(() => load(t, 'collector:\n  alerting:\n    sinks:\n      - name: x\n        type: pagerduty\n'), { name: 'ConfigError', message: /c\.yaml:5:15: collector\.alerting\.sinks\.0\.type: must be one of/ });
  t.throws(() => load(t, 'collector:\n  alerting:\n    sinks:\n      - name: x\n        type: slack\n        url: ftp://x\n'), { message: /sinks\.0\.url: has an invalid format/ });
  const sink = (over: Record<string, unknown>) => ({ name: 's', type: 'slack' as const, enabled: true, minSeverity: 'low' as const, namespaces: [], workloads: [], health: true, timeout: '5s', headers: {}, ...over });
  t.throws(() => validateSinks([sink({})]), new ConfigError('collector.alerting', 'collector.alerting.sinks.0.url', 'is required for sinks of type slack'));
  t.throws(() => validateSinks([sink({ url: 'http://x', urls: ['http://y'] })]), { message: /sinks\.0\.urls: does not apply to sinks of type slack/ });
  t.throws(() => validateSinks([sink({ url: 'http://x' }), sink({ url: 'http://y' })]), { message: /sinks\.1\.name: duplicate sink name "s"/ });
  t.throws(() => validateSinks([sink({ type: 'webhook', url: 'http://x' })]), { message: /secret\|secretFile: is required/ });
  t.doesNotThrow(() => validateSinks([sink({ type: 'stdout' }), sink({ name: 'f', type: 'file', path: '/tmp/x' })]));
});
