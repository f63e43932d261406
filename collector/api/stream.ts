import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CollectorEvent, Deviation } from '../../common/deviations.js';
import { once, type Component } from '../../common/lifecycle.js';
import type { Principal } from '../store/tokens.js';
import { authenticate, inScope, type AuthFailureLimiter } from './auth.js';
import type { ApiError } from './errors.js';
import type { ApiContext } from './server.js';

export const STREAM_PATH = '/api/v1/stream';
/** The subprotocol the server speaks; a client may offer its token as a second one: `bearer.dw_…`. */
export const STREAM_PROTOCOL = 'driftwatch.v1';
const TOKEN_PROTOCOL_PREFIX = 'bearer.';
/** Without a token in the handshake, the first message must authenticate within this time. */
const AUTH_TIMEOUT_MS = 3_000;
/**
 * Connections still waiting for their auth message, at most: they cost a socket each and anyone
 * can open them, so they have their own small limit and never take a place of `maxClients`.
 */
export const MAX_PENDING_CLIENTS = 20;
const CLOSE_GRACE_MS = 1_000;

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/**
 * Answers an upgrade request with a plain HTTP error and lets go of the socket once the answer is
 * flushed (a client that never closes its side must not keep the descriptor).
 */
function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ code, message })}`);
}

export interface Stream extends Component {
  /** Authenticated connections (those waiting for their auth message are not counted). */
  readonly clients: number;
  /** Events not delivered to a client whose buffer was full (it is told to resync). */
  readonly dropped: number;
}

/** A deviation as the stream sends it: the list row, without samples or commands. */
function lean(d: Deviation): Record<string, unknown> {
  const { samples: _s, commands: _c, item: _i, ...rest } = d;
  return rest;
}

/**
 * Who may receive an event: those whose scope holds its namespace (deviations, baselines, a
 * workload's health), only unscoped tokens for cluster-wide health (it names nodes and sources a
 * namespace-scoped token has no business with), everyone for agent connections (as
 * `GET /api/v1/agents`, which every viewer reads). Anything not listed here is unscoped only:
 * a new event type is never broadcast by mistake.
 */
export function mayReceive(p: Principal, e: CollectorEvent): boolean {
  switch (e.type) {
    case 'deviation.created':
    case 'deviation.updated':
    case 'deviation.status':
      return inScope(p, e.deviation.workload.namespace);
    case 'baseline.changed':
      return inScope(p, e.baseline.workload.namespace);
    case 'agent.connected':
    case 'agent.disconnected':
      return true;
    case 'health':
      return e.health.namespace === undefined ? p.namespaces === null : inScope(p, e.health.namespace);
    default:
      return p.namespaces === null;
  }
}

function wireEvent(e: CollectorEvent): Record<string, unknown> {
  switch (e.type) {
    case 'deviation.created':
    case 'deviation.updated':
      return { type: e.type, deviation: lean(e.deviation) };
    case 'deviation.status':
      return { type: e.type, deviation: lean(e.deviation), previous: e.previous, actor: e.actor };
    case 'baseline.changed':
      return { type: e.type, baseline: e.baseline, previousPhase: e.previousPhase };
    case 'agent.connected':
    case 'agent.disconnected':
      return { type: e.type, agent: { instanceId: e.agent.instanceId, node: e.agent.node, connected: e.agent.connected, lastSeenAt: e.agent.lastSeenAt } };
    case 'health':
      return { type: e.type, health: e.health };
  }
}

interface Client {
  ws: WebSocket;
  /** Kept to re-verify: a revoked or expired token ends the connection within REVERIFY_MS. */
  token: string | undefined;
  principal: Principal | undefined;
  lagging: boolean;
}

const REVERIFY_MS = 30_000;

/**
 * The live stream: WebSocket upgrades on `/api/v1/stream` of the collector's HTTP server. A client
 * authenticates with its token as a subprotocol (`Sec-WebSocket-Protocol: driftwatch.v1,
 * bearer.dw_…`) or in its first message (`{"type":"auth","token":"dw_…"}`), never in the URL (URLs
 * end up in logs). It then receives the bus events of its namespaces as JSON text frames. A client
 * that cannot keep up is not buffered without bound: events are skipped and it gets one
 * `{"type":"resync"}` telling it to reload.
 */
export function attachStream(server: Server, deps: { ctx: ApiContext; limiter: AuthFailureLimiter; reverifyMs?: number }): Stream {
  const { ctx, limiter } = deps;
  const { maxClients, maxBufferedBytes } = ctx.settings.stream;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 16 * 1024,
    handleProtocols: (protocols) => (protocols.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false),
  });
  /** Every open connection; `awaitingAuth` is the subset without a principal yet. */
  const clients = new Set<Client>();
  const awaitingAuth = new Set<Client>();
  const authenticated = (): number => clients.size - awaitingAuth.size;
  let dropped = 0;

  const send = (c: Client, payload: string): void => {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > maxBufferedBytes) {
      dropped += 1;
      if (!c.lagging) {
        c.lagging = true;
        c.ws.send('{"type":"resync"}');
      }
      return;
    }
    c.lagging = false;
    c.ws.send(payload);
  };

  const unsubscribe = ctx.bus.subscribe((event) => {
    if (clients.size === 0) return;
    let payload: string | undefined;
    for (const c of clients) {
      if (!c.principal || !mayReceive(c.principal, event)) continue;
      send(c, (payload ??= JSON.stringify(wireEvent(event))));
    }
    // Other replicas' changes too: a console connected here sees the whole collector set.
  }, { replicas: true });

  const address = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    // This is the server's only upgrade handler: an upgrade nobody serves would stay open for ever
    // (a descriptor per request from anyone, and the server's close() waiting on it).
    if (path !== STREAM_PATH) return refuseUpgrade(socket, 404, 'DW_ERR_NOT_FOUND', `no WebSocket endpoint at ${path}`);
    const reject = (status: number, code: string, message: string): void => refuseUpgrade(socket, status, code, message);
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    const tokenProtocol = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
    let principal: Principal | undefined;
    const protocolToken = tokenProtocol?.slice(TOKEN_PROTOCOL_PREFIX.length);
    if (protocolToken !== undefined) {
      if (authenticated() >= maxClients) return reject(503, 'DW_ERR_UNAVAILABLE', 'too many live-stream clients');
      try {
        principal = await authenticate(ctx.store.tokens, limiter, protocolToken, address(req));
      } catch (err) {
        const e = err as ApiError;
        return reject(e.status ?? 401, e.code ?? 'DW_ERR_UNAUTHENTICATED', e.message);
      }
    } else if (awaitingAuth.size >= MAX_PENDING_CLIENTS) return reject(503, 'DW_ERR_UNAVAILABLE', 'too many unauthenticated live-stream connections');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { ws, token: protocolToken, principal, lagging: false };
      clients.add(client);
      if (!principal) awaitingAuth.add(client);
      ws.on('close', () => {
        clients.delete(client);
        awaitingAuth.delete(client);
      });
      ws.on('error', () => ws.terminate());
      const hello = (): void => {
        ws.send(JSON.stringify({ type: 'hello', name: client.principal!.name, role: client.principal!.role, namespaces: client.principal!.namespaces }));
      };
      if (principal) return hello();
      const timer = setTimeout(() => {
        ws.close(4401, 'authenticate first');
        // A peer that does not answer the close frame would hold its place for ws's 30 s close timeout.
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      }, AUTH_TIMEOUT_MS);
      timer.unref();
      ws.once('message', async (data) => {
        clearTimeout(timer);
        let token: unknown;
        try {
          token = (JSON.parse(String(data)) as { type?: unknown; token?: unknown }).token;
        } catch {
          token = undefined;
        }
        try {
          const verified = await authenticate(ctx.store.tokens, limiter, typeof token === 'string' ? token : undefined, address(req));
          // Still counted as awaiting: the place among maxClients is taken only now.
          if (authenticated() >= maxClients) {
            ws.send(JSON.stringify({ type: 'error', code: 'DW_ERR_UNAVAILABLE', message: 'too many live-stream clients' }));
            ws.close(1013, 'DW_ERR_UNAVAILABLE');
            return;
          }
          client.principal = verified;
          client.token = token as string;
          awaitingAuth.delete(client);
          hello();
        } catch (err) {
          const e = err as ApiError;
          ws.send(JSON.stringify({ type: 'error', code: e.code, message: e.message }));
          ws.close(e.code === 'DW_ERR_RATE_LIMITED' ? 4429 : 4401, e.code);
        }
      });
    });
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    upgrade(req, socket, head).catch(() => socket.destroy());
  };
  server.on('upgrade', onUpgrade);

  const reverifyAll = async (): Promise<void> => {
    for (const c of clients) {
      if (c.principal && c.token !== undefined && !(await ctx.store.tokens.verify(c.token))) {
        c.principal = undefined;
        c.ws.close(4401, 'DW_ERR_UNAUTHENTICATED');
      }
    }
  };
  const reverify = setInterval(() => {
    reverifyAll().catch((err: unknown) => ctx.logger.warn('live stream: re-checking tokens failed', { error: String(err) }));
  }, deps.reverifyMs ?? REVERIFY_MS);
  reverify.unref();

  return {
    name: 'api-stream',
    get clients() {
      return authenticated();
    },
    get dropped() {
      return dropped;
    },
    start: async () => {},
    close: once(async () => {
      clearInterval(reverify);
      server.off('upgrade', onUpgrade);
      unsubscribe();
      for (const c of clients) c.ws.close(1001, 'collector shutting down');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          for (const c of clients) c.ws.terminate();
          resolve();
        }, 1000);
        t.unref();
        if (clients.size === 0) {
          clearTimeout(t);
          resolve();
        } else
          for (const c of clients)
            c.ws.once('close', () => {
              if (clients.size === 0) {
                clearTimeout(t);
                resolve();
              }
            });
      });
      wss.close();
    }),
  };
}

