/** `driftwatch alerts test --sink NAME`: exit 0 when delivered, 1 when not, 2 for a bad sink name. */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { Receiver } from '../helpers/alerting.js';

t.test('alerts test', async (t) => {
  const rx = new Receiver();
  await rx.start();
  t.teardown(() => rx.close());
  const file = join(t.testdir(), 'driftwatch.yaml');
  writeFileSync(
    file,
    `cluster: lab
collector:
  alerting:
    sinks:
      - name: hook
        type: webhook
        url: ${rx.url}/hook
        secret: cli-test-secret-0123456789
        timeout: 500ms
`,
  );
  const out: string[] = [];
  const err: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => (err.push(String(c)), true)) as typeof process.stderr.write;
  let codes: number[];
  try {
    const ok = await main(['node', 'driftwatch', 'alerts', 'test', '--sink', 'hook', '-c', file]);
    rx.respond = () => ({ status: 500, body: 'broken' });
    const failed = await main(['node', 'driftwatch', 'alerts', 'test', '--sink', 'hook', '-c', file]);
    const unknown = await main(['node', 'driftwatch', 'alerts', 'test', '--sink', 'nope', '-c', file]);
    codes = [ok, failed, unknown];
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  t.same(codes, [0, 1, 2]);
  t.match(out.join(''), /sink hook \(webhook\): ok, sample alert delivered/);
  t.match(err.join(''), /sink hook \(webhook\): failed \(would be retried\): HTTP 500/);
  t.match(err.join(''), /no sink named "nope" \(known: hook\)/);
  t.equal(rx.requests.length, 2);
  t.match(JSON.parse(rx.requests[0]!.body.toString('utf8')), { schema: 'driftwatch.alert.v1', reason: 'test', cluster: 'lab' });
});
