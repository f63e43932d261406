import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CollectorEvent } from '../common/deviations.js';
import { createLogger } from '../common/logger.js';
import { packagePath } from '../common/paths.js';
import { sleep } from '../common/backoff.js';
import { terminalSafe } from '../common/text.js';
import { shiftRecording } from './demo-recording.js';
import { logOverrides, runUntilSignal } from './serve.js';

/** The collector settings the recording is made for (learning ends before its test phase). */
const DEMO_CONFIG = packagePath('demo', 'recording', 'driftwatch.yaml');
const DEMO_RECORDING = packagePath('demo', 'recording', 'cluster.jsonl');
const REPLAY_SPEED = 2000;

interface DemoOptions {
  httpPort: string;
  dataDir?: string;
  recording: string;
  recordedTimes?: boolean;
  exit?: boolean;
  logLevel?: string;
}

/**
 * The whole system on one machine, no root, no cluster, no network: a collector and an agent in
 * this process, the agent replaying a recording of a small cluster (Tetragon JSON). Windows are in
 * event time, so the replay runs as fast as the machine goes and ends exactly where living it
 * would: baselines learned, then the deviations of the recording's test phase.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('replay a recorded cluster through agent and collector, then keep the collector (API + UI) running')
    .option('--http-port <port>', 'port of the API / UI', '8080')
    .option('--data-dir <dir>', 'store directory (default: a fresh temporary directory)')
    .option('--recording <file>', 'Tetragon JSON lines to replay', DEMO_RECORDING)
    .option('--recorded-times', 'replay with the dates of the recording (default: moved so its last event is now)')
    .option('--exit', 'exit after the replay instead of serving')
    .option('--log-level <level>', 'error | warn | info | debug', 'warn')
    .action(async (opts: DemoOptions) => runDemo(opts));
}

async function runDemo(opts: DemoOptions): Promise<void> {
  const say = (line: string): void => void process.stdout.write(line + '\n');
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'driftwatch-demo-'));
  // What the demo creates, it removes when it ends (a --data-dir stays: it was asked for).
  const temporary = [mkdtempSync(join(tmpdir(), 'driftwatch-demo-recording-')), ...(opts.dataDir === undefined ? [dataDir] : [])];
  try {
    await replayAndServe(opts, dataDir, temporary[0]!, say);
  } finally {
    for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  }
}

async function replayAndServe(opts: DemoOptions, dataDir: string, scratch: string, say: (line: string) => void): Promise<void> {
  // Everything on loopback (where plaintext gRPC is allowed), no Kubernetes API, no declared baselines.
  const demoSettings = {
    'log.level': opts.logLevel,
    'collector.dataDir': dataDir,
    'collector.baselinesDir': join(dataDir, 'baselines'),
    'collector.http.listen': `127.0.0.1:${opts.httpPort}`,
    'collector.grpc.listen': '127.0.0.1:0',
    'agent.node': 'demo-node',
    'agent.http.listen': '127.0.0.1:0',
    'agent.kubernetes.mode': 'off',
    'agent.ship.flushInterval': '50ms',
  };
  const dataDirSource = opts.dataDir !== undefined ? 'flag --data-dir' : 'demo';
  const settingSources = {
    ...Object.fromEntries(Object.keys(demoSettings).map((key) => [key, 'demo'])),
    'log.level': 'flag --log-level',
    'collector.http.listen': 'flag --http-port',
    'collector.dataDir': dataDirSource,
    'collector.baselinesDir': dataDirSource,
  };
  // Loaded on use, like the agent and the collector: the schema is composed from every source and sink.
  const { loadConfig, loadConfigWithOverrides } = await import('./config.js');
  const loaded = loadConfigWithOverrides({ file: DEMO_CONFIG, env: {}, overrides: demoSettings, overrideSources: settingSources });
  const base = loaded.config;
  const logger = createLogger({ level: base.log.level, format: base.log.format, component: 'demo' });
  logOverrides(logger, loaded.overrides, loaded.deprecations);
  const { startCollector } = await import('../collector/main.js');
  const { startAgent } = await import('../agent/main.js');

  // The recording moved to the present (before anything starts: a bad file stops nothing half-way),
  // so charts, "ago" columns and agent status are current.
  let recording = opts.recording;
  const moved = opts.recordedTimes ? null : shiftRecording(opts.recording, join(scratch, 'recording.jsonl'), Date.now());
  if (moved) recording = join(scratch, 'recording.jsonl');

  say(`[1/4] starting the collector (store: ${dataDir})`);
  const collector = await startCollector(base, { logger: logger.child({ component: 'collector' }) });
  const seen = { learned: 0, deviations: 0 };
  const unsubscribe = collector.bus.subscribe((e: CollectorEvent) => {
    if (e.type === 'baseline.changed' && e.baseline.phase === 'active' && e.previousPhase === 'learning') {
      seen.learned++;
      const w = e.baseline.workload;
      say(`      learned ${w.namespace}/${w.kind}/${w.name}[${w.container}]: ${e.baseline.itemCount} items, now enforcing`);
    }
    if (e.type === 'deviation.created') {
      seen.deviations++;
      const d = e.deviation;
      say(`      deviation #${d.id} ${d.severity.padEnd(8)} ${d.workload.namespace}/${d.workload.name}: ${terminalSafe(d.summary)}`);
    }
  });

  const agentConfig = loadConfig({
    file: DEMO_CONFIG,
    env: {},
    overrides: {
      ...demoSettings,
      'agent.collector.address': `127.0.0.1:${collector.grpcPort}`,
      // Three hours of event time in about five seconds: fast, yet slow enough for the collector's
      // edge baselines to reach the agent during the replay, as they would in a live cluster.
      'agent.sources': [{ kind: 'tetragon-json', address: recording, speed: REPLAY_SPEED }],
    },
  });
  say(`[2/4] replaying ${opts.recording} through an agent (learning window ${String(base.collector.learning.window)} of event time)`);
  if (moved) say(`      event times moved ${Math.round(moved.shiftMs / 3_600_000)} h forward so the recording ends now (--recorded-times keeps them)`);
  const agent = await startAgent(agentConfig, { logger: logger.child({ component: 'agent' }) });

  // The file source stops at the end of the recording; wait until everything was acknowledged.
  let last = -1;
  for (;;) {
    await sleep(300);
    const seenNow = agent.sources.reduce((n, s) => n + s.counters.seen, 0);
    if (seenNow === last && agent.shipper.queued === 0 && agent.shipper.isConnected) break;
    last = seenNow;
  }
  const counters = agent.sources[0]!.counters;
  say(`[3/4] replay done: ${counters.seen} events, ${counters.observed} observations, ${counters.matchedBaseline} dropped at the edge, ${counters.malformed} malformed`);
  say(`[4/4] ${seen.learned} baselines learned, ${seen.deviations} deviations raised`);
  unsubscribe();

  // The agent stays connected while the demo serves: the console shows it live with its counters.
  const stop = async (): Promise<void> => {
    await agent.close();
    await collector.close();
  };
  if (opts.exit) return stop();
  // The console needs a token; a demo-only admin token is created in the demo's own store.
  const { token } = await collector.store.tokens.create({ name: 'demo-admin', role: 'admin', createdBy: 'driftwatch demo' });
  const url = `http://localhost:${collector.httpPort}`;
  say('');
  say(`driftwatch collector running: ${url}/ui/  (API ${url}/api/v1, metrics ${url}/metrics)`);
  say(`sign in with this demo admin token: ${token}`);
  say(`  curl -H 'Authorization: Bearer ${token}' ${url}/api/v1/deviations`);
  say(`more tokens: driftwatch token create --data-dir ${dataDir} --name you --role viewer`);
  say('Ctrl-C to stop.');
  await runUntilSignal({ close: stop }, logger);
}
