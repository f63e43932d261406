import { DEVIATION_KINDS, DEVIATION_STATUSES, SEVERITIES, severityRank, type Deviation, type DeviationStatus, type Severity } from '../../common/deviations.js';
import { baselineUrl, deviationUrl, workloadDeviationsUrl } from '../links.js';
import { DEVIATION_SORTS, type DeviationSortKey } from '../store/queries.js';
import { actorOf, inScope, requireScope, visibleOr404 } from './auth.js';
import { ApiError, isApiErrorCode } from './errors.js';
import { commentBody, epochMsQuery, commentOf, csvPattern, reasonBody, reasonOf, cursorQuery, decodeCursor, encodeCursor, idParams, limitQuery, pageLimit, splitCsv } from './params.js';
import type { ApiContext, RouteInput, RouteSpec } from './server.js';

const SORT_PATTERN = `^-?(${DEVIATION_SORTS.join('|')})$`;

/** The part of a deviation a status change touches: what the audit log keeps before and after. */
function statusState(d: Deviation): Record<string, unknown> {
  return { status: d.status, statusBy: d.statusBy, statusAt: d.statusAt, statusComment: d.statusComment, baselineId: d.baselineId };
}

export function registerDeviationRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  register({
    method: 'GET',
    path: '/deviations',
    summary: 'Deviations: filtered, sorted, keyset-paged (stable while new deviations arrive)',
    tag: 'deviations',
    role: 'viewer',
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        namespace: { type: 'string', maxLength: 2000, pattern: '^[a-z0-9-]+(,[a-z0-9-]+)*$', description: 'Comma-separated namespaces.' },
        workload: { type: 'string', maxLength: 253, description: 'Workload name.' },
        container: { type: 'string', maxLength: 253 },
        baselineId: { type: 'integer', minimum: 1 },
        severity: { ...csvPattern(SEVERITIES), description: 'Comma-separated severities.' },
        minSeverity: { enum: [...SEVERITIES], description: 'This severity or higher.' },
        status: { ...csvPattern(DEVIATION_STATUSES), description: 'Comma-separated statuses.' },
        kind: { ...csvPattern(DEVIATION_KINDS), description: 'Comma-separated kinds.' },
        from: epochMsQuery('Active since (event time, ms): last seen at or after.'),
        to: epochMsQuery('Active until (event time, ms): first seen at or before.'),
        q: { type: 'string', maxLength: 200, description: 'Text in the summary, item or workload name (case-insensitive).' },
        sort: { type: 'string', pattern: SORT_PATTERN, default: '-created', description: `One of ${DEVIATION_SORTS.join(', ')}; a leading - sorts descending.` },
        limit: limitQuery,
        cursor: cursorQuery,
      },
    },
    returns: '{ items: (DeviationListItem & { url }) [], next: cursor | null } (url: the console page, as in links)',
    handler: async ({ query, principal }) => {
      const namespaces = splitCsv<string>(query.namespace);
      for (const ns of namespaces ?? []) requireScope(principal, ns);
      const sortText = String(query.sort ?? '-created');
      const descending = sortText.startsWith('-');
      const sort = sortText.replace(/^-/, '') as DeviationSortKey;
      const c = decodeCursor(query.cursor);
      if (c && (c.s !== sortText || typeof c.k !== 'number' || typeof c.i !== 'number')) throw new ApiError('DW_ERR_BAD_CURSOR', 'the cursor belongs to another sort order');
      let severities = splitCsv<Severity>(query.severity);
      if (typeof query.minSeverity === 'string') {
        const min = severityRank(query.minSeverity as Severity);
        severities = (severities ?? [...SEVERITIES]).filter((s) => severityRank(s) >= min);
        if (severities.length === 0) return { items: [], next: null };
      }
      const limit = pageLimit(query.limit, ctx.settings.maxPageSize);
      const page = await ctx.store.queries.listDeviations({
        namespaces,
        workload: query.workload as string | undefined,
        container: query.container as string | undefined,
        baselineId: query.baselineId as number | undefined,
        severities,
        statuses: splitCsv<DeviationStatus>(query.status),
        kinds: splitCsv(query.kind),
        fromMs: query.from as number | undefined,
        toMs: query.to as number | undefined,
        text: query.q as string | undefined,
        scope: principal.namespaces,
        sort,
        descending,
        after: c ? { key: c.k as number, id: c.i as number } : undefined,
        limit,
      });
      const items = page.items.map((d) => ({ ...d, url: deviationUrl(ctx.uiBase, d.id) }));
      return { items, next: page.next ? encodeCursor({ s: sortText, k: page.next.key, i: page.next.id }) : null };
    },
  });

  const load = async (id: number, principal: RouteInput['principal']): Promise<Deviation> => {
    const ns = await ctx.store.queries.deviationNamespace(id);
    visibleOr404(ns, (v) => inScope(principal, v), `no deviation ${id}`);
    const d = (await ctx.store.deviations.get(id))?.deviation;
    if (!d) throw new ApiError('DW_ERR_NOT_FOUND', `no deviation ${id}`);
    return d;
  };

  register({
    method: 'GET',
    path: '/deviations/{id}',
    summary: 'One deviation with its sample events (full process lineage) and its baseline',
    tag: 'deviations',
    role: 'viewer',
    params: idParams,
    returns: '{ deviation: Deviation, baseline: Baseline | null, links: { deviation, baseline, workloadDeviations } } (console URLs)',
    handler: async ({ params, principal }) => {
      const deviation = await load(Number(params.id), principal);
      const links = {
        deviation: deviationUrl(ctx.uiBase, deviation.id),
        baseline: baselineUrl(ctx.uiBase, deviation.baselineId),
        workloadDeviations: workloadDeviationsUrl(ctx.uiBase, deviation.workload),
      };
      return { deviation, baseline: (await ctx.store.queries.baselineView(deviation.baselineId)) ?? null, links };
    },
  });

  const statusRoute = (path: string, status: Exclude<DeviationStatus, 'added-to-baseline'>, verb: string): void =>
    register({
      method: 'POST',
      path: `/deviations/{id}/${path}`,
      summary: `${verb} a deviation (with a comment)`,
      tag: 'deviations',
      role: 'analyst',
      params: idParams,
      body: commentBody,
      returns: 'The updated Deviation.',
      handler: async ({ params, body, principal }) => {
        const id = Number(params.id);
        const before = await load(id, principal);
        if (before.status === 'added-to-baseline') throw new ApiError('DW_ERR_CONFLICT', 'the deviation was added to the baseline; its status is final');
        if (before.status === status) return before;
        const actor = actorOf(principal);
        const comment = commentOf(body);
        return ctx.reviews.change(async (tx, changes) => {
          const after = await mutate(() => ctx.reviews.deviationReview.setStatus(tx, changes, id, status, actor, comment));
          await tx.audit.append({ actor, action: `deviation.${path}`, targetType: 'deviation', targetId: id, namespace: before.workload.namespace, comment, before: statusState(before), after: statusState(after) });
          return after;
        });
      },
    });
  statusRoute('ack', 'acknowledged', 'Acknowledge');
  statusRoute('resolve', 'resolved', 'Resolve');
  statusRoute('reopen', 'open', 'Reopen');

  register({
    method: 'POST',
    path: '/deviations/{id}/add-to-baseline',
    summary: "Add a deviation's item to its baseline (a new baseline version)",
    tag: 'deviations',
    role: 'approver',
    params: idParams,
    body: reasonBody,
    returns: 'The updated Deviation (status added-to-baseline).',
    handler: async ({ params, body, principal }) => {
      const id = Number(params.id);
      const before = await load(id, principal);
      if (before.status === 'added-to-baseline') throw new ApiError('DW_ERR_CONFLICT', 'the item is already in the baseline');
      const comment = reasonOf(body, ctx.settings.minReasonLength);
      const baselineBefore = await ctx.store.queries.baselineView(before.baselineId);
      const actor = actorOf(principal);
      return ctx.reviews.change(async (tx, changes) => {
        const after = await mutate(() => ctx.reviews.deviationReview.addToBaseline(tx, changes, id, actor, comment));
        const baselineAfter = await tx.queries.baselineView(after.baselineId);
        await tx.audit.append({
          actor,
          action: 'deviation.add-to-baseline',
          targetType: 'deviation',
          targetId: id,
          namespace: before.workload.namespace,
          comment,
          before: { ...statusState(before), itemKey: before.itemKey, baselineVersion: baselineBefore?.version ?? null },
          after: { ...statusState(after), itemKey: after.itemKey, baselineVersion: baselineAfter?.version ?? null },
        });
        return after;
      });
    },
  });

}

/**
 * Review refusals are client errors, not server errors: their coded errors (ReviewError
 * `DW_ERR_NOT_FOUND` / `DW_ERR_CONFLICT`) keep their code, any other refusal is a conflict.
 */
export async function mutate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const code = (err as { code?: unknown }).code;
    throw new ApiError(typeof code === 'string' && isApiErrorCode(code) ? code : 'DW_ERR_CONFLICT', (err as Error).message);
  }
}
