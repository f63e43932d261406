#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../common/config/errors.js';
import { redactUrlsIn } from '../common/redact.js';
import { terminalSafe } from '../common/text.js';
import { VERSION } from '../common/version.js';
import { register as registerAgent } from './agent.js';
import { register as registerAddressSets } from './address-sets.js';
import { register as registerAgents } from './agents.js';
import { register as registerCollector } from './collector.js';
import { register as registerDemo } from './demo.js';
import { register as registerAlerts } from './alerts.js';
import { register as registerObserve } from './observe.js';
import { register as registerBaseline } from './baseline.js';
import { register as registerDeviations } from './deviations.js';
import { register as registerToken } from './token.js';
import { register as registerReport } from './report.js';
import { register as registerReplay } from './replay.js';
import { register as registerStatus } from './status.js';

/**
 * The one CLI. Each command lives in its own file under cli/ and registers itself here.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
export function buildProgram(): Command {
  const program = new Command('driftwatch')
    .description('Runtime behaviour monitor for Kubernetes: learns what every workload normally does and reports when it does something else.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerAgent(program);
  registerCollector(program);
  registerDemo(program);
  registerAlerts(program);
  registerObserve(program);
  registerBaseline(program);
  registerDeviations(program);
  registerAgents(program);
  registerToken(program);
  registerReport(program);
  registerStatus(program);
  registerReplay(program);
  registerAddressSets(program);
  return program;
}

/** An error as the terminal shows it: no credentials of a URL in it, no control characters. */
function shown(message: string): string {
  return terminalSafe(redactUrlsIn(message), { keepNewlines: true });
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError) {
      process.stderr.write(`driftwatch: invalid configuration: ${shown(err.message)}\n`);
      return 2;
    }
    process.stderr.write(`driftwatch: ${shown((err as Error).message)}${hintFor(err)}\n`);
    return 1;
  }
}

/** What to do about the failures people meet first. */
function hintFor(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE')
    return `\n  another process already listens on ${e.address ?? ''}${e.port !== undefined ? `:${e.port}` : ''} (a running collector or demo?): stop it, or choose another port (driftwatch demo --http-port 8081; collector.http.listen / collector.grpc.listen in the configuration)`;
  return '';
}

/**
 * True when this file is the program node was started with — `node dist/cli/main.js`, or an npm
 * bin link (`node_modules/.bin/driftwatch`, a global install, `npx driftwatch`), which is a
 * symlink: both sides are compared after resolving links. False when imported (tests, demo).
 */
function startedAsProgram(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (startedAsProgram()) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`driftwatch: ${shown(String(err))}\n`);
      process.exitCode = 1;
    },
  );
}
