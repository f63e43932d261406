import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { terminalSafe } from '../common/text.js';
import { clientFrom, printFacts, printTable, time, withClientOptions, type ClientOptions } from './client.js';
import { outputFormat, printNames, printStructured } from './output.js';
import { register as registerPropose } from './propose.js';

interface Baseline {
  id: number;
  workloadId: number;
  workload: { namespace: string; kind: string; name: string; container: string };
  generation: number;
  version: number;
  phase: string;
  completeness: string;
  itemCount: number;
  openDeviations: number;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionComment: string | null;
  learningUntilMs: number | null;
}

interface Item {
  key: string;
  origin: string;
  count: number;
  firstSeenMs: number;
}

interface Diff {
  from: { label: string };
  to: { label: string };
  added: Item[];
  removed: Item[];
  unchanged: number;
}

function workloadText(b: Baseline): string {
  return `${b.workload.namespace}/${b.workload.name}/${b.workload.container}`;
}

export function register(program: Command): void {
  const cmd = program.command('baseline').description('review, approve and export baselines (through the collector API)');
  registerPropose(cmd);

  withClientOptions(cmd.command('list').description('workloads and the state of their current baseline'))
    .option('--namespace <ns,…>', 'namespaces')
    .option('--phase <p,…>', 'learning, active, approved, rejected')
    .option('-q, --q <text>', 'text in the workload name')
    .option('--limit <n>', 'at most this many', '500')
    .action(async (opts: ClientOptions & { namespace?: string; phase?: string; q?: string; limit: string }) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      const items: { workload: Baseline['workload']; baseline: Baseline | null; openDeviations: number }[] = [];
      let cursor: string | undefined;
      const max = Number(opts.limit);
      do {
        const page = await client.get<{ items: typeof items; next: string | null }>('/workloads', { namespace: opts.namespace, phase: opts.phase, q: opts.q, limit: Math.min(500, max), cursor });
        items.push(...page.items);
        cursor = page.next ?? undefined;
      } while (cursor && items.length < max);
      const shown = items.slice(0, max);
      if (printStructured(format, shown)) return;
      if (format === 'name') return printNames('baseline', shown.flatMap((w) => (w.baseline ? [w.baseline.id] : [])));
      const wide = format === 'wide';
      printTable(
        ['BASELINE', 'NAMESPACE', 'WORKLOAD', 'CONTAINER', 'PHASE', 'VERSION', 'ITEMS', 'OPEN', ...(wide ? ['KIND', 'COMPLETENESS', 'DECIDED BY'] : [])],
        shown.map((w) => [
          w.baseline?.id ?? '—',
          w.workload.namespace,
          w.workload.name,
          w.workload.container,
          w.baseline?.phase ?? 'none',
          w.baseline ? `v${w.baseline.version}` : '—',
          w.baseline?.itemCount ?? 0,
          w.openDeviations,
          ...(wide ? [w.workload.kind, w.baseline?.completeness ?? '—', w.baseline?.decidedBy ?? '—'] : []),
        ]),
      );
    });

  withClientOptions(cmd.command('show').description("a baseline's state and items").argument('<id>'))
    .option('--at <version>', 'an earlier version')
    .action(async (id: string, opts: ClientOptions & { at?: string }) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      const r = await client.get<{ baseline: Baseline; version: number; items: Item[] }>(`/baselines/${encodeURIComponent(id)}/items`, { version: opts.at });
      if (printStructured(format, r)) return;
      if (format === 'name') return printNames('baseline', [r.baseline.id]);
      const b = r.baseline;
      printFacts([
        ['baseline', `${b.id} (generation ${b.generation}, version ${b.version}${r.version !== b.version ? `, showing v${r.version}` : ''})`],
        ['workload', `${b.workload.namespace}/${b.workload.kind}/${b.workload.name}/${b.workload.container}`],
        ['phase', `${b.phase} (${b.completeness})`],
        ['learning until', time(b.learningUntilMs)],
        ['decided', b.decidedBy ? `${b.decidedBy} at ${time(b.decidedAt)}: ${b.decisionComment ?? ''}` : '—'],
        ['open deviations', b.openDeviations],
      ]);
      process.stdout.write('\n');
      printTable(['ITEM', 'ORIGIN', 'COUNT', 'FIRST SEEN'], r.items.map((i) => [i.key, i.origin, i.count, time(i.firstSeenMs)]), process.stdout, 120);
    });

  withClientOptions(cmd.command('diff').description('what changed: + added, - removed').argument('<id>'))
    .option('--against <what>', 'previous | approved | declared | vN | bID | bIDvN', 'previous')
    .option('--at <version>', 'compare this version (default: current)')
    .action(async (id: string, opts: ClientOptions & { against: string; at?: string }) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      const d = await client.get<Diff>(`/baselines/${encodeURIComponent(id)}/diff`, { against: opts.against, version: opts.at });
      if (printStructured(format, d)) return;
      process.stdout.write(`--- ${terminalSafe(d.from.label)}\n+++ ${terminalSafe(d.to.label)}\n`);
      for (const i of d.removed) process.stdout.write(`- ${terminalSafe(i.key)}\n`);
      for (const i of d.added) process.stdout.write(`+ ${terminalSafe(i.key)}  (${terminalSafe(i.origin)}, seen ${i.count}×)\n`);
      process.stdout.write(`${d.added.length} added, ${d.removed.length} removed, ${d.unchanged} unchanged\n`);
    });

  withClientOptions(cmd.command('approve').description('approve a baseline version, or every active baseline of a namespace').argument('[id]'))
    .option('--reviewed-version <n>', 'the version you reviewed (required with an id; `baseline show` prints it)')
    .option('--namespace <ns>', 'approve every active current baseline of this namespace')
    .option('--dry-run', 'with --namespace: list what would be approved')
    .requiredOption('-m, --comment <text>', 'why (required, kept in the audit log; collector.api.minReasonLength characters at least)')
    .action(async (id: string | undefined, opts: ClientOptions & { reviewedVersion?: string; namespace?: string; dryRun?: boolean; comment: string }) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      if (opts.namespace !== undefined) {
        if (id !== undefined) throw new Error('give either a baseline id or --namespace, not both');
        const r = await client.post<{ approved: Baseline[]; dryRun: boolean }>('/baselines/approve-namespace', { namespace: opts.namespace, comment: opts.comment, dryRun: opts.dryRun === true });
        if (printStructured(format, r)) return;
        for (const b of r.approved) process.stdout.write(`${r.dryRun ? 'would approve' : 'approved'} baseline ${b.id} v${b.version} ${terminalSafe(workloadText(b))}\n`);
        process.stdout.write(`${r.approved.length} baseline(s)${r.dryRun ? ' (dry run)' : ''}\n`);
        return;
      }
      if (id === undefined || opts.reviewedVersion === undefined) throw new Error('approve needs a baseline id and --reviewed-version (the version you reviewed), or --namespace');
      const b = await client.post<Baseline>(`/baselines/${encodeURIComponent(id)}/approve`, { version: Number(opts.reviewedVersion), comment: opts.comment });
      if (printStructured(format, b)) return;
      process.stdout.write(`baseline ${b.id} v${b.version} ${terminalSafe(workloadText(b))}: ${b.phase}\n`);
    });

  withClientOptions(cmd.command('reject').description('reject a baseline version (the workload learns again)').argument('<id>'))
    .requiredOption('--reviewed-version <n>', 'the version you reviewed')
    .requiredOption('-m, --comment <text>', 'why (required, kept in the audit log)')
    .action(async (id: string, opts: ClientOptions & { reviewedVersion: string; comment: string }) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      const b = await client.post<Baseline>(`/baselines/${encodeURIComponent(id)}/reject`, { version: Number(opts.reviewedVersion), comment: opts.comment });
      if (printStructured(format, b)) return;
      process.stdout.write(`baseline ${b.id} v${b.version} ${terminalSafe(workloadText(b))}: ${b.phase}\n`);
    });

  withClientOptions(cmd.command('relearn').description("start learning a workload's baseline again (a new generation), or every enforced baseline of a namespace").argument('[id]'))
    .option('--namespace <ns>', 'every active or approved current baseline of this namespace')
    .option('--dry-run', 'with --namespace: list what would learn again')
    .requiredOption('-m, --comment <text>', 'why (required, kept in the audit log; collector.api.minReasonLength characters at least)')
    .action(async (id: string | undefined, opts: ClientOptions & { namespace?: string; dryRun?: boolean; comment: string }) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      if ((id === undefined) === (opts.namespace === undefined)) throw new Error('relearn needs a baseline id or --namespace (one of them)');
      if (opts.namespace !== undefined) {
        const r = await client.post<{ relearning: Baseline[]; skipped: { id: number; message: string }[]; dryRun: boolean }>('/baselines/relearn-namespace', { namespace: opts.namespace, comment: opts.comment, dryRun: opts.dryRun === true });
        if (printStructured(format, r)) return;
        for (const b of r.relearning) process.stdout.write(`${r.dryRun ? 'would relearn' : 'learning again:'} baseline ${b.id} ${terminalSafe(workloadText(b))}\n`);
        for (const s of r.skipped) process.stdout.write(`skipped baseline ${s.id}: ${terminalSafe(s.message)}\n`);
        process.stdout.write(`${r.relearning.length} baseline(s)${r.dryRun ? ' (dry run)' : ''}\n`);
        return;
      }
      const b = await client.post<Baseline>(`/baselines/${encodeURIComponent(id!)}/relearn`, { comment: opts.comment });
      if (printStructured(format, b)) return;
      process.stdout.write(`baseline ${b.id} ${terminalSafe(workloadText(b))}: ${b.phase} (generation ${b.generation})\n`);
    });

  withClientOptions(
    cmd.command('export').description('an approved baseline as declared-baseline YAML, a NetworkPolicy, Falco rules or a Tetragon TracingPolicy').argument('<id>'),
    { output: false },
  )
    .option('--format <f>', 'yaml | networkpolicy | falco | tetragon', 'yaml')
    .option('--sigkill', 'with --format tetragon: kill executions outside the baseline (Sigkill) instead of only reporting them')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (id: string, opts: ClientOptions & { format: string; sigkill?: boolean; output?: string }) => {
      const client = clientFrom(opts);
      // The collector rejects an action for any other format, so a misplaced --sigkill is an error, not ignored.
      const query = { format: opts.format, ...(opts.sigkill ? { action: 'sigkill' } : {}) };
      const text = await client.request<string>('GET', `/baselines/${encodeURIComponent(id)}/export`, { query, accept: 'application/yaml' });
      if (opts.output) writeFileSync(opts.output, text);
      // YAML already escapes control characters inside strings; this guards the terminal anyway.
      else process.stdout.write(terminalSafe(text, { keepNewlines: true }));
    });
}
