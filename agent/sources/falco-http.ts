/**
 * Falco HTTP source (Falco >= 0.44 reaches other programs only this way): an HTTP(S) endpoint for
 * Falco's `http_output` with `json_output: true`. Falco POSTs one alert per request, keeps the
 * connection alive, ignores the response status and never retries, and its output worker waits
 * for each POST — so answer fast and never make Falco wait on downstream: when the sink is full
 * the alert is counted as dropped (a push source cannot be paused) and answered 503.
 *
 * | check | status |
 * |---|---|
 * | not POST | 405 |
 * | token configured and missing/wrong | 401 |
 * | Content-Type not application/json | 415 (counted malformed: not-json) |
 * | body over `maxBodyBytes` (default 1 MiB) | 413 (counted malformed: too-large) |
 * | not a JSON object | 400 (counted malformed) |
 * | accepted (also `source: internal`, counted as ignored) | 204 |
 *
 * Token: `Authorization: Bearer <token>`, or — because Falco's http_output cannot set headers —
 * the query parameter of the URL Falco posts to: `http_output.url: https://…:8766/?token=<token>`
 * (use TLS then, the URL travels in the request). Compared in constant time.
 * TLS: `tls.cert` + `tls.key`; with `tls.ca` client certificates signed by that CA are required
 * (Falco `http_output.mtls: true`).
 * Listening beyond loopback needs `token` or client certificates: whoever can post alerts can
 * forge observations and blind the detection with floods. `insecure: true` overrides that.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { hostPort, httpConnectionLimits, tlsSchema, withDefaults } from '../../common/config/fields.js';
import { ConnectionGuard, httpServerOptions, httpTimeouts, limitHttpServer } from '../../common/connections.js';
import { once } from '../../common/lifecycle.js';
import { isLoopbackAddress, parseHostPort } from '../../common/net.js';
import { normaliseFalco, type FalcoAlert } from '../normalise/falco.js';
import { defineSource, type SourceConfigOf } from './definition.js';
import { RuntimeSource, type SourceDeps } from './runtime.js';

export const FALCO_HTTP_DEFAULT_LISTEN = '127.0.0.1:8766';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const HTTP_STATUSES = ['204', '400', '401', '405', '413', '415', '503'] as const;
type HttpStatus = (typeof HTTP_STATUSES)[number];

/**
 * Falco posts over one kept-alive connection per output worker, from this node: 16 per address
 * and 64 in all are plenty. Idle connections stay 75 s, beyond Falco's pace between alerts, so it
 * rarely reconnects; a request must arrive whole within 30 s (a slow or stalled sender is cut).
 */
export const FALCO_HTTP_CONNECTIONS = httpConnectionLimits({ maxConnections: 64, maxConnectionsPerAddress: 16, idleTimeout: '75s', headersTimeout: '10s', requestTimeout: '30s' });

/** The keys of a `falco-http` source. */
export const falcoHttpSourceFields = {
  /** `host:port` to listen on (default 127.0.0.1:8766). */
  listen: Type.Optional(hostPort()),
  /** Taken as `listen` when that is not set. */
  address: Type.Optional(Type.String({ minLength: 1 })),
  /** Shared bearer token Falco sends (http_output has no auth: put it in the URL or a proxy). */
  token: Type.Optional(Type.String({ minLength: 16 })),
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16777216 })),
  /** `cert` + `key`: serve HTTPS; with `ca`: require client certificates. */
  tls: Type.Optional(tlsSchema),
  /** Listen on a non-loopback address without token or client certificates anyway. */
  insecure: Type.Optional(Type.Boolean()),
  /** Connection caps and timeouts of the receiver. */
  connections: Type.Optional(FALCO_HTTP_CONNECTIONS),
};
export type FalcoHttpSourceConfig = SourceConfigOf<typeof falcoHttpSourceFields>;

export class FalcoHttpSource extends RuntimeSource {
  private readonly listen: string;
  private readonly maxBody: number;
  private readonly tokenDigest: Buffer | null;
  private readonly server: Server;
  private readonly statusCounters: Record<HttpStatus, { inc(): void }>;
  private readonly authenticated: boolean;
  private readonly insecure: boolean;
  /** Connections open and refused. */
  readonly connectionGuard: ConnectionGuard;

