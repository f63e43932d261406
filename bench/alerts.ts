/**
 * Alerting throughput: decisions (bus event → outbox rows), seen-again updates (the hot path
 * while a deviation stays open), delivery over loopback HTTP (webhook: one request per
 * notification; Alertmanager: batches), and the pure payload builders. Compare with
 * /work/shared/perf/ceilings.md (Node http server, keep-alive, 1 connection: 13–15k req/s).
 *
 * Then the alert path's latency under load (`benchAlertLatency`): 10,000 bus events/s of seen-again
 * updates while probes arrive — a medium deviation (waits for its grouping window: the time from
 * the window closing to its line in the file sink) and a high one (sent at once: from its event on
 * the bus to its line).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig } from '../cli/config.js';
import type { Deviation } from '../common/deviations.js';
import { silentLogger } from '../common/logger.js';
import type { WorkloadId } from '../common/model.js';
import { CollectorBus } from '../collector/events.js';
import { createAlerting } from '../collector/outbox/index.js';
import { sampleNotification } from '../collector/outbox/sample.js';
import { toSlackMessage } from '../collector/sinks/slack.js';
import { toWebhookRequest } from '../collector/sinks/webhook.js';
import { SqliteStore } from '../collector/store/sqlite/store.js';

function makeDeviation(id: number, workload: WorkloadId, t: number): Deviation {
  return {
    id,
    baselineId: 1,
    workload,
    itemKey: `process:/usr/bin/tool-${id}`,
    kind: 'process',
    severity: 'medium',
    severityReason: 'new executable',
    status: 'open',
    summary: `new process /usr/bin/tool-${id} --flag in ${workload.namespace}/${workload.name}`,
    item: { exe: `/usr/bin/tool-${id}`, args: '--flag' },
    firstSeenMs: t,
    lastSeenMs: t,
    count: 1,
    pods: ['pod-a', 'pod-b'],
    nodes: ['node-1'],
    image: 'registry.example/app:1',
    samples: [],
    statusBy: null,
    statusAt: null,
    statusComment: null,
    createdAt: new Date(t).toISOString(),
    updatedAt: new Date(t).toISOString(),
  };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

export async function benchAlerts(): Promise<Record<string, unknown>> {
  const N = 3000;
  const received = { hook: 0, am: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/hook') received.hook++;
      else received.am += (JSON.parse(body) as unknown[]).length;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-alerts-'));
  const store = new SqliteStore({ dataDir: dir });
  const bus = new CollectorBus();
  const config = loadConfig({
    env: {},
    overrides: {
      'collector.alerting': {
        grouping: { threshold: 1000, wait: 0, window: '1m' },
        rateLimit: { max: 1_000_000, per: '1s' },
        renotifyInterval: '24h',
        sinks: [
          { name: 'hook', type: 'webhook', url: `${url}/hook`, secret: 'bench-secret-0123456789' },
          { name: 'am', type: 'alertmanager', urls: [`${url}/am`], renotifyInterval: '24h' },
        ],
      },
    },
  });
  const alerting = createAlerting({ store, bus, config, logger: silentLogger(), registry: new Registry() });
  await alerting.start();
  const t0 = Date.now();
  const deviations = Array.from({ length: N }, (_v, i) =>
    makeDeviation(i + 1, { cluster: 'bench', namespace: `ns-${i % 50}`, kind: 'Deployment', name: `app-${i % 500}`, container: 'app' }, t0 + i),
  );

  // sweep() decides everything queued at once: emitted → decided and in the outbox.
  let start = performance.now();
  for (const d of deviations) bus.emit({ type: 'deviation.created', deviation: d });
  await alerting.sweep();
  const decideMs = performance.now() - start;
  await until(() => received.hook >= N);
  const webhookMs = performance.now() - start;
  await until(() => received.am >= N);
  const amMs = performance.now() - start;

  start = performance.now();
  const rounds = 3;
  for (let r = 0; r < rounds; r++) {
    for (const d of deviations) bus.emit({ type: 'deviation.updated', deviation: { ...d, count: d.count + r + 1, lastSeenMs: d.lastSeenMs + r } });
    await alerting.sweep();
  }
  const updateMs = performance.now() - start;

  const n = sampleNotification({ cluster: 'bench', baseUrl: 'https://d.example', nowMs: t0 });
  const B = 20_000;
  start = performance.now();
  for (let i = 0; i < B; i++) toSlackMessage(n);
  const slackMs = performance.now() - start;
  start = performance.now();
  for (let i = 0; i < B; i++) toWebhookRequest(n, 'bench-secret-0123456789', t0);
  const signMs = performance.now() - start;

  await alerting.close();
  await store.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
  const perSec = (count: number, ms: number): number => Math.round((count / ms) * 1000);
  return {
    deviations: N,
    decisions_per_s: perSec(N, decideMs),
    webhook_delivered_per_s: perSec(N, webhookMs),
    alertmanager_delivered_per_s: perSec(N, amMs),
    note: 'from the first event to the last delivery; webhook = one signed request each, alertmanager = batches of 64; both sinks run concurrently against one loopback receiver',
    updates_per_s: perSec(N * rounds, updateMs),
    slack_payloads_per_s: perSec(B, slackMs),
    webhook_payloads_signed_per_s: perSec(B, signMs),
  };
}

const LATENCY_PROBES = 40;
const LATENCY_WAIT_MS = 1000;
const BUS_EVENTS_PER_SEC = 10_000;

export async function benchAlertLatency(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-alert-latency-'));
  const store = new SqliteStore({ dataDir: dir });
  const bus = new CollectorBus();
  const path = join(dir, 'alerts.jsonl');
  const config = loadConfig({
    env: {},
    overrides: { 'collector.alerting': { grouping: { wait: `${LATENCY_WAIT_MS}ms` }, rateLimit: { max: 1_000_000, per: '1s' }, sinks: [{ name: 'file', type: 'file', path }] } },
  });
  const alerting = createAlerting({ store, bus, config, logger: silentLogger(), registry: new Registry() });
  await alerting.start();
  const t0 = Date.now();
  // Open deviations that keep being seen again: the bus traffic of a busy cluster.
  const open = Array.from({ length: 500 }, (_v, i) => makeDeviation(i + 1, { cluster: 'bench', namespace: 'busy', kind: 'Deployment', name: `busy-${i % 50}`, container: 'app' }, t0));
  for (const d of open) bus.emit({ type: 'deviation.created', deviation: d });
  await alerting.sweep();
  let seen = 0;
  const background = setInterval(() => {
    for (let i = 0; i < BUS_EVENTS_PER_SEC / 100; i++) {
      const d = open[seen++ % open.length]!;
      bus.emit({ type: 'deviation.updated', deviation: { ...d, count: d.count + seen, lastSeenMs: Date.now() } });
    }
  }, 10);

  const emitted = new Map<number, { at: number; high: boolean }>();
  const arrived = new Map<number, number>();
  const watch = setInterval(() => {
    if (!existsSync(path)) return;
    const now = Date.now();
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /probe-(\d+)-x/.exec(line);
      if (m && !arrived.has(Number(m[1]))) arrived.set(Number(m[1]), now);
    }
  }, 2);
  for (let k = 0; k < LATENCY_PROBES; k++) {
    const high = k % 2 === 0;
    const d = makeDeviation(10_000 + k, { cluster: 'bench', namespace: 'probes', kind: 'Deployment', name: `probe-${k}`, container: 'app' }, Date.now());
    emitted.set(k, { at: Date.now(), high });
    bus.emit({ type: 'deviation.created', deviation: { ...d, severity: high ? 'high' : 'medium', summary: `new process /usr/bin/probe-${k}-x in probes/probe-${k}` } });
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(() => arrived.size >= LATENCY_PROBES);
  clearInterval(background);
  clearInterval(watch);
  await alerting.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });

  const ms = (high: boolean): number[] =>
    [...emitted]
      .filter(([, e]) => e.high === high)
      .map(([k, e]) => arrived.get(k)! - e.at - (high ? 0 : LATENCY_WAIT_MS))
      .sort((a, b) => a - b);
  const pct = (list: readonly number[], p: number): number => list[Math.min(list.length - 1, Math.floor((list.length * p) / 100))]!;
  const grouped = ms(false);
  const high = ms(true);
  return {
    busEventsPerSec: BUS_EVENTS_PER_SEC,
    groupingWaitMs: LATENCY_WAIT_MS,
    note: 'file sink (append + datasync); the file is polled every 2 ms; medium probes: after the grouping window closed, high probes: after the event',
    beyondWaitP50Ms: pct(grouped, 50),
    beyondWaitP99Ms: pct(grouped, 99),
    highAtOnceP50Ms: pct(high, 50),
    highAtOnceP99Ms: pct(high, 99),
  };
}
