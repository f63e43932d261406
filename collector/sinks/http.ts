/**
 * The one HTTP client of all sinks (falcosidekick's outputs/client.go): keep-alive, a timeout over
 * the whole exchange, optional TLS/mTLS, and the status → verdict table. Sinks never call
 * fetch or http.request themselves. Also the sink that posts one request per notification.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { httpUrl, tlsSchema } from '../../common/config/fields.js';
import type { TlsConfig } from '../../common/config/schema.js';
import { parseDuration } from '../../common/duration.js';
import { urlCredentials } from '../../common/redact.js';
import { VERSION } from '../../common/version.js';
import { safeJson } from './json.js';
import type { AlertNotification, SendVerdict, Sink, SinkConfigOf, SinkType } from './types.js';

/** The keys every HTTP sink has (each adds its own: `url`, `urls`, `secret`, …). */
export const httpSinkFields = {
  /** Sent with every request (e.g. an Authorization header); never shown in reasons or logs. */
  headers: Type.Record(Type.String(), Type.String(), { default: {} }),
  /** CA, client certificate and key (PEM files) for https receivers; `serverName` to expect another name. */
  tls: Type.Optional(tlsSchema),
};
export type HttpSinkConfig = SinkConfigOf<typeof httpSinkFields>;

/** The keys of the sinks that POST each notification to one URL (PostEachSink). */
export const postEachSinkFields = {
  ...httpSinkFields,
  /** Where to POST. */
  url: Type.Optional(httpUrl),
};

/** Bytes of a response body kept for the reason of a failed attempt. */
const SNIPPET_BYTES = 512;
const MAX_RESPONSE_BYTES = 64 * 1024;

/** 2xx ok; 408, 429 and 5xx retry (the receiver may recover); other statuses fail. */
export function verdictForStatus(status: number): SendVerdict['result'] {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'fail';
}

/** Removes every secret (and control characters) from text shown in logs, metrics and /readyz. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  // Longest first, and each word of a secret alone too (`Bearer <token>` echoed as `<token>`).
  const all = [...new Set(secrets.flatMap((s) => [s, ...s.split(/\s+/).filter((w) => w.length >= 8)]))].sort((a, b) => b.length - a.length);
  for (const s of all) if (s.length >= 4) out = out.split(s).join('<redacted>');
  return out;
}

export interface HttpClientOptions {
  timeoutMs: number;
  /** Configured custom headers; sent with every request (the sink's own headers win). */
  headers?: Record<string, string>;
  tls?: TlsConfig;
  /** Strings that must never appear in a reason (beyond URL parts and header values). */
  secrets?: readonly string[];
}

export class HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly httpsAgent: https.Agent;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];

  constructor(private readonly opts: HttpClientOptions) {
    this.headers = { ...(opts.headers ?? {}) };
    this.secrets = [...(opts.secrets ?? []), ...Object.values(this.headers)];
    const tls = opts.tls;
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 4,
      ca: tls?.ca ? readFileSync(tls.ca) : undefined,
      cert: tls?.cert ? readFileSync(tls.cert) : undefined,
      key: tls?.key ? readFileSync(tls.key) : undefined,
      servername: tls?.serverName,
    });
  }

  /** POSTs `body` and classifies the outcome. Never throws. */
  async post(url: string, body: string | Buffer, headers: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<SendVerdict> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { result: 'fail', reason: 'invalid URL' };
    }
    const origin = `${target.protocol}//${target.host}`;
    const secrets = [...this.secrets, ...urlCredentials(target), ...Object.entries(headers).flatMap(([k, v]) => (k === 'content-type' ? [] : [v]))];
    const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    try {
      const { status, snippet } = await this.exchange(target, payload, headers, signal);
      const result = verdictForStatus(status);
      if (result === 'ok') return { result };
      const text = redact(snippet, secrets).trim();
      return { result, reason: `HTTP ${status} from ${origin}${text ? `: ${text}` : ''}` };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'DW_TIMEOUT') return { result: 'retry', reason: `timeout after ${this.opts.timeoutMs} ms (${origin})` };
      if (e.code === 'DW_ABORTED') return { result: 'retry', reason: `aborted (${origin})` };
      // Header values with control characters and the like are rejected before sending: permanent.
      if (e.code === 'ERR_INVALID_CHAR' || e.code === 'ERR_INVALID_HTTP_TOKEN') return { result: 'fail', reason: `invalid request header (${origin})` };
      return { result: 'retry', reason: `${e.code ?? 'request failed'} (${origin})` };
    }
  }

  private exchange(target: URL, payload: Buffer, headers: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<{ status: number; snippet: string }> {
    return new Promise((resolve, reject) => {
      const isHttps = target.protocol === 'https:';
      let settled = false;
      const finish = (err: Error | null, value?: { status: number; snippet: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value!);
      };
      const fail = (code: string): void => {
        const err = Object.assign(new Error(code), { code });
        req.destroy(err);
        finish(err);
      };
      const onAbort = (): void => fail('DW_ABORTED');
      const req = (isHttps ? https : http).request(target, {
        method: 'POST',
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        headers: {
          'user-agent': `driftwatch/${VERSION}`,
          ...this.headers,
          ...headers,
          'content-length': String(payload.length),
        },
      });
      const timer = setTimeout(() => fail('DW_TIMEOUT'), this.opts.timeoutMs);
      timer.unref?.();
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('error', (err) => finish(err));
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, snippet: Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8') }));
      });
      req.end(payload);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The client a sink's settings ask for: its timeout, custom headers and TLS. */
export function sinkHttpClient(config: HttpSinkConfig, secrets?: readonly string[]): HttpClient {
  return new HttpClient({ timeoutMs: parseDuration(config.timeout), headers: config.headers, tls: config.tls, secrets });
}

export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

/** One request of a sink: the exact body and the sink's own headers. */
export interface SinkRequest {
  body: string | Buffer;
  headers: Readonly<Record<string, string>>;
}

export function jsonRequest(value: unknown): SinkRequest {
  return { body: safeJson(value), headers: JSON_HEADERS };
}

/**
 * The sinks that POST each notification on its own to one URL (webhook, Slack, Falco): they differ
 * only in the request, a pure function of the notification. The first attempt that is not ok is
 * the batch's verdict.
 */
export class PostEachSink implements Sink {
  readonly maxBatch = 1;

  constructor(
    readonly type: SinkType,
    readonly name: string,
    private readonly url: string,
    private readonly http: HttpClient,
    private readonly request: (n: AlertNotification) => SinkRequest,
  ) {}

  async send(batch: readonly AlertNotification[], signal?: AbortSignal): Promise<SendVerdict> {
    for (const n of batch) {
      const { body, headers } = this.request(n);
      const verdict = await this.http.post(this.url, body, headers, signal);
      if (verdict.result !== 'ok') return verdict;
    }
    return { result: 'ok' };
  }

  async close(): Promise<void> {
    this.http.close();
  }
}
