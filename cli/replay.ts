/**
 * `driftwatch replay FILE…`: Tetragon (`tetra getevents -o json`, the export file) and Falco JSON
 * recordings through the real pipeline into a store (cli/replay-pipeline.ts), in event time; it
 * ends when the completion signal says idle and prints what came out. The way to try a learning
 * configuration, or declared baselines, against a recording before enforcing them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { PipelineStatus } from '../collector/status.js';
import type { AlertDocumentV1 } from '../collector/sinks/document.js';
import { SEVERITIES, type Severity } from '../common/deviations.js';
import { parseDuration } from '../common/duration.js';
import { workloadKey } from '../common/model.js';
import { terminalSafe } from '../common/text.js';
import { printTable } from './client.js';
import { printStructured } from './output.js';
import { ReplayPipeline, type RecordingKind } from './replay-pipeline.js';
import { configFrom, loggerFor, type FlagSetting } from './serve.js';

const FORMATS: Record<string, RecordingKind | 'auto'> = { auto: 'auto', tetragon: 'tetragon-json', falco: 'falco-json' };
/** Enough of a file to hold its first event (the file source refuses longer lines anyway). */
const SNIFF_BYTES = 4 * 1024 * 1024;

interface ReplayOptions {
  config?: string;
  logLevel?: string;
  baselines?: string;
  dataDir?: string;
  format: string;
  deliver?: boolean;
  failOnDeviations?: boolean;
  timeout: string;
  output: string;
  json?: boolean;
}

export interface ReplaySummary {
  files: { path: string; format: RecordingKind; events: number; observations: number; ignored: number; malformed: number }[];
  /** Made by the sources; let through by the nodes' edge filters (what agents would have sent). */
  observations: { made: number; sent: number };
  baselines: Record<string, number>;
  deviations: { total: number; bySeverity: Record<Severity, number>; items: { id: number; workload: string; kind: string; item: string; severity: Severity; status: string; count: number; summary: string }[] };
  /** Decided by alerting, by reason; `wouldSend` lists them when no sink delivered them. */
  notifications: { decided: Record<string, number>; wouldSend?: Pick<AlertDocumentV1, 'key' | 'status' | 'reason' | 'severity' | 'summary'>[] };
  status: PipelineStatus;
}

export function register(program: Command): void {
  program
    .command('replay')
    .description('feed Tetragon / Falco JSON recordings through the real pipeline (in event time) and report baselines, deviations and notifications once everything is decided')
    .argument('<files...>', 'JSON-lines recordings: `tetra getevents -o json` / the Tetragon export file, or Falco json_output')
    .option('-c, --config <file>', 'YAML configuration (learning, network, alerting…); shipped defaults otherwise')
    .option('--baselines <dir>', 'declared baselines to test (default: collector.baselinesDir)')
    .option('--data-dir <dir>', 'keep the store here (default: a temporary directory, deleted at the end)')
    .option('--format <format>', 'auto | tetragon | falco (auto: from each file\'s first event)', 'auto')
    .option('--deliver', 'send notifications to the configured sinks (default: print what would be sent)')
    .option('--fail-on-deviations', 'exit 1 when the recording raised any deviation (CI against declared baselines)')
    .option('--timeout <duration>', 'give up (exit 1) when not idle after this long', '10m')
    .option('--log-level <level>', 'error | warn | info | debug (default warn)')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .option('--json', 'the same as -o json')
    .action(async (files: string[], opts: ReplayOptions) => {
      const format = opts.json ? 'json' : opts.output;
      if (format !== 'table' && format !== 'json' && format !== 'yaml') throw new Error(`-o/--output: use table, json or yaml (got ${JSON.stringify(format)})`);
      const forced = FORMATS[opts.format];
      if (!forced) throw new Error(`--format: use auto, tetragon or falco (got ${JSON.stringify(opts.format)})`);
      const kinds: RecordingKind[] = [];
      for (const f of files) kinds.push(forced === 'auto' ? await sniffFormat(f) : forced);
      const timeoutMs = parseDuration(opts.timeout);
      const temporary = opts.dataDir ? null : mkdtempSync(join(tmpdir(), 'driftwatch-replay-'));
      try {
        const summary = await replay(files, kinds, opts, opts.dataDir ?? temporary!, timeoutMs);
        if (!printStructured(format, summary)) printSummary(summary);
        if (!summary.status.idle) throw new Error(`not idle after ${opts.timeout}: ${JSON.stringify(summary.status)}`);
        if (opts.failOnDeviations && summary.deviations.total > 0) throw new Error(`${summary.deviations.total} deviation(s) raised (--fail-on-deviations)`);
      } finally {
        if (temporary) rmSync(temporary, { recursive: true, force: true });
      }
    });
}

