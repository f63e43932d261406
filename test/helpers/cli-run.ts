/** The CLI run in-process against a harness (DRIFTWATCH_SERVER / DRIFTWATCH_TOKEN set for the call). */
import { main } from '../../cli/main.js';
import type { Harness } from './api-harness.js';

/** Runs the CLI in-process, capturing stdout and stderr. */
export async function run(h: Harness | null, args: string[], token?: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  const env = { DRIFTWATCH_SERVER: process.env.DRIFTWATCH_SERVER, DRIFTWATCH_TOKEN: process.env.DRIFTWATCH_TOKEN };
  if (h) {
    process.env.DRIFTWATCH_SERVER = h.base;
    process.env.DRIFTWATCH_TOKEN = token ?? h.tokens.admin;
  }
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'driftwatch', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

