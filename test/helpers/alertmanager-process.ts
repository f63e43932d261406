/** Runs the real Alertmanager (Debian `prometheus-alertmanager`) on a loopback port for tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const BINARY = 'prometheus-alertmanager';

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startAlertmanager(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, 'route:\n  receiver: blackhole\n  group_wait: 1h\nreceivers:\n  - name: blackhole\n');
  const proc = spawn(BINARY, [`--config.file=${config}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`alertmanager exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return { url, proc };
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`alertmanager not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function alerts(url: string): Promise<AmAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts`);
  return (await res.json()) as AmAlert[];
}

export async function poll(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

export const installed = spawnSync(BINARY, ['--version']).status === 0;

export interface RunningAlertmanager {
  url: string;
  proc: ChildProcess;
}

/** Starts one instance per name under `root`; stopped (and awaited) by the returned function. */
export async function startAlertmanagers(root: string, names: string[]): Promise<{ ams: RunningAlertmanager[]; stop: () => Promise<void> }> {
  const ams: RunningAlertmanager[] = [];
  const stop = async (): Promise<void> => {
    for (const am of ams) {
      if (am.proc.exitCode !== null) continue;
      const exited = new Promise((r) => am.proc.once('exit', r));
      am.proc.kill('SIGTERM');
      await exited;
    }
  };
  try {
    for (const name of names) {
      mkdirSync(join(root, name));
      ams.push(await startAlertmanager(join(root, name)));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ams, stop };
}