async function replay(files: readonly string[], kinds: readonly RecordingKind[], opts: ReplayOptions, dataDir: string, timeoutMs: number): Promise<ReplaySummary> {
  const flags: Record<string, FlagSetting> = {
    'collector.dataDir': { flag: '--data-dir', value: dataDir },
    'collector.baselinesDir': { flag: '--baselines', value: opts.baselines },
  };
  // Without --deliver one stdout-type sink takes every notification into memory: listed, not sent.
  if (!opts.deliver) flags['collector.alerting.sinks'] = { flag: '--deliver (not given)', value: [{ name: 'replay', type: 'stdout' }] };
  // A report on stdout, not a service: progress logs only when asked for.
  const { config } = await configFrom({ ...opts, logLevel: opts.logLevel ?? 'warn' }, flags);
  const captured: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      captured.push(chunk.toString('utf8'));
      done();
    },
  });
  const pipeline = new ReplayPipeline(config, { logger: loggerFor(config, 'replay'), stdout: capture });
  try {
    await pipeline.start();
    for (const [i, f] of files.entries()) await pipeline.play(f, kinds[i]!);
    const status = await pipeline.settle(timeoutMs);
    const counts = pipeline.counts();
    const deviations = await pipeline.deviations();
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, deviations.filter((d) => d.severity === s).length])) as Record<Severity, number>;
    const docs = captured.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertDocumentV1);
    return {
      files: files.map((path, i) => {
        const c = counts.source[i]!;
        return { path, format: kinds[i]!, events: c.seen, observations: c.observed, ignored: c.ignored, malformed: c.malformed };
      }),
      observations: { made: counts.observations, sent: counts.sent },
      baselines: Object.fromEntries(await pipeline.store.reports.baselinesByPhase()),
      deviations: {
        total: deviations.length,
        bySeverity,
        items: deviations.map((d) => ({ id: d.id, workload: workloadKey(d.workload), kind: d.kind, item: d.itemKey, severity: d.severity, status: d.status, count: d.count, summary: d.summary })),
      },
      notifications: {
        decided: await pipeline.notificationsDecided(),
        ...(opts.deliver ? {} : { wouldSend: docs.map((d) => ({ key: d.key, status: d.status, reason: d.reason, severity: d.severity, summary: d.summary })) }),
      },
      status,
    };
  } finally {
    await pipeline.close();
  }
}

/** Tetragon events are keyed by their type (`process_exec`…); Falco alerts carry `rule` and `output_fields`. */
async function sniffFormat(path: string): Promise<RecordingKind> {
  const fh = await open(path, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
  const first = head.split('\n').find((l) => l.trim() !== '');
  let event: unknown;
  try {
    event = first === undefined ? undefined : JSON.parse(first);
  } catch {
    event = undefined;
  }
  if (event !== null && typeof event === 'object') {
    const keys = Object.keys(event);
    if (keys.includes('output_fields') || keys.includes('rule')) return 'falco-json';
    if (keys.some((k) => k.startsWith('process_'))) return 'tetragon-json';
  }
  throw new Error(`${path}: cannot tell whether this is a Tetragon or a Falco recording from its first line; use --format tetragon|falco`);
}

function printSummary(s: ReplaySummary, out: NodeJS.WritableStream = process.stdout): void {
  for (const f of s.files) out.write(`${f.path} (${f.format}): ${f.events} events, ${f.observations} observations, ${f.ignored} ignored, ${f.malformed} malformed\n`);
  out.write(`observations: ${s.observations.made} made, ${s.observations.sent} past the edge filters\n`);
  out.write(`baselines: ${Object.entries(s.baselines).map(([phase, n]) => `${n} ${phase}`).join(', ') || 'none'}\n`);
  out.write(`deviations: ${s.deviations.total} (${SEVERITIES.map((sev) => `${s.deviations.bySeverity[sev]} ${sev}`).join(', ')})\n`);
  if (s.deviations.items.length > 0) {
    printTable(
      ['ID', 'SEVERITY', 'WORKLOAD', 'KIND', 'ITEM', 'COUNT'],
      s.deviations.items.map((d) => [d.id, d.severity, d.workload, d.kind, d.item, d.count]),
      out,
    );
  }
  out.write(`notifications decided: ${Object.entries(s.notifications.decided).map(([reason, n]) => `${n} ${reason}`).join(', ') || 'none'}\n`);
  // Summaries quote what workloads did (attacker-controlled): made safe for the terminal.
  for (const n of s.notifications.wouldSend ?? []) out.write(`would send: ${n.status} (${n.reason}) [${n.severity}] ${terminalSafe(n.summary)}\n`);
}
