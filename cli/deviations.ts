import type { Command } from 'commander';
import type { Deviation } from '../common/deviations.js';
import { parseDuration } from '../common/duration.js';
import type { Observation } from '../common/model.js';
import { terminalSafe } from '../common/text.js';
import { clientFrom, printFacts, printTable, time, withClientOptions, type ClientOptions } from './client.js';
import { outputFormat, printNames, printStructured } from './output.js';

interface ListItem {
  id: number;
  severity: string;
  status: string;
  kind: string;
  count: number;
  firstSeenMs: number;
  lastSeenMs: number;
  summary: string;
  workload: { namespace: string; name: string; container: string };
  /** The console page, built by the collector from collector.http.externalUrl. */
  url: string;
}

interface ListOptions extends ClientOptions {
  namespace?: string;
  workload?: string;
  severity?: string;
  minSeverity?: string;
  status?: string;
  kind?: string;
  since?: string;
  q?: string;
  sort?: string;
  limit?: string;
  cursor?: string;
}

function lineage(obs: Observation): string[] {
  const chain = [...obs.process.ancestors].reverse();
  const lines = chain.map((a, i) => `${'  '.repeat(i)}${terminalSafe(a.exe)} ${terminalSafe(a.args ?? '')}`.trimEnd());
  lines.push(`${'  '.repeat(chain.length)}→ ${terminalSafe(obs.process.exe)} ${terminalSafe(obs.process.args)}`.trimEnd());
  return lines;
}

export function register(program: Command): void {
  const cmd = program.command('deviations').description('browse and triage deviations (through the collector API)');

  withClientOptions(cmd.command('list').description('list deviations, newest first'))
    .option('--namespace <ns,…>', 'namespaces')
    .option('--workload <name>', 'workload name')
    .option('--severity <s,…>', 'severities (info, low, medium, high, critical)')
    .option('--min-severity <s>', 'this severity or higher')
    .option('--status <s,…>', 'open, acknowledged, resolved, added-to-baseline')
    .option('--kind <k,…>', 'process, network, interactive-session, denied, …')
    .option('--since <duration>', 'active in the last e.g. 24h (event time)')
    .option('-q, --q <text>', 'text in the summary, item or workload')
    .option('--sort <key>', 'created, lastSeen, firstSeen, count, severity (prefix - for descending)', '-created')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <c>', 'continue after a previous page')
    .action(async (opts: ListOptions) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      const page = await client.get<{ items: ListItem[]; next: string | null }>('/deviations', {
        namespace: opts.namespace,
        workload: opts.workload,
        severity: opts.severity,
        minSeverity: opts.minSeverity,
        status: opts.status,
        kind: opts.kind,
        from: opts.since ? Date.now() - parseDuration(opts.since) : undefined,
        q: opts.q,
        sort: opts.sort,
        limit: opts.limit,
        cursor: opts.cursor,
      });
      if (printStructured(format, page)) return;
      if (format === 'name') return printNames('deviation', page.items.map((d) => d.id));
      const wide = format === 'wide';
      printTable(
        ['ID', 'SEVERITY', 'STATUS', 'WORKLOAD', 'KIND', 'COUNT', ...(wide ? ['FIRST SEEN'] : []), 'LAST SEEN', 'SUMMARY', ...(wide ? ['CONSOLE'] : [])],
        page.items.map((d) => [
          d.id,
          d.severity,
          d.status,
          `${d.workload.namespace}/${d.workload.name}/${d.workload.container}`,
          d.kind,
          d.count,
          ...(wide ? [time(d.firstSeenMs)] : []),
          time(d.lastSeenMs),
          d.summary,
          ...(wide ? [d.url] : []),
        ]),
        process.stdout,
        wide ? 200 : 80,
      );
      if (page.next) process.stdout.write(`more: --cursor ${page.next}\n`);
    });

  withClientOptions(cmd.command('show').description('one deviation: facts, process lineage, samples').argument('<id>'))
    .action(async (id: string, opts: ClientOptions) => {
      const format = outputFormat(opts);
      const client = clientFrom(opts);
      const { deviation: d, links } = await client.get<{ deviation: Deviation; links: { deviation: string } }>(`/deviations/${encodeURIComponent(id)}`);
      if (printStructured(format, d)) return;
      if (format === 'name') return printNames('deviation', [d.id]);
      printFacts([
        ['id', d.id],
        ['summary', d.summary],
        ['severity', `${d.severity} (${d.severityReason})`],
        ['status', d.statusBy ? `${d.status} by ${d.statusBy} at ${time(d.statusAt)}` : d.status],
        ['comment', d.statusComment],
        ['workload', `${d.workload.namespace}/${d.workload.kind}/${d.workload.name}/${d.workload.container}`],
        ['item', d.itemKey],
        ['kind', d.kind],
        ['first seen', time(d.firstSeenMs)],
        ['last seen', time(d.lastSeenMs)],
        ['count', d.count],
        ['pods', d.pods.join(', ')],
        ['nodes', d.nodes.join(', ')],
        ['image', d.image],
        ['console', links.deviation],
      ]);
      const sample = d.samples[0];
      if (sample) {
        process.stdout.write('\nprocess lineage (entrypoint first):\n');
        for (const l of lineage(sample)) process.stdout.write(`  ${l}\n`);
        if (sample.truncated) process.stdout.write('  (text longer than driftwatch keeps was cut: see …[truncated N bytes])\n');
      }
      if (d.commands?.length) {
        process.stdout.write('\ncommands:\n');
        for (const c of d.commands) process.stdout.write(`  ${time(c.timeMs)}  ${terminalSafe(c.exe)} ${terminalSafe(c.args)}\n`);
      }
    });

  for (const [name, path, verb] of [
    ['ack', 'ack', 'acknowledge'],
    ['resolve', 'resolve', 'resolve'],
  ] as const) {
    withClientOptions(cmd.command(name).description(`${verb} a deviation`).argument('<id>'))
      .option('-m, --comment <text>', 'why (kept in the audit log)', '')
      .action(async (id: string, opts: ClientOptions & { comment: string }) => {
        const format = outputFormat(opts);
      const client = clientFrom(opts);
        const d = await client.post<Deviation>(`/deviations/${encodeURIComponent(id)}/${path}`, { comment: opts.comment });
        if (printStructured(format, d)) return;
        process.stdout.write(`deviation ${d.id}: ${terminalSafe(d.status)}\n`);
      });
  }
}
