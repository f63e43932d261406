/**
 * `npm run bench`: every benchmark in one run, so ratios compare numbers taken on the same
 * machine minutes apart. Prints JSON; BENCHMARKS.md records the results with machine and date.
 */
import { cpus, totalmem } from 'node:os';
import { benchAlertLatency, benchAlerts } from './alerts.js';
import { benchApi } from './api.js';
import { benchE2e } from './e2e.js';
import { benchEngine } from './engine.js';
import { benchShip } from './ship.js';
import { benchSources } from './sources.js';

type Bench = [name: string, run: () => Promise<Record<string, unknown>>];

const benches: Bench[] = [
  ['sources', benchSources],
  ['engine', benchEngine],
  ['agent→collector', () => benchShip()],
  ['alerts', benchAlerts],
  ['alerts-latency', benchAlertLatency],
  ['api', benchApi],
  // Real processes, minutes long: only when asked for (`npm run bench -- e2e [50,500,1000]`).
  ['e2e', () => benchE2e(process.argv[3]?.split(',').map(Number))],
];

async function main(): Promise<void> {
  const only = process.argv[2];
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memory_gib: Math.round(totalmem() / 2 ** 30),
  };
  for (const [name, run] of benches) {
    if (only ? !name.startsWith(only) : name === 'e2e') continue;
    process.stderr.write(`running ${name} …\n`);
    results[name] = await run();
  }
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

await main();