  constructor(
    cfg: FalcoHttpSourceConfig,
    deps: SourceDeps,
  ) {
    super(cfg, deps);
    this.listen = cfg.listen ?? cfg.address ?? FALCO_HTTP_DEFAULT_LISTEN;
    this.maxBody = cfg.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.tokenDigest = cfg.token ? digest(cfg.token) : null;
    this.authenticated = this.tokenDigest !== null || Boolean(cfg.tls?.ca && cfg.tls.cert && cfg.tls.key);
    this.insecure = cfg.insecure ?? false;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    const tls = cfg.tls;
    const connections = withDefaults(FALCO_HTTP_CONNECTIONS, cfg.connections);
    const timeouts = httpTimeouts(`falco http source ${this.name}`, connections);
    const options = httpServerOptions(timeouts);
    this.server =
      tls?.cert && tls.key
        ? createHttpsServer(
            {
              ...options,
              cert: readFileSync(tls.cert),
              key: readFileSync(tls.key),
              ...(tls.ca ? { ca: readFileSync(tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
            },
            handler,
          )
        : createHttpServer(options, handler);
    this.connectionGuard = limitHttpServer(this.server, `falco-http:${this.name}`, connections, timeouts, deps.registry);
    const counter = this.runtime.metrics.httpRequests;
    this.statusCounters = Object.fromEntries(HTTP_STATUSES.map((s) => [s, counter.labels(this.name, s)])) as Record<HttpStatus, { inc(): void }>;
  }

  /** The bound port (after start). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }
  /** Requests answered, by status (tests and `observe` read it; Prometheus has the same). */
  readonly responses: Record<HttpStatus, number> = { '204': 0, '400': 0, '401': 0, '405': 0, '413': 0, '415': 0, '503': 0 };

  async start(): Promise<void> {
    if (!this.authenticated && !this.insecure && !isLoopbackAddress(this.listen)) {
      throw new Error(
        `falco http source ${this.name}: listen ${this.listen} is not loopback and anyone who reaches it could post alerts: set token, or tls.cert + tls.key + tls.ca (client certificates), or insecure: true`,
      );
    }
    const { host, port } = parseHostPort(this.listen);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const log = this.runtime.deps.logger;
    this.server.on('error', (err) => log.error('falco http source: server error', { source: this.name, error: err.message }));
    if (!this.authenticated && !isLoopbackAddress(this.listen)) {
      log.warn('falco http source accepts alerts from anyone who can reach it (insecure: true): set token (and tls)', { source: this.name, listen: this.listen });
    }
    this.runtime.connected = true;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST') return this.reply(req, res, '405', false);
    if (this.tokenDigest && !this.authorised(req)) return this.reply(req, res, '401', false);
    const type = req.headers['content-type'] ?? '';
    // From here on the poster is authenticated (or trusted): whatever it sent that does not become
    // an event is an alert lost, and counted as such.
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      this.runtime.malformed('not-json');
      return this.reply(req, res, '415', false);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.maxBody) {
      this.runtime.malformed('too-large');
      return this.reply(req, res, '413', true);
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > this.maxBody) {
        tooLarge = true;
        chunks.length = 0;
        this.runtime.malformed('too-large');
        this.reply(req, res, '413', true);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return;
      this.accept(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', () => res.destroy());
  }

  private accept(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    let alert: unknown;
    try {
      alert = JSON.parse(body.toString('utf8'));
    } catch {
      this.runtime.malformed();
      return this.reply(req, res, '400', false);
    }
    const before = this.runtime.counters.malformed;
    const obs = this.runtime.normalise(normaliseFalco, alert as FalcoAlert);
    if (this.runtime.counters.malformed !== before) return this.reply(req, res, '400', false);
    if (obs && !this.runtime.deps.sink.offer(obs)) {
      this.runtime.dropped();
      return this.reply(req, res, '503', false);
    }
    this.reply(req, res, '204', false);
  }

  private authorised(req: IncomingMessage): boolean {
    let presented: string | null = null;
    const auth = req.headers.authorization;
    if (auth && /^bearer /i.test(auth)) presented = auth.slice(7).trim();
    else {
      const q = req.url?.indexOf('?') ?? -1;
      if (q >= 0) presented = new URLSearchParams(req.url!.slice(q + 1)).get('token');
    }
    return presented !== null && timingSafeEqual(digest(presented), this.tokenDigest!);
  }

  private reply(req: IncomingMessage, res: ServerResponse, status: HttpStatus, closeConnection: boolean): void {
    if (res.headersSent) return;
    this.responses[status]++;
    this.statusCounters[status].inc();
    if (status !== '204') {
      const body = JSON.stringify({ status: Number(status), error: MESSAGES[status] }) + '\n';
      const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
      if (status === '401') headers['www-authenticate'] = 'Bearer';
      if (status === '503') headers['retry-after'] = '1';
      if (closeConnection) headers.connection = 'close';
      res.writeHead(Number(status), headers);
      res.end(body);
    } else {
      res.writeHead(204);
      res.end();
    }
    if (closeConnection) {
      // Oversized: stop buffering; let the client finish sending (so it reads our answer), then close.
      req.resume();
      req.on('end', () => req.socket.end());
    }
  }

  close = once(async () => {
    this.runtime.connected = false;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    });
    this.runtime.detach();
  });
}

const MESSAGES: Record<HttpStatus, string> = {
  '204': '',
  '400': 'body is not a Falco JSON alert',
  '401': 'missing or wrong token',
  '405': 'only POST',
  '413': 'body too large',
  '415': 'Content-Type must be application/json (set json_output: true in falco.yaml)',
  '503': 'agent queue full; alert dropped',
};

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export const falcoHttpSource = defineSource({ kind: 'falco-http', fields: falcoHttpSourceFields, create: (cfg, deps) => new FalcoHttpSource(cfg, deps) });
