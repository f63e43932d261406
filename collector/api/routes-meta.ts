import { parseDuration } from '../../common/duration.js';
import { isRole, ROLES, type Principal, type Role, type TokenInfo } from '../store/tokens.js';
import { actorOf, requireScope, visibleOr404 } from './auth.js';
import { ApiError } from './errors.js';
import { cursorQuery, decodeCursor, epochMsQuery, encodeCursor, idParams, limitQuery, pageLimit, splitCsv } from './params.js';
import type { ApiContext, RouteSpec } from './server.js';

const NAMESPACE_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/**
 * Token administration by a namespace-scoped admin stays inside its scope: it sees and revokes
 * only tokens limited to (a subset of) its namespaces. An unscoped token reaches every namespace,
 * so it is never within a scoped admin's reach.
 */
function tokenWithinScope(p: Principal, t: Pick<TokenInfo, 'namespaces'>): boolean {
  if (p.namespaces === null) return true;
  const own = p.namespaces;
  return t.namespaces !== null && t.namespaces.length > 0 && t.namespaces.every((ns) => own.includes(ns));
}

/** Who am I, the OpenAPI document, agents, the overview, the audit log and token administration. */
export function registerMetaRoutes(register: (r: RouteSpec) => void, ctx: ApiContext, openapi: () => unknown): void {
  let doc: unknown;
  register({
    method: 'GET',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    tag: 'meta',
    role: null,
    returns: 'The OpenAPI document.',
    handler: () => (doc ??= openapi()),
  });

  register({
    method: 'GET',
    path: '/me',
    summary: 'The calling token: name, role and namespace scope',
    tag: 'meta',
    role: 'viewer',
    returns: "{ name, role, namespaces, cluster, minReasonLength, undoWindowMs } (minReasonLength: characters a decision's reason needs; undoWindowMs: how long a decision can be undone)",
    handler: ({ principal }) => ({
      name: principal.name,
      role: principal.role,
      namespaces: principal.namespaces,
      cluster: ctx.cluster,
      minReasonLength: ctx.settings.minReasonLength,
      undoWindowMs: parseDuration(ctx.settings.undoWindow),
    }),
  });

  register({
    method: 'GET',
    path: '/agents',
    summary: 'Agent instances (by node, then instance id) and their health, keyset-paged',
    tag: 'agents',
    role: 'viewer',
    query: { type: 'object', additionalProperties: false, properties: { limit: limitQuery, cursor: cursorQuery } },
    returns: '{ items: Agent[], next: cursor | null } with health ok | stale | disconnected; follow `next` until null.',
    handler: async ({ query }) => {
      const c = decodeCursor(query.cursor);
      if (c && (typeof c.n !== 'string' || typeof c.i !== 'string')) throw new ApiError('DW_ERR_BAD_CURSOR', 'the cursor is not one of the agents list');
      const after = c ? { node: c.n as string, instanceId: c.i as string } : undefined;
      const page = await ctx.store.reports.listAgents(ctx.now(), after, pageLimit(query.limit, ctx.settings.maxPageSize));
      return { items: page.items, next: page.next ? encodeCursor({ n: page.next.node, i: page.next.instanceId }) : null };
    },
  });

  register({
    method: 'GET',
    path: '/status',
    summary: 'What the pipeline has not finished, per stage; idle when nothing (unscoped tokens only)',
    tag: 'meta',
    role: 'viewer',
    returns:
      '{ idle, ingest: { batches, observations }, alerting: { undecidedEvents, grouping, heldBack, updates }, outbox: { pending, sinks: { <sink>: n } } }: batches received and not stored, deviation events not decided, deviations waiting for grouping, notifications held back by the rate limit, updates of grown alerts waiting for their interval, notifications not delivered per sink.',
    handler: ({ principal }) => {
      // The queues are shared by every namespace and a batch mixes namespaces: a count or an
      // "idle" narrowed to some namespaces would be wrong, so only a cluster-wide token asks.
      if (principal.namespaces !== null) throw new ApiError('DW_ERR_FORBIDDEN_SCOPE', 'the pipeline status covers every namespace: it needs a token without a namespace scope');
      return ctx.status();
    },
  });

  register({
    method: 'GET',
    path: '/overview',
    summary: 'Deviations by severity over time and by namespace, baselines by state, agents by health',
    tag: 'overview',
    role: 'viewer',
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        from: epochMsQuery('Start, ms since the epoch (default: 24 h before `to`).'),
        to: epochMsQuery('End, ms since the epoch (default: now).'),
        buckets: { type: 'integer', minimum: 1, maximum: 200, default: 24 },
        namespace: { type: 'string', maxLength: 2000, pattern: '^[a-z0-9-]+(,[a-z0-9-]+)*$', description: 'Narrow the time series to these namespaces.' },
      },
    },
    returns: 'The overview counts (see Overview in collector/store/queries.ts).',
    handler: async ({ query, principal }) => {
      const to = typeof query.to === 'number' ? query.to : ctx.now();
      const from = typeof query.from === 'number' ? query.from : to - 86_400_000;
      if (from >= to) throw new ApiError('DW_ERR_VALIDATION', 'from must be before to');
      const namespaces = splitCsv<string>(query.namespace);
      for (const ns of namespaces ?? []) requireScope(principal, ns);
      return ctx.store.reports.overview({ fromMs: from, toMs: to, buckets: Number(query.buckets), scope: principal.namespaces, nowMs: ctx.now(), namespaces });
    },
  });

  register({
    method: 'GET',
    path: '/audit',
    summary: 'The audit log, newest first (scoped tokens see their namespaces only)',
    tag: 'audit',
    role: 'viewer',
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        actor: { type: 'string', maxLength: 200 },
        action: { type: 'string', maxLength: 100 },
        targetType: { type: 'string', maxLength: 50 },
        targetId: { type: 'string', maxLength: 100 },
        limit: limitQuery,
        cursor: cursorQuery,
      },
    },
    returns: '{ items: AuditEntry[], next: cursor | null }',
    handler: async ({ query, principal }) => {
      const c = decodeCursor(query.cursor);
      if (c && typeof c.id !== 'number') throw new ApiError('DW_ERR_BAD_CURSOR', 'the cursor is not an audit cursor');
      const limit = pageLimit(query.limit, ctx.settings.maxPageSize);
      const items = await ctx.store.audit.list({
        actor: query.actor as string | undefined,
        action: query.action as string | undefined,
        targetType: query.targetType as string | undefined,
        targetId: query.targetId as string | undefined,
        namespaces: principal.namespaces,
        beforeId: c ? (c.id as number) : undefined,
        limit: limit + 1,
      });
      const more = items.length > limit;
      if (more) items.pop();
      return { items, next: more ? encodeCursor({ id: items[items.length - 1]!.id }) : null };
    },
  });

  register({
    method: 'GET',
    path: '/tokens',
    summary: 'API tokens (never the secret); a scoped admin sees the tokens within its namespaces',
    tag: 'tokens',
    role: 'admin',
    returns: '{ items: TokenInfo[] }',
    handler: async ({ principal }) => ({ items: (await ctx.store.tokens.list()).filter((t) => tokenWithinScope(principal, t)) }),
  });

  register({
    method: 'POST',
    path: '/tokens',
    summary: 'Create a token; the secret is in this response only (a scoped admin: within its namespaces)',
    tag: 'tokens',
    role: 'admin',
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'role'],
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$' },
        role: { enum: [...ROLES] },
        namespaces: { type: 'array', minItems: 1, maxItems: 100, description: 'Omit for every namespace (unscoped callers only); never empty.', items: { type: 'string', pattern: NAMESPACE_PATTERN, maxLength: 63 } },
        expiresAt: { type: 'string', format: 'date-time' },
      },
    },
    returns: '{ token, info }',
    handler: async ({ body, principal }) => {
      const b = body as { name: string; role: string; namespaces?: string[]; expiresAt?: string };
      if (!isRole(b.role)) throw new ApiError('DW_ERR_VALIDATION', 'unknown role');
      const namespaces = b.namespaces ?? null;
      if (!tokenWithinScope(principal, { namespaces }))
        throw new ApiError('DW_ERR_FORBIDDEN_SCOPE', 'a namespace-scoped token can only create tokens limited to its own namespaces');
      if ((await ctx.store.tokens.list()).some((t) => t.name === b.name)) throw new ApiError('DW_ERR_CONFLICT', `a token named ${JSON.stringify(b.name)} exists`);
      return ctx.store.transaction(async (tx) => {
        const created = await tx.tokens.create({ name: b.name, role: b.role as Role, namespaces, createdBy: actorOf(principal), expiresAt: b.expiresAt ?? null });
        await tx.audit.append({ actor: actorOf(principal), action: 'token.create', targetType: 'token', targetId: created.info.tokenId, namespace: null, after: created.info });
        return created;
      });
    },
  });

  register({
    method: 'DELETE',
    path: '/tokens/{id}',
    summary: 'Revoke a token (a scoped admin: one within its namespaces)',
    tag: 'tokens',
    role: 'admin',
    params: idParams,
    returns: 'The revoked TokenInfo.',
    handler: async ({ params, principal }) => {
      const id = Number(params.id);
      const before = visibleOr404(await ctx.store.tokens.get(id), (t) => tokenWithinScope(principal, t), `no token ${id}`);
      if (before.revokedAt !== null) throw new ApiError('DW_ERR_CONFLICT', 'the token is already revoked');
      return ctx.store.transaction(async (tx) => {
        const after = (await tx.tokens.revoke(id))!;
        await tx.audit.append({ actor: actorOf(principal), action: 'token.revoke', targetType: 'token', targetId: id, namespace: null, before, after });
        return after;
      });
    },
  });
}
