/**
 * Daily releases, end to end: Tetragon events (process_exec, tcp_connect as the fixtures show them)
 * → a real agent → a real collector → the file sink, on the shipped defaults (carry-forward, a 24 h
 * learning window) plus what a user would configure: one declared baseline choosing `relearn` for a
 * namespace.
 *
 * - catalog ships every day: release 2 adds nothing (silent, while a release-1 pod still runs);
 *   release 3 adds a binary (one "new in this release" notification, with the image change);
 *   release 4 adds nothing, and one minute after its rollout an attacker drops and runs a binary
 *   that reaches the cloud metadata service (alerted, at the attack's event time); then the team
 *   rolls back to release 3 (silent: release 3's pods are judged by release 3's baseline);
 * - legacy (namespace under `relearn`) ships a release and relearns; a package manager run during
 *   that learning window alerts.
 */
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';
import t from 'tap';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { EndpointRecorder, type Workload } from '../helpers/endpoint-scenario.js';
import { eventually } from '../helpers/processes.js';
import { startRecordingPipeline } from '../helpers/recording-pipeline.js';

const T0 = Date.UTC(2026, 10, 20, 8, 0, 0);
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/** Event time `day` days and `minutes` minutes after T0. */
const at = (day: number, minutes: number, seconds = 0): number => T0 + day * DAY + minutes * MIN + seconds * 1000;
const digest = (n: number): string => 'sha256:' + String(n).repeat(64);

const CATALOG: Workload = { namespace: 'shop', name: 'catalog', container: 'app', exe: '/app/catalog', args: '--port=8080', podIp: '10.244.1.20', node: 'node-a', image: { digest: digest(1), tag: '1' } };
const release = (n: number, podIp: string, node = 'node-a'): Workload => ({ ...CATALOG, podIp, node, image: { digest: digest(n), tag: String(n) } });
const LEGACY: Workload = { namespace: 'legacy', name: 'billing', container: 'app', exe: '/opt/billing/bin/billing', args: '', podIp: '10.244.2.30', node: 'node-b', image: { digest: digest(5), tag: '7.1' } };
const LEGACY_NEXT: Workload = { ...LEGACY, podIp: '10.244.2.31', image: { digest: digest(6), tag: '7.2' } };

const ATTACK_AT = at(3, 121);

/** What catalog does every day: its database (a Service), DNS, a payment API outside. */
function dailyWork(r: EndpointRecorder, w: Workload, day: number, minute: number): void {
  r.connect(at(day, minute), w, '10.96.40.12', 5432);
  r.udpSend(at(day, minute, 1), w, '10.96.0.10', 53);
  r.connect(at(day, minute, 2), w, '192.0.2.80', 443);
  r.exec(at(day, minute, 3), w, '/app/bin/reindex', '--incremental');
}

function recording(): string {
  const r = new EndpointRecorder();
  // ---- day 0: the first release learns (24 h, the default window)
  r.start(at(0, 0), CATALOG);
  for (let m = 5; m < 24 * 60; m += 180) dailyWork(r, CATALOG, 0, m);
  r.start(at(0, 0), LEGACY);
  r.connect(at(0, 10), LEGACY, '10.96.40.12', 5432);

  // ---- day 1: release 2 adds nothing; a release-1 pod keeps working during the rollout
  const r2 = release(2, '10.244.1.21');
  dailyWork(r, CATALOG, 1, 100);
  r.start(at(1, 120), r2);
  dailyWork(r, r2, 1, 121);
  dailyWork(r, CATALOG, 1, 122);
  dailyWork(r, r2, 1, 300);

  // ---- day 2: release 3 adds a binary (run twice, on two pods)
  const r3 = release(3, '10.244.1.22');
  const r3b = release(3, '10.244.3.22', 'node-c');
  r.start(at(2, 120), r3);
  r.start(at(2, 120, 5), r3b);
  dailyWork(r, r3, 2, 121);
  r.exec(at(2, 122), r3, '/app/bin/thumbnailer', '--size=256');
  r.exec(at(2, 123), r3b, '/app/bin/thumbnailer', '--size=512');
  dailyWork(r, r3b, 2, 300);

  // ---- day 3: release 4 adds nothing; one minute after its rollout, an attack
  const r4 = release(4, '10.244.1.23');
  r.start(at(3, 120), r4);
  dailyWork(r, r4, 3, 120);
  r.exec(ATTACK_AT, r4, '/tmp/.x/kworkerd', '');
  r.connect(ATTACK_AT + 2000, r4, '169.254.169.254', 80);

  // ---- day 4: rolled back to release 3, which does what release 3 did
  const back = release(3, '10.244.1.24');
  r.start(at(4, 60), back);
  dailyWork(r, back, 4, 61);
  r.exec(at(4, 62), back, '/app/bin/thumbnailer', '--size=256');

  // ---- legacy under relearn: a release learns afresh; apt-get while it learns (the last event)
  r.connect(at(4, 100), LEGACY, '10.96.40.12', 5432);
  r.start(at(4, 120), LEGACY_NEXT);
  r.connect(at(4, 121), LEGACY_NEXT, '10.96.40.12', 5432);
  r.exec(at(4, 125), LEGACY_NEXT, '/usr/bin/apt-get', 'install -y curl');
  return r.jsonl();
}

