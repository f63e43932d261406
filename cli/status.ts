import type { Command } from 'commander';
import { setTimeout as delay } from 'node:timers/promises';
import type { PipelineStatus } from '../collector/status.js';
import { parseDuration } from '../common/duration.js';
import { clientFrom, printTable, withClientOptions, type ClientOptions } from './client.js';
import { outputFormat, printStructured } from './output.js';

/** How often `--wait` asks again: often enough for a test harness, cheap for the collector. */
const WAIT_POLL_MS = 250;

/** `driftwatch status`: what the collector has not finished, per stage (GET /api/v1/status). */
export function register(program: Command): void {
  withClientOptions(
    program
      .command('status')
      .description('what the collector has received and not finished, per stage; idle when nothing (exit 1 with --wait when not idle in time)')
      .option('--wait', 'ask again until the pipeline is idle')
      .option('--timeout <duration>', 'with --wait: give up after this long', '10m'),
  ).action(async (opts: ClientOptions & { wait?: boolean; timeout: string }) => {
    const format = outputFormat(opts);
    const client = clientFrom(opts);
    const deadline = Date.now() + parseDuration(opts.timeout);
    let status = await client.get<PipelineStatus>('/status');
    while (opts.wait && !status.idle && Date.now() < deadline) {
      await delay(WAIT_POLL_MS);
      status = await client.get<PipelineStatus>('/status');
    }
    if (!printStructured(format, status)) printStatus(status);
    if (opts.wait && !status.idle) throw new Error(`not idle after ${opts.timeout}`);
  });
}

export function printStatus(s: PipelineStatus, out: NodeJS.WritableStream = process.stdout): void {
  const sinks = Object.entries(s.outbox.sinks).map(([name, n]) => `${name} ${n}`).join(', ');
  printTable(
    ['STAGE', 'PENDING', 'DETAIL'],
    [
      ['ingest', s.ingest.batches, `${s.ingest.observations} observations received, not stored`],
      ['alerting', s.alerting.undecidedEvents + s.alerting.grouping + s.alerting.heldBack + s.alerting.updates, `${s.alerting.undecidedEvents} events undecided, ${s.alerting.grouping} deviations in a grouping wait, ${s.alerting.heldBack} held back by the rate limit, ${s.alerting.updates} updates waiting`],
      ['outbox', s.outbox.pending, sinks ? `undelivered per sink: ${sinks}` : 'no sinks'],
    ],
    out,
    200,
  );
  out.write(s.idle ? 'idle: everything received is stored, decided and delivered\n' : 'busy\n');
}
