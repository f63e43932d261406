/**
 * The audit report: who approved, rejected, relearned or added what, when and why, and how fast
 * deviations were handled (raised → acknowledged → resolved) by severity, for a namespace and a
 * period. What auditors ask for each quarter; the API serves it, the CLI prints it as JSON or CSV.
 */
import { SEVERITIES, type Severity } from '../../common/deviations.js';
import type { AuditEntry } from '../store/audit.js';
import type { HandlingRow } from '../store/reports.js';

/** Actions that are decisions about behaviour (token changes are in the audit log, not here). */
const DECISION_PREFIXES = ['baseline.', 'deviation.'];

/** An audit entry as the report shows it: the decision, without the stored before/after state. */
export type AuditDecision = Pick<AuditEntry, 'at' | 'actor' | 'action' | 'targetType' | 'targetId' | 'namespace' | 'comment'>;

export interface SeverityHandling {
  raised: number;
  acknowledged: number;
  resolved: number;
  /** Raised in the period and not resolved by its end. */
  unresolved: number;
  medianToAcknowledgeMs: number | null;
  medianToResolveMs: number | null;
  /** The longest to resolve; one still unresolved counts until the end of the period. */
  slowest: { id: number; summary: string; namespace: string; handlingMs: number; resolved: boolean } | null;
}

export interface AuditReport {
  namespace: string | null;
  from: string;
  to: string;
  decisions: AuditDecision[];
  /** Decisions by action. */
  actions: Record<string, number>;
  handling: Record<Severity, SeverityHandling>;
  /** Current baselines by phase in the namespace. */
  baselinesByPhase: Record<string, number>;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function handlingOf(rows: readonly HandlingRow[], toMs: number): SeverityHandling {
  const ms = (at: string | null, raised: string): number | null => (at === null || Date.parse(at) >= toMs ? null : Date.parse(at) - Date.parse(raised));
  const toAck: number[] = [];
  const toResolve: number[] = [];
  let slowest: SeverityHandling['slowest'] = null;
  for (const r of rows) {
    const ack = ms(r.acknowledgedAt, r.raisedAt);
    const resolved = ms(r.resolvedAt, r.raisedAt);
    if (ack !== null) toAck.push(ack);
    if (resolved !== null) toResolve.push(resolved);
    const handlingMs = resolved ?? toMs - Date.parse(r.raisedAt);
    if (!slowest || handlingMs > slowest.handlingMs) slowest = { id: r.id, summary: r.summary, namespace: r.namespace, handlingMs, resolved: resolved !== null };
  }
  return {
    raised: rows.length,
    acknowledged: toAck.length,
    resolved: toResolve.length,
    unresolved: rows.length - toResolve.length,
    medianToAcknowledgeMs: median(toAck),
    medianToResolveMs: median(toResolve),
    slowest,
  };
}

export function buildAuditReport(input: {
  namespace: string | null;
  fromMs: number;
  toMs: number;
  audit: readonly AuditEntry[];
  handling: readonly HandlingRow[];
  baselinesByPhase: Record<string, number>;
}): AuditReport {
  const decisions = input.audit
    .filter((e) => DECISION_PREFIXES.some((p) => e.action.startsWith(p)))
    .sort((a, b) => a.at.localeCompare(b.at) || a.id - b.id)
    .map(({ at, actor, action, targetType, targetId, namespace, comment }) => ({ at, actor, action, targetType, targetId, namespace, comment }));
  const actions: Record<string, number> = {};
  for (const d of decisions) actions[d.action] = (actions[d.action] ?? 0) + 1;
  const handling = Object.fromEntries(SEVERITIES.map((s) => [s, handlingOf(input.handling.filter((r) => r.severity === s), input.toMs)])) as Record<Severity, SeverityHandling>;
  return {
    namespace: input.namespace,
    from: new Date(input.fromMs).toISOString(),
    to: new Date(input.toMs).toISOString(),
    decisions,
    actions,
    handling,
    baselinesByPhase: input.baselinesByPhase,
  };
}
