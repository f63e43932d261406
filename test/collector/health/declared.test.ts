/**
 * A declared baseline file that does not load is a health alert: sent once per file however many
 * checks see it, updated (not sent again) when the problem changes, resolved when the file loads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import t from 'tap';
import { DENY_NMAP } from '../../helpers/declared-files.js';
import { silentLogger } from '../../../common/logger.js';
import { DeclaredBaselines } from '../../../collector/baselines/declared.js';
import { CollectorBus } from '../../../collector/events.js';
import { createAlerting } from '../../../collector/outbox/index.js';
import type { AlertDocumentV1 } from '../../../collector/sinks/document.js';
import { SqliteStore } from '../../../collector/store/sqlite/store.js';
import { alertingConfig, FAST, readAlertFile, until } from '../../helpers/alerting.js';


t.test('declared-baseline-invalid: once per file to the sinks, with file:line:column, resolved when fixed', async (t) => {
  const dir = t.testdir({ baselines: { 'deny.yaml': DENY_NMAP } });
  const file = join(dir, 'baselines', 'deny.yaml');
  const path = join(dir, 'alerts.jsonl');
  const store = new SqliteStore({ dataDir: ':memory:' });
  t.teardown(() => store.close());
  const declared = new DeclaredBaselines({ dir: join(dir, 'baselines') });
  declared.reload();
  const alerting = createAlerting({
    store,
    bus: new CollectorBus(),
    config: alertingConfig({ ...FAST, sinks: [{ name: 'f', type: 'file', path }] }),
    logger: silentLogger(),
    registry: new Registry(),
    healthInputs: { declared },
  });
  t.teardown(() => alerting.close());
  await alerting.start();
  const declaredAlerts = (): AlertDocumentV1[] => readAlertFile(path).filter((d) => d.health?.kind === 'declared-baseline-invalid');
  const settle = async (): Promise<void> => {
    await alerting.sweep();
    // Nothing left to deliver: every queued notification is in the file.
    await until(async () => (await alerting.outbox.queueStats()).every((q) => q.depth === 0));
  };

  await alerting.checkHealth();
  await settle();
  t.same(declaredAlerts(), [], 'a file that loads raises nothing');

  writeFileSync(file, DENY_NMAP.replace('  deny:', '  denny:'));
  declared.reload();
  for (let i = 0; i < 3; i++) await alerting.checkHealth();
  await until(async () => {
    await alerting.sweep();
    return declaredAlerts().length >= 1;
  });
  await settle();
  const [raised] = declaredAlerts();
  t.equal(declaredAlerts().length, 1, 'three checks, one notification');
  t.equal(raised!.status, 'firing');
  t.equal(raised!.alertname, 'DriftwatchDeclaredBaselineInvalid');
  t.match(raised!.summary, `${file}:7:3`, 'the summary names file:line:column');
  t.match(raised!.summary, /last good content stays in force/);
  t.same({ ...raised!.health!.detail, reason: undefined }, { file, line: 7, column: 3, reason: undefined, inForce: 'last-good' });
  t.equal(raised!.health!.node, null);

  // Another problem in the same file: still one open alert.
  writeFileSync(file, DENY_NMAP.replace('/usr/bin/nmap', '[unclosed'));
  declared.reload();
  await alerting.checkHealth();
  await settle();
  t.equal(declaredAlerts().length, 1, 'a new problem in the same file does not page again');

  writeFileSync(file, DENY_NMAP);
  declared.reload();
  await alerting.checkHealth();
  await until(async () => {
    await alerting.sweep();
    return declaredAlerts().length >= 2;
  });
  const resolved = declaredAlerts()[1]!;
  t.equal(resolved.status, 'resolved', 'fixing the file resolves the alert');
  t.equal(resolved.key, raised!.key);
});
