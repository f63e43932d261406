import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { COLLECTOR_HTTP_CONNECTIONS } from './config/collector.js';
import { withDefaults, type HttpConnectionLimits } from './config/fields.js';
import { ConnectionGuard, httpServerOptions, httpTimeouts, limitHttpServer } from './connections.js';
import { once, type Component, type ReadinessProbe, type Readiness } from './lifecycle.js';
import { parseHostPort } from './net.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * /healthz (the process is alive), /readyz (every probe ready; 503 with the reasons otherwise)
 * and Prometheus /metrics. The collector mounts its API on the same server through `fallback`.
 */
export class OpsServer implements Component {
  readonly name = 'ops-http';
  private server: Server | undefined;
  private readonly probes: ReadinessProbe[] = [];
  private guard: ConnectionGuard | undefined;

  constructor(
    private readonly listen: string,
    readonly registry: Registry,
    private fallback?: RouteHandler,
    /** PEM files: serve HTTPS (bearer tokens must not cross a network in the clear). */
    private readonly tls?: { cert?: string; key?: string },
    /** Connection caps and timeouts (default: the collector's `http.connections` defaults). */
    private readonly connections: HttpConnectionLimits = withDefaults(COLLECTOR_HTTP_CONNECTIONS),
  ) {
    // Readiness as a metric too: a process that is up (scraped) but not ready is what an alert
    // must catch, and /readyz is not scraped.
    const server = this;
    new Gauge({
      name: 'driftwatch_ready',
      help: '1 when /readyz answers 200 (every critical component ready), else 0.',
      registers: [registry],
      collect() {
        this.set(server.isReady() ? 1 : 0);
      },
    });
  }

  /** `critical: false`: the probe's components are reported in /readyz but never make it fail. */
  addProbe(probe: ReadinessProbe, opts: { critical?: boolean } = {}): void {
    if (opts.critical === false) this.probes.push(() => [probe()].flat().map((r) => ({ ...r, critical: false })));
    else this.probes.push(probe);
  }

  setFallback(handler: RouteHandler): void {
    this.fallback = handler;
  }

  readiness(): Readiness[] {
    return this.probes.flatMap((p) => p());
  }

  private failing(all: readonly Readiness[]): Readiness[] {
    return all.filter((r) => !r.ready && r.critical !== false);
  }

  isReady(): boolean {
    return this.failing(this.readiness()).length === 0;
  }

  async start(): Promise<void> {
    const { host, port } = parseHostPort(this.listen);
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const timeouts = httpTimeouts(`http listener ${this.listen}`, this.connections);
    const options = httpServerOptions(timeouts);
    this.server = this.tls?.cert && this.tls.key ? createHttpsServer({ ...options, cert: readFileSync(this.tls.cert), key: readFileSync(this.tls.key), minVersion: 'TLSv1.2' }, handler) : createServer(options, handler);
    this.guard = limitHttpServer(this.server, this.name, this.connections, timeouts, this.registry);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  get httpServer(): Server | undefined {
    return this.server;
  }

  /** Connections open and refused (after start). */
  get connectionGuard(): ConnectionGuard | undefined {
    return this.guard;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
      if (req.method === 'GET' && path === '/readyz') {
        const all = this.readiness();
        const failing = this.failing(all);
        const degraded = all.some((r) => !r.ready && r.critical === false);
        return send(res, failing.length ? 503 : 200, 'application/json', JSON.stringify({ ready: failing.length === 0, degraded, components: all }) + '\n');
      }
      if (req.method === 'GET' && path === '/metrics') {
        return send(res, 200, this.registry.contentType, await this.registry.metrics());
      }
      if (this.fallback) return await this.fallback(req, res);
      send(res, 404, 'application/json', JSON.stringify({ code: 'DW_ERR_NOT_FOUND', message: 'not found' }) + '\n');
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ code: 'DW_ERR_INTERNAL', message: String((err as Error).message) }) + '\n');
      else res.destroy();
    }
  }

  close = once(async () => {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
