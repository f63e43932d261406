/**
 * `npm run soak -- --minutes N`: a real collector and a real agent, as separate processes (the
 * built CLI), the agent following a Tetragon JSON file into which the recorded cluster
 * (demo/recording/cluster.jsonl) is replayed in a loop — each loop shifted forward in event time
 * and given fresh exec ids, so learning, edge filtering, deviations, retention and the store all
 * keep working. Once a minute it samples each process's RSS (/proc) and V8 heap (its /metrics) and
 * ends with a verdict: growth over the last half of the run, flat when under 2 %.
 *
 * Every loop brings processes that never exit (the recording's servers, under fresh exec ids), so
 * the agent's lineage cache fills until it evicts: growth towards that bound is by design, and the
 * verdict only counts once the cache was full at the midpoint (`conclusive`); the shipped bound is
 * reached after ~12 minutes at this rate.
 *
 * Prints one JSON document (samples + verdict); BENCHMARKS.md records the result with machine and
 * date. A benchmark, not a test: it runs for minutes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { packagePath } from '../common/paths.js';

const RECORDING = packagePath('demo', 'recording', 'cluster.jsonl');
/** Events appended per second: a busy node's rate of new exec/connect events after edge filtering. */
const EVENTS_PER_SECOND = 200;
/** Event time one loop of the recording covers (its 3 h, rounded up so loops never overlap). */
const LOOP_SPAN_MS = 3.5 * 3600_000;
const FLAT_GROWTH = 0.02;

interface Sample {
  minute: number;
  collector: { rssMiB: number; heapMiB: number };
  agent: { rssMiB: number; heapMiB: number; lineageProcesses: number; lineageEvictions: number };
  eventsWritten: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** One recorded event as a fresh one of loop `loop`: times shifted, exec ids made unique. */
function shifted(value: unknown, shiftMs: number, loop: number, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => shifted(v, shiftMs, loop));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shifted(v, shiftMs, loop, k)]));
  }
  if (typeof value !== 'string') return value;
  if (key === 'exec_id' || key === 'parent_exec_id') return Buffer.from(`${Buffer.from(value, 'base64').toString()}:${loop}`).toString('base64');
  if ((key === 'time' || key.endsWith('_time')) && /^\d{4}-\d\d-\d\dT/.test(value)) return new Date(Date.parse(value) + shiftMs).toISOString();
  return value;
}

