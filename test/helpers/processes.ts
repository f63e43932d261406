import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { packagePath } from '../../common/paths.js';

/** The TypeScript loader tap runs tests with, so child processes run the same sources. */
const TS_LOADER = process.execArgv.find((a) => a.includes('@tapjs/typescript'));

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stderr so far (logs). */
  readonly stderr: () => string;
  /** Resolves when a line matching `re` has been logged. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (or the given signal) and wait for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `driftwatch ARGS` from the TypeScript sources in a separate process; `wrap` is a command
 * that runs it (e.g. `nsenter …` to run it in another mount namespace) and must exec it.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, wrap: readonly string[] = []): CliProcess {
  const execArgv = TS_LOADER ? [TS_LOADER, packagePath('cli', 'main.ts')] : [packagePath('dist', 'cli', 'main.js')];
  const [command, ...commandArgs] = [...wrap, process.execPath, ...execArgv, ...args];
  const child = spawn(command!, commandArgs, {
    cwd: packagePath(),
    env: { ...process.env, NODE_OPTIONS: '', DRIFTWATCH_LOG__FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    err += chunk;
    for (const w of [...waiters]) if (w.re.test(err)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    // Processes start from the TypeScript sources: 30–50 s to "ready" on a loaded two-core machine.
    waitForLog(re, timeoutMs = 120_000) {
      if (re.test(err)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${err.slice(-3000)}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before logging ${re}:\n${err.slice(-3000)}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** A currently free loopback port (for processes that must keep their port across restarts). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * Holds a loopback port (connections are dropped at once) until `release()`, so that nothing else
 * on a busy machine takes it before the test binds it on purpose.
 */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const srv = createServer((socket) => socket.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return { port, release: () => new Promise<void>((r) => srv.close(() => r())) };
}

/** Polls `check` until it returns true. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