t.test('daily releases: silent when nothing is added, one notification for what a release adds, an attack after a rollout alerted, a rollback silent; relearn alerts a package manager while learning', async (t) => {
  // What a user would configure: one namespace keeps relearning on every new image.
  const declared = stringify({ apiVersion: 'driftwatch.dev/v1', kind: 'Baseline', metadata: { name: 'legacy-relearns' }, spec: { selector: { namespace: 'legacy' }, imagePolicy: 'relearn' } });
  const pipeline = await startRecordingPipeline(t, recording(), {}, ({ baselinesDir }) => writeFileSync(join(baselinesDir, 'legacy.yaml'), declared));
  const { deviationAlerts, deviationRows } = pipeline;
  pipeline.startAgent();

  await eventually(() => deviationAlerts().some((a) => a.deviations.some((d) => d.itemKey === 'p|/usr/bin/apt-get')), 'the last event’s alert', 120_000);
  await eventually(() => new Set(deviationAlerts().flatMap((a) => a.deviations.map((d) => d.itemKey))).size >= deviationRows().length, 'an alert for every deviation', 60_000);

  const sent = deviationAlerts();
  // The newest notification under each key: a group's updates re-send it with every member so far.
  const latest = new Map<string, AlertDocumentV1>();
  for (const a of sent) if ((latest.get(a.key)?.sequence ?? -1) < a.sequence) latest.set(a.key, a);
  const alerts = [...latest.values()];
  t.same(
    alerts.map((a) => `${a.workload?.name} ${a.deviations.map((d) => d.itemKey).sort().join(',')}`).sort(),
    ['billing p|/usr/bin/apt-get', 'catalog n|egress|tcp|80|ip|169.254.169.254,p|/tmp/.x/kworkerd', 'catalog p|/app/bin/thumbnailer'],
    'exactly these notifications: releases 2 and 4 and the rollback are silent',
  );
  t.equal(sent.filter((a) => a.reason === 'new').length, 3, 'three notifications (updates of them aside)');

  const added = alerts.find((a) => a.deviations.some((d) => d.itemKey === 'p|/app/bin/thumbnailer'))!;
  t.match(added.summary, /^1 new in this release of shop\/Deployment\/catalog .*registry\.example\/catalog:2@sha256:2+ → registry\.example\/catalog:3@sha256:3+$/, 'one notification for the release, naming the image change');
  t.match(added.deviations[0], { pods: [/^catalog-/, /^catalog-/], release: { from: `registry.example/catalog:2@${digest(2)}`, to: `registry.example/catalog:3@${digest(3)}` } }, 'both pods’ runs in one deviation');
  t.match(added.deviations[0]!.summary, /^new in this release: new process: \/app\/bin\/thumbnailer --size=/);

  for (const key of ['p|/tmp/.x/kworkerd', 'n|egress|tcp|80|ip|169.254.169.254']) {
    const alert = alerts.find((a) => a.deviations.some((d) => d.itemKey === key))!;
    const d = alert.deviations.find((x) => x.itemKey === key)!;
    t.equal(d.severity, 'high', `${key}: high`);
    t.equal(d.release, undefined, `${key}: not put down to the release`);
    t.ok(Date.parse(alert.startsAt) - ATTACK_AT <= 5000, `${key}: alerted at the attack's event time (+${Date.parse(alert.startsAt) - ATTACK_AT} ms), a minute after the rollout`);
  }
  const apt = alerts.find((a) => a.workload?.name === 'billing')!.deviations[0]!;
  t.same([apt.severity, apt.severityReason], ['high', 'package manager'], 'relearn is not silent while it learns');

  const db = new Database(join(pipeline.dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  const generations = db
    .prepare("SELECT b.generation, b.image_name, b.phase FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE w.name = 'catalog' ORDER BY b.generation")
    .all() as { generation: number; image_name: string; phase: string }[];
  t.same(
    generations.map((g) => `${g.generation} ${g.image_name} ${g.phase}`),
    ['1 registry.example/catalog:1 superseded', '2 registry.example/catalog:2 superseded', '3 registry.example/catalog:3 superseded', '4 registry.example/catalog:4 active'],
    'one generation per image; the rollback reuses release 3’s',
  );
  t.same(await pipeline.stop(), [0, 0], 'both exit cleanly');
});
