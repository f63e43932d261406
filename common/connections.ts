/**
 * Bounds on what connections can hold of a listener: a total cap (file descriptors stay bounded),
 * a cap per remote address (one client cannot take the listener from the others: kubelet probes
 * and agents still get in while one address floods it) and, for HTTP, timeouts that close a
 * connection which sends nothing, sends slowly or idles after a response.
 */
import type { Server as HttpServer, ServerOptions as HttpServerOptions } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConnectionLimits, HttpConnectionLimits } from './config/fields.js';
import { parseDuration } from './duration.js';

export type RefusalReason = 'listener-full' | 'address-full';

const CONNECTIONS = 'driftwatch_connections_total';
const OPEN = 'driftwatch_connections_open';

/** Admits or refuses each connection of one listener and counts both (metrics by listener name). */
export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  /** Connections refused since start, by reason, and accepted (tests; Prometheus has the same). */
  readonly refused: Record<RefusalReason, number> = { 'listener-full': 0, 'address-full': 0 };
  accepted = 0;
  private readonly lingerMs: number;
  private readonly metric: Counter<'listener' | 'result'> | undefined;

  constructor(
    readonly listener: string,
    private readonly limits: Pick<ConnectionLimits, 'maxConnections' | 'maxConnectionsPerAddress' | 'idleTimeout'>,
    registry?: Registry,
  ) {
    this.lingerMs = parseDuration(limits.idleTimeout);
    if (!registry) return;
    this.metric = sharedMetric(registry, CONNECTIONS, () => new Counter({ name: CONNECTIONS, help: 'Connections by listener and result: accepted, or closed on arrival because the listener (listener-full) or the remote address (address-full) had its maximum open.', labelNames: ['listener', 'result'] as const, registers: [registry] }));
    for (const result of ['accepted', 'listener-full', 'address-full'] as const) this.metric.inc({ listener, result }, 0);
    guardsOf(registry).add(this);
  }

  /** Open connections now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /**
   * Caps `server`: its `maxConnections`, and the per-address cap checked before `serve` sees the
   * socket — or, without `serve`, before any other 'connection' listener (an HTTP server's own).
   */
  attach(server: NetServer, serve?: (socket: Socket) => void): void {
    server.maxConnections = this.limits.maxConnections;
    server.on('drop', () => this.refuse('listener-full'));
    if (serve) server.on('connection', (socket: Socket) => this.admit(socket) && serve(socket));
    else server.prependListener('connection', (socket: Socket) => void this.admit(socket));
  }

  /** Closes every connection still open (the last step of a listener's close). */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** False (and the socket destroyed) when its address already has its maximum open. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress;
    if (address === undefined) {
      socket.destroy();
      return false;
    }
    const held = this.perAddress.get(address) ?? 0;
    if (held >= this.limits.maxConnectionsPerAddress) {
      this.refuse('address-full');
      socket.destroy();
      return false;
    }
    this.perAddress.set(address, held + 1);
    this.sockets.add(socket);
    this.accepted++;
    this.metric?.inc({ listener: this.listener, result: 'accepted' });
    // Closing is a handshake: a peer that never reads or answers our FIN would hold the connection
    // half-closed for ever. Once we have ended it, the peer has the idle timeout to finish.
    socket.once('finish', () => setTimeout(() => socket.destroy(), this.lingerMs).unref());
    socket.once('close', () => {
      this.sockets.delete(socket);
      const left = this.perAddress.get(address)! - 1;
      if (left === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
    return true;
  }

  private refuse(reason: RefusalReason): void {
    this.refused[reason]++;
    this.metric?.inc({ listener: this.listener, result: reason });
  }
}

/** The guards reporting to each registry: one gauge per registry reads them all at scrape time. */
const guardsByRegistry = new WeakMap<Registry, Set<ConnectionGuard>>();

function guardsOf(registry: Registry): Set<ConnectionGuard> {
  let guards = guardsByRegistry.get(registry);
  if (guards) return guards;
  const all = (guards = new Set());
  guardsByRegistry.set(registry, all);
  new Gauge({
    name: OPEN,
    help: 'Open connections, by listener.',
    labelNames: ['listener'] as const,
    registers: [registry],
    collect() {
      for (const g of all) this.set({ listener: g.listener }, g.openConnections);
    },
  });
  return all;
}

function sharedMetric<M>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/** An HTTP listener's limits in milliseconds, checked. */
export interface HttpTimeouts {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
}

export function httpTimeouts(listener: string, limits: HttpConnectionLimits): HttpTimeouts {
  const t = { headersTimeout: parseDuration(limits.headersTimeout), requestTimeout: parseDuration(limits.requestTimeout), keepAliveTimeout: parseDuration(limits.idleTimeout) };
  // Node.js checks a request's deadline only while its headers deadline is the earlier one: a
  // headersTimeout above requestTimeout silently disables the request timeout.
  if (t.headersTimeout > t.requestTimeout) throw new Error(`${listener}: connections.headersTimeout (${limits.headersTimeout}) must not exceed connections.requestTimeout (${limits.requestTimeout})`);
  if (t.headersTimeout === 0 || t.requestTimeout === 0) throw new Error(`${listener}: connections.headersTimeout and requestTimeout must be above 0`);
  return t;
}

/**
 * Options for `http(s).createServer`: the timeouts, checked often enough that they hold within a
 * second (Node's default check runs every 30 s), and the TLS handshake bounded like the headers.
 */
export function httpServerOptions(t: HttpTimeouts): HttpServerOptions & { handshakeTimeout: number } {
  return {
    headersTimeout: t.headersTimeout,
    requestTimeout: t.requestTimeout,
    keepAliveTimeout: t.keepAliveTimeout,
    connectionsCheckingInterval: Math.min(1000, t.headersTimeout),
    handshakeTimeout: t.headersTimeout,
  };
}

/**
 * Applies a listener's caps and timeouts to an HTTP(S) server created with `httpServerOptions`.
 * Node's headers timeout starts with a request's first byte, so a connection that never sends one
 * would stay open for ever: it gets the headers timeout as its idle timeout until its first request.
 */
export function limitHttpServer(server: HttpServer, listener: string, limits: HttpConnectionLimits, t: HttpTimeouts, registry?: Registry): ConnectionGuard {
  const guard = new ConnectionGuard(listener, limits, registry);
  guard.attach(server);
  server.keepAliveTimeout = t.keepAliveTimeout;
  // A TLS server hands the HTTP layer the TLS socket on 'secureConnection' (the handshake has its
  // own timeout): the idle timer goes on the socket the HTTP layer reads.
  const opened = 'setSecureContext' in server ? 'secureConnection' : 'connection';
  server.on(opened, (socket: Socket) => socket.setTimeout(t.headersTimeout));
  server.prependListener('request', (req) => req.socket.setTimeout(0));
  return guard;
}
