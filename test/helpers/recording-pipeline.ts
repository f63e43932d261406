/**
 * A recorded Tetragon stream through the real processes, as the end-to-end scenarios run it: a
 * collector (alerts to a file sink) and an agent reading the recording, on the shipped defaults plus
 * the collector settings a scenario passes (what a user would configure).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import type { AlertDocumentV1 } from '../../collector/sinks/document.js';
import { freePort, spawnCli, type CliProcess } from './processes.js';

export interface RecordingPipeline {
  dataDir: string;
  baselinesDir: string;
  collector: CliProcess;
  /** Starts the agent on the recording (after the caller looked at the collector's start). */
  startAgent(): CliProcess;
  /** Deviation and group notifications the file sink wrote so far. */
  deviationAlerts(): AlertDocumentV1[];
  /** The collector's stored deviations (read-only, while it runs). */
  deviationRows(): { item_key: string; summary: string }[];
  /** Stops both, cleanly: their exit codes (agent, collector). */
  stop(): Promise<[number | null, number | null]>;
}

/** `prepare` runs before the collector starts (declared baselines, address-set files in the data directory). */
export async function startRecordingPipeline(
  t: Test,
  recording: string,
  collectorSettings: Record<string, unknown> = {},
  prepare: (dirs: { dataDir: string; baselinesDir: string }) => void = () => {},
): Promise<RecordingPipeline> {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const baselinesDir = join(dir, 'baselines');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(baselinesDir, { recursive: true });
  prepare({ dataDir, baselinesDir });
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, recording);
  const alerts = join(dir, 'alerts.jsonl');
  const grpcPort = await freePort();
  const configFile = join(dir, 'driftwatch.yaml');
  writeFileSync(
    configFile,
    stringify({
      cluster: 'test',
      log: { level: 'info', format: 'json' },
      collector: {
        dataDir,
        baselinesDir,
        grpc: { listen: `127.0.0.1:${grpcPort}` },
        http: { listen: '127.0.0.1:0' },
        alerting: { sinks: [{ name: 'file', type: 'file', path: alerts }] },
        ...collectorSettings,
      },
      agent: {
        node: 'node-a',
        collector: { address: `127.0.0.1:${grpcPort}` },
        sources: [{ kind: 'tetragon-json', address: events }],
        http: { listen: '127.0.0.1:0' },
        kubernetes: { mode: 'off' },
      },
    }),
  );
  const collector = spawnCli(['collector', '--config', configFile]);
  let agent: CliProcess | undefined;
  t.teardown(async () => {
    await agent?.stop('SIGKILL');
    await collector.stop('SIGKILL');
  });
  await collector.waitForLog(/collector ready/, 120_000);
  return {
    dataDir,
    baselinesDir,
    collector,
    startAgent: () => (agent = spawnCli(['agent', '--config', configFile])),
    deviationAlerts: () => readDeviationAlerts(alerts),
    deviationRows: () => readDeviationRows(dataDir),
    stop: async () => [(await agent?.stop()) ?? null, await collector.stop()],
  };
}

function readDeviationAlerts(path: string): AlertDocumentV1[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AlertDocumentV1)
    .filter((a) => a.kind === 'deviation' || a.kind === 'group');
}

function readDeviationRows(dataDir: string): { item_key: string; summary: string }[] {
  if (!existsSync(join(dataDir, 'driftwatch.db'))) return [];
  const db = new Database(join(dataDir, 'driftwatch.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT item_key, summary FROM deviations ORDER BY id').all() as { item_key: string; summary: string }[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}
