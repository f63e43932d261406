import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { CollectorConfig, DriftwatchConfig } from '../../common/config/schema.js';
import { once, type Component } from '../../common/lifecycle.js';
import type { NetworkScope } from '../../common/items/derive.js';
import type { Logger } from '../../common/logger.js';
import { packagePath } from '../../common/paths.js';
import type { Detection } from '../detection.js';
import { uiBaseUrl } from '../links.js';
import type { CollectorBus } from '../events.js';
import type { PipelineStatus } from '../status.js';
import { StorageUnavailableError, type Store } from '../store/contract.js';
import type { Principal, Role } from '../store/tokens.js';
import { authenticate, AuthFailureLimiter, bearerToken, requireRole } from './auth.js';
import { ApiError, API_ERRORS, isApiErrorCode } from './errors.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { registerBaselineRoutes } from './routes-baselines.js';
import { registerDeclaredRoutes } from './routes-declared.js';
import { registerReleaseRoutes } from './routes-releases.js';
import { registerDeviationRoutes } from './routes-deviations.js';
import { registerMetaRoutes } from './routes-meta.js';
import { registerProposalRoutes } from './routes-proposals.js';
import { registerReportRoutes } from './routes-reports.js';
import { registerUndoRoutes } from './routes-undo.js';
import { attachStream, type Stream } from './stream.js';
import { uiHashRedirect } from './ui-links.js';
import type { CandidateEvaluator } from './whatif.js';
import { createCandidateEvaluator, DeclaredReader, type DeclaredView } from './candidates.js';

/** Security headers on every API and UI response. The UI has no inline script or style. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export const API_PREFIX = '/api/v1';

/** What the API changes through: reviews, each run with its audit entry in one transaction. */
export type ReviewServices = Pick<Detection, 'change' | 'baselineReview' | 'deviationReview' | 'addressSets'>;

export interface ApiOptions {
  store: Store;
  bus: CollectorBus;
  reviews: ReviewServices;
  config: Readonly<DriftwatchConfig>;
  logger: Logger;
  /** The completion signal of the pipeline this API fronts (collector/status.ts). */
  status: () => Promise<PipelineStatus>;
  /** What-if of candidate baselines (default: the engine's item derivation and declared matching). */
  whatIf?: CandidateEvaluator;
  /** The declared baselines in force (default: read from collector.baselinesDir on each call). */
  declared?: DeclaredView;
  /** Wall clock (tests). */
  now?: () => number;
  /** How often live-stream connections re-check their token (default 30 s; tests). */
  streamReverifyMs?: number;
}

/** What every route handler gets: the services and who is calling. */
export interface ApiContext {
  readonly store: Store;
  readonly bus: CollectorBus;
  readonly reviews: ReviewServices;
  readonly logger: Logger;
  readonly status: () => Promise<PipelineStatus>;
  readonly settings: CollectorConfig['api'];
  readonly cluster: string;
  readonly whatIf: CandidateEvaluator;
  readonly declared: DeclaredView;
  readonly network: NetworkScope;
  /** The console's base URL for the `links` of responses (collector/links.ts). */
  readonly uiBase: string;
  readonly now: () => number;
}

export interface RouteInput {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  principal: Principal;
  reply: FastifyReply;
}

export interface RouteSpec extends RouteDoc {
  /** Minimum role; null = public (no token). */
  role: Role | null;
  handler: (input: RouteInput) => unknown;
}

/** The API as the collector mounts it: one raw handler for its HTTP server and the live stream. */
export interface Api extends Component {
  readonly app: FastifyInstance;
  /** Routes one request (give it to `OpsServer.setFallback`). */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Serves `/api/v1/stream` WebSocket upgrades on this server. Call once, after it exists. */
  attachStream(server: Server): void;
}

/**
 * Builds the console API (fastify, not listening on its own): routes under /api/v1, the OpenAPI
 * document, the UI under /ui/, bearer-token auth with roles and namespace scopes, coded errors.
 */
