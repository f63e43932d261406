/**
 * `driftwatch replay` on the committed demo recording raises exactly the deviations the end-to-end
 * replay test expects from it, decides a notification for each and ends idle; on Falco recordings
 * it learns; `--fail-on-deviations` turns deviations into a failing exit code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ReplaySummary } from '../../cli/replay.js';
import { packagePath } from '../../common/paths.js';
import { readAlertFile } from '../helpers/alerting.js';
import { run } from '../helpers/cli-run.js';
import { expectedKeys } from '../helpers/scenario.js';

const RECORDING = packagePath('demo', 'recording', 'cluster.jsonl');
const RECORDING_CONFIG = packagePath('demo', 'recording', 'driftwatch.yaml');
const FALCO = ['process_spawn.json', 'network_connect.json'].map((f) => packagePath('..', 'shared', 'fixtures', 'falco', f));

/** `workload kind item severity`, session ids cut to `s|`, as test/helpers/scenario.ts keys them. */
function keyOf(d: ReplaySummary['deviations']['items'][number]): string {
  return `${d.workload} ${d.kind} ${d.kind === 'interactive-session' ? 's|' : d.item} ${d.severity}`;
}

t.test('the demo recording: exactly the expected deviations, each decided, then idle', async (t) => {
  const baselines = t.testdir({});
  const r = await run(null, ['replay', RECORDING, '-c', RECORDING_CONFIG, '--baselines', baselines, '-o', 'json']);
  t.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as ReplaySummary;
  t.same(s.deviations.items.map(keyOf).sort(), expectedKeys(), 'the same deviations as test/e2e/replay.test.ts');
  t.equal(s.deviations.total, expectedKeys().length);
  t.same(s.files.map((f) => [f.format, f.malformed]), [['tetragon-json', 0]]);
  t.equal(s.baselines.active, 5, 'every workload learned and active');
  t.equal(s.status.idle, true);
  const sent = s.notifications.wouldSend!;
  t.equal(sent.length, Object.values(s.notifications.decided).reduce((a, b) => a + b, 0), 'without --deliver each is listed, none sent');
  t.equal(s.notifications.decided.new, new Set(sent.map((n) => n.key)).size, 'one first notification per alert, the rest updates of it');
  // The reverse shell's high deviations are sent at once and their workload's later ones join them.
  t.ok(sent.some((n) => n.key.startsWith('group:') && n.reason === 'update'), 'a severe alert updated as its workload raised more');
});

t.test('--fail-on-deviations exits 1 after printing the summary', async (t) => {
  const r = await run(null, ['replay', RECORDING, '-c', RECORDING_CONFIG, '--baselines', t.testdir({}), '--fail-on-deviations']);
  t.equal(r.code, 1);
  t.match(r.out, new RegExp(`deviations: ${expectedKeys().length} \\(`), 'the table summary still printed');
  t.match(r.err, /deviation\(s\) raised \(--fail-on-deviations\)/);
});

t.test('--deliver sends the notifications through the configured sinks instead of listing them', async (t) => {
  const dir = t.testdir({ baselines: {} });
  const alerts = join(dir, 'alerts.jsonl');
  const config = join(dir, 'driftwatch.yaml');
  writeFileSync(config, `${readFileSync(RECORDING_CONFIG, 'utf8')}  alerting:\n    sinks:\n      - { name: audit-file, type: file, path: ${JSON.stringify(alerts)} }\n`);
  const r = await run(null, ['replay', RECORDING, '-c', config, '--baselines', join(dir, 'baselines'), '--deliver', '-o', 'json']);
  t.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as ReplaySummary;
  t.equal(s.notifications.wouldSend, undefined, 'nothing listed as "would send"');
  t.same(s.status.outbox, { pending: 0, sinks: { 'audit-file': 0 } }, 'ended once delivered');
  // Each alert's latest version lists what it covers: every deviation is in exactly one of them.
  const latest = new Map(readAlertFile(alerts).map((d) => [d.key, d]));
  const listed = [...latest.values()].flatMap((d) => d.deviations.map((x) => x.id)).sort((a, b) => a - b);
  t.same(listed, s.deviations.items.map((d) => d.id).sort((a, b) => a - b), 'every deviation notified, by the file sink, exactly once');
});

t.test('Falco recordings are recognised and run through the same pipeline', async (t) => {
  const dir = t.testdir({ data: {}, baselines: {} });
  const args = ['replay', ...FALCO, '--baselines', join(dir, 'baselines'), '--data-dir', join(dir, 'data'), '-o', 'json'];
  const r = await run(null, args);
  t.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as ReplaySummary;
  t.same(s.files.map((f) => f.format), ['falco-json', 'falco-json']);
  t.equal(s.observations.made, 9);
  // The recorded alerts span years: the alpine pod's learning window ended before its later shell.
  // The OpenFaaS function's first call of the Kubernetes API alerts although it is learning: the
  // high-risk rules are never silent in a learning window (an approver adds it once).
  t.same(s.deviations.items.map(keyOf), ['default/default/Pod/alpine/ process p|sh high', 'default/openfaas-fn/Deployment/falco-pod-delete/ network n|egress|tcp|443|ip|10.96.0.1 high']);
  const sent = [...(s.notifications.wouldSend ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  t.match(
    sent,
    [
      { key: /^group:default\/default\/Pod\/alpine\//, reason: 'new', severity: 'high' },
      { key: /^group:default\/openfaas-fn\/Deployment\/falco-pod-delete\//, reason: 'new', severity: 'high' },
    ],
    'high deviations: each sent at once',
  );
  t.equal(sent.length, 2);
  t.equal(s.status.idle, true);

  // A kept store takes a second replay as new input (its batches are not re-sends of the first's).
  const again = JSON.parse((await run(null, args)).out) as ReplaySummary;
  t.ok(again.deviations.items[0]!.count > s.deviations.items[0]!.count, 'the same deviation, seen again');
});

t.test('--fail-on-deviations passes (exit 0) when the recording raises nothing', async (t) => {
  // The function's Kubernetes API call alerts even while learning, unless a declared baseline allows it.
  const allowApi = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata: { name: pod-delete }
spec:
  selector: { namespace: openfaas-fn }
  allow:
    network: [{ direction: egress, protocol: tcp, ports: [443], cidrs: [10.96.0.1/32] }]
`;
  const r = await run(null, ['replay', FALCO[1]!, '--baselines', t.testdir({ 'pod-delete.yaml': allowApi }), '--fail-on-deviations']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /deviations: 0 \(/);
});

t.test('a file that is neither Tetragon nor Falco is refused by name', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'other.jsonl');
  writeFileSync(path, '{"hello":"world"}\n');
  const r = await run(null, ['replay', path, '--baselines', dir]);
  t.equal(r.code, 1);
  t.match(r.err, /other\.jsonl: cannot tell whether this is a Tetragon or a Falco recording/);
});
