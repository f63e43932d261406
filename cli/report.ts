import type { Command } from 'commander';
import type { AuditReport } from '../collector/reports/audit.js';
import { parseDuration } from '../common/duration.js';
import { terminalSafe } from '../common/text.js';
import { clientFrom, printTable, withClientOptions, type ClientOptions } from './client.js';
import { printStructured } from './output.js';

/** `--from 2026-07-01`, `--from 2026-07-01T00:00:00Z` or `--from 90d` (that long before now). */
export function parseWhen(flag: string, value: string, nowMs: number): number {
  if (/^\d+(ms|s|m|h|d|w)$/.test(value)) return nowMs - parseDuration(value);
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) throw new Error(`${flag}: not a date (2026-07-01, 2026-07-01T12:00:00Z) nor a duration (90d): ${JSON.stringify(value)}`);
  return ms;
}

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would run as a formula (= + - @) is prefixed with
 * `'`; characters a terminal would act on are shown escaped (common/text.ts).
 */
export function csvCell(value: unknown): string {
  let s = terminalSafe(value ?? '');
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CSV_COLUMNS = ['record', 'at', 'actor', 'action', 'target', 'namespace', 'comment', 'severity', 'raised', 'acknowledged', 'resolved', 'unresolved', 'median_to_acknowledge_s', 'median_to_resolve_s', 'slowest_deviation', 'slowest_s', 'phase', 'baselines'] as const;

/** One uniform table (a `record` column tells decision / handling / baselines rows apart), for spreadsheets. */
export function auditCsv(r: AuditReport): string {
  const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '' : String(Math.round(ms / 1000)));
  const rows: Partial<Record<(typeof CSV_COLUMNS)[number], unknown>>[] = [
    ...r.decisions.map((d) => ({ record: 'decision', at: d.at, actor: d.actor, action: d.action, target: `${d.targetType}/${d.targetId}`, namespace: d.namespace, comment: d.comment })),
    ...Object.entries(r.handling).map(([severity, h]) => ({
      record: 'handling',
      severity,
      raised: h.raised,
      acknowledged: h.acknowledged,
      resolved: h.resolved,
      unresolved: h.unresolved,
      median_to_acknowledge_s: seconds(h.medianToAcknowledgeMs),
      median_to_resolve_s: seconds(h.medianToResolveMs),
      slowest_deviation: h.slowest?.id,
      slowest_s: seconds(h.slowest?.handlingMs),
    })),
    ...Object.entries(r.baselinesByPhase).map(([phase, n]) => ({ record: 'baselines', phase, baselines: n })),
  ];
  return [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((c) => csvCell(row[c])).join(','))].join('\n') + '\n';
}

function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${(s / 3600).toFixed(1)}h` : `${(s / 86400).toFixed(1)}d`;
}

function printReport(r: AuditReport): void {
  const out = process.stdout;
  out.write(`audit report ${terminalSafe(r.namespace ?? 'all namespaces')}, ${r.from} → ${r.to}\n\ndecisions:\n`);
  printTable(['AT', 'ACTOR', 'ACTION', 'TARGET', 'NAMESPACE', 'WHY'], r.decisions.map((d) => [d.at, d.actor, d.action, `${d.targetType}/${d.targetId}`, d.namespace ?? '—', d.comment ?? '—']), out, 100);
  out.write('\nhandling (raised → acknowledged → resolved):\n');
  printTable(
    ['SEVERITY', 'RAISED', 'ACKED', 'RESOLVED', 'UNRESOLVED', 'MEDIAN TO ACK', 'MEDIAN TO RESOLVE', 'SLOWEST'],
    Object.entries(r.handling).map(([s, h]) => [s, h.raised, h.acknowledged, h.resolved, h.unresolved, duration(h.medianToAcknowledgeMs), duration(h.medianToResolveMs), h.slowest ? `#${h.slowest.id} ${duration(h.slowest.handlingMs)}${h.slowest.resolved ? '' : ' (unresolved)'}` : '—']),
    out,
  );
  out.write(`\nbaselines: ${Object.entries(r.baselinesByPhase).map(([p, n]) => `${n} ${p}`).join(', ') || 'none'}\n`);
}

export function register(program: Command): void {
  const cmd = program.command('report').description('reports for auditors (through the collector API)');
  withClientOptions(cmd.command('audit').description('decisions with who, when and why; deviation handling times by severity; baselines by phase'), { output: false })
    .requiredOption('--from <when>', 'start: a date (2026-07-01), a time (2026-07-01T00:00:00Z) or a duration before now (90d)')
    .option('--to <when>', 'end (exclusive), same forms (default: now)')
    .option('--namespace <ns>', 'one namespace (default: every namespace your token sees)')
    .option('-o, --output <format>', 'table | csv | json | yaml', 'table')
    .action(async (opts: ClientOptions & { from: string; to?: string; namespace?: string; output: string }) => {
      if (!['table', 'csv', 'json', 'yaml'].includes(opts.output)) throw new Error(`-o/--output: use table, csv, json or yaml (got ${JSON.stringify(opts.output)})`);
      const now = Date.now();
      const from = parseWhen('--from', opts.from, now);
      const to = opts.to === undefined ? now : parseWhen('--to', opts.to, now);
      const client = clientFrom(opts);
      const report = await client.get<AuditReport>('/reports/audit', { namespace: opts.namespace, from, to });
      if (opts.output === 'csv') return void process.stdout.write(auditCsv(report));
      if (opts.output === 'json' || opts.output === 'yaml') return void printStructured(opts.output, report);
      printReport(report);
    });
}
