import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isLoopbackAddress } from '../common/net.js';
import { redactUrl, redactUrlsIn } from '../common/redact.js';
import { terminalSafe, terminalSafeJson } from '../common/text.js';

/**
 * The CLI's HTTP client of the console API (`driftwatch baseline …`, `driftwatch deviations …`),
 * and the output helpers they share: tables or JSON, with every string from the cluster made safe
 * for a terminal first.
 */

export interface ClientOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
  insecure?: boolean;
  output?: string;
  json?: boolean;
}

/** --server, --token (or DRIFTWATCH_SERVER / DRIFTWATCH_TOKEN), -o (cli/output.ts). */
export function withClientOptions(cmd: Command, { output = true }: { output?: boolean } = {}): Command {
  cmd
    .option('--server <url>', 'collector URL (env DRIFTWATCH_SERVER; default http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (prefer env DRIFTWATCH_TOKEN or --token-file: flags are visible in ps)')
    .option('--token-file <file>', 'read the API token from this file')
    .option('--insecure', 'allow sending the token over plain http to a non-loopback server');
  // Commands that print a document of their own (export) have no output format.
  return output ? cmd.option('-o, --output <format>', 'table | wide | json | yaml | name', 'table').option('--json', 'the same as -o json') : cmd;
}

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async request<T>(method: 'GET' | 'POST', path: string, opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; accept?: string } = {}): Promise<T> {
    const url = new URL(`/api/v1${path}`, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: opts.accept ?? 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), redirect: 'error', signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new Error(`cannot reach ${redactUrl(this.server)}: ${redactUrlsIn((err as Error).message)}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let code = 'DW_ERR_INTERNAL';
      let message = `HTTP ${res.status}`;
      try {
        const e = JSON.parse(text) as { code?: string; message?: string };
        code = e.code ?? code;
        message = e.message ?? message;
      } catch {
        // not one of ours (a proxy?): keep the status
      }
      throw new ApiCallError(res.status, code, `${terminalSafe(message)} (${code})`);
    }
    return (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as T) : (text as T);
  }

  get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }
}

export function clientFrom(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const server = (opts.server ?? env.DRIFTWATCH_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`--server: not a URL: ${JSON.stringify(redactUrlsIn(server))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--server: use http:// or https:// (got ${url.protocol})`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = isLoopbackAddress(host.includes(':') ? `[${host}]:1` : `${host}:1`);
  if (url.protocol === 'http:' && !opts.insecure && !loopback)
    throw new Error(`refusing to send a token over plain http to ${url.host}: use https, or --insecure`);
  const token = opts.token ?? (opts.tokenFile ? readFileSync(opts.tokenFile, 'utf8').trim() : undefined) ?? env.DRIFTWATCH_TOKEN;
  if (!token) throw new Error('an API token is needed: set DRIFTWATCH_TOKEN, or pass --token-file / --token (create one with `driftwatch token create`)');
  return new ApiClient(server, token);
}

/** JSON output escapes every control character itself (JSON.stringify); bidi overrides are escaped too. */
export function printJson(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(terminalSafeJson(value, 2) + '\n');
}

/** A plain-text table: every cell passes through terminalSafe; long cells are cut at `maxWidth`. */
export function printTable(headers: string[], rows: unknown[][], out: NodeJS.WritableStream = process.stdout, maxWidth = 80): void {
  const cells = rows.map((r) => r.map((c) => {
    const s = terminalSafe(c);
    return s.length > maxWidth ? s.slice(0, maxWidth - 1) + '…' : s;
  }));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  out.write(line(headers) + '\n');
  for (const r of cells) out.write(line(r) + '\n');
}

/** `key  value` lines, values made terminal-safe. */
export function printFacts(pairs: [string, unknown][], out: NodeJS.WritableStream = process.stdout): void {
  const w = Math.max(...pairs.map(([k]) => k.length));
  for (const [k, v] of pairs) out.write(`${k.padEnd(w)}  ${terminalSafe(v ?? '—')}\n`);
}

export function time(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(typeof ms === 'string' ? Date.parse(ms) : ms);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
