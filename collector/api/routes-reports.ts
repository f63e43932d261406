import { buildAuditReport } from '../reports/audit.js';
import type { AuditEntry } from '../store/audit.js';
import { requireScope } from './auth.js';
import { ApiError } from './errors.js';
import { epochMsQuery } from './params.js';
import type { ApiContext, RouteSpec } from './server.js';

/** Audit entries are read in pages of this many (newest first, keyset on id). */
const AUDIT_PAGE = 1000;

export function registerReportRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  register({
    method: 'GET',
    path: '/reports/audit',
    summary: 'Audit report of a period: decisions with who, when and why; deviation handling times by severity; baselines by phase',
    tag: 'audit',
    role: 'viewer',
    query: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'to'],
      properties: {
        namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description: 'One namespace (default: every namespace of the caller).' },
        from: epochMsQuery('Start of the period, ms since the epoch (wall-clock time of decisions and of raising).'),
        to: epochMsQuery('End of the period (exclusive), ms since the epoch.'),
      },
    },
    returns: 'AuditReport (collector/reports/audit.ts).',
    handler: async ({ query, principal }) => {
      const fromMs = query.from as number;
      const toMs = query.to as number;
      // `1e309` passes the schema's number check as Infinity (the query-string coercion), and no Date holds it.
      if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) throw new ApiError('DW_ERR_VALIDATION', 'from and to must be finite ms since the epoch');
      if (fromMs >= toMs) throw new ApiError('DW_ERR_VALIDATION', 'from must be before to');
      const namespace = (query.namespace as string | undefined) ?? null;
      if (namespace) requireScope(principal, namespace);
      const scope = namespace ? [namespace] : principal.namespaces;
      const fromAt = new Date(fromMs).toISOString();
      const toAt = new Date(toMs).toISOString();
      const audit: AuditEntry[] = [];
      for (let beforeId: number | undefined; ; ) {
        const page = await ctx.store.audit.list({ namespaces: scope, fromAt, toAt, beforeId, limit: AUDIT_PAGE });
        audit.push(...page);
        if (page.length < AUDIT_PAGE) break;
        beforeId = page[page.length - 1]!.id;
      }
      const [handling, overview] = await Promise.all([
        ctx.store.reports.deviationHandling({ fromAt, toAt, scope }),
        ctx.store.reports.overview({ fromMs, toMs, buckets: 1, scope, nowMs: ctx.now() }),
      ]);
      return buildAuditReport({ namespace, fromMs, toMs, audit, handling, baselinesByPhase: overview.baselinesByPhase });
    },
  });
}
