import type { BaselinePhase } from '../../common/deviations.js';
import { exportBaseline, EXPORT_FORMATS, TETRAGON_ACTIONS, type ExportFormat, type TetragonAction } from '../exports/index.js';
import type { ChangeSet } from '../changes.js';
import type { AuditInput } from '../store/audit.js';
import type { Repositories } from '../store/contract.js';
import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { actorOf, inScope, requireScope, visibleOr404 } from './auth.js';
import { candidateDeclared } from './candidates.js';
import { diffLearnedDeclared } from './declared-diff.js';
import { diffItems } from './diff.js';
import { ApiError } from './errors.js';
import { csvPattern, reasonBody, reasonOf, cursorQuery, decodeCursor, encodeCursor, idParams, limitQuery, pageLimit, splitCsv } from './params.js';
import { mutate } from './routes-deviations.js';
import type { ApiContext, RouteInput, RouteSpec } from './server.js';
import { runWhatIf, type Candidate } from './whatif.js';

const PHASES: readonly BaselinePhase[] = ['learning', 'active', 'approved', 'rejected', 'superseded'];

/** What a decision changes: the audit log keeps it before and after. */
function decisionState(b: BaselineView): Record<string, unknown> {
  return { phase: b.phase, version: b.version, itemCount: b.itemCount, decidedBy: b.decidedBy, decidedAt: b.decidedAt, decisionComment: b.decisionComment };
}

interface Side {
  label: string;
  baselineId: number | null;
  version: number | null;
  items: BaselineItemView[];
}

