/**
 * Releases of a workload container: its baseline generations, one per image under `carry-forward`,
 * each with what it added and removed compared to the generation before it (the one it was carried
 * from, else the previous one) — what a rollout changed in what the workload may do.
 */
import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { inScope, visibleOr404 } from './auth.js';
import { diffItems } from './diff.js';
import { idParams, pageLimit } from './params.js';
import type { ApiContext, RouteSpec } from './server.js';

/** Releases listed by default: about a month of daily releases. */
const DEFAULT_RELEASES = 30;

export function registerReleaseRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  register({
    method: 'GET',
    path: '/workloads/{id}/releases',
    summary: "A workload's releases (baseline generations, one per image), newest first, each with the items it added and removed compared to the one before",
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: DEFAULT_RELEASES, description: 'Newest releases listed.' } },
    },
    returns: '{ items: { baseline: Baseline, previous: Baseline | null, added: BaselineItem[], removed: BaselineItem[], unchanged: number }[], more: boolean }',
    handler: async ({ params, query, principal }) => {
      const workloadId = Number(params.id);
      const generations = await ctx.store.queries.workloadBaselines(workloadId);
      const namespace = generations[0]?.workload.namespace ?? (await ctx.store.workloads.get(workloadId))?.workload.namespace;
      visibleOr404(namespace, (ns) => inScope(principal, ns), `no workload ${params.id}`);
      const limit = pageLimit(query.limit ?? DEFAULT_RELEASES, 500);
      const itemsOf = (b: BaselineView): Promise<BaselineItemView[]> => ctx.store.queries.baselineItems(b.id, b.version);
      const items = [];
      for (const [i, b] of generations.slice(0, limit).entries()) {
        const previous = (b.carriedFrom !== null ? generations.find((g) => g.id === b.carriedFrom) : generations[i + 1]) ?? null;
        const diff = diffItems(previous ? await itemsOf(previous) : [], await itemsOf(b));
        items.push({ baseline: b, previous, ...diff });
      }
      return { items, more: generations.length > limit };
    },
  });
}
