/**
 * The processes the end-to-end benchmark runs and how it reads them from outside, as an operator
 * would: CPU time and memory from /proc/<pid>, counters from each process's /metrics.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { packagePath } from '../../common/paths.js';

const CLOCK_TICKS_PER_SECOND = 100;

export interface Child {
  child: ChildProcess;
  readonly log: () => string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function track(child: ChildProcess, what: string): Child {
  let log = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log = (log + chunk).slice(-200_000);
    for (const w of [...waiters]) {
      if (w.re.test(log)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stdout?.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    log: () => log,
    waitForLog(re, timeoutMs = 60_000) {
      if (re.test(log)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: no ${re} within ${timeoutMs} ms:\n${log.slice(-3000)}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * The NODE_OPTIONS a manifest gives the container (`deploy/daemonset/base/<component>`): the
 * benchmark runs each process with the V8 settings it has when deployed.
 */
export function deployedNodeOptions(manifest: string): string {
  for (const doc of parseAllDocuments(readFileSync(packagePath('deploy', 'daemonset', 'base', ...manifest.split('/')), 'utf8'))) {
    const containers = (doc.toJS() as { spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } })?.spec?.template?.spec?.containers ?? [];
    for (const c of containers) for (const e of c.env ?? []) if (e.name === 'NODE_OPTIONS') return e.value ?? '';
  }
  return '';
}

/** `driftwatch <args>` from the build (dist/), as users run it (with the deployed NODE_OPTIONS). */
export function spawnDriftwatch(args: string[], nodeArgs: string[] = [], nodeOptions = ''): Child {
  const child = spawn(process.execPath, [...nodeArgs, packagePath('dist', 'cli', 'main.js'), ...args], {
    cwd: packagePath(),
    env: { ...process.env, NODE_OPTIONS: nodeOptions, DRIFTWATCH_LOG__FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child, `driftwatch ${args[0]}`);
}

export function forkScript(script: string, args: string[]): Child {
  const child = fork(packagePath('dist', 'bench', ...script.split('/')), args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } });
  return track(child, script);
}

/** User + system CPU time of a process so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) — utime and stime are 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** Resident memory now and at its peak, in MiB. */
export function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(kib('VmRSS') / 1024), peakMiB: Math.round(kib('VmHWM') / 1024) };
}

/**
 * GET /metrics. Retried: a keep-alive connection the server closes as idle just as a request
 * goes out fails that request (ECONNRESET), which says nothing about the process.
 */
async function scrape(port: number): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/** Prometheus text → sum of the samples of `name` whose labels pass `filter`. */
export async function metric(port: number, name: string, filter: (labels: string) => boolean = () => true): Promise<number> {
  const text = await scrape(port);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name && filter(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The port a driftwatch process logged for a listener (`"port":N` / `"http":N` in its JSON log). */
export function loggedPort(log: string, re: RegExp): number {
  const m = re.exec(log);
  if (!m) throw new Error(`no port in log matching ${re}`);
  return Number(m[1]);
}
