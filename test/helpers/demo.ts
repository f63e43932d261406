/** `driftwatch demo` in a child process, until it serves: its console URL and sign-in token. */
import { join } from 'node:path';
import type { Test } from 'tap';
import { spawnCli, type CliProcess } from './processes.js';

export interface RunningDemo {
  process: CliProcess;
  /** http://localhost:PORT (the console is under /ui/). */
  url: string;
  token: string;
  /** Everything it printed on stdout so far. */
  out(): string;
}

/** Starts the demo with its store in `dataDir` (a --data-dir, kept) and waits until it serves. */
export async function startDemo(t: Test, dataDir: string, timeoutMs = 120_000): Promise<RunningDemo> {
  const demo = spawnCli(['demo', '--http-port', '0', '--data-dir', join(dataDir, 'data')]);
  t.teardown(() => demo.stop('SIGKILL'));
  let out = '';
  demo.child.stdout!.setEncoding('utf8');
  demo.child.stdout!.on('data', (c: string) => (out += c));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not finish:\n${out}\n${demo.stderr()}`)), timeoutMs);
    demo.child.stdout!.on('data', () => {
      if (/Ctrl-C to stop/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    demo.child.once('exit', (code) => reject(new Error(`demo exited ${code}:\n${out}\n${demo.stderr()}`)));
  });
  return { process: demo, url: /running: (http:\/\/localhost:\d+)\/ui\//.exec(out)![1]!, token: /token: (dw_[A-Za-z0-9_-]+)/.exec(out)![1]!, out: () => out };
}
