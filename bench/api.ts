/**
 * The console's hot query: the filtered deviations list through the HTTP API with 1,000,000
 * deviations stored (1,000 workloads in 50 namespaces, 30 days). Reports p50 / p95 / max per
 * scenario, first pages and deep keyset pages, and what the store costs to fill.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { loadConfig } from '../cli/config.js';
import { silentLogger } from '../common/logger.js';
import { OpsServer } from '../common/ops-server.js';
import { createApi } from '../collector/api/server.js';
import { Detection } from '../collector/detection.js';
import { CollectorBus } from '../collector/events.js';
import { createAlerting } from '../collector/outbox/index.js';
import { readPipelineStatus } from '../collector/status.js';
import type { SqliteConnection } from '../collector/store/sqlite/database.js';
import { SqliteStore } from '../collector/store/sqlite/store.js';

const DEVIATIONS = Number(process.env.DW_BENCH_DEVIATIONS ?? 1_000_000);
const WORKLOADS = 1000;
const NAMESPACES = 50;
const RUNS = 200;
const DAY = 86_400_000;

/** A small deterministic PRNG, so every run stores the same rows. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function fill(db: SqliteConnection, now: number): { fillMs: number; indexMs: number } {
  const started = performance.now();
  const indexes = db.all<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deviations' AND sql IS NOT NULL");
  // Bulk load without secondary indexes, then build them once: what a restore or an import does.
  for (const i of indexes) db.exec(`DROP INDEX ${i.name}`);
  const random = rng(42);
  const at = new Date(now).toISOString();
  const statuses = ['resolved', 'resolved', 'resolved', 'resolved', 'resolved', 'resolved', 'open', 'open', 'acknowledged', 'added-to-baseline'];
  const severities = ['info', 'low', 'low', 'medium', 'medium', 'medium', 'high', 'high', 'critical', 'low'];
  const kinds = ['process', 'process', 'process', 'network', 'network', 'interactive-session', 'denied'];
  db.exec('BEGIN');
  {
    for (let w = 1; w <= WORKLOADS; w++) {
      db.run("INSERT INTO workloads (id, cluster, namespace, kind, name, container, created_at) VALUES (@id, 'bench', @ns, 'Deployment', @name, 'app', @at)", {
        id: w,
        ns: `ns-${w % NAMESPACES}`,
        name: `svc-${w}`,
        at,
      });
      db.run("INSERT INTO baselines (id, workload_id, generation, phase, version, created_at, updated_at) VALUES (@id, @id, 1, 'active', 1, @at, @at)", { id: w, at });
    }
    for (let i = 1; i <= DEVIATIONS; i++) {
      const w = 1 + Math.floor(random() * WORKLOADS);
      const first = now - 30 * DAY + Math.floor(random() * 30 * DAY);
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      db.run(
        `INSERT INTO deviations (baseline_id, workload_id, item_key, kind, severity, status, summary, detail, first_seen_ms, last_seen_ms, count, pods, nodes, samples, created_at, updated_at)
         VALUES (@w, @w, @key, @kind, @sev, @status, @summary, '{}', @first, @last, @count, '["pod-1"]', '["node-1"]', '[]', @at, @at)`,
        {
          w,
          key: `p|/usr/bin/tool-${i}`,
          kind,
          sev: severities[Math.floor(random() * severities.length)]!,
          status: statuses[Math.floor(random() * statuses.length)]!,
          summary: `new ${kind}: /usr/bin/tool-${i} --flag ${i % 997}`,
          first,
          last: first + Math.floor(random() * DAY),
          count: 1 + Math.floor(random() * 20),
          at,
        },
      );
    }
  }
  db.exec('COMMIT');
  const loaded = performance.now();
  for (const i of indexes) db.exec(i.sql);
  return { fillMs: Math.round(loaded - started), indexMs: Math.round(performance.now() - loaded) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchApi(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-api-'));
  const store = new SqliteStore({ dataDir: dir });
  const now = Date.now();
  const cost = fill(store.connection, now);
  const config = loadConfig({ env: {}, overrides: { 'collector.baselinesDir': join(dir, 'baselines') } });
  const bus = new CollectorBus();
  const detection = new Detection({ store, bus, config: config.collector, logger: silentLogger() });
  const alerting = createAlerting({ store, bus, config, logger: silentLogger(), registry: new Registry() });
  const api = createApi({ store, bus, reviews: detection, config, logger: silentLogger(), status: () => readPipelineStatus({ ingest: detection.unitOfWork, alerting }) });
  await api.start();
  const ops = new OpsServer('127.0.0.1:0', new Registry());
  ops.setFallback(api.handle);
  await ops.start();
  const token = (await store.tokens.create({ name: 'bench', role: 'viewer', createdBy: 'bench' })).token;
  const scoped = (await store.tokens.create({ name: 'bench-scoped', role: 'viewer', namespaces: ['ns-7', 'ns-8'], createdBy: 'bench' })).token;
  const base = `http://127.0.0.1:${ops.port}/api/v1/deviations`;

  // [name, query, token, runs]: a substring search reads every row (no full-text index in
  // portable SQL), so it gets fewer runs.
  const scenarios: [string, string, string, number][] = [
    ['newest, no filter', '', token, RUNS],
    ['status=open', 'status=open', token, RUNS],
    ['namespace + open + high and up', 'namespace=ns-7&status=open&minSeverity=high', token, RUNS],
    ['workload, by last seen', 'workload=svc-123&sort=-lastSeen', token, RUNS],
    ['kind=network, last 24 h', `kind=network&from=${now - DAY}`, token, RUNS],
    ['open, by severity', 'status=open&sort=-severity', token, RUNS],
    ['scoped token (2 namespaces), open', 'status=open', scoped, RUNS],
    ['text search (rare word)', 'q=tool-4242', token, 20],
    ['text search (common word) + open', 'q=flag&status=open', token, RUNS],
  ];
  const results: Record<string, unknown> = {
    deviations: DEVIATIONS,
    workloads: WORKLOADS,
    fill_ms: cost.fillMs,
    build_indexes_ms: cost.indexMs,
    runs_per_scenario: RUNS,
    note: 'HTTP round trips over loopback with a bearer token, 50 rows a page; deep pages follow keyset cursors',
  };
  try {
    for (const [name, query, t, runs] of scenarios) {
      const headers = { authorization: `Bearer ${t}` };
      for (let i = 0; i < 5; i++) await (await fetch(`${base}?limit=50${query ? `&${query}` : ''}`, { headers })).arrayBuffer(); // warm-up
      const times: number[] = [];
      let cursor: string | null = null;
      let deep: number[] = [];
      for (let i = 0; i < runs; i++) {
        // Alternate: first pages, and walking on through keyset cursors (deep pages).
        const walking = i % 2 === 1 && cursor !== null;
        const url = `${base}?limit=50${query ? `&${query}` : ''}${walking ? `&cursor=${cursor}` : ''}`;
        const t0 = performance.now();
        const res = await fetch(url, { headers });
        const body = (await res.json()) as { items: unknown[]; next: string | null };
        const ms = performance.now() - t0;
        if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status} ${JSON.stringify(body)}`);
        if (walking) deep.push(ms);
        else times.push(ms);
        cursor = body.next ?? cursor;
      }
      times.sort((a, b) => a - b);
      deep = deep.sort((a, b) => a - b);
      results[name] = {
        p50_ms: +percentile(times, 50).toFixed(2),
        p95_ms: +percentile(times, 95).toFixed(2),
        max_ms: +times[times.length - 1]!.toFixed(2),
        ...(deep.length ? { deep_pages_p95_ms: +percentile(deep, 95).toFixed(2) } : {}),
      };
    }
  } finally {
    await api.close();
    await alerting.close();
    await ops.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

const invokedDirectly = process.argv[1] !== undefined && /[\\/]bench[\\/]api\.(js|ts)$/.test(process.argv[1]);
if (invokedDirectly) process.stdout.write(JSON.stringify(await benchApi(), null, 2) + '\n');