export function registerBaselineRoutes(register: (r: RouteSpec) => void, ctx: ApiContext): void {
  const load = async (id: number, principal: RouteInput['principal']): Promise<BaselineView> => {
    const b = await ctx.store.queries.baselineView(id);
    return visibleOr404(b, (v) => inScope(principal, v.workload.namespace), `no baseline ${id}`);
  };

  register({
    method: 'GET',
    path: '/workloads',
    summary: 'Workloads with the state of their current baseline',
    tag: 'baselines',
    role: 'viewer',
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        namespace: { type: 'string', maxLength: 2000, pattern: '^[a-z0-9-]+(,[a-z0-9-]+)*$' },
        phase: csvPattern(PHASES),
        q: { type: 'string', maxLength: 200, description: 'Text in the workload name.' },
        limit: limitQuery,
        cursor: cursorQuery,
      },
    },
    returns: '{ items: WorkloadListItem[], next: cursor | null }',
    handler: async ({ query, principal }) => {
      const namespaces = splitCsv<string>(query.namespace);
      for (const ns of namespaces ?? []) requireScope(principal, ns);
      const c = decodeCursor(query.cursor);
      if (c && (typeof c.ns !== 'string' || typeof c.n !== 'string' || typeof c.c !== 'string' || typeof c.i !== 'number')) throw new ApiError('DW_ERR_BAD_CURSOR', 'not a workloads cursor');
      const page = await ctx.store.queries.listWorkloads({
        namespaces,
        phases: splitCsv<BaselinePhase>(query.phase),
        text: query.q as string | undefined,
        scope: principal.namespaces,
        after: c ? { namespace: c.ns as string, name: c.n as string, container: c.c as string, id: c.i as number } : undefined,
        limit: pageLimit(query.limit, ctx.settings.maxPageSize),
      });
      return { items: page.items, next: page.next ? encodeCursor({ ns: page.next.namespace, n: page.next.name, c: page.next.container, i: page.next.id }) : null };
    },
  });

  register({
    method: 'GET',
    path: '/workloads/{id}/baselines',
    summary: "Every generation of a workload's baseline, newest first",
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    returns: '{ items: Baseline[] }',
    handler: async ({ params, principal }) => {
      const items = await ctx.store.queries.workloadBaselines(Number(params.id));
      const namespace = items.length > 0 ? items[0]!.workload.namespace : (await ctx.store.workloads.get(Number(params.id)))?.workload.namespace;
      visibleOr404(namespace, (ns) => inScope(principal, ns), `no workload ${params.id}`);
      return { items };
    },
  });

  register({
    method: 'GET',
    path: '/baselines/{id}',
    summary: 'One baseline (state, version, decision)',
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    returns: 'Baseline',
    handler: async ({ params, principal }) => load(Number(params.id), principal),
  });

  register({
    method: 'GET',
    path: '/baselines/{id}/items',
    summary: "A baseline version's items (learned, or added by a person) with counts and first seen",
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        version: { type: 'integer', minimum: 1, description: 'Default: the current version.' },
        kind: { type: 'string', maxLength: 50 },
        origin: { type: 'string', maxLength: 50 },
      },
    },
    returns: '{ baseline, version, items: BaselineItem[] }',
    handler: async ({ params, query, principal }) => {
      const b = await load(Number(params.id), principal);
      const version = typeof query.version === 'number' ? query.version : b.version;
      if (version > b.version) throw new ApiError('DW_ERR_NOT_FOUND', `baseline ${b.id} has no version ${version} (current ${b.version})`);
      const items = (await ctx.store.queries.baselineItems(b.id, version)).filter((i) => (query.kind === undefined || i.kind === query.kind) && (query.origin === undefined || i.origin === query.origin));
      return { baseline: b, version, items };
    },
  });

  const side = async (label: string, baselineId: number, version: number): Promise<Side> => ({ label, baselineId, version, items: await ctx.store.queries.baselineItems(baselineId, version) });

  /** The last version a person approved: from the audit log, else an approved earlier generation. */
  const approvedSide = async (b: BaselineView): Promise<Side | undefined> => {
    const entry = (await ctx.store.audit.list({ action: 'baseline.approve', targetType: 'baseline', targetId: String(b.id), limit: 1 }))[0];
    const v = (entry?.after as { version?: unknown } | null)?.version;
    if (typeof v === 'number') return side(`approved v${v}`, b.id, v);
    if (b.phase === 'approved') return side(`approved v${b.version}`, b.id, b.version);
    const earlier = (await ctx.store.queries.workloadBaselines(b.workloadId)).find((o) => o.generation < b.generation && o.decidedAt !== null && o.phase !== 'rejected');
    if (earlier) return side(`approved generation ${earlier.generation} v${earlier.version}`, earlier.id, earlier.version);
    return undefined;
  };

  register({
    method: 'GET',
    path: '/baselines/{id}/diff',
    summary: 'Diff of a baseline against an earlier version, another generation, the approved version, or the declared baselines in force',
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        against: {
          type: 'string',
          pattern: '^(previous|approved|declared|v[0-9]{1,9}|b[0-9]{1,12}(v[0-9]{1,9})?)$',
          default: 'previous',
          description: 'previous (version − 1, or the previous generation), approved (the last approved version), declared (learned items vs the declared baselines in force), vN (a version), bID or bIDvN (another generation of the workload).',
        },
        version: { type: 'integer', minimum: 1, description: 'The version to compare (default: current).' },
      },
    },
    returns: '{ from: {label, baselineId, version}, to: {…}, added: BaselineItem[], removed: BaselineItem[], unchanged: number }',
    handler: async ({ params, query, principal }) => {
      const b = await load(Number(params.id), principal);
      const version = typeof query.version === 'number' ? query.version : b.version;
      if (version > b.version) throw new ApiError('DW_ERR_NOT_FOUND', `baseline ${b.id} has no version ${version}`);
      const against = String(query.against ?? 'previous');
      const to = await side(`v${version}`, b.id, version);
      let from: Side;
      if (against === 'previous') {
        if (version > 1) from = await side(`v${version - 1}`, b.id, version - 1);
        else {
          const prev = (await ctx.store.queries.workloadBaselines(b.workloadId)).find((o) => o.generation < b.generation);
          from = prev ? await side(`generation ${prev.generation} v${prev.version}`, prev.id, prev.version) : { label: 'empty', baselineId: null, version: null, items: [] };
        }
      } else if (against === 'approved') {
        const side = await approvedSide(b);
        if (!side) throw new ApiError('DW_ERR_NOT_FOUND', 'this workload has no approved baseline yet');
        from = side;
      } else if (against === 'declared') {
        const declared = ctx.declared.forWorkload(b.workload);
        if (declared.sources.length === 0) throw new ApiError('DW_ERR_NOT_FOUND', 'no declared baseline selects this workload');
        const d = diffLearnedDeclared(to.items, declared, b.workload);
        return {
          from: { label: `declared (${declared.sources.join(', ')})`, baselineId: null, version: null },
          to: { label: `learned v${version}`, baselineId: b.id, version },
          ...d,
        };
      } else {
        const m = /^(?:b(\d+))?(?:v(\d+))?$/.exec(against)!;
        const other = m[1] !== undefined ? await load(Number(m[1]), principal) : b;
        if (other.workloadId !== b.workloadId) throw new ApiError('DW_ERR_VALIDATION', 'both baselines must belong to the same workload');
        const v = m[2] !== undefined ? Number(m[2]) : other.version;
        if (v > other.version) throw new ApiError('DW_ERR_NOT_FOUND', `baseline ${other.id} has no version ${v}`);
        from = await side(other.id === b.id ? `v${v}` : `generation ${other.generation} v${v}`, other.id, v);
      }
      const d = diffItems(from.items, to.items);
      return {
        from: { label: from.label, baselineId: from.baselineId, version: from.version },
        to: { label: to.label, baselineId: to.baselineId, version: to.version },
        ...d,
      };
    },
  });

  register({
    method: 'POST',
    path: '/baselines/{id}/candidate-diff',
    summary: 'Diff of a baseline version against a candidate declared baseline (YAML): learned items it would not allow, rules it adds that nothing used',
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['yaml'],
      properties: {
        yaml: { type: 'string', maxLength: 512 * 1024, description: 'A declared baseline document (the baselines/ format).' },
        version: { type: 'integer', minimum: 1, description: 'The version to compare (default: current).' },
      },
    },
    returns: '{ from: {label}, to: {label, baselineId, version}, added: BaselineItem[] (learned, not allowed by the candidate), removed: BaselineItem[] (candidate rules no learned item uses), unchanged }',
    handler: async ({ params, body, principal }) => {
      const b = await load(Number(params.id), principal);
      const input = body as { yaml: string; version?: number };
      const version = input.version ?? b.version;
      if (version > b.version) throw new ApiError('DW_ERR_NOT_FOUND', `baseline ${b.id} has no version ${version}`);
      let candidate: ReturnType<typeof candidateDeclared>;
      try {
        candidate = candidateDeclared(input.yaml);
      } catch (err) {
        throw new ApiError('DW_ERR_BAD_BASELINE', (err as Error).message);
      }
      const learned = await ctx.store.queries.baselineItems(b.id, version);
      return {
        from: { label: `candidate (${candidate.sources.map((s) => s.replace('candidate.yaml#', '')).join(', ')}, ${candidate.mode})`, baselineId: null, version: null },
        to: { label: `v${version}`, baselineId: b.id, version },
        ...diffLearnedDeclared(learned, candidate, b.workload),
      };
    },
  });

  register({
    method: 'POST',
    path: '/baselines/{id}/what-if',
    summary: 'Which stored observations of the last N days a candidate baseline (declared YAML or an item list) would have raised',
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        days: { type: 'integer', minimum: 1, maximum: 365, default: 7 },
        yaml: { type: 'string', maxLength: 512 * 1024, description: 'A declared baseline document.' },
        items: { type: 'array', maxItems: 20000, items: { type: 'string', maxLength: 2000 }, description: 'The item keys the candidate allows.' },
      },
      oneOf: [{ required: ['yaml'] }, { required: ['items'] }],
    },
    returns: 'WhatIfResult: { fromMs, toMs, scanned, truncated, deviations: [{ itemKey, kind, count, firstSeenMs, lastSeenMs, allowedToday, pods, sample }] }',
    handler: async ({ params, body, principal }) => {
      const b = await load(Number(params.id), principal);
      const input = body as { days: number; yaml?: string; items?: string[] };
      if (input.days > ctx.settings.whatIfMaxDays) throw new ApiError('DW_ERR_VALIDATION', `days must be at most ${ctx.settings.whatIfMaxDays}`);
      const candidate: Candidate = input.yaml !== undefined ? { yaml: input.yaml } : { items: input.items ?? [] };
      return runWhatIf(ctx.store, ctx.whatIf, b, candidate, input.days, ctx.settings.whatIfMaxObservations);
    },
  });

  const decide = (verb: 'approve' | 'reject'): void =>
    register({
      method: 'POST',
      path: `/baselines/{id}/${verb}`,
      summary: `${verb === 'approve' ? 'Approve' : 'Reject'} a baseline version (it must still be the current version)`,
      tag: 'baselines',
      role: 'approver',
      params: idParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['version', 'comment'],
        properties: { version: { type: 'integer', minimum: 1 }, comment: reasonBody.properties.comment },
      },
      returns: 'The updated Baseline.',
      handler: async ({ params, body, principal }) => {
        const before = await load(Number(params.id), principal);
        const { version } = body as { version: number };
        const comment = reasonOf(body, ctx.settings.minReasonLength);
        if (before.version !== version) throw new ApiError('DW_ERR_CONFLICT', `baseline ${before.id} is at version ${before.version}, not ${version}: review the current version`);
        if (before.phase === 'superseded') throw new ApiError('DW_ERR_CONFLICT', 'a newer generation superseded this baseline');
        const actor = actorOf(principal);
        return ctx.reviews.change(async (tx, changes) => {
          const review = ctx.reviews.baselineReview;
          await mutate(() => (verb === 'approve' ? review.approve(tx, changes, before.id, version, actor, comment) : review.reject(tx, changes, before.id, version, actor, comment)));
          const after = (await tx.queries.baselineView(before.id))!;
          await tx.audit.append({ actor, action: `baseline.${verb}`, targetType: 'baseline', targetId: before.id, namespace: before.workload.namespace, comment, before: decisionState(before), after: decisionState(after) });
          return after;
        });
      },
    });
  decide('approve');
  decide('reject');

  const namespaceBody = (dryRunMeans: string) => ({
    type: 'object',
    additionalProperties: false,
    required: ['namespace', 'comment'],
    properties: {
      namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
      comment: reasonBody.properties.comment,
      dryRun: { type: 'boolean', default: false, description: dryRunMeans },
    },
  });

  /**
   * A decision on every current baseline of a namespace in one of `phases`: one transaction per
   * baseline, not one for all, so a baseline that changed meanwhile is skipped and reported, and
   * nothing the engine already applied is rolled back under it. Each is audited on its own.
   */
  const bulk = async (
    input: RouteInput,
    phases: readonly BaselinePhase[],
    decide: (tx: Repositories, changes: ChangeSet, before: BaselineView, actor: string, comment: string) => Promise<{ after: BaselineView; audit: AuditInput }>,
  ): Promise<{ done: BaselineView[]; skipped: { id: number; code: string; message: string }[]; dryRun: boolean }> => {
    const { namespace, dryRun } = input.body as { namespace: string; dryRun: boolean };
    requireScope(input.principal, namespace);
    const comment = reasonOf(input.body, ctx.settings.minReasonLength);
    const candidates: BaselineView[] = [];
    for (const phase of phases) candidates.push(...(await ctx.store.queries.currentBaselinesIn(namespace, phase)));
    if (dryRun) return { done: candidates, skipped: [], dryRun };
    const actor = actorOf(input.principal);
    const done: BaselineView[] = [];
    const skipped: { id: number; code: string; message: string }[] = [];
    for (const before of candidates) {
      try {
        done.push(
          await ctx.reviews.change(async (tx, changes) => {
            const { after, audit } = await mutate(() => decide(tx, changes, before, actor, comment));
            await tx.audit.append(audit);
            return after;
          }),
        );
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        skipped.push({ id: before.id, code: err.code, message: err.message });
      }
    }
    return { done, skipped, dryRun };
  };

  register({
    method: 'POST',
    path: '/baselines/approve-namespace',
    summary: 'Approve every active (learned, not yet decided) current baseline of a namespace',
    tag: 'baselines',
    role: 'approver',
    body: namespaceBody('List what would be approved.'),
    returns: '{ approved: Baseline[], skipped: [{ id, code, message }], dryRun }',
    handler: async (input) => {
      const { done, skipped, dryRun } = await bulk(input, ['active'], async (tx, changes, before, actor, comment) => {
        await ctx.reviews.baselineReview.approve(tx, changes, before.id, before.version, actor, comment);
        const after = (await tx.queries.baselineView(before.id))!;
        const audit: AuditInput = { actor, action: 'baseline.approve', targetType: 'baseline', targetId: before.id, namespace: before.workload.namespace, comment, before: decisionState(before), after: { ...decisionState(after), bulk: true } };
        return { after, audit };
      });
      return { approved: done, skipped, dryRun };
    },
  });

  register({
    method: 'POST',
    path: '/baselines/relearn-namespace',
    summary: 'Start learning again every enforced (active or approved) current baseline of a namespace',
    tag: 'baselines',
    role: 'approver',
    body: namespaceBody('List what would learn again.'),
    returns: '{ relearning: Baseline[] (the new generations; with dryRun the current ones), skipped: [{ id, code, message }], dryRun }',
    handler: async (input) => {
      const { done, skipped, dryRun } = await bulk(input, ['active', 'approved'], async (tx, changes, before, actor, comment) => {
        const created = await ctx.reviews.baselineReview.relearn(tx, changes, before.workload);
        const after = (await tx.queries.baselineView(created.id))!;
        const audit: AuditInput = { actor, action: 'baseline.relearn', targetType: 'baseline', targetId: before.id, namespace: before.workload.namespace, comment, before: decisionState(before), after: { ...decisionState(after), baselineId: after.id, bulk: true } };
        return { after, audit };
      });
      return { relearning: done, skipped, dryRun };
    },
  });

  register({
    method: 'POST',
    path: '/baselines/{id}/relearn',
    summary: "Start learning the workload's baseline again (a new generation)",
    tag: 'baselines',
    role: 'approver',
    params: idParams,
    body: reasonBody,
    returns: 'The new Baseline.',
    handler: async ({ params, body, principal }) => {
      const before = await load(Number(params.id), principal);
      const comment = reasonOf(body, ctx.settings.minReasonLength);
      const actor = actorOf(principal);
      return ctx.reviews.change(async (tx, changes) => {
        const created = await mutate(() => ctx.reviews.baselineReview.relearn(tx, changes, before.workload));
        const after = (await tx.queries.baselineView(created.id))!;
        await tx.audit.append({ actor, action: 'baseline.relearn', targetType: 'baseline', targetId: before.id, namespace: before.workload.namespace, comment, before: decisionState(before), after: { ...decisionState(after), baselineId: after.id } });
        return after;
      });
    },
  });

  register({
    method: 'GET',
    path: '/baselines/{id}/export',
    summary: 'Export an approved baseline: declared-baseline YAML, a Kubernetes NetworkPolicy, Falco rules or a Tetragon TracingPolicy',
    tag: 'baselines',
    role: 'viewer',
    params: idParams,
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        format: { enum: [...EXPORT_FORMATS], default: 'yaml' },
        // Killing is opt-in: only with format=tetragon, and only when asked for.
        action: { enum: [...TETRAGON_ACTIONS], description: 'format=tetragon only: audit (default) or sigkill' },
      },
    },
    produces: 'application/yaml',
    returns: 'The exported document (YAML).',
    handler: async ({ params, query, principal, reply }) => {
      const b = await load(Number(params.id), principal);
      if (b.phase !== 'approved') throw new ApiError('DW_ERR_EXPORT_UNAVAILABLE', `baseline ${b.id} is ${b.phase}; only an approved baseline can be exported`);
      const format = String(query.format ?? 'yaml') as ExportFormat;
      if (query.action !== undefined && format !== 'tetragon') throw new ApiError('DW_ERR_VALIDATION', `action applies to format=tetragon only, not format=${format}`);
      const tetragonAction = query.action as TetragonAction | undefined;
      const text = exportBaseline(format, b, await ctx.store.queries.baselineItems(b.id, b.version), ctx.network, {
        addressSets: ctx.reviews.addressSets,
        ...(tetragonAction ? { tetragonAction } : {}),
      });
      void reply.type('application/yaml; charset=utf-8').header('content-disposition', `attachment; filename="baseline-${b.id}-v${b.version}-${format}.yaml"`);
      return text;
    },
  });

}
