import { exportBaseline } from '../exports/index.js';
import { baselineUrl } from '../links.js';
import { dnsLabel } from '../exports/keys.js';
import { inScope, visibleOr404 } from './auth.js';
import { ApiError } from './errors.js';
import { idParams } from './params.js';
import type { ApiContext, RouteSpec } from './server.js';

/** Phases whose items are worth proposing for review in git: learned (active) or approved. */
const PROPOSABLE = new Set(['active', 'approved']);

/**
 * A baseline proposed as a declared baseline for the repository's baselines/: the YAML and the
 * name the file is kept under. The CLI turns it into a patch against a checkout
 * (`driftwatch baseline propose`), so the change is reviewed in git like any other.
 */
export function registerProposalRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  register({
    method: 'GET',
    path: '/baselines/{id}/proposal',
    summary: 'A learned or approved baseline as a declared baseline to propose in git (YAML and file name)',
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    returns: '{ name, file, yaml, baseline: { id, version, phase }, items, link } — `name` is metadata.name, `file` the suggested file name, `link` the baseline in the console.',
    handler: async ({ params, principal }) => {
      const id = Number(params.id);
      // Another namespace's baseline is answered as absent: a 403 would tell that the id exists.
      const b = visibleOr404(await ctx.store.queries.baselineView(id), (v) => inScope(principal, v.workload.namespace), `no baseline ${id}`);
      if (!PROPOSABLE.has(b.phase)) throw new ApiError('DW_ERR_CONFLICT', `baseline ${b.id} is ${b.phase}: only a learned (active) or approved baseline can be proposed`);
      const items = await ctx.store.queries.baselineItems(b.id, b.version);
      const yaml = exportBaseline('yaml', b, items, ctx.network);
      const name = dnsLabel(b.workload.namespace, b.workload.name, b.workload.container);
      return { name, file: `${name}.yaml`, yaml, baseline: { id: b.id, version: b.version, phase: b.phase }, items: items.length, link: baselineUrl(ctx.uiBase, b.id) };
    },
  });
}