export function createApi(opts: ApiOptions): Api {
  const now = opts.now ?? Date.now;
  const settings = opts.config.collector.api;
  const ctx: ApiContext = {
    store: opts.store,
    bus: opts.bus,
    reviews: opts.reviews,
    logger: opts.logger,
    status: opts.status,
    settings,
    cluster: opts.config.cluster,
    whatIf: opts.whatIf ?? createCandidateEvaluator(opts.config.collector.network),
    declared: opts.declared ?? new DeclaredReader(opts.config.collector.baselinesDir),
    network: opts.config.collector.network,
    uiBase: uiBaseUrl(opts.config.collector.http),
    now,
  };
  const limiter = new AuthFailureLimiter(settings.authFailuresPerMinute, now);
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false, useDefaults: true } },
    // What the router refuses before any route runs (a malformed or over-long path segment) is
    // answered like every other error, not with fastify's own shape.
    frameworkErrors: (err, _req, reply) => {
      const e = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new ApiError('DW_ERR_VALIDATION', 'a path parameter is longer than 200 characters') : new ApiError('DW_ERR_VALIDATION', 'the URL is malformed');
      void (reply as FastifyReply).code(e.status).headers(SECURITY_HEADERS).header('cache-control', 'no-store').send(e.toJSON());
    },
  });
  // JSON only: a text/plain body would reach the schema as a string (and HTML forms can send it).
  app.removeContentTypeParser('text/plain');
  let closing = false;
  const docs: RouteSpec[] = [];

  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (closing) throw new ApiError('DW_ERR_UNAVAILABLE', 'the collector is shutting down');
  });

  app.setErrorHandler((err: FastifyError | ApiError | StorageUnavailableError, req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500) opts.logger.error('api request failed', { method: req.method, url: req.url.split('?')[0], error: (err as Error).message });
    void reply.code(e.status).header('cache-control', 'no-store').send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const deepLink = settings.ui ? uiHashRedirect(req.method, req.url) : null;
    if (deepLink) return void reply.redirect(deepLink);
    void reply.code(404).send(new ApiError('DW_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });

  // Who is calling, decided before the input is validated: a caller without the role learns
  // nothing about the route's schema (401 / 403 come before 400).
  const principals = new WeakMap<FastifyRequest, Principal>();
  const register = (spec: RouteSpec): void => {
    docs.push(spec);
    app.route({
      method: spec.method,
      url: API_PREFIX + spec.path.replace(/\{(\w+)\}/g, ':$1'),
      schema: { ...(spec.params && { params: spec.params }), ...(spec.query && { querystring: spec.query }), ...(spec.body && { body: spec.body }) },
      onRequest: async (req: FastifyRequest) => {
        if (spec.role === null) return;
        const principal = await authenticate(ctx.store.tokens, limiter, bearerToken(req.raw), req.ip);
        requireRole(principal, spec.role);
        principals.set(req, principal);
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        void reply.header('cache-control', 'no-store');
        return spec.handler({
          params: (req.params ?? {}) as Record<string, string>,
          query: (req.query ?? {}) as Record<string, unknown>,
          body: req.body,
          principal: principals.get(req) ?? PUBLIC,
          reply,
        });
      },
    });
  };

  registerMetaRoutes(register, ctx, () => buildOpenApi(docs, API_ERRORS));
  registerDeviationRoutes(register, ctx);
  registerDeclaredRoutes(register, ctx);
  registerBaselineRoutes(register, ctx);
  registerReleaseRoutes(register, ctx);
  registerReportRoutes(register, ctx);
  registerProposalRoutes(register, ctx);
  registerUndoRoutes(register, ctx);

  if (settings.ui) {
    void app.register(fastifyStatic, { root: packagePath('ui'), prefix: '/ui/', index: false, cacheControl: false, etag: true, serveDotFiles: false });
    // The wildcard does not match the bare prefix (`/ui/`, and `/ui` with ignoreTrailingSlash).
    app.get('/ui/', async (req, reply) => (req.url.split('?')[0] === '/ui' ? reply.redirect('/ui/') : reply.sendFile('index.html')));
    app.get('/', async (_req, reply) => reply.redirect('/ui/'));
  }

  let stream: Stream | undefined;
  let ready: Promise<void> | undefined;
  const start = async (): Promise<void> => {
    await (ready ??= Promise.resolve(app.ready()).then(() => undefined));
  };
  return {
    name: 'api',
    app,
    handle: (req, res) => {
      if (!ready) void start();
      void ready!.then(
        () => app.routing(req, res),
        () => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(new ApiError('DW_ERR_UNAVAILABLE', 'the API failed to start').toJSON()));
        },
      );
    },
    attachStream(server: Server) {
      if (stream) throw new Error('the live stream is already attached');
      stream = attachStream(server, { ctx, limiter, reverifyMs: opts.streamReverifyMs });
    },
    start,
    close: once(async () => {
      closing = true;
      await stream?.close();
      await app.close();
    }),
  };
}

const PUBLIC: Principal = { tokenId: 0, name: 'anonymous', role: 'viewer', namespaces: [] };

function toApiError(err: FastifyError | ApiError | StorageUnavailableError): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StorageUnavailableError) return new ApiError('DW_ERR_UNAVAILABLE', `the collector cannot store changes now: ${err.message}; retry later`);
  const f = err as FastifyError;
  if (f.validation) return new ApiError('DW_ERR_VALIDATION', `${f.validationContext ?? 'request'}${f.message.replace(/^(body|querystring|params)/, '')}`);
  switch (f.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('DW_ERR_PAYLOAD_TOO_LARGE', 'the request body is larger than 1 MiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('DW_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('DW_ERR_VALIDATION', 'the body is not valid JSON');
  }
  if (typeof f.code === 'string' && isApiErrorCode(f.code)) return new ApiError(f.code, f.message);
  if (f.statusCode === 400 || (f as { status?: number }).status === 400 || (err as SyntaxError) instanceof SyntaxError)
    return new ApiError('DW_ERR_VALIDATION', 'the request is malformed');
  if (f.statusCode === 404) return new ApiError('DW_ERR_NOT_FOUND', 'not found');
  if (f.statusCode === 415) return new ApiError('DW_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  if (f.statusCode === 413) return new ApiError('DW_ERR_PAYLOAD_TOO_LARGE', 'the request body is too large');
  return new ApiError('DW_ERR_INTERNAL', 'internal error');
}