function rssMiB(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

/** Unlabelled metrics of one /metrics page, by name. */
async function metrics(url: string): Promise<(name: string) => number> {
  const text = await (await fetch(url)).text();
  return (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

function start(args: string[]): { child: ChildProcess; logs: () => string } {
  const child = spawn(process.execPath, [packagePath('dist', 'cli', 'main.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err = (err + c).slice(-20_000);
  });
  return { child, logs: () => err };
}

async function waitFor(url: string, proc: { child: ChildProcess; logs: () => string }): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (proc.child.exitCode !== null) throw new Error(`process exited:\n${proc.logs()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered:\n${proc.logs()}`);
}

/** Median of the samples around index i (up to three), so one noisy minute does not decide. */
function around(xs: readonly number[], i: number): number {
  const w = xs.slice(Math.max(0, i - 1), i + 2).sort((a, b) => a - b);
  return w[w.length >> 1]!;
}

function growth(xs: readonly number[]): number {
  const mid = Math.floor((xs.length - 1) / 2);
  const from = around(xs, mid);
  const to = around(xs, xs.length - 1);
  return Math.round(((to - from) / from) * 10_000) / 10_000;
}

async function main(): Promise<void> {
  const minutes = arg('minutes', 30);
  const sampleMs = arg('sample-seconds', 60) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-soak-'));
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, '');
  const ports = { collector: 18_000 + Math.floor(Math.random() * 2000), grpc: 0, agent: 0 };
  ports.grpc = ports.collector + 1;
  ports.agent = ports.collector + 2;
  const config = join(dir, 'driftwatch.yaml');
  const recordingSettings = (await import('yaml')).parse(readFileSync(packagePath('demo', 'recording', 'driftwatch.yaml'), 'utf8')) as { cluster: string; collector: object };
  writeFileSync(
    config,
    stringify({
      cluster: recordingSettings.cluster,
      log: { level: 'warn', format: 'json' },
      collector: {
        ...recordingSettings.collector,
        dataDir: join(dir, 'data'),
        baselinesDir: join(dir, 'baselines'),
        grpc: { listen: `127.0.0.1:${ports.grpc}` },
        http: { listen: `127.0.0.1:${ports.collector}` },
      },
      agent: {
        node: 'node-a',
        collector: { address: `127.0.0.1:${ports.grpc}` },
        sources: [{ kind: 'tetragon-json', address: events, follow: true }],
        http: { listen: `127.0.0.1:${ports.agent}` },
        kubernetes: { mode: 'off' },
      },
    }),
  );

  const recording = readFileSync(RECORDING, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
  const loops = Math.ceil(((minutes * 60 + 60) * EVENTS_PER_SECOND) / recording.length);
  // Event time ends just before now: nothing is refused as future, retention works on real ages.
  const firstShift = Date.now() - Date.parse('2026-11-30T11:00:00Z') - loops * LOOP_SPAN_MS;

  const collector = start(['collector', '--config', config]);
  await waitFor(`http://127.0.0.1:${ports.collector}/readyz`, collector);
  const agent = start(['agent', '--config', config]);
  await waitFor(`http://127.0.0.1:${ports.agent}/readyz`, agent);

  let written = 0;
  let loop = 0;
  let cursor = 0;
  const writer = setInterval(() => {
    const lines: string[] = [];
    for (let i = 0; i < EVENTS_PER_SECOND / 10; i++) {
      if (cursor === recording.length) {
        cursor = 0;
        loop++;
      }
      lines.push(JSON.stringify(shifted(recording[cursor++], firstShift + loop * LOOP_SPAN_MS, loop)));
    }
    appendFileSync(events, lines.join('\n') + '\n');
    written += lines.length;
  }, 100);

  const samples: Sample[] = [];
  const began = Date.now();
  try {
    for (let minute = 1; minute <= minutes; minute++) {
      await new Promise((r) => setTimeout(r, began + minute * sampleMs - Date.now()));
      for (const p of [collector, agent]) if (p.child.exitCode !== null) throw new Error(`a process died:\n${p.logs()}`);
      const c = await metrics(`http://127.0.0.1:${ports.collector}/metrics`);
      const a = await metrics(`http://127.0.0.1:${ports.agent}/metrics`);
      const s: Sample = {
        minute,
        collector: { rssMiB: rssMiB(collector.child), heapMiB: mib(c('nodejs_heap_size_used_bytes')) },
        agent: {
          rssMiB: rssMiB(agent.child),
          heapMiB: mib(a('nodejs_heap_size_used_bytes')),
          lineageProcesses: a('driftwatch_lineage_processes'),
          lineageEvictions: a('driftwatch_lineage_evictions_total'),
        },
        eventsWritten: written,
      };
      samples.push(s);
      process.stderr.write(`${JSON.stringify(s)}\n`);
    }
  } finally {
    clearInterval(writer);
    agent.child.kill('SIGTERM');
    collector.child.kill('SIGTERM');
    await Promise.all([agent, collector].map((p) => (p.child.exitCode === null ? new Promise((r) => p.child.once('exit', r)) : null)));
    rmSync(dir, { recursive: true, force: true });
  }

  // The agent's lineage cache grows until its bound, by design: the last half says something about
  // leaks only if the cache was already evicting at its start.
  const lineageFullFromMinute = samples.find((s) => s.agent.lineageEvictions > 0)?.minute ?? null;
  const midpointMinute = samples[Math.floor((samples.length - 1) / 2)]?.minute ?? 0;
  const conclusive = lineageFullFromMinute !== null && lineageFullFromMinute < midpointMinute;
  const verdict = Object.fromEntries(
    (['collector', 'agent'] as const).flatMap((p) => {
      const rss = growth(samples.map((s) => s[p].rssMiB));
      const heap = growth(samples.map((s) => s[p].heapMiB));
      return [[p, { rssGrowthLastHalf: rss, heapGrowthLastHalf: heap, flat: rss < FLAT_GROWTH }]];
    }),
  );
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    minutes,
    eventsPerSecond: EVENTS_PER_SECOND,
    eventsWritten: written,
    lineageFullFromMinute,
    conclusive,
    verdict,
    samples,
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  if (!conclusive || !Object.values(verdict).every((v) => v.flat)) process.exitCode = 1;
}

await main();
